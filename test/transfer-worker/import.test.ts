import * as fsp from 'node:fs/promises';
import { Readable } from 'node:stream';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, afterEach, expect, it } from 'vitest';
import { Actor, DriveState, JobState, LogLevel } from '../../src/domain/states.ts';
import { LocalFolderBackend } from '../../src/blob/index.ts';
import { parseDriveLog, type ParsedDriveLog } from '../../src/transfer/drive-log.ts';
import { md5FileBase16 } from '../../src/transfer/md5.ts';
import { forEachDatabase, openTestStore, type TestDb } from '../helpers/db.ts';
import { makeTempDir } from '../transfer/tmp.ts';
import {
  craftDrive, md5, prepare, randomBytes, receivedImportJob, registerLocal, streamToBuffer, worker, writeTree,
} from './helpers.ts';

forEachDatabase('import worker', (driver) => {
  let db: TestDb;
  let tmp: { dir: string; cleanup: () => Promise<void> };
  let blobsDir: string;
  let backend: LocalFolderBackend;
  let seq = 0;
  beforeAll(async () => {
    db = await openTestStore(driver);
  });
  afterAll(async () => {
    await db.close();
  });
  beforeEach(async () => {
    tmp = await makeTempDir('imp');
    blobsDir = path.join(tmp.dir, 'blobs');
    await registerLocal(db.store, blobsDir);
    backend = new LocalFolderBackend(blobsDir);
  });
  afterEach(async () => {
    await tmp.cleanup();
  });

  const driveId = () => `D${driver === 'postgres' ? 'P' : 'L'}${++seq}X${Date.now() % 100000}`;
  const drives = () => path.join(tmp.dir, 'drives');
  const logOf = async (uri: string | null): Promise<ParsedDriveLog> => {
    const name = decodeURIComponent(uri!.split('/waimportexport/')[1]);
    return parseDriveLog(await backend.getStream('waimportexport', name));
  };
  const runJob = async (id: string, manifestHash: string, opts: Parameters<typeof receivedImportJob>[2] = {}) => {
    const job = await receivedImportJob(db.store, [{ driveId: id, manifestHash }], opts);
    await worker(db.store, tmp.dir).drain();
    const [drive] = await db.store.getDrives(job.id);
    return { job: (await db.store.getJobById(job.id))!, drive };
  };

  it('round trip: prepare-drive → job → receive → import gives byte-identical blobs (local backend)', async () => {
    const src = path.join(tmp.dir, 'src');
    const files: Record<string, Buffer> = {
      'a.txt': Buffer.from('hello'),
      'dir/b.bin': randomBytes(5 * 1024 * 1024 + 17, 1),
      'dir/sub/empty': Buffer.alloc(0),
      'disk.vhd': randomBytes(3 * 512, 2),
    };
    await writeTree(src, files);
    const id = driveId();
    const prep = await prepare(tmp.dir, id, [`${src}/,photos/`], { blockSize: 1024 * 1024 });
    const { job, drive } = await runJob(id, prep.manifestHash, { logLevel: LogLevel.Verbose });
    for (const [rel, content] of Object.entries(files)) {
      const got = await streamToBuffer(await backend.getStream('photos', rel));
      expect(await md5(got), rel).toBe(await md5(content));
    }
    expect((await backend.getProperties('photos', 'disk.vhd'))!.blobType).toBe('PageBlob');
    expect(drive.state).toBe(DriveState.Completed);
    expect(drive.copyStatus).toBe('Completed');
    expect([drive.objectsSucceeded, drive.objectsTotal, drive.objectsFailed, drive.objectsSkipped]).toEqual([4, 4, 0, 0]);
    expect(drive.bytesSucceeded).toBe(drive.bytesTotal);
    expect(drive.percentComplete).toBe(100);
    expect(job.state).toBe(JobState.Packaging);
    expect(drive.errorLogUri).toMatch(new RegExp(`waimportexport/waies/${job.name}_${id}_\\d{8}-\\d{6}-\\d{3}_error\\.xml$`));
    const verbose = await logOf(drive.verboseLogUri);
    expect(verbose.status).toBe('Completed');
    expect(verbose.rows.map((r) => r.blobPath).sort()).toEqual(Object.keys(files).map((f) => `photos/${f}`).sort());
    expect(verbose.rows.every((r) => r.status === 'Completed' && r.failedChunks === 0)).toBe(true);
    const events = await db.store.listEvents(job.id);
    expect(events.some((e) => e.event === 'transferProgress' && e.driveId === id)).toBe(true);
  });

  it('metadata and properties files are applied to the blobs', async () => {
    const src = path.join(tmp.dir, 'src');
    await writeTree(src, {
      'f/one.txt': 'one',
      'meta.xml': '<?xml version="1.0" encoding="UTF-8"?>\n<Metadata><UploadMethod>sneakernet</UploadMethod></Metadata>\n',
      'props.xml': '<?xml version="1.0" encoding="UTF-8"?>\n<Properties><Content-Type>text/plain</Content-Type><Cache-Control>no-cache</Cache-Control></Properties>\n',
    });
    const id = driveId();
    const prep = await prepare(tmp.dir, id, [`${src}/f/,docs/,BlockBlob,rename,${src}/meta.xml,${src}/props.xml`]);
    const { drive } = await runJob(id, prep.manifestHash);
    expect(drive.state).toBe(DriveState.Completed);
    const info = (await backend.getProperties('docs', 'one.txt'))!;
    expect(info.metadata).toEqual({ UploadMethod: 'sneakernet' });
    expect(info.properties).toMatchObject({ contentType: 'text/plain', cacheControl: 'no-cache' });
  });

  it('dispositions: rename makes "name (2).ext", no-overwrite skips, overwrite replaces; the drive ends CompletedMoreInfo with warnings', async () => {
    await backend.ensureContainer('cc1');
    for (const n of ['pic.jpg', 'keep.txt', 'over.txt', 'plain']) await backend.putStream('cc1', n, Readable.from([Buffer.from('old')]));
    const id = driveId();
    const { manifestHash } = await craftDrive(drives(), id, [
      { blobPath: 'cc1/pic.jpg', filePath: '\\a\\pic.jpg', content: Buffer.from('new pic'), disposition: 'rename' },
      { blobPath: 'cc1/plain', filePath: '\\a\\plain', content: Buffer.from('new plain'), disposition: 'rename' },
      { blobPath: 'cc1/keep.txt', filePath: '\\a\\keep.txt', content: Buffer.from('new keep'), disposition: 'no-overwrite' },
      { blobPath: 'cc1/over.txt', filePath: '\\a\\over.txt', content: Buffer.from('new over'), disposition: 'overwrite' },
      { blobPath: 'cc1/fresh.txt', filePath: '\\a\\fresh.txt', content: Buffer.from('fresh'), disposition: 'no-overwrite' },
    ]);
    const { drive, job } = await runJob(id, manifestHash, { logLevel: LogLevel.Verbose });
    const text = async (n: string) => (await streamToBuffer(await backend.getStream('cc1', n))).toString();
    expect(await text('pic.jpg')).toBe('old');
    expect(await text('pic (2).jpg')).toBe('new pic');
    expect(await text('plain (2)')).toBe('new plain');
    expect(await text('keep.txt')).toBe('old');
    expect(await text('over.txt')).toBe('new over');
    expect(await text('fresh.txt')).toBe('fresh');
    expect(drive.state).toBe(DriveState.CompletedMoreInfo);
    expect(drive.copyStatus).toBe('CompletedWithWarnings');
    expect(drive.hasErrors).toBe(false);
    expect([drive.objectsSucceeded, drive.objectsSkipped, drive.objectsFailed]).toEqual([4, 1, 0]);
    const log = await logOf(drive.verboseLogUri);
    const by = Object.fromEntries(log.rows.map((r) => [r.blobPath, r.importDispositionStatus]));
    expect(by).toEqual({ 'cc1/pic (2).jpg': 'Renamed', 'cc1/plain (2)': 'Renamed', 'cc1/keep.txt': 'Skipped', 'cc1/over.txt': 'Overwritten', 'cc1/fresh.txt': 'Created' });
    expect(job.state).toBe(JobState.Packaging);
  });

  it('error log level: no verbose log; a clean drive has an empty error log with status Completed', async () => {
    const id = driveId();
    const { manifestHash } = await craftDrive(drives(), id, [{ blobPath: 'cc2/x', filePath: '\\x', content: Buffer.from('x') }]);
    const { drive } = await runJob(id, manifestHash, { logLevel: LogLevel.Error });
    expect(drive.verboseLogUri).toBeNull();
    const err = await logOf(drive.errorLogUri);
    expect(err.status).toBe('Completed');
    expect(err.totalBlobs).toBe(0);
  });

  it('verbose log level: every blob with its status and checksums; the error log keeps only failures and only the failing blocks', async () => {
    const id = driveId();
    const good = randomBytes(3 * 1024 * 1024, 5);
    const bad = Buffer.from(good);
    bad[1024 * 1024 + 5] ^= 0xff; // second block differs
    const { manifestHash } = await craftDrive(drives(), id, [
      { blobPath: 'cc3/good', filePath: '\\good', content: good },
      { blobPath: 'cc3/bad', filePath: '\\bad', content: bad, describe: good },
    ]);
    const { drive } = await runJob(id, manifestHash, { logLevel: LogLevel.Verbose });
    const verbose = await logOf(drive.verboseLogUri);
    expect(verbose.rows.map((r) => [r.blobPath, r.status, r.chunks, r.failedChunks])).toEqual([
      ['cc3/good', 'Completed', 3, 0], ['cc3/bad', 'CompletedWithErrors', 3, 1],
    ]);
    const err = await logOf(drive.errorLogUri);
    expect(err.status).toBe('CompletedWithErrors');
    expect(err.rows.map((r) => [r.blobPath, r.chunks, r.failedChunkStatuses])).toEqual([['cc3/bad', 1, { Corrupted: 1 }]]);
  });

  it('cancelled job skips copy', async () => {
    const id = driveId();
    const { manifestHash } = await craftDrive(drives(), id, [{ blobPath: 'cc4/x', filePath: '\\x', content: Buffer.from('x') }]);
    const job = await receivedImportJob(db.store, [{ driveId: id, manifestHash }]);
    await db.store.changeJob(job.id, { actor: Actor.Customer }, (w) => {
      w.set({ cancelRequested: true });
      w.followDrives();
    });
    await worker(db.store, tmp.dir).drain();
    const [drive] = await db.store.getDrives(job.id);
    expect(drive.state).toBe(DriveState.Received);
    expect(await backend.exists('cc4', 'x')).toBe(false);
    expect((await db.store.getJobById(job.id))!.state).toBe(JobState.Packaging);
  });

  it('a drive whose folder is not attached waits (phase WaitingForDrive) and is copied once it appears', async () => {
    const id = driveId();
    const other = path.join(tmp.dir, 'elsewhere');
    const { manifestHash, folder } = await craftDrive(other, id, [{ blobPath: 'cc5/x', filePath: '\\x', content: Buffer.from('x') }]);
    const job = await receivedImportJob(db.store, [{ driveId: id, manifestHash }]);
    const w = worker(db.store, tmp.dir);
    await w.drain();
    let [drive] = await db.store.getDrives(job.id);
    expect([drive.state, drive.phase]).toEqual([DriveState.Received, 'WaitingForDrive']);
    await fsp.mkdir(drives(), { recursive: true });
    await fsp.rename(folder, path.join(drives(), id));
    await new Promise((r) => setTimeout(r, 80));
    await w.drain();
    [drive] = await db.store.getDrives(job.id);
    expect(drive.state).toBe(DriveState.Completed);
  });

  // ---- bad input (issue 5) ----

  it('bad input: manifest paths that leave the drive ("..", absolute, symlink outside) are refused and logged, never read', async () => {
    const id = driveId();
    const secret = path.join(tmp.dir, 'secret.txt');
    await fsp.writeFile(secret, 'top secret');
    const { folder } = await craftDrive(drives(), id, [{ blobPath: 'cc6/ok', filePath: '\\ok', content: Buffer.from('ok') }]);
    await fsp.symlink(secret, path.join(folder, 'link'));
    // Rewrite the manifest by hand with escaping paths (the writer refuses nothing; the reader and resolver must).
    const manifest = path.join(folder, 'DriveManifest.xml');
    const h = (s: string) => md5(Buffer.from(s)).then((x) => x.toUpperCase());
    const blob = async (bp: string, fp: string, content: string) =>
      `<Blob><BlobPath>${bp}</BlobPath><FilePath>${fp}</FilePath><Length>${content.length}</Length><BlockList><Block Offset="0" Length="${content.length}" Hash="${await h(content)}" /></BlockList></Blob>`;
    await fsp.writeFile(manifest, `<?xml version="1.0" encoding="UTF-8"?>\n<DriveManifest Version="2014-11-01"><Drive><DriveId>${id}</DriveId><BlobList>` +
      (await blob('cc6/dotdot', '\\..\\..\\secret.txt', 'top secret')) +
      (await blob('cc6/abs', secret, 'top secret')) +
      (await blob('cc6/link', '\\link', 'top secret')) +
      (await blob('cc6/ok', '\\ok', 'ok')) +
      '</BlobList></Drive></DriveManifest>');
    const { drive } = await runJob(id, await md5FileBase16(manifest), { logLevel: LogLevel.Verbose });
    expect(drive.state).toBe(DriveState.CompletedMoreInfo);
    expect(drive.copyStatus).toBe('CompletedWithErrors');
    for (const n of ['dotdot', 'abs', 'link']) expect(await backend.exists('cc6', n), n).toBe(false);
    expect(await backend.exists('cc6', 'ok')).toBe(true);
    const err = await logOf(drive.errorLogUri);
    expect(Object.fromEntries(err.rows.map((r) => [r.blobPath, r.status]))).toEqual({
      'cc6/dotdot': 'FileNameInvalid', 'cc6/abs': 'FileNameInvalid', 'cc6/link': 'FileAccessDenied',
    });
  });

  it('bad input: a file shorter or different than the manifest says fails that blob (FileUnexpectedEnd / Corrupted), the rest continue, the drive ends CompletedMoreInfo', async () => {
    const id = driveId();
    const full = randomBytes(2 * 1024 * 1024 + 100, 9);
    const different = Buffer.from(full);
    different[10] ^= 1;
    const { manifestHash } = await craftDrive(drives(), id, [
      { blobPath: 'cc7/short', filePath: '\\short', content: full.subarray(0, 1024 * 1024 + 3), describe: full },
      { blobPath: 'cc7/different', filePath: '\\different', content: different, describe: full },
      { blobPath: 'cc7/fine', filePath: '\\fine', content: full },
    ]);
    const { drive, job } = await runJob(id, manifestHash);
    expect(drive.state).toBe(DriveState.CompletedMoreInfo);
    expect(drive.hasErrors).toBe(true);
    expect([drive.objectsSucceeded, drive.objectsFailed]).toEqual([1, 2]);
    // Nothing is ever half-written under its final name.
    expect(await backend.exists('cc7', 'short')).toBe(false);
    expect(await backend.exists('cc7', 'different')).toBe(false);
    expect(await md5(await streamToBuffer(await backend.getStream('cc7', 'fine')))).toBe(await md5(full));
    const err = await logOf(drive.errorLogUri);
    expect(err.rows.map((r) => [r.blobPath, r.status, r.failedChunkStatuses])).toEqual([
      ['cc7/short', 'CompletedWithErrors', { FileUnexpectedEnd: 2 }],
      ['cc7/different', 'CompletedWithErrors', { Corrupted: 1 }],
    ]);
    expect(job.state).toBe(JobState.Packaging);
  });

  it('bad input: a manifest that is not XML is a clear drive-level error (ManifestFormatInvalid), no crash', async () => {
    const id = driveId();
    const folder = path.join(drives(), id);
    await writeTree(folder, { 'DriveManifest.xml': 'this is { not xml' });
    const { drive } = await runJob(id, await md5FileBase16(path.join(folder, 'DriveManifest.xml')));
    expect(drive.state).toBe(DriveState.CompletedMoreInfo);
    expect(drive.copyStatus).toBe('ManifestFormatInvalid');
    expect((await logOf(drive.errorLogUri)).status).toBe('ManifestFormatInvalid');
  });

  it('bad input: a huge manifest (one 20 MB element) is refused while streaming, as a drive-level error', async () => {
    const id = driveId();
    const folder = path.join(drives(), id);
    await fsp.mkdir(folder, { recursive: true });
    const p = path.join(folder, 'DriveManifest.xml');
    const fh = await fsp.open(p, 'w');
    await fh.write(`<DriveManifest Version="2014-11-01"><Drive><DriveId>${id}</DriveId><BlobList><Blob><BlobPath>c/`);
    const chunk = 'a'.repeat(1024 * 1024);
    for (let i = 0; i < 20; i++) await fh.write(chunk);
    await fh.write('</BlobPath></Blob></BlobList></Drive></DriveManifest>');
    await fh.close();
    const before = process.memoryUsage().rss;
    const { drive } = await runJob(id, await md5FileBase16(p));
    expect(drive.copyStatus).toBe('ManifestFormatInvalid');
    expect(process.memoryUsage().rss - before).toBeLessThan(200 * 1024 * 1024);
  });

  it('bad input: a manifest that lies about sizes (more bytes than the drive holds, or blocks not covering the Length) is a drive-level error', async () => {
    const id = driveId();
    const folder = path.join(drives(), id);
    const blobXml = (n: number, len: number) => `<Blob><BlobPath>c/b${n}</BlobPath><FilePath>\\b${n}</FilePath><Length>${len}</Length></Blob>`;
    // 200 entries of 190 GB each: every entry is within the per-blob limit, the total is not on any drive.
    await writeTree(folder, { 'DriveManifest.xml': `<DriveManifest Version="2014-11-01"><Drive><DriveId>${id}</DriveId><BlobList>${Array.from({ length: 200 }, (_, i) => blobXml(i, 190e9)).join('')}</BlobList></Drive></DriveManifest>` });
    const { drive } = await runJob(id, await md5FileBase16(path.join(folder, 'DriveManifest.xml')));
    expect(drive.copyStatus).toBe('ManifestFormatInvalid');
    expect(drive.objectsSucceeded).toBe(0);

    const id2 = driveId();
    const folder2 = path.join(drives(), id2);
    await writeTree(folder2, { 'x': 'abc', 'DriveManifest.xml': `<DriveManifest Version="2014-11-01"><Drive><DriveId>${id2}</DriveId><BlobList><Blob><BlobPath>c/x</BlobPath><FilePath>\\x</FilePath><Length>5000</Length><BlockList><Block Offset="0" Length="3" Hash="900150983CD24FB0D6963F7D28E17F72" /></BlockList></Blob></BlobList></Drive></DriveManifest>` });
    const r2 = await runJob(id2, await md5FileBase16(path.join(folder2, 'DriveManifest.xml')));
    expect(r2.drive.copyStatus).toBe('ManifestFormatInvalid');
  });

  it('bad input: a manifest whose MD5 is not the job\'s manifestHash is ManifestCorrupted', async () => {
    const id = driveId();
    await craftDrive(drives(), id, [{ blobPath: 'cc8/x', filePath: '\\x', content: Buffer.from('x') }]);
    const { drive } = await runJob(id, '00000000000000000000000000000000');
    expect(drive.copyStatus).toBe('ManifestCorrupted');
    expect(await backend.exists('cc8', 'x')).toBe(false);
  });

  it('bad input: an unknown storage account faults the job with a reason an operator can act on', async () => {
    const id = driveId();
    const { manifestHash } = await craftDrive(drives(), id, [{ blobPath: 'cc9/x', filePath: '\\x', content: Buffer.from('x') }]);
    const acct = '/subscriptions/sub-1/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/nosuchacct';
    const job = await receivedImportJob(db.store, [{ driveId: id, manifestHash }], { storageAccountId: acct });
    await worker(db.store, tmp.dir).drain();
    const after = (await db.store.getJobById(job.id))!;
    expect(after.state).toBe(JobState.Faulted);
    expect(after.stateReason.code).toBe('StorageAccountUnknown');
    expect(after.stateReason.message).toContain(acct);
    expect(after.stateReason.message).toContain('sneakernet storage add');
    expect((await db.store.getDrives(job.id))[0].state).toBe(DriveState.Received);
  });

  it('bad input: a blob name that the backend refuses is a per-blob error', async () => {
    const id = driveId();
    const { manifestHash } = await craftDrive(drives(), id, [
      { blobPath: 'cc10/a//b', filePath: '\\one', content: Buffer.from('1') },
      { blobPath: 'Bad_Container/x', filePath: '\\two', content: Buffer.from('2') },
      { blobPath: 'cc10/fine', filePath: '\\three', content: Buffer.from('3') },
    ]);
    const { drive } = await runJob(id, manifestHash);
    expect(drive.state).toBe(DriveState.CompletedMoreInfo);
    expect([drive.objectsSucceeded, drive.objectsFailed]).toEqual([1, 2]);
    const err = await logOf(drive.errorLogUri);
    expect(err.rows.map((r) => r.status)).toEqual(['BlobRequestFailed', 'BlobRequestFailed']);
  });

  it('summary counts add up and never show 100% with work pending', async () => {
    const id = driveId();
    const { manifestHash } = await craftDrive(drives(), id, Array.from({ length: 12 }, (_, i) => ({ blobPath: `cc11/f${i}`, filePath: `\\f${i}`, content: randomBytes(1000 + i, i) })));
    const job = await receivedImportJob(db.store, [{ driveId: id, manifestHash }]);
    const seen: number[] = [];
    const orig = db.store.changeJob.bind(db.store);
    db.store.changeJob = (async (jobId: number, o: never, fn: never) => {
      const r = await orig(jobId, o, fn);
      const d = r.drives.find((x) => x.driveId === id);
      if (d && d.state === DriveState.Transferring) {
        seen.push(d.percentComplete);
        expect(d.objectsSucceeded + d.objectsFailed + d.objectsSkipped).toBeLessThanOrEqual(d.objectsTotal);
        expect(d.bytesSucceeded).toBeLessThanOrEqual(d.bytesTotal);
      }
      return r;
    }) as typeof db.store.changeJob;
    try {
      await worker(db.store, tmp.dir, { blobDelayMs: 20, blobConcurrency: 1 }).drain();
    } finally {
      db.store.changeJob = orig;
    }
    expect(seen.length).toBeGreaterThan(2);
    expect(Math.max(...seen)).toBeLessThan(100);
    const [drive] = await db.store.getDrives(job.id);
    expect([drive.objectsTotal, drive.objectsSucceeded, drive.percentComplete]).toEqual([12, 12, 100]);
  });
});
