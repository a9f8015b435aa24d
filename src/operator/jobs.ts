/**
 * Operator actions on a job: return-address problems, shipping back, damage in return shipping, faults, the
 * late-package decisions (extend the wait, close), and partial deliveries. Every change is one store unit of
 * work whose events, outbox rows, tasks and custody records commit together.
 */
import crypto from 'node:crypto';
import { DomainError } from '../domain/errors.ts';
import {
  ADDRESS_FLAG_JOB_STATES, AddressFlagState, CustodyKind, RETURN_DAMAGE_JOB_STATES, ReturnIssueKind, SHIPPING_WAIT_JOB_STATES,
  TaskKind, TaskStatus, UNREACHABLE_DESTRUCTION_MS,
} from '../domain/custody.ts';
import { Actor, DriveState, FINISHED_DRIVE_STATES, JobState, type DriveState as DriveStateT, type JobState as JobStateT } from '../domain/states.ts';
import { SHIPPING_ALERT_MS, DAY_MS } from '../domain/timers.ts';
import { DriveEvent, JobEvent } from '../domain/transitions.ts';
import type { DriveRecord, JobRecord } from '../store/records.ts';
import { asOps, closeTasksOf, openTask, recordCustody, type OperatorCall } from './common.ts';
import { opsDb, toDate } from './schema.ts';

export const addressHash = (a: unknown) => crypto.createHash('sha256').update(stableJson(a ?? null)).digest('hex');
function stableJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(stableJson).join(',')}]`;
  if (v && typeof v === 'object') return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${stableJson((v as Record<string, unknown>)[k])}`).join(',')}}`;
  return JSON.stringify(v);
}

const text = (v: unknown, name: string, max = 2000): string => {
  if (typeof v !== 'string' || v.trim() === '') throw new DomainError('InvalidInput', `'${name}' is required.`, { target: name });
  if (v.length > max) throw new DomainError('InvalidInput', `'${name}' is too long (at most ${max} characters).`, { target: name });
  return v.trim();
};
const optText = (v: unknown, name: string, max = 2000): string | undefined => (v === undefined || v === null ? undefined : text(v, name, max));

export interface JobChange { job: JobRecord; drives: DriveRecord[] }

/** Flags a wrong or missing return address on a job in Transferring/Packaging: task + customer notice + 90-day timer. */
export async function flagReturnAddress(call: OperatorCall, jobId: number, input: { note: string }): Promise<JobChange & { flagId: number }> {
  const note = text(input?.note, 'note');
  const by = call.by ?? null;
  let flagId = 0;
  const res = await call.store.changeJob(jobId, { actor: Actor.Operator, actorId: by }, async (w) => {
    if (!ADDRESS_FLAG_JOB_STATES.includes(w.job.state)) {
      throw new DomainError('TransitionNotAllowed', `A return address problem is flagged on jobs in ${ADDRESS_FLAG_JOB_STATES.join(' or ')}; this job is ${w.job.state}.`, { target: 'state' });
    }
    const destroyAt = new Date(w.now.getTime() + UNREACHABLE_DESTRUCTION_MS);
    w.set({ extensions: { ...w.job.extensions, returnAddressProblem: { flaggedAt: w.now.toISOString(), note, destroyDrivesAt: destroyAt.toISOString() } } });
    w.note('returnAddressFlagged', 'ReturnAddressProblem', `The return address is wrong or missing: ${note} Update the job's returnAddress; if we cannot reach you, the drives will be securely destroyed after ${destroyAt.toISOString().slice(0, 10)}.`, { note, destroyDrivesAt: destroyAt });
    w.inTransaction(async (tx) => {
      const ops = asOps(tx);
      const open = await ops.selectFrom('return_address_flags').select('id').where('job_id', '=', jobId).where('status', '=', AddressFlagState.Open).executeTakeFirst();
      if (open) throw new DomainError('AlreadyExists', 'A return address problem is already open on this job.');
      const row = await ops.insertInto('return_address_flags').values({
        job_id: jobId, status: AddressFlagState.Open, note, address_hash: addressHash(w.job.returnAddress), flagged_at: w.now, flagged_by: by, deadline_at: destroyAt,
      }).returning('id').executeTakeFirstOrThrow();
      flagId = Number(row.id);
      await openTask(ops, w.now, {
        kind: TaskKind.BadReturnAddress, jobId, subscriptionId: w.job.subscriptionId, jobName: w.job.name, by,
        title: `Return address of job ${w.job.name} is wrong or missing: contact the customer.`, detail: { note, flagId }, dedupeKey: `badReturnAddress:${flagId}`,
      });
    });
  });
  return { job: res.job, drives: res.drives, flagId };
}

