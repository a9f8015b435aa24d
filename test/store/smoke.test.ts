import { afterAll, beforeAll, expect, it } from 'vitest';
import { forEachDatabase, openTestStore, type TestDb } from '../helpers/db.ts';
import { createImportJob, shippingFields } from '../helpers/jobs.ts';
import { JobEvent, DriveEvent } from '../../src/domain/transitions.ts';
import { Actor, JobState } from '../../src/domain/states.ts';

forEachDatabase('store smoke', (driver) => {
  let t: TestDb;
  beforeAll(async () => {
    t = await openTestStore(driver);
  });
  afterAll(async () => t.close());

  it('creates, ships and receives a job in transactions that append events', async () => {
    const { job } = await createImportJob(t.store);
    expect(job.state).toBe(JobState.Creating);
    const shipped = await t.store.changeJob(job.id, { actor: Actor.Customer, expectedVersion: job.version }, (w) => {
      w.set(shippingFields);
      w.applyJobEvent(JobEvent.ProvideShippingInfo);
    });
    expect(shipped.job.state).toBe(JobState.Shipping);
    expect(shipped.job.version).toBe(2);
    const received = await t.store.changeJob(job.id, { actor: Actor.Operator }, (w) => {
      for (const d of w.drives) w.applyDriveEvent(d.driveId, DriveEvent.Receive);
      w.followDrives();
    });
    expect(received.job.state).toBe(JobState.Received);
    const events = await t.store.listEvents(job.id);
    expect(events.map((e) => e.event)).toEqual(['create', 'provideShippingInfo', 'receive', 'receive', 'receiveAllDrives']);
  });
});
