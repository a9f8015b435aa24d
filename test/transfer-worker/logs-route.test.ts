/**
 * `GET …/jobs/{name}/drives/{driveId}/logs/{error|verbose}`: a customer downloads a drive's copy logs through the
 * service (storage behind a firewall). Same visibility as Get Job: another subscription's token gets a 404.
 */
import * as fsp from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { DriveState, LogLevel } from '../../src/domain/states.ts';
import { parseDriveLog } from '../../src/transfer/drive-log.ts';
import { call, jobPath, RG, startServer, STORAGE, SUB, withApi, type TestServer } from '../api/helpers.ts';
import { forEachDatabase } from '../helpers/db.ts';
import { makeTempDir } from '../transfer/tmp.ts';
import { prepare, randomBytes, receivedImportJob, registerLocal, worker, writeTree } from './helpers.ts';

const parse = (text: string) => parseDriveLog(Readable.from([Buffer.from(text)]));

forEachDatabase('drive log download route', (driver) => {
  let s: TestServer;
  let tmp: { dir: string; cleanup: () => Promise<void> };
  beforeAll(async () => {
    s = await startServer(driver);
    tmp = await makeTempDir('logs-route');
    await registerLocal(s.app.store, path.join(tmp.dir, 'blobs'), STORAGE);
    const src = path.join(tmp.dir, 'src');
    await writeTree(src, { 'a.txt': 'alpha', 'b/c.bin': randomBytes(3000, 3) });
    // One file of VERBOSE's dataset is removed from the drive after preparation: the error log has an entry.
    const verbose = await prepare(tmp.dir, 'LOGDRIVEV', [`${src}/,logs/`]);
    const driveV = path.join(tmp.dir, 'drives', 'LOGDRIVEV');
    const onDrive = (await fsp.readdir(driveV, { recursive: true })).filter((f) => f.endsWith('c.bin'));
    expect(onDrive).toHaveLength(1);
    await fsp.rm(path.join(driveV, onDrive[0]));
    const quiet = await prepare(tmp.dir, 'LOGDRIVEE', [`${src}/,quiet/`]);
    const opts = { subscriptionId: SUB, resourceGroup: RG, storageAccountId: STORAGE };
    await receivedImportJob(s.app.store, [{ driveId: 'LOGDRIVEV', manifestHash: verbose.manifestHash }], { ...opts, name: 'logsverbose', logLevel: LogLevel.Verbose });
    await receivedImportJob(s.app.store, [{ driveId: 'LOGDRIVEE', manifestHash: quiet.manifestHash }], { ...opts, name: 'logserror', logLevel: LogLevel.Error });
    expect(await worker(s.app.store, tmp.dir).drain()).toBe(2);
  }, 120_000);
  afterAll(async () => {
    await s?.close();
    await tmp?.cleanup();
  });

  const url = (job: string, drive: string, kind: string, sub = SUB) => withApi(`${jobPath(job, RG, sub)}/drives/${drive}/logs/${kind}`);

  it('streams the error log and the verbose log as DriveLog XML to the job owner', async () => {
    const drive = (await s.app.store.getDrives((await s.app.store.getJob({ subscriptionId: SUB, resourceGroup: RG, name: 'logsverbose' }))!.id))[0];
    expect(drive.state).toBe(DriveState.CompletedMoreInfo);

    const err = await call(s, 'GET', url('logsverbose', 'LOGDRIVEV', 'error'));
    expect(err.status, err.text).toBe(200);
    expect(err.headers['content-type']).toMatch(/^application\/xml/);
    expect(err.headers['content-disposition']).toMatch(/^attachment; filename=".*error.*"$/i);
    const errLog = await parse(err.text);
    expect(errLog.driveId).toBe('LOGDRIVEV');
    expect(errLog.status).toBe('CompletedWithErrors');
    expect(errLog.rows.map((r) => [r.blobPath, r.status])).toEqual([['logs/b/c.bin', 'FileNotFound']]);

    const verbose = await call(s, 'GET', url('logsverbose', 'logdrivev', 'verbose'), { token: s.tokens.reader });
    expect(verbose.status, verbose.text).toBe(200);
    const vLog = await parse(verbose.text);
    expect(vLog.rows.map((r) => `${r.blobPath} ${r.status}`).sort()).toEqual(['logs/a.txt Completed', 'logs/b/c.bin FileNotFound']);
  });

  it('is a 404 for another subscription, an unknown drive or log kind, and a verbose log that was not asked for', async () => {
    const other = await call(s, 'GET', url('logsverbose', 'LOGDRIVEV', 'error'), { token: s.tokens.otherOwner });
    expect(other.status).toBe(404);
    expect(other.text).not.toContain('<DriveLog');
    // The other subscription asking under its own id does not find the job either.
    expect((await call(s, 'GET', url('logsverbose', 'LOGDRIVEV', 'error', 'sub-b'), { token: s.tokens.otherOwner })).status).toBe(404);
    expect((await call(s, 'GET', url('logsverbose', 'NOSUCHDRIVE', 'error'))).status).toBe(404);
    expect((await call(s, 'GET', url('logsverbose', 'LOGDRIVEV', 'debug'))).status).toBe(404);
    expect((await call(s, 'GET', url('nosuchjob', 'LOGDRIVEV', 'error'))).status).toBe(404);

    const quietErr = await call(s, 'GET', url('logserror', 'LOGDRIVEE', 'error'));
    expect(quietErr.status).toBe(200);
    expect((await parse(quietErr.text)).status).toBe('Completed');
    const quietVerbose = await call(s, 'GET', url('logserror', 'LOGDRIVEE', 'verbose'));
    expect(quietVerbose.status).toBe(404);
  });

  it('needs a token', async () => {
    expect((await call(s, 'GET', url('logsverbose', 'LOGDRIVEV', 'error'), { token: null })).status).toBe(401);
  });
});
