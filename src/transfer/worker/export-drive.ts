/**
 * Export copy: blob store → drive folders. The first drive of a job to be claimed plans the whole job (under a
 * lock on the job row): it enumerates the blobs the export spec selects (blob paths, `/container/prefix`
 * prefixes, or a blob-list blob), assigns them first-fit to the job's drives by capacity, and publishes the blobs
 * that fit nowhere as the job's `incompleteBlobListUri`. Each drive then copies its share, writing each file under
 * a temporary name and renaming it when complete and verified, and finally the drive manifest and the logs.
 *
 * Drive layout: "<container>\<blob name>" (the blob path, as Azure does when it can); metadata and properties files
 * go under "_sneakernet\export\", a name no container can have. Plan and progress are checkpoints: the plan under
 * drive id '*', each blob under "x:<blob path>" of its drive.
 */
import * as fsp from 'node:fs/promises';
import path from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createWriteStream } from 'node:fs';
import { sql, type Kysely } from 'kysely';
import type { BlobBackend, BlobType } from '../../blob/backend.ts';
import { isBlobError } from '../../blob/errors.ts';
import { Actor, DriveState, LogLevel } from '../../domain/states.ts';
import { finishDriveTransfer, startDriveTransfer } from '../../operator/transfer.ts';
import type { DriveRecord, JobRecord } from '../../store/records.ts';
import type { Schema } from '../../store/schema.ts';
import type { DriveLogBlob } from '../drive-log.ts';
import { driveRelativeSegments, resolveWritableInsideDrive, toManifestFilePath } from '../drive-paths.ts';
import { TransferError, type BlobStatusCode } from '../errors.ts';
import { blockIdForIndex } from '../manifest-types.ts';
import { ManifestWriter } from '../manifest-writer.ts';
import { createMd5Tap, md5FileBase16, Md5Tracker, MANIFEST_BLOCK_SIZE } from '../md5.ts';
import { writeMetadataFile, writePropertiesFile } from '../metadata-file.ts';
import { DRIVE_SIDE_FOLDER, MANIFEST_FILE_NAME } from '../prepare.ts';
import { logTimestamp } from '../naming.ts';
import { streamXmlEvents } from '../xml-stream.ts';
import { element } from '../xml-writer.ts';
import { diagnosticsContainer, driveFolderFor, driveStatusOf, isDirectory, Phase, ProgressReporter, writeDriveLogs, type Counts } from './common.ts';
import { putCheckpoint } from './leases.ts';
import type { DriveTask } from './task.ts';

const PLAN_DRIVE = '*';
const PLAN_KEY = 'plan';
const KEY_PREFIX = 'x:';
/** Room kept free on each drive for the manifest and per-blob side files. */
const DRIVE_RESERVE = 1024 * 1024;
const PER_BLOB_OVERHEAD = 8 * 1024;

interface PlannedBlob {
  ord: number;
  container: string;
  name: string;
  size: number;
}
interface ExportedBlob extends PlannedBlob {
  filePath: string;
  blobType: BlobType;
  md5: string;
  chunks: [number, number, string][];
  metadataPath?: { path: string; hash: string };
  propertiesPath?: { path: string; hash: string };
  log: DriveLogBlob;
}

/** One selector of the export spec. */
type Selector = { kind: 'blob'; container: string; name: string } | { kind: 'prefix'; container: string; prefix: string };

function selectorOf(text: string, isPrefix: boolean): Selector {
  const t = text.trim();
  const body = t.replace(/^\/+/, '');
  const i = body.indexOf('/');
  if (isPrefix) {
    // "/container" → the container whole (prefixes naming part of a container name are not supported: the blob
    // interface cannot list containers); "/container/pre" → blobs starting with "pre".
    return i < 0 ? { kind: 'prefix', container: body, prefix: '' } : { kind: 'prefix', container: body.slice(0, i), prefix: body.slice(i + 1) };
  }
  if (i <= 0 || i === body.length - 1) throw new TransferError('BlobListFormatInvalid', `Blob path ${JSON.stringify(t)} does not name a blob ("container/name").`);
  return { kind: 'blob', container: body.slice(0, i), name: body.slice(i + 1) };
}

