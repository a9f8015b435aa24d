/**
 * Receiving a package at the data center (§1.8 error tables, "Creating or Undefined", "Shipping", extra drives,
 * NeverReceived drives arriving late). One call per package: carrier, tracking number, the drive ids scanned.
 */
import { sql } from 'kysely';
import { DomainError } from '../domain/errors.ts';
import {
  CustodyKind, EXTRA_DRIVE_JOB_STATES, HeldDriveState, TaskKind, nextHeldDeadline,
} from '../domain/custody.ts';
import { Actor, DriveState, JobState, JobType, TERMINAL_JOB_STATES } from '../domain/states.ts';
import { DriveEvent, JOB_STATES_ACCEPTING_DRIVES, JOB_STATES_ACCEPTING_LATE_DRIVES } from '../domain/transitions.ts';
import type { DriveRecord, JobRecord } from '../store/records.ts';
import { asOps, emitOutbox, inTx, lower, openTask, recordCustody, uniqueIds, type OperatorCall, type Tx } from './common.ts';
import { opsDb } from './schema.ts';

export interface ReceivePackageInput {
  carrier: string;
  trackingNumber: string;
  /** Drive ids (hardware serial numbers) scanned from the package. */
  driveIds: string[];
  /** The job the package belongs to, when known; otherwise found by tracking number and by the drives. */
  jobId?: number;
}

export interface ReceivedDrive { jobId: number; jobName: string; driveId: string; from: DriveState; to: DriveState; late: boolean }
export interface HeldDriveOut { heldDriveId: number; driveId: string; jobId: number | null; reason: string; taskId: number }
export interface ReceivePackageResult {
  packageId: number;
  received: ReceivedDrive[];
  neverReceived: Array<{ jobId: number; driveId: string }>;
  extra: Array<{ jobId: number; driveId: string }>;
  held: HeldDriveOut[];
  /** Scanned again although already in the data center: nothing changed. */
  alreadyIn: Array<{ jobId: number; driveId: string; state: DriveState }>;
  jobs: Array<{ jobId: number; name: string; state: JobState }>;
  taskIds: number[];
}

export const HeldReason = {
  JobNotShipping: 'JobNotShipping',
  UnknownJob: 'UnknownJob',
  JobNotAcceptingDrives: 'JobNotAcceptingDrives',
} as const;

interface Listing { job: JobRecord; drive: DriveRecord }

/** Where each scanned drive goes. */
type Plan =
  | { kind: 'receive'; listing: Listing }
  | { kind: 'hold'; driveId: string; job: JobRecord | null; reason: string }
  | { kind: 'extra'; driveId: string; job: JobRecord }
  | { kind: 'exportDrive'; driveId: string; job: JobRecord }
  | { kind: 'alreadyIn'; listing: Listing };

