/**
 * Get Job throughput and latency (autocannon, 50 connections, 10 s) against 100,000 stored jobs, on PostgreSQL
 * (when DATABASE_URL is set) and PGlite, each next to a bare Fastify route that returns the same bytes (the
 * ceiling of Node on this machine). Then the p99 of a list page ($top=100, from the middle of the keyset) with
 * 100,000 jobs vs 1,000 jobs in the subscription: keyset paging should not grow with the table.
 *
 *   npm run bench -- get-job [--jobs 100000] [--duration 10] [--connections 50] [--only pglite|postgres]
 */
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import path from 'node:path';
import Fastify from 'fastify';
import pg from 'pg';
import { sql } from 'kysely';
import { openApp, type App } from '../src/app.ts';
import { configFromEnv } from '../src/config.ts';
import { buildServer } from '../src/api/server.ts';
import { encodeSkipToken } from '../src/api/arm/paging.ts';
import { DriveState, JobState, JobType } from '../src/domain/states.ts';

const arg = (name: string, dflt: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : dflt;
};
const JOBS = Number(arg('jobs', '100000'));
const DURATION = Number(arg('duration', '10'));
const CONNECTIONS = Number(arg('connections', '50'));
const ONLY = arg('only', '');
const SMALL = 1000;
const API = '2021-01-01';
const AUTOCANNON = path.resolve(import.meta.dirname, '../node_modules/autocannon/autocannon.js');

interface Result {
  rps: number;
  p50: number;
  p99: number;
  non2xx: number;
  errors: number;
  /** CPU time of this (server) process per request, in µs: steadier than req/s when other work shares the cores. */
  cpuUs?: number;
}

/** Runs a load and charges this process's CPU time to its requests (the bare and sneakernet servers live here). */
async function measured(run: () => Promise<Result>): Promise<Result> {
  const before = process.cpuUsage();
  const r = await run();
  const used = process.cpuUsage(before);
  return { ...r, cpuUs: (used.user + used.system) / Math.max(1, r.rps * DURATION) };
}

/** autocannon in its own process, so the load generator does not share the server's event loop. */
function runAutocannon(nodeArgs: string[]): Promise<Result> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, nodeArgs, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err = (err + d).slice(-2000)));
    child.on('close', (code) => {
      try {
        const j = JSON.parse(out);
        resolve({ rps: j.requests.average, p50: j.latency.p50, p99: j.latency.p99, non2xx: j.non2xx, errors: j.errors });
      } catch (e) {
        reject(new Error(`autocannon failed (${code}): ${out.slice(0, 500)} ${err} ${(e as Error).message}`));
      }
    });
  });
}

function load(url: string, headers: Record<string, string>, connections = CONNECTIONS, duration = DURATION): Promise<Result> {
  const args = [AUTOCANNON, '-c', String(connections), '-d', String(duration), '-j'];
  for (const [k, v] of Object.entries(headers)) args.push('-H', `${k}=${v}`);
  return runAutocannon([...args, url]);
}

/** Like `load`, but each request asks for a random one of `count` jobs: `${prefix}${1…count}${suffix}`. */
function loadRandom(base: string, prefix: string, suffix: string, count: number, headers: Record<string, string>): Promise<Result> {
  return runAutocannon(['-e', `
    const autocannon = require(${JSON.stringify(AUTOCANNON)});
    const path = () => ${JSON.stringify(prefix)} + (1 + Math.floor(Math.random() * ${count})) + ${JSON.stringify(suffix)};
    autocannon({
      url: ${JSON.stringify(base)}, connections: ${CONNECTIONS}, duration: ${DURATION}, headers: ${JSON.stringify(headers)},
      requests: [{ setupRequest: (req) => ({ ...req, path: path() }) }],
    }, (err, r) => { if (err) { console.error(err); process.exit(1); } process.stdout.write(JSON.stringify(r)); });`]);
}

