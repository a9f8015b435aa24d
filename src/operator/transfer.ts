/**
 * Hooks for the data plane (src/transfer). Call `startDriveTransfer` when a worker begins copying a drive and
 * `finishDriveTransfer` when the copy is over. Both are idempotent: calling again after success changes nothing,
 * so a worker that resumes from a checkpoint after a crash may call them again safely.
 *
 *   const { job } = await startDriveTransfer(store, { jobId, driveId, workerId });
 *   ... copy ...
 *   await finishDriveTransfer(store, { jobId, driveId, outcome: { errors: 0, warnings: 2, overwrites: 1, bytesSucceeded, errorLogUri } });
 *
 * The job follows automatically: Received → Transferring on the first drive, → Packaging when every drive is
 * finished (a cancelled job's uncopied drives count as finished: the copy is skipped).
 */
import { DomainError } from '../domain/errors.ts';
import { CustodyKind } from '../domain/custody.ts';
import { Actor, DriveState, FINISHED_DRIVE_STATES } from '../domain/states.ts';
import { DriveEvent } from '../domain/transitions.ts';
import type { DriveRecord, JobRecord } from '../store/records.ts';
import type { Store } from '../store/store.ts';
import { asOps, recordCustody } from './common.ts';

export interface StartTransferInput {
  jobId: number;
  driveId: string;
  /** Who copies (worker id), recorded in the event. */
  workerId?: string;
}

export interface TransferOutcome {
  /** Blobs/files that failed. Any error → drive CompletedMoreInfo and the job ends Closed. */
  errors: number;
  /** Warnings (e.g. skipped metadata). Warnings or overwrites → CompletedMoreInfo without failing the job. */
  warnings?: number;
  /** Existing blobs overwritten (informational). */
  overwrites?: number;
  bytesSucceeded?: number;
  objectsSucceeded?: number;
  objectsFailed?: number;
  objectsSkipped?: number;
  copyStatus?: string;
  errorLogUri?: string | null;
  verboseLogUri?: string | null;
  manifestUri?: string | null;
}

export interface FinishTransferInput {
  jobId: number;
  driveId: string;
  outcome: TransferOutcome;
  workerId?: string;
}

export interface TransferResult {
  job: JobRecord;
  drive: DriveRecord;
  /** False when the call found the drive already in the requested state (a repeated call). */
  changed: boolean;
}

/** Drive Received → Transferring (job → Transferring on the first drive). Refuses extra drives and cancelled jobs. */
export async function startDriveTransfer(store: Store, input: StartTransferInput): Promise<TransferResult> {
  const res = await store.changeJob(input.jobId, { actor: Actor.System, actorId: input.workerId ?? null }, (w) => {
    const d = w.drive(input.driveId);
    if (d.isExtra) throw new DomainError('TransitionNotAllowed', `Drive ${d.driveId} is an extra drive: it is never processed.`, { target: 'driveId' });
    if (d.state === DriveState.Transferring) return false;
    w.applyDriveEvent(d.driveId, DriveEvent.StartCopy, { data: input.workerId ? { workerId: input.workerId } : undefined });
    w.updateDrive(d.driveId, { copyStatus: 'InProgress' });
    w.followDrives();
    w.inTransaction(async (tx) => {
      await recordCustody(asOps(tx), w.now, [{ driveId: d.driveId, kind: CustodyKind.TransferStarted, jobId: w.job.id, subscriptionId: w.job.subscriptionId, jobName: w.job.name, by: input.workerId ?? null }]);
    });
    return true;
  });
  return { job: res.job, drive: res.drives.find((d) => d.driveId.toLowerCase() === input.driveId.toLowerCase())!, changed: res.result };
}

/** Drive Transferring → Completed (clean) or CompletedMoreInfo (errors, warnings or overwrites); job → Packaging when all are done. */
export async function finishDriveTransfer(store: Store, input: FinishTransferInput): Promise<TransferResult> {
  const o = input.outcome;
  if (!o || !Number.isInteger(o.errors) || o.errors < 0) throw new DomainError('InvalidInput', "'outcome.errors' must be a count.", { target: 'outcome.errors' });
  const issues = o.errors > 0 || (o.warnings ?? 0) > 0 || (o.overwrites ?? 0) > 0;
  const res = await store.changeJob(input.jobId, { actor: Actor.System, actorId: input.workerId ?? null }, (w) => {
    const d = w.drive(input.driveId);
    if (FINISHED_DRIVE_STATES.includes(d.state)) return false;
    w.updateDrive(d.driveId, {
      hasErrors: o.errors > 0,
      copyStatus: o.copyStatus ?? (o.errors > 0 ? 'CompletedWithErrors' : issues ? 'CompletedWithWarnings' : 'Completed'),
      ...(o.bytesSucceeded !== undefined ? { bytesSucceeded: o.bytesSucceeded } : {}),
      ...(o.objectsSucceeded !== undefined ? { objectsSucceeded: o.objectsSucceeded } : {}),
      ...(o.objectsFailed !== undefined ? { objectsFailed: o.objectsFailed } : {}),
      ...(o.objectsSkipped !== undefined ? { objectsSkipped: o.objectsSkipped } : {}),
      ...(o.errorLogUri !== undefined ? { errorLogUri: o.errorLogUri } : {}),
      ...(o.verboseLogUri !== undefined ? { verboseLogUri: o.verboseLogUri } : {}),
      ...(o.manifestUri !== undefined ? { manifestUri: o.manifestUri } : {}),
    });
    w.applyDriveEvent(d.driveId, DriveEvent.FinishCopy, {
      copyHasIssues: issues,
      data: { errors: o.errors, warnings: o.warnings ?? 0, overwrites: o.overwrites ?? 0, errorLogUri: o.errorLogUri ?? null, verboseLogUri: o.verboseLogUri ?? null },
    });
    w.followDrives();
    w.inTransaction(async (tx) => {
      await recordCustody(asOps(tx), w.now, [{ driveId: d.driveId, kind: CustodyKind.TransferFinished, jobId: w.job.id, subscriptionId: w.job.subscriptionId, jobName: w.job.name, by: input.workerId ?? null, detail: { errors: o.errors, warnings: o.warnings ?? 0 } }]);
    });
    return true;
  });
  return { job: res.job, drive: res.drives.find((d) => d.driveId.toLowerCase() === input.driveId.toLowerCase())!, changed: res.result };
}
