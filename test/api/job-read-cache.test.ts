/**
 * The Get Job cache (src/api/arm/job-read-cache.ts) is exact: it serves a stored answer only while no write to
 * the job's rows has been announced, from any process or code path; a client reads its own writes at once; a read
 * that raced a change is not stored; and a lost listening connection turns the cache off until it listens again.
 */
import { sql } from 'kysely';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openApp, type App } from '../../src/app.ts';
import { configFromEnv } from '../../src/config.ts';
import { buildServer } from '../../src/api/server.ts';
import { JobReadCache, jobReadCache } from '../../src/api/arm/job-read-cache.ts';
import { JobType } from '../../src/domain/states.ts';
import { drivers } from '../helpers/db.ts';
import { call, importBody, jobPath, startServer, withApi, type TestServer } from './helpers.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls until `check` holds (announcements arrive asynchronously on PostgreSQL). */
async function eventually(check: () => Promise<boolean>, ms = 3_000): Promise<boolean> {
  const until = Date.now() + ms;
  for (;;) {
    if (await check()) return true;
    if (Date.now() > until) return false;
    await sleep(10);
  }
}

const getJob = (s: TestServer, name: string) => call(s, 'GET', withApi(jobPath(name)));

describe('JobReadCache bookkeeping', () => {
  const fakeApp = { database: { schema: 'public', listen: async () => async () => {} }, onClose: () => {} } as unknown as App;

  it('a read that started before a change was announced is not stored', async () => {
    const cache = new JobReadCache(fakeApp, 10);
    await cache.start();
    const key = JobReadCache.keyOf({ subscriptionId: 's', resourceGroup: 'RG', name: 'Job' });
    const ticket = cache.ticket();
    cache.dropJobs([42]); // the change lands while the read is in flight
    cache.set(key, ticket, { jobId: 7, etag: '"1"', body: '{}' });
    expect(cache.get(key)).toBeUndefined();
    cache.set(key, cache.ticket(), { jobId: 7, etag: '"1"', body: '{}' });
    expect(cache.get(key)?.etag).toBe('"1"');
  });

  it('keys ignore the case of resource group and name, and the oldest entry leaves when full', async () => {
    const cache = new JobReadCache(fakeApp, 2);
    await cache.start();
    const k = (name: string) => JobReadCache.keyOf({ subscriptionId: 's', resourceGroup: 'rg', name });
    expect(JobReadCache.keyOf({ subscriptionId: 's', resourceGroup: 'RG', name: 'JOB' })).toBe(k('job'));
    for (const [i, name] of ['a', 'b', 'c'].entries()) cache.set(k(name), cache.ticket(), { jobId: i, etag: String(i), body: name });
    expect([cache.get(k('a')), cache.get(k('b'))?.body, cache.get(k('c'))?.body]).toEqual([undefined, 'b', 'c']);
    cache.dropJobs([2]);
    expect(cache.get(k('c'))).toBeUndefined();
    expect(cache.size).toBe(1);
  });

  it('stores nothing until it listens', () => {
    const cache = new JobReadCache(fakeApp, 10);
    const key = JobReadCache.keyOf({ subscriptionId: 's', resourceGroup: 'rg', name: 'x' });
    cache.set(key, cache.ticket(), { jobId: 1, etag: '1', body: '{}' });
    expect(cache.size).toBe(0);
  });
});

