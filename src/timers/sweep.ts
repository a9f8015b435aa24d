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
 * - Held drives and return address flags go the same way: claimed in batches (a flag together with its job), each
 *   batch written set-based in its claiming transaction (held_drives, custody records, tasks, notices; a flag's job
 *   through the same batch path as the job timers).
 * - Warnings go out 3 days before a deletion or a close, once per deadline (jobs.deadline_warned_at).
 */
import { sql } from 'kysely';
import { DomainError } from '../domain/errors.ts';
import { drivePercent, jobPercent } from '../domain/progress.ts';
import {
  AddressFlagState, CustodyKind, HeldDeadlineKind, HeldDriveEvent, HeldDriveState, TASK_DUE_MS, TaskKind, TaskStatus, decideHeldDrive, nextHeldDeadline,
} from '../domain/custody.ts';
import { Actor, DriveState, FINISHED_DRIVE_STATES, JobState, TERMINAL_DRIVE_STATES } from '../domain/states.ts';
import { DeadlineKind, nextDeadline, WARNED_DEADLINES, WARNING_BEFORE_MS } from '../domain/timers.ts';
import { DriveEvent, JobEvent } from '../domain/transitions.ts';
import { asOps, inTx, openTask, recordCustody, type CustodyInput, type NewTask, type Tx } from '../operator/common.ts';
import { addressHash, resolveAddressFlag } from '../operator/jobs.ts';
import { opsDb, toDate, fromJson } from '../operator/schema.ts';
import type { Store } from '../store/store.ts';
import { JobWork } from '../store/job-work.ts';
import { driveFromRow, jobFromRow, type DriveRecord } from '../store/records.ts';
import type { DriveRow, JobRow } from '../store/schema.ts';
import { currentRequestId } from '../observability/request-context.ts';

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
type Cursor = { at: Date; id: number } | null;

/**
 * Rows after the cursor in (deadline_at, id) order, as a row comparison: the index scan starts at the cursor.
 * (Spelled `deadline_at > x or (deadline_at = x and id > y)` it was a filter, and each batch read again every due
 * row before its cursor: quadratic in the number due.)
 */
const afterCursor = (c: NonNullable<Cursor>) => sql<boolean>`(deadline_at, id) > (${c.at.toISOString()}::timestamptz, ${c.id}::bigint)`;

/**
 * `parallel` claim loops over due rows, each paging with its own (deadline_at, id) cursor; rows one loop holds, the
 * others pass over (SKIP LOCKED), like separate sweepers. A loop stops when a batch comes back short (nothing due
 * is left that nobody holds) or when `room()` (actions still allowed) runs out.
 */
async function pageDue<T extends { claimed: number; last: Cursor }>(
  parallel: number, batch: number, room: () => number, claim: (limit: number, after: Cursor) => Promise<T>, add: (res: T) => void,
): Promise<void> {
  let reserved = 0;
  const loop = async () => {
    let after: Cursor = null;
    for (;;) {
      const limit = Math.min(batch, room() - reserved);
      if (limit <= 0) return;
      reserved += limit;
      let res: T;
      try {
        res = await claim(limit, after);
      } finally {
        reserved -= limit;
      }
      add(res);
      if (res.claimed < limit) return;
      after = res.last;
    }
  };
  await Promise.all(Array.from({ length: parallel }, loop));
}

const cursorOf = (rows: Array<{ deadline_at: unknown; id: unknown }>): Cursor =>
  rows.length > 0 ? { at: toDate(rows[rows.length - 1].deadline_at), id: Number(rows[rows.length - 1].id) } : null;

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

/** An outbox row that is not a job event (event_id null); payload is JSON text. */
interface OutboxRow { subscription_id: string | null; job_id: number | null; topic: string; payload: string }

