/**
 * The timer sweep: applies every due deadline, on the injected clock, idempotently. Its cost follows the number
 * of due rows (the `jobs_due_order` / `held_drives_due` / `return_address_flags_due` partial indexes), not the table size.
 *
 * - Rows are claimed in batches with FOR UPDATE SKIP LOCKED, so several sweepers (N workers on PostgreSQL) never
 *   take the same row; every action re-checks, under the lock, that the deadline is still due, so a timer that
 *   fires late or twice changes nothing twice.
 * - Everything a batch does commits in the claiming transaction, set-based (a handful of statements per batch, not
 *   per job): deletions (Creating 14 d, Completed/Closed 90 d) with an outbox notification each; state changes
 *   (shipping alert, close unanswered) decided per job by the domain tables on a JobWork — the same unit of work
 *   `store.changeJob` runs (see `timerWork`) — then written in bulk: jobs and drives, one job_events row and one
 *   outbox row per event, the operator tasks (deduplicated) and a NOTIFY per job, as `changeJob` would.
 * - Held drives and return address flags go the same way (custody-sweep.ts): claimed in batches (a flag together
 *   with its job), each batch written set-based in its claiming transaction (held_drives, custody records, tasks,
 *   notices; a flag's job through the same batch path as the job timers, batches.ts).
 * - Warnings go out 3 days before a deletion or a close, once per deadline (jobs.deadline_warned_at).
 */
import { sql } from 'kysely';
import { TaskKind } from '../domain/custody.ts';
import { Actor, DriveState, JobState } from '../domain/states.ts';
import { DeadlineKind, nextDeadline, WARNED_DEADLINES, WARNING_BEFORE_MS } from '../domain/timers.ts';
import { DriveEvent, JobEvent } from '../domain/transitions.ts';
import { asOps, inTx, openTask, type NewTask, type Tx } from '../operator/common.ts';
import { resolveAddressFlag } from '../operator/jobs.ts';
import { toDate, fromJson } from '../operator/schema.ts';
import type { Store } from '../store/store.ts';
import { JobWork } from '../store/job-work.ts';
import type { JobRow } from '../store/schema.ts';
import { afterCursor, applyChangesInTx, insertOutbox, pageDue, type Cursor, type OutboxRow } from './batches.ts';
import { claimFlagBatch, claimHeldBatch } from './custody-sweep.ts';

export interface SweepOptions {
  /** Rows claimed per transaction (default 1000). */
  batchSize?: number;
  /**
   * Batches applied at once, each in its own transaction (default 2 on PostgreSQL — the server then uses more than
   * one core — and 1 on PGlite; at most 4). They are kept apart by the row locks, like separate sweepers.
   */
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
  const batch = opts.batchSize ?? 1000;
  const parallel = Math.max(1, Math.min(4, Math.floor(opts.concurrency ?? (store.database.kind === 'postgres' ? 2 : 1))));
  const max = opts.maxActions ?? Number.POSITIVE_INFINITY;
  const r: SweepResult = {
    now: now.toISOString(), deleted: 0, shippingAlerts: 0, closed: 0, warnings: 0, heldReturnAlerts: 0,
    heldDueForDestruction: 0, addressFlagsExpired: 0, addressFlagsResolved: 0, skipped: 0,
  };
  const total = () => r.deleted + r.shippingAlerts + r.closed + r.heldReturnAlerts + r.heldDueForDestruction + r.addressFlagsExpired;

  // 1. Warnings of deadlines coming within 3 days. A deadline already due is warned in the batch that applies it,
  // just before the action, so a customer hears first even when time jumps (simulated clock).
  let warnedAfter: Cursor = null;
  for (;;) {
    const { warned, claimed, last } = await warnBatch(store, now, batch, warnedAfter);
    r.warnings += warned;
    if (claimed < batch) break;
    warnedAfter = last;
  }

  // 2. Job deadlines, 3. held drives, 4. return address flags: each in batches claimed and applied in one
  // transaction, `parallel` claim loops at once (see `pageDue`).
  await pageDue(parallel, batch, () => max - total(), (limit, after) => claimJobBatch(store, now, limit, after), (res) => {
    r.warnings += res.warned;
    r.deleted += res.deleted;
    r.shippingAlerts += res.alerted;
    r.closed += res.closed;
    r.skipped += res.skipped;
  });

  // After a jump in time a held drive may owe both its timers (return alert at 14 d, destruction at 90 d): its
  // destruction deadline, already due, may sort before a loop's cursor; another pass takes it.
  for (let pass = 0; pass < 3; pass++) {
    let dueAgain = 0;
    await pageDue(parallel, batch, () => max - total(), (limit, after) => claimHeldBatch(store, now, limit, after), (res) => {
      r.heldReturnAlerts += res.returnAlerts;
      r.heldDueForDestruction += res.dueForDestruction;
      r.skipped += res.skipped;
      dueAgain += res.dueAgain;
    });
    if (dueAgain === 0) break;
  }

