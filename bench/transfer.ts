/**
 * Data-plane benchmarks (not timed tests). Run: node --import tsx bench/transfer.ts [--mixed-mb 2000] [--big-mb 4096] [--skip-azurite]
 * 1. mixed tree (thousands of small files + a few large ones) imported to the local backend with MD5 verification,
 *    next to `cp -r` of the same tree to the same disk, in the same run;
 * 2. peak RSS of the import of one big file (sampled in-process: the worker runs here);
 * 3. the mixed import to Azurite (Azurite is the ceiling there).
 * Needs ~3× the sizes in free space under the temp dir; the sizes scale down with the flags.
 */
import { execFileSync } from 'node:child_process';
import * as fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { openTestStore } from '../test/helpers/db.ts';
import { startAzurite } from '../test/helpers/azurite.ts';
import { StorageAccounts } from '../src/storage-accounts/registry.ts';
import { prepare, randomBytes, receivedImportJob, registerLocal, worker } from '../test/transfer-worker/helpers.ts';

const arg = (name: string, dflt: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const MIXED_MB = arg('mixed-mb', 2000);
const BIG_MB = arg('big-mb', 4096);
const skipAzurite = process.argv.includes('--skip-azurite');
const MB = 1024 * 1024;

async function makeMixed(dir: string, totalMb: number) {
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
}

async function writeBig(p: string, bytes: number, seed: number) {
  await fsp.mkdir(path.dirname(p), { recursive: true });
  const block = randomBytes(4 * MB, 100 + seed);
  const fh = await fsp.open(p, 'w');
  for (let off = 0; off < bytes; off += block.length) {
    block.writeUInt32LE(off / block.length, 0);
    await fh.write(block, 0, Math.min(block.length, bytes - off));
  }
  await fh.close();
}

async function importOnce(label: string, root: string, driveId: string, csvDir: string, register: (s: import('../src/store/store.ts').Store) => Promise<void>, sampleRss = false) {
  const db = await openTestStore('pglite');
  try {
    const prep = await prepare(root, driveId, [`${csvDir}/,bench/`]);
    await register(db.store);
    await receivedImportJob(db.store, [{ driveId, manifestHash: prep.manifestHash }]);
    let peak = 0;
    const timer = sampleRss ? setInterval(() => { peak = Math.max(peak, process.memoryUsage().rss); }, 50) : null;
    const baseRss = process.memoryUsage().rss;
    const t = performance.now();
    await worker(db.store, root, { progressIntervalMs: 1000 }).drain();
    const secs = (performance.now() - t) / 1000;
    if (timer) clearInterval(timer);
    const drive = (await db.store.getDrives(1))[0];
    const mbps = drive.bytesSucceeded / MB / secs;
    console.log(`${label}: ${drive.objectsSucceeded} blobs, ${(drive.bytesSucceeded / MB).toFixed(0)} MiB in ${secs.toFixed(1)} s = ${mbps.toFixed(0)} MiB/s (${drive.state})` +
      (sampleRss ? `; peak RSS ${(peak / MB).toFixed(0)} MiB (before: ${(baseRss / MB).toFixed(0)} MiB)` : ''));
    return { secs, mbps, peak };
  } finally {
    await db.close();
  }
}

const base = await fsp.mkdtemp(path.join(os.tmpdir(), 'sn-bench-'));
try {
  console.log(`# bench/transfer — ${MIXED_MB} MiB mixed, ${BIG_MB} MiB single file, temp ${base}`);
  const src = path.join(base, 'src');
  await makeMixed(src, MIXED_MB);
  const root = path.join(base, 'r1');
  await fsp.mkdir(root, { recursive: true });
  // cp -r of the same tree to the same disk.
  execFileSync('sync');
  let t = performance.now();
  execFileSync('cp', ['-r', src, path.join(base, 'cp-copy')]);
  execFileSync('sync');
  const cpSecs = (performance.now() - t) / 1000;
  console.log(`cp -r (+sync): ${(MIXED_MB / cpSecs).toFixed(0)} MiB/s (${cpSecs.toFixed(1)} s)`);
  await fsp.rm(path.join(base, 'cp-copy'), { recursive: true });
  // prepare-drive copies the tree onto the drive folder first (not timed); then the import is timed.
  t = performance.now();
  const local = await importOnce('import → local backend (MD5 per block and per blob)', root, 'BENCHMIX', src, (s) => registerLocal(s, path.join(base, 'blobs1')));
  console.log(`import / cp throughput: ${((local.mbps / (MIXED_MB / cpSecs)) * 100).toFixed(0)}%`);
  await fsp.rm(root, { recursive: true });
  await fsp.rm(path.join(base, 'blobs1'), { recursive: true });

  if (!skipAzurite) {
    const az = await startAzurite();
    try {
      const root2 = path.join(base, 'r2');
      await fsp.mkdir(root2, { recursive: true });
      // Azurite keeps blobs in memory (512 MiB cap in the test helper): a smaller tree of the same shape.
      const azSrc = path.join(base, 'azsrc');
      await makeMixed(azSrc, Math.min(MIXED_MB, 400));
      await importOnce(`import → Azurite (${Math.min(MIXED_MB, 400)} MiB mixed)`, root2, 'BENCHAZ', azSrc, (s) => new StorageAccounts(s).add({ accountId: '*', backend: 'azure', connectionString: az.connectionString }).then(() => {}));
      await fsp.rm(root2, { recursive: true });
    } finally {
      await az.stop();
    }
  }
  await fsp.rm(src, { recursive: true });

  const bigSrc = path.join(base, 'bigsrc');
  await writeBig(path.join(bigSrc, 'one.bin'), BIG_MB * MB, 7);
  const root3 = path.join(base, 'r3');
  await fsp.mkdir(root3, { recursive: true });
  await importOnce(`import of one ${BIG_MB} MiB file → local backend`, root3, 'BENCHBIG', bigSrc, (s) => registerLocal(s, path.join(base, 'blobs3')), true);
} finally {
  await fsp.rm(base, { recursive: true, force: true });
}
