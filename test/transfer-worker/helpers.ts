/** Builders for data-plane tests: a prepared drive, an import job whose drive was received, a worker. */
import * as fsp from 'node:fs/promises';
import path from 'node:path';
import crypto from 'node:crypto';
import { Actor, DriveState, JobState, JobType, LogLevel } from '../../src/domain/states.ts';
import { DriveEvent, JobEvent } from '../../src/domain/transitions.ts';
import type { Store } from '../../src/store/store.ts';
import { prepareDrive, type PrepareDriveResult } from '../../src/transfer/prepare.ts';
import { StorageAccounts } from '../../src/storage-accounts/registry.ts';
import { TransferWorker, type WorkerOptions } from '../../src/transfer/worker/runner.ts';
import { shippingFields } from '../helpers/jobs.ts';

export const ACCOUNT_ID = '/subscriptions/sub-1/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/acct';
let n = 0;

/** Writes files under `dir`: name → content. */
export async function writeTree(dir: string, files: Record<string, string | Buffer>): Promise<void> {
  for (const [rel, content] of Object.entries(files)) {
    const p = path.join(dir, rel);
    await fsp.mkdir(path.dirname(p), { recursive: true });
    await fsp.writeFile(p, content);
  }
}

export function randomBytes(size: number, seed = 0): Buffer {
  const out = Buffer.alloc(size);
  let s = crypto.createHash('sha256').update(String(seed)).digest();
  for (let off = 0; off < size; off += s.length) {
    s.copy(out, off);
    s = crypto.createHash('sha256').update(s).digest();
  }
  return out;
}

/** Prepares a drive folder `<drivesRoot>/<driveId>` from a dataset CSV text. */
export async function prepare(root: string, driveId: string, csvLines: string[], opts: { blockSize?: number } = {}): Promise<PrepareDriveResult> {
  const csv = path.join(root, `dataset-${driveId}-${++n}.csv`);
  await fsp.writeFile(csv, ['BasePath,DstBlobPathOrPrefix,BlobType,Disposition,MetadataFile,PropertiesFile', ...csvLines].join('\n'));
  return prepareDrive({
    datasetCsv: csv, driveFolder: path.join(root, 'drives', driveId), driveId,
    journalFile: path.join(root, 'journals', `${driveId}-${n}.jrn`), blockSize: opts.blockSize,
  });
}

export interface DriveSpec {
  driveId: string;
  manifestHash?: string;
  manifestFile?: string;
}

/** An import job listing the drives, shipped, every drive received: ready to copy. */
export async function receivedImportJob(store: Store, drives: DriveSpec[], opts: { logLevel?: LogLevel; storageAccountId?: string | null; name?: string; backupDriveManifest?: boolean; subscriptionId?: string; resourceGroup?: string } = {}) {
  const { job } = await store.createJob({
    key: { subscriptionId: opts.subscriptionId ?? 'sub-1', resourceGroup: opts.resourceGroup ?? 'rg', name: opts.name ?? `imp${Date.now() % 100000}${++n}` },
    location: 'West US',
    jobType: JobType.Import,
    initial: { state: JobState.Creating, reason: { code: 'JobCreated', message: 'created' } },
    fields: {
      storageAccountId: opts.storageAccountId === undefined ? ACCOUNT_ID : opts.storageAccountId,
      logLevel: opts.logLevel ?? LogLevel.Error,
      backupDriveManifest: opts.backupDriveManifest ?? false,
    },
    drives: drives.map((d) => ({
      driveId: d.driveId, state: DriveState.Specified, stateReason: { code: 'DriveSpecified', message: 'listed' },
      bitLockerKey: '111111-111111-111111-111111-111111-111111-111111-111111',
      manifestFile: d.manifestFile ?? '\\DriveManifest.xml', manifestHash: d.manifestHash ?? null,
    })),
  });
  return receive(store, job.id, drives.map((d) => d.driveId));
}

