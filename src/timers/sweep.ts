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
 * - Warnings go out 3 days before a deletion or a close, once per deadline (jobs.deadline_warned_at).
 */
import { sql } from 'kysely';
import { DomainError } from '../domain/errors.ts';
import { drivePercent, jobPercent } from '../domain/progress.ts';
import {
  AddressFlagState, CustodyKind, HeldDeadlineKind, HeldDriveEvent, HeldDriveState, TASK_DUE_MS, TaskKind, TaskStatus, nextHeldDeadline,
} from '../domain/custody.ts';
import { Actor, DriveState, FINISHED_DRIVE_STATES, JobState, TERMINAL_DRIVE_STATES } from '../domain/states.ts';
import { DeadlineKind, nextDeadline, WARNED_DEADLINES, WARNING_BEFORE_MS } from '../domain/timers.ts';
import { DriveEvent, JobEvent } from '../domain/transitions.ts';
import { asOps, emitOutbox, inTx, openTask, recordCustody, type NewTask, type Tx } from '../operator/common.ts';
import { changeHeld } from '../operator/held.ts';
import { resolveAddressFlag, resolveChangedReturnAddresses } from '../operator/jobs.ts';
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

  // 2. Job deadlines: `parallel` claim loops, each paging with its own cursor; rows one loop holds, the others pass
  // over (SKIP LOCKED). A loop stops when a batch comes back short: nothing due is left that nobody holds.
  let reserved = 0;
  const claimLoop = async () => {
    let lastSeen: Cursor = null;
    for (;;) {
      const limit = Math.min(batch, max - total() - reserved);
      if (limit <= 0) return;
      reserved += limit;
      let res;
      try {
        res = await claimJobBatch(store, now, limit, lastSeen);
      } finally {
        reserved -= limit;
      }
      r.warnings += res.warned;
      r.deleted += res.deleted;
      r.shippingAlerts += res.alerted;
      r.closed += res.closed;
      r.skipped += res.skipped;
      if (res.claimed < limit) return;
      lastSeen = res.last;
    }
  };
  await Promise.all(Array.from({ length: parallel }, claimLoop));

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

type TimerOutcome = 'alerted' | 'closed' | 'skipped';
type Cursor = { at: Date; id: number } | null;

/**
 * Rows after the cursor in (deadline_at, id) order, as a row comparison: the index scan starts at the cursor.
 * (Spelled `deadline_at > x or (deadline_at = x and id > y)` it was a filter, and each batch read again every due
 * row before its cursor: quadratic in the number due.)
 */
const afterCursor = (c: NonNullable<Cursor>) => sql<boolean>`(deadline_at, id) > (${c.at.toISOString()}::timestamptz, ${c.id}::bigint)`;

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
    const changed = toChange.length > 0
      ? await applyChangesInTx(store, tx, now, toChange as unknown as JobRow[])
      : { alerted: 0, closed: 0, skipped: 0, untouched: [] as number[] };
    // Warned but neither deleted nor changed (its deadline stays): remember the warning went out.
    const untouched = new Set(changed.untouched);
    const stillDue = unwarned.filter((row) => untouched.has(Number(row.id))).map((row) => Number(row.id));
    if (stillDue.length > 0) await tx.updateTable('jobs').set({ deadline_warned_at: sql`deadline_at` }).where('id', 'in', stillDue).execute();
    const last = rows.length > 0 ? { at: toDate(rows[rows.length - 1].deadline_at), id: Number(rows[rows.length - 1].id) } : null;
    return { deleted, alerted: changed.alerted, closed: changed.closed, skipped: changed.skipped, warned: unwarned.length, claimed: rows.length, last };
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
async function applyChangesInTx(store: Store, tx: Tx, now: Date, rows: JobRow[]) {
  const out = { alerted: 0, closed: 0, skipped: 0, untouched: [] as number[] };
  const ids = rows.map((r) => Number(r.id));
  // One array parameter, not a thousand.
  const driveRows = await tx.selectFrom('drives').selectAll().where('job_id', '=', sql<number>`any(${ids}::bigint[])`).orderBy('job_id').orderBy('position').orderBy('drive_id').execute();
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
  for (const row of rows) {
    const job = jobFromRow(row);
    const drives = drivesOf.get(job.id) ?? [];
    const percentBefore = new Map(drives.map((d) => [d.driveId, d.percentComplete]));
    const w = new JobWork(job, drives, Actor.System, 'timer', now);
    const pending: NewTask[] = [];
    let outcome: TimerOutcome;
    try {
      outcome = timerWork(w, job.id, job.deadlineKind ?? '', (t) => pending.push(t));
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
    if (w.newDrives.size > 0 || w.removedDrives.size > 0) throw new Error('A timer never adds or removes drives.');
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
    tasks.push(...pending);
    if (outcome === 'alerted') out.alerted++;
    else out.closed++;
  }
  if (jobUpdates.length === 0) return out;
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

export { resolveAddressFlag };
export type { Tx };
