/**
 * The timer sweep: applies every due deadline, on the injected clock, idempotently. Its cost follows the number
 * of due rows (the `jobs_due` / `held_drives_due` / `return_address_flags_due` partial indexes), not the table size.
 *
 * - Rows are claimed in batches with FOR UPDATE SKIP LOCKED, so several sweepers (N workers on PostgreSQL) never
 *   take the same row; every action re-checks, under the lock or the job's version, that the deadline is still
 *   due, so a timer that fires late or twice changes nothing twice.
 * - Deletions (Creating 14 d, Completed/Closed 90 d) run in bulk inside the claiming transaction, each with its
 *   outbox notification; state changes (shipping alert, close unanswered) go through the store's unit of work.
 * - Warnings go out 3 days before a deletion or a close, once per deadline (jobs.deadline_warned_at).
 */
import { sql } from 'kysely';
import {
  AddressFlagState, CustodyKind, HeldDeadlineKind, HeldDriveEvent, HeldDriveState, TaskKind, nextHeldDeadline,
} from '../domain/custody.ts';
import { Actor, DriveState, JobState } from '../domain/states.ts';
import { DeadlineKind, nextDeadline, WARNED_DEADLINES, WARNING_BEFORE_MS } from '../domain/timers.ts';
import { DriveEvent, JobEvent } from '../domain/transitions.ts';
import { asOps, emitOutbox, inTx, openTask, recordCustody, type Tx } from '../operator/common.ts';
import { changeHeld } from '../operator/held.ts';
import { resolveAddressFlag, resolveChangedReturnAddresses } from '../operator/jobs.ts';
import { opsDb, toDate, fromJson } from '../operator/schema.ts';
import type { Store } from '../store/store.ts';

export interface SweepOptions {
  /** Rows claimed per transaction (default 500). */
  batchSize?: number;
  /** Parallel units of work for state changes (default 8 on PostgreSQL, 1 on PGlite). */
  concurrency?: number;
  /** Stop after this many actions (default: everything due). */
  maxActions?: number;
}

export interface SweepResult {
  now: string;
  deleted: number;
  shippingAlerts: number;
  closed: number;
  warnings: number;
  heldReturnAlerts: number;
  heldDueForDestruction: number;
  addressFlagsExpired: number;
  addressFlagsResolved: number;
  /** Due rows another sweeper or a concurrent change got first (nothing done twice). */
  skipped: number;
}

const DELETE_KINDS: Record<string, readonly JobState[]> = {
  [DeadlineKind.DeleteCreating]: [JobState.Creating],
  [DeadlineKind.DeleteFinished]: [JobState.Completed, JobState.Closed],
};
const DELETE_MESSAGES: Record<string, { code: string; message: string }> = {
  [DeadlineKind.DeleteCreating]: { code: 'CreatingExpired', message: 'The job stayed in Creating for 14 days without shipping information and was deleted.' },
  [DeadlineKind.DeleteFinished]: { code: 'RetentionExpired', message: 'The job finished 90 days ago; it was deleted with its history.' },
};

