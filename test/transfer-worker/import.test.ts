import * as fsp from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { DriveState, JobState, LogLevel } from '../../src/domain/states.ts';
import { LocalFolderBackend } from '../../src/blob/index.ts';
import { parseDriveLog } from '../../src/transfer/drive-log.ts';
import { forEachDatabase } from '../helpers/db.ts';
import { openTestStore, type TestDb } from '../helpers/db.ts';
import { makeTempDir } from '../transfer/tmp.ts';
import { md5, prepare, randomBytes, receivedImportJob, registerLocal, streamToBuffer, worker, writeTree } from './helpers.ts';

forEachDatabase('import worker', (driver) => {
  let db: TestDb;
  let tmp: { dir: string; cleanup: () => Promise<void> };
  beforeEach(async () => {
    db = await openTestStore(driver);
    tmp = await makeTempDir('imp');
  });
  afterEach(async () => {
    await db.close();
    await tmp.cleanup();
  });

  it('round trip: prepare-drive → job → receive → import gives byte-identical blobs (local backend)', async () => {
    const src = path.join(tmp.dir, 'src');
    const files: Record<string, Buffer> = {
      'a.txt': Buffer.from('hello'),
      'dir/b.bin': randomBytes(5 * 1024 * 1024 + 17, 1),
      'dir/sub/empty': Buffer.alloc(0),
      'disk.vhd': randomBytes(3 * 512, 2),
    };
    await writeTree(src, files);
    const prep = await prepare(tmp.dir, 'DRIVE01', [`${src}/,photos/`], { blockSize: 1024 * 1024 });
    const blobs = path.join(tmp.dir, 'blobs');
    await registerLocal(db.store, blobs);
    const job = await receivedImportJob(db.store, [{ driveId: 'DRIVE01', manifestHash: prep.manifestHash }], { logLevel: LogLevel.Verbose });
    expect(await worker(db.store, tmp.dir).drain()).toBe(1);
    const backend = new LocalFolderBackend(blobs);
    for (const [rel, content] of Object.entries(files)) {
      const got = await streamToBuffer(await backend.getStream('photos', rel));
      expect(await md5(got), rel).toBe(await md5(content));
    }
    expect((await backend.getProperties('photos', 'disk.vhd'))!.blobType).toBe('PageBlob');
    const after = (await db.store.getJobById(job.id))!;
    const [drive] = await db.store.getDrives(job.id);
    expect(drive.state).toBe(DriveState.Completed);
    expect(drive.copyStatus).toBe('Completed');
    expect(drive.objectsSucceeded).toBe(4);
    expect(drive.objectsTotal).toBe(4);
    expect(drive.bytesSucceeded).toBe(drive.bytesTotal);
    expect(drive.percentComplete).toBe(100);
    expect(after.state).toBe(JobState.Packaging);
    expect(drive.errorLogUri).toMatch(/waimportexport\/waies\/.+_DRIVE01_\d{8}-\d{6}-\d{3}_error\.xml$/);
    expect(drive.verboseLogUri).toMatch(/_verbose\.xml$/);
    const verbose = await parseDriveLog(await backend.getStream('waimportexport', decodeURIComponent(drive.verboseLogUri!.split('/waimportexport/')[1])));
    expect(verbose.status).toBe('Completed');
    expect(verbose.rows.map((r) => r.blobPath).sort()).toEqual(Object.keys(files).map((f) => `photos/${f}`).sort());
    await fsp.rm(path.join(tmp.dir, 'drives'), { recursive: true });
  });
});
