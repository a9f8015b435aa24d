/** `sneakernet serve`: everything in one process on the embedded default (or PostgreSQL when DATABASE_URL is set). */
import type { Command } from 'commander';
import { configFromEnv, type Config } from '../config.ts';
import { openApp, type App } from '../app.ts';
import { buildServer } from '../api/server.ts';
import { failWith } from './output.ts';
import { loggerOptions } from '../observability/logging.ts';
import { enableProcessLogs } from '../observability/request-context.ts';
import { StorageAccounts } from '../storage-accounts/registry.ts';
import path from 'node:path';
import { startOperatorBackground } from '../timers/background.ts';
import { startTransferWorkers } from '../transfer/worker/runner.ts';

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

/**
 * Background work (copy workers, timers, notification delivery). `serve` and `worker` run every starter; `api`
 * runs none. A starter may return a stop function, called on SIGTERM to hand back leases and checkpoint.
 */
export type BackgroundStarter = (ctx: App) => Promise<void | (() => Promise<void>)> | void | (() => Promise<void>);
export const backgroundWorkers: BackgroundStarter[] = [startOperatorBackground, startTransferWorkers];
/** Old name, kept for features registered before `api`/`worker` were split out. */
export const serveBackground = backgroundWorkers;

/** How long a SIGTERM may take before the process exits anyway. */
export const SHUTDOWN_GRACE_MS = 20_000;

type Mode = 'serve' | 'api' | 'worker';

export const runServe = (flags: ServeFlags) => run('serve', flags);
export const runApi = (flags: ServeFlags) => run('api', flags);
export const runWorker = (flags: ServeFlags) => run('worker', flags);

async function run(mode: Mode, flags: ServeFlags): Promise<void> {
  const config = configFromFlags(flags);
  if (!Number.isInteger(config.port) || config.port < 0 || config.port > 65535) failWith(`--port must be a port number, not '${flags.port}'.`, 2);
  if ((config.tlsCert && !config.tlsKey) || (!config.tlsCert && config.tlsKey)) failWith('--tls-cert and --tls-key go together.', 2);
  enableProcessLogs();
  const ctx = await openApp(config);
  if (mode === 'serve' && ctx.database.kind === 'pglite') await ensureEmbeddedBlobStore(ctx, config.dataDir);
  const stops: Array<() => Promise<void>> = [];
  let server: Awaited<ReturnType<typeof buildServer>> | null = null;
  if (mode !== 'worker') server = await buildServer(ctx, { logger: loggerOptions() });
  if (mode !== 'api') {
    for (const start of backgroundWorkers) {
      const stop = await start(ctx);
      if (typeof stop === 'function') stops.push(stop);
    }
  }
  if (server) {
    const address = await server.listen({ port: config.port, host: config.host });
    const url = address.replace('://127.0.0.1', '://localhost');
    process.stdout.write(`sneakernet ${mode} listening on ${url} (database: ${ctx.database.kind}${ctx.database.kind === 'pglite' ? ` in ${config.dataDir}` : ''})\n`);
    if (mode === 'serve' && !config.bootstrapToken && (await ctx.tokens.list()).length === 0) {
      const { token } = await ctx.tokens.create(null, 'admin', 'first start');
      process.stdout.write(`first start: an admin token was created (it is shown only once):\n${token}\n`);
    }
  } else {
    process.stdout.write(`sneakernet worker running (database: ${ctx.database.kind})\n`);
  }
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    setTimeout(() => process.exit(1), SHUTDOWN_GRACE_MS).unref();
    // Stop taking requests first, then hand back background work, then close the database.
    await server?.close().catch(() => {});
    for (const s of stops.reverse()) await s().catch(() => {});
    await ctx.close().catch(() => {});
    process.exit(0);
  };
  process.once('SIGINT', () => void stop());
  process.once('SIGTERM', () => void stop());
}

/**
 * The embedded default works on a bare machine: with no storage account registered yet, every job's account maps
 * to a local folder under the data dir (one sub-folder per account). `sneakernet storage add` replaces it.
 */
async function ensureEmbeddedBlobStore(ctx: App, dataDir: string): Promise<void> {
  const accounts = new StorageAccounts(ctx.store);
  if ((await accounts.list()).length > 0) return;
  const rootDir = path.join(dataDir, 'blobs');
  await accounts.add({ accountId: '*', backend: 'local', rootDir });
  process.stdout.write(`blobs of every storage account go to ${rootDir} (change with \`sneakernet storage add\`)\n`);
}
