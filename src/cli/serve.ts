/** `sneakernet serve`: everything in one process on the embedded default (or PostgreSQL when DATABASE_URL is set). */
import type { Command } from 'commander';
import { configFromEnv, type Config } from '../config.ts';
import { openApp, type App } from '../app.ts';
import { buildServer } from '../api/server.ts';
import { failWith } from './output.ts';

export interface ServeFlags {
  port?: string;
  host?: string;
  dataDir?: string;
  tlsCert?: string;
  tlsKey?: string;
  clock?: string;
}

export function configFromFlags(flags: ServeFlags): Config {
  return configFromEnv({
    port: flags.port !== undefined ? Number(flags.port) : undefined,
    host: flags.host,
    dataDir: flags.dataDir,
    tlsCert: flags.tlsCert,
    tlsKey: flags.tlsKey,
    clock: flags.clock === 'manual' ? 'manual' : flags.clock === 'system' ? 'system' : undefined,
  });
}

export function addServerFlags(cmd: Command): Command {
  return cmd
    .option('-p, --port <port>', 'port to listen on (env PORT, default 7480)')
    .option('--host <host>', 'address to listen on (env HOST, default 127.0.0.1)')
    .option('--data-dir <dir>', 'folder for the embedded database and blobs (env SNEAKERNET_DATA_DIR, default ./data)')
    .option('--tls-cert <file>', 'PEM certificate: serve HTTPS (env SNEAKERNET_TLS_CERT)')
    .option('--tls-key <file>', 'PEM private key for --tls-cert (env SNEAKERNET_TLS_KEY)')
    .option('--clock <mode>', "'system' (default) or 'manual': simulated time moved by `sneakernet clock advance`");
}

/** Hooks later features use to start background work in `serve` (workers, timers, notification delivery). */
export type BackgroundStarter = (ctx: App) => Promise<void> | void;
export const serveBackground: BackgroundStarter[] = [];

export async function runServe(flags: ServeFlags): Promise<void> {
  const config = configFromFlags(flags);
  if (!Number.isInteger(config.port) || config.port < 0 || config.port > 65535) failWith(`--port must be a port number, not '${flags.port}'.`, 2);
  if ((config.tlsCert && !config.tlsKey) || (!config.tlsCert && config.tlsKey)) failWith('--tls-cert and --tls-key go together.', 2);
  const ctx = await openApp(config);
  const server = await buildServer(ctx, { logger: process.env.SNEAKERNET_LOG === 'silent' ? false : { level: process.env.SNEAKERNET_LOG ?? 'info' } });
  for (const start of serveBackground) await start(ctx);
  const address = await server.listen({ port: config.port, host: config.host });
  const url = address.replace('://127.0.0.1', '://localhost');
  process.stdout.write(`sneakernet listening on ${url} (database: ${ctx.database.kind}${ctx.database.kind === 'pglite' ? ` in ${config.dataDir}` : ''})\n`);
  if (!config.bootstrapToken && (await ctx.tokens.list()).length === 0) {
    const { token } = await ctx.tokens.create(null, 'admin', 'first start');
    process.stdout.write(`first start: an admin token was created (it is shown only once):\n${token}\n`);
  }
  const stop = async () => {
    await server.close();
    await ctx.close();
    process.exit(0);
  };
  process.once('SIGINT', () => void stop());
  process.once('SIGTERM', () => void stop());
}
