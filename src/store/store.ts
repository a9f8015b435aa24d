/**
 * The store: jobs, drives and their history, on either database driver. Reads by key use indexes; lists use
 * keyset pagination on the job id. Every change goes through `changeJob`, one transaction per change.
 */
import { sql, type Kysely, type Transaction } from 'kysely';
import type { Clock } from '../domain/clock.ts';
import { DomainError } from '../domain/errors.ts';
import { jobPercent, drivePercent } from '../domain/progress.ts';
import { nextDeadline } from '../domain/timers.ts';
import { Actor, FINISHED_DRIVE_STATES, TERMINAL_DRIVE_STATES, type JobState, type JobType } from '../domain/states.ts';
import type { Database } from './db.ts';
import { JobWork } from './job-work.ts';
import { driveFromRow, eventFromRow, jobFromRow, type DriveRecord, type JobEventRecord, type JobRecord } from './records.ts';
import type { JobRow, NewDriveRow, NewJobRow, Schema } from './schema.ts';
import { parseSecretKey, SecretBox } from './secrets.ts';
import crypto from 'node:crypto';
import { currentRequestId } from '../observability/request-context.ts';

export interface JobKey {
  subscriptionId: string;
  resourceGroup: string;
  name: string;
}

export interface ListJobsQuery {
  subscriptionId?: string;
  resourceGroup?: string;
  states?: JobState[];
  jobType?: JobType;
  nameContains?: string;
  /** Keyset cursor: return jobs with id greater than this. */
  afterId?: number;
  limit: number;
}

export interface ChangeOptions {
  actor: Actor;
  actorId?: string | null;
  /** The version the caller read (If-Match). When set, a mismatch is a conflict; when absent, the change retries. */
  expectedVersion?: number;
}

export interface NewJob {
  key: JobKey;
  location: string;
  jobType: JobType;
  initial: { state: JobState; reason: { code: string; message: string } };
  fields: Partial<JobRecord>;
  drives: Array<Partial<DriveRecord> & Pick<DriveRecord, 'driveId' | 'state' | 'stateReason'> & { bitLockerKey?: string | null }>;
  actorId?: string | null;
}

/** What listeners get over NOTIFY after a commit: enough to fetch the new events. */
export interface EventNotice {
  jobId: number;
  subscriptionId: string;
  lastEventId: number;
}

const MAX_AUTO_RETRIES = 8;

export class Store {
  private secretBox: SecretBox | null = null;

  constructor(
    readonly database: Database,
    readonly clock: Clock,
  ) {}

  get db(): Kysely<Schema> {
    return this.database.db;
  }

  // ---------------------------------------------------------------- reads

  async getJob(key: JobKey): Promise<JobRecord | null> {
    const row = await this.db
      .selectFrom('jobs')
      .selectAll()
      .where('subscription_id', '=', key.subscriptionId)
      .where(sql`lower(resource_group)`, '=', key.resourceGroup.toLowerCase())
      .where(sql`lower(name)`, '=', key.name.toLowerCase())
      .executeTakeFirst();
    return row ? jobFromRow(row) : null;
  }

  async getJobById(id: number): Promise<JobRecord | null> {
    const row = await this.db.selectFrom('jobs').selectAll().where('id', '=', id).executeTakeFirst();
    return row ? jobFromRow(row) : null;
  }

  async getDrives(jobId: number): Promise<DriveRecord[]> {
    const rows = await this.db.selectFrom('drives').selectAll().where('job_id', '=', jobId).orderBy('position').orderBy('drive_id').execute();
    return rows.map(driveFromRow);
  }

  async getDrivesOfJobs(jobIds: number[]): Promise<Map<number, DriveRecord[]>> {
    const out = new Map<number, DriveRecord[]>();
    if (jobIds.length === 0) return out;
    const rows = await this.db.selectFrom('drives').selectAll().where('job_id', 'in', jobIds).orderBy('position').orderBy('drive_id').execute();
    for (const r of rows.map(driveFromRow)) {
      const list = out.get(r.jobId) ?? [];
      list.push(r);
      out.set(r.jobId, list);
    }
    return out;
  }

