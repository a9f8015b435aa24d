import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { AzureBlobBackend } from '../../src/blob/index.ts';
import { DriveState, LogLevel } from '../../src/domain/states.ts';
import { StorageAccounts } from '../../src/storage-accounts/registry.ts';
import { parseDriveLog } from '../../src/transfer/drive-log.ts';
import { startAzurite, type AzuriteHandle } from '../helpers/azurite.ts';
import { forEachDatabase, openTestStore, type TestDb } from '../helpers/db.ts';
import { makeTempDir } from '../transfer/tmp.ts';
import { ACCOUNT_ID, md5, prepare, randomBytes, receivedImportJob, streamToBuffer, worker, writeTree } from './helpers.ts';

forEachDatabase('import worker on Azurite', (driver) => {
  let azurite: AzuriteHandle;
  let db: TestDb;
  let tmp: { dir: string; cleanup: () => Promise<void> };
  beforeAll(async () => {
    azurite = await startAzurite();
    db = await openTestStore(driver);
    tmp = await makeTempDir('azi');
  });
  afterAll(async () => {
    await db.close();
    await azurite?.stop();
    await tmp.cleanup();
  });

  it('round trip: prepare-drive → job → receive → import gives byte-identical blobs (Azurite backend); listing shows no secret', async () => {
    const accounts = new StorageAccounts(db.store);
    const view = await accounts.add({ accountId: ACCOUNT_ID, backend: 'azure', connectionString: azurite.connectionString });
    expect(JSON.stringify(await accounts.list())).not.toContain('AccountKey');
    expect(view.location).toBe(azurite.blobEndpoint);
    const src = path.join(tmp.dir, 'src');
    const files: Record<string, Buffer> = { 'x/a.txt': Buffer.from('hello azure'), 'x/big.bin': randomBytes(9 * 1024 * 1024 + 5, 3), 'disk.vhd': randomBytes(4096, 4) };
    await writeTree(src, files);
    const prep = await prepare(tmp.dir, `AZ${driver}`, [`${src}/,azc/`]);
    const job = await receivedImportJob(db.store, [{ driveId: `AZ${driver}`, manifestHash: prep.manifestHash }], { logLevel: LogLevel.Verbose });
    await worker(db.store, tmp.dir).drain();
    const [drive] = await db.store.getDrives(job.id);
    expect(drive.state).toBe(DriveState.Completed);
    const backend = new AzureBlobBackend(azurite.connectionString);
    for (const [rel, content] of Object.entries(files)) expect(await md5(await streamToBuffer(await backend.getStream('azc', rel))), rel).toBe(await md5(content));
    expect(drive.verboseLogUri).toContain(`${azurite.blobEndpoint}/waimportexport/waies/`);
    const log = await parseDriveLog(await backend.getStream('waimportexport', decodeURIComponent(drive.verboseLogUri!.split('/waimportexport/')[1])));
    expect(log.rows.length).toBe(3);
    const events = await db.store.listEvents(job.id);
    expect(JSON.stringify(events)).not.toContain('AccountKey');
  });
});
