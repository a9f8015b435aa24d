/**
 * bench/webhooks: webhook deliveries per second to a local HTTP receiver, through the real path (outbox fan-out →
 * pg-boss delivery jobs → signed POST → delivery log), before and after batched, self-waking workers:
 *   before — `batchSize: 1, drain: false`: each worker takes one job per poll and waits out its polling interval
 *   (1 s), so ≈ 1 delivery per second per worker;
 *   after — the defaults: batches of 10 run at once, a full batch fetches again at once, a fan-out wakes the workers.
 * Both with 4 workers and a 1 s polling interval. Usage:
 *   npm run bench -- webhooks [deliveries after=1000] [deliveries before=40]
 * On PostgreSQL with DATABASE_URL (its own schema, dropped after), else on the embedded PGlite.
 *
 * Results (2-core machine shared with other suites, PostgreSQL 15, no duplicate POST in any run):
 *   before 3.8–4.2 deliveries/s; after 59–150/s (ratio 15–36; the low end while a chaos test ran, load 6.4–8.5,
 *   the high end at load 5.2).
 */
import http from 'node:http';
import os from 'node:os';
import type { AddressInfo } from 'node:net';
import pg from 'pg';
import { openDatabase, type Database } from '../src/store/db.ts';
import { Store } from '../src/store/store.ts';
import { systemClock } from '../src/domain/clock.ts';
import { startBoss } from '../src/timers/boss.ts';
import { NotifyService, type NotifyServiceOptions } from '../src/notify/service.ts';
import { createWebhook } from '../src/notify/webhooks.ts';
import { EVENT_ID_HEADER } from '../src/notify/sign.ts';
import { opsDb } from '../src/operator/schema.ts';

const url = process.env.DATABASE_URL;
const nAfter = Number(process.argv[2] ?? 1000);
const nBefore = Number(process.argv[3] ?? 40);

const seen = new Set<string>();
let posts = 0;
const server = http.createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    posts++;
    seen.add(String(req.headers[EVENT_ID_HEADER] ?? ''));
    res.writeHead(200).end();
  });
});
await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
const hookUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;

async function run(label: string, n: number, opts: NotifyServiceOptions) {
  const schema = `bench_webhooks_${label}`;
  if (url) await adminQuery(`drop schema if exists ${schema} cascade`);
  const database: Database = await openDatabase(url ? { databaseUrl: url, schema } : { dataDir: 'memory://' });
  const store = new Store(database, systemClock);
  const boss = await startBoss(database, url ? { schema: `${schema}_boss` } : {});
  const sub = `sub-bench-${label}`;
  await createWebhook(store, sub, { url: hookUrl, topics: ['job.*'] });
  seen.clear();
  posts = 0;
  const svc = new NotifyService(store, boss, { workers: 4, pollingIntervalSeconds: 1, pollMs: 200, ...opts });
  await svc.start();
  // Settle: the service is idle and polling, as in a running process, when the notifications come in.
  await new Promise((r) => setTimeout(r, 1500));
  const load = os.loadavg()[0].toFixed(1);
  const t0 = performance.now();
  const now = new Date();
  await opsDb(store).insertInto('outbox').values(Array.from({ length: n }, (_, i) => ({
    event_id: null, subscription_id: sub, job_id: null, topic: 'job.benchmark', payload: JSON.stringify({ event: 'benchmark', n: i, at: now }), created_at: now,
  }))).execute();
  svc.kick();
  while (seen.size < n) {
    if (performance.now() - t0 > 600_000) throw new Error(`${label}: only ${seen.size} of ${n} delivered`);
    await new Promise((r) => setTimeout(r, 20));
  }
  const seconds = (performance.now() - t0) / 1000;
  // The receiver has them all; let the last delivery log writes land before stopping.
  const recorded = async () => Number((await opsDb(store).selectFrom('notification_deliveries').select((eb) => eb.fn.countAll<number>().as('n')).where('status', '=', 'delivered').executeTakeFirstOrThrow()).n);
  for (let i = 0; i < 100 && (await recorded()) < n; i++) await new Promise((r) => setTimeout(r, 50));
  const delivered = await recorded();
  await svc.stop();
  await boss.stop({ graceful: false, wait: true, close: false });
  await database.close();
  if (url) await adminQuery(`drop schema if exists ${schema} cascade; drop schema if exists ${schema}_boss cascade`);
  const out = { case: label, deliveries: n, posts, duplicates: posts - seen.size, recordedDelivered: delivered, seconds: Number(seconds.toFixed(2)), perSecond: Number((n / seconds).toFixed(1)), loadAvg1m: load };
  console.log(JSON.stringify(out));
  return out;
}

async function adminQuery(text: string) {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    await c.query(text);
  } finally {
    await c.end();
  }
}

const before = await run('before', nBefore, { batchSize: 1, drain: false });
const after = await run('after', nAfter, {});
console.log(JSON.stringify({ driver: url ? 'postgres' : 'pglite', beforePerSecond: before.perSecond, afterPerSecond: after.perSecond, ratio: Number((after.perSecond / before.perSecond).toFixed(1)) }));
server.close();
