/**
 * Data-plane benchmarks (not timed tests). Run:
 *   node --import tsx bench/transfer.ts [--mixed-mb 2000] [--big-mb 4096] [--skip-azurite] [--db pglite|postgres]
 * 1. mixed tree (3000 small files + 4 large ones) imported to the local backend with MD5 verification, next to
 *    `cp -r` of the same tree to the same disk (+ sync), in the same run; the ratio is printed, and the CPU seconds
 *    (user+sys) each side spent, which a loaded machine does not skew the way it skews wall time;
 * 2. the import of one big file, with the peak RSS (VmHWM) of the process that copies;
 * 3. the mixed import to Azurite (Azurite is the ceiling there).
 * Every import runs in a child process of its own (this file with `--child`), which opens the database (PostgreSQL
 * when DATABASE_URL is set, else in-memory PGlite; `--db` picks), registers the backend, creates a received
 * import job and drains it with the same TransferWorker `sneakernet worker` runs; it reports its wall time and
 * /proc/self/status VmHWM. The drive folders are prepared here first (not timed).
 * Needs about 4× the sizes in free space under the temp dir; the sizes scale down with the flags.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import * as fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';

const arg = (name: string, dflt: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : dflt;
};
const MB = 1024 * 1024;

interface ChildSpec { driver: 'pglite' | 'postgres'; root: string; driveId: string; manifestHash: string; backend: { kind: 'local'; dir: string } | { kind: 'azure'; connectionString: string } }
interface ChildResult { secs: number; cpuSecs: number; bytes: number; blobs: number; state: string; vmHwmKiB: number; vmHwmBeforeCopyKiB: number }

async function vmHwmKiB(): Promise<number> {
  const s = await fsp.readFile('/proc/self/status', 'utf8').catch(() => '');
  return Number(/VmHWM:\s+(\d+)/.exec(s)?.[1] ?? 0);
}

// ---- child: one import, measured ------------------------------------------------------------------------
async function child(spec: ChildSpec): Promise<void> {
  const { openDatabase } = await import('../src/store/db.ts');
  const { Store } = await import('../src/store/store.ts');
  const { StorageAccounts } = await import('../src/storage-accounts/registry.ts');
  const { receivedImportJob, worker, ACCOUNT_ID } = await import('../test/transfer-worker/helpers.ts');
  let schema: string | undefined;
  if (spec.driver === 'postgres') schema = `bench_${crypto.randomBytes(5).toString('hex')}`;
  const database = await openDatabase(spec.driver === 'postgres' ? { databaseUrl: process.env.DATABASE_URL!, schema } : { dataDir: 'memory://' });
  try {
    const { systemClock } = await import('../src/domain/clock.ts');
    const store = new Store(database, systemClock);
    const accounts = new StorageAccounts(store);
    if (spec.backend.kind === 'local') await accounts.add({ accountId: ACCOUNT_ID, backend: 'local', rootDir: spec.backend.dir });
    else await accounts.add({ accountId: ACCOUNT_ID, backend: 'azure', connectionString: spec.backend.connectionString });
    const job = await receivedImportJob(store, [{ driveId: spec.driveId, manifestHash: spec.manifestHash }]);
    const before = await vmHwmKiB();
    // Reset the high-water mark (Linux): VmHWM then tells the peak while copying, not while starting up.
    await fsp.writeFile('/proc/self/clear_refs', '5').catch(() => {});
    const t = performance.now();
    const cpu0 = process.cpuUsage();
    await worker(store, spec.root, { progressIntervalMs: 1000 }).drain();
    const secs = (performance.now() - t) / 1000;
    const cpu = process.cpuUsage(cpu0);
    const d = (await store.getDrives(job.id))[0];
    const out: ChildResult = { secs, cpuSecs: (cpu.user + cpu.system) / 1e6, bytes: d.bytesSucceeded, blobs: d.objectsSucceeded, state: d.state, vmHwmKiB: await vmHwmKiB(), vmHwmBeforeCopyKiB: before };
    process.stdout.write(`RESULT ${JSON.stringify(out)}\n`);
  } finally {
    await database.close();
    if (schema) {
      const c = new pg.Client({ connectionString: process.env.DATABASE_URL });
      await c.connect();
      await c.query(`drop schema if exists ${schema} cascade`);
      await c.end();
    }
  }
}

/**
 * The child runs through tsx (as `sneakernet worker` does today: tsx's loader thread alone holds ~120 MiB), or
 * bundled by esbuild into one plain-JS file (what a built install would run).
 */
