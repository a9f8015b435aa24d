/**
 * Pieces both copy directions share: where a drive's folder is, the live progress reporter, and writing drive
 * logs (DriveLog XML) to the job's diagnostics container.
 *
 * Drive folders: drive `<driveId>` of any job is the folder `SNEAKERNET_DRIVES_DIR/<driveId>` (default
 * `<data dir>/drives/<driveId>`), i.e. the mount point where the operator attached and unlocked the drive. A
 * drive whose folder does not exist yet is left alone (retried later); it is not an error.
 */
import { createReadStream } from 'node:fs';
import * as fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import crypto from 'node:crypto';
import type { BlobBackend } from '../../blob/backend.ts';
import type { Config } from '../../config.ts';
import type { JobRecord } from '../../store/records.ts';
import type { Store } from '../../store/store.ts';
import { Actor } from '../../domain/states.ts';
import { bytesCopied, copyThroughput } from '../../observability/metrics.ts';
import { DriveLogWriter, toErrorLogEntry, type DriveLogBlob } from '../drive-log.ts';
import type { DriveStatusCode } from '../errors.ts';
import { diagnosticsBlobName } from '../naming.ts';

export const DEFAULT_DIAGNOSTICS_CONTAINER = 'waimportexport';

export function drivesDir(config: Pick<Config, 'dataDir'>): string {
  return path.resolve(process.env.SNEAKERNET_DRIVES_DIR || path.join(config.dataDir, 'drives'));
}

/** The folder of an attached drive. Drive ids are serials: letters, digits, '-', '_' (anything else is refused). */
export function driveFolderFor(root: string, driveId: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/.test(driveId) || driveId.includes('..')) {
    throw new RangeError(`Drive id ${JSON.stringify(driveId)} cannot name a folder.`);
  }
  return path.join(root, driveId);
}

export async function isDirectory(p: string): Promise<boolean> {
  return (await fsp.stat(p).catch(() => null))?.isDirectory() ?? false;
}

/** Diagnostics container of a job: `diagnosticsPath` or `waimportexport`. */
export function diagnosticsContainer(job: Pick<JobRecord, 'diagnosticsPath'>): string {
  const p = job.diagnosticsPath?.trim().replace(/^\/+|\/+$/g, '');
  return p ? p.split('/')[0] : DEFAULT_DIAGNOSTICS_CONTAINER;
}

export const Phase = {
  VerifyingManifest: 'VerifyingManifest',
  Planning: 'Planning',
  Copying: 'Copying',
  WritingLogs: 'WritingLogs',
  WaitingForDrive: 'WaitingForDrive',
} as const;
export type Phase = (typeof Phase)[keyof typeof Phase];

export interface Counts {
  bytesTotal: number;
  bytesSucceeded: number;
  objectsTotal: number;
  objectsSucceeded: number;
  objectsFailed: number;
  objectsSkipped: number;
}

/**
 * Writes the drive's counters at most every `intervalMs` (and on phase changes); every `eventEveryMs` also a
 * `transferProgress` event, so the events stream shows live progress without flooding the audit log.
 */
export class ProgressReporter {
  private lastWrite = 0;
  private lastEvent = 0;
  private lastBytes = 0;
  private lastAt = Date.now();
  private rate = 0;
  private phase: Phase | null = null;
  private pending: Promise<void> = Promise.resolve();

  constructor(
    private readonly store: Store,
    private readonly jobId: number,
    private readonly driveId: string,
    private readonly workerId: string,
    readonly counts: Counts,
    private readonly direction: 'import' | 'export',
    private readonly intervalMs = 1000,
    private readonly eventEveryMs = 10_000,
  ) {}

  /** Bytes moved (for the rate and metrics); counts are updated by the caller. */
  moved(bytes: number): void {
    bytesCopied.inc({ direction: this.direction }, bytes);
  }

  get rateBps(): number {
    return this.rate;
  }

  async setPhase(phase: Phase): Promise<void> {
    this.phase = phase;
    await this.flush(true, `Drive ${this.driveId}: ${phase}.`);
  }