  /** Keyset page: ordered by id, so jobs added while paging appear at the end and none repeat or vanish. */
  async listJobs(q: ListJobsQuery): Promise<{ jobs: JobRecord[]; nextAfterId: number | null }> {
    let query = this.db.selectFrom('jobs').selectAll();
    if (q.subscriptionId !== undefined) query = query.where('subscription_id', '=', q.subscriptionId);
    if (q.resourceGroup !== undefined) query = query.where(sql`lower(resource_group)`, '=', q.resourceGroup.toLowerCase());
    if (q.states && q.states.length > 0) query = query.where('state', 'in', q.states);
    if (q.jobType !== undefined) query = query.where('job_type', '=', q.jobType);
    if (q.nameContains) query = query.where(sql`lower(name)`, 'like', `%${escapeLike(q.nameContains.toLowerCase())}%`);
    if (q.afterId !== undefined) query = query.where('id', '>', q.afterId);
    const rows = await query.orderBy('id').limit(q.limit + 1).execute();
    const page = rows.slice(0, q.limit).map(jobFromRow);
    return { jobs: page, nextAfterId: rows.length > q.limit ? page[page.length - 1].id : null };
  }

  async listEvents(jobId: number, afterId = 0, limit = 1000): Promise<JobEventRecord[]> {
    const rows = await this.db
      .selectFrom('job_events').selectAll()
      .where('job_id', '=', jobId).where('id', '>', afterId)
      .orderBy('id').limit(limit).execute();
    return rows.map(eventFromRow);
  }

  // ---------------------------------------------------------------- writes

  async createJob(input: NewJob): Promise<{ job: JobRecord; drives: DriveRecord[] }> {
    const now = this.clock.now();
    const box = await this.secrets();
    const f = input.fields;
    const jobRow: NewJobRow = {
      subscription_id: input.key.subscriptionId,
      resource_group: input.key.resourceGroup,
      name: input.key.name,
      location: input.location,
      job_type: input.jobType,
      state: input.initial.state,
      state_reason_code: input.initial.reason.code,
      state_reason_message: input.initial.reason.message,
      cancel_requested: f.cancelRequested ?? false,
      storage_account_id: f.storageAccountId ?? null,
      return_address: jsonOrNull(f.returnAddress),
      return_shipping: jsonOrNull(f.returnShipping),
      shipping_information: jsonOrNull(f.shippingInformation),
      delivery_package: jsonOrNull(f.deliveryPackage),
      return_package: jsonOrNull(f.returnPackage),
      diagnostics_path: f.diagnosticsPath ?? null,
      log_level: f.logLevel ?? null,
      backup_drive_manifest: f.backupDriveManifest ?? false,
      export_spec: jsonOrNull(f.exportSpec),
      encryption_key: jsonOrNull(f.encryptionKey),
      identity: jsonOrNull(f.identity),
      tags: JSON.stringify(f.tags ?? {}),
      extensions: JSON.stringify(f.extensions ?? {}),
      percent_complete: 0,
      version: 1,
      state_entered_at: now,
      created_at: now,
      created_by: input.actorId ?? null,
      updated_at: now,
      updated_by: input.actorId ?? null,
    };
    const deadline = nextDeadline({ state: input.initial.state, stateEnteredAt: now, updatedAt: now });
    jobRow.deadline_at = deadline?.at ?? null;
    jobRow.deadline_kind = deadline?.kind ?? null;
    try {
      const id = await this.db.transaction().execute(async (tx) => {
        const { id } = await tx.insertInto('jobs').values(jobRow).returning('id').executeTakeFirstOrThrow();
        const jobId = Number(id);
        if (input.drives.length > 0) {
          await tx.insertInto('drives').values(input.drives.map((d, i) => newDriveRow(jobId, i, d, now, box))).execute();
        }
        const eventId = await insertEvents(tx, jobId, input.key.subscriptionId, now, [
          {
            driveId: null, event: 'create', fromState: null, toState: input.initial.state, actor: Actor.Customer,
            actorId: input.actorId ?? null, reasonCode: input.initial.reason.code, message: input.initial.reason.message,
          },
        ]);
        await notify(tx, this.database.eventsChannel, { jobId, subscriptionId: input.key.subscriptionId, lastEventId: eventId });
        return jobId;
      });
      return { job: (await this.getJobById(id))!, drives: await this.getDrives(id) };
    } catch (e) {
      if (isUniqueViolation(e)) {
        throw new DomainError('AlreadyExists', `A job named '${input.key.name}' already exists in resource group '${input.key.resourceGroup}'.`, { target: 'jobName' });
      }
      throw e;
    }
  }

