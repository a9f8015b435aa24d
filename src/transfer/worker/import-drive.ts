/**
 * Import copy of one drive: drive folder → blob store. Three streaming passes over the manifest (bounded memory
 * whatever its size): verify (hash, drive id, format, totals), copy (per disposition, with metadata/properties,
 * MD5 per block and per blob), then the logs. Every blob's outcome is checkpointed under `#<manifest index>`, so
 * a worker that resumes a drive skips finished blobs and redoes any blob that was in flight (nothing is
 * committed until a blob is complete and verified, so a partial one is never trusted).
 */
import { createReadStream } from 'node:fs';
import * as fsp from 'node:fs/promises';
import { sql } from 'kysely';
import type { BlobBackend, BlobHttpProperties } from '../../blob/backend.ts';
import { isBlobError } from '../../blob/errors.ts';
import { assertContainerName } from '../../blob/names.ts';
import { LogLevel } from '../../domain/states.ts';
import { finishDriveTransfer, startDriveTransfer } from '../../operator/transfer.ts';
import type { DriveRecord, JobRecord } from '../../store/records.ts';
import type { DriveLogBlob, DriveLogChunk, DriveLogFileStatus } from '../drive-log.ts';
import { resolveInsideDrive } from '../drive-paths.ts';
import { isTransferError, TransferError, type BlobStatusCode, type DriveStatusCode, type ImportDispositionStatus, type MetadataStatusCode } from '../errors.ts';
import { readManifestEntries, type ManifestBlobEntry } from '../manifest-reader.ts';
import type { ManifestFileRef } from '../manifest-types.ts';
import { readMetadataFile, readPropertiesFile } from '../metadata-file.ts';
import { diagnosticsBlobName, renamedBlobName } from '../naming.ts';
import { MANIFEST_FILE_NAME } from '../prepare.ts';
import { diagnosticsContainer, driveStatusOf, Phase, ProgressReporter, writeDriveLogs, type Counts } from './common.ts';
import { CheckpointBatcher, LeaseLost } from './checkpoints.ts';
import { getCheckpoints, putCheckpoint, type CheckpointRow } from './leases.ts';
import type { DriveTask } from './task.ts';
import { ChunkVerifier } from './verify.ts';
import { eachLimit } from '../../each-limit.ts';

/** A checkpoint of one manifest entry. */
interface EntryDone {
  bytes: number;
  warn: boolean;
  overwrite: boolean;
  log: DriveLogBlob;
}
interface EntryWriting {
  target: string;
  disposition: ImportDispositionStatus;
}
const EntryStatus = { Writing: 'writing', Ok: 'ok', Failed: 'failed', Skipped: 'skipped' } as const;

const entryKey = (i: number) => `#${i}`;
const LOG_KEYS = { error: 'log:error', verbose: 'log:verbose' } as const;
export const IMPORT_LOG_KEYS = LOG_KEYS;

/** Files up to this size are read in one call and put as one buffer (one write, no stream machinery). */
const SMALL_FILE_BYTES = 2 * 1024 * 1024;
/** Checkpoints looked up per query while walking the manifest. */
const LOOKUP_WINDOW = 256;

/** Reads a whole small file, up to `length + 1` bytes (one more shows a file longer than the manifest says). */
async function readSmall(file: string, length: number): Promise<Buffer> {
  const fh = await fsp.open(file, 'r');
  try {
    const buf = Buffer.allocUnsafe(length + 1);
    let have = 0;
    for (;;) {
      const { bytesRead } = await fh.read(buf, have, buf.length - have, have);
      if (bytesRead === 0) break;
      have += bytesRead;
      if (have === buf.length) break;
    }
    return buf.subarray(0, have);
  } finally {
    await fh.close();
  }
}

