/**
 * pg-boss on either driver. On PostgreSQL it runs its SQL through the store's pool; on PGlite (one session) it runs
 * through the same one-at-a-time queue as everything else: single statements with parameters via `query`,
 * multi-statement scripts (its migrations, `BEGIN; …; COMMIT`) via `exec`, always while holding the connection,
 * so its statements never interleave with an open transaction of the store.
 */
import { CompiledQuery, type Kysely, type Transaction } from 'kysely';
import PgBoss from 'pg-boss';
import type { Database } from '../store/db.ts';

export type BossDb = { executeSql(text: string, values: unknown[]): Promise<{ rows: any[] }> };

export function bossDbFor(database: Database): BossDb {
  const pglite = database.pglite;
  if (database.kind === 'pglite' && pglite) {
    return {
      executeSql: (text, values) =>
        database.db.connection().execute(async () => {
          if (values && values.length > 0) return { rows: (await pglite.query(text, values as any[])).rows as any[] };
          const results = await pglite.exec(text);
          return { rows: (results.at(-1)?.rows ?? []) as any[] };
        }),
    };
  }
  return executorOf(database.db);
}

/** Runs pg-boss statements inside an open Kysely transaction (so a `send` commits or rolls back with it). */
export function executorOf(db: Kysely<any> | Transaction<any>): BossDb {
  return {
    async executeSql(text, values) {
      const r = await db.executeQuery(CompiledQuery.raw(text, (values ?? []) as unknown[]));
      return { rows: (r.rows ?? []) as any[] };
    },
  };
}

export interface BossOptions {
  /** pg-boss's own schema (default `pgboss`); tests sharing a PostgreSQL server give each suite its own. */
  schema?: string;
  /** How often pg-boss expires stuck jobs (e.g. held by a killed process) and cleans up (default 60 s). */
  maintenanceIntervalSeconds?: number;
}

/** pg-boss's schema: `pgboss`, or `<schema>_boss` when the store lives in a schema of its own (several on one server). */
export async function defaultBossSchema(database: Database): Promise<string> {
  if (database.kind !== 'postgres') return 'pgboss';
  const r = await database.db.executeQuery<{ schema: string }>(CompiledQuery.raw('select current_schema() as schema', []));
  const current = r.rows[0]?.schema ?? 'public';
  return current === 'public' ? 'pgboss' : `${current}_boss`;
}

export async function startBoss(database: Database, opts: BossOptions = {}): Promise<PgBoss> {
  const boss = new PgBoss({
    db: bossDbFor(database) as PgBoss.Db,
    schema: opts.schema ?? (await defaultBossSchema(database)),
    supervise: true,
    schedule: true,
    migrate: true,
    maintenanceIntervalSeconds: opts.maintenanceIntervalSeconds ?? (Number(process.env.SNEAKERNET_BOSS_MAINTENANCE_SECONDS) || 60),
  });
  boss.on('error', () => {});
  await boss.start();
  // Several processes starting at once race on pg-boss's queue creation (its queue tables are created without a
  // lock); the loser fails with a duplicate error. The queue exists then: look, and retry if it somehow does not.
  const create = boss.createQueue.bind(boss);
  boss.createQueue = async (name: string, options?: PgBoss.Queue) => {
    for (let attempt = 0; ; attempt++) {
      try {
        return await create(name, options);
      } catch (e) {
        if (await boss.getQueue(name).catch(() => null)) return;
        if (attempt >= 4) throw e;
        await new Promise((r) => setTimeout(r, 100 * (attempt + 1)));
      }
    }
  };
  return boss;
}

export type { PgBoss };