export async function sweepTimers(store: Store, opts: SweepOptions = {}): Promise<SweepResult> {
  const now = store.clock.now();
  const batch = opts.batchSize ?? 500;
  const concurrency = opts.concurrency ?? (store.database.kind === 'postgres' ? 8 : 1);
  const max = opts.maxActions ?? Number.POSITIVE_INFINITY;
  const r: SweepResult = {
    now: now.toISOString(), deleted: 0, shippingAlerts: 0, closed: 0, warnings: 0, heldReturnAlerts: 0,
    heldDueForDestruction: 0, addressFlagsExpired: 0, addressFlagsResolved: 0, skipped: 0,
  };
  const total = () => r.deleted + r.shippingAlerts + r.closed + r.heldReturnAlerts + r.heldDueForDestruction + r.addressFlagsExpired;

  // 1. Warnings first, so a customer hears before the action even when time jumps (simulated clock).
  for (;;) {
    const n = await warnBatch(store, now, batch);
    r.warnings += n;
    if (n < batch) break;
  }

  // 2. Job deadlines.
  let lastSeen: { at: Date; id: number } | null = null;
  while (total() < max) {
    const limit = Math.min(batch, max - total());
    const { deleted, changes, claimed, last } = await claimJobBatch(store, now, limit, lastSeen);
    r.deleted += deleted;
    await pool(changes, concurrency, async (c) => {
      const outcome = await applyJobTimer(store, c.id, c.kind);
      if (outcome === 'alerted') r.shippingAlerts++;
      else if (outcome === 'closed') r.closed++;
      else r.skipped++;
    });
    if (claimed < limit) break;
    lastSeen = last;
  }

  // 3. Held drives. After a jump in time a drive may owe both its timers (return alert at 14 d, destruction at
  // 90 d): loop until nothing due is left, passing over rows another sweeper holds.
  const heldSkipped = new Set<number>();
  for (;;) {
    let q = opsDb(store).selectFrom('held_drives').select(['id', 'deadline_kind']).where('deadline_at', '<=', now);
    if (heldSkipped.size > 0) q = q.where('id', 'not in', [...heldSkipped]);
    const due = await q.orderBy('deadline_at').orderBy('id').limit(batch).execute();
    if (due.length === 0) break;
    for (const h of due) {
      const outcome = await applyHeldTimer(store, Number(h.id), now);
      if (outcome === 'returnAlert') r.heldReturnAlerts++;
      else if (outcome === 'dueForDestruction') r.heldDueForDestruction++;
      else {
        r.skipped++;
        heldSkipped.add(Number(h.id));
      }
    }
  }

  // 4. Return address flags (90 days unreachable).
  const flags = await opsDb(store).selectFrom('return_address_flags').select(['id', 'job_id'])
    .where('deadline_at', '<=', now).where('status', '=', AddressFlagState.Open).orderBy('deadline_at').limit(batch * 10).execute();
  if (flags.length > 0) {
    const resolved = await resolveChangedReturnAddresses({ store, by: 'system' }, flags.map((f) => Number(f.job_id)));
    r.addressFlagsResolved += resolved.length;
    for (const f of flags) {
      if (resolved.includes(Number(f.id))) continue;
      if (await expireAddressFlag(store, Number(f.job_id), Number(f.id))) r.addressFlagsExpired++;
      else r.skipped++;
    }
  }
  return r;
}

interface DueChange { id: number; kind: string }

/** Claims a batch of due jobs; deletes the deletable ones in the same transaction; returns the rest to change. */
async function claimJobBatch(store: Store, now: Date, limit: number, after: { at: Date; id: number } | null) {
  return inTx(store, async (tx) => {
    let q = tx.selectFrom('jobs').select(['id', 'deadline_kind', 'deadline_at', 'state'])
      .where('deadline_at', '<=', now);
    // Rows left for the unit-of-work path stay due until changed: page past them instead of claiming them again.
    if (after) q = q.where((eb) => eb.or([eb('deadline_at', '>', after.at), eb.and([eb('deadline_at', '=', after.at), eb('id', '>', after.id)])]));
    const rows = await q.orderBy('deadline_at').orderBy('id').limit(limit).forUpdate().skipLocked().execute();
    const toDelete = rows.filter((row) => row.deadline_kind && DELETE_KINDS[row.deadline_kind]?.includes(row.state as JobState));
    const changes = rows.filter((row) => !toDelete.includes(row)).map((row) => ({ id: Number(row.id), kind: row.deadline_kind ?? '' }));
    let deleted = 0;
    if (toDelete.length > 0) {
      const gone = await tx.deleteFrom('jobs').where('id', 'in', toDelete.map((row) => Number(row.id))).where('deadline_at', '<=', now)
        .returning(['id', 'subscription_id', 'resource_group', 'name', 'state', 'deadline_kind', 'return_address']).execute();
      deleted = gone.length;
      if (gone.length > 0) {
        await tx.insertInto('outbox').values(gone.map((g) => {
          const why = DELETE_MESSAGES[g.deadline_kind ?? ''] ?? { code: 'Deleted', message: 'The job was deleted.' };
          const email = (fromJson<Record<string, unknown> | null>(g.return_address) ?? {}).email;
          return {
            event_id: null, subscription_id: g.subscription_id, job_id: Number(g.id), topic: 'job.deleted', created_at: now,
            payload: JSON.stringify({
              event: 'deleted', jobName: g.name, resourceGroup: g.resource_group, fromState: g.state, toState: null, reasonCode: why.code, message: why.message,
              recipientEmail: typeof email === 'string' ? email : undefined, at: now,
            }),
          };
        })).execute();
      }
    }
    const last = rows.length > 0 ? { at: toDate(rows[rows.length - 1].deadline_at), id: Number(rows[rows.length - 1].id) } : null;
    return { deleted, changes, claimed: rows.length, last };
  });
}