async function* selectorsOf(spec: Record<string, unknown> | null, backend: BlobBackend): AsyncGenerator<Selector> {
  const list = spec?.blobList as { blobPath?: string[]; blobPathPrefix?: string[] } | undefined;
  const listBlob = spec?.blobListBlobPath as string | undefined;
  if (list) {
    for (const p of list.blobPath ?? []) yield selectorOf(p, false);
    for (const p of list.blobPathPrefix ?? []) yield selectorOf(p, true);
    return;
  }
  if (!listBlob) throw new TransferError('BlobListFormatInvalid', 'The export job names no blobs.');
  const where = selectorOf(listBlob, false);
  let stream;
  try {
    stream = await backend.getStream(where.container, (where as { name: string }).name);
  } catch (err) {
    throw new TransferError('BlobListFormatInvalid', `The blob list ${listBlob} cannot be read: ${(err as Error).message}`, { cause: err });
  }
  const invalid = (m: string, line?: number) => new TransferError('BlobListFormatInvalid', `Blob list ${listBlob}: ${m}`, { line });
  let sawRoot = false;
  for await (const ev of streamXmlEvents(stream, (_n, depth) => depth === 2, invalid)) {
    if (ev.type === 'open' && ev.depth === 1) {
      if (ev.name !== 'BlobList') throw invalid(`root element is <${ev.name}>, not <BlobList>`, ev.line);
      sawRoot = true;
    } else if (ev.type === 'node') {
      const n = ev.node;
      if (n.name === 'BlobPath') yield selectorOf(n.text, false);
      else if (n.name === 'BlobPathPrefix') yield selectorOf(n.text, true);
      else throw invalid(`unexpected <${n.name}>`, n.line);
    }
  }
  if (!sawRoot) throw invalid('no <BlobList>');
}

async function capacityOf(task: DriveTask, driveId: string, folder: string): Promise<number> {
  if (task.options.exportCapacity) return task.options.exportCapacity(driveId, folder);
  const s = await fsp.statfs(folder);
  return s.bavail * s.bsize;
}

