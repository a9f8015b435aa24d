/** Configuration from flags and environment, in one object passed down from the CLI. */
import path from 'node:path';

export interface Config {
  port: number;
  host: string;
  dataDir: string;
  databaseUrl?: string;
  tlsCert?: string;
  tlsKey?: string;
  bootstrapToken?: string;
  /** 'system' or 'manual' (simulated time for demos). */
  clock: 'system' | 'manual';
  /** Public base URL used in nextLink and log URIs; derived from the request when absent. */
  publicUrl?: string;
  /** JSON file with the data-center locations customers ship to (env SNEAKERNET_LOCATIONS); a default set otherwise. */
  locationsFile?: string;
}

export function configFromEnv(overrides: Partial<Config> = {}): Config {
  const env = process.env;
  const clean = Object.fromEntries(Object.entries(overrides).filter(([, v]) => v !== undefined)) as Partial<Config>;
  return {
    port: Number(env.PORT ?? 7480),
    host: env.HOST ?? '127.0.0.1',
    dataDir: path.resolve(env.SNEAKERNET_DATA_DIR ?? './data'),
    databaseUrl: env.DATABASE_URL || undefined,
    tlsCert: env.SNEAKERNET_TLS_CERT || undefined,
    tlsKey: env.SNEAKERNET_TLS_KEY || undefined,
    bootstrapToken: env.SNEAKERNET_BOOTSTRAP_TOKEN || undefined,
    clock: env.SNEAKERNET_CLOCK === 'manual' ? 'manual' : 'system',
    publicUrl: env.SNEAKERNET_PUBLIC_URL || undefined,
    locationsFile: env.SNEAKERNET_LOCATIONS || undefined,
    ...clean,
  };
}