/** Manifest entries with their index and checkpoint, a window at a time (one checkpoint query per window). */
async function* windowsWithCheckpoints<D>(
  entries: AsyncIterable<ManifestBlobEntry>, lookup: (keys: string[]) => Promise<Map<string, CheckpointRow<D>>>,
): AsyncGenerator<{ e: ManifestBlobEntry; index: number; prev: CheckpointRow<D> | null }[]> {
  let window: { e: ManifestBlobEntry; index: number }[] = [];
  let index = 0;
  const drain = async () => {
    const rows = await lookup(window.map((w) => entryKey(w.index)));
    const out = window.map((w) => ({ ...w, prev: rows.get(entryKey(w.index)) ?? null }));
    window = [];
    return out;
  };
  for await (const e of entries) {
    window.push({ e, index: index++ });
    if (window.length >= LOOKUP_WINDOW) yield await drain();
  }
  if (window.length > 0) yield await drain();
}

/** Where a blob goes and why: decided once, before anything is written, and kept in its "writing" intent. */
interface TargetPlan {
  target: string;
  dStatus: ImportDispositionStatus;
}

/** Splits "container/name" (the manifest's BlobPath); the name may be empty only for an invalid path. */
function splitBlobPath(blobPath: string): { container: string; name: string } {
  const p = blobPath.replace(/^\/+/, '');
  const i = p.indexOf('/');
  return i < 0 ? { container: p, name: '' } : { container: p.slice(0, i), name: p.slice(i + 1) };
}

function httpProperties(p: Awaited<ReturnType<typeof readPropertiesFile>>): BlobHttpProperties {
  const out: BlobHttpProperties = {};
  if (p.contentType) out.contentType = p.contentType;
  if (p.contentEncoding) out.contentEncoding = p.contentEncoding;
  if (p.contentLanguage) out.contentLanguage = p.contentLanguage;
  if (p.cacheControl) out.cacheControl = p.cacheControl;
  if (p.contentDisposition) out.contentDisposition = p.contentDisposition;
  return out;
}

function blobStatusFor(err: unknown): BlobStatusCode {
  if (isTransferError(err)) {
    const c = err.code;
    if (c === 'FileNameInvalid' || c === 'FileNameTooLong' || c === 'FileNotFound' || c === 'FileAccessDenied' || c === 'IOFailed') return c;
    return 'Failed';
  }
  if (isBlobError(err)) return 'BlobRequestFailed';
  const code = (err as NodeJS.ErrnoException)?.code;
  if (code === 'ENOENT') return 'FileNotFound';
  if (code === 'EACCES' || code === 'EPERM') return 'FileAccessDenied';
  if (code === 'EIO') return 'IOFailed';
  return 'Failed';
}

function metadataStatusFor(err: unknown): MetadataStatusCode {
  if (isTransferError(err)) {
    const c = err.code as string;
    if (['FileNameInvalid', 'FileNameTooLong', 'FileNotFound', 'FileAccessDenied', 'Corrupted', 'XmlReadFailed', 'IOFailed'].includes(c)) return c as MetadataStatusCode;
  }
  return 'Failed';
}

/** Maps a failure to reach/read the manifest to the documented drive status codes. */
function driveStatusFor(err: unknown): DriveStatusCode {
  if (isTransferError(err)) {
    switch (err.code) {
      case 'FileNotFound': return 'ManifestNotFound';
      case 'FileAccessDenied': return 'ManifestAccessDenied';
      case 'FileNameInvalid': return 'ManifestNameInvalid';
      case 'FileNameTooLong': return 'ManifestNameTooLong';
      case 'IOFailed': return 'ReadManifestFailed';
      case 'ManifestNotFound': case 'ManifestAccessDenied': case 'ManifestNameTooLong': case 'ManifestCorrupted':
      case 'ManifestFormatInvalid': case 'ManifestDriveIdMismatch': case 'ReadManifestFailed':
        return err.code;
      default: return 'InternalError';
    }
  }
  return 'InternalError';
}

