/**
 * The composition root: opens the store and builds the services every surface (HTTP, CLI, workers) shares.
 */
import { ManualClock, systemClock, type Clock } from './domain/clock.ts';
import type { Config } from './config.ts';
import { openDatabase, type Database } from './store/db.ts';
import { Store } from './store/store.ts';
import { TokenStore } from './store/tokens.ts';

export interface App {
  config: Config;
  clock: Clock;
  database: Database;
  store: Store;
  tokens: TokenStore;
  /** Things to stop on close, last registered first. */
  onClose(fn: () => Promise<void> | void): void;
  close(): Promise<void>;
}

export async function openApp(config: Config, opts: { clock?: Clock; schema?: string } = {}): Promise<App> {
  const clock = opts.clock ?? (config.clock === 'manual' ? new ManualClock() : systemClock);
  const database = await openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.databaseUrl ? undefined : config.dataDir, schema: opts.schema });
  const closers: Array<() => Promise<void> | void> = [];
  return {
    config,
    clock,
    database,
    store: new Store(database, clock),
    tokens: new TokenStore(database.db, clock),
    onClose: (fn) => closers.push(fn),
    async close() {
      for (const fn of closers.reverse()) await fn();
      await database.close();
    },
  };
}
