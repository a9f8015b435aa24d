/**
 * The read paths of the ARM API, shaped for speed: Get Job is one indexed query that brings the job row and its
 * drives together (drives as a JSON aggregate), instead of two round trips.
 */
import { sql } from 'kysely';
import type { Store, JobKey } from '../../store/store.ts';
import { driveFromRow, jobFromRow, type DriveRecord, type JobRecord } from '../../store/records.ts';
import type { DriveRow, JobRow } from '../../store/schema.ts';

export interface JobWithDrives {
  job: JobRecord;
  drives: DriveRecord[];
}

export async function findJobWithDrives(store: Store, key: JobKey): Promise<JobWithDrives | null> {
  const row = await store.db
    .selectFrom('jobs')
    .selectAll('jobs')
    .select(sql<unknown>`(select coalesce(json_agg(d order by d.position, d.drive_id), '[]'::json) from drives d where d.job_id = jobs.id)`.as('drives_json'))
    .where('subscription_id', '=', key.subscriptionId)
    .where(sql`lower(resource_group)`, '=', key.resourceGroup.toLowerCase())
    .where(sql`lower(name)`, '=', key.name.toLowerCase())
    .executeTakeFirst();
  if (!row) return null;
  const { drives_json, ...jobRow } = row as JobRow & { drives_json: unknown };
  const list = (typeof drives_json === 'string' ? JSON.parse(drives_json) : drives_json) as DriveRow[];
  return { job: jobFromRow(jobRow as JobRow), drives: (list ?? []).map(driveFromRow) };
}