  /**
   * Runs `fn` on the job inside one transaction and commits what it changed. Optimistic concurrency: the job row is
   * written only if its version is still the one read. With `expectedVersion` a mismatch throws VersionConflict;
   * without, the whole unit is retried on fresh data (system work and un-conditioned requests never lose updates).
   */
  async changeJob<T>(jobId: number, opts: ChangeOptions, fn: (w: JobWork) => T | Promise<T>): Promise<{ job: JobRecord; drives: DriveRecord[]; result: T; events: JobEventRecord[] }> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.changeJobOnce(jobId, opts, fn);
      } catch (e) {
        const retry = e instanceof DomainError && e.code === 'VersionConflict' && opts.expectedVersion === undefined && attempt < MAX_AUTO_RETRIES;
        if (!retry) throw e;
      }
    }
  }

  private async changeJobOnce<T>(jobId: number, opts: ChangeOptions, fn: (w: JobWork) => T | Promise<T>) {
    const now = this.clock.now();
    const box = await this.secrets();
    return this.db.transaction().execute(async (tx) => {
      const row = await tx.selectFrom('jobs').selectAll().where('id', '=', jobId).executeTakeFirst();
      if (!row) throw new DomainError('NotFound', 'The job does not exist.');
      const job = jobFromRow(row);
      if (opts.expectedVersion !== undefined && opts.expectedVersion !== job.version) {
        throw new DomainError('VersionConflict', `The job changed since it was read (version ${job.version}, expected ${opts.expectedVersion}).`);
      }
      const drives = (await tx.selectFrom('drives').selectAll().where('job_id', '=', jobId).orderBy('position').orderBy('drive_id').execute()).map(driveFromRow);
      const work = new JobWork(job, drives, opts.actor, opts.actorId ?? null, now);
      const result = await fn(work);
      if (!work.jobChanged && work.changedDrives.size === 0 && work.newDrives.size === 0 && work.removedDrives.size === 0) {
        for (const f of work.sideEffects) await f(tx, job);
        return { job, drives, result, events: [] as JobEventRecord[] };
      }
      for (const d of work.drives) d.percentComplete = drivePercent({ ...d, finished: isFinished(d) });
      const percent = jobPercent(work.drives.filter((d) => !d.isExtra).map((d) => ({ ...d, finished: isFinished(d) })));
      const j = work.job;
      const deadline = nextDeadline(j.state === job.state && opts.actor === Actor.Customer ? { ...j, updatedAt: now } : { ...j, updatedAt: opts.actor === Actor.Customer ? now : job.updatedAt });
      const updated = await tx
        .updateTable('jobs')
        .set({
          state: j.state,
          state_reason_code: j.stateReason.code,
          state_reason_message: j.stateReason.message,
          faulted_from: j.faultedFrom,
          cancel_requested: j.cancelRequested,
          storage_account_id: j.storageAccountId,
          location: j.location,
          return_address: jsonOrNull(j.returnAddress),
          return_shipping: jsonOrNull(j.returnShipping),
          shipping_information: jsonOrNull(j.shippingInformation),
          delivery_package: jsonOrNull(j.deliveryPackage),
          return_package: jsonOrNull(j.returnPackage),
          diagnostics_path: j.diagnosticsPath,
          log_level: j.logLevel,
          backup_drive_manifest: j.backupDriveManifest,
          export_spec: jsonOrNull(j.exportSpec),
          encryption_key: jsonOrNull(j.encryptionKey),
          identity: jsonOrNull(j.identity),
          incomplete_blob_list_uri: j.incompleteBlobListUri,
          tags: JSON.stringify(j.tags ?? {}),
          extensions: JSON.stringify(j.extensions ?? {}),
          percent_complete: percent,
          version: job.version + 1,
          state_entered_at: j.stateEnteredAt,
          deadline_at: deadline?.at ?? null,
          deadline_kind: deadline?.kind ?? null,
          shipping_alerted_at: j.shippingAlertedAt,
          shipping_extended_until: j.shippingExtendedUntil,
          // Only customer updates count as "updated" for the Creating timer.
          updated_at: opts.actor === Actor.Customer ? now : job.updatedAt,
          updated_by: opts.actor === Actor.Customer ? (opts.actorId ?? null) : job.updatedBy,
        })
        .where('id', '=', jobId)
        .where('version', '=', job.version)
        .returningAll()
        .executeTakeFirst();
      if (!updated) throw new DomainError('VersionConflict', 'The job changed while this change was being made.');
      if (work.removedDrives.size > 0) {
        await tx.deleteFrom('drives').where('job_id', '=', jobId).where('drive_id', 'in', [...work.removedDrives]).execute();
      }
      const fresh = work.drives.filter((d) => work.newDrives.has(d.driveId));
      if (fresh.length > 0) {
        await tx.insertInto('drives').values(fresh.map((d) => newDriveRow(jobId, d.position, { ...d, bitLockerKey: undefined }, now, box))).execute();
      }
      for (const d of work.drives) {
        if (work.newDrives.has(d.driveId)) continue;
        if (!work.changedDrives.has(d.driveId) && d.percentComplete === drives.find((x) => x.driveId === d.driveId)?.percentComplete) continue;
        await tx.updateTable('drives').set(driveUpdateRow(d)).where('job_id', '=', jobId).where('drive_id', '=', d.driveId).execute();
      }
      let events: JobEventRecord[] = [];
      if (work.events.length > 0) {
        const lastEventId = await insertEvents(tx, jobId, job.subscriptionId, now, work.events);
        events = (await tx.selectFrom('job_events').selectAll().where('job_id', '=', jobId).where('id', '>', lastEventId - work.events.length).orderBy('id').execute()).map(eventFromRow);
        await notify(tx, this.database.eventsChannel, { jobId, subscriptionId: job.subscriptionId, lastEventId });
      }
      for (const f of work.sideEffects) await f(tx, jobFromRow(updated));
      const after = (await tx.selectFrom('drives').selectAll().where('job_id', '=', jobId).orderBy('position').orderBy('drive_id').execute()).map(driveFromRow);
      return { job: jobFromRow(updated), drives: after, result, events };
    });
  }

  /** Deletes a job and, by cascade, its drives, events and checkpoints. The version check guards against races. */
  async deleteJob(jobId: number, expectedVersion?: number): Promise<boolean> {
    let q = this.db.deleteFrom('jobs').where('id', '=', jobId);
    if (expectedVersion !== undefined) q = q.where('version', '=', expectedVersion);
    const r = await q.executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }

  // ---------------------------------------------------------------- secrets

  async secrets(): Promise<SecretBox> {
    if (this.secretBox) return this.secretBox;
    const fromEnv = process.env.SNEAKERNET_SECRET_KEY;
    let key: Buffer;
    if (fromEnv) key = parseSecretKey(fromEnv);
    else {
      const candidate = crypto.randomBytes(32).toString('hex');
      await this.db.insertInto('settings').values({ key: 'secret_key', value: JSON.stringify(candidate) }).onConflict((oc) => oc.column('key').doNothing()).execute();
      const row = await this.db.selectFrom('settings').select('value').where('key', '=', 'secret_key').executeTakeFirstOrThrow();
      key = parseSecretKey(typeof row.value === 'string' && row.value.startsWith('"') ? JSON.parse(row.value) : String(row.value));
    }
    this.secretBox = new SecretBox(key);
    return this.secretBox;
  }

  async revealBitLockerKey(d: DriveRecord): Promise<string | null> {
    return d.bitLockerKeyCipher ? (await this.secrets()).open(d.bitLockerKeyCipher) : null;
  }

  async sealBitLockerKey(plain: string): Promise<string> {
    return (await this.secrets()).seal(plain);
  }
}