/** One job's due state change, re-checked inside its unit of work (idempotent). */
export async function applyJobTimer(store: Store, jobId: number, kind: string): Promise<'alerted' | 'closed' | 'skipped'> {
  try {
    const res = await store.changeJob(jobId, { actor: Actor.System, actorId: 'timer' }, (w) => {
      const due = nextDeadline(w.job);
      if (!due || due.kind !== kind || due.at > w.now || w.job.deadlineKind !== kind) return 'skipped' as const;
      if (kind === DeadlineKind.ShippingAlert) {
        w.set({ shippingAlertedAt: w.now });
        const marked: string[] = [];
        for (const d of w.drives) {
          if (d.isExtra || d.state !== DriveState.Specified) continue;
          w.applyDriveEvent(d.driveId, DriveEvent.MarkNeverReceived, { message: 'The package has not arrived 14 days after the job was shipped.' });
          marked.push(d.driveId);
        }
        const closeAt = new Date(w.now.getTime() + 30 * 86_400_000);
        w.note('shippingAlert', 'PackageNotReceived',
          `The package has not arrived at the data center. Contact us to extend the wait or cancel the job; without an answer it will be closed on ${closeAt.toISOString().slice(0, 10)}.`,
          { driveIds: marked, closeAt });
        w.inTransaction(async (tx) => {
          await openTask(asOps(tx), w.now, {
            kind: TaskKind.MissingPackage, jobId, subscriptionId: w.job.subscriptionId, jobName: w.job.name, driveIds: marked, by: 'timer',
            title: `The package of job ${w.job.name} has not arrived after 14 days: notify the customer, then extend the wait or cancel.`,
            detail: { deliveryPackage: w.job.deliveryPackage }, dedupeKey: `missingPackage:${jobId}:${due.at.toISOString()}`,
          });
        });
        return 'alerted' as const;
      }
      if (kind === DeadlineKind.CloseUnanswered) {
        for (const d of w.drives) if (!d.isExtra && d.state === DriveState.Specified) w.applyDriveEvent(d.driveId, DriveEvent.MarkNeverReceived);
        w.applyJobEvent(JobEvent.CloseUndelivered, { message: 'The package never arrived and nobody answered for 30 days: the job is closed.' });
        return 'closed' as const;
      }
      return 'skipped' as const;
    });
    return res.result;
  } catch (e) {
    if ((e as { code?: string }).code === 'NotFound') return 'skipped';
    throw e;
  }
}

async function warnBatch(store: Store, now: Date, limit: number): Promise<number> {
  return inTx(store, async (tx) => {
    const horizon = new Date(now.getTime() + WARNING_BEFORE_MS);
    const rows = await tx.selectFrom('jobs')
      .select(['id', 'subscription_id', 'resource_group', 'name', 'state', 'deadline_at', 'deadline_kind', 'return_address', 'state_entered_at', 'updated_at', 'shipping_alerted_at', 'shipping_extended_until'])
      .where('deadline_at', '<=', horizon)
      .where('deadline_kind', 'in', [...WARNED_DEADLINES])
      .where(sql<boolean>`deadline_warned_at is distinct from deadline_at`)
      .orderBy('deadline_at').orderBy('id').limit(limit).forUpdate().skipLocked().execute();
    if (rows.length === 0) return 0;
    for (const row of rows) {
      await tx.updateTable('jobs').set({ deadline_warned_at: row.deadline_at }).where('id', '=', Number(row.id)).execute();
    }
    await tx.insertInto('outbox').values(rows.map((row) => {
      const at = toDate(row.deadline_at);
      const d = nextDeadline({
        state: row.state as JobState, stateEnteredAt: toDate(row.state_entered_at), updatedAt: toDate(row.updated_at),
        shippingAlertedAt: row.shipping_alerted_at ? toDate(row.shipping_alerted_at) : null, shippingExtendedUntil: row.shipping_extended_until ? toDate(row.shipping_extended_until) : null,
      });
      const email = (fromJson<Record<string, unknown> | null>(row.return_address) ?? {}).email;
      return {
        event_id: null, subscription_id: row.subscription_id, job_id: Number(row.id), topic: 'job.deadlineWarning', created_at: now,
        payload: JSON.stringify({
          event: 'deadlineWarning', jobName: row.name, resourceGroup: row.resource_group, state: row.state, deadlineKind: row.deadline_kind,
          dueAt: at.toISOString(), reasonCode: 'DeadlineApproaching', message: `${d?.description ?? 'A timer will act on the job.'} Due ${at.toISOString()}.`,
          recipientEmail: typeof email === 'string' ? email : undefined, at: now,
        }),
      };
    })).execute();
    return rows.length;
  });
}

