/**
 * Scale-out on one PostgreSQL, side by side in one run:
 *   - Get Job and a list page with 1, 2 and 4 `sneakernet api` processes (autocannon spreading its connections over
 *     the processes' ports), against 1,000,000 stored jobs (generate_series straight into the tables);
 *   - import throughput with 1 vs 2 `sneakernet worker` processes (the same set of prepared drives each time).
 * `--profile` instead runs one api process under `node --cpu-prof` while autocannon drives Get Job, and prints the
 * functions with the most self time (the profile is kept for a closer look).
 *
 *   DATABASE_URL=postgres://… npm run bench -- scale [--jobs 1000000] [--duration 10] [--connections 64]
 *     [--drives 16] [--files 24] [--file-kb 256] [--profile]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { encodeSkipToken } from '../src/api/arm/paging.ts';
import { DriveState, JobState, JobType } from '../src/domain/states.ts';
import { prepareDrive } from '../src/transfer/prepare.ts';

const arg = (name: string, dflt: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : dflt;
};
const JOBS = Number(arg('jobs', '1000000'));
const DURATION = Number(arg('duration', '10'));
const CONNECTIONS = Number(arg('connections', '64'));
const DRIVES = Number(arg('drives', '16'));
const FILES = Number(arg('files', '24'));
const FILE_KB = Number(arg('file-kb', '256'));
const PROFILE = process.argv.includes('--profile');
const API = '2021-01-01';
const BIN = path.resolve(import.meta.dirname, '../bin/sneakernet.js');
const AUTOCANNON = path.resolve(import.meta.dirname, '../node_modules/autocannon/autocannon.js');
const SUB = 'bench-scale';

if (!process.env.DATABASE_URL) {
  process.stderr.write('bench scale needs DATABASE_URL (PostgreSQL)\n');
  process.exit(2);
}

interface Result { rps: number; p50: number; p99: number; non2xx: number; errors: number }

/** autocannon in its own process, its connections spread over every given URL (one per api process). */
function load(urls: string[], headers: Record<string, string>, connections = CONNECTIONS, duration = DURATION): Promise<Result> {
  const script = `
    const autocannon = require(${JSON.stringify(AUTOCANNON.replace(/autocannon\.js$/, ''))});
    autocannon({ url: ${JSON.stringify(urls)}, connections: ${connections}, duration: ${duration}, headers: ${JSON.stringify(headers)} }, (err, r) => {
      if (err) { console.error(err); process.exit(1); }
      console.log(JSON.stringify({ rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99, non2xx: r.non2xx, errors: r.errors }));
    });`;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('close', (code) => {
      try { resolve(JSON.parse(out.trim().split('\n').at(-1)!)); } catch { reject(new Error(`autocannon failed (${code}): ${out} ${err}`)); }
    });
  });
}

const freePort = () => new Promise<number>((resolve) => {
  const s = net.createServer();
  s.listen(0, '127.0.0.1', () => { const p = (s.address() as net.AddressInfo).port; s.close(() => resolve(p)); });
});

function startProc(args: string[], env: NodeJS.ProcessEnv, nodeArgs: string[] = []): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...nodeArgs, BIN, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const on = (d: Buffer) => { out += d; if (/listening on|worker running/.test(out)) resolve(child); };
    child.stdout!.on('data', on);
    child.stderr!.on('data', on);
    child.once('exit', (code) => { if (!/listening on|worker running/.test(out)) reject(new Error(`${args[0]} exited ${code}: ${out}`)); });
  });
}
const stopProc = (c: ChildProcess) => new Promise<void>((r) => { if (c.exitCode !== null || c.signalCode !== null) return r(); c.once('exit', () => r()); c.kill('SIGTERM'); });

function run(args: string[], env: NodeJS.ProcessEnv): Promise<void> {
  return new Promise((resolve, reject) => {
    const c = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    c.stderr.on('data', (d) => (err += d));
    c.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`${args.join(' ')}: ${err}`))));
  });
}

