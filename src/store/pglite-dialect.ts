/**
 * kysely-pglite's dialect hands every caller the same PGlite session, so two concurrent Kysely transactions would
 * interleave their statements in one session. This wrapper lets one connection out at a time: transactions and
 * single queries queue, exactly as a one-connection pool would.
 */
import type { CompiledQuery, DatabaseConnection, Dialect, Driver, QueryResult, TransactionSettings } from 'kysely';

class OneAtATimeDriver implements Driver {
  private queue: Promise<void> = Promise.resolve();
  private releaseCurrent: (() => void) | null = null;
  constructor(private readonly inner: Driver) {}

  init() {
    return this.inner.init();
  }
  async acquireConnection(): Promise<DatabaseConnection> {
    const previous = this.queue;
    let release!: () => void;
    this.queue = new Promise<void>((r) => (release = r));
    await previous;
    this.releaseCurrent = release;
    return withAffectedRows(await this.inner.acquireConnection());
  }
  beginTransaction(c: DatabaseConnection, s: TransactionSettings) {
    return this.inner.beginTransaction(c, s);
  }
  commitTransaction(c: DatabaseConnection) {
    return this.inner.commitTransaction(c);
  }
  rollbackTransaction(c: DatabaseConnection) {
    return this.inner.rollbackTransaction(c);
  }
  async releaseConnection(c: DatabaseConnection) {
    await this.inner.releaseConnection(c);
    const release = this.releaseCurrent;
    this.releaseCurrent = null;
    release?.();
  }
  destroy() {
    return this.inner.destroy();
  }
}

/**
 * PGlite reports `affectedRows`; Kysely reads `numAffectedRows`. Without this, `numUpdatedRows`/`numDeletedRows`
 * are undefined on the embedded database (a delete or a revoke would look like it touched nothing).
 */
function withAffectedRows(c: DatabaseConnection): DatabaseConnection {
  return {
    async executeQuery<R>(q: CompiledQuery) {
      const r = (await c.executeQuery<R>(q)) as QueryResult<R> & { affectedRows?: number };
      if (r.numAffectedRows === undefined && typeof r.affectedRows === 'number') {
        return { ...r, numAffectedRows: BigInt(r.affectedRows) };
      }
      return r;
    },
    streamQuery: (q, chunkSize) => c.streamQuery(q, chunkSize),
  };
}

export function oneAtATime(dialect: Dialect): Dialect {
  return {
    createAdapter: () => dialect.createAdapter(),
    createDriver: () => new OneAtATimeDriver(dialect.createDriver()),
    createIntrospector: (db) => dialect.createIntrospector(db),
    createQueryCompiler: () => dialect.createQueryCompiler(),
  };
}