let bundled: string | null = null;
async function bundle(): Promise<string> {
  if (bundled) return bundled;
  const { build } = await import('esbuild');
  // Under node_modules so the bundle's bare imports resolve to the project's packages.
  const out = path.join(import.meta.dirname, '..', 'node_modules', '.cache', 'sneakernet-bench', 'transfer.mjs');
  await build({ entryPoints: [import.meta.filename], bundle: true, platform: 'node', format: 'esm', packages: 'external', outfile: out, logLevel: 'error', target: 'node20' });
  return (bundled = out);
}

async function runChild(spec: ChildSpec, loader: 'tsx' | 'bundle' = 'tsx'): Promise<ChildResult> {
  const argv = loader === 'tsx' ? ['--import', 'tsx', import.meta.filename] : [await bundle()];
  return new Promise((resolve, reject) => {
    const c = spawn(process.execPath, [...argv, '--child', JSON.stringify(spec)], { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, SNEAKERNET_LOG: 'silent' } });
    let out = '';
    c.stdout!.on('data', (d) => { out += d; });
    c.on('exit', (code) => {
      const m = /RESULT (.*)/.exec(out);
      if (code === 0 && m) resolve(JSON.parse(m[1]) as ChildResult);
      else reject(new Error(`import child exited ${code}: ${out.slice(-2000)}`));
    });
  });
}

