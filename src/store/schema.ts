/** Table shapes as Kysely sees them. Columns follow DESIGN.md's data model. */
import type { ColumnType, Generated, Insertable, Selectable, Updateable } from 'kysely';

type Timestamp = ColumnType<Date, Date | string, Date | string>;
type Json<T = unknown> = ColumnType<T, string | T, string | T>;
/** bigint columns arrive as strings from pg; the mappers turn them into numbers. */
type BigIntCol = number;

export interface JobsTable {
  id: Generated<BigIntCol>;
  subscription_id: string;
  resource_group: string;
  name: string;
  location: string;
  job_type: string;
  state: string;
  state_reason_code: string;
  state_reason_message: string;
  faulted_from: string | null;
  cancel_requested: boolean;
  storage_account_id: string | null;
  return_address: Json | null;
  return_shipping: Json | null;
  shipping_information: Json | null;
  delivery_package: Json | null;
  return_package: Json | null;
  diagnostics_path: string | null;
  log_level: string | null;
  backup_drive_manifest: boolean;
  export_spec: Json | null;
  encryption_key: Json | null;
  identity: Json | null;
  incomplete_blob_list_uri: string | null;
  tags: Json<Record<string, string>>;
  extensions: Json<Record<string, unknown>>;
  percent_complete: number;
  version: number;
  state_entered_at: Timestamp;
  deadline_at: Timestamp | null;
  deadline_kind: string | null;
  shipping_alerted_at: Timestamp | null;
  shipping_extended_until: Timestamp | null;
  created_at: Timestamp;
  created_by: string | null;
  updated_at: Timestamp;
  updated_by: string | null;
}

export interface DrivesTable {
  job_id: BigIntCol;
  drive_id: string;
  state: string;
  state_reason_code: string;
  state_reason_message: string;
  faulted_from: string | null;
  bitlocker_key: string | null;
  manifest_file: string | null;
  manifest_hash: string | null;
  drive_header_hash: string | null;
  bytes_total: BigIntCol;
  bytes_succeeded: BigIntCol;
  objects_total: number;
  objects_succeeded: number;
  objects_failed: number;
  objects_skipped: number;
  percent_complete: number;
  phase: string | null;
  rate_bps: BigIntCol;
  copy_status: string | null;
  has_errors: boolean;
  error_log_uri: string | null;
  verbose_log_uri: string | null;
  manifest_uri: string | null;
  is_extra: boolean;
  lease_owner: string | null;
  lease_expires_at: Timestamp | null;
  state_entered_at: Timestamp;
  position: number;
}

export interface JobEventsTable {
  id: Generated<BigIntCol>;
  job_id: BigIntCol;
  subscription_id: string;
  drive_id: string | null;
  event: string;
  from_state: string | null;
  to_state: string | null;
  actor: string;
  actor_id: string | null;
  reason_code: string;
  message: string;
  data: Json | null;
  at: Timestamp;
  /** The API request (or the work it started) that caused this event; for log correlation. */
  request_id?: string | null;
}

export interface PackagesTable {
  id: Generated<BigIntCol>;
  carrier: string;
  tracking_number: string;
  direction: string;
  job_id: BigIntCol | null;
  drive_ids: Json<string[]>;
  drive_count: number;
  shipped_at: Timestamp | null;
  received_at: Timestamp | null;
  recorded_by: string | null;
  created_at: Timestamp;
}

export interface TransferCheckpointsTable {
  job_id: BigIntCol;
  drive_id: string;
  blob_path: string;
  status: string;
  detail: Json | null;
  updated_at: Timestamp;
}

export interface OutboxTable {
  id: Generated<BigIntCol>;
  event_id: BigIntCol | null;
  subscription_id: string | null;
  job_id: BigIntCol | null;
  topic: string;
  payload: Json;
  created_at: Timestamp;
  dispatched_at: Timestamp | null;
  request_id?: string | null;
}

export interface TokensTable {
  id: string;
  token_hash: string;
  subscription_id: string | null;
  role: string;
  label: string | null;
  created_at: Timestamp;
  revoked_at: Timestamp | null;
}

export interface StorageAccountsTable {
  id: string;
  account_id: string;
  backend: string;
  config: Json;
  created_at: Timestamp;
}

export interface SettingsTable {
  key: string;
  value: Json;
}

export interface Schema {
  jobs: JobsTable;
  drives: DrivesTable;
  job_events: JobEventsTable;
  packages: PackagesTable;
  transfer_checkpoints: TransferCheckpointsTable;
  outbox: OutboxTable;
  tokens: TokensTable;
  storage_accounts: StorageAccountsTable;
  settings: SettingsTable;
}

export type JobRow = Selectable<JobsTable>;
export type NewJobRow = Insertable<JobsTable>;
export type JobRowUpdate = Updateable<JobsTable>;
export type DriveRow = Selectable<DrivesTable>;
export type NewDriveRow = Insertable<DrivesTable>;
export type JobEventRow = Selectable<JobEventsTable>;
