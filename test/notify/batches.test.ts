/**
 * Batched delivery workers: a batch's failures are retried on their own (with backoff, dead letter after the
 * limit) while the rest complete once; an idempotent receiver applies every notification exactly once.
 */
import { CompiledQuery } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { drivers, openTestStore, type TestDb } from '../helpers/db.ts';
import { startBoss, type PgBoss } from '../../src/timers/boss.ts';
import { NotifyService } from '../../src/notify/service.ts';
import { createWebhook, listDeliveries } from '../../src/notify/webhooks.ts';
import { opsDb } from '../../src/operator/schema.ts';
import { startReceiver, waitFor } from './receiver.ts';

for (const driver of drivers) describe(`batched webhook delivery [${driver}]`, () => {
  let t: TestDb;
  let boss: PgBoss;
  const bossSchema = `boss_${Math.random().toString(36).slice(2, 8)}`;
  beforeAll(async () => {
    t = await openTestStore(driver);
    boss = await startBoss(t.database, { schema: bossSchema, maintenanceIntervalSeconds: 1 });
  });
  afterAll(async () => {
    await boss.stop({ graceful: false, wait: true, close: false });
    if (driver === 'postgres') await t.database.db.executeQuery(CompiledQuery.raw(`drop schema if exists ${bossSchema} cascade`, []));
    await t.close();
  });

  it('in one batch, failed deliveries are retried alone (dead-lettered after the limit) and the others are sent once', async () => {
    let secret = '';
    // Every third notification fails its first attempt; notification 0 always fails.
    const rx = await startReceiver(() => secret, ({ eventId, attempt }) => {
      const n = Number(eventId.slice(4)) - first;
      if (n === 0) return 500;
      return n % 3 === 0 && attempt === 1 ? 503 : 200;
    });
    const sub = `sub-batch-${driver}`;
    const hook = await createWebhook(t.store, sub, { url: rx.url });
    secret = hook.secret;
    const svc = new NotifyService(t.store, boss, { retryLimit: 1, retryDelaySeconds: 1, pollingIntervalSeconds: 0.5, pollMs: 200, workers: 2, batchSize: 10 });
    await svc.start();
    let first = 0;
    try {
      const now = t.store.clock.now();
      const ids = await opsDb(t.store).insertInto('outbox').values(Array.from({ length: 25 }, (_, i) => ({
        event_id: null, subscription_id: sub, job_id: null, topic: 'job.batchTest', payload: JSON.stringify({ event: 'batchTest', n: i, at: now }), created_at: now,
      }))).returning('id').execute();
      first = Number(ids[0].id);
      svc.kick();
      await waitFor(() => rx.applied.size === 24, 30_000, '24 applied notifications');
      await waitFor(async () => (await listDeliveries(t.store, sub, hook.webhook.id)).every((d) => d.status !== 'pending'), 30_000, 'no delivery pending');
      const log = await listDeliveries(t.store, sub, hook.webhook.id);
      const byN = new Map(log.map((d) => [d.outboxId - first, d]));
      expect(byN.get(0)).toMatchObject({ status: 'dead', attempts: 2 });
      for (let n = 1; n < 25; n++) expect(byN.get(n)).toMatchObject({ status: 'delivered', attempts: n % 3 === 0 ? 2 : 1 });
      // Sent once each when they succeed the first time: completing a batch never re-sends its successes.
      const sent = new Map<string, number>();
      for (const r of rx.requests) sent.set(r.eventId, (sent.get(r.eventId) ?? 0) + 1);
      for (let n = 1; n < 25; n++) expect(sent.get(`ntf_${first + n}`)).toBe(n % 3 === 0 ? 2 : 1);
    } finally {
      await svc.stop();
      await rx.close();
    }
  });
});
