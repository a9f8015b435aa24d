/**
 * The set-based sweep against the per-row paths it replaces: the same rows written, every due item applied once
 * when batches page (small batch sizes) and when two sweepers run at once.
 */
import { afterEach, beforeEach, expect, it } from 'vitest';
import { forEachDatabase, openTestStore, type TestDb } from '../helpers/db.ts';
import { createImportJob } from '../helpers/jobs.ts';
import { shippedJob, uniqueDrives } from '../operator/helpers.ts';
import { DriveState, JobState } from '../../src/domain/states.ts';
import { DAY_MS, DeadlineKind } from '../../src/domain/timers.ts';
import { opsDb } from '../../src/operator/schema.ts';
import { applyJobTimer, sweepTimers } from '../../src/timers/sweep.ts';

forEachDatabase('timer batches', (driver) => {
  let t: TestDb;
  beforeEach(async () => {
    t = await openTestStore(driver);
  });
  afterEach(async () => t.close());

  /** A job's events and outbox rows with its own names and ids taken out, so two jobs can be compared. */
  async function written(jobId: number) {
    const job = (await t.store.getJobById(jobId))!;
    const drives = await t.store.getDrives(jobId);
    const names: Array<[string, string]> = [[job.name, '<job>'], ...drives.map((d, i): [string, string] => [d.driveId, `<drive${i}>`])];
    const scrub = (v: unknown) => {
      let s = JSON.stringify(v);
      for (const [from, to] of names) s = s.split(from).join(to);
      return JSON.parse(s);
    };
    const events = (await opsDb(t.store).selectFrom('job_events').select(['id', 'drive_id', 'event', 'from_state', 'to_state', 'actor', 'actor_id', 'reason_code', 'message', 'data', 'at'])
      .where('job_id', '=', jobId).orderBy('id').execute());
    // Event ids by their rank within the job (the two jobs' events interleave in the sequence).
    const rank = new Map(events.map((e, i) => [Number(e.id), i]));
    const rel = (id: unknown) => (id == null ? null : rank.get(Number(id)) ?? 'other');
    // The sweep warns 3 days before a close (applyJobTimer alone does not): compared apart.
    const outbox = await opsDb(t.store).selectFrom('outbox').select(['event_id', 'topic', 'payload', 'subscription_id']).where('job_id', '=', jobId)
      .where('topic', '!=', 'job.deadlineWarning').orderBy('id').execute();
    const tasks = await opsDb(t.store).selectFrom('operator_tasks').select(['kind', 'status', 'title', 'detail', 'drive_ids', 'due_at', 'dedupe_key', 'created_by'])
      .where('job_id', '=', jobId).orderBy('id').execute();
    return scrub({
      job: { ...job, id: 0, name: '', version: job.version, createdAt: 0, updatedAt: 0 },
      drives: drives.map((d) => ({ ...d, jobId: 0, bitLockerKeyCipher: null })),
      events: events.map((e) => ({ ...e, id: rel(e.id) })),
      outbox: outbox.map((o) => {
        const p = (typeof o.payload === 'string' ? JSON.parse(o.payload) : o.payload) as Record<string, unknown>;
        return { ...o, event_id: rel(o.event_id), payload: { ...p, eventId: rel(p.eventId), taskId: p.taskId == null ? null : 'task' } };
      }),
      tasks: tasks.map((x) => ({ ...x, dedupe_key: String(x.dedupe_key).replace(String(jobId), '<id>') })),
    });
  }

  it('the batch path writes exactly what the per-job unit of work writes (shipping alert, then close)', async () => {
    const one = await shippedJob(t.store, uniqueDrives(2));
    const other = await shippedJob(t.store, uniqueDrives(2));
    t.clock.advance(14 * DAY_MS);
    expect(await applyJobTimer(t.store, one.job.id, DeadlineKind.ShippingAlert)).toBe('alerted');
    expect((await sweepTimers(t.store)).shippingAlerts).toBe(1);
    expect(await written(other.job.id)).toEqual(await written(one.job.id));

    t.clock.advance(30 * DAY_MS);
    expect(await applyJobTimer(t.store, one.job.id, DeadlineKind.CloseUnanswered)).toBe('closed');
    const s = await sweepTimers(t.store);
    expect(s.closed).toBe(1);
    expect((await t.store.getJobById(other.job.id))!.state).toBe(JobState.Closed);
    expect(s.warnings).toBe(1);
    expect(await written(other.job.id)).toEqual(await written(one.job.id));
  });

  it('small batches page through every due job once, with two batches in flight', async () => {
    const creating = await Promise.all(Array.from({ length: 7 }, () => createImportJob(t.store, { drives: uniqueDrives(1) })));
    const shipped = await Promise.all(Array.from({ length: 5 }, () => shippedJob(t.store, uniqueDrives(1))));
    t.clock.advance(15 * DAY_MS);
    const s = await sweepTimers(t.store, { batchSize: 2, concurrency: 2 });
    expect(s).toMatchObject({ deleted: 7, shippingAlerts: 5, skipped: 0 });
    for (const { job } of creating) expect(await t.store.getJobById(job.id)).toBeNull();
    for (const { job } of shipped) {
      const events = await t.store.listEvents(job.id);
      expect(events.filter((e) => e.event === 'shippingAlert')).toHaveLength(1);
      expect(events.filter((e) => e.toState === DriveState.NeverReceived)).toHaveLength(1);
    }
    expect(await sweepTimers(t.store, { batchSize: 2 })).toMatchObject({ deleted: 0, shippingAlerts: 0 });
  });
});
