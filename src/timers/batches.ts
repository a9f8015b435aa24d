/**
 * The set-based machinery the timer sweeps share: paging due rows by a (deadline_at, id) cursor with several claim
 * loops, the batch path for job state changes (`applyChangesInTx`), and bulk writes of outbox rows and operator tasks.
 */
import { sql } from 'kysely';
import { DomainError } from '../domain/errors.ts';
import { drivePercent, jobPercent } from '../domain/progress.ts';
import { TASK_DUE_MS, TaskStatus } from '../domain/custody.ts';
import { Actor, FINISHED_DRIVE_STATES, TERMINAL_DRIVE_STATES } from '../domain/states.ts';
import { nextDeadline } from '../domain/timers.ts';
import { openTask, type NewTask, type Tx } from '../operator/common.ts';
import { toDate } from '../operator/schema.ts';
import type { Store } from '../store/store.ts';
import { JobWork } from '../store/job-work.ts';
import { driveFromRow, jobFromRow, type DriveRecord } from '../store/records.ts';
import type { DriveRow, JobRow } from '../store/schema.ts';
import { currentRequestId } from '../observability/request-context.ts';

export type Cursor = { at: Date; id: number } | null;

/**
 * Rows after the cursor in (deadline_at, id) order, as a row comparison: the index scan starts at the cursor.
 * (Spelled `deadline_at > x or (deadline_at = x and id > y)` it was a filter, and each batch read again every due
 * row before its cursor: quadratic in the number due.)
 */
export const afterCursor = (c: NonNullable<Cursor>) => sql<boolean>`(deadline_at, id) > (${c.at.toISOString()}::timestamptz, ${c.id}::bigint)`;

/**
 * `parallel` claim loops over due rows, each paging with its own (deadline_at, id) cursor; rows one loop holds, the
 * others pass over (SKIP LOCKED), like separate sweepers. A loop stops when a batch comes back short (nothing due
 * is left that nobody holds) or when `room()` (actions still allowed) runs out.
 */
export async function pageDue<T extends { claimed: number; last: Cursor }>(
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

export const cursorOf = (rows: Array<{ deadline_at: unknown; id: unknown }>): Cursor =>
  rows.length > 0 ? { at: toDate(rows[rows.length - 1].deadline_at), id: Number(rows[rows.length - 1].id) } : null;

/** An outbox row that is not a job event (event_id null); payload is JSON text. */
export interface OutboxRow { subscription_id: string | null; job_id: number | null; topic: string; payload: string }

/** Writes outbox rows in one statement, in the given order (one parameter, however many rows). */
export async function insertOutbox(tx: Tx, now: Date, rows: OutboxRow[]): Promise<void> {
  if (rows.length === 0) return;
  await sql`
    insert into outbox (event_id, subscription_id, job_id, topic, payload, created_at, request_id)
    select null, subscription_id, job_id, topic, payload::jsonb, ${now.toISOString()}::timestamptz, ${currentRequestId()}
    from jsonb_to_recordset(${JSON.stringify(rows.map((r, ord) => ({ ord, ...r })))}::jsonb)
      as v(ord integer, subscription_id text, job_id bigint, topic text, payload text)
    order by ord`.execute(tx);
}

export const isFinished = (d: DriveRecord) => FINISHED_DRIVE_STATES.includes(d.state) || TERMINAL_DRIVE_STATES.includes(d.state);
export const iso = (d: Date | null | undefined) => (d ? d.toISOString() : null);

/**
 * The batch path for state changes, on rows the caller holds FOR UPDATE: each job runs `timerWork` on a JobWork
 * (the domain decides per job, exactly as in `changeJob`), then everything is written set-based — one UPDATE for
 * the jobs (version + 1, deadline recomputed), one for the drives, one INSERT for job_events with their outbox
 * rows, one for the operator tasks (ON CONFLICT on the dedupe key) with theirs, and one statement of NOTIFYs.
 * A job the tables refuse (DomainError) is left alone and counted as skipped instead of failing the batch.
 */
/** One job of a batch: its locked row, who acts, and what the domain does to it (an outcome, or 'skipped'). */
export interface BatchItem {
  row: JobRow;
  actorId: string;
  decide: (w: JobWork, openTaskLater: (t: NewTask) => void) => string;
}

export async function applyChangesInTx(store: Store, tx: Tx, now: Date, items: BatchItem[]) {
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
export async function openTasks(tx: Tx, now: Date, tasks: NewTask[]): Promise<void> {
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
