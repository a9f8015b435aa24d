/**
 * Table shapes of migration 0002_operator, as Kysely sees them. The foundation's `Schema` stays as it is; code of
 * this issue views the same database through `OpsSchema` (a superset) via `opsDb(store)`.
 */
import type { ColumnType, Generated, Kysely } from 'kysely';
import type { JobsTable, Schema } from '../store/schema.ts';
import type { Store } from '../store/store.ts';

type Timestamp = ColumnType<Date, Date | string, Date | string>;
type Json<T = unknown> = ColumnType<T, string | T, string | T>;

export interface HeldDrivesTable {
  id: Generated<number>;
  drive_id: string;
  package_id: number | null;
  job_id: number | null;
  subscription_id: string | null;
  job_name: string | null;
  state: string;
  reason: string;
  received_at: Timestamp;
  return_alerted_at: Timestamp | null;
  deadline_at: Timestamp | null;
  deadline_kind: string | null;
  resolved_at: Timestamp | null;
  resolved_by: string | null;
  note: string | null;
}

export interface ReturnAddressFlagsTable {
  id: Generated<number>;
  job_id: number;
  status: string;
  note: string | null;
  address_hash: string;
  flagged_at: Timestamp;
  flagged_by: string | null;
  deadline_at: Timestamp | null;
  resolved_at: Timestamp | null;
  resolution: string | null;
}

export interface OperatorTasksTable {
  id: Generated<number>;
  kind: string;
  status: string;
  job_id: number | null;
  subscription_id: string | null;
  job_name: string | null;
  held_drive_id: number | null;
  drive_ids: Json<string[]>;
  title: string;
  detail: Json | null;
  due_at: Timestamp | null;
  dedupe_key: string | null;
  created_at: Timestamp;
  created_by: string | null;
  closed_at: Timestamp | null;
  closed_by: string | null;
  close_note: string | null;
}

export interface CustodyEventsTable {
  id: Generated<number>;
  drive_id: string;
  job_id: number | null;
  subscription_id: string | null;
  job_name: string | null;
  held_drive_id: number | null;
  package_id: number | null;
  kind: string;
  at: Timestamp;
  actor_id: string | null;
  detail: Json | null;
}

export interface DestructionsTable {
  id: Generated<number>;
  drive_id: string;
  job_id: number | null;
  held_drive_id: number | null;
  method: string;
  destroyed_by: string;
  destroyed_at: Timestamp;
  recorded_by: string | null;
  certificate: Json;
}

export interface WebhooksTable {
  id: string;
  subscription_id: string;
  url: string;
  /** Sealed with the store's secret box; never returned after creation. */
  secret: string;
  topics: Json<string[]>;
  description: string | null;
  created_at: Timestamp;
  created_by: string | null;
}

export interface NotificationDeliveriesTable {
  id: Generated<number>;
  channel: string;
  webhook_id: string | null;
  recipient: string | null;
  outbox_id: number;
  subscription_id: string | null;
  topic: string;
  body: Json;
  status: string;
  attempts: number;
  last_status: number | null;
  last_error: string | null;
  created_at: Timestamp;
  delivered_at: Timestamp | null;
  dedupe_key: string;
}

export interface NotificationAttemptsTable {
  id: Generated<number>;
  delivery_id: number;
  at: Timestamp;
  status_code: number | null;
  error: string | null;
  duration_ms: number | null;
}

export interface OpsSchema extends Omit<Schema, 'jobs'> {
  jobs: JobsTable & { deadline_warned_at: Timestamp | null };
  held_drives: HeldDrivesTable;
  return_address_flags: ReturnAddressFlagsTable;
  operator_tasks: OperatorTasksTable;
  custody_events: CustodyEventsTable;
  destructions: DestructionsTable;
  webhooks: WebhooksTable;
  notification_deliveries: NotificationDeliveriesTable;
  notification_attempts: NotificationAttemptsTable;
}

export const opsDb = (store: Store): Kysely<OpsSchema> => store.db as unknown as Kysely<OpsSchema>;

export const toDate = (v: unknown): Date => (v instanceof Date ? v : new Date(String(v)));
export const toDateOrNull = (v: unknown): Date | null => (v == null ? null : toDate(v));
export const fromJson = <T>(v: unknown): T => (typeof v === 'string' ? JSON.parse(v) : v) as T;