async function applyHeldTimer(store: Store, id: number, now: Date): Promise<'returnAlert' | 'dueForDestruction' | 'skipped'> {
  return inTx(store, async (tx) => {
    const row = await tx.selectFrom('held_drives').selectAll().where('id', '=', id).forUpdate().skipLocked().executeTakeFirst();
    if (!row || !row.deadline_at || toDate(row.deadline_at) > now || row.state !== HeldDriveState.Held) return 'skipped';
    const base = { jobId: row.job_id == null ? null : Number(row.job_id), subscriptionId: row.subscription_id, jobName: row.job_name, heldDriveId: id, driveIds: [row.drive_id], by: 'timer' };
    if (row.deadline_kind === HeldDeadlineKind.ReturnHeld) {
      const next = nextHeldDeadline({ state: HeldDriveState.Held, receivedAt: toDate(row.received_at), returnAlertedAt: now });
      await tx.updateTable('held_drives').set({ return_alerted_at: now, deadline_at: next?.at ?? null, deadline_kind: next?.kind ?? null }).where('id', '=', id).execute();
      await openTask(tx, now, {
        ...base, kind: TaskKind.ReturnHeldDrives, dedupeKey: `returnHeld:${id}`,
        title: `Held drive ${row.drive_id}${row.job_name ? ` (job ${row.job_name})` : ''}: no answer for 14 days, return it to the sender.`,
      });
      return 'returnAlert';
    }
    if (row.deadline_kind === HeldDeadlineKind.DestroyUnclaimed) {
      await changeHeld(tx, now, id, HeldDriveEvent.MarkForDestruction, 'timer', 'Unclaimed for 90 days.', CustodyKind.MarkedForDestruction);
      await openTask(tx, now, {
        ...base, kind: TaskKind.DestroyDrives, dedupeKey: `destroyHeld:${id}`,
        title: `Held drive ${row.drive_id} could not be returned and nobody answered for 90 days: securely destroy it and record the certificate.`,
      });
      if (row.subscription_id && row.job_id != null) {
        await emitOutbox(tx, now, { topic: 'job.drivesDueForDestruction', subscriptionId: row.subscription_id, jobId: Number(row.job_id), payload: { jobName: row.job_name, driveIds: [row.drive_id], message: 'The held drive was unclaimed for 90 days and will be securely destroyed.' } });
      }
      return 'dueForDestruction';
    }
    return 'skipped';
  });
}

async function expireAddressFlag(store: Store, jobId: number, flagId: number): Promise<boolean> {
  const res = await store.changeJob(jobId, { actor: Actor.System, actorId: 'timer' }, (w) => {
    const flag = w.job.extensions.returnAddressProblem as Record<string, unknown> | undefined;
    if (!flag) return false;
    const due = w.drives.filter((d) => d.state !== DriveState.NeverReceived && d.state !== DriveState.ShippedBack).map((d) => d.driveId);
    const ext = { ...w.job.extensions, drivesDueForDestruction: due, returnAddressProblem: { ...flag, expiredAt: w.now.toISOString() } };
    delete (ext.returnAddressProblem as Record<string, unknown>).destroyDrivesAt;
    w.set({ extensions: ext });
    w.note('drivesDueForDestruction', 'ReturnAddressUnreachable', 'The return address stayed wrong or missing and we could not reach you for 90 days: the drives will be securely destroyed.', { driveIds: due });
    w.inTransaction(async (tx) => {
      const ops = asOps(tx);
      const u = await ops.updateTable('return_address_flags').set({ status: AddressFlagState.Expired, resolved_at: w.now, resolution: 'unreachable for 90 days', deadline_at: null })
        .where('id', '=', flagId).where('status', '=', AddressFlagState.Open).returning('id').executeTakeFirst();
      if (!u) throw new SkipError();
      await recordCustody(ops, w.now, due.map((driveId) => ({ driveId, kind: CustodyKind.MarkedForDestruction, jobId, subscriptionId: w.job.subscriptionId, jobName: w.job.name, by: 'timer' })));
      await openTask(ops, w.now, {
        kind: TaskKind.DestroyDrives, jobId, subscriptionId: w.job.subscriptionId, jobName: w.job.name, driveIds: due, by: 'timer', dedupeKey: `destroyUnreachable:${flagId}`,
        title: `Job ${w.job.name}: return address unreachable for 90 days; securely destroy its drives and record the certificates.`,
      });
    });
    return true;
  }).catch((e) => {
    if (e instanceof SkipError) return null;
    throw e;
  });
  return res?.result ?? false;
}
class SkipError extends Error {}

async function pool<T>(items: T[], n: number, fn: (t: T) => Promise<void>): Promise<void> {
  let i = 0;
  const workers = Array.from({ length: Math.max(1, Math.min(n, items.length)) }, async () => {
    while (i < items.length) await fn(items[i++]);
  });
  await Promise.all(workers);
}

export { resolveAddressFlag };
export type { Tx };
