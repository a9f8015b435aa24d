/**
 * Group-committed copy checkpoints: intents are durable when `putNow` resolves; outcomes are committed in batches
 * only after the blob store's sync ran; a worker that lost its lease writes nothing.
 */
import { afterEach, beforeEach, expect, it } from 'vitest';
import { CheckpointBatcher, LeaseLost } from '../../src/transfer/worker/checkpoints.ts';
import { claimDrive, getCheckpoints, releaseLease, type Claim } from '../../src/transfer/worker/leases.ts';
import { forEachDatabase, openTestStore, type TestDb } from '../helpers/db.ts';
import { receivedImportJob } from './helpers.ts';

forEachDatabase('checkpoint batches', (driver) => {
  let db: TestDb;
  let claim: Claim;
  beforeEach(async () => {
    db = await openTestStore(driver);
    await receivedImportJob(db.store, [{ driveId: 'CKPT1' }]);
    claim = (await claimDrive(db.store.db, 'w1', 60_000))!;
    expect(claim.driveId).toBe('CKPT1');
  });
  afterEach(async () => { await db.close(); });

  const read = async (keys: string[]) => new Map([...(await getCheckpoints<{ n: number }>(db.store.db, claim, keys))].map(([k, v]) => [k, `${v.status}:${v.detail.n}`]));

  it('putNow is committed when it resolves; putLater waits for the batch, after the sync', async () => {
    const events: string[] = [];
    const b = new CheckpointBatcher(db.store.db, claim, 'w1', {
      maxRows: 3, maxDelayMs: 60_000,
      beforeDurable: async () => { events.push(`sync(${[...(await read(['#1', '#2', '#3']))].length} visible)`); },
    });
    await Promise.all([b.putNow('#1', 'writing', { n: 1 }), b.putNow('#2', 'writing', { n: 2 })]);
    expect(await read(['#1', '#2'])).toEqual(new Map([['#1', 'writing:1'], ['#2', 'writing:2']]));

    await b.putLater('#1', 'ok', { n: 10 });
    await b.putLater('#2', 'failed', { n: 20 });
    // Not yet committed: below maxRows and the delay is long.
    expect(await read(['#1', '#2'])).toEqual(new Map([['#1', 'writing:1'], ['#2', 'writing:2']]));
    expect(events).toEqual([]);
    await b.putLater('#3', 'ok', { n: 30 }); // the third fills the batch
    expect(events).toEqual(['sync(2 visible)']);
    expect(await read(['#1', '#2', '#3'])).toEqual(new Map([['#1', 'ok:10'], ['#2', 'failed:20'], ['#3', 'ok:30']]));

    await b.putLater('#4', 'skipped', { n: 40 });
    await b.close();
    expect(events).toHaveLength(2);
    expect(await read(['#4'])).toEqual(new Map([['#4', 'skipped:40']]));
  });

  it('commits queued outcomes after maxDelayMs without a close', async () => {
    const b = new CheckpointBatcher(db.store.db, claim, 'w1', { maxDelayMs: 30 });
    await b.putLater('#9', 'ok', { n: 9 });
    const until = Date.now() + 5000;
    while ((await read(['#9'])).size === 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
    expect(await read(['#9'])).toEqual(new Map([['#9', 'ok:9']]));
    await b.close();
  });

  it('a worker that lost its lease writes nothing and gets LeaseLost', async () => {
    await releaseLease(db.store.db, claim, 'w1');
    const b = new CheckpointBatcher(db.store.db, claim, 'w1');
    await expect(b.putNow('#1', 'writing', { n: 1 })).rejects.toBeInstanceOf(LeaseLost);
    await expect(b.putLater('#2', 'ok', { n: 2 })).rejects.toBeInstanceOf(LeaseLost);
    await expect(b.close()).rejects.toBeInstanceOf(LeaseLost);
    expect((await read(['#1', '#2'])).size).toBe(0);
    b.dispose();
  });

  it('a sync that fails keeps the outcomes uncommitted', async () => {
    const b = new CheckpointBatcher(db.store.db, claim, 'w1', { beforeDurable: async () => { throw new Error('disk gone'); } });
    await b.putLater('#5', 'ok', { n: 5 });
    await expect(b.close()).rejects.toThrow('disk gone');
    expect((await read(['#5'])).size).toBe(0);
    b.dispose();
  });
});