  await pageDue(parallel, batch, () => max - total(), (limit, after) => claimFlagBatch(store, now, limit, after), (res) => {
    r.addressFlagsExpired += res.expired;
    r.addressFlagsResolved += res.resolved;
    r.skipped += res.skipped;
  });
  return r;
}

type TimerOutcome = 'alerted' | 'closed' | 'skipped';
/**
 * Claims a batch of due jobs under FOR UPDATE SKIP LOCKED and applies them in the same transaction: a warning
 * first for a warned deadline nobody was warned about yet (time jumped, or the sweep ran late: the customer still
 * hears before the action, in the same commit), then the deletable jobs deleted in bulk, the others changed through
 * `applyChangesInTx`. Rows nothing applies to (not due by the domain's reckoning) are paged past by the caller's
 * cursor; their warning is recorded on the row (deadline_warned_at) so it is not sent twice.
 */
async function claimJobBatch(store: Store, now: Date, limit: number, after: Cursor) {
  return inTx(store, async (tx) => {
    let q = tx.selectFrom('jobs').selectAll().where('deadline_at', '<=', now);
    if (after) q = q.where(afterCursor(after));
    const rows = await q.orderBy('deadline_at').orderBy('id').limit(limit).forUpdate().skipLocked().execute();
    const unwarned = rows.filter((row) => needsWarning(row));
    const toDelete = rows.filter((row) => row.deadline_kind && DELETE_KINDS[row.deadline_kind]?.includes(row.state as JobState));
    const deleting = new Set(toDelete.map((row) => Number(row.id)));
    const toChange = rows.filter((row) => !deleting.has(Number(row.id)));
    const notices: OutboxRow[] = unwarned.map((row) => warningRow(row, now));
    let deleted = 0;
    if (toDelete.length > 0) {
      const gone = await tx.deleteFrom('jobs').where('id', 'in', [...deleting]).where('deadline_at', '<=', now)
        .returning(['id', 'subscription_id', 'resource_group', 'name', 'state', 'deadline_kind', 'return_address']).execute();
      deleted = gone.length;
      for (const g of gone) {
        const why = DELETE_MESSAGES[g.deadline_kind ?? ''] ?? { code: 'Deleted', message: 'The job was deleted.' };
        notices.push({
          subscription_id: g.subscription_id, job_id: Number(g.id), topic: 'job.deleted',
          payload: JSON.stringify({
            event: 'deleted', jobName: g.name, resourceGroup: g.resource_group, fromState: g.state, toState: null, reasonCode: why.code, message: why.message,
            recipientEmail: recipientEmail(g.return_address), at: now,
          }),
        });
      }
    }
    // Warnings before the deletion notices (outbox order is delivery order).
    await insertOutbox(tx, now, notices);
    const changed = await applyChangesInTx(store, tx, now, (toChange as unknown as JobRow[]).map((row) => ({
      row, actorId: 'timer', decide: (w, openTaskLater) => timerWork(w, Number(row.id), row.deadline_kind ?? '', openTaskLater),
    })));
    const outcomes = [...changed.outcomes.values()];
    // Warned but neither deleted nor changed (its deadline stays): remember the warning went out.
    const untouched = new Set(changed.untouched);
    const stillDue = unwarned.filter((row) => untouched.has(Number(row.id))).map((row) => Number(row.id));
    if (stillDue.length > 0) await tx.updateTable('jobs').set({ deadline_warned_at: sql`deadline_at` }).where('id', 'in', stillDue).execute();
    const last = rows.length > 0 ? { at: toDate(rows[rows.length - 1].deadline_at), id: Number(rows[rows.length - 1].id) } : null;
    return {
      deleted, alerted: outcomes.filter((o) => o === 'alerted').length, closed: outcomes.filter((o) => o === 'closed').length,
      skipped: changed.skipped, warned: unwarned.length, claimed: rows.length, last,
    };
  });
}

interface WarnFacts {
  id: unknown; subscription_id: string; resource_group: string; name: string; state: string; deadline_at: unknown; deadline_kind: string | null;
  deadline_warned_at?: unknown; return_address: unknown; state_entered_at: unknown; updated_at: unknown; shipping_alerted_at: unknown; shipping_extended_until: unknown;
}

const needsWarning = (row: WarnFacts) => row.deadline_kind != null && WARNED_DEADLINES.includes(row.deadline_kind as DeadlineKind)
  && row.deadline_at != null && (row.deadline_warned_at == null || toDate(row.deadline_warned_at).getTime() !== toDate(row.deadline_at).getTime());

function recipientEmail(returnAddress: unknown): string | undefined {
  const email = (fromJson<Record<string, unknown> | null>(returnAddress) ?? {}).email;
  return typeof email === 'string' ? email : undefined;
}