/** Plans the job once; returns false when a drive of the job is not attached yet (try later). */
async function ensurePlan(task: DriveTask, job: JobRecord, backend: BlobBackend, drivesRoot: string): Promise<boolean> {
  const db = task.store.db;
  const marker = await db.selectFrom('transfer_checkpoints').select('status').where('job_id', '=', job.id).where('drive_id', '=', PLAN_DRIVE).where('blob_path', '=', PLAN_KEY).executeTakeFirst();
  if (marker) return true;
  const drives = (await task.store.getDrives(job.id)).filter((d) => !d.isExtra && d.state !== DriveState.NeverReceived);
  const space: { driveId: string; free: number }[] = [];
  for (const d of drives) {
    const folder = driveFolderFor(drivesRoot, d.driveId);
    if (!(await isDirectory(folder))) return false;
    space.push({ driveId: d.driveId, free: (await capacityOf(task, d.driveId, folder)) - DRIVE_RESERVE });
  }
  const incomplete: string[] = [];
  await db.transaction().execute(async (tx) => {
    await sql`select id from jobs where id = ${job.id} for update`.execute(tx);
    const again = await tx.selectFrom('transfer_checkpoints').select('status').where('job_id', '=', job.id).where('drive_id', '=', PLAN_DRIVE).where('blob_path', '=', PLAN_KEY).executeTakeFirst();
    if (again) return;
    const now = new Date();
    let ord = 0;
    const seen = new Set<string>();
    const put = async (driveId: string, b: PlannedBlob, status: string) => {
      await tx.insertInto('transfer_checkpoints').values({
        job_id: job.id, drive_id: driveId, blob_path: `${KEY_PREFIX}${b.container}/${b.name}`, status, detail: JSON.stringify(b), updated_at: now,
      }).onConflict((oc) => oc.columns(['job_id', 'drive_id', 'blob_path']).doNothing()).execute();
    };
    const place = async (container: string, name: string, size: number) => {
      const key = `${container}/${name}`;
      if (seen.has(key)) return;
      seen.add(key);
      const b: PlannedBlob = { ord: ord++, container, name, size };
      const d = space.find((s) => s.free >= size + PER_BLOB_OVERHEAD);
      if (d) {
        d.free -= size + PER_BLOB_OVERHEAD;
        await put(d.driveId, b, 'pending');
      } else {
        incomplete.push(key);
        await put(PLAN_DRIVE, b, 'incomplete');
      }
    };
    for await (const s of selectorsOf(job.exportSpec, backend)) {
      if (s.kind === 'blob') {
        const info = await backend.getProperties(s.container, s.name).catch(() => null);
        if (info) await place(s.container, s.name, info.size);
        else { incomplete.push(`${s.container}/${s.name}`); }
      } else {
        try {
          for await (const item of backend.list(s.container, s.prefix)) await place(s.container, item.name, item.size);
        } catch (err) {
          if (!isBlobError(err, 'ContainerNotFound')) throw err;
        }
      }
    }
    await tx.insertInto('transfer_checkpoints').values({
      job_id: job.id, drive_id: PLAN_DRIVE, blob_path: PLAN_KEY, status: 'done', detail: JSON.stringify({ blobs: ord, incomplete: incomplete.length }), updated_at: now,
    }).execute();
  });
  if (incomplete.length > 0) {
    // The documented blob-list format, so the customer can feed it straight into a new export job.
    const container = diagnosticsContainer(job);
    await backend.ensureContainer(container);
    const name = `waies/${job.name}_${logTimestamp(new Date())}_incomplete.xml`;
    const body = `<?xml version="1.0" encoding="UTF-8"?>\n<BlobList>\n${incomplete.map((p) => `  ${element('BlobPath', p)}\n`).join('')}</BlobList>\n`;
    await backend.putStream(container, name, Readable.from([Buffer.from(body)]), { properties: { contentType: 'application/xml' } });
    const uri = backend.urlFor(container, name);
    await task.store.changeJob(job.id, { actor: Actor.System, actorId: task.workerId }, (w) => {
      w.set({ incompleteBlobListUri: uri });
      w.note('exportIncomplete', 'ExportIncomplete', `${incomplete.length} blob(s) did not fit on the drives; see incompleteBlobListUri.`, { count: incomplete.length });
    });
  }
  return true;
}

async function* plannedRows(db: Kysely<Schema>, jobId: number, driveId: string, statuses: string[]): AsyncGenerator<{ key: string; status: string; detail: ExportedBlob }> {
  let after = '';
  for (;;) {
    const rows = await db.selectFrom('transfer_checkpoints').select(['blob_path', 'status', 'detail'])
      .where('job_id', '=', jobId).where('drive_id', '=', driveId).where('blob_path', '>', after).where('blob_path', 'like', `${KEY_PREFIX}%`)
      .where('status', 'in', statuses).orderBy('blob_path').limit(200).execute();
    if (rows.length === 0) return;
    for (const r of rows) yield { key: r.blob_path, status: r.status, detail: (typeof r.detail === 'string' ? JSON.parse(r.detail) : r.detail) as ExportedBlob };
    after = rows[rows.length - 1].blob_path;
  }
}