export async function receivePackage(call: OperatorCall, input: ReceivePackageInput): Promise<ReceivePackageResult> {
  const { store } = call;
  const by = call.by ?? null;
  const carrier = String(input.carrier ?? '').trim();
  const trackingNumber = String(input.trackingNumber ?? '').trim();
  if (!carrier) throw new DomainError('InvalidInput', "'carrier' is required.", { target: 'carrier' });
  if (!trackingNumber) throw new DomainError('InvalidInput', "'trackingNumber' is required.", { target: 'trackingNumber' });
  if (!Array.isArray(input.driveIds) || input.driveIds.some((d) => typeof d !== 'string')) {
    throw new DomainError('InvalidInput', "'driveIds' must be a list of drive ids.", { target: 'driveIds' });
  }
  const driveIds = uniqueIds(input.driveIds);
  if (driveIds.length === 0) throw new DomainError('InvalidInput', 'A package needs at least one scanned drive id.', { target: 'driveIds' });
  if (driveIds.length > 1000) throw new DomainError('InvalidInput', 'At most 1000 drives per package.', { target: 'driveIds' });
  const now = store.clock.now();
  const db = opsDb(store);

  // Which jobs list these drives (drive ids are matched case-insensitively; the index is on the exact id).
  const variants = [...new Set(driveIds.flatMap((d) => [d, d.toUpperCase(), d.toLowerCase()]))];
  const listed = await db.selectFrom('drives').select(['job_id', 'drive_id']).where('drive_id', 'in', variants).where('is_extra', '=', false).execute();
  const jobIds = new Set(listed.map((r) => Number(r.job_id)));
  // The package's owner: named by the operator, or the job(s) that gave this tracking number.
  let owners: JobRecord[] = [];
  if (input.jobId !== undefined) {
    const j = await store.getJobById(input.jobId);
    if (!j) throw new DomainError('NotFound', `Job ${input.jobId} does not exist.`, { target: 'jobId' });
    owners = [j];
  } else {
    const byTracking = await db.selectFrom('jobs').select('id')
      .where(sql`lower(delivery_package->>'trackingNumber')`, '=', lower(trackingNumber))
      .where('delivery_package', 'is not', null)
      .where('state', 'not in', [...TERMINAL_JOB_STATES])
      .orderBy('id').execute();
    for (const r of byTracking) {
      const j = await store.getJobById(Number(r.id));
      if (j) owners.push(j);
    }
  }
  for (const o of owners) jobIds.add(o.id);
  const jobs = new Map<number, JobRecord>();
  const drivesOf = await store.getDrivesOfJobs([...jobIds]);
  for (const id of jobIds) {
    const j = owners.find((o) => o.id === id) ?? (await store.getJobById(id));
    if (j) jobs.set(id, j);
  }

  // Decide every drive.
  const plans: Plan[] = [];
  for (const driveId of driveIds) {
    const listings: Listing[] = [];
    for (const [jobId, drives] of drivesOf) {
      const drive = drives.find((d) => !d.isExtra && lower(d.driveId) === lower(driveId));
      const job = jobs.get(jobId);
      if (drive && job) listings.push({ job, drive });
    }
    const expected = listings.find((l) => JOB_STATES_ACCEPTING_DRIVES.includes(l.job.state) && (l.drive.state === DriveState.Specified || l.drive.state === DriveState.NeverReceived));
    const late = listings.find((l) => JOB_STATES_ACCEPTING_LATE_DRIVES.includes(l.job.state) && l.drive.state === DriveState.NeverReceived);
    const creating = listings.find((l) => l.job.state === JobState.Creating);
    const inHouse = listings.find((l) => !TERMINAL_JOB_STATES.includes(l.job.state) && l.drive.state !== DriveState.Specified && l.drive.state !== DriveState.NeverReceived);
    const waiting = listings.find((l) => !TERMINAL_JOB_STATES.includes(l.job.state) && (l.drive.state === DriveState.Specified || l.drive.state === DriveState.NeverReceived));
    const owner = owners.find((o) => EXTRA_DRIVE_JOB_STATES.includes(o.state));
    if (expected ?? late) plans.push({ kind: 'receive', listing: (expected ?? late)! });
    else if (creating) plans.push({ kind: 'hold', driveId, job: creating.job, reason: HeldReason.JobNotShipping });
    else if (inHouse) plans.push({ kind: 'alreadyIn', listing: inHouse });
    else if (waiting) plans.push({ kind: 'hold', driveId, job: waiting.job, reason: HeldReason.JobNotAcceptingDrives });
    else if (owner && owner.state === JobState.Creating) plans.push({ kind: 'hold', driveId, job: owner, reason: HeldReason.JobNotShipping });
    else if (owner && owner.jobType === JobType.Export && JOB_STATES_ACCEPTING_DRIVES.includes(owner.state) && (drivesOf.get(owner.id) ?? []).filter((d) => !d.isExtra).length === 0) {
      plans.push({ kind: 'exportDrive', driveId, job: owner });
    } else if (owner) plans.push({ kind: 'extra', driveId, job: owner });
    else plans.push({ kind: 'hold', driveId, job: null, reason: HeldReason.UnknownJob });
  }
  // Export jobs without a drive list: every drive of the package is the job's.
  for (const p of plans) {
    if (p.kind === 'extra' && p.job.jobType === JobType.Export && plans.some((q) => q.kind === 'exportDrive' && q.job.id === p.job.id)) {
      Object.assign(p, { kind: 'exportDrive' });
    }
  }

  const pkg = await db.insertInto('packages').values({
    carrier, tracking_number: trackingNumber, direction: 'inbound', job_id: owners[0]?.id ?? plans.find((p) => p.kind === 'receive')?.listing.job.id ?? null,
    drive_ids: JSON.stringify(driveIds), drive_count: driveIds.length, received_at: now, recorded_by: by, created_at: now,
  }).returning('id').executeTakeFirstOrThrow();
  const packageId = Number(pkg.id);
  const out: ReceivePackageResult = { packageId, received: [], neverReceived: [], extra: [], held: [], alreadyIn: [], jobs: [], taskIds: [] };
  for (const p of plans) if (p.kind === 'alreadyIn') out.alreadyIn.push({ jobId: p.listing.job.id, driveId: p.listing.drive.driveId, state: p.listing.drive.state });

  // Jobs that get drives (received, extra, export): one transaction each, with custody records and tasks.
  const touched = new Set<number>();
  for (const p of plans) {
    if (p.kind === 'receive') touched.add(p.listing.job.id);
    if (p.kind === 'extra' || p.kind === 'exportDrive') touched.add(p.job.id);
  }
  // The package's own jobs in Shipping also learn which of their drives it lacked.
  for (const o of owners) if (JOB_STATES_ACCEPTING_DRIVES.includes(o.state)) touched.add(o.id);
  for (const jobId of touched) {
    const mine = plans.filter((p) => (p.kind === 'receive' ? p.listing.job.id : p.kind === 'extra' || p.kind === 'exportDrive' ? p.job.id : -1) === jobId);
    const isPackageOfJob = owners.some((o) => o.id === jobId) || mine.some((p) => p.kind === 'receive');
    const res = await store.changeJob(jobId, { actor: Actor.Operator, actorId: by }, (w) => {
      const custody: Parameters<typeof recordCustody>[2] = [];
      const base = { jobId, subscriptionId: w.job.subscriptionId, jobName: w.job.name, packageId, by };
      const received: ReceivedDrive[] = [];
      const extra: string[] = [];
      for (const p of mine) {
        if (p.kind === 'receive') {
          const d = w.findDrive(p.listing.drive.driveId);
          if (!d || (d.state !== DriveState.Specified && d.state !== DriveState.NeverReceived)) continue;
          const from = d.state;
          const dec = w.applyDriveEvent(d.driveId, DriveEvent.Receive, { data: { packageId, carrier, trackingNumber } });
          received.push({ jobId, jobName: w.job.name, driveId: d.driveId, from, to: dec.to, late: from === DriveState.NeverReceived });
          custody.push({ ...base, driveId: d.driveId, kind: CustodyKind.Received, detail: { carrier, trackingNumber, late: from === DriveState.NeverReceived } });
        } else if (p.kind === 'extra' || p.kind === 'exportDrive') {
          if (w.findDrive(p.driveId)) continue;
          const isExtra = p.kind === 'extra';
          w.addDrive(newArrivedDrive(jobId, p.driveId, w.drives.length, now, isExtra));
          w.note(isExtra ? 'extraDrive' : 'receive', isExtra ? 'ExtraDrive' : 'DriveReceived',
            isExtra ? `Drive ${p.driveId} came in the job's package but is not in its drive list: it will not be processed and is returned with the job.`
              : `Drive ${p.driveId} arrived for the export job.`,
            { packageId, carrier, trackingNumber }, p.driveId);
          if (isExtra) extra.push(p.driveId);
          else received.push({ jobId, jobName: w.job.name, driveId: p.driveId, from: DriveState.Received, to: DriveState.Received, late: false });
          custody.push({ ...base, driveId: p.driveId, kind: isExtra ? CustodyKind.Extra : CustodyKind.Received, detail: { carrier, trackingNumber } });
        }
      }
      // The package arrived without some of the job's drives: they are NeverReceived (a later package may still bring them).
      const missing: string[] = [];
      if (isPackageOfJob && JOB_STATES_ACCEPTING_DRIVES.includes(w.job.state)) {
        for (const d of w.drives) {
          if (d.isExtra || d.state !== DriveState.Specified) continue;
          w.applyDriveEvent(d.driveId, DriveEvent.MarkNeverReceived, { message: `The package (${carrier} ${trackingNumber}) arrived without this drive.`, data: { packageId } });
          missing.push(d.driveId);
        }
      }
      w.followDrives();
      w.inTransaction(async (tx) => {
        const ops = asOps(tx);
        await recordCustody(ops, now, custody);
        if (missing.length > 0) {
          const taskId = await openTask(ops, now, {
            kind: TaskKind.MissingDrives, title: `Package ${carrier} ${trackingNumber} of job ${w.job.name} arrived without ${missing.length} drive(s); accept a partial delivery or wait for them.`,
            jobId, subscriptionId: w.job.subscriptionId, jobName: w.job.name, driveIds: missing, by, dedupeKey: `missingDrives:${jobId}:${packageId}`,
          });
          out.taskIds.push(taskId);
        }
      });
      return { received, extra, missing };
    });
    out.received.push(...res.result.received);
    out.extra.push(...res.result.extra.map((driveId) => ({ jobId, driveId })));
    out.neverReceived.push(...res.result.missing.map((driveId) => ({ jobId, driveId })));
    out.jobs.push({ jobId, name: res.job.name, state: res.job.state });
  }

  // Held drives: recorded, not processed; a task asks operators to contact the customer.
  const holds = plans.filter((p): p is Extract<Plan, { kind: 'hold' }> => p.kind === 'hold');
  if (holds.length > 0) {
    await inTx(store, async (tx) => {
      const byJob = new Map<number | null, typeof holds>();
      for (const h of holds) byJob.set(h.job?.id ?? null, [...(byJob.get(h.job?.id ?? null) ?? []), h]);
      for (const [jobId, group] of byJob) {
        const job = group[0].job;
        const ids: Array<{ id: number; driveId: string; reason: string }> = [];
        for (const h of group) {
          const deadline = nextHeldDeadline({ state: HeldDriveState.Held, receivedAt: now });
          const row = await tx.insertInto('held_drives').values({
            drive_id: h.driveId, package_id: packageId, job_id: jobId, subscription_id: job?.subscriptionId ?? null, job_name: job?.name ?? null,
            state: HeldDriveState.Held, reason: h.reason, received_at: now, deadline_at: deadline?.at ?? null, deadline_kind: deadline?.kind ?? null,
          }).returning('id').executeTakeFirstOrThrow();
          ids.push({ id: Number(row.id), driveId: h.driveId, reason: h.reason });
          await recordCustody(tx, now, [{ driveId: h.driveId, kind: CustodyKind.Held, jobId, subscriptionId: job?.subscriptionId ?? null, jobName: job?.name ?? null, heldDriveId: Number(row.id), packageId, by, detail: { carrier, trackingNumber, reason: h.reason } }]);
        }
        const taskId = await openTask(tx, now, job
          ? {
            kind: TaskKind.ContactCustomer, jobId, subscriptionId: job.subscriptionId, jobName: job.name, driveIds: ids.map((i) => i.driveId), by,
            title: `Drives of job ${job.name} arrived while the job is ${job.state}: contact the customer to update the job to Shipping.`,
            detail: { heldDriveIds: ids.map((i) => i.id), packageId }, dedupeKey: `contactCustomer:${jobId}:${packageId}`,
          }
          : {
            kind: TaskKind.HeldDrives, driveIds: ids.map((i) => i.driveId), by,
            title: `Package ${carrier} ${trackingNumber} brought ${ids.length} drive(s) of no known job: find the sender.`,
            detail: { heldDriveIds: ids.map((i) => i.id), packageId, carrier, trackingNumber }, dedupeKey: `heldDrives:${packageId}`,
          });
        out.taskIds.push(taskId);
        if (job) {
          await emitOutbox(tx, now, {
            topic: 'job.drivesHeld', subscriptionId: job.subscriptionId, jobId,
            payload: { jobName: job.name, resourceGroup: job.resourceGroup, driveIds: ids.map((i) => i.driveId), message: `Drives of the job arrived while it is ${job.state}; they are held and not processed until the job is updated to Shipping.` },
          });
        }
        for (const i of ids) out.held.push({ heldDriveId: i.id, driveId: i.driveId, jobId, reason: i.reason, taskId });
      }
    });
  }
  return out;
}

function newArrivedDrive(jobId: number, driveId: string, position: number, now: Date, isExtra: boolean): DriveRecord {
  return {
    jobId, driveId, position, state: DriveState.Received,
    stateReason: isExtra ? { code: 'ExtraDrive', message: 'Not in the job\'s drive list; returned with the job without processing.' } : { code: 'DriveReceived', message: 'The drive arrived at the data center.' },
    faultedFrom: null, bitLockerKeyCipher: null, manifestFile: null, manifestHash: null, driveHeaderHash: null,
    bytesTotal: 0, bytesSucceeded: 0, objectsTotal: 0, objectsSucceeded: 0, objectsFailed: 0, objectsSkipped: 0,
    percentComplete: 0, phase: null, rateBps: 0, copyStatus: null, hasErrors: false, errorLogUri: null, verboseLogUri: null,
    manifestUri: null, isExtra, leaseOwner: null, leaseExpiresAt: null, stateEnteredAt: now,
  };
}

export type { Tx };