async function seed(app: App, subscriptionId: string, count: number, rg: string): Promise<void> {
  const now = new Date().toISOString();
  const batch = 20_000;
  for (let start = 0; start < count; start += batch) {
    const n = Math.min(batch, count - start);
    await sql`
      insert into jobs (subscription_id, resource_group, name, location, job_type, state, state_reason_code, state_reason_message,
        storage_account_id, diagnostics_path, log_level, shipping_information, encryption_key, tags, state_entered_at, created_at, updated_at, deadline_at, deadline_kind)
      select ${subscriptionId}, ${rg}, 'job' || g, 'westus', ${JobType.Import}, ${JobState.Creating}, 'JobCreated', 'Seeded for the benchmark.',
        ${`/subscriptions/${subscriptionId}/resourceGroups/${rg}/providers/Microsoft.Storage/storageAccounts/bench`}, 'waimportexport', 'Error',
        ${JSON.stringify({ recipientName: 'Sneakernet', streetAddress1: 'Dock 1', city: 'Localhost', postalCode: '00000', countryOrRegion: 'Local', phone: '0' })}::jsonb,
        '{"kekType":"MicrosoftManaged"}'::jsonb, '{"bench":"yes"}'::jsonb, ${now}::timestamptz, ${now}::timestamptz, ${now}::timestamptz,
        ${now}::timestamptz + interval '14 days', 'deleteCreating'
      from generate_series(${start + 1}::int, ${start + n}::int) g`.execute(app.store.db);
  }
  await sql`
    insert into drives (job_id, drive_id, position, state, state_reason_code, state_reason_message, bitlocker_key, manifest_file, manifest_hash, bytes_total, state_entered_at)
    select id, 'DRV' || id, 0, ${DriveState.Specified}, 'DriveSpecified', 'Seeded.', null, '\\DriveManifest.xml', '109B21108597EF36D5785F08303F3638', 1000000, created_at
    from jobs where subscription_id = ${subscriptionId}`.execute(app.store.db);
  await sql`analyze`.execute(app.store.db);
}