/** Drive-relative path for a blob: its blob path when NTFS can hold it, else a generated name. */
function filePathFor(b: PlannedBlob): string {
  try {
    const segs = driveRelativeSegments(`${b.container}\\${b.name.replace(/\//g, '\\')}`);
    if (segs.some((s) => /[<>:"|?*]/.test(s) || /[. ]$/.test(s))) throw new Error('not NTFS-safe');
    return toManifestFilePath(segs);
  } catch {
    return toManifestFilePath([DRIVE_SIDE_FOLDER, 'export', 'files', `blob-${b.ord}`]);
  }
}

export async function exportDrive(task: DriveTask, job: JobRecord, drive: DriveRecord, backend: BlobBackend, folder: string): Promise<void> {
  const { store, claim, workerId } = task;
  const db = store.db;
  const drivesRoot = path.dirname(folder);
  if (!(await ensurePlan(task, job, backend, drivesRoot))) {
    await store.changeJob(job.id, { actor: Actor.System, actorId: workerId }, (w) => w.updateDrive(drive.driveId, { phase: Phase.WaitingForDrive }));
    return;
  }
  await startDriveTransfer(store, { jobId: job.id, driveId: drive.driveId, workerId });
  const counts: Counts = { bytesTotal: 0, bytesSucceeded: 0, objectsTotal: 0, objectsSucceeded: 0, objectsFailed: 0, objectsSkipped: 0 };
  for await (const r of plannedRows(db, job.id, drive.driveId, ['pending', 'done', 'failed'])) {
    counts.objectsTotal++;
    counts.bytesTotal += r.detail.size;
    if (r.status === 'done') { counts.objectsSucceeded++; counts.bytesSucceeded += r.detail.size; }
    if (r.status === 'failed') counts.objectsFailed++;
  }
  const progress = new ProgressReporter(store, job.id, drive.driveId, workerId, counts, 'export', task.options.progressIntervalMs);
  await progress.setPhase(Phase.Copying);

  for await (const r of plannedRows(db, job.id, drive.driveId, ['pending'])) {
    if (task.signal.aborted) return;
    const b = r.detail;
    const filePath = filePathFor(b);
    const log: DriveLogBlob = { status: 'Completed', blobPath: `${b.container}/${b.name}`, filePath, length: b.size };
    let status: BlobStatusCode = 'Completed';
    let out: ExportedBlob | undefined;
    try {
      out = await exportOne(backend, folder, b, filePath, log, (n) => { counts.bytesSucceeded += n; progress.moved(n); });
    } catch (err) {
      status = err instanceof TransferError ? (err.code as BlobStatusCode) : isBlobError(err, 'BlobNotFound') ? 'BlobUnexpectedChange' : isBlobError(err) ? 'BlobRequestFailed' : 'IOFailed';
      if (!(err instanceof TransferError) && !isBlobError(err) && !(err as NodeJS.ErrnoException)?.code) throw err;
    }
    if (out) {
      counts.objectsSucceeded++;
      if (!(await putCheckpoint(db, claim, workerId, r.key, 'done', out))) throw new Error('lease lost');
    } else {
      log.status = status;
      log.blocks = [];
      counts.objectsFailed++;
      if (!(await putCheckpoint(db, claim, workerId, r.key, 'failed', { ...b, log }))) throw new Error('lease lost');
    }
    await progress.tick();
    if (task.options.blobDelayMs) await new Promise((res) => setTimeout(res, task.options.blobDelayMs));
  }

  // The manifest, streamed from the checkpoints in blob-path order (bounded memory).
  await progress.setPhase(Phase.WritingLogs);
  const manifestPath = path.join(folder, MANIFEST_FILE_NAME);
  const writer = await ManifestWriter.open(manifestPath, { driveId: drive.driveId, clientCreator: 'sneakernet' });
  try {
    await writer.startBlobList();
    for await (const r of plannedRows(db, job.id, drive.driveId, ['done'])) {
      const x = r.detail;
      const chunks = x.chunks.map(([offset, length, hash], i) => (x.blobType === 'PageBlob' ? { offset, length, hash } : { offset, length, id: blockIdForIndex(i), hash }));
      await writer.writeBlob({
        blobPath: `${x.container}/${x.name}`, filePath: x.filePath, length: x.size,
        ...(x.blobType === 'PageBlob' ? { pageRanges: chunks } : { blocks: chunks }),
        ...(x.metadataPath ? { metadataPath: x.metadataPath } : {}),
        ...(x.propertiesPath ? { propertiesPath: x.propertiesPath } : {}),
      });
    }
    await writer.close();
  } catch (err) {
    await writer.abort().catch(() => {});
    throw err;
  }
  const errors = counts.objectsFailed;
  const status = driveStatusOf(errors, 0);
  const logs = await writeDriveLogs(backend, job, drive.driveId, status, job.logLevel === LogLevel.Verbose, async function* () {
    for await (const r of plannedRows(db, job.id, drive.driveId, ['done', 'failed'])) yield r.detail.log;
  }, new Date());
  await putCheckpoint(db, claim, workerId, 'log:error', 'done', logs.errorLog);
  if (logs.verboseLog) await putCheckpoint(db, claim, workerId, 'log:verbose', 'done', logs.verboseLog);
  await finishDriveTransfer(store, {
    jobId: job.id, driveId: drive.driveId, workerId,
    outcome: {
      errors, copyStatus: status, bytesSucceeded: counts.bytesSucceeded, objectsSucceeded: counts.objectsSucceeded, objectsFailed: counts.objectsFailed,
      errorLogUri: logs.errorLog.uri, verboseLogUri: logs.verboseLog?.uri ?? null,
    },
  });
}

async function exportOne(backend: BlobBackend, folder: string, b: PlannedBlob, filePath: string, log: DriveLogBlob, moved: (n: number) => void): Promise<ExportedBlob> {
  const info = await backend.getProperties(b.container, b.name);
  if (!info || info.size !== b.size) throw new TransferError('BlobUnexpectedChange', `Blob ${b.container}/${b.name} changed since the export was planned.`);
  const dest = await resolveWritableInsideDrive(folder, filePath);
  const tmp = `${dest}.sneakernet-partial`;
  const tracker = new Md5Tracker(MANIFEST_BLOCK_SIZE);
  try {
    const src = await backend.getStream(b.container, b.name);
    const counter = new Transform({ transform(c: Buffer, _e, cb) { moved(c.length); cb(null, c); } });
    await pipeline(src, createMd5Tap(tracker), counter, createWriteStream(tmp));
    const fh = await fsp.open(tmp, 'r+');
    try { await fh.sync(); } finally { await fh.close(); }
    const h = tracker.finish();
    if (h.size !== info.size || (info.md5 !== undefined && info.md5 !== h.md5Base64)) {
      throw new TransferError('BlobUnexpectedChange', `Blob ${b.container}/${b.name} did not read back as stored (size or MD5 differs).`);
    }
    await fsp.rename(tmp, dest);
    const out: ExportedBlob = {
      ...b, filePath, blobType: info.blobType, md5: h.md5Base16, chunks: h.blocks.map((x) => [x.offset, x.length, x.md5]), log,
    };
    const side = async (kind: 'metadata' | 'properties') => {
      const rel = toManifestFilePath([DRIVE_SIDE_FOLDER, 'export', `blob-${b.ord}.${kind}.xml`]);
      const p = await resolveWritableInsideDrive(folder, rel);
      if (kind === 'metadata') await writeMetadataFile(p, info.metadata);
      else {
        await writePropertiesFile(p, {
          ...info.properties, lastModified: info.lastModified.toUTCString(), contentLength: info.size, contentMd5: info.md5 ?? h.md5Base64,
        });
      }
      return { path: rel, hash: await md5FileBase16(p) };
    };
    if (Object.keys(info.metadata).length > 0) out.metadataPath = await side('metadata');
    out.propertiesPath = await side('properties');
    log.blocks = h.blocks.map((x, i) => ({ offset: x.offset, length: x.length, id: blockIdForIndex(i), hash: x.md5, status: 'Completed' }));
    if (out.metadataPath) log.metadata = { status: 'Completed', path: out.metadataPath };
    log.properties = { status: 'Completed', path: out.propertiesPath };
    return out;
  } catch (err) {
    await fsp.rm(tmp, { force: true });
    throw err;
  }
}
