/**
 * Held drives: drives that arrived for a job not yet in Shipping, or for no known job. They are never processed
 * while held; operators release them into their job once it is in Shipping, return them, or (after 90 days
 * unclaimed) destroy them.
 */
import { DomainError } from '../domain/errors.ts';
import { CustodyKind, HeldDriveEvent, HeldDriveState, TaskKind, TaskStatus, decideHeldDrive, nextHeldDeadline, type HeldDriveState as HeldState } from '../domain/custody.ts';
import { Actor, DriveState } from '../domain/states.ts';
import { DriveEvent, JOB_STATES_ACCEPTING_DRIVES } from '../domain/transitions.ts';
import { asOps, inTx, lower, recordCustody, type OperatorCall, type Tx } from './common.ts';
import { opsDb, toDate, toDateOrNull } from './schema.ts';

export interface HeldDrive {
  id: number;
  driveId: string;
  packageId: number | null;
  jobId: number | null;
  subscriptionId: string | null;
  jobName: string | null;
  state: HeldState;
  reason: string;
  receivedAt: Date;
  deadlineAt: Date | null;
  deadlineKind: string | null;
  resolvedAt: Date | null;
  note: string | null;
}

type HeldRow = Awaited<ReturnType<typeof loadHeld>>;
async function loadHeld(tx: Tx, id: number) {
  const row = await tx.selectFrom('held_drives').selectAll().where('id', '=', id).executeTakeFirst();
  if (!row) throw new DomainError('NotFound', `Held drive ${id} does not exist.`, { target: 'heldDriveId' });
  return row;
}

export function heldFromRow(r: NonNullable<HeldRow>): HeldDrive {
  return {
    id: Number(r.id), driveId: r.drive_id, packageId: r.package_id == null ? null : Number(r.package_id), jobId: r.job_id == null ? null : Number(r.job_id),
    subscriptionId: r.subscription_id, jobName: r.job_name, state: r.state as HeldState, reason: r.reason, receivedAt: toDate(r.received_at),
    deadlineAt: toDateOrNull(r.deadline_at), deadlineKind: r.deadline_kind, resolvedAt: toDateOrNull(r.resolved_at), note: r.note,
  };
}

export async function listHeldDrives(call: OperatorCall, q: { state?: string; jobId?: number; limit?: number } = {}): Promise<HeldDrive[]> {
  let query = opsDb(call.store).selectFrom('held_drives').selectAll();
  if (q.state) query = query.where('state', '=', q.state);
  if (q.jobId !== undefined) query = query.where('job_id', '=', q.jobId);
  return (await query.orderBy('id').limit(Math.min(q.limit ?? 500, 1000)).execute()).map(heldFromRow);
}

/** Moves a held drive by the custody table and records it; `fn` may add writes in the same transaction. */
export async function changeHeld(tx: Tx, now: Date, id: number, event: HeldDriveEvent, by: string | null, note: string | null, custody: CustodyKind | null, detail?: Record<string, unknown>): Promise<HeldDrive> {
  const row = await loadHeld(tx, id);
  const to = decideHeldDrive(row.state as HeldState, event);
  const deadline = nextHeldDeadline({ state: to, receivedAt: toDate(row.received_at), returnAlertedAt: toDateOrNull(row.return_alerted_at) });
  const terminal = to !== HeldDriveState.Held && to !== HeldDriveState.DueForDestruction;
  const updated = await tx.updateTable('held_drives').set({
    state: to, deadline_at: deadline?.at ?? null, deadline_kind: deadline?.kind ?? null,
    resolved_at: terminal ? now : null, resolved_by: terminal ? by : null, note: note ?? row.note,
  }).where('id', '=', id).where('state', '=', row.state).returningAll().executeTakeFirst();
  if (!updated) throw new DomainError('VersionConflict', 'The held drive changed meanwhile; try again.');
  if (custody) {
    await recordCustody(tx, now, [{ driveId: row.drive_id, kind: custody, jobId: row.job_id == null ? null : Number(row.job_id), subscriptionId: row.subscription_id, jobName: row.job_name, heldDriveId: id, by, detail: { ...(detail ?? {}), note } }]);
  }
  return heldFromRow(updated);
}

