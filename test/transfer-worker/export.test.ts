import * as fsp from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { LocalFolderBackend } from '../../src/blob/index.ts';
import { Actor, DriveState, JobState, JobType, LogLevel } from '../../src/domain/states.ts';
import { DriveEvent, JobEvent } from '../../src/domain/transitions.ts';
import { readManifestEntries } from '../../src/transfer/manifest-reader.ts';
import { readMetadataFile } from '../../src/transfer/metadata-file.ts';
import { forEachDatabase, openTestStore, type TestDb } from '../helpers/db.ts';
import { shippingFields } from '../helpers/jobs.ts';
import { makeTempDir } from '../transfer/tmp.ts';
import { ACCOUNT_ID, md5, randomBytes, registerLocal, streamToBuffer, worker } from './helpers.ts';

forEachDatabase('export worker', (driver) => {
  let db: TestDb;
  let tmp: { dir: string; cleanup: () => Promise<void> };
  beforeAll(async () => {
    db = await openTestStore(driver);
    tmp = await makeTempDir('exp');
  });
  afterAll(async () => {
    await db.close();
    await tmp.cleanup();
  });

  it('export round trip: blobs → drive folders byte-identical with a correct manifest; what does not fit is in incompleteBlobListUri', async () => {
    const blobsDir = path.join(tmp.dir, 'blobs');
    await registerLocal(db.store, blobsDir);
    const backend = new LocalFolderBackend(blobsDir);
    await backend.ensureContainer('pics');
    await backend.ensureContainer('other');
    const content: Record<string, Buffer> = {};
    for (let i = 0; i < 6; i++) {
      content[`pics/a/f${i}.bin`] = randomBytes(300_000 + i, i);
      await backend.putStream('pics', `a/f${i}.bin`, Readable.from([content[`pics/a/f${i}.bin`]]), { metadata: { n: String(i) } });
    }
    content['other/one.txt'] = Buffer.from('one');
    await backend.putStream('other', 'one.txt', Readable.from([content['other/one.txt']]));
    await backend.putStream('other', 'not-selected.txt', Readable.from([Buffer.from('x')]));
    const ids = [`EXA${driver}`, `EXB${driver}`];
    const { job } = await db.store.createJob({
      key: { subscriptionId: 'sub-1', resourceGroup: 'rg', name: `exp-${driver}` }, location: 'West US', jobType: JobType.Export,
      initial: { state: JobState.Creating, reason: { code: 'JobCreated', message: 'created' } },
      fields: { storageAccountId: ACCOUNT_ID, logLevel: LogLevel.Verbose, exportSpec: { blobList: { blobPathPrefix: ['/pics/a/'], blobPath: ['other/one.txt'] } } },
      drives: ids.map((driveId) => ({ driveId, state: DriveState.Specified, stateReason: { code: 'DriveSpecified', message: 'listed' } })),
    });
    await db.store.changeJob(job.id, { actor: Actor.Customer }, (w) => { w.set(shippingFields); w.applyJobEvent(JobEvent.ProvideShippingInfo); });
    await db.store.changeJob(job.id, { actor: Actor.Operator }, (w) => { for (const d of ids) w.applyDriveEvent(d, DriveEvent.Receive); w.followDrives(); });
    for (const d of ids) await fsp.mkdir(path.join(tmp.dir, 'drives', d), { recursive: true });
    // Each drive holds two of the 300 KB blobs (after the 1 MiB reserve): two of six cannot fit.
    const capacity = 1024 * 1024 + 800_000;
    await worker(db.store, tmp.dir, { exportCapacity: async () => capacity }).drain();

    const after = (await db.store.getJobById(job.id))!;
    expect(after.state).toBe(JobState.Packaging);
    expect(after.incompleteBlobListUri).toMatch(/_incomplete\.xml$/);
    const incompleteName = decodeURIComponent(after.incompleteBlobListUri!.split('/waimportexport/')[1]);
    const incomplete = (await streamToBuffer(await backend.getStream('waimportexport', incompleteName))).toString();
    const missing = [...incomplete.matchAll(/<BlobPath>([^<]+)<\/BlobPath>/g)].map((m) => m[1]);
    expect(missing.length).toBe(2);

    const exported = new Set<string>();
    for (const d of ids) {
      const folder = path.join(tmp.dir, 'drives', d);
      for await (const e of readManifestEntries(path.join(folder, 'DriveManifest.xml'), { expectedDriveId: d })) {
        const file = await fsp.readFile(path.join(folder, ...e.relativePath!.split('/')));
        expect(await md5(file), e.blobPath).toBe(await md5(content[e.blobPath]));
        expect(e.length).toBe(content[e.blobPath].length);
        expect(e.blocks!.length).toBeGreaterThan(0);
        if (e.blobPath.startsWith('pics/')) expect(await readMetadataFile(path.join(folder, ...e.metadataPath!.path.replace(/^\\/, '').split('\\')), { expectedHash: e.metadataPath!.hash })).toHaveProperty('n');
        exported.add(e.blobPath);
      }
      const [drive] = (await db.store.getDrives(job.id)).filter((x) => x.driveId === d);
      expect(drive.state).toBe(DriveState.Completed);
      expect(drive.verboseLogUri).toMatch(/_verbose\.xml$/);
    }
    expect([...exported, ...missing].sort()).toEqual(Object.keys(content).sort());
    expect(exported.has('other/not-selected.txt')).toBe(false);
  });
});