const isFinished = (d: DriveRecord) => FINISHED_DRIVE_STATES.includes(d.state) || TERMINAL_DRIVE_STATES.includes(d.state);

const jsonOrNull = (v: unknown) => (v == null ? null : JSON.stringify(v));
const escapeLike = (s: string) => s.replace(/[\\%_]/g, (c) => '\\' + c);

function isUniqueViolation(e: unknown): boolean {
  return typeof e === 'object' && e !== null && (e as { code?: string }).code === '23505';
}

function newDriveRow(jobId: number, position: number, d: NewJob['drives'][number], now: Date, box: SecretBox): NewDriveRow {
  return {
    job_id: jobId,
    drive_id: d.driveId,
    position,
    state: d.state,
    state_reason_code: d.stateReason.code,
    state_reason_message: d.stateReason.message,
    bitlocker_key: d.bitLockerKey ? box.seal(d.bitLockerKey) : (d.bitLockerKeyCipher ?? null),
    manifest_file: d.manifestFile ?? null,
    manifest_hash: d.manifestHash ?? null,
    drive_header_hash: d.driveHeaderHash ?? null,
    bytes_total: d.bytesTotal ?? 0,
    bytes_succeeded: d.bytesSucceeded ?? 0,
    objects_total: d.objectsTotal ?? 0,
    objects_succeeded: d.objectsSucceeded ?? 0,
    objects_failed: d.objectsFailed ?? 0,
    objects_skipped: d.objectsSkipped ?? 0,
    percent_complete: d.percentComplete ?? 0,
    copy_status: d.copyStatus ?? null,
    is_extra: d.isExtra ?? false,
    has_errors: d.hasErrors ?? false,
    rate_bps: 0,
    state_entered_at: d.stateEnteredAt ?? now,
  };
}

