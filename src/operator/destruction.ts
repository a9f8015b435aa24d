/**
 * Secure destruction of drives nobody claimed (held drives after 90 days, or drives of a job whose return address
 * stayed unreachable for 90 days), with a certificate per drive: who destroyed it, when, how, and the chain of
 * custody from receipt to destruction.
 */
import crypto from 'node:crypto';
import { DomainError } from '../domain/errors.ts';
import { CustodyKind, HeldDriveEvent, HeldDriveState, TaskKind, TaskStatus } from '../domain/custody.ts';
import { Actor } from '../domain/states.ts';
import { asOps, inTx, lower, recordCustody, type OperatorCall, type Tx } from './common.ts';
import { changeHeld, heldFromRow } from './held.ts';
import { fromJson, opsDb, toDate } from './schema.ts';

export interface DestructionInput {
  /** How the drive was destroyed (e.g. "NIST 800-88 purge, then shredded"). */
  method: string;
  /** The person who destroyed it. */
  destroyedBy: string;
  destroyedAt?: string;
  witness?: string;
}

export interface CustodyEntry { at: string; kind: string; jobName: string | null; packageId: number | null; actorId: string | null; detail: unknown }

export interface DestructionCertificate {
  certificateId: string;
  kind: 'SecureDestructionCertificate';
  driveId: string;
  job: { id: number; name: string | null; subscriptionId: string | null } | null;
  heldDriveId: number | null;
  method: string;
  destroyedBy: string;
  witness: string | null;
  destroyedAt: string;
  recordedBy: string | null;
  recordedAt: string;
  chainOfCustody: CustodyEntry[];
  statement: string;
}

const text = (v: unknown, name: string) => {
  if (typeof v !== 'string' || !v.trim() || v.length > 1000) throw new DomainError('InvalidInput', `'${name}' is required (at most 1000 characters).`, { target: name });
  return v.trim();
};

export async function custodyChain(tx: Tx, driveId: string, scope: { jobId?: number | null; heldDriveId?: number | null } = {}): Promise<CustodyEntry[]> {
  const variants = [...new Set([driveId, driveId.toUpperCase(), driveId.toLowerCase()])];
  const rows = await tx.selectFrom('custody_events').selectAll().where('drive_id', 'in', variants).orderBy('id').execute();
  return rows
    .filter((r) => lower(r.drive_id) === lower(driveId))
    .filter((r) => scope.jobId == null && scope.heldDriveId == null ? true
      : (scope.jobId != null && Number(r.job_id) === scope.jobId) || (scope.heldDriveId != null && Number(r.held_drive_id) === scope.heldDriveId))
    .map((r) => ({ at: toDate(r.at).toISOString(), kind: r.kind, jobName: r.job_name, packageId: r.package_id == null ? null : Number(r.package_id), actorId: r.actor_id, detail: fromJson(r.detail) }));
}

/** Records the destruction of a held drive that is due for destruction. */
export async function recordHeldDestruction(call: OperatorCall, heldDriveId: number, input: DestructionInput): Promise<DestructionCertificate> {
  const method = text(input?.method, 'method');
  const destroyedBy = text(input?.destroyedBy, 'destroyedBy');
  const now = call.store.clock.now();
  return inTx(call.store, async (tx) => {
    const row = await tx.selectFrom('held_drives').selectAll().where('id', '=', heldDriveId).executeTakeFirst();
    if (!row) throw new DomainError('NotFound', `Held drive ${heldDriveId} does not exist.`);
    const held = heldFromRow(row);
    if (held.state !== HeldDriveState.DueForDestruction) {
      throw new DomainError('TransitionNotAllowed', `Held drive ${heldDriveId} is ${held.state}; only drives due for destruction (90 days unclaimed) may be destroyed.`, { target: 'state' });
    }
    const destroyedAt = input.destroyedAt ? parseDate(input.destroyedAt) : now;
    await changeHeld(tx, now, heldDriveId, HeldDriveEvent.Destroy, call.by ?? null, null, CustodyKind.Destroyed, { method, destroyedBy, witness: input.witness ?? null });
    const cert = await certificate(tx, { driveId: held.driveId, jobId: held.jobId, jobName: held.jobName, subscriptionId: held.subscriptionId, heldDriveId, method, destroyedBy, witness: input.witness ?? null, destroyedAt, recordedBy: call.by ?? null, now });
    await tx.insertInto('destructions').values({ drive_id: held.driveId, job_id: held.jobId, held_drive_id: heldDriveId, method, destroyed_by: destroyedBy, destroyed_at: destroyedAt, recorded_by: call.by ?? null, certificate: JSON.stringify(cert) }).execute();
    await tx.updateTable('operator_tasks').set({ status: TaskStatus.Closed, closed_at: now, closed_by: call.by ?? null, close_note: 'destroyed' })
      .where('held_drive_id', '=', heldDriveId).where('kind', '=', TaskKind.DestroyDrives).where('status', '=', TaskStatus.Open).execute();
    return cert;
  });
}

