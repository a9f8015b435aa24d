/**
 * Drive leases and copy checkpoints. A worker claims one drive at a time with a lease (owner + expiry) and keeps
 * it alive with a heartbeat; a drive whose lease expired (its worker died) is claimable again and resumes from its
 * checkpoints. The claim is one statement with `FOR UPDATE SKIP LOCKED`, so workers on one PostgreSQL never pick
 * the same drive (PGlite is single-process; the same SQL runs there too).
 *
 * Leases use wall-clock time (process liveness), not the injected business clock that timers use.
 */
import { sql, type Kysely } from 'kysely';
import { DriveState, JobState, JobType } from '../../domain/states.ts';
import type { Schema } from '../../store/schema.ts';

export interface Claim {
  jobId: number;
  driveId: string;
  jobType: JobType;
  /** The drive was Transferring under another worker whose lease expired: a takeover. */
  takeover: boolean;
  previousOwner: string | null;
}

/** Job states whose drives are copied. */
const COPYING_JOB_STATES = [JobState.Received, JobState.Transferring];

export async function claimDrive(db: Kysely<Schema>, owner: string, leaseMs: number, jobTypes: JobType[] = [JobType.Import, JobType.Export]): Promise<Claim | null> {
  const now = new Date();
  const expires = new Date(now.getTime() + leaseMs);
  const { rows } = await sql<{ job_id: string | number; drive_id: string; job_type: string; prev_owner: string | null; state: string }>`
    with c as (
      select d.job_id, d.drive_id, d.lease_owner as prev_owner, d.state, j.job_type
      from drives d join jobs j on j.id = d.job_id
      where not d.is_extra
        and j.state in (${sql.join(COPYING_JOB_STATES)})
        and j.job_type in (${sql.join(jobTypes)})
        and ((d.state = ${DriveState.Received} and not j.cancel_requested) or d.state = ${DriveState.Transferring})
        and (d.lease_expires_at is null or d.lease_expires_at < ${now})
      order by d.lease_expires_at nulls first, j.id, d.position
      limit 1
      for update of d skip locked
    )
    update drives set lease_owner = ${owner}, lease_expires_at = ${expires}
    from c where drives.job_id = c.job_id and drives.drive_id = c.drive_id
    returning drives.job_id, drives.drive_id, c.prev_owner, c.state, c.job_type`.execute(db);
  const r = rows[0];
  if (!r) return null;
  return {
    jobId: Number(r.job_id), driveId: r.drive_id, jobType: r.job_type as JobType,
    takeover: r.state === DriveState.Transferring && r.prev_owner !== null && r.prev_owner !== owner,
    previousOwner: r.prev_owner,
  };
}

/** Extends the lease; false when this worker no longer holds it (it must stop copying). */
export async function renewLease(db: Kysely<Schema>, c: Pick<Claim, 'jobId' | 'driveId'>, owner: string, leaseMs: number): Promise<boolean> {
  const r = await db.updateTable('drives')
    .set({ lease_expires_at: new Date(Date.now() + leaseMs) })
    .where('job_id', '=', c.jobId).where('drive_id', '=', c.driveId).where('lease_owner', '=', owner)
    .executeTakeFirst();
  return Number(r.numUpdatedRows) > 0;
}

/** Gives the drive back. `retryAfterMs` keeps it unclaimed for a while (e.g. its folder is not attached yet). */
export async function releaseLease(db: Kysely<Schema>, c: Pick<Claim, 'jobId' | 'driveId'>, owner: string, retryAfterMs = 0): Promise<void> {
  await db.updateTable('drives')
    .set({ lease_owner: null, lease_expires_at: retryAfterMs > 0 ? new Date(Date.now() + retryAfterMs) : null })
    .where('job_id', '=', c.jobId).where('drive_id', '=', c.driveId).where('lease_owner', '=', owner)
    .execute();
}

// ---- checkpoints ------------------------------------------------------------

export interface CheckpointRow<D = unknown> {
  key: string;
  status: string;
  detail: D;
}

/**
 * Writes a checkpoint only while `owner` still holds the drive's lease, so a worker that lost its lease can never
 * record progress over the one that took over. Returns false when the lease is gone.
 */
export async function putCheckpoint(db: Kysely<Schema>, c: Pick<Claim, 'jobId' | 'driveId'>, owner: string, key: string, status: string, detail: unknown): Promise<boolean> {
  const now = new Date();
  const json = JSON.stringify(detail ?? null);
  const { rows } = await sql<{ n: number }>`
    insert into transfer_checkpoints (job_id, drive_id, blob_path, status, detail, updated_at)
    select ${c.jobId}, ${c.driveId}, ${key}, ${status}, ${json}::jsonb, ${now}
    where exists (select 1 from drives where job_id = ${c.jobId} and drive_id = ${c.driveId} and lease_owner = ${owner})
    on conflict (job_id, drive_id, blob_path) do update set status = excluded.status, detail = excluded.detail, updated_at = excluded.updated_at
    returning 1 as n`.execute(db);
  return rows.length > 0;
}

export async function getCheckpoints<D>(db: Kysely<Schema>, c: Pick<Claim, 'jobId' | 'driveId'>, keys: string[]): Promise<Map<string, CheckpointRow<D>>> {
  const out = new Map<string, CheckpointRow<D>>();
  if (keys.length === 0) return out;
  const rows = await db.selectFrom('transfer_checkpoints').select(['blob_path', 'status', 'detail'])
    .where('job_id', '=', c.jobId).where('drive_id', '=', c.driveId).where('blob_path', 'in', keys).execute();
  for (const r of rows) out.set(r.blob_path, { key: r.blob_path, status: r.status, detail: (typeof r.detail === 'string' ? JSON.parse(r.detail) : r.detail) as D });
  return out;
}

export async function getCheckpoint<D>(db: Kysely<Schema>, c: Pick<Claim, 'jobId' | 'driveId'>, key: string): Promise<CheckpointRow<D> | null> {
  return (await getCheckpoints<D>(db, c, [key])).get(key) ?? null;
}

/**
 * Writes several checkpoints in one statement (one round trip, one transaction), only while `owner` still holds
 * the lease. A key given twice keeps its last value. Returns false when the lease is gone (nothing written).
 */
export async function putCheckpoints(db: Kysely<Schema>, c: Pick<Claim, 'jobId' | 'driveId'>, owner: string, rows: { key: string; status: string; detail: unknown }[]): Promise<boolean> {
  const last = new Map<string, { key: string; status: string; detail: unknown }>();
  for (const r of rows) last.set(r.key, r);
  if (last.size === 0) return true;
  const now = new Date();
  const values = [...last.values()].map((r) => sql`(${r.key}, ${r.status}, ${JSON.stringify(r.detail ?? null)})`);
  const { rows: out } = await sql<{ n: number }>`
    insert into transfer_checkpoints (job_id, drive_id, blob_path, status, detail, updated_at)
    select ${c.jobId}, ${c.driveId}, v.k, v.s, v.d::jsonb, ${now}
    from (values ${sql.join(values)}) as v(k, s, d)
    where exists (select 1 from drives where job_id = ${c.jobId} and drive_id = ${c.driveId} and lease_owner = ${owner})
    on conflict (job_id, drive_id, blob_path) do update set status = excluded.status, detail = excluded.detail, updated_at = excluded.updated_at
    returning 1 as n`.execute(db);
  return out.length > 0;
}