/**
 * Once the customer has moved the job to Shipping, its held drives go into the job as received (the normal path).
 * `jobId` names the job for drives of no known job that the customer has since identified (the job must list them).
 */
export async function releaseHeldDrive(call: OperatorCall, heldDriveId: number, opts: { jobId?: number } = {}): Promise<{ held: HeldDrive; jobState: string }> {
  const { store } = call;
  const by = call.by ?? null;
  const db = opsDb(store);
  const held = heldFromRow(await loadHeld(db, heldDriveId));
  const jobId = opts.jobId ?? held.jobId;
  if (jobId == null) throw new DomainError('InvalidInput', 'This drive belongs to no known job; name the job that lists it (jobId).', { target: 'jobId' });
  const job = await store.getJobById(jobId);
  if (!job) throw new DomainError('NotFound', `Job ${jobId} does not exist.`, { target: 'jobId' });
  if (!JOB_STATES_ACCEPTING_DRIVES.includes(job.state)) {
    throw new DomainError('TransitionNotAllowed', `Job ${job.name} is ${job.state}; held drives are released only into a job in ${JOB_STATES_ACCEPTING_DRIVES.join(', ')}.`, { target: 'state' });
  }
  let out!: HeldDrive;
  const res = await store.changeJob(jobId, { actor: Actor.Operator, actorId: by }, (w) => {
    const d = w.drives.find((x) => !x.isExtra && lower(x.driveId) === lower(held.driveId));
    if (!d) throw new DomainError('InvalidInput', `Job ${w.job.name} does not list drive ${held.driveId}.`, { target: 'driveId' });
    if (d.state !== DriveState.Specified && d.state !== DriveState.NeverReceived) {
      throw new DomainError('TransitionNotAllowed', `Drive ${d.driveId} of job ${w.job.name} is already ${d.state}.`);
    }
    w.applyDriveEvent(d.driveId, DriveEvent.Receive, { message: 'The held drive was released into its job once the job was in Shipping.', data: { heldDriveId } });
    w.followDrives();
    w.inTransaction(async (tx) => {
      const ops = asOps(tx);
      await ops.updateTable('held_drives').set({ job_id: jobId, subscription_id: w.job.subscriptionId, job_name: w.job.name }).where('id', '=', heldDriveId).execute();
      out = await changeHeld(ops, w.now, heldDriveId, HeldDriveEvent.Release, by, null, CustodyKind.Released, { jobId });
      await recordCustody(ops, w.now, [{ driveId: d.driveId, kind: CustodyKind.Received, jobId, subscriptionId: w.job.subscriptionId, jobName: w.job.name, heldDriveId, packageId: held.packageId, by }]);
    });
  });
  return { held: out, jobState: res.job.state };
}

/** Records that a held drive was sent back to its sender (carrier, tracking number). */
export async function returnHeldDrive(call: OperatorCall, heldDriveId: number, ship: { carrier: string; trackingNumber: string; note?: string }): Promise<HeldDrive> {
  if (!ship?.carrier || !ship?.trackingNumber) throw new DomainError('InvalidInput', "'carrier' and 'trackingNumber' are required.", { target: 'carrier' });
  const now = call.store.clock.now();
  return inTx(call.store, async (tx) => {
    const h = await changeHeld(tx, now, heldDriveId, HeldDriveEvent.Return, call.by ?? null, ship.note ?? null, CustodyKind.Returned, { carrier: ship.carrier, trackingNumber: ship.trackingNumber });
    await tx.insertInto('packages').values({
      carrier: ship.carrier, tracking_number: ship.trackingNumber, direction: 'outbound', job_id: h.jobId, drive_ids: JSON.stringify([h.driveId]),
      drive_count: 1, shipped_at: now, recorded_by: call.by ?? null, created_at: now,
    }).execute();
    await tx.updateTable('operator_tasks').set({ status: TaskStatus.Closed, closed_at: now, closed_by: call.by ?? null, close_note: `drive ${h.driveId} returned` })
      .where('held_drive_id', '=', heldDriveId).where('status', '=', TaskStatus.Open).execute();
    return h;
  });
}

export const HELD_TASKS = [TaskKind.HeldDrives, TaskKind.ContactCustomer, TaskKind.ReturnHeldDrives] as const;