/** Run with a lock per key (the blob path): two manifest entries aimed at one blob never race their dispositions. */
class KeyedLock {
  private readonly tails = new Map<string, Promise<void>>();
  async run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.tails.get(key) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((r) => (release = r));
    const tail = prev.then(() => mine);
    this.tails.set(key, tail);
    await prev;
    try {
      return await fn();
    } finally {
      release();
      if (this.tails.get(key) === tail) this.tails.delete(key);
    }
  }
}

export async function importDrive(t: DriveTask, job: JobRecord, drive: DriveRecord, backend: BlobBackend, folder: string): Promise<void> {
  const { store, claim, workerId } = t;
  const db = store.db;
  await startDriveTransfer(store, { jobId: job.id, driveId: drive.driveId, workerId });
  const counts: Counts = { bytesTotal: 0, bytesSucceeded: 0, objectsTotal: 0, objectsSucceeded: 0, objectsFailed: 0, objectsSkipped: 0 };
  const progress = new ProgressReporter(store, job.id, drive.driveId, workerId, counts, 'import', t.options.progressIntervalMs);
  const verbose = job.logLevel === LogLevel.Verbose;

  const failDrive = async (status: DriveStatusCode) => {
    await progress.setPhase(Phase.WritingLogs);
    const logs = await writeDriveLogs(backend, job, drive.driveId, status, verbose, async function* () {}, new Date());
    await finishDriveTransfer(store, {
      jobId: job.id, driveId: drive.driveId, workerId,
      outcome: { errors: 1, copyStatus: status, errorLogUri: logs.errorLog.uri, verboseLogUri: logs.verboseLog?.uri ?? null, ...counts },
    });
    await putCheckpoint(db, claim, workerId, LOG_KEYS.error, 'done', logs.errorLog);
    if (logs.verboseLog) await putCheckpoint(db, claim, workerId, LOG_KEYS.verbose, 'done', logs.verboseLog);
  };

  // ---- pass 1: verify the manifest -------------------------------------------------------------
  await progress.setPhase(Phase.VerifyingManifest);
  let manifestPath: string;
  try {
    manifestPath = await resolveInsideDrive(folder, drive.manifestFile ?? `\\${MANIFEST_FILE_NAME}`);
    for await (const e of readManifestEntries(manifestPath, {
      expectedHash: drive.manifestHash ?? undefined, expectedDriveId: drive.driveId,
    })) {
      counts.objectsTotal++;
      counts.bytesTotal += e.length;
    }
    const fs = await fsp.statfs(folder);
    const capacity = fs.blocks * fs.bsize;
    if (counts.bytesTotal > capacity) {
      throw new TransferError('ManifestFormatInvalid', `The manifest lists ${counts.bytesTotal} bytes, more than the drive holds (${capacity}).`);
    }
  } catch (err) {
    if (!isTransferError(err)) throw err;
    counts.bytesTotal = 0;
    counts.objectsTotal = 0;
    await failDrive(driveStatusFor(err));
    return;
  }

  // Manifest backup (BackupDriveManifest), once per drive.
  let manifestUri: string | null = drive.manifestUri;
  if (job.backupDriveManifest && !manifestUri) {
    const container = diagnosticsContainer(job);
    await backend.ensureContainer(container);
    const name = diagnosticsBlobName(job.name, drive.driveId, new Date(), 'manifest');
    await backend.putStream(container, name, createReadStream(manifestPath), { properties: { contentType: 'application/xml' } });
    manifestUri = backend.urlFor(container, name);
  }

  // Counters from what a previous worker finished.
  const agg = await sql<{ status: string; n: string | number; bytes: string | number | null }>`
    select status, count(*) as n, sum((detail->>'bytes')::bigint) as bytes from transfer_checkpoints
    where job_id = ${job.id} and drive_id = ${drive.driveId} and blob_path like '#%' group by status`.execute(db);
  for (const r of agg.rows) {
    const n = Number(r.n);
    if (r.status === EntryStatus.Ok) { counts.objectsSucceeded += n; counts.bytesSucceeded += Number(r.bytes ?? 0); }
    else if (r.status === EntryStatus.Failed) counts.objectsFailed += n;
    else if (r.status === EntryStatus.Skipped) { counts.objectsSkipped += n; counts.bytesSucceeded += Number(r.bytes ?? 0); }
  }

  // ---- pass 2: copy ------------------------------------------------------------------------------
  await progress.setPhase(Phase.Copying);
  const ensured = new Set<string>();
  const locks = new KeyedLock();
  const realRoot = await fsp.realpath(folder);
  // Intents ("writing": the target name) are committed before the blob appears under it; outcomes in batches,
  // after the blob store's sync, so one round trip and one sync serve many blobs.
  const batcher = new CheckpointBatcher(db, claim, workerId, { beforeDurable: backend.sync ? () => backend.sync!() : undefined });
  const record = (key: string, status: string, detail: unknown) =>
    status === EntryStatus.Writing ? batcher.putNow(key, status, detail) : batcher.putLater(key, status, detail);

  const decideTarget = async (container: string, name: string, disposition: NonNullable<ManifestBlobEntry['importDisposition']>): Promise<TargetPlan> => {
    const exists = await backend.exists(container, name);
    let target = name;
    const dStatus: ImportDispositionStatus = exists ? (disposition === 'overwrite' ? 'Overwritten' : disposition === 'no-overwrite' ? 'Skipped' : 'Renamed') : 'Created';
    if (dStatus === 'Renamed') {
      let n = 2;
      while (await backend.exists(container, renamedBlobName(name, n))) n++;
      target = renamedBlobName(name, n);
    }
    return { target, dStatus };
  };

  // Blob names ("container/name") that entries in flight write or may write: a window plan never decides for
  // them ahead (their outcome is not known yet); such an entry decides under its lock, as it runs.
  const busy = new Map<string, number>();
  const hold = (k: string) => busy.set(k, (busy.get(k) ?? 0) + 1);
  const release = (k: string) => {
    const n = (busy.get(k) ?? 1) - 1;
    if (n === 0) busy.delete(k);
    else busy.set(k, n);
  };

  /**
   * Decides the targets of a window's fresh entries up front and commits all their intents in one statement (one
   * round trip instead of one per blob); entries that share a name with another in the window or in flight, or
   * whose path is invalid, are left to decide as they run.
   */
  const planWindow = async (window: { e: ManifestBlobEntry; prev: CheckpointRow<EntryWriting> | null; index: number }[]): Promise<Map<number, TargetPlan>> => {
    const plans = new Map<number, TargetPlan>();
    const seen = new Set<string>();
    const fresh: { index: number; container: string; name: string; disposition: NonNullable<ManifestBlobEntry['importDisposition']> }[] = [];
    for (const { e, prev, index } of window) {
      const { container, name } = splitBlobPath(e.blobPath);
      const k = `${container}/${name}`;
      const taken = seen.has(k) || busy.has(k);
      seen.add(k);
      if (prev?.status === EntryStatus.Writing) seen.add(`${container}/${prev.detail.target}`);
      if (prev || taken || e.pathError || name === '') continue;
      try { assertContainerName(container); } catch { continue; }
      fresh.push({ index, container, name, disposition: e.importDisposition ?? 'rename' });
    }
    const found = new Map<number, TargetPlan | null>();
    await eachLimit(fresh, 8, async (f) => {
      // A name the store refuses (or any failure) is left to the entry itself, which logs it.
      found.set(f.index, await decideTarget(f.container, f.name, f.disposition).catch(() => null));
    });
    const intents: { key: string; status: string; detail: EntryWriting }[] = [];
    for (const f of fresh) {
      const plan = found.get(f.index);
      if (!plan) continue;
      const k = `${f.container}/${plan.target}`;
      if (plan.target !== f.name && (seen.has(k) || busy.has(k))) continue; // a renamed target another entry may write
      seen.add(k);
      plans.set(f.index, plan);
      if (plan.dStatus !== 'Skipped') intents.push({ key: entryKey(f.index), status: EntryStatus.Writing, detail: { target: plan.target, disposition: plan.dStatus } });
    }
    await batcher.putManyNow(intents);
    return plans;
  };

  const copyEntry = async (e: ManifestBlobEntry, index: number, prev: CheckpointRow<EntryDone & EntryWriting> | null, planned?: TargetPlan): Promise<void> => {
    const key = entryKey(index);
    if (prev && prev.status !== EntryStatus.Writing) return; // finished by an earlier run
    const chunks = e.pageRanges ?? e.blocks ?? [];
    const chunkLog = (statuses?: DriveLogChunk['status'][]): DriveLogChunk[] =>
      chunks.map((c, i) => ({ offset: c.offset, length: c.length, ...(c.id ? { id: c.id } : {}), hash: c.hash, status: statuses?.[i] ?? 'Cancelled' }));
    const disposition = e.importDisposition ?? 'rename';
    const log: DriveLogBlob = {
      status: 'Completed', blobPath: e.blobPath, filePath: e.filePath, length: e.length,
      importDisposition: { value: disposition, status: 'Cancelled' },
    };
    const setChunks = (statuses?: DriveLogChunk['status'][]) => {
      if (e.pageRanges) log.pageRanges = chunkLog(statuses);
      else if (e.blocks) log.blocks = chunkLog(statuses);
    };
    setChunks();
    const fail = async (status: BlobStatusCode) => {
      log.status = status;
      counts.objectsFailed++;
      await record(key, EntryStatus.Failed, { bytes: 0, warn: false, overwrite: false, log } satisfies EntryDone);
    };

    // Paths on the drive: refused paths are logged and never read.
    if (e.pathError) return fail(e.pathError.code as BlobStatusCode);
    let filePath: string;
    try {
      filePath = await resolveInsideDrive(folder, e.filePath, { realRoot });
    } catch (err) {
      return fail(blobStatusFor(err));
    }
    const { container, name } = splitBlobPath(e.blobPath);

    // Metadata and properties files (the blob's own, else its BlobList's).
    let metadata: Record<string, string> | undefined;
    let properties: BlobHttpProperties | undefined;
    const side = async (ref: ManifestFileRef | undefined, own: boolean, kind: 'metadata' | 'properties'): Promise<boolean> => {
      if (!ref) return true;
      const where = own ? { path: { path: ref.path, hash: ref.hash } } : { globalPath: { path: ref.path, hash: ref.hash } };
      const status = (s: MetadataStatusCode): DriveLogFileStatus => ({ status: s, ...where });
      try {
        const real = await resolveInsideDrive(folder, ref.path, { realRoot });
        if (kind === 'metadata') metadata = await readMetadataFile(real, { expectedHash: ref.hash });
        else properties = httpProperties(await readPropertiesFile(real, { expectedHash: ref.hash }));
        log[kind] = status('Completed');
        return true;
      } catch (err) {
        log[kind] = status(metadataStatusFor(err));
        return false;
      }
    };
    const metaOk = await side(e.effectiveMetadataPath, !!e.metadataPath, 'metadata');
    const propsOk = await side(e.effectivePropertiesPath, !!e.propertiesPath, 'properties');
    if (!metaOk || !propsOk) return fail('CompletedWithErrors');

    let holding: string | null = null;
    try {
      await locks.run(e.blobPath, async () => {
        try {
          assertContainerName(container);
          if (name === '') throw new TransferError('FileNameInvalid', `Blob path ${JSON.stringify(e.blobPath)} names no blob`);
          if (!ensured.has(container)) {
            await backend.ensureContainer(container);
            ensured.add(container);
          }
          // Decide the target once and remember it: a resumed copy writes to the same name with the same outcome.
          let target: string;
          let dStatus: ImportDispositionStatus;
          if (prev?.status === EntryStatus.Writing) {
            target = prev.detail.target;
            dStatus = prev.detail.disposition;
          } else if (planned) {
            ({ target, dStatus } = planned); // its intent was committed with its window's
          } else {
            ({ target, dStatus } = await decideTarget(container, name, disposition));
            if (dStatus !== 'Skipped') await record(key, EntryStatus.Writing, { target, disposition: dStatus } satisfies EntryWriting);
          }
          if (target !== name) {
            hold(`${container}/${target}`);
            holding = `${container}/${target}`;
          }
          log.importDisposition = { value: disposition, status: dStatus };
          log.blobPath = `${container}/${target}`;
          if (dStatus === 'Skipped') {
            setChunks(chunks.map(() => 'Completed'));
            counts.objectsSkipped++;
            await record(key, EntryStatus.Skipped, { bytes: 0, warn: true, overwrite: false, log } satisfies EntryDone);
            return;
          }
          // Every chunk's MD5 is checked against the manifest as the bytes go by; the whole content's MD5 is hashed
          // once, by the verifier (one chunk, or chunks that do not cover the file) or else by the blob store.
          const verifier = new ChunkVerifier(chunks, e.length, { wholeMd5: false });
          const blobType = e.pageRanges ? 'PageBlob' : 'BlockBlob';
          let result: ReturnType<ChunkVerifier['finish']> | undefined;
          let moved = 0;
          let put: Awaited<ReturnType<BlobBackend['putStream']>>;
          if (e.length <= SMALL_FILE_BYTES) {
            // Small file: one read, verify, one put of the verified buffer.
            let buf: Buffer;
            try {
              buf = await readSmall(filePath, e.length);
            } catch (err) {
              if ((err as NodeJS.ErrnoException)?.code) return fail(blobStatusFor(err));
              throw err;
            }
            verifier.update(buf);
            result = verifier.finish();
            setChunks(result.statuses);
            if (!result.ok) return fail('CompletedWithErrors');
            try {
              put = await backend.putStream(container, target, [buf], {
                blobType, metadata, properties, deferSync: true,
                ...(result.md5Base64 !== undefined ? { contentMd5: result.md5Base64, contentMd5Verified: true } : {}),
              });
            } catch (err) {
              if (isBlobError(err) || isTransferError(err) || (err as NodeJS.ErrnoException)?.code) return fail(blobStatusFor(err));
              throw err;
            }
            moved = buf.length;
            progress.moved(moved);
          } else {
            const source = createReadStream(filePath, { highWaterMark: 1024 * 1024 });
            const tap = verifier.tap((r) => (result = r), (n) => {
              moved += n;
              progress.moved(n);
            });
            source.on('error', (err) => tap.destroy(err));
            try {
              put = await backend.putStream(container, target, source.pipe(tap), { blobType, metadata, properties, deferSync: true });
            } catch (err) {
              source.destroy();
              if (result && !result.ok) {
                setChunks(result.statuses);
                return fail('CompletedWithErrors');
              }
              if (isBlobError(err) || isTransferError(err) || (err as NodeJS.ErrnoException)?.code) return fail(blobStatusFor(err));
              throw err;
            }
          }
          // Per blob: what the store took in must be what we read and verified (size, and MD5 where both know it).
          setChunks(result!.statuses);
          if (!result!.ok || put.size !== result!.size || (result!.md5Base64 !== undefined && put.md5 !== result!.md5Base64)) {
            return fail('BlobRequestFailed');
          }
          counts.objectsSucceeded++;
          counts.bytesSucceeded += moved;
          await record(key, EntryStatus.Ok, { bytes: moved, warn: dStatus !== 'Created', overwrite: dStatus === 'Overwritten', log } satisfies EntryDone);
        } catch (err) {
          if (err instanceof LeaseLost) throw err;
          if (isBlobError(err) || isTransferError(err)) return fail(blobStatusFor(err));
          throw err;
        }
      });
    } finally {
      if (holding) release(holding);
    }
  };

  let fatal: unknown;
  const running = new Set<Promise<void>>();
  const windows = windowsWithCheckpoints<EntryDone & EntryWriting>(
    readManifestEntries(manifestPath, { expectedDriveId: drive.driveId }), (keys) => getCheckpoints(db, claim, keys));
  copying: for await (const window of windows) {
    if (fatal || t.signal.aborted) break;
    const todo = window.filter((w) => !w.prev || w.prev.status === EntryStatus.Writing); // the rest finished earlier
    let plans: Map<number, TargetPlan>;
    try {
      plans = await planWindow(todo);
    } catch (err) {
      fatal ??= err;
      break;
    }
    for (const { e, index: i, prev } of todo) {
      if (fatal || t.signal.aborted) break copying;
      const { container, name } = splitBlobPath(e.blobPath);
      const blobKey = `${container}/${name}`;
      hold(blobKey);
      const p: Promise<void> = copyEntry(e, i, prev, plans.get(i))
        .then(() => progress.tick())
        .then(() => (t.options.blobDelayMs ? new Promise<void>((r) => setTimeout(r, t.options.blobDelayMs)) : undefined))
        .catch((err) => { fatal ??= err; })
        .finally(() => { release(blobKey); running.delete(p); });
      running.add(p);
      if (running.size >= t.options.blobConcurrency) await Promise.race(running);
    }
  }
  await Promise.all(running);
  // Commit the outcomes still queued (after the store's sync), even when stopping: less to redo.
  try {
    await batcher.close();
  } catch (err) {
    fatal ??= err;
  } finally {
    batcher.dispose();
  }
  if (fatal) {
    if (fatal instanceof LeaseLost && t.signal.aborted) return; // another worker has the drive now
    throw fatal;
  }
  if (t.signal.aborted) return; // stopping: the next worker resumes from the checkpoints

  // ---- pass 3: logs --------------------------------------------------------------------------------
  await progress.setPhase(Phase.WritingLogs);
  let errors = 0;
  let warnings = 0;
  let overwrites = 0;
  const logBlobs = async function* (count: boolean): AsyncGenerator<DriveLogBlob> {
    let batch: string[] = [];
    let i = 0;
    const drain = async function* (): AsyncGenerator<DriveLogBlob> {
      const rows = await getCheckpoints<EntryDone>(db, claim, batch);
      for (const k of batch) {
        const r = rows.get(k);
        if (!r || r.status === EntryStatus.Writing) throw new Error(`Blob ${k} of drive ${drive.driveId} has no outcome; the copy is incomplete.`);
        if (count) {
          if (r.status === EntryStatus.Failed) errors++;
          if (r.detail.warn) warnings++;
          if (r.detail.overwrite) overwrites++;
        }
        yield r.detail.log;
      }
      batch = [];
    };
    for await (const _e of readManifestEntries(manifestPath, { expectedDriveId: drive.driveId })) {
      batch.push(entryKey(i++));
      if (batch.length >= 500) yield* drain();
    }
    yield* drain();
  };
  // The drive status closes the log, so count first (a cheap pass over the checkpoints), then write.
  for await (const _ of logBlobs(true)) { /* counting */ }
  const status = driveStatusOf(errors, warnings);
  const logs = await writeDriveLogs(backend, job, drive.driveId, status, verbose, () => logBlobs(false), new Date());
  await putCheckpoint(db, claim, workerId, LOG_KEYS.error, 'done', logs.errorLog);
  if (logs.verboseLog) await putCheckpoint(db, claim, workerId, LOG_KEYS.verbose, 'done', logs.verboseLog);
  await finishDriveTransfer(store, {
    jobId: job.id, driveId: drive.driveId, workerId,
    outcome: {
      errors, warnings: warnings - overwrites, overwrites, copyStatus: status,
      bytesSucceeded: counts.bytesSucceeded, objectsSucceeded: counts.objectsSucceeded,
      objectsFailed: counts.objectsFailed, objectsSkipped: counts.objectsSkipped,
      errorLogUri: logs.errorLog.uri, verboseLogUri: logs.verboseLog?.uri ?? null, manifestUri,
    },
  });
}
