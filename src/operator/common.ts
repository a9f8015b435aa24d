/**
 * Small helpers every operator service shares: tasks, custody records and outbox rows written inside the caller's
 * transaction, so a state change, the task it opens and the notification it sends commit together.
 */
import { currentRequestId } from '../observability/request-context.ts';
import type { Kysely, Transaction } from 'kysely';
import { sql } from 'kysely';
import { TASK_DUE_MS, type CustodyKind, type TaskKind, TaskStatus } from '../domain/custody.ts';
import type { Schema } from '../store/schema.ts';
import type { Store } from '../store/store.ts';
import type { OpsSchema } from './schema.ts';

export type Tx = Kysely<OpsSchema> | Transaction<OpsSchema>;
export const asOps = (tx: Kysely<Schema> | Transaction<Schema>): Tx => tx as unknown as Tx;

/** Who does something in the data center: the token id of the operator (or 'system' for timers). */
export interface OperatorCall {
  store: Store;
  /** Token id (or name) of the operator, recorded in events and custody records. */
  by?: string | null;
}

export interface NewTask {
  kind: TaskKind;
  title: string;
  jobId?: number | null;
  subscriptionId?: string | null;
  jobName?: string | null;
  heldDriveId?: number | null;
  driveIds?: string[];
  detail?: Record<string, unknown>;
  /** Defaults to now + the kind's due time (TASK_DUE_MS). */
  dueAt?: Date;
  /** Opening the same task twice (a timer firing twice, a retried request) yields one task. */
  dedupeKey?: string;
  by?: string | null;
}

/** Opens a task unless one with the same dedupe key exists; returns its id. Also writes an operator notification. */
export async function openTask(tx: Tx, now: Date, t: NewTask): Promise<number> {
  const inserted = await tx
    .insertInto('operator_tasks')
    .values({
      kind: t.kind, status: TaskStatus.Open, job_id: t.jobId ?? null, subscription_id: t.subscriptionId ?? null,
      job_name: t.jobName ?? null, held_drive_id: t.heldDriveId ?? null, drive_ids: JSON.stringify(t.driveIds ?? []),
      title: t.title, detail: t.detail ? JSON.stringify(t.detail) : null,
      due_at: t.dueAt ?? new Date(now.getTime() + TASK_DUE_MS[t.kind]), dedupe_key: t.dedupeKey ?? null,
      created_at: now, created_by: t.by ?? null,
    })
    .onConflict((oc) => oc.column('dedupe_key').doNothing())
    .returning('id')
    .executeTakeFirst();
  if (!inserted) {
    const existing = await tx.selectFrom('operator_tasks').select('id').where('dedupe_key', '=', t.dedupeKey!).executeTakeFirstOrThrow();
    return Number(existing.id);
  }
  const id = Number(inserted.id);
  await emitOutbox(tx, now, {
    topic: 'operator.taskOpened', subscriptionId: null, jobId: t.jobId ?? null,
    payload: { taskId: id, kind: t.kind, title: t.title, jobName: t.jobName ?? null, driveIds: t.driveIds ?? [] },
  });
  return id;
}

/** Closes the open tasks of a job (of some kinds), e.g. when an unfault or an address fix resolves them. */
export async function closeTasksOf(tx: Tx, now: Date, jobId: number, kinds: TaskKind[], note: string, by: string | null): Promise<number> {
  const r = await tx
    .updateTable('operator_tasks')
    .set({ status: TaskStatus.Closed, closed_at: now, closed_by: by, close_note: note })
    .where('job_id', '=', jobId).where('kind', 'in', kinds).where('status', '=', TaskStatus.Open)
    .returning('id')
    .execute();
  // Counted from RETURNING: PGlite's driver does not report affected rows.
  return r.length;
}

export interface CustodyInput {
  driveId: string;
  kind: CustodyKind;
  jobId?: number | null;
  subscriptionId?: string | null;
  jobName?: string | null;
  heldDriveId?: number | null;
  packageId?: number | null;
  by?: string | null;
  detail?: Record<string, unknown>;
}

export async function recordCustody(tx: Tx, now: Date, entries: CustodyInput[]): Promise<void> {
  if (entries.length === 0) return;
  await tx.insertInto('custody_events').values(entries.map((c) => ({
    drive_id: c.driveId, job_id: c.jobId ?? null, subscription_id: c.subscriptionId ?? null, job_name: c.jobName ?? null,
    held_drive_id: c.heldDriveId ?? null, package_id: c.packageId ?? null, kind: c.kind, at: now, actor_id: c.by ?? null,
    detail: c.detail ? JSON.stringify(c.detail) : null,
  }))).execute();
}

/**
 * A notification that is not a job event (held drives of unknown jobs, deletions, warnings, tasks): an outbox row
 * written in the caller's transaction. `subscriptionId` null means operators only.
 */
export async function emitOutbox(tx: Tx, now: Date, n: { topic: string; subscriptionId: string | null; jobId: number | null; payload: Record<string, unknown> }): Promise<number> {
  const row = await tx
    .insertInto('outbox')
    .values({ event_id: null, subscription_id: n.subscriptionId, job_id: n.jobId, topic: n.topic, payload: JSON.stringify({ ...n.payload, at: now }), created_at: now, request_id: currentRequestId() })
    .returning('id')
    .executeTakeFirstOrThrow();
  return Number(row.id);
}

/**
 * Runs `fn` in one transaction of the store's database and, unless `wake` is false, wakes the dispatcher after
 * commit. The dispatcher's own transactions pass `wake: false`: they write no outbox rows, and waking itself after
 * each one would loop forever (on PGlite, without ever yielding to timers or other transactions).
 */
export async function inTx<T>(store: Store, fn: (tx: Tx) => Promise<T>, opts: { wake?: boolean } = {}): Promise<T> {
  const out = await store.db.transaction().execute(async (tx) => {
    const r = await fn(asOps(tx));
    if (opts.wake !== false) await sql`select pg_notify(${outboxChannel(store)}, '')`.execute(tx);
    return r;
  });
  return out;
}

/** NOTIFY channel for outbox rows that are not job events (job events already NOTIFY the store's events channel). */
export const outboxChannel = (store: Store) => `${store.database.eventsChannel}_outbox`;

export const lower = (s: string) => s.toLowerCase();
export const uniqueIds = (ids: string[]) => {
  const seen = new Set<string>();
  const out: string[] = [];
  for (const raw of ids) {
    const id = raw.trim();
    if (!id || seen.has(id.toLowerCase())) continue;
    seen.add(id.toLowerCase());
    out.push(id);
  }
  return out;
};
