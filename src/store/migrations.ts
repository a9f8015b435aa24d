/**
 * One migration set for PGlite and PostgreSQL. Each migration is a list of single statements (PGlite's extended
 * protocol takes one statement per query). Later issues append migrations; never edit one that has shipped.
 */
import { sql, type Kysely, type Migration, type MigrationProvider } from 'kysely';

const statements = (...sqls: string[]) => ({
  async up(db: Kysely<any>) {
    for (const s of sqls) await sql.raw(s).execute(db);
  },
});

export const migrations: Record<string, Migration> = {
  '0001_foundation': statements(
    `create table jobs (
      id bigserial primary key,
      subscription_id text not null,
      resource_group text not null,
      name text not null,
      location text not null,
      job_type text not null,
      state text not null,
      state_reason_code text not null,
      state_reason_message text not null,
      faulted_from text,
      cancel_requested boolean not null default false,
      storage_account_id text,
      return_address jsonb,
      return_shipping jsonb,
      shipping_information jsonb,
      delivery_package jsonb,
      return_package jsonb,
      diagnostics_path text,
      log_level text,
      backup_drive_manifest boolean not null default false,
      export_spec jsonb,
      encryption_key jsonb,
      identity jsonb,
      incomplete_blob_list_uri text,
      tags jsonb not null default '{}',
      extensions jsonb not null default '{}',
      percent_complete integer not null default 0,
      version integer not null default 1,
      state_entered_at timestamptz not null,
      deadline_at timestamptz,
      deadline_kind text,
      shipping_alerted_at timestamptz,
      shipping_extended_until timestamptz,
      created_at timestamptz not null,
      created_by text,
      updated_at timestamptz not null,
      updated_by text
    )`,
    // Names are unique case-insensitively within a resource group (ARM treats resource group names that way too).
    `create unique index jobs_name_unique on jobs (subscription_id, lower(resource_group), lower(name))`,
    `create index jobs_by_subscription on jobs (subscription_id, id)`,
    `create index jobs_by_resource_group on jobs (subscription_id, lower(resource_group), id)`,
    `create index jobs_by_state on jobs (subscription_id, state, id)`,
    // The timer sweep reads only due rows: its cost follows the number due, not the table size.
    `create index jobs_due on jobs (deadline_at) where deadline_at is not null`,
    `create table drives (
      job_id bigint not null references jobs(id) on delete cascade,
      drive_id text not null,
      position integer not null default 0,
      state text not null,
      state_reason_code text not null,
      state_reason_message text not null,
      faulted_from text,
      bitlocker_key text,
      manifest_file text,
      manifest_hash text,
      drive_header_hash text,
      bytes_total bigint not null default 0,
      bytes_succeeded bigint not null default 0,
      objects_total integer not null default 0,
      objects_succeeded integer not null default 0,
      objects_failed integer not null default 0,
      objects_skipped integer not null default 0,
      percent_complete integer not null default 0,
      phase text,
      rate_bps bigint not null default 0,
      copy_status text,
      has_errors boolean not null default false,
      error_log_uri text,
      verbose_log_uri text,
      manifest_uri text,
      is_extra boolean not null default false,
      lease_owner text,
      lease_expires_at timestamptz,
      state_entered_at timestamptz not null,
      primary key (job_id, drive_id)
    )`,
    `create index drives_by_drive_id on drives (drive_id)`,
    `create index drives_by_state on drives (state, lease_expires_at)`,
    `create table job_events (
      id bigserial primary key,
      job_id bigint not null references jobs(id) on delete cascade,
      subscription_id text not null,
      drive_id text,
      event text not null,
      from_state text,
      to_state text,
      actor text not null,
      actor_id text,
      reason_code text not null,
      message text not null,
      data jsonb,
      at timestamptz not null
    )`,
    `create index job_events_by_job on job_events (job_id, id)`,
    `create table packages (
      id bigserial primary key,
      carrier text not null,
      tracking_number text not null,
      direction text not null,
      job_id bigint references jobs(id) on delete set null,
      drive_ids jsonb not null default '[]',
      drive_count integer not null default 0,
      shipped_at timestamptz,
      received_at timestamptz,
      recorded_by text,
      created_at timestamptz not null
    )`,
    `create index packages_by_job on packages (job_id)`,
    `create table transfer_checkpoints (
      job_id bigint not null references jobs(id) on delete cascade,
      drive_id text not null,
      blob_path text not null,
      status text not null,
      detail jsonb,
      updated_at timestamptz not null,
      primary key (job_id, drive_id, blob_path)
    )`,
    // No foreign key: a notification about a deleted job must outlive the job.
    `create table outbox (
      id bigserial primary key,
      event_id bigint,
      subscription_id text,
      job_id bigint,
      topic text not null,
      payload jsonb not null,
      created_at timestamptz not null,
      dispatched_at timestamptz
    )`,
    `create index outbox_pending on outbox (id) where dispatched_at is null`,
    `create table tokens (
      id text primary key,
      token_hash text not null unique,
      subscription_id text,
      role text not null,
      label text,
      created_at timestamptz not null,
      revoked_at timestamptz
    )`,
    `create table storage_accounts (
      id text primary key,
      account_id text not null,
      backend text not null,
      config jsonb not null,
      created_at timestamptz not null
    )`,
    `create unique index storage_accounts_by_account on storage_accounts (lower(account_id))`,
    `create table settings (key text primary key, value jsonb not null)`,
  ),
  // Operator side (issue 4): held drives, tasks, custody, return-address flags, webhooks and their delivery log.
  '0002_operator': statements(
    // The deadline value a 3-day warning was sent for: warned iff deadline_warned_at = deadline_at.
    `alter table jobs add column deadline_warned_at timestamptz`,
    `create index jobs_by_tracking_number on jobs (lower(delivery_package->>'trackingNumber')) where delivery_package is not null`,
    `create table held_drives (
      id bigserial primary key,
      drive_id text not null,
      package_id bigint references packages(id) on delete set null,
      job_id bigint references jobs(id) on delete set null,
      subscription_id text,
      job_name text,
      state text not null,
      reason text not null,
      received_at timestamptz not null,
      return_alerted_at timestamptz,
      deadline_at timestamptz,
      deadline_kind text,
      resolved_at timestamptz,
      resolved_by text,
      note text
    )`,
    `create index held_drives_due on held_drives (deadline_at) where deadline_at is not null`,
    `create index held_drives_by_drive on held_drives (drive_id)`,
    `create index held_drives_by_job on held_drives (job_id)`,
    `create table return_address_flags (
      id bigserial primary key,
      job_id bigint not null references jobs(id) on delete cascade,
      status text not null,
      note text,
      address_hash text not null,
      flagged_at timestamptz not null,
      flagged_by text,
      deadline_at timestamptz,
      resolved_at timestamptz,
      resolution text
    )`,
    `create index return_address_flags_due on return_address_flags (deadline_at) where deadline_at is not null`,
    `create index return_address_flags_by_job on return_address_flags (job_id, status)`,
    `create table operator_tasks (
      id bigserial primary key,
      kind text not null,
      status text not null,
      job_id bigint,
      subscription_id text,
      job_name text,
      held_drive_id bigint,
      drive_ids jsonb not null default '[]',
      title text not null,
      detail jsonb,
      due_at timestamptz,
      dedupe_key text unique,
      created_at timestamptz not null,
      created_by text,
      closed_at timestamptz,
      closed_by text,
      close_note text
    )`,
    `create index operator_tasks_open on operator_tasks (status, due_at, id)`,
    `create index operator_tasks_by_job on operator_tasks (job_id)`,
    `create table custody_events (
      id bigserial primary key,
      drive_id text not null,
      job_id bigint,
      subscription_id text,
      job_name text,
      held_drive_id bigint,
      package_id bigint,
      kind text not null,
      at timestamptz not null,
      actor_id text,
      detail jsonb
    )`,
    `create index custody_events_by_drive on custody_events (drive_id, id)`,
    `create table destructions (
      id bigserial primary key,
      drive_id text not null,
      job_id bigint,
      held_drive_id bigint,
      method text not null,
      destroyed_by text not null,
      destroyed_at timestamptz not null,
      recorded_by text,
      certificate jsonb not null
    )`,
    `create index destructions_by_drive on destructions (drive_id)`,
    `create table webhooks (
      id text primary key,
      subscription_id text not null,
      url text not null,
      secret text not null,
      topics jsonb not null default '[]',
      description text,
      created_at timestamptz not null,
      created_by text
    )`,
    `create index webhooks_by_subscription on webhooks (subscription_id)`,
    `create table notification_deliveries (
      id bigserial primary key,
      channel text not null,
      webhook_id text references webhooks(id) on delete cascade,
      recipient text,
      outbox_id bigint not null,
      subscription_id text,
      topic text not null,
      body jsonb not null,
      status text not null,
      attempts integer not null default 0,
      last_status integer,
      last_error text,
      created_at timestamptz not null,
      delivered_at timestamptz,
      dedupe_key text not null unique
    )`,
    `create index notification_deliveries_by_webhook on notification_deliveries (webhook_id, id)`,
    `create table notification_attempts (
      id bigserial primary key,
      delivery_id bigint not null references notification_deliveries(id) on delete cascade,
      at timestamptz not null,
      status_code integer,
      error text,
      duration_ms integer
    )`,
    `create index notification_attempts_by_delivery on notification_attempts (delivery_id, id)`,
  ),
};

