/**
 * Opening the database: PGlite in a data folder (the embedded default) or PostgreSQL through `pg` when a URL is
 * given. Both speak the same SQL, so everything above this file is one code path.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Kysely, Migrator, PostgresDialect, sql } from 'kysely';
import { PGlite } from '@electric-sql/pglite';
import { KyselyPGlite } from 'kysely-pglite';
import pg from 'pg';
import { DomainError } from '../domain/errors.ts';
import { migrationProvider, LATEST_MIGRATION } from './migrations.ts';
import { oneAtATime } from './pglite-dialect.ts';
import type { Schema } from './schema.ts';
import { acquireDataDirLock, type DataDirLock } from './lock.ts';

// Postgres bigint (int8) → JS number: ids and byte counts stay far below 2^53.
pg.types.setTypeParser(20, (v) => Number(v));

export const EVENTS_CHANNEL = 'sneakernet_events';
/** Where every write to jobs or drives is announced (see migration 0005); payloads start with the schema. */
export const JOB_CHANGES_CHANNEL = 'sneakernet_job_changes';

export interface Database {
  db: Kysely<Schema>;
  kind: 'pglite' | 'postgres';
  /** The embedded engine itself (PGlite only), for libraries that bring their own SQL (pg-boss). Use it only while holding a Kysely connection. */
  pglite?: PGlite;
  /** NOTIFY channel for job events (per schema, so test suites sharing a server do not hear each other). */
  eventsChannel: string;
  /**
   * Subscribe to NOTIFYs on a channel; returns an unsubscribe function. Works on both drivers. `onLost` is called
   * once if the listening connection dies (PostgreSQL restarted, network cut): notifications may have been missed.
   */
  listen(channel: string, onPayload: (payload: string) => void, onLost?: () => void): Promise<() => Promise<void>>;
  /** The schema the tables live in (as triggers see it in TG_TABLE_SCHEMA). */
  schema: string;
  ping(): Promise<void>;
  migrationsCurrent(): Promise<boolean>;
  close(): Promise<void>;
}

export interface OpenOptions {
  /** PostgreSQL URL; when absent, PGlite in `dataDir`. */
  databaseUrl?: string;
  /** Folder for the embedded database; `memory://` keeps it in memory (tests). */
  dataDir?: string;
  /** PostgreSQL schema to use (created if missing); tests give each suite its own. Default: the server's search_path. */
  schema?: string;
  /** Run migrations on open (default true). */
  migrate?: boolean;
}

export async function openDatabase(opts: OpenOptions): Promise<Database> {
  const database = opts.databaseUrl ? await openPostgres(opts.databaseUrl, opts.schema) : await openPGlite(opts.dataDir ?? 'memory://');
  try {
    if (opts.migrate !== false) await migrate(database);
  } catch (e) {
    await database.close().catch(() => {});
    throw e;
  }
  return database;
}

async function openPGlite(dataDir: string): Promise<Database> {
  let lock: DataDirLock | null = null;
  let pglite: PGlite;
  if (dataDir.startsWith('memory://')) {
    pglite = new PGlite();
  } else {
    const dir = path.resolve(dataDir);
    fs.mkdirSync(dir, { recursive: true });
    lock = acquireDataDirLock(dir);
    try {
      pglite = new PGlite(path.join(dir, 'pgdata'));
      await pglite.waitReady;
      await pglite.query('select 1');
    } catch (e) {
      lock.release();
      throw new DomainError('DataDirCorrupt', `The database in ${dir} cannot be opened (${(e as Error).message ?? e}). Restore it from a backup or point --data-dir at another folder.`);
    }
  }
  await pglite.waitReady;
  const db = new Kysely<Schema>({ dialect: oneAtATime(new KyselyPGlite(pglite).dialect) });
  return {
    db,
    kind: 'pglite',
    pglite,
    eventsChannel: EVENTS_CHANNEL,
    schema: 'public',
    // PGlite is one session: a LISTEN sent while another caller's transaction is open would join that transaction
    // (and vanish if it rolls back). Holding a Kysely connection keeps every transaction out meanwhile.
    async listen(channel, onPayload) {
      const unsub = await db.connection().execute(() => pglite.listen(channel, onPayload));
      return () => db.connection().execute(() => unsub());
    },
    ping: async () => {
      await sql`select 1`.execute(db);
    },
    migrationsCurrent: () => migrationsCurrent(db),
    async close() {
      await db.destroy();
      lock?.release();
    },
  };
}