async function seed(c: pg.Client, count: number): Promise<void> {
  const now = new Date().toISOString();
  const batch = 50_000;
  for (let start = 0; start < count; start += batch) {
    const n = Math.min(batch, count - start);
    await c.query(`
      insert into jobs (subscription_id, resource_group, name, location, job_type, state, state_reason_code, state_reason_message,
        storage_account_id, diagnostics_path, log_level, shipping_information, encryption_key, tags, state_entered_at, created_at, updated_at, deadline_at, deadline_kind)
      select $1, 'rg', 'job' || g, 'westus', $2, $3, 'JobCreated', 'Seeded for the benchmark.',
        $4, 'waimportexport', 'Error', $5::jsonb, '{"kekType":"MicrosoftManaged"}'::jsonb, '{"bench":"yes"}'::jsonb,
        $6::timestamptz, $6::timestamptz, $6::timestamptz, $6::timestamptz + interval '14 days', 'deleteCreating'
      from generate_series($7::int, $8::int) g`,
    [SUB, JobType.Import, JobState.Creating, `/subscriptions/${SUB}/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/bench`,
      JSON.stringify({ recipientName: 'Sneakernet', streetAddress1: 'Dock 1', city: 'Localhost', postalCode: '00000', countryOrRegion: 'Local', phone: '0' }),
      now, start + 1, start + n]);
  }
  await c.query(`
    insert into drives (job_id, drive_id, position, state, state_reason_code, state_reason_message, bitlocker_key, manifest_file, manifest_hash, bytes_total, state_entered_at)
    select id, 'DRV' || id, 0, $1, 'DriveSpecified', 'Seeded.', null, '\\DriveManifest.xml', '109B21108597EF36D5785F08303F3638', 1000000, created_at
    from jobs where subscription_id = $2`, [DriveState.Specified, SUB]);
  await c.query('analyze');
}

const fmt = (r: Result) => `${Math.round(r.rps).toString().padStart(6)} req/s  p50 ${String(r.p50).padStart(3)} ms  p99 ${String(r.p99).padStart(4)} ms${r.non2xx || r.errors ? `  (non-2xx ${r.non2xx}, errors ${r.errors})` : ''}`;