/** The customer's 3-day warning of a deadline that deletes or closes the job. */
function warningRow(row: WarnFacts, now: Date): OutboxRow {
  const at = toDate(row.deadline_at);
  const d = nextDeadline({
    state: row.state as JobState, stateEnteredAt: toDate(row.state_entered_at), updatedAt: toDate(row.updated_at),
    shippingAlertedAt: row.shipping_alerted_at ? toDate(row.shipping_alerted_at) : null, shippingExtendedUntil: row.shipping_extended_until ? toDate(row.shipping_extended_until) : null,
  });
  return {
    subscription_id: row.subscription_id, job_id: Number(row.id), topic: 'job.deadlineWarning',
    payload: JSON.stringify({
      event: 'deadlineWarning', jobName: row.name, resourceGroup: row.resource_group, state: row.state, deadlineKind: row.deadline_kind,
      dueAt: at.toISOString(), reasonCode: 'DeadlineApproaching', message: `${d?.description ?? 'A timer will act on the job.'} Due ${at.toISOString()}.`,
      recipientEmail: recipientEmail(row.return_address), at: now,
    }),
  };
}

/**
 * What a due job timer does, on a unit of work: the one place both paths (the batch below and `applyJobTimer`)
 * decide it. Re-checks that the deadline is still the job's next one and due; every state change goes through the
 * domain tables (applyJobEvent / applyDriveEvent). Tasks are handed to `openTaskLater`, written with the change.
 */
function timerWork(w: JobWork, jobId: number, kind: string, openTaskLater: (t: NewTask) => void): TimerOutcome {
  const due = nextDeadline(w.job);
  if (!due || due.kind !== kind || due.at > w.now || w.job.deadlineKind !== kind) return 'skipped';
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
    openTaskLater({
      kind: TaskKind.MissingPackage, jobId, subscriptionId: w.job.subscriptionId, jobName: w.job.name, driveIds: marked, by: 'timer',
      title: `The package of job ${w.job.name} has not arrived after 14 days: notify the customer, then extend the wait or cancel.`,
      detail: { deliveryPackage: w.job.deliveryPackage }, dedupeKey: `missingPackage:${jobId}:${due.at.toISOString()}`,
    });
    return 'alerted';
  }
  if (kind === DeadlineKind.CloseUnanswered) {
    for (const d of w.drives) if (!d.isExtra && d.state === DriveState.Specified) w.applyDriveEvent(d.driveId, DriveEvent.MarkNeverReceived);
    w.applyJobEvent(JobEvent.CloseUndelivered, { message: 'The package never arrived and nobody answered for 30 days: the job is closed.' });
    return 'closed';
  }
  return 'skipped';
}

/** One job's due state change through the store's unit of work (idempotent). The sweep uses the batch path. */
export async function applyJobTimer(store: Store, jobId: number, kind: string): Promise<TimerOutcome> {
  try {
    const res = await store.changeJob(jobId, { actor: Actor.System, actorId: 'timer' }, (w) =>
      timerWork(w, jobId, kind, (t) => w.inTransaction(async (tx) => {
        await openTask(asOps(tx), w.now, t);
      })));
    return res.result;
  } catch (e) {
    if ((e as { code?: string }).code === 'NotFound') return 'skipped';
    throw e;
  }
}

/**
 * Warns of deadlines 3 days out or closer that are not due yet (due ones are warned by `claimJobBatch`, in the
 * transaction that applies them), marking each as warned. Pages by (deadline_at, id) within a sweep, so rows
 * another sweeper holds are passed over, not waited for or read again.
 */
async function warnBatch(store: Store, now: Date, limit: number, after: Cursor) {
  return inTx(store, async (tx) => {
    const horizon = new Date(now.getTime() + WARNING_BEFORE_MS);
    let q = tx.selectFrom('jobs')
      .select(['id', 'subscription_id', 'resource_group', 'name', 'state', 'deadline_at', 'deadline_kind', 'return_address', 'state_entered_at', 'updated_at', 'shipping_alerted_at', 'shipping_extended_until'])
      .where('deadline_at', '<=', horizon)
      .where('deadline_at', '>', now)
      .where('deadline_kind', 'in', [...WARNED_DEADLINES])
      .where(sql<boolean>`deadline_warned_at is distinct from deadline_at`);
    if (after) q = q.where(afterCursor(after));
    const rows = await q.orderBy('deadline_at').orderBy('id').limit(limit).forUpdate().skipLocked().execute();
    if (rows.length === 0) return { warned: 0, claimed: 0, last: null };
    const last = { at: toDate(rows[rows.length - 1].deadline_at), id: Number(rows[rows.length - 1].id) };
    await tx.updateTable('jobs').set({ deadline_warned_at: sql`deadline_at` }).where('id', 'in', rows.map((row) => Number(row.id))).execute();
    await insertOutbox(tx, now, rows.map((row) => warningRow(row, now)));
    return { warned: rows.length, claimed: rows.length, last };
  });
}

export { resolveAddressFlag };
export type { Tx };