for (const driver of drivers) {
  describe(`Get Job cache [${driver}]`, () => {
    let s: TestServer;
    beforeAll(async () => {
      s = await startServer(driver);
      await call(s, 'PUT', withApi(jobPath('cached')), { body: importBody() });
      await getJob(s, 'cached'); // starts listening
      expect(await eventually(async () => (await getJob(s, 'cached'), jobReadCache(s.app)!.size > 0))).toBe(true);
    });
    afterAll(async () => s?.close());

    it('answers a repeated Get Job from the cache: a write the database does not announce is not seen', async () => {
      const before = await getJob(s, 'cached');
      // Only with the announcing triggers off can a write go unnoticed: this shows the answer is the cached one.
      await sql`alter table jobs disable trigger user`.execute(s.app.store.db);
      try {
        await sql`update jobs set log_level = 'Verbose' where name = 'cached'`.execute(s.app.store.db);
        const after = await getJob(s, 'cached');
        expect(after.body.properties.logLevel).toBe(before.body.properties.logLevel);
        expect(after.headers.etag).toBe(before.headers.etag);
      } finally {
        await sql`update jobs set log_level = ${before.body.properties.logLevel} where name = 'cached'`.execute(s.app.store.db);
        await sql`alter table jobs enable trigger user`.execute(s.app.store.db);
      }
    });

    it('a write by plain SQL (any process, any code path) is seen once the database announces it', async () => {
      await getJob(s, 'cached');
      await sql`update jobs set tags = '{"by":"sql"}'::jsonb where name = 'cached'`.execute(s.app.store.db);
      expect(await eventually(async () => (await getJob(s, 'cached')).body.tags?.by === 'sql')).toBe(true);
      await sql`update drives set bytes_succeeded = 12345 where job_id = (select id from jobs where name = 'cached')`.execute(s.app.store.db);
      expect(await eventually(async () => (await getJob(s, 'cached')).body.properties.driveList[0].bytesSucceeded === 12345)).toBe(true);
    });

    it('a client reads its own write at once: PATCH then GET, no waiting', async () => {
      for (let i = 0; i < 20; i++) {
        await getJob(s, 'cached');
        const patch = await call(s, 'PATCH', withApi(jobPath('cached')), { body: { tags: { round: String(i) } } });
        const get = await getJob(s, 'cached');
        expect(get.headers.etag).toBe(patch.headers.etag);
        expect(get.body.tags).toEqual({ round: String(i) });
      }
    });

    it('a DELETE is seen at once (404), and a new job of the same name is the new one', async () => {
      await call(s, 'PUT', withApi(jobPath('gone')), { body: importBody() });
      await getJob(s, 'gone');
      expect((await call(s, 'DELETE', withApi(jobPath('gone')))).status).toBe(200);
      expect((await getJob(s, 'gone')).status).toBe(404);
      await call(s, 'PUT', withApi(jobPath('gone')), { body: { ...importBody(), tags: { second: 'yes' } } });
      expect((await getJob(s, 'GONE')).body.tags).toEqual({ second: 'yes' });
    });

    it('a statement that changes many jobs drops them all', async () => {
      for (let i = 0; i < 3; i++) await call(s, 'PUT', withApi(jobPath(`bulk${i}`)), { body: importBody() });
      await sql`insert into jobs (subscription_id, resource_group, name, location, job_type, state, state_reason_code, state_reason_message, tags, state_entered_at, created_at, updated_at)
        select 'filler', 'rg', 'filler' || g, 'westus', ${JobType.Import}, state, 'X', 'filler', '{}'::jsonb, now(), now(), now()
        from generate_series(1, 450) g, (select state from jobs limit 1) s`.execute(s.app.store.db);
      for (let i = 0; i < 3; i++) await getJob(s, `bulk${i}`);
      await sql`update jobs set tags = '{"bulk":"yes"}'::jsonb`.execute(s.app.store.db);
      for (let i = 0; i < 3; i++) expect(await eventually(async () => (await getJob(s, `bulk${i}`)).body.tags?.bulk === 'yes')).toBe(true);
    });

    it('another subscription still gets 404 for a cached job', async () => {
      await getJob(s, 'cached');
      const r = await call(s, 'GET', withApi(jobPath('cached')), { token: s.tokens.otherOwner });
      expect(r.status).toBe(404);
    });
  });
}

describe.runIf(process.env.DATABASE_URL)('Get Job cache across processes [postgres]', () => {
  let a: TestServer;
  let b: { app: App; url: string; close(): Promise<void> };
  beforeAll(async () => {
    a = await startServer('postgres');
    // A second API process on the same database (its own pool and its own LISTEN connection).
    const config = configFromEnv({ port: 0, host: '127.0.0.1', dataDir: 'memory://', bootstrapToken: a.admin });
    config.databaseUrl = process.env.DATABASE_URL;
    const app = await openApp(config, { schema: a.app.database.schema });
    const server = await buildServer(app);
    const url = await server.listen({ port: 0, host: '127.0.0.1' });
    b = { app, url, close: async () => { await server.close(); await app.close(); } };
    await call(a, 'PUT', withApi(jobPath('shared')), { body: importBody() });
  });
  afterAll(async () => {
    await b?.close();
    await a?.close();
  });

  const getOnB = async (name: string) => {
    const res = await fetch(`${b.url}${withApi(jobPath(name))}`, { headers: { authorization: `Bearer ${a.admin}` } });
    return { status: res.status, etag: res.headers.get('etag'), body: await res.json() as any };
  };

  it("a write through one API process reaches the other's cache within milliseconds", async () => {
    await getOnB('shared');
    expect(await eventually(async () => (await getOnB('shared'), jobReadCache(b.app)!.size > 0))).toBe(true);
    const lags: number[] = [];
    for (let i = 0; i < 10; i++) {
      await getOnB('shared');
      const patch = await call(a, 'PATCH', withApi(jobPath('shared')), { body: { tags: { n: String(i) } } });
      const t0 = performance.now();
      expect(await eventually(async () => (await getOnB('shared')).etag === patch.headers.etag, 2_000)).toBe(true);
      lags.push(performance.now() - t0);
    }
    expect(Math.max(...lags)).toBeLessThan(2_000);
  });

  it('when its listening connection dies the cache stops serving, and serves again once it listens again', async () => {
    await getOnB('shared');
    const c = new pg.Client({ connectionString: process.env.DATABASE_URL });
    await c.connect();
    try {
      // Kill b's LISTEN connection, then change the job without the trigger (as if the NOTIFY had been lost with it).
      const killed = await c.query(`select pg_terminate_backend(pid) from pg_stat_activity where query ilike 'listen %sneakernet_job_changes%' and pid <> pg_backend_pid()`);
      expect(killed.rowCount).toBeGreaterThan(0);
      await c.query(`set search_path to ${a.app.database.schema}`);
      await c.query(`alter table jobs disable trigger user`);
      await c.query(`update jobs set log_level = 'Verbose' where name = 'shared'`);
      await c.query(`alter table jobs enable trigger user`);
    } finally {
      await c.end();
    }
    expect(await eventually(async () => (await getOnB('shared')).body.properties.logLevel === 'Verbose')).toBe(true);
    // It listens again and caches again.
    expect(await eventually(async () => (await getOnB('shared'), jobReadCache(b.app)!.size > 0), 5_000)).toBe(true);
  });
});