export async function receive(store: Store, jobId: number, driveIds: string[]) {
  await store.changeJob(jobId, { actor: Actor.Customer }, (w) => {
    w.set(shippingFields);
    w.applyJobEvent(JobEvent.ProvideShippingInfo);
  });
  const r = await store.changeJob(jobId, { actor: Actor.Operator }, (w) => {
    for (const d of driveIds) w.applyDriveEvent(d, DriveEvent.Receive);
    w.followDrives();
  });
  if (r.job.state !== JobState.Received) throw new Error(`job is ${r.job.state}, not Received`);
  return r.job;
}

export async function registerLocal(store: Store, dir: string, accountId = ACCOUNT_ID) {
  await new StorageAccounts(store).add({ accountId, backend: 'local', rootDir: dir });
}

export function worker(store: Store, root: string, opts: WorkerOptions = {}) {
  return new TransferWorker(store, root, {
    drivesRoot: path.join(root, 'drives'), leaseMs: 5000, progressIntervalMs: 50, notAttachedRetryMs: 50,
    onError: (e) => { throw e; }, ...opts,
  });
}

export async function md5(p: string | Buffer): Promise<string> {
  const buf = typeof p === 'string' ? await fsp.readFile(p) : p;
  return crypto.createHash('md5').update(buf).digest('hex');
}

export async function streamToBuffer(s: AsyncIterable<unknown>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of s) parts.push(Buffer.from(c as Buffer));
  return Buffer.concat(parts);
}

import { ManifestWriter } from '../../src/transfer/manifest-writer.ts';
import { hashFile } from '../../src/transfer/md5.ts';
import { blockIdForIndex, type ImportDisposition } from '../../src/transfer/manifest-types.ts';
import { hashManifest } from '../../src/transfer/prepare.ts';

export interface CraftEntry {
  blobPath: string;
  /** Manifest FilePath ("\dir\file"); the file content goes to the same place unless `content` is undefined. */
  filePath: string;
  content?: Buffer;
  /** Describe this content in the manifest instead of the file's (to make the file lie). */
  describe?: Buffer;
  disposition?: ImportDisposition;
  page?: boolean;
  metadataPath?: { path: string; hash: string };
  propertiesPath?: { path: string; hash: string };
}

/** A drive folder with a hand-written manifest (for inputs prepare-drive would never produce). */
export async function craftDrive(drivesRoot: string, driveId: string, entries: CraftEntry[], blockSize = 1024 * 1024): Promise<{ folder: string; manifestHash: string }> {
  const folder = path.join(drivesRoot, driveId);
  await fsp.mkdir(folder, { recursive: true });
  const w = await ManifestWriter.open(path.join(folder, 'DriveManifest.xml'), { driveId, storageAccountKey: 'k' });
  for (const e of entries) {
    const rel = e.filePath.replace(/^\\/, '').split('\\');
    if (e.content) await writeTree(folder, { [rel.join('/')]: e.content });
    const described = e.describe ?? e.content ?? Buffer.alloc(0);
    const tmpFile = path.join(drivesRoot, `.describe-${crypto.randomBytes(4).toString('hex')}`);
    await fsp.writeFile(tmpFile, described);
    const h = await hashFile(tmpFile, { blockSize });
    await fsp.rm(tmpFile);
    const chunks = h.blocks.map((b, i) => (e.page ? { offset: b.offset, length: b.length, hash: b.md5 } : { offset: b.offset, length: b.length, id: blockIdForIndex(i), hash: b.md5 }));
    await w.writeBlob({
      blobPath: e.blobPath, filePath: e.filePath, length: h.size, importDisposition: e.disposition ?? 'rename',
      ...(e.page ? { pageRanges: chunks } : { blocks: chunks }),
      ...(e.metadataPath ? { metadataPath: e.metadataPath } : {}), ...(e.propertiesPath ? { propertiesPath: e.propertiesPath } : {}),
    });
  }
  await w.close();
  return { folder, manifestHash: (await hashManifest(path.join(folder, 'DriveManifest.xml'))).manifestHash };
}