/**
 * Resolves open address flags whose job's return address has changed since it was flagged (the customer's PATCH).
 * Called by the background worker on every job event and by the timer sweep before acting on a flag.
 */
export async function resolveChangedReturnAddresses(call: OperatorCall, jobIds?: number[]): Promise<number[]> {
  const db = opsDb(call.store);
  let q = db.selectFrom('return_address_flags').innerJoin('jobs', 'jobs.id', 'return_address_flags.job_id')
    .select(['return_address_flags.id as id', 'return_address_flags.job_id as job_id', 'return_address_flags.address_hash as hash', 'jobs.return_address as addr'])
    .where('return_address_flags.status', '=', AddressFlagState.Open);
  if (jobIds) {
    if (jobIds.length === 0) return [];
    q = q.where('return_address_flags.job_id', 'in', jobIds);
  }
  const resolved: number[] = [];
  for (const r of await q.execute()) {
    const addr = typeof r.addr === 'string' ? JSON.parse(r.addr) : r.addr;
    if (addr != null && addressHash(addr) !== r.hash) {
      await resolveAddressFlag(call, Number(r.job_id), Number(r.id), 'The customer updated the return address.');
      resolved.push(Number(r.id));
    }
  }
  return resolved;
}

export async function resolveAddressFlag(call: OperatorCall, jobId: number, flagId: number, resolution: string): Promise<void> {
  await call.store.changeJob(jobId, { actor: Actor.System, actorId: call.by ?? null }, (w) => {
    const ext = { ...w.job.extensions };
    delete ext.returnAddressProblem;
    w.inTransaction(async (tx) => {
      const ops = asOps(tx);
      const r = await ops.updateTable('return_address_flags').set({ status: AddressFlagState.Resolved, resolved_at: w.now, resolution, deadline_at: null })
        .where('id', '=', flagId).where('status', '=', AddressFlagState.Open).returning('id').executeTakeFirst();
      if (!r) return;
      await closeTasksOf(ops, w.now, jobId, [TaskKind.BadReturnAddress], resolution, call.by ?? null);
    });
    if (w.job.extensions.returnAddressProblem) {
      w.set({ extensions: ext });
      w.note('returnAddressResolved', 'ReturnAddressResolved', resolution);
    }
  });
}

/**
 * Records the return shipment: drives ShippedBack (finished ones, extra ones, and uncopied ones of a cancelled
 * job), then the job goes to Completed (no errors) or Closed (errors or missing drives), by the tables.
 */
export async function shipBack(call: OperatorCall, jobId: number, pkg: { carrierName: string; trackingNumber: string; driveCount?: number; shipDate?: string }): Promise<JobChange> {
  const carrierName = text(pkg?.carrierName, 'carrierName', 200);
  const trackingNumber = text(pkg?.trackingNumber, 'trackingNumber', 200);
  const shipDate = optText(pkg?.shipDate, 'shipDate', 100);
  const by = call.by ?? null;
  const res = await call.store.changeJob(jobId, { actor: Actor.Operator, actorId: by }, (w) => {
    if (w.job.state !== JobState.Packaging) {
      throw new DomainError('TransitionNotAllowed', `A job ships back from Packaging; this job is ${w.job.state}.`, { target: 'state' });
    }
    const open = w.job.extensions.returnAddressProblem;
    if (open) throw new DomainError('GuardFailed', 'The return address of this job is flagged as wrong or missing; it cannot ship until the customer fixes it.');
    const shipping = w.drives.filter((d) => FINISHED_DRIVE_STATES.includes(d.state) || d.state === DriveState.Received);
    const driveCount = pkg.driveCount ?? shipping.length;
    if (!Number.isInteger(driveCount) || driveCount < 0) throw new DomainError('InvalidInput', "'driveCount' must be a whole number.", { target: 'driveCount' });
    const returnPackage = { carrierName, trackingNumber, driveCount, shipDate: shipDate ?? w.now.toISOString() };
    w.set({ returnPackage });
    for (const d of shipping) w.applyDriveEvent(d.driveId, DriveEvent.ShipBack, { data: { carrierName, trackingNumber } });
    w.applyJobEvent(JobEvent.ShipBack, { data: { returnPackage } });
    w.inTransaction(async (tx) => {
      const ops = asOps(tx);
      await ops.insertInto('packages').values({
        carrier: carrierName, tracking_number: trackingNumber, direction: 'outbound', job_id: jobId, drive_ids: JSON.stringify(shipping.map((d) => d.driveId)),
        drive_count: driveCount, shipped_at: w.now, recorded_by: by, created_at: w.now,
      }).execute();
      await recordCustody(ops, w.now, shipping.map((d) => ({ driveId: d.driveId, kind: CustodyKind.ShippedBack, jobId, subscriptionId: w.job.subscriptionId, jobName: w.job.name, by, detail: { carrierName, trackingNumber, extra: d.isExtra } })));
    });
  });
  return { job: res.job, drives: res.drives };
}

