/**
 * The store's promises: every transition is one transaction with a version check and an appended event; a stale
 * writer gets a conflict, never a silent overwrite; two concurrent transitions on one job: exactly one wins.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { forEachDatabase, openTestStore, type TestDb } from '../helpers/db.ts';
import { createImportJob, shippingFields } from '../helpers/jobs.ts';
import { Actor, DriveEvent, DriveState, JobEvent, JobState, DeadlineKind, DAY_MS, CREATING_EXPIRY_MS, DomainError } from '../../src/domain/index.ts';

forEachDatabase('store transactions', (driver) => {
  let t: TestDb;
  beforeAll(async () => {
    t = await openTestStore(driver);
  });
  afterAll(async () => t.close());

  it('a stale version gets a VersionConflict, never a silent overwrite', async () => {
    const { job } = await createImportJob(t.store);
    await t.store.changeJob(job.id, { actor: Actor.Customer, expectedVersion: 1 }, (w) => w.set({ tags: { a: '1' } }));
    const stale = t.store.changeJob(job.id, { actor: Actor.Customer, expectedVersion: 1 }, (w) => w.set({ tags: { a: '2' } }));
    await expect(stale).rejects.toMatchObject({ code: 'VersionConflict' });
    expect((await t.store.getJobById(job.id))!.tags).toEqual({ a: '1' });
  });

  it('race: two concurrent transitions on one job, exactly one wins and the other gets a conflict', async () => {
    const { job } = await createImportJob(t.store);
    await t.store.changeJob(job.id, { actor: Actor.Customer }, (w) => w.set(shippingFields));
    const fresh = (await t.store.getJobById(job.id))!;
    const attempt = (message: string) =>
      t.store.changeJob(job.id, { actor: Actor.Operator, expectedVersion: fresh.version }, async (w) => {
        // Give the other transaction time to read the same version.
        await new Promise((r) => setTimeout(r, 20));
        w.applyJobEvent(JobEvent.Fault, { message });
      });
    const results = await Promise.allSettled([attempt('first'), attempt('second')]);
    const won = results.filter((r) => r.status === 'fulfilled');
    const lost = results.filter((r) => r.status === 'rejected') as PromiseRejectedResult[];
    expect(won).toHaveLength(1);
    expect(lost).toHaveLength(1);
    expect(lost[0].reason).toBeInstanceOf(DomainError);
    expect((lost[0].reason as DomainError).code).toBe('VersionConflict');
    const faults = (await t.store.listEvents(job.id)).filter((e) => e.event === JobEvent.Fault);
    expect(faults).toHaveLength(1);
  });

  it('without If-Match, concurrent changes are retried and none is lost', async () => {
    const { job } = await createImportJob(t.store);
    await Promise.all(
      Array.from({ length: 5 }, (_, i) =>
        t.store.changeJob(job.id, { actor: Actor.Customer }, (w) => {
          w.set({ tags: { ...w.job.tags, [`k${i}`]: String(i) } });
        }),
      ),
    );
    const after = (await t.store.getJobById(job.id))!;
    expect(Object.keys(after.tags).sort()).toEqual(['k0', 'k1', 'k2', 'k3', 'k4']);
    expect(after.version).toBe(6);
  });

  it('a forbidden transition writes nothing (no partial write)', async () => {
    const { job } = await createImportJob(t.store);
    await expect(
      t.store.changeJob(job.id, { actor: Actor.Customer }, (w) => {
        w.set({ tags: { touched: 'yes' } });
        w.applyJobEvent(JobEvent.ProvideShippingInfo); // no shipping info: guard fails
      }),
    ).rejects.toMatchObject({ code: 'GuardFailed' });
    const after = (await t.store.getJobById(job.id))!;
    expect(after.tags).toEqual({});
    expect(after.version).toBe(1);
    expect(await t.store.listEvents(job.id)).toHaveLength(1);
  });

  it('job: update in Creating resets the 14-day clock (stored deadline)', async () => {
    const { job } = await createImportJob(t.store);
    expect(job.deadlineKind).toBe(DeadlineKind.DeleteCreating);
    expect(job.deadlineAt!.getTime()).toBe(t.clock.now().getTime() + CREATING_EXPIRY_MS);
    t.clock.advance(5 * DAY_MS);
    const { job: updated } = await t.store.changeJob(job.id, { actor: Actor.Customer }, (w) => w.set({ logLevel: 'Verbose' }));
    expect(updated.deadlineAt!.getTime()).toBe(t.clock.now().getTime() + CREATING_EXPIRY_MS);
  });

  it('every state change carries a reason, stored on the row and in job_events with actor and time', async () => {
    const { job } = await createImportJob(t.store, { drives: ['A1'] });
    await t.store.changeJob(job.id, { actor: Actor.Customer, actorId: 'token-1' }, (w) => {
      w.set(shippingFields);
      w.applyJobEvent(JobEvent.ProvideShippingInfo);
    });
    const { job: after, drives } = await t.store.changeJob(job.id, { actor: Actor.Operator, actorId: 'op-1' }, (w) => {
      w.applyDriveEvent('A1', DriveEvent.Receive);
      w.followDrives();
    });
    expect(after.state).toBe(JobState.Received);
    expect(after.stateReason.code).toBe('AllDrivesReceived');
    expect(drives[0].state).toBe(DriveState.Received);
    const events = await t.store.listEvents(job.id);
    expect(events.map((e) => [e.event, e.fromState, e.toState, e.actor, e.actorId])).toEqual([
      ['create', null, JobState.Creating, Actor.Customer, null],
      [JobEvent.ProvideShippingInfo, JobState.Creating, JobState.Shipping, Actor.Customer, 'token-1'],
      [DriveEvent.Receive, DriveState.Specified, DriveState.Received, Actor.Operator, 'op-1'],
      [JobEvent.ReceiveAllDrives, JobState.Shipping, JobState.Received, Actor.System, null],
    ]);
    for (const e of events) expect(e.message.length).toBeGreaterThan(0);
  });

  it('names are unique case-insensitively within a resource group', async () => {
    await createImportJob(t.store, { name: 'MixedCase', resourceGroup: 'RG-A' });
    await expect(createImportJob(t.store, { name: 'mixedcase', resourceGroup: 'rg-a' })).rejects.toMatchObject({ code: 'AlreadyExists' });
    await expect(createImportJob(t.store, { name: 'mixedcase', resourceGroup: 'rg-b' })).resolves.toBeTruthy();
  });

  it('lists use keyset pagination that stays correct while jobs are added', async () => {
    const sub = `sub-page-${driver}`;
    for (let i = 0; i < 5; i++) await createImportJob(t.store, { subscriptionId: sub });
    const first = await t.store.listJobs({ subscriptionId: sub, limit: 2 });
    expect(first.jobs).toHaveLength(2);
    await createImportJob(t.store, { subscriptionId: sub });
    const seen = [...first.jobs];
    let cursor = first.nextAfterId;
    while (cursor !== null) {
      const page = await t.store.listJobs({ subscriptionId: sub, limit: 2, afterId: cursor });
      seen.push(...page.jobs);
      cursor = page.nextAfterId;
    }
    expect(seen).toHaveLength(6);
    expect(new Set(seen.map((j) => j.id)).size).toBe(6);
  });

  it('BitLocker keys are encrypted at rest', async () => {
    const { drives } = await createImportJob(t.store, { drives: ['K1'] });
    expect(drives[0].bitLockerKeyCipher).not.toContain('key-of-K1');
    expect(await t.store.revealBitLockerKey(drives[0])).toBe('key-of-K1');
  });
});