// ---------------------------------------------------------------------------------------------------------------
const name = `scale_${crypto.randomBytes(4).toString('hex')}`;
const admin = new pg.Client({ connectionString: process.env.DATABASE_URL });
await admin.connect();
await admin.query(`create database ${name}`);
const dbUrl = new URL(process.env.DATABASE_URL);
dbUrl.pathname = `/${name}`;
const tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'snk-scale-'));
const token = `bench-${crypto.randomBytes(8).toString('hex')}`;
const env: NodeJS.ProcessEnv = {
  DATABASE_URL: dbUrl.toString(), SNEAKERNET_BOOTSTRAP_TOKEN: token, SNEAKERNET_LOG: 'silent', SNEAKERNET_SECRET_KEY: crypto.randomBytes(32).toString('hex'),
  SNEAKERNET_DRIVES_DIR: path.join(tmp, 'drives'), SNEAKERNET_DATA_DIR: path.join(tmp, 'data'), SNEAKERNET_WORKER_POLL_MS: '200',
  SNEAKERNET_WORKER_CONCURRENCY: '1', SNEAKERNET_OPERATOR_BACKGROUND: 'off',
};
const procs: ChildProcess[] = [];
try {
  await run(['migrate'], env);
  const c = new pg.Client({ connectionString: env.DATABASE_URL });
  await c.connect();
  const t0 = Date.now();
  await seed(c, JOBS);
  process.stdout.write(`scale: ${JOBS.toLocaleString()} jobs seeded in ${((Date.now() - t0) / 1000).toFixed(1)} s; ${os.cpus().length} cores, Node ${process.version}, ${CONNECTIONS} connections, ${DURATION} s per run\n`);
  const auth = { authorization: `Bearer ${token}` };
  const getPath = `/subscriptions/${SUB}/resourceGroups/rg/providers/Microsoft.ImportExport/jobs/job${Math.floor(JOBS / 2)}?api-version=${API}`;
  const firstId = Number((await c.query('select min(id) as id from jobs')).rows[0].id);
  const listPath = `/subscriptions/${SUB}/providers/Microsoft.ImportExport/jobs?api-version=${API}&$top=100&$skipToken=${encodeSkipToken(firstId + Math.floor(JOBS / 2))}`;

  if (PROFILE) {
    const dir = path.join(import.meta.dirname, '../test-artifacts/profiles');
    fs.mkdirSync(dir, { recursive: true });
    const port = await freePort();
    const before = new Set(fs.readdirSync(dir));
    const p = await startProc(['api', '--port', String(port)], env, ['--cpu-prof', `--cpu-prof-dir=${dir}`]);
    const base = `http://127.0.0.1:${port}`;
    await load([base + getPath], auth, CONNECTIONS, 3);
    const r = await load([base + getPath], auth);
    process.stdout.write(`profile run, Get Job on 1 api: ${fmt(r)}\n`);
    await stopProc(p);
    await new Promise((res) => setTimeout(res, 500));
    // One profile per thread (tsx's loader runs in a worker thread): the main thread's is the largest.
    const file = fs.readdirSync(dir).filter((f) => f.endsWith('.cpuprofile') && !before.has(f)).map((f) => path.join(dir, f))
      .sort((a, b) => fs.statSync(b).size - fs.statSync(a).size)[0];
    const prof = JSON.parse(fs.readFileSync(file, 'utf8')) as { nodes: Array<{ id: number; callFrame: { functionName: string; url: string; lineNumber: number }; hitCount?: number }> };
    const total = prof.nodes.reduce((n, x) => n + (x.hitCount ?? 0), 0);
    const by = new Map<string, number>();
    const byFile = new Map<string, number>();
    for (const n of prof.nodes) {
      const f = n.callFrame;
      const where = f.url.replace(/^.*node_modules\//, '').replace(/^file:\/\/.*\/main\//, '');
      const key = `${f.functionName || '(anonymous)'} ${where}:${f.lineNumber + 1}`;
      by.set(key, (by.get(key) ?? 0) + (n.hitCount ?? 0));
      const pkg = f.url.includes('node_modules/') ? f.url.replace(/^.*node_modules\/((@[^/]+\/)?[^/]+).*$/, '$1') : f.url ? where.split('/').slice(0, 2).join('/') : f.functionName;
      byFile.set(pkg, (byFile.get(pkg) ?? 0) + (n.hitCount ?? 0));
    }
    const top = (m: Map<string, number>, k: number) => [...m].sort((a, b) => b[1] - a[1]).slice(0, k).map(([key, v]) => `  ${((v / total) * 100).toFixed(1).padStart(5)} %  ${key}`).join('\n');
    process.stdout.write(`profile: ${path.relative(process.cwd(), file)}\nself time by package/folder:\n${top(byFile, 15)}\nself time by function:\n${top(by, 30)}\n`);
  } else {
    // ---- api scale-out ----------------------------------------------------------------------------------------
    const ports: number[] = [];
    for (let i = 0; i < 4; i++) ports.push(await freePort());
    for (const port of ports) procs.push(await startProc(['api', '--port', String(port)], env));
    const bases = ports.map((p) => `http://127.0.0.1:${p}`);
    const probe = await fetch(bases[0] + getPath, { headers: auth });
    if (probe.status !== 200) throw new Error(`Get Job answered ${probe.status}: ${await probe.text()}`);
    for (const b of bases) await load([b + getPath], auth, 16, 2); // warm every process
    const rows: Array<{ n: number; get: Result; list: Result }> = [];
    for (const n of [1, 2, 4]) {
      const get = await load(bases.slice(0, n).map((b) => b + getPath), auth);
      const list = await load(bases.slice(0, n).map((b) => b + listPath), auth, Math.max(8, Math.round(CONNECTIONS / 4)));
      rows.push({ n, get, list });
      process.stdout.write(`  ${n} api: Get Job ${fmt(get)} | list $top=100 ${fmt(list)}\n`);
    }
    process.stdout.write('api scale-out (throughput relative to 1 process):\n');
    for (const r of rows) {
      process.stdout.write(`  ${r.n} api  Get Job ×${(r.get.rps / rows[0].get.rps).toFixed(2)} (p99 ${r.get.p99} ms)   list ×${(r.list.rps / rows[0].list.rps).toFixed(2)} (p99 ${r.list.p99} ms)\n`);
    }
    await Promise.all(procs.splice(0).map(stopProc));

    // ---- import: 1 vs 2 workers -------------------------------------------------------------------------------
    await run(['storage', 'add', '*', '--local', path.join(tmp, 'blobs')], env);
    const apiPort = await freePort();
    const api = await startProc(['api', '--port', String(apiPort)], { ...env, SNEAKERNET_OPERATOR_BACKGROUND: 'off' });
    procs.push(api);
    const call = async (method: string, p: string, body?: unknown) => {
      const res = await fetch(`http://127.0.0.1:${apiPort}${p}`, { method, headers: { ...auth, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
      if (res.status >= 300) throw new Error(`${method} ${p}: ${res.status} ${await res.text()}`);
      return res.json();
    };
    const src = path.join(tmp, 'src');
    for (let f = 0; f < FILES; f++) {
      await fsp.mkdir(src, { recursive: true });
      await fsp.writeFile(path.join(src, `f${f}.bin`), crypto.randomBytes(FILE_KB * 1024));
    }
    const csv = path.join(tmp, 'dataset.csv');
    const bytesPerDrive = FILES * FILE_KB * 1024;
    const importRun = async (workers: number) => {
      const names: string[] = [];
      for (let d = 0; d < DRIVES; d++) {
        const driveId = `W${workers}D${String(d).padStart(3, '0')}`;
        const jobName = `imp-w${workers}-${d}`;
        await fsp.writeFile(csv, `BasePath,DstBlobPathOrPrefix,BlobType,Disposition,MetadataFile,PropertiesFile\n${src}/,${jobName}/\n`);
        const prep = await prepareDrive({ datasetCsv: csv, driveFolder: path.join(tmp, 'drives', driveId), driveId, journalFile: path.join(tmp, `${driveId}.jrn`) });
        const jp = `/subscriptions/${SUB}/resourceGroups/imp/providers/Microsoft.ImportExport/jobs/${jobName}?api-version=${API}`;
        await call('PUT', jp, { location: 'westus', properties: { storageAccountId: `/subscriptions/${SUB}/resourceGroups/imp/providers/Microsoft.Storage/storageAccounts/bench`, jobType: 'Import', logLevel: 'Error', returnShipping: { carrierName: 'FedEx', carrierAccountNumber: '1' }, driveList: [{ driveId, bitLockerKey: '238810-662376-448998-450120-652806-203390-606320-483076', manifestFile: '\\DriveManifest.xml', manifestHash: prep.manifestHash, driveHeaderHash: '' }] } });
        await call('PATCH', jp, { properties: { state: JobState.Shipping, deliveryPackage: { carrierName: 'FedEx', trackingNumber: `T${driveId}`, driveCount: 1, shipDate: '2026-11-25' }, returnAddress: { recipientName: 'B', streetAddress1: 'S', city: 'C', postalCode: '1', countryOrRegion: 'USA', phone: '1', email: 'b@example.com' } } });
        names.push(jobName);
      }
      const ws: ChildProcess[] = [];
      for (let i = 0; i < workers; i++) ws.push(await startProc(['worker'], env));
      const t = Date.now();
      for (let d = 0; d < DRIVES; d++) await call('POST', '/operator/packages', { carrier: 'FedEx', trackingNumber: `TW${workers}D${String(d).padStart(3, '0')}`, driveIds: [`W${workers}D${String(d).padStart(3, '0')}`] });
      for (;;) {
        const { rows: [r] } = await c.query(`select count(*)::int as n from drives where drive_id like $1 and state = $2`, [`W${workers}D%`, DriveState.Completed]);
        if (r.n === DRIVES) break;
        await new Promise((res) => setTimeout(res, 100));
      }
      const secs = (Date.now() - t) / 1000;
      await Promise.all(ws.map(stopProc));
      return { secs, mbps: (DRIVES * bytesPerDrive) / 1e6 / secs, drivesPerMin: (DRIVES / secs) * 60 };
    };
    const one = await importRun(1);
    const two = await importRun(2);
    process.stdout.write(`import (${DRIVES} drives × ${FILES} files × ${FILE_KB} KiB = ${((DRIVES * bytesPerDrive) / 1e6).toFixed(0)} MB, local folder backend):\n`);
    process.stdout.write(`  1 worker : ${one.secs.toFixed(1)} s, ${one.mbps.toFixed(1)} MB/s, ${one.drivesPerMin.toFixed(1)} drives/min\n`);
    process.stdout.write(`  2 workers: ${two.secs.toFixed(1)} s, ${two.mbps.toFixed(1)} MB/s, ${two.drivesPerMin.toFixed(1)} drives/min   ×${(two.mbps / one.mbps).toFixed(2)}\n`);
  }
  await c.end();
} finally {
  await Promise.all(procs.map(stopProc));
  await admin.query(`drop database if exists ${name} with (force)`);
  await admin.end();
  await fsp.rm(tmp, { recursive: true, force: true });
}
process.exit(0);
