/** Timers across simulated 14, 30 and 90 days: idempotent, warned 3 days ahead, visible in Get Job, surviving restarts. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { CompiledQuery } from 'kysely';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { forEachDatabase, openTestStore, type TestDb } from '../helpers/db.ts';
import { createImportJob } from '../helpers/jobs.ts';
import { call, shippedJob, uniqueDrives } from '../operator/helpers.ts';
import { Actor, DriveState, JobState } from '../../src/domain/states.ts';
import { DAY_MS, DeadlineKind } from '../../src/domain/timers.ts';
import { ManualClock } from '../../src/domain/clock.ts';
import { receivePackage, shipBack, startDriveTransfer, finishDriveTransfer, flagReturnAddress } from '../../src/operator/index.ts';
import { opsDb } from '../../src/operator/schema.ts';
import { sweepTimers } from '../../src/timers/sweep.ts';
import { pendingDeadlines } from '../../src/timers/deadlines.ts';
import { startBoss } from '../../src/timers/boss.ts';
import { TimerService } from '../../src/timers/service.ts';
import { openDatabase } from '../../src/store/db.ts';
import { Store } from '../../src/store/store.ts';

forEachDatabase('timers', (driver) => {
  let t: TestDb;
  beforeAll(async () => {
    t = await openTestStore(driver);
  });
  afterAll(async () => t.close());

  const topics = async (jobId: number) => (await opsDb(t.store).selectFrom('outbox').select('topic').where('job_id', '=', jobId).orderBy('id').execute()).map((r) => r.topic);

  it('Creating: deleted after 14 days, a customer update resets the clock, and the customer is warned 3 days before, once', async () => {
    const { job } = await createImportJob(t.store, { drives: uniqueDrives(1) });
    t.clock.advance(10 * DAY_MS);
    await t.store.changeJob(job.id, { actor: Actor.Customer }, (w) => w.set({ tags: { touched: 'yes' } }));
    t.clock.advance(10 * DAY_MS);
    let s = await sweepTimers(t.store);
    expect((await t.store.getJobById(job.id))!.state).toBe(JobState.Creating);
    expect(await topics(job.id)).not.toContain('job.deadlineWarning');
    t.clock.advance(1 * DAY_MS + 1);
    s = await sweepTimers(t.store);
    expect(s.warnings).toBeGreaterThanOrEqual(1);
    await sweepTimers(t.store);
    expect((await topics(job.id)).filter((x) => x === 'job.deadlineWarning')).toHaveLength(1);
    t.clock.advance(3 * DAY_MS);
    s = await sweepTimers(t.store);
    expect(s.deleted).toBeGreaterThanOrEqual(1);
    expect(await t.store.getJobById(job.id)).toBeNull();
    expect((await topics(job.id)).at(-1)).toBe('job.deleted');
  });

  it('Completed and Closed jobs are deleted with their events after 90 days', async () => {
    const drives = uniqueDrives(1);
    const { job, tracking } = await shippedJob(t.store, drives);
    await receivePackage(call(t.store), { carrier: 'FedEx', trackingNumber: tracking, driveIds: drives });
    await startDriveTransfer(t.store, { jobId: job.id, driveId: drives[0] });
    await finishDriveTransfer(t.store, { jobId: job.id, driveId: drives[0], outcome: { errors: 0 } });
    const done = await shipBack(call(t.store), job.id, { carrierName: 'FedEx', trackingNumber: 'R' });
    expect(done.job).toMatchObject({ state: JobState.Completed, deadlineKind: DeadlineKind.DeleteFinished });
    expect(pendingDeadlines(done.job)).toMatchObject([{ kind: DeadlineKind.DeleteFinished, dueAt: new Date(t.clock.now().getTime() + 90 * DAY_MS).toISOString() }]);
    t.clock.advance(90 * DAY_MS - 1);
    await sweepTimers(t.store);
    expect(await t.store.getJobById(job.id)).not.toBeNull();
    t.clock.advance(1);
    await sweepTimers(t.store);
    expect(await t.store.getJobById(job.id)).toBeNull();
    expect(await t.store.listEvents(job.id)).toEqual([]);
  });

  it('Shipping: 14 days → alert, +30 days → Closed, +90 days → deleted; pending deadlines say what comes next', async () => {
    const { job } = await shippedJob(t.store, uniqueDrives(1));
    expect(pendingDeadlines((await t.store.getJobById(job.id))!)[0]).toMatchObject({ kind: DeadlineKind.ShippingAlert });
    t.clock.advance(14 * DAY_MS);
    await sweepTimers(t.store);
    const alerted = (await t.store.getJobById(job.id))!;
    expect(pendingDeadlines(alerted)[0]).toMatchObject({ kind: DeadlineKind.CloseUnanswered, dueAt: new Date(t.clock.now().getTime() + 30 * DAY_MS).toISOString() });
    t.clock.advance(30 * DAY_MS);
    await sweepTimers(t.store);
    expect((await t.store.getJobById(job.id))!.state).toBe(JobState.Closed);
    expect(await topics(job.id)).toContain('job.deadlineWarning');
    t.clock.advance(90 * DAY_MS);
    await sweepTimers(t.store);
    expect(await t.store.getJobById(job.id)).toBeNull();
  });

  it('a timer that fires twice, or in two sweepers at once, changes nothing twice', async () => {
    const jobs = await Promise.all(Array.from({ length: 6 }, () => shippedJob(t.store, uniqueDrives(1))));
    t.clock.advance(14 * DAY_MS);
    const [a, b] = await Promise.all([sweepTimers(t.store), sweepTimers(t.store)]);
    expect(a.shippingAlerts + b.shippingAlerts).toBeGreaterThanOrEqual(6);
    for (const { job } of jobs) {
      const events = await t.store.listEvents(job.id);
      expect(events.filter((e) => e.event === 'shippingAlert')).toHaveLength(1);
      expect(events.filter((e) => e.toState === DriveState.NeverReceived)).toHaveLength(1);
    }
    const again = await sweepTimers(t.store);
    expect(again.shippingAlerts).toBe(0);
  });

  it('Get Job shows the address-flag destruction deadline as well', async () => {
    const drives = uniqueDrives(1);
    const { job, tracking } = await shippedJob(t.store, drives);
    await receivePackage(call(t.store), { carrier: 'FedEx', trackingNumber: tracking, driveIds: drives });
    await startDriveTransfer(t.store, { jobId: job.id, driveId: drives[0] });
    const f = await flagReturnAddress(call(t.store), job.id, { note: 'missing' });
    expect(pendingDeadlines(f.job)).toMatchObject([{ kind: 'destroyUnreachable', dueAt: new Date(t.clock.now().getTime() + 90 * DAY_MS).toISOString() }]);
  });

  it('the pg-boss timer service sweeps on start (catch-up) and on demand', async () => {
    const { job } = await createImportJob(t.store, { drives: uniqueDrives(1) });
    t.clock.advance(15 * DAY_MS);
    const bossSchema = `boss_${Math.random().toString(36).slice(2, 8)}`;
    const boss = await startBoss(t.database, { schema: bossSchema });
    const svc = new TimerService(t.store, boss);
    try {
      await svc.start();
      expect(svc.lastResult!.deleted).toBeGreaterThanOrEqual(1);
      expect(await t.store.getJobById(job.id)).toBeNull();
    } finally {
      await svc.stop();
      await boss.stop({ graceful: false, wait: true, close: false });
      if (driver === 'postgres') await t.database.db.executeQuery(CompiledQuery.raw(`drop schema if exists ${bossSchema} cascade`, []));
    }
  });
});

it('timers survive a restart: deadlines live in the database, a new process applies what came due while it was down', async () => {
  const url = process.env.DATABASE_URL;
  const schema = `t_restart_${Math.random().toString(36).slice(2, 8)}`;
  const dir = url ? null : fs.mkdtempSync(path.join(os.tmpdir(), 'snk-timers-'));
  const open = async (clock: ManualClock) => {
    const database = await openDatabase(url ? { databaseUrl: url, schema } : { dataDir: dir! });
    return { database, store: new Store(database, clock) };
  };
  const start = new Date('2026-05-01T00:00:00Z');
  const first = await open(new ManualClock(start));
  const { job } = await createImportJob(first.store, { drives: ['RESTART1'] });
  const shipped = await shippedJob(first.store, ['RESTART2']);
  await first.database.close();
  // The process is gone for 15 days.
  const second = await open(new ManualClock(start.getTime() + 15 * DAY_MS));
  try {
    const s = await sweepTimers(second.store);
    expect(s.deleted).toBe(1);
    expect(s.shippingAlerts).toBe(1);
    expect(await second.store.getJobById(job.id)).toBeNull();
    expect((await second.store.getJobById(shipped.job.id))!.shippingAlertedAt).not.toBeNull();
  } finally {
    await second.database.close();
    if (url) {
      const c = new pg.Client({ connectionString: url });
      await c.connect();
      await c.query(`drop schema if exists ${schema} cascade`);
      await c.end();
    } else {
      // PGlite may still flush to its folder just after close() resolves: remove the folder when the test process exits.
      process.once('exit', () => fs.rmSync(dir!, { recursive: true, force: true }));
    }
  }
});