/**
 * Damage or loss in return shipping (mostly export): recorded on a Completed/Closed job so the customer sees it in
 * Get Job (extension `returnIssues`) with the blobs to re-export or download.
 */
export async function recordReturnDamage(call: OperatorCall, jobId: number, input: { kind: string; driveIds?: string[]; blobs?: string[]; note: string }): Promise<JobChange> {
  const kind = input?.kind;
  if (kind !== ReturnIssueKind.Damaged && kind !== ReturnIssueKind.Lost) throw new DomainError('InvalidInput', `'kind' must be '${ReturnIssueKind.Damaged}' or '${ReturnIssueKind.Lost}'.`, { target: 'kind' });
  const note = text(input.note, 'note');
  const blobs = input.blobs ?? [];
  if (!Array.isArray(blobs) || blobs.some((b) => typeof b !== 'string') || blobs.length > 10_000) throw new DomainError('InvalidInput', "'blobs' must be a list of blob paths.", { target: 'blobs' });
  const by = call.by ?? null;
  const res = await call.store.changeJob(jobId, { actor: Actor.Operator, actorId: by }, (w) => {
    if (!RETURN_DAMAGE_JOB_STATES.includes(w.job.state)) {
      throw new DomainError('TransitionNotAllowed', `Return shipping problems are recorded on ${RETURN_DAMAGE_JOB_STATES.join(' or ')} jobs; this job is ${w.job.state}.`, { target: 'state' });
    }
    const driveIds = input.driveIds ?? w.drives.filter((d) => d.state === DriveState.ShippedBack).map((d) => d.driveId);
    for (const id of driveIds) w.drive(id);
    const issue = { kind, driveIds, blobs, note, recordedAt: w.now.toISOString(), advice: 'Check the return tracking with the carrier; create another export job for the listed blobs, or download them.' };
    const issues = Array.isArray(w.job.extensions.returnIssues) ? (w.job.extensions.returnIssues as unknown[]) : [];
    w.set({ extensions: { ...w.job.extensions, returnIssues: [...issues, issue] } });
    w.note('returnIssue', kind === ReturnIssueKind.Lost ? 'DrivesLostInReturn' : 'DrivesDamagedInReturn', `Drives ${kind} in return shipping: ${note}`, { kind, driveIds, blobCount: blobs.length });
    w.inTransaction(async (tx) => {
      await recordCustody(asOps(tx), w.now, driveIds.map((driveId) => ({ driveId, kind: CustodyKind.ReturnIssue, jobId, subscriptionId: w.job.subscriptionId, jobName: w.job.name, by, detail: { kind, note } })));
    });
  });
  return { job: res.job, drives: res.drives };
}

/** Faults a job (or one of its drives) with a reason; opens a task. */
export async function faultJob(call: OperatorCall, jobId: number, input: { reason: string; driveId?: string }): Promise<JobChange> {
  const reason = text(input?.reason, 'reason');
  const by = call.by ?? null;
  const actor = call.by === 'system' ? Actor.System : Actor.Operator;
  const res = await call.store.changeJob(jobId, { actor, actorId: by }, (w) => {
    if (input.driveId) w.applyDriveEvent(input.driveId, DriveEvent.Fault, { message: reason });
    else w.applyJobEvent(JobEvent.Fault, { message: reason });
    w.inTransaction(async (tx) => {
      await openTask(asOps(tx), w.now, {
        kind: TaskKind.Faulted, jobId, subscriptionId: w.job.subscriptionId, jobName: w.job.name, by, driveIds: input.driveId ? [input.driveId] : [],
        title: input.driveId ? `Drive ${input.driveId} of job ${w.job.name} is faulted: ${reason}` : `Job ${w.job.name} is faulted: ${reason}`,
        detail: { reason }, dedupeKey: `faulted:${jobId}:${input.driveId ?? ''}:${w.job.version}`,
      });
    });
  });
  return { job: res.job, drives: res.drives };
}

/**
 * Unfaults a job or drive to `to` (default: the state it was faulted from), only where the tables allow; then the
 * job follows its drives (e.g. a drive back in Received lets a job continue).
 */