async function openPostgres(url: string, schema?: string): Promise<Database> {
  if (schema !== undefined && !/^[a-z_][a-z0-9_]{0,62}$/.test(schema)) throw new DomainError('InvalidInput', `Bad schema name '${schema}'.`);
  if (schema) {
    const admin = new pg.Client({ connectionString: url });
    admin.on('error', () => {});
    await admin.connect();
    try {
      await admin.query(`create schema if not exists ${schema}`);
    } finally {
      await admin.end();
    }
  }
  const options = schema ? `-c search_path=${schema}` : undefined;
  const pool = new pg.Pool({ connectionString: url, options, max: Number(process.env.SNEAKERNET_PG_POOL ?? 10) });
  // An idle client that loses its server must not crash the process; the next query reports it.
  pool.on('error', () => {});
  const db = new Kysely<Schema>({ dialect: new PostgresDialect({ pool }) });
  try {
    await sql`select 1`.execute(db);
  } catch (e) {
    await db.destroy().catch(() => {});
    throw new DomainError('InvalidInput', `PostgreSQL at ${redactUrl(url)} does not answer: ${(e as Error).message}`);
  }
  const listeners = new Set<pg.Client>();
  const { rows: [{ current }] } = await sql<{ current: string }>`select current_schema() as current`.execute(db);
  return {
    db,
    kind: 'postgres',
    eventsChannel: schema ? `${EVENTS_CHANNEL}_${schema}` : EVENTS_CHANNEL,
    schema: current,
    async listen(channel, onPayload, onLost) {
      const client = new pg.Client({ connectionString: url, options });
      let lost = false;
      const dropped = () => {
        if (lost || !listeners.has(client)) return;
        lost = true;
        listeners.delete(client);
        client.end().catch(() => {});
        onLost?.();
      };
      client.on('error', dropped);
      client.on('end', dropped);
      await client.connect();
      client.on('notification', (n) => {
        if (n.channel === channel && n.payload !== undefined) onPayload(n.payload);
      });
      await client.query(`listen ${pg.escapeIdentifier(channel)}`);
      listeners.add(client);
      return async () => {
        listeners.delete(client);
        await client.end().catch(() => {});
      };
    },
    ping: async () => {
      await sql`select 1`.execute(db);
    },
    migrationsCurrent: () => migrationsCurrent(db),
    async close() {
      await Promise.all([...listeners].map((c) => c.end().catch(() => {})));
      await db.destroy();
    },
  };
}

/** Applies pending migrations. On PostgreSQL several processes may start at once: an advisory lock serialises them. */
async function migrate(database: Database): Promise<void> {
  const run = async (db: Kysely<Schema>) => {
    // Kysely looks for its bookkeeping tables in every schema unless told which one: name ours explicitly, or a
    // second schema on the same server (tests, tenants) would make it skip creating them.
    const { rows } = await sql<{ schema: string }>`select current_schema() as schema`.execute(db);
    const { error } = await new Migrator({ db, provider: migrationProvider, migrationTableSchema: rows[0].schema }).migrateToLatest();
    if (error) throw error;
  };
  if (database.kind === 'pglite') return run(database.db);
  await database.db.connection().execute(async (conn) => {
    await sql`select pg_advisory_lock(hashtext('sneakernet.migrations'))`.execute(conn);
    try {
      await run(conn);
    } finally {
      await sql`select pg_advisory_unlock(hashtext('sneakernet.migrations'))`.execute(conn);
    }
  });
}

async function migrationsCurrent(db: Kysely<Schema>): Promise<boolean> {
  const r = await sql<{ name: string }>`select name from kysely_migration order by name desc limit 1`.execute(db);
  return r.rows[0]?.name === LATEST_MIGRATION;
}

export const redactUrl = (url: string) => url.replace(/\/\/([^:@/]+):[^@/]*@/, '//$1:***@');