// Issue 7: the request id that caused an event (and its notifications), so logs can follow a job across processes.
migrations['0003_request_ids'] = statements(
  `alter table job_events add column request_id text`,
  `alter table outbox add column request_id text`,
);

// Issue 4 (timer sweep): the sweep pages due jobs by (deadline_at, id); with both in the index a batch reads its
// rows in order and stops at the limit instead of sorting every due row. It replaces jobs_due (same predicate).
migrations['0004_jobs_due_order'] = statements(
  `create index jobs_due_order on jobs (deadline_at, id) where deadline_at is not null`,
  `drop index if exists jobs_due`,
);

/**
 * Every write to jobs or drives, from any process or any code path (including set-based timer sweeps and plain SQL),
 * announces which jobs changed on JOB_CHANGES_CHANNEL, so read caches in every API process can drop them. One
 * NOTIFY per statement; payload `<schema>:<id>,<id>...`, or `<schema>:*` when a statement touched many jobs (the
 * payload limit is 8,000 bytes). Delivered at commit, never for a rolled-back write.
 */
const changeTrigger = (table: 'jobs' | 'drives', idColumn: string) => {
  const fn = `${table}_announce_changes`;
  const ids = (rows: string) => `select ${idColumn} as id from ${rows}`;
  return [
    `create or replace function ${fn}() returns trigger language plpgsql as $$
    declare
      changed bigint[];
    begin
      if TG_OP = 'INSERT' then
        select array_agg(distinct id) into changed from (${ids('new_rows')}) c;
      elsif TG_OP = 'DELETE' then
        select array_agg(distinct id) into changed from (${ids('old_rows')}) c;
      else
        select array_agg(distinct id) into changed from (${ids('new_rows')} union ${ids('old_rows')}) c;
      end if;
      if changed is null then
        return null;
      end if;
      perform pg_notify('sneakernet_job_changes', TG_TABLE_SCHEMA || ':' ||
        case when cardinality(changed) > 400 then '*' else array_to_string(changed, ',') end);
      return null;
    end $$`,
    `create trigger ${table}_announce_inserts after insert on ${table} referencing new table as new_rows for each statement execute function ${fn}()`,
    `create trigger ${table}_announce_updates after update on ${table} referencing new table as new_rows old table as old_rows for each statement execute function ${fn}()`,
    `create trigger ${table}_announce_deletes after delete on ${table} referencing old table as old_rows for each statement execute function ${fn}()`,
  ];
};

migrations['0005_announce_job_changes'] = statements(...changeTrigger('jobs', 'id'), ...changeTrigger('drives', 'job_id'));

export const migrationProvider: MigrationProvider = {
  async getMigrations() {
    return migrations;
  },
};

export const LATEST_MIGRATION = Object.keys(migrations).sort().at(-1)!;