export async function unfaultJob(call: OperatorCall, jobId: number, input: { note: string; to?: string; driveId?: string }): Promise<JobChange> {
  const note = text(input?.note, 'note');
  const by = call.by ?? null;
  const res = await call.store.changeJob(jobId, { actor: Actor.Operator, actorId: by }, (w) => {
    if (input.driveId) {
      const d = w.drive(input.driveId);
      const to = (input.to ?? d.faultedFrom ?? undefined) as DriveStateT | undefined;
      w.applyDriveEvent(d.driveId, DriveEvent.Unfault, { to, message: note });
      if (w.job.state !== JobState.Faulted) w.followDrives();
    } else {
      const to = (input.to ?? w.job.faultedFrom ?? undefined) as JobStateT | undefined;
      w.applyJobEvent(JobEvent.Unfault, { to, message: note });
      w.followDrives();
    }
    w.inTransaction(async (tx) => {
      const ops = asOps(tx);
      let q = ops.updateTable('operator_tasks').set({ status: TaskStatus.Closed, closed_at: w.now, closed_by: by, close_note: note })
        .where('job_id', '=', jobId).where('kind', '=', TaskKind.Faulted).where('status', '=', TaskStatus.Open);
      if (input.driveId) q = q.where('drive_ids', '@>', JSON.stringify([input.driveId]) as never);
      await q.execute();
    });
  });
  return { job: res.job, drives: res.drives };
}

/** Late package: the operator extends the wait (default 14 more days) after the customer answered. */
export async function extendShippingWait(call: OperatorCall, jobId: number, input: { days?: number; note?: string } = {}): Promise<JobChange> {
  const days = input.days ?? SHIPPING_ALERT_MS / DAY_MS;
  if (!Number.isFinite(days) || days <= 0 || days > 365) throw new DomainError('InvalidInput', "'days' must be between 1 and 365.", { target: 'days' });
  const by = call.by ?? null;
  const res = await call.store.changeJob(jobId, { actor: Actor.Operator, actorId: by }, (w) => {
    if (!SHIPPING_WAIT_JOB_STATES.includes(w.job.state)) throw new DomainError('TransitionNotAllowed', `The wait for a package is extended only in Shipping; this job is ${w.job.state}.`, { target: 'state' });
    const until = new Date(w.now.getTime() + days * DAY_MS);
    w.set({ shippingExtendedUntil: until });
    // Drives marked NeverReceived by the 14-day alert are expected again.
    w.note('shippingWaitExtended', 'ShippingWaitExtended', `The wait for the package was extended until ${until.toISOString()}.${input.note ? ` ${input.note}` : ''}`, { until });
    w.inTransaction(async (tx) => {
      await closeTasksOf(asOps(tx), w.now, jobId, [TaskKind.MissingPackage], `wait extended until ${until.toISOString()}`, by);
    });
  });
  return { job: res.job, drives: res.drives };
}

/** Late package: the customer asked to cancel (or the operator decides to): the job is closed as undelivered. */
export async function closeUndelivered(call: OperatorCall, jobId: number, input: { note?: string } = {}): Promise<JobChange> {
  const by = call.by ?? null;
  const res = await call.store.changeJob(jobId, { actor: Actor.Operator, actorId: by }, (w) => {
    w.set({ cancelRequested: true });
    for (const d of w.drives) if (d.state === DriveState.Specified) w.applyDriveEvent(d.driveId, DriveEvent.MarkNeverReceived);
    w.applyJobEvent(JobEvent.CloseUndelivered, input.note ? { message: input.note } : {});
    w.inTransaction(async (tx) => {
      await closeTasksOf(asOps(tx), w.now, jobId, [TaskKind.MissingPackage, TaskKind.MissingDrives], input.note ?? 'job closed', by);
    });
  });
  return { job: res.job, drives: res.drives };
}

/** The package came without some drives and the customer agrees to go on with the ones that arrived. */
export async function acceptPartialDelivery(call: OperatorCall, jobId: number, input: { note?: string } = {}): Promise<JobChange> {
  const by = call.by ?? null;
  const res = await call.store.changeJob(jobId, { actor: Actor.Operator, actorId: by }, (w) => {
    w.applyJobEvent(JobEvent.AcceptPartialDelivery, input.note ? { message: input.note } : {});
    w.followDrives();
    w.inTransaction(async (tx) => {
      await closeTasksOf(asOps(tx), w.now, jobId, [TaskKind.MissingDrives, TaskKind.MissingPackage], input.note ?? 'partial delivery accepted', by);
    });
  });
  return { job: res.job, drives: res.drives };
}

/** Applies the automatic job transitions whose guards hold (e.g. after a customer cancelled a Received job). */
export async function advanceJob(call: OperatorCall, jobId: number): Promise<JobChange> {
  const res = await call.store.changeJob(jobId, { actor: Actor.System, actorId: call.by ?? null }, (w) => {
    w.followDrives();
  });
  return { job: res.job, drives: res.drives };
}

export const flagDeadline = (flaggedAt: Date) => toDate(new Date(flaggedAt.getTime() + UNREACHABLE_DESTRUCTION_MS));
