/**
 * The set-based sweep against the per-row paths it replaces: the same rows written, every due item applied once
 * when batches page (small batch sizes) and when two sweepers run at once.
 */
import { afterEach, beforeEach, expect, it } from 'vitest';
import { forEachDatabase, openTestStore, type TestDb } from '../helpers/db.ts';
import { createImportJob } from '../helpers/jobs.ts';
import { call, shippedJob, uniqueDrives } from '../operator/helpers.ts';
import { AddressFlagState, CustodyKind, HeldDriveState, TaskKind, TaskStatus } from '../../src/domain/custody.ts';
import { Actor, DriveState, JobState } from '../../src/domain/states.ts';
import { flagReturnAddress, listHeldDrives, receivePackage, startDriveTransfer } from '../../src/operator/index.ts';
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

forEachDatabase('held drive and address flag batches', (driver) => {
  let t: TestDb;
  beforeEach(async () => {
    t = await openTestStore(driver);
  });
  afterEach(async () => t.close());

  /**
   * Two sweepers at once, again until a round applies nothing (SKIP LOCKED: an item the other sweeper's transaction
   * holds waits for the next sweep), summed: each item must count exactly once over all rounds.
   */
  const twoSweepers = async () => {
    const total = { heldReturnAlerts: 0, heldDueForDestruction: 0, addressFlagsExpired: 0, addressFlagsResolved: 0 };
    for (let round = 0; round < 10; round++) {
      const [a, b] = await Promise.all([sweepTimers(t.store, { batchSize: 2, concurrency: 2 }), sweepTimers(t.store, { batchSize: 2, concurrency: 2 })]);
      let applied = 0;
      for (const k of Object.keys(total) as Array<keyof typeof total>) {
        total[k] += a[k] + b[k];
        applied += a[k] + b[k];
      }
      if (applied === 0) break;
    }
    return total;
  };
  const count = async (table: 'operator_tasks' | 'custody_events' | 'outbox', where: [string, unknown][]) => {
    let q = opsDb(t.store).selectFrom(table).select((eb) => eb.fn.countAll<number>().as('n'));
    for (const [col, val] of where) q = q.where(col as never, '=', val as never);
    return Number((await q.executeTakeFirstOrThrow()).n);
  };

  it('held drives: two sweepers with small batches apply each timer to each drive once, tasks and custody records once', async () => {
    const strays = uniqueDrives(5, 'STRAY');
    await receivePackage(call(t.store), { carrier: 'DHL', trackingNumber: 'STRAYS', driveIds: strays });
    const early = uniqueDrives(2);
    const { job } = await createImportJob(t.store, { drives: early });
    const got = await receivePackage(call(t.store), { carrier: 'DHL', trackingNumber: 'EARLY', driveIds: early });
    expect(got.held.map((h) => h.jobId)).toEqual([job.id, job.id]);
    const held = await listHeldDrives(call(t.store), {});
    expect(held).toHaveLength(7);

    t.clock.advance(14 * DAY_MS);
    expect(await twoSweepers()).toMatchObject({ heldReturnAlerts: 7, heldDueForDestruction: 0 });
    for (const h of held) expect(await count('operator_tasks', [['held_drive_id', h.id], ['kind', TaskKind.ReturnHeldDrives]])).toBe(1);

    // The Creating job was deleted at 14 days (its held drives now belong to no job); name a live one for the two
    // drives, so their destruction also notifies a customer.
    expect(await t.store.getJobById(job.id)).toBeNull();
    const live = (await shippedJob(t.store, uniqueDrives(1))).job;
    await opsDb(t.store).updateTable('held_drives').set({ job_id: live.id, subscription_id: live.subscriptionId, job_name: live.name })
      .where('drive_id', 'in', early).execute();
    t.clock.advance(76 * DAY_MS);
    expect(await twoSweepers()).toMatchObject({ heldReturnAlerts: 0, heldDueForDestruction: 7 });
    for (const h of await listHeldDrives(call(t.store), {})) {
      expect(h).toMatchObject({ state: HeldDriveState.DueForDestruction, deadlineAt: null, note: 'Unclaimed for 90 days.' });
      expect(await count('operator_tasks', [['held_drive_id', h.id], ['kind', TaskKind.DestroyDrives]])).toBe(1);
      expect(await count('custody_events', [['held_drive_id', h.id], ['kind', CustodyKind.MarkedForDestruction]])).toBe(1);
    }
    // The customer of the known job hears once per drive; drives of no known job notify nobody.
    expect(await count('outbox', [['job_id', live.id], ['topic', 'job.drivesDueForDestruction']])).toBe(2);
    expect(await count('outbox', [['topic', 'job.drivesDueForDestruction']])).toBe(2);
    expect(await twoSweepers()).toMatchObject({ heldReturnAlerts: 0, heldDueForDestruction: 0 });
  });

  it('held drives: after a jump past both deadlines one sweep applies both, in order', async () => {
    const strays = uniqueDrives(3, 'JUMP');
    await receivePackage(call(t.store), { carrier: 'DHL', trackingNumber: 'JUMP', driveIds: strays });
    t.clock.advance(91 * DAY_MS);
    expect(await sweepTimers(t.store, { batchSize: 2, concurrency: 2 })).toMatchObject({ heldReturnAlerts: 3, heldDueForDestruction: 3 });
    for (const h of await listHeldDrives(call(t.store), {})) expect(h.state).toBe(HeldDriveState.DueForDestruction);
  });

  it('return address flags: two sweepers apply each flag once — expired (drives due for destruction) or resolved (address changed)', async () => {
    const flagged = [];
    for (let i = 0; i < 4; i++) {
      const drives = uniqueDrives(2);
      const { job, tracking } = await shippedJob(t.store, drives);
      await receivePackage(call(t.store), { carrier: 'FedEx', trackingNumber: tracking, driveIds: drives });
      await startDriveTransfer(t.store, { jobId: job.id, driveId: drives[0] });
      await flagReturnAddress(call(t.store), job.id, { note: 'address missing' });
      flagged.push({ job, drives });
    }
    // The customer fixes one address; no watcher runs here, so the sweep finds it.
    const fixed = flagged[3].job.id;
    await t.store.changeJob(fixed, { actor: Actor.Customer }, (w) => w.set({ returnAddress: { ...w.job.returnAddress, streetAddress1: '2 Real Rd' } }));
    t.clock.advance(90 * DAY_MS);
    expect(await twoSweepers()).toMatchObject({ addressFlagsExpired: 3, addressFlagsResolved: 1 });
    for (const { job, drives } of flagged.slice(0, 3)) {
      const j = (await t.store.getJobById(job.id))!;
      expect(j.extensions.drivesDueForDestruction).toEqual(drives);
      expect((j.extensions.returnAddressProblem as Record<string, unknown>).expiredAt).toBe(t.clock.now().toISOString());
      expect((await t.store.listEvents(job.id)).filter((e) => e.event === 'drivesDueForDestruction')).toHaveLength(1);
      expect(await count('operator_tasks', [['job_id', job.id], ['kind', TaskKind.DestroyDrives]])).toBe(1);
      for (const d of drives) expect(await count('custody_events', [['job_id', job.id], ['drive_id', d], ['kind', CustodyKind.MarkedForDestruction]])).toBe(1);
    }
    const f = (await t.store.getJobById(fixed))!;
    expect(f.extensions.returnAddressProblem).toBeUndefined();
    expect((await t.store.listEvents(fixed)).filter((e) => e.event === 'returnAddressResolved')).toHaveLength(1);
    expect(await count('operator_tasks', [['job_id', fixed], ['kind', TaskKind.BadReturnAddress], ['status', TaskStatus.Open]])).toBe(0);
    const flags = await opsDb(t.store).selectFrom('return_address_flags').select(['job_id', 'status', 'deadline_at']).orderBy('id').execute();
    expect(flags.map((x) => [Number(x.job_id), x.status, x.deadline_at])).toEqual(flagged.map(({ job }) => [job.id, job.id === fixed ? AddressFlagState.Resolved : AddressFlagState.Expired, null]));
    expect(await twoSweepers()).toMatchObject({ addressFlagsExpired: 0, addressFlagsResolved: 0 });
  });
});