async function runDriver(driver: 'postgres' | 'pglite') {
  const config = configFromEnv({ port: 0, host: '127.0.0.1', dataDir: 'memory://' });
  config.databaseUrl = driver === 'postgres' ? process.env.DATABASE_URL : undefined;
  const schema = driver === 'postgres' ? `bench_${crypto.randomBytes(4).toString('hex')}` : undefined;
  const app = await openApp(config, { schema });
  const bare = Fastify({ logger: false });
  let server: Awaited<ReturnType<typeof buildServer>> | null = null;
  try {
    const t0 = Date.now();
    await seed(app, 'bench-big', JOBS, 'rg');
    await seed(app, 'bench-small', SMALL, 'rg');
    process.stdout.write(`[${driver}] seeded ${JOBS.toLocaleString()} + ${SMALL.toLocaleString()} jobs in ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
    const token = (await app.tokens.create(null, 'admin', 'bench')).token;
    server = await buildServer(app);
    const base = await server.listen({ port: 0, host: '127.0.0.1' });
    const auth = { authorization: `Bearer ${token}` };
    const target = `/subscriptions/bench-big/resourceGroups/rg/providers/Microsoft.ImportExport/jobs/job${Math.floor(JOBS / 2)}?api-version=${API}`;
    const probe = await fetch(base + target, { headers: auth });
    const bytes = await probe.text();
    if (probe.status !== 200) throw new Error(`Get Job answered ${probe.status}: ${bytes}`);
    const contentType = probe.headers.get('content-type') ?? 'application/json';
    bare.get('/same-bytes', async (_req, reply) => reply.header('content-type', contentType).send(bytes));
    const bareBase = await bare.listen({ port: 0, host: '127.0.0.1' });

    // warm up both
    await load(bareBase + '/same-bytes', {}, CONNECTIONS, 2);
    await load(base + target, auth, CONNECTIONS, 2);
    const ceiling = await measured(() => load(bareBase + '/same-bytes', {}));
    const getJob = await measured(() => load(base + target, auth));
    // Every request a different job: what a fleet of pollers of many jobs costs (the cache mostly misses).
    const randomJob = await measured(() => loadRandom(base, '/subscriptions/bench-big/resourceGroups/rg/providers/Microsoft.ImportExport/jobs/job', `?api-version=${API}`, JOBS, auth));

    // a page from the middle of each subscription's keyset
    const firstId = async (sub: string) => Number((await sql<{ id: number }>`select min(id) as id from jobs where subscription_id = ${sub}`.execute(app.store.db)).rows[0].id);
    const bigMid = (await firstId('bench-big')) + Math.floor(JOBS / 2);
    const smallMid = (await firstId('bench-small')) + Math.floor(SMALL / 2);
    const listUrl = (sub: string, after: number) => `${base}/subscriptions/${sub}/providers/Microsoft.ImportExport/jobs?api-version=${API}&$top=100&$skipToken=${encodeSkipToken(after)}`;
    await load(listUrl('bench-small', smallMid), auth, 10, 2);
    const listBig = await load(listUrl('bench-big', bigMid), auth, 10, Math.max(3, Math.round(DURATION / 2)));
    const listSmall = await load(listUrl('bench-small', smallMid), auth, 10, Math.max(3, Math.round(DURATION / 2)));
    return { driver, bytes: Buffer.byteLength(bytes), ceiling, getJob, randomJob, listBig, listSmall };
  } finally {
    await bare.close();
    await server?.close();
    await app.close();
    if (schema) {
      const c = new pg.Client({ connectionString: process.env.DATABASE_URL });
      await c.connect();
      await c.query(`drop schema if exists ${schema} cascade`);
      await c.end();
    }
  }
}

const fmt = (r: Result) => `${Math.round(r.rps).toString().padStart(6)} req/s  p50 ${String(r.p50).padStart(3)} ms  p99 ${String(r.p99).padStart(3)} ms${r.cpuUs !== undefined ? `  ${Math.round(r.cpuUs)} µs CPU/req` : ''}${r.non2xx || r.errors ? `  (non-2xx ${r.non2xx}, errors ${r.errors})` : ''}`;

const drivers: Array<'postgres' | 'pglite'> = [];
if (process.env.DATABASE_URL && ONLY !== 'pglite') drivers.push('postgres');
if (ONLY !== 'postgres') drivers.push('pglite');
process.stdout.write(`get-job: ${JOBS.toLocaleString()} jobs, ${CONNECTIONS} connections, ${DURATION} s per run, Node ${process.version}\n`);
for (const d of drivers) {
  const r = await runDriver(d);
  process.stdout.write(
    `\n[${r.driver}] response ${r.bytes} bytes\n` +
      `  bare Fastify, same bytes : ${fmt(r.ceiling)}\n` +
      `  Get Job                  : ${fmt(r.getJob)}\n` +
      `  ratio to ceiling         : ${((r.getJob.rps / r.ceiling.rps) * 100).toFixed(1)} %  (goal ≥ 80 % on PostgreSQL, p99 < 10 ms)\n` +
      `  CPU ratio (bare / ours)  : ${((r.ceiling.cpuUs! / r.getJob.cpuUs!) * 100).toFixed(1)} %  (server CPU per request; ${r.driver === 'postgres' ? "PostgreSQL's own CPU not included" : 'PGlite runs in this process'})\n` +
      `  Get Job, random job      : ${fmt(r.randomJob)}  (${((r.randomJob.rps / r.ceiling.rps) * 100).toFixed(1)} % of the ceiling; each request another of ${JOBS.toLocaleString()} jobs)\n` +
      `  list page, ${JOBS.toLocaleString()} jobs : ${fmt(r.listBig)}   (10 connections)\n` +
      `  list page, ${SMALL.toLocaleString()} jobs   : ${fmt(r.listSmall)}   (10 connections)\n` +
      `  list p99 ratio big/small : ${(r.listBig.p99 / Math.max(r.listSmall.p99, 1)).toFixed(2)}  (keyset: ≈ 1)\n`,
  );
}
process.exit(0);