  /** Called often; writes only when the interval has passed. */
  tick(): Promise<void> {
    if (Date.now() - this.lastWrite < this.intervalMs) return Promise.resolve();
    return this.flush(false);
  }

  async flush(event: boolean, message?: string): Promise<void> {
    const now = Date.now();
    this.lastWrite = now;
    const dt = (now - this.lastAt) / 1000;
    if (dt >= 0.5) {
      const inst = (this.counts.bytesSucceeded - this.lastBytes) / dt;
      this.rate = Math.max(0, Math.round(this.rate === 0 ? inst : 0.5 * this.rate + 0.5 * inst));
      this.lastBytes = this.counts.bytesSucceeded;
      this.lastAt = now;
    }
    copyThroughput.set({ drive: this.driveId }, this.rate);
    const withEvent = event || now - this.lastEvent >= this.eventEveryMs;
    if (withEvent) this.lastEvent = now;
    const c = { ...this.counts };
    const phase = this.phase;
    const rate = this.rate;
    // Serialize writes so an older snapshot never lands after a newer one.
    this.pending = this.pending.then(() => this.store.changeJob(this.jobId, { actor: Actor.System, actorId: this.workerId }, (w) => {
      w.updateDrive(this.driveId, { ...c, phase, rateBps: rate });
      if (withEvent) {
        w.note('transferProgress', 'TransferProgress', message ?? `Drive ${this.driveId}: ${c.bytesSucceeded} of ${c.bytesTotal} bytes, ${c.objectsSucceeded + c.objectsFailed + c.objectsSkipped} of ${c.objectsTotal} blobs.`,
          { ...c, phase, rateBps: rate }, this.driveId);
      }
    }).then(() => {}, () => {}));
    await this.pending;
  }
}

export interface LogOutcome {
  errorLog: { container: string; name: string; uri: string };
  verboseLog?: { container: string; name: string; uri: string };
}

/**
 * Writes the error log (always) and the verbose log (when asked) from a stream of per-blob records, each into a
 * temp file first and then one atomic put: no log is ever visible half-written.
 */
export async function writeDriveLogs(
  backend: BlobBackend, job: JobRecord, driveId: string, status: DriveStatusCode, verbose: boolean,
  blobs: () => AsyncIterable<DriveLogBlob>, at: Date,
): Promise<LogOutcome> {
  const container = diagnosticsContainer(job);
  await backend.ensureContainer(container);
  const tmpDir = await fsp.mkdtemp(path.join(os.tmpdir(), `sn-log-${crypto.randomBytes(3).toString('hex')}-`));
  try {
    const errPath = path.join(tmpDir, 'error.xml');
    const verbosePath = path.join(tmpDir, 'verbose.xml');
    const errW = await DriveLogWriter.open(errPath, { driveId });
    const verW = verbose ? await DriveLogWriter.open(verbosePath, { driveId }) : null;
    try {
      for await (const b of blobs()) {
        if (verW) await verW.writeBlob(b);
        const e = toErrorLogEntry(b);
        if (e) await errW.writeBlob(e);
      }
    } catch (err) {
      await errW.abort().catch(() => {});
      await verW?.abort().catch(() => {});
      throw err;
    }
    await errW.close(status);
    await verW?.close(status);
    const put = async (file: string, type: 'error' | 'verbose') => {
      const name = diagnosticsBlobName(job.name, driveId, at, type);
      await backend.putStream(container, name, createReadStream(file), { properties: { contentType: 'application/xml' } });
      return { container, name, uri: backend.urlFor(container, name) };
    };
    const out: LogOutcome = { errorLog: await put(errPath, 'error') };
    if (verW) out.verboseLog = await put(verbosePath, 'verbose');
    return out;
  } finally {
    await fsp.rm(tmpDir, { recursive: true, force: true });
  }
}

/** Overall drive status from the per-blob outcome. */
export function driveStatusOf(errors: number, warnings: number): DriveStatusCode {
  return errors > 0 ? 'CompletedWithErrors' : warnings > 0 ? 'CompletedWithWarnings' : 'Completed';
}