/** Writes outbox rows in one statement, in the given order (one parameter, however many rows). */
async function insertOutbox(tx: Tx, now: Date, rows: OutboxRow[]): Promise<void> {
  if (rows.length === 0) return;
  await sql`
    insert into outbox (event_id, subscription_id, job_id, topic, payload, created_at, request_id)
    select null, subscription_id, job_id, topic, payload::jsonb, ${now.toISOString()}::timestamptz, ${currentRequestId()}
    from jsonb_to_recordset(${JSON.stringify(rows.map((r, ord) => ({ ord, ...r })))}::jsonb)
      as v(ord integer, subscription_id text, job_id bigint, topic text, payload text)
    order by ord`.execute(tx);
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

const isFinished = (d: DriveRecord) => FINISHED_DRIVE_STATES.includes(d.state) || TERMINAL_DRIVE_STATES.includes(d.state);
const iso = (d: Date | null | undefined) => (d ? d.toISOString() : null);

/**
 * The batch path for state changes, on rows the caller holds FOR UPDATE: each job runs `timerWork` on a JobWork
 * (the domain decides per job, exactly as in `changeJob`), then everything is written set-based — one UPDATE for
 * the jobs (version + 1, deadline recomputed), one for the drives, one INSERT for job_events with their outbox
 * rows, one for the operator tasks (ON CONFLICT on the dedupe key) with theirs, and one statement of NOTIFYs.
 * A job the tables refuse (DomainError) is left alone and counted as skipped instead of failing the batch.
 */
/** One job of a batch: its locked row, who acts, and what the domain does to it (an outcome, or 'skipped'). */
interface BatchItem {
  row: JobRow;
  actorId: string;
  decide: (w: JobWork, openTaskLater: (t: NewTask) => void) => string;
}

async function applyChangesInTx(store: Store, tx: Tx, now: Date, items: BatchItem[]) {
  const out = { outcomes: new Map<number, string>(), skipped: 0, untouched: [] as number[] };
  const ids = items.map((it) => Number(it.row.id));
  // One array parameter, not a thousand.
  const driveRows = ids.length === 0 ? [] : await tx.selectFrom('drives').selectAll().where('job_id', '=', sql<number>`any(${ids}::bigint[])`)
    .orderBy('job_id').orderBy('position').orderBy('drive_id').execute();
  const drivesOf = new Map<number, DriveRecord[]>();
  for (const d of driveRows) {
    const rec = driveFromRow(d as DriveRow);
    const list = drivesOf.get(rec.jobId) ?? [];
    list.push(rec);
    drivesOf.set(rec.jobId, list);
  }
  const jobUpdates: Record<string, unknown>[] = [];
  const driveUpdates: Record<string, unknown>[] = [];
  const events: Array<{ jobId: number; subscriptionId: string; e: JobWork['events'][number] }> = [];
  const tasks: NewTask[] = [];
  for (const { row, actorId, decide } of items) {
    const job = jobFromRow(row);
    const drives = drivesOf.get(job.id) ?? [];
    const percentBefore = new Map(drives.map((d) => [d.driveId, d.percentComplete]));
    const w = new JobWork(job, drives, Actor.System, actorId, now);
    const pending: NewTask[] = [];
    let outcome: string;
    try {
      outcome = decide(w, (t) => pending.push(t));
    } catch (e) {
      if (e instanceof DomainError) {
        out.skipped++;
        out.untouched.push(job.id);
        continue;
      }
      throw e;
    }
    if (outcome === 'skipped') {
      out.skipped++;
      out.untouched.push(job.id);
      continue;
    }
    out.outcomes.set(job.id, outcome);
    tasks.push(...pending);
    if (w.newDrives.size > 0 || w.removedDrives.size > 0) throw new Error('A timer never adds or removes drives.');
    // Nothing changed on the job (as in store.changeJob): no row written, only the caller's side writes.
    if (!w.jobChanged && w.changedDrives.size === 0) continue;
    // As store.changeJobOnce computes them (system actor: updated_at stays).
    for (const d of w.drives) d.percentComplete = drivePercent({ ...d, finished: isFinished(d) });
    const j = w.job;
    const deadline = nextDeadline(j);
    jobUpdates.push({
      id: j.id, version: row.version, state: j.state, state_reason_code: j.stateReason.code, state_reason_message: j.stateReason.message,
      faulted_from: j.faultedFrom, state_entered_at: iso(j.stateEnteredAt), shipping_alerted_at: iso(j.shippingAlertedAt),
      shipping_extended_until: iso(j.shippingExtendedUntil), extensions: JSON.stringify(j.extensions ?? {}),
      percent_complete: jobPercent(w.drives.filter((d) => !d.isExtra).map((d) => ({ ...d, finished: isFinished(d) }))),
      deadline_at: iso(deadline?.at), deadline_kind: deadline?.kind ?? null,
    });
    for (const d of w.drives) {
      if (!w.changedDrives.has(d.driveId) && d.percentComplete === percentBefore.get(d.driveId)) continue;
      driveUpdates.push({
        job_id: j.id, drive_id: d.driveId, state: d.state, state_reason_code: d.stateReason.code, state_reason_message: d.stateReason.message,
        faulted_from: d.faultedFrom, state_entered_at: iso(d.stateEnteredAt), percent_complete: d.percentComplete,
      });
    }
    for (const e of w.events) events.push({ jobId: j.id, subscriptionId: j.subscriptionId, e });
  }
  if (jobUpdates.length === 0) {
    if (tasks.length > 0) await openTasks(tx, now, tasks);
    return out;
  }
  const at = now.toISOString();
  const requestId = currentRequestId();

  const updated = await sql<{ id: string }>`
    update jobs set state = v.state, state_reason_code = v.state_reason_code, state_reason_message = v.state_reason_message,
      faulted_from = v.faulted_from, state_entered_at = v.state_entered_at, shipping_alerted_at = v.shipping_alerted_at,
      shipping_extended_until = v.shipping_extended_until, extensions = v.extensions::jsonb, percent_complete = v.percent_complete,
      version = jobs.version + 1, deadline_at = v.deadline_at, deadline_kind = v.deadline_kind
    from jsonb_to_recordset(${JSON.stringify(jobUpdates)}::jsonb) as v(id bigint, version integer, state text, state_reason_code text,
      state_reason_message text, faulted_from text, state_entered_at timestamptz, shipping_alerted_at timestamptz,
      shipping_extended_until timestamptz, extensions text, percent_complete integer, deadline_at timestamptz, deadline_kind text)
    where jobs.id = v.id and jobs.version = v.version
    returning jobs.id`.execute(tx);
  // The rows are locked by this transaction: a version mismatch means a bug, not a race. Roll the batch back.
  if (updated.rows.length !== jobUpdates.length) throw new Error(`Timer batch: ${jobUpdates.length - updated.rows.length} job(s) changed under the row lock.`);

  if (driveUpdates.length > 0) {
    await sql`
      update drives set state = v.state, state_reason_code = v.state_reason_code, state_reason_message = v.state_reason_message,
        faulted_from = v.faulted_from, state_entered_at = v.state_entered_at, percent_complete = v.percent_complete
      from jsonb_to_recordset(${JSON.stringify(driveUpdates)}::jsonb) as v(job_id bigint, drive_id text, state text, state_reason_code text,
        state_reason_message text, faulted_from text, state_entered_at timestamptz, percent_complete integer)
      where drives.job_id = v.job_id and drives.drive_id = v.drive_id`.execute(tx);
  }

  // One statement takes the event ids from the sequence (sorted, so each job's events keep their order), writes the
  // events and their outbox rows (as the store's insertEvents does) and answers each job's last event id. Each
  // payload is sent once and read by both inserts: the event columns are its fields, the outbox payload is itself
  // plus eventId (before, the payload went as a second, escaped copy of the event and the ids took their own trip).
  const lastEventOf: Array<{ jobId: number; subscriptionId: string; id: number }> = [];
  if (events.length > 0) {
    const subscriptionOf = new Map(events.map(({ jobId, subscriptionId }) => [jobId, subscriptionId]));
    const evRows = events.map(({ jobId, subscriptionId, e }, i) => ({ ord: i + 1, job_id: jobId, subscription_id: subscriptionId, p: { ...e, at: now } }));
    const last = await sql<{ job_id: string; id: string }>`
      with ids as (
        select array_agg(n order by n) as a
        from (select nextval(pg_get_serial_sequence('job_events', 'id')) as n from generate_series(1, ${events.length}::int)) s
      ), v as (
        select ids.a[e.ord] as id, e.job_id, e.subscription_id, e.p
        from ids, jsonb_to_recordset(${JSON.stringify(evRows)}::jsonb) as e(ord integer, job_id bigint, subscription_id text, p jsonb)
      ), ev as (
        insert into job_events (id, job_id, subscription_id, drive_id, event, from_state, to_state, actor, actor_id, reason_code, message, data, at, request_id)
        select id, job_id, subscription_id, p->>'driveId', p->>'event', p->>'fromState', p->>'toState', p->>'actor', p->>'actorId',
          p->>'reasonCode', p->>'message', p->'data', ${at}::timestamptz, ${requestId}
        from v
      ), ob as (
        insert into outbox (event_id, subscription_id, job_id, topic, payload, created_at, request_id)
        select id, subscription_id, job_id, 'job.' || (p->>'event'), p || jsonb_build_object('eventId', id), ${at}::timestamptz, ${requestId}
        from v order by id
      )
      select job_id, max(id) as id from v group by job_id order by min(id)`.execute(tx);
    for (const r of last.rows) lastEventOf.push({ jobId: Number(r.job_id), subscriptionId: subscriptionOf.get(Number(r.job_id))!, id: Number(r.id) });
  }

  if (tasks.length > 0) await openTasks(tx, now, tasks);

  if (lastEventOf.length > 0) {
    const notices = lastEventOf.map(({ jobId, subscriptionId, id }) => JSON.stringify({ jobId, subscriptionId, lastEventId: id }));
    await sql`select pg_notify(${store.database.eventsChannel}, n) from jsonb_array_elements_text(${JSON.stringify(notices)}::jsonb) as n`.execute(tx);
  }
  return out;
}

/**
 * `openTask` for many tasks in one statement: a task whose dedupe key exists is not opened again (a timer firing
 * twice yields one task), and each task opened gets its operator notification (topic operator.taskOpened).
 */
async function openTasks(tx: Tx, now: Date, tasks: NewTask[]): Promise<void> {
  const at = now.toISOString();
  const rows = tasks.map((t, ord) => ({
    ord, kind: t.kind, job_id: t.jobId ?? null, subscription_id: t.subscriptionId ?? null, job_name: t.jobName ?? null,
    held_drive_id: t.heldDriveId ?? null, drive_ids: JSON.stringify(t.driveIds ?? []), title: t.title,
    detail: t.detail ? JSON.stringify(t.detail) : null, due_at: (t.dueAt ?? new Date(now.getTime() + TASK_DUE_MS[t.kind])).toISOString(),
    dedupe_key: t.dedupeKey ?? null, created_by: t.by ?? null,
  }));
  await sql`
    with v as (
      select * from jsonb_to_recordset(${JSON.stringify(rows)}::jsonb) as v(ord integer, kind text, job_id bigint, subscription_id text,
        job_name text, held_drive_id bigint, drive_ids text, title text, detail text, due_at timestamptz, dedupe_key text, created_by text)
    ), t as (
      insert into operator_tasks (kind, status, job_id, subscription_id, job_name, held_drive_id, drive_ids, title, detail, due_at, dedupe_key, created_at, created_by)
      select kind, ${TaskStatus.Open}, job_id, subscription_id, job_name, held_drive_id, drive_ids::jsonb, title, detail::jsonb, due_at, dedupe_key, ${at}::timestamptz, created_by
      from v order by ord
      on conflict (dedupe_key) do nothing
      returning id, kind, job_id, job_name, title, drive_ids
    )
    insert into outbox (event_id, subscription_id, job_id, topic, payload, created_at, request_id)
    select null, null, job_id, 'operator.taskOpened',
      jsonb_build_object('taskId', id, 'kind', kind, 'title', title, 'jobName', job_name, 'driveIds', drive_ids, 'at', ${at}::text),
      ${at}::timestamptz, ${currentRequestId()}
    from t order by id`.execute(tx);
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

const UNCLAIMED_NOTE = 'Unclaimed for 90 days.';

/**
 * Claims a batch of due held drives (FOR UPDATE SKIP LOCKED) and applies them in the claiming transaction, set-based:
 * one UPDATE of held_drives, one INSERT of custody records, one of operator tasks with their notifications, one of
 * customer notices. Per drive it does what `changeHeld` and `openTask` did one row at a time: after 14 days the
 * "return it" task (and the next deadline, destruction at 90 days); after 90 days the custody table's
 * MarkForDestruction, the destruction task and, for a known job, the customer's notice.
 */
async function claimHeldBatch(store: Store, now: Date, limit: number, after: Cursor) {
  return inTx(store, async (tx) => {
    let q = tx.selectFrom('held_drives').selectAll().where('deadline_at', '<=', now);
    if (after) q = q.where(afterCursor(after));
    const rows = await q.orderBy('deadline_at').orderBy('id').limit(limit).forUpdate().skipLocked().execute();
    const out = { returnAlerts: 0, dueForDestruction: 0, skipped: 0, dueAgain: 0, claimed: rows.length, last: cursorOf(rows) };
    const updates: Record<string, unknown>[] = [];
    const custody: CustodyInput[] = [];
    const tasks: NewTask[] = [];
    const notices: OutboxRow[] = [];
    for (const row of rows) {
      const id = Number(row.id);
      if (row.state !== HeldDriveState.Held) {
        out.skipped++;
        continue;
      }
      const receivedAt = toDate(row.received_at);
      const jobId = row.job_id == null ? null : Number(row.job_id);
      const base = { jobId, subscriptionId: row.subscription_id, jobName: row.job_name, heldDriveId: id, driveIds: [row.drive_id], by: 'timer' };
      const keep = {
        id, from_state: row.state, state: row.state, return_alerted_at: row.return_alerted_at == null ? null : iso(toDate(row.return_alerted_at)),
        resolved_at: row.resolved_at == null ? null : iso(toDate(row.resolved_at)), resolved_by: row.resolved_by, note: row.note,
      };
      if (row.deadline_kind === HeldDeadlineKind.ReturnHeld) {
        const next = nextHeldDeadline({ state: HeldDriveState.Held, receivedAt, returnAlertedAt: now });
        updates.push({ ...keep, return_alerted_at: iso(now), deadline_at: iso(next?.at), deadline_kind: next?.kind ?? null });
        if (next && next.at <= now) out.dueAgain++;
        tasks.push({
          ...base, kind: TaskKind.ReturnHeldDrives, dedupeKey: `returnHeld:${id}`,
          title: `Held drive ${row.drive_id}${row.job_name ? ` (job ${row.job_name})` : ''}: no answer for 14 days, return it to the sender.`,
        });
        out.returnAlerts++;
      } else if (row.deadline_kind === HeldDeadlineKind.DestroyUnclaimed) {
        let to: HeldDriveState;
        try {
          to = decideHeldDrive(row.state as HeldDriveState, HeldDriveEvent.MarkForDestruction);
        } catch (e) {
          if (!(e instanceof DomainError)) throw e;
          out.skipped++;
          continue;
        }
        const next = nextHeldDeadline({ state: to, receivedAt, returnAlertedAt: row.return_alerted_at == null ? null : toDate(row.return_alerted_at) });
        const terminal = to !== HeldDriveState.Held && to !== HeldDriveState.DueForDestruction;
        updates.push({
          ...keep, state: to, deadline_at: iso(next?.at), deadline_kind: next?.kind ?? null,
          resolved_at: terminal ? iso(now) : null, resolved_by: terminal ? 'timer' : null, note: UNCLAIMED_NOTE,
        });
        custody.push({ driveId: row.drive_id, kind: CustodyKind.MarkedForDestruction, jobId, subscriptionId: row.subscription_id, jobName: row.job_name, heldDriveId: id, by: 'timer', detail: { note: UNCLAIMED_NOTE } });
        tasks.push({
          ...base, kind: TaskKind.DestroyDrives, dedupeKey: `destroyHeld:${id}`,
          title: `Held drive ${row.drive_id} could not be returned and nobody answered for 90 days: securely destroy it and record the certificate.`,
        });
        if (row.subscription_id && jobId != null) {
          notices.push({
            subscription_id: row.subscription_id, job_id: jobId, topic: 'job.drivesDueForDestruction',
            payload: JSON.stringify({ jobName: row.job_name, driveIds: [row.drive_id], message: 'The held drive was unclaimed for 90 days and will be securely destroyed.', at: now }),
          });
        }
        out.dueForDestruction++;
      } else {
        out.skipped++;
      }
    }
    if (updates.length > 0) {
      const updated = await sql<{ id: string }>`
        update held_drives set state = v.state, return_alerted_at = v.return_alerted_at, deadline_at = v.deadline_at, deadline_kind = v.deadline_kind,
          resolved_at = v.resolved_at, resolved_by = v.resolved_by, note = v.note
        from jsonb_to_recordset(${JSON.stringify(updates)}::jsonb) as v(id bigint, from_state text, state text, return_alerted_at timestamptz,
          deadline_at timestamptz, deadline_kind text, resolved_at timestamptz, resolved_by text, note text)
        where held_drives.id = v.id and held_drives.state = v.from_state
        returning held_drives.id`.execute(tx);
      // The rows are locked by this transaction: a mismatch is a bug, not a race. Roll the batch back.
      if (updated.rows.length !== updates.length) throw new Error(`Held drive batch: ${updates.length - updated.rows.length} row(s) changed under the row lock.`);
    }
    await recordCustody(tx, now, custody);
    if (tasks.length > 0) await openTasks(tx, now, tasks);
    await insertOutbox(tx, now, notices);
    return out;
  });
}

const ADDRESS_RESOLUTION = 'The customer updated the return address.';

/**
 * Claims a batch of due return address flags together with their jobs (FOR UPDATE OF both, SKIP LOCKED: a flag
 * whose job another transaction holds waits for the next sweep, and nothing here waits for a lock, so it cannot
 * deadlock with a job change that locks the job and then its flag). Each job then goes through the batch path of
 * `store.changeJob`, as `resolveAddressFlag` (the customer changed the address since: the flag is resolved) or the
 * 90-day expiry (drives due for secure destruction) did one job at a time; flags, custody records and tasks are
 * written set-based in the same transaction.
 */
async function claimFlagBatch(store: Store, now: Date, limit: number, after: Cursor) {
  return inTx(store, async (tx) => {
    const cursor = after ? sql`and (f.deadline_at, f.id) > (${after.at.toISOString()}::timestamptz, ${after.id}::bigint)` : sql``;
    const found = await sql<JobRow & { flag_id: string; flag_deadline_at: unknown; flag_address_hash: string }>`
      select f.id as flag_id, f.deadline_at as flag_deadline_at, f.address_hash as flag_address_hash, j.*
      from return_address_flags f join jobs j on j.id = f.job_id
      where f.deadline_at <= ${now.toISOString()}::timestamptz and f.status = ${AddressFlagState.Open} ${cursor}
      order by f.deadline_at, f.id limit ${limit}
      for update of f, j skip locked`.execute(tx);
    const rows = found.rows;
    const out = {
      expired: 0, resolved: 0, skipped: 0, claimed: rows.length,
      last: cursorOf(rows.map((row) => ({ deadline_at: row.flag_deadline_at, id: row.flag_id }))),
    };
    if (rows.length === 0) return out;
    const flagOf = new Map(rows.map((row) => [Number(row.id), Number(row.flag_id)]));
    const changed = new Set(rows.filter((row) => {
      const addr = fromJson<unknown>(row.return_address);
      return addr != null && addressHash(addr) !== row.flag_address_hash;
    }).map((row) => Number(row.id)));
    const custody: CustodyInput[] = [];
    const done = await applyChangesInTx(store, tx, now, rows.map((row): BatchItem => {
      const jobId = Number(row.id);
      if (changed.has(jobId)) {
        return {
          row, actorId: 'system', decide: (w) => {
            if (w.job.extensions.returnAddressProblem) {
              const ext = { ...w.job.extensions };
              delete ext.returnAddressProblem;
              w.set({ extensions: ext });
              w.note('returnAddressResolved', 'ReturnAddressResolved', ADDRESS_RESOLUTION);
            }
            return 'resolved';
          },
        };
      }
      return {
        row, actorId: 'timer', decide: (w, openTaskLater) => {
          const flag = w.job.extensions.returnAddressProblem as Record<string, unknown> | undefined;
          if (!flag) return 'skipped';
          const due = w.drives.filter((d) => d.state !== DriveState.NeverReceived && d.state !== DriveState.ShippedBack).map((d) => d.driveId);
          const ext = { ...w.job.extensions, drivesDueForDestruction: due, returnAddressProblem: { ...flag, expiredAt: w.now.toISOString() } };
          delete (ext.returnAddressProblem as Record<string, unknown>).destroyDrivesAt;
          w.set({ extensions: ext });
          w.note('drivesDueForDestruction', 'ReturnAddressUnreachable', 'The return address stayed wrong or missing and we could not reach you for 90 days: the drives will be securely destroyed.', { driveIds: due });
          custody.push(...due.map((driveId) => ({ driveId, kind: CustodyKind.MarkedForDestruction, jobId, subscriptionId: w.job.subscriptionId, jobName: w.job.name, by: 'timer' })));
          const flagId = flagOf.get(jobId)!;
          openTaskLater({
            kind: TaskKind.DestroyDrives, jobId, subscriptionId: w.job.subscriptionId, jobName: w.job.name, driveIds: due, by: 'timer', dedupeKey: `destroyUnreachable:${flagId}`,
            title: `Job ${w.job.name}: return address unreachable for 90 days; securely destroy its drives and record the certificates.`,
          });
          return 'expired';
        },
      };
    }));
    const resolvedJobs = [...done.outcomes].filter(([, o]) => o === 'resolved').map(([jobId]) => jobId);
    const expiredJobs = [...done.outcomes].filter(([, o]) => o === 'expired').map(([jobId]) => jobId);
    out.skipped += done.skipped;
    if (resolvedJobs.length > 0) {
      await tx.updateTable('return_address_flags').set({ status: AddressFlagState.Resolved, resolved_at: now, resolution: ADDRESS_RESOLUTION, deadline_at: null })
        .where('id', '=', sql<number>`any(${resolvedJobs.map((j) => flagOf.get(j)!)}::bigint[])`).execute();
      await tx.updateTable('operator_tasks').set({ status: TaskStatus.Closed, closed_at: now, closed_by: 'system', close_note: ADDRESS_RESOLUTION })
        .where('job_id', '=', sql<number>`any(${resolvedJobs}::bigint[])`).where('kind', '=', TaskKind.BadReturnAddress).where('status', '=', TaskStatus.Open).execute();
      out.resolved = resolvedJobs.length;
    }
    if (expiredJobs.length > 0) {
      await tx.updateTable('return_address_flags').set({ status: AddressFlagState.Expired, resolved_at: now, resolution: 'unreachable for 90 days', deadline_at: null })
        .where('id', '=', sql<number>`any(${expiredJobs.map((j) => flagOf.get(j)!)}::bigint[])`).execute();
      await recordCustody(tx, now, custody);
      out.expired = expiredJobs.length;
    }
    return out;
  });
}

export { resolveAddressFlag };
export type { Tx };