function driveUpdateRow(d: DriveRecord) {
  return {
    position: d.position,
    state: d.state,
    state_reason_code: d.stateReason.code,
    state_reason_message: d.stateReason.message,
    faulted_from: d.faultedFrom,
    bitlocker_key: d.bitLockerKeyCipher,
    manifest_file: d.manifestFile,
    manifest_hash: d.manifestHash,
    drive_header_hash: d.driveHeaderHash,
    bytes_total: d.bytesTotal,
    bytes_succeeded: d.bytesSucceeded,
    objects_total: d.objectsTotal,
    objects_succeeded: d.objectsSucceeded,
    objects_failed: d.objectsFailed,
    objects_skipped: d.objectsSkipped,
    percent_complete: d.percentComplete,
    phase: d.phase,
    rate_bps: d.rateBps,
    copy_status: d.copyStatus,
    has_errors: d.hasErrors,
    error_log_uri: d.errorLogUri,
    verbose_log_uri: d.verboseLogUri,
    manifest_uri: d.manifestUri,
    is_extra: d.isExtra,
    lease_owner: d.leaseOwner,
    lease_expires_at: d.leaseExpiresAt,
    state_entered_at: d.stateEnteredAt,
  };
}

async function insertEvents(
  tx: Transaction<Schema>, jobId: number, subscriptionId: string, at: Date,
  events: Array<{ driveId: string | null; event: string; fromState: string | null; toState: string | null; actor: string; actorId: string | null; reasonCode: string; message: string; data?: unknown }>,
): Promise<number> {
  const rows = await tx
    .insertInto('job_events')
    .values(events.map((e) => ({
      job_id: jobId, subscription_id: subscriptionId, drive_id: e.driveId, event: e.event, from_state: e.fromState,
      to_state: e.toState, actor: e.actor, actor_id: e.actorId, reason_code: e.reasonCode, message: e.message,
      data: e.data === undefined ? null : JSON.stringify(e.data), at, request_id: currentRequestId(),
    })))
    .returning('id')
    .execute();
  // The outbox row is written in the same transaction as the event: a crash after commit loses no notification.
  await tx.insertInto('outbox').values(rows.map((r, i) => ({
    event_id: Number(r.id), subscription_id: subscriptionId, job_id: jobId, topic: `job.${events[i].event}`,
    payload: JSON.stringify({ eventId: Number(r.id), ...events[i], at }), created_at: at, request_id: currentRequestId(),
  }))).execute();
  return Math.max(...rows.map((r) => Number(r.id)));
}

async function notify(tx: Transaction<Schema>, channel: string, n: EventNotice) {
  await sql`select pg_notify(${channel}, ${JSON.stringify(n)})`.execute(tx);
}

export type { JobRow };