// ---- parent ---------------------------------------------------------------------------------------------
async function main(): Promise<void> {
  const { prepare, randomBytes } = await import('../test/transfer-worker/helpers.ts');
  const MIXED_MB = Number(arg('mixed-mb', '2000'));
  const BIG_MB = Number(arg('big-mb', '4096'));
  const skipAzurite = process.argv.includes('--skip-azurite');
  const driver = (arg('db', process.env.DATABASE_URL ? 'postgres' : 'pglite')) as ChildSpec['driver'];

  const writeBig = async (p: string, bytes: number, seed: number) => {
    await fsp.mkdir(path.dirname(p), { recursive: true });
    const block = randomBytes(4 * MB, 100 + seed);
    const fh = await fsp.open(p, 'w');
    for (let off = 0; off < bytes; off += block.length) {
      block.writeUInt32LE(off / block.length, 0);
      await fh.write(block, 0, Math.min(block.length, bytes - off));
    }
    await fh.close();
  };
  const makeMixed = async (dir: string, totalMb: number) => {
    const block = randomBytes(4 * MB, 42);
    const smallCount = 3000;
    const smallBytes = Math.floor((totalMb * MB * 0.25) / smallCount);
    for (let i = 0; i < smallCount; i++) {
      const p = path.join(dir, `small/d${i % 30}/f${i}.bin`);
      await fsp.mkdir(path.dirname(p), { recursive: true });
      await fsp.writeFile(p, block.subarray(i % 1000, (i % 1000) + smallBytes));
    }
    const bigCount = 4;
    const bigBytes = Math.floor((totalMb * MB * 0.75) / bigCount);
    for (let i = 0; i < bigCount; i++) await writeBig(path.join(dir, `big/b${i}.bin`), bigBytes, i);
  };
  const report = (label: string, r: ChildResult) => {
    const mbps = r.bytes / MB / r.secs;
    console.log(`${label}: ${r.blobs} blobs, ${(r.bytes / MB).toFixed(0)} MiB in ${r.secs.toFixed(1)} s = ${mbps.toFixed(0)} MiB/s (${r.state}), CPU ${r.cpuSecs.toFixed(1)} s (user+sys, all threads); ` +
      `copying process: peak RSS during the copy ${(r.vmHwmKiB / 1024).toFixed(0)} MiB (VmHWM; ${(r.vmHwmBeforeCopyKiB / 1024).toFixed(0)} MiB at start-up)`);
    return mbps;
  };

  // cp -r of `from` to `to`, then sync: wall seconds and the CPU seconds (user+sys) of cp and sync. On a loaded
  // machine the wall ratio swings with the neighbours; the CPU each side needs for the same tree does not.
  const cpTree = (from: string, to: string): { secs: number; cpuSecs: number } => {
    const t0 = performance.now();
    const r = spawnSync('bash', ['-c', 'TIMEFORMAT="%U %S"; time (cp -r "$0" "$1" && sync)', from, to], { encoding: 'utf8' });
    const secs = (performance.now() - t0) / 1000;
    const times = /([\d.]+) ([\d.]+)\s*$/.exec(r.stderr);
    if (r.status !== 0 || !times) throw new Error(`cp -r failed: ${r.stderr}`);
    return { secs, cpuSecs: Number(times[1]) + Number(times[2]) };
  };
  const base = await fsp.mkdtemp(path.join(os.tmpdir(), 'sn-bench-'));
  try {
    console.log(`# bench/transfer — ${MIXED_MB} MiB mixed, ${BIG_MB} MiB single file, database ${driver}, ${os.cpus().length} CPUs, load ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}, temp ${base}`);
    const src = path.join(base, 'src');
    await makeMixed(src, MIXED_MB);
    const prep = await prepare(base, 'BENCHMIX', [`${src}/,bench/`]);
    // cp -r of the same tree to the same disk (+ sync: the import makes its blobs durable too).
    execFileSync('sync');
    const cp1 = cpTree(src, path.join(base, 'cp-copy'));
    const cpMbps = MIXED_MB / cp1.secs;
    console.log(`cp -r (+sync): ${cpMbps.toFixed(0)} MiB/s (${cp1.secs.toFixed(1)} s), CPU ${cp1.cpuSecs.toFixed(1)} s (user+sys)`);
    await fsp.rm(path.join(base, 'cp-copy'), { recursive: true });
    execFileSync('sync');
    const local = await runChild({ driver, root: base, driveId: 'BENCHMIX', manifestHash: prep.manifestHash, backend: { kind: 'local', dir: path.join(base, 'blobs1') } });
    const mbps = report('import → local backend (MD5 per block and per blob)', local);
    // cp again right after, so a change in machine load shows up as a spread between the two cp figures.
    const cp2 = cpTree(src, path.join(base, 'cp-copy'));
    const cp2Mbps = MIXED_MB / cp2.secs;
    await fsp.rm(path.join(base, 'cp-copy'), { recursive: true });
    console.log(`cp -r (+sync) again: ${cp2Mbps.toFixed(0)} MiB/s, CPU ${cp2.cpuSecs.toFixed(1)} s`);
    console.log(`import / cp throughput: ${((mbps / cpMbps) * 100).toFixed(0)}% (vs the second cp: ${((mbps / cp2Mbps) * 100).toFixed(0)}%); ` +
      `CPU per byte, cp / import: ${((Math.min(cp1.cpuSecs, cp2.cpuSecs) / local.cpuSecs) * 100).toFixed(0)}%`);
    await fsp.rm(path.join(base, 'blobs1'), { recursive: true });
    await fsp.rm(path.join(base, 'drives', 'BENCHMIX'), { recursive: true });

    if (!skipAzurite) {
      const { startAzurite } = await import('../test/helpers/azurite.ts');
      const az = await startAzurite();
      try {
        // Azurite keeps blobs in memory (512 MiB cap in the test helper): a smaller tree of the same shape.
        const azMb = Math.min(MIXED_MB, 400);
        const azSrc = path.join(base, 'azsrc');
        await makeMixed(azSrc, azMb);
        const p = await prepare(base, 'BENCHAZ', [`${azSrc}/,bench/`]);
        report(`import → Azurite (${azMb} MiB mixed)`, await runChild({ driver, root: base, driveId: 'BENCHAZ', manifestHash: p.manifestHash, backend: { kind: 'azure', connectionString: az.connectionString } }));
        await fsp.rm(azSrc, { recursive: true });
        await fsp.rm(path.join(base, 'drives', 'BENCHAZ'), { recursive: true });
      } finally {
        await az.stop();
      }
    }
    await fsp.rm(src, { recursive: true });

    const bigSrc = path.join(base, 'bigsrc');
    await writeBig(path.join(bigSrc, 'one.bin'), BIG_MB * MB, 7);
    const p = await prepare(base, 'BENCHBIG', [`${bigSrc}/,bench/`]);
    await fsp.rm(bigSrc, { recursive: true });
    const bigSpec = (dir: string): ChildSpec => ({ driver, root: base, driveId: 'BENCHBIG', manifestHash: p.manifestHash, backend: { kind: 'local', dir: path.join(base, dir) } });
    const big = await runChild(bigSpec('blobs3'));
    report(`import of one ${BIG_MB} MiB file → local backend (child under tsx)`, big);
    await fsp.rm(path.join(base, 'blobs3'), { recursive: true });
    const bigB = await runChild(bigSpec('blobs4'), 'bundle');
    report(`import of one ${BIG_MB} MiB file → local backend (child bundled, plain node)`, bigB);
    console.log(`peak RSS of the copying process: ${(big.vmHwmKiB / 1024).toFixed(0)} MiB under tsx, ${(bigB.vmHwmKiB / 1024).toFixed(0)} MiB bundled (goal < 200 MB)`);
  } finally {
    await fsp.rm(base, { recursive: true, force: true });
  }
}

const childAt = process.argv.indexOf('--child');
if (childAt > 0) await child(JSON.parse(process.argv[childAt + 1]) as ChildSpec);
else await main();
