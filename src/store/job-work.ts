/**
 * A unit of work on one job: everything a request or a worker changes on a job and its drives happens here, in one
 * transaction that checks the job's version (the ETag), writes the rows, appends to job_events and the outbox, and
 * NOTIFYs listeners. Domain decisions come from src/domain; this file only records them.
 */
import type { Decision } from '../domain/lifecycle.ts';
import { automaticJobEvents, decideDriveTransition, decideJobTransition } from '../domain/lifecycle.ts';
import { DomainError } from '../domain/errors.ts';
import { DriveState, FINISHED_DRIVE_STATES, JobState, type Actor } from '../domain/states.ts';
import type { DriveEvent, JobEvent } from '../domain/transitions.ts';
import { jobFacts, type DriveRecord, type JobRecord } from './records.ts';
import type { Transaction } from 'kysely';
import type { Schema } from './schema.ts';

/** Extra writes that must commit or roll back with the job change (tasks, custody records...). */
export type InTransaction = (tx: Transaction<Schema>, job: JobRecord) => Promise<void>;

export interface PendingEvent {
  driveId: string | null;
  event: string;
  fromState: string | null;
  toState: string | null;
  actor: Actor;
  actorId: string | null;
  reasonCode: string;
  message: string;
  data?: unknown;
}

export interface EventOptions<S> {
  to?: S;
  message?: string;
  reasonCode?: string;
  data?: unknown;
}

/** Job fields a unit of work may set directly (state changes go through applyJobEvent). */
export type JobFieldUpdate = Partial<
  Pick<
    JobRecord,
    | 'cancelRequested' | 'returnAddress' | 'returnShipping' | 'deliveryPackage' | 'returnPackage' | 'logLevel'
    | 'backupDriveManifest' | 'tags' | 'extensions' | 'incompleteBlobListUri' | 'shippingAlertedAt'
    | 'shippingExtendedUntil' | 'storageAccountId' | 'diagnosticsPath' | 'exportSpec' | 'location'
    | 'shippingInformation' | 'encryptionKey' | 'identity'
  >
>;
export type DriveFieldUpdate = Partial<Omit<DriveRecord, 'jobId' | 'driveId' | 'state' | 'stateReason' | 'faultedFrom'>>;

export class JobWork {
  readonly events: PendingEvent[] = [];
  readonly changedDrives = new Set<string>();
  readonly newDrives = new Set<string>();
  readonly removedDrives = new Set<string>();
  jobChanged = false;
  readonly sideEffects: InTransaction[] = [];

  constructor(
    public job: JobRecord,
    public drives: DriveRecord[],
    readonly actor: Actor,
    readonly actorId: string | null,
    readonly now: Date,
  ) {}

  drive(driveId: string): DriveRecord {
    const d = this.drives.find((x) => x.driveId.toLowerCase() === driveId.toLowerCase());
    if (!d) throw new DomainError('NotFound', `Drive '${driveId}' is not part of job '${this.job.name}'.`, { target: 'driveId' });
    return d;
  }

  findDrive(driveId: string): DriveRecord | undefined {
    return this.drives.find((x) => x.driveId.toLowerCase() === driveId.toLowerCase());
  }

  /** Moves the job by the table; throws a typed DomainError when the table says no. */
  applyJobEvent(event: JobEvent, opts: EventOptions<JobState> = {}, actor: Actor = this.actor): Decision<JobState> {
    const decision = decideJobTransition(jobFacts(this.job, this.drives), event, actor, opts);
    this.setJobState(decision, actor, opts.data);
    return decision;
  }

  /** Moves a drive by the table, then lets the job follow where its guards now hold (Received, Transferring...). */
  applyDriveEvent(
    driveId: string, event: DriveEvent, opts: EventOptions<DriveState> & { copyHasIssues?: boolean } = {}, actor: Actor = this.actor,
  ): Decision<DriveState> {
    const drive = this.drive(driveId);
    const decision = decideDriveTransition(
      { drive: { driveId: drive.driveId, state: drive.state, hasErrors: drive.hasErrors, isExtra: drive.isExtra }, copyHasIssues: opts.copyHasIssues, jobCancelled: this.job.cancelRequested, jobState: this.job.state },
      event, actor, opts,
    );
    drive.faultedFrom = decision.to === DriveState.Faulted ? drive.state : null;
    drive.state = decision.to;
    drive.stateReason = decision.reason;
    drive.stateEnteredAt = this.now;
    if (FINISHED_DRIVE_STATES.includes(decision.to)) drive.percentComplete = 100;
    this.changedDrives.add(drive.driveId);
    this.record({ driveId: drive.driveId, event, fromState: decision.from, toState: decision.to, reasonCode: decision.reason.code, message: decision.reason.message, data: opts.data }, actor);
    return decision;
  }

  /** Applies every automatic job transition whose guard now holds (called after drive changes). */
  followDrives(): Decision<JobState>[] {
    const decisions = automaticJobEvents(jobFacts(this.job, this.drives));
    for (const d of decisions) this.setJobState(d, 'system');
    return decisions;
  }

  set(fields: JobFieldUpdate): void {
    Object.assign(this.job, fields);
    this.jobChanged = true;
  }

  updateDrive(driveId: string, fields: DriveFieldUpdate): void {
    Object.assign(this.drive(driveId), fields);
    this.changedDrives.add(this.drive(driveId).driveId);
  }

  addDrive(drive: DriveRecord): void {
    if (this.findDrive(drive.driveId)) throw new DomainError('AlreadyExists', `Drive '${drive.driveId}' is already part of the job.`, { target: 'driveId' });
    this.drives.push(drive);
    this.newDrives.add(drive.driveId);
  }

  /** Replaces the drive list: drives that stay are updated in place, the others removed or inserted. */
  replaceDrives(drives: DriveRecord[]): void {
    const before = new Set(this.drives.map((d) => d.driveId));
    for (const id of before) if (!drives.some((n) => n.driveId === id)) this.removedDrives.add(id);
    this.drives = [...drives];
    this.newDrives.clear();
    this.changedDrives.clear();
    for (const d of drives) {
      if (before.has(d.driveId)) this.changedDrives.add(d.driveId);
      else this.newDrives.add(d.driveId);
    }
    this.jobChanged = true;
  }

  /** Runs `fn` inside the same transaction, after the job row and its events are written. */
  inTransaction(fn: InTransaction): void {
    this.sideEffects.push(fn);
  }

  /** An audit entry that is not a state change (updates, cancel requests, operator notes). */
  note(event: string, reasonCode: string, message: string, data?: unknown, driveId: string | null = null): void {
    this.record({ driveId, event, fromState: null, toState: null, reasonCode, message, data }, this.actor);
  }

  private setJobState(d: Decision<JobState>, actor: Actor, data?: unknown) {
    this.job.faultedFrom = d.to === JobState.Faulted ? this.job.state : null;
    this.job.state = d.to;
    this.job.stateReason = d.reason;
    this.job.stateEnteredAt = this.now;
    this.jobChanged = true;
    this.record({ driveId: null, event: d.event, fromState: d.from, toState: d.to, reasonCode: d.reason.code, message: d.reason.message, data }, actor);
  }

  private record(e: Omit<PendingEvent, 'actor' | 'actorId'>, actor: Actor) {
    this.events.push({ ...e, actor, actorId: actor === this.actor ? this.actorId : null });
    this.jobChanged = true;
  }
}
