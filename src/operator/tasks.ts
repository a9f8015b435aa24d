/** The operators' task queue: one list of what must be done, each with a due date, filterable, closable with a note. */
import { DomainError } from '../domain/errors.ts';
import { TASK_KINDS, TaskStatus, type TaskKind } from '../domain/custody.ts';
import type { OperatorCall } from './common.ts';
import { fromJson, opsDb, toDate, toDateOrNull } from './schema.ts';

export interface OperatorTask {
  id: number;
  kind: TaskKind;
  status: TaskStatus;
  jobId: number | null;
  subscriptionId: string | null;
  jobName: string | null;
  heldDriveId: number | null;
  driveIds: string[];
  title: string;
  detail: unknown;
  dueAt: Date | null;
  overdue: boolean;
  createdAt: Date;
  closedAt: Date | null;
  closedBy: string | null;
  closeNote: string | null;
}

export interface TaskQuery { status?: TaskStatus | 'all'; kind?: string; jobId?: number; overdue?: boolean; afterId?: number; limit?: number }

export async function listTasks(call: OperatorCall, q: TaskQuery = {}): Promise<{ tasks: OperatorTask[]; nextAfterId: number | null }> {
  const now = call.store.clock.now();
  const limit = Math.min(Math.max(q.limit ?? 100, 1), 500);
  let query = opsDb(call.store).selectFrom('operator_tasks').selectAll();
  const status = q.status ?? TaskStatus.Open;
  if (status !== 'all') {
    if (status !== TaskStatus.Open && status !== TaskStatus.Closed) throw new DomainError('InvalidInput', "'status' must be open, closed or all.", { target: 'status' });
    query = query.where('status', '=', status);
  }
  if (q.kind !== undefined) {
    if (!(TASK_KINDS as string[]).includes(q.kind)) throw new DomainError('InvalidInput', `'kind' must be one of ${TASK_KINDS.join(', ')}.`, { target: 'kind' });
    query = query.where('kind', '=', q.kind);
  }
  if (q.jobId !== undefined) query = query.where('job_id', '=', q.jobId);
  if (q.overdue) query = query.where('due_at', '<=', now);
  if (q.afterId !== undefined) query = query.where('id', '>', q.afterId);
  const rows = await query.orderBy('id').limit(limit + 1).execute();
  const tasks = rows.slice(0, limit).map((r) => taskFromRow(r, now));
  return { tasks, nextAfterId: rows.length > limit ? tasks[tasks.length - 1].id : null };
}

export async function closeTask(call: OperatorCall, id: number, note: string): Promise<OperatorTask> {
  if (typeof note !== 'string' || !note.trim() || note.length > 2000) throw new DomainError('InvalidInput', "'note' is required to close a task.", { target: 'note' });
  const now = call.store.clock.now();
  const db = opsDb(call.store);
  const row = await db.updateTable('operator_tasks').set({ status: TaskStatus.Closed, closed_at: now, closed_by: call.by ?? null, close_note: note.trim() })
    .where('id', '=', id).where('status', '=', TaskStatus.Open).returningAll().executeTakeFirst();
  if (row) return taskFromRow(row, now);
  const exists = await db.selectFrom('operator_tasks').select('status').where('id', '=', id).executeTakeFirst();
  if (!exists) throw new DomainError('NotFound', `Task ${id} does not exist.`);
  throw new DomainError('TransitionNotAllowed', `Task ${id} is already closed.`);
}

type TaskRow = Awaited<ReturnType<ReturnType<typeof opsDb>['selectFrom']>> extends never ? never : Record<string, unknown>;
function taskFromRow(r: TaskRow, now: Date): OperatorTask {
  const dueAt = toDateOrNull(r.due_at);
  return {
    id: Number(r.id), kind: r.kind as TaskKind, status: r.status as TaskStatus, jobId: r.job_id == null ? null : Number(r.job_id),
    subscriptionId: (r.subscription_id as string) ?? null, jobName: (r.job_name as string) ?? null, heldDriveId: r.held_drive_id == null ? null : Number(r.held_drive_id),
    driveIds: fromJson<string[]>(r.drive_ids) ?? [], title: r.title as string, detail: fromJson(r.detail), dueAt,
    overdue: r.status === TaskStatus.Open && dueAt !== null && dueAt <= now, createdAt: toDate(r.created_at), closedAt: toDateOrNull(r.closed_at),
    closedBy: (r.closed_by as string) ?? null, closeNote: (r.close_note as string) ?? null,
  };
}
