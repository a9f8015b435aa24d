/**
 * Databases for tests: PGlite in memory always, and PostgreSQL when DATABASE_URL is set (each suite in its own
 * schema, dropped afterwards). `forEachDatabase` runs a describe block once per available driver.
 */
import crypto from 'node:crypto';
import pg from 'pg';
import { describe } from 'vitest';
import { openDatabase, type Database } from '../../src/store/db.ts';
import { Store } from '../../src/store/store.ts';
import { ManualClock } from '../../src/domain/clock.ts';

export type Driver = 'pglite' | 'postgres';

export const drivers: Driver[] = process.env.DATABASE_URL ? ['pglite', 'postgres'] : ['pglite'];

export interface TestDb {
  database: Database;
  store: Store;
  clock: ManualClock;
  close(): Promise<void>;
}

export async function openTestDatabase(driver: Driver): Promise<{ database: Database; close(): Promise<void>; schema?: string }> {
  if (driver === 'pglite') {
    const database = await openDatabase({ dataDir: 'memory://' });
    return { database, close: () => database.close() };
  }
  const url = process.env.DATABASE_URL!;
  const schema = `t_${crypto.randomBytes(6).toString('hex')}`;
  const database = await openDatabase({ databaseUrl: url, schema });
  return {
    database,
    schema,
    async close() {
      await database.close();
      const c = new pg.Client({ connectionString: url });
      await c.connect();
      await c.query(`drop schema if exists ${schema} cascade`);
      await c.end();
    },
  };
}

export async function openTestStore(driver: Driver, start = new Date('2026-01-01T00:00:00Z')): Promise<TestDb> {
  const { database, close } = await openTestDatabase(driver);
  const clock = new ManualClock(start);
  return { database, store: new Store(database, clock), clock, close };
}

export function forEachDatabase(name: string, body: (driver: Driver) => void): void {
  for (const driver of drivers) describe(`${name} [${driver}]`, () => body(driver));
}