/** Records the destruction of a job's drive that is due for destruction (return address unreachable for 90 days). */
export async function recordJobDriveDestruction(call: OperatorCall, jobId: number, driveId: string, input: DestructionInput): Promise<DestructionCertificate> {
  const method = text(input?.method, 'method');
  const destroyedBy = text(input?.destroyedBy, 'destroyedBy');
  let cert!: DestructionCertificate;
  await call.store.changeJob(jobId, { actor: Actor.Operator, actorId: call.by ?? null }, (w) => {
    const d = w.drive(driveId);
    const due = (w.job.extensions.drivesDueForDestruction as string[] | undefined) ?? [];
    const destroyed = (w.job.extensions.destroyedDrives as string[] | undefined) ?? [];
    if (destroyed.some((x) => lower(x) === lower(d.driveId))) throw new DomainError('AlreadyExists', `Drive ${d.driveId} was already destroyed.`);
    if (!due.some((x) => lower(x) === lower(d.driveId))) {
      throw new DomainError('TransitionNotAllowed', `Drive ${d.driveId} is not due for destruction; only drives unclaimed for 90 days may be destroyed.`, { target: 'driveId' });
    }
    const destroyedAt = input.destroyedAt ? parseDate(input.destroyedAt) : w.now;
    w.set({ extensions: { ...w.job.extensions, destroyedDrives: [...destroyed, d.driveId] } });
    w.note('driveDestroyed', 'DriveSecurelyDestroyed', `Drive ${d.driveId} was securely destroyed (${method}).`, { method, destroyedAt }, d.driveId);
    w.inTransaction(async (tx) => {
      const ops = asOps(tx);
      await recordCustody(ops, w.now, [{ driveId: d.driveId, kind: CustodyKind.Destroyed, jobId, subscriptionId: w.job.subscriptionId, jobName: w.job.name, by: call.by ?? null, detail: { method, destroyedBy, witness: input.witness ?? null } }]);
      cert = await certificate(ops, { driveId: d.driveId, jobId, jobName: w.job.name, subscriptionId: w.job.subscriptionId, heldDriveId: null, method, destroyedBy, witness: input.witness ?? null, destroyedAt, recordedBy: call.by ?? null, now: w.now });
      await ops.insertInto('destructions').values({ drive_id: d.driveId, job_id: jobId, held_drive_id: null, method, destroyed_by: destroyedBy, destroyed_at: destroyedAt, recorded_by: call.by ?? null, certificate: JSON.stringify(cert) }).execute();
    });
  });
  return cert;
}

export async function getCertificates(call: OperatorCall, driveId: string): Promise<DestructionCertificate[]> {
  const rows = await opsDb(call.store).selectFrom('destructions').select('certificate').where('drive_id', 'in', [driveId, driveId.toUpperCase(), driveId.toLowerCase()]).orderBy('id').execute();
  return rows.map((r) => fromJson<DestructionCertificate>(r.certificate));
}

async function certificate(tx: Tx, c: { driveId: string; jobId: number | null; jobName: string | null; subscriptionId: string | null; heldDriveId: number | null; method: string; destroyedBy: string; witness: string | null; destroyedAt: Date; recordedBy: string | null; now: Date }): Promise<DestructionCertificate> {
  const chain = await custodyChain(tx, c.driveId, { jobId: c.jobId, heldDriveId: c.heldDriveId });
  return {
    certificateId: crypto.randomUUID(),
    kind: 'SecureDestructionCertificate',
    driveId: c.driveId,
    job: c.jobId != null || c.jobName ? { id: c.jobId ?? 0, name: c.jobName, subscriptionId: c.subscriptionId } : null,
    heldDriveId: c.heldDriveId,
    method: c.method,
    destroyedBy: c.destroyedBy,
    witness: c.witness,
    destroyedAt: c.destroyedAt.toISOString(),
    recordedBy: c.recordedBy,
    recordedAt: c.now.toISOString(),
    chainOfCustody: chain,
    statement: `Drive ${c.driveId} was securely destroyed by ${c.destroyedBy} on ${c.destroyedAt.toISOString()} using: ${c.method}. The chain of custody above lists every hand-over recorded from its receipt.`,
  };
}

function parseDate(s: string): Date {
  const d = new Date(s);
  if (Number.isNaN(d.getTime())) throw new DomainError('InvalidInput', "'destroyedAt' must be a date-time.", { target: 'destroyedAt' });
  return d;
}
