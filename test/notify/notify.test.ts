/** Notifications: signed webhooks to a real HTTP receiver (retries, dead letter, delivery log) and e-mail to a real SMTP server. */
import { CompiledQuery } from 'kysely';
import { SMTPServer } from 'smtp-server';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { drivers, openTestStore, type TestDb } from '../helpers/db.ts';
import { describe } from 'vitest';
import { createImportJob } from '../helpers/jobs.ts';
import { call, shippedJob, uniqueDrives } from '../operator/helpers.ts';
import { Actor } from '../../src/domain/states.ts';
import { JobEvent } from '../../src/domain/transitions.ts';
import { DAY_MS } from '../../src/domain/timers.ts';
import { receivePackage } from '../../src/operator/index.ts';
import { startBoss, type PgBoss } from '../../src/timers/boss.ts';
import { NotifyService, type NotifyServiceOptions } from '../../src/notify/service.ts';
import { createWebhook, listDeliveries } from '../../src/notify/webhooks.ts';
import { sweepTimers } from '../../src/timers/sweep.ts';
import { startReceiver, waitFor } from './receiver.ts';

for (const driver of drivers) describe(`notifications [${driver}]`, () => {
  let t: TestDb;
  let boss: PgBoss;
  let svc: NotifyService | null = null;
  const bossSchema = `boss_${Math.random().toString(36).slice(2, 8)}`;
  beforeAll(async () => {
    t = await openTestStore(driver);
    boss = await startBoss(t.database, { schema: bossSchema, maintenanceIntervalSeconds: 1 });
  });
  afterEach(async () => {
    await svc?.stop();
    svc = null;
  });
  afterAll(async () => {
    await boss.stop({ graceful: false, wait: true, close: false });
    if (driver === 'postgres') await t.database.db.executeQuery(CompiledQuery.raw(`drop schema if exists ${bossSchema} cascade`, []));
    await t.close();
  });
  const start = async (opts: NotifyServiceOptions = {}) => {
    svc = new NotifyService(t.store, boss, { retryLimit: 2, retryDelaySeconds: 1, pollingIntervalSeconds: 0.5, pollMs: 200, workers: 2, ...opts });
    await svc.start();
    return svc;
  };

  it('webhooks: every event of a subscription reaches a real HTTP receiver, signed with HMAC-SHA256, with a delivery log', async () => {
    let secret = '';
    const rx = await startReceiver(() => secret);
    const sub = `sub-hook-${driver}`;
    const hook = await createWebhook(t.store, sub, { url: rx.url, topics: ['job.*'] });
    secret = hook.secret;
    await start();
    const { job } = await createImportJob(t.store, { drives: uniqueDrives(1), subscriptionId: sub });
    await t.store.changeJob(job.id, { actor: Actor.Customer }, (w) => {
      w.set({ deliveryPackage: { carrierName: 'FedEx', trackingNumber: 'W1' }, returnAddress: { recipientName: 'A', email: 'a@example.com' } });
      w.applyJobEvent(JobEvent.ProvideShippingInfo);
    });
    await waitFor(() => rx.applied.size >= 2, 20_000, 'two webhook deliveries');
    expect(rx.requests.every((r) => r.signatureValid)).toBe(true);
    // Two workers deliver in parallel: order by notification id, not by arrival.
    const bodies = [...rx.applied.values()].sort((a, b) => Number(a.id.slice(4)) - Number(b.id.slice(4)));
    expect(bodies.map((b) => b.type)).toEqual(['job.create', 'job.provideShippingInfo']);
    const shipped = bodies[1];
    expect(shipped).toMatchObject({
      subscriptionId: sub,
      job: { name: job.name, resourceGroup: 'rg', id: `/subscriptions/${sub}/resourceGroups/rg/providers/Microsoft.ImportExport/jobs/${job.name}` },
      data: { event: 'provideShippingInfo', fromState: 'Creating', toState: 'Shipping' },
    });
    expect(JSON.stringify(shipped)).not.toMatch(/actorId|bitLocker|key-of-/);
    // A wrong secret does not verify.
    const { verifySignature } = await import('../../src/notify/sign.ts');
    expect(verifySignature('not-the-secret', `t=${Math.floor(Date.now() / 1000)},v1=${'0'.repeat(64)}`, rx.requests[0].raw)).toBe(false);
    await waitFor(async () => (await listDeliveries(t.store, sub, hook.webhook.id)).every((d) => d.status === 'delivered'), 10_000, 'delivery log');
    const log = await listDeliveries(t.store, sub, hook.webhook.id);
    expect(log.map((d) => d.status)).toEqual(['delivered', 'delivered']);
    expect(log[0].attemptLog[0]).toMatchObject({ statusCode: 200, error: null });
    // Another subscription's events never reach this webhook.
    await createImportJob(t.store, { drives: uniqueDrives(1), subscriptionId: 'sub-other' });
    await svc!.fanOutNow();
    await new Promise((r) => setTimeout(r, 800));
    expect(rx.applied.size).toBe(2);
    await rx.close();
  });

  it('webhooks: a failing receiver is retried with backoff; after the limit the delivery is dead-lettered', async () => {
    let secret = '';
    const rx = await startReceiver(() => secret, ({ attempt, eventId }) => (eventId.endsWith('') && attempt === 1 ? 503 : 200));
    const sub = `sub-retry-${driver}`;
    const hook = await createWebhook(t.store, sub, { url: rx.url });
    secret = hook.secret;
    const dead = await startReceiver(() => deadSecret, () => 500);
    const deadSub = `sub-dead-${driver}`;
    const deadHook = await createWebhook(t.store, deadSub, { url: dead.url });
    const deadSecret = deadHook.secret;
    // Queue options are set when the queue is first created (retryLimit 2 here): 3 attempts, then the dead letter.
    await start();
    await createImportJob(t.store, { drives: uniqueDrives(1), subscriptionId: sub });
    await createImportJob(t.store, { drives: uniqueDrives(1), subscriptionId: deadSub });
    await waitFor(() => rx.applied.size === 1, 20_000, 'retried delivery');
    await waitFor(async () => (await listDeliveries(t.store, sub, hook.webhook.id))[0]?.status === 'delivered', 10_000, 'delivery log');
    const log = await listDeliveries(t.store, sub, hook.webhook.id);
    expect(log[0]).toMatchObject({ status: 'delivered', attempts: 2 });
    expect(log[0].attemptLog.map((a) => a.statusCode)).toEqual([503, 200]);
    await waitFor(async () => (await listDeliveries(t.store, deadSub, deadHook.webhook.id))[0]?.status === 'dead', 45_000, 'dead letter');
    const deadLog = await listDeliveries(t.store, deadSub, deadHook.webhook.id);
    expect(deadLog[0].attempts).toBe(3);
    await rx.close();
    await dead.close();
  });

  it('e-mail: state changes, the shipping alert and warnings go to the return address, tasks to the operators, over real SMTP', async () => {
    const mails: Array<{ to: string[]; raw: string }> = [];
    const smtp = new SMTPServer({
      authOptional: true, disabledCommands: ['STARTTLS'], logger: false,
      onData(stream, session, cb) {
        let raw = '';
        stream.on('data', (c) => (raw += c.toString()));
        stream.on('end', () => {
          mails.push({ to: session.envelope.rcptTo.map((r) => r.address), raw });
          cb();
        });
      },
    });
    await new Promise<void>((r) => smtp.listen(0, '127.0.0.1', r));
    const port = (smtp.server.address() as AddressInfo).port;
    try {
      await start({ smtpUrl: `smtp://127.0.0.1:${port}`, operatorEmail: 'ops@dc.example', from: 'sneakernet@dc.example' });
      const drives = uniqueDrives(1);
      const { job } = await shippedJob(t.store, drives);
      await waitFor(() => mails.some((m) => m.to.includes('ann@example.com') && /is now Shipping/.test(m.raw)), 20_000, 'shipping e-mail');
      t.clock.advance(14 * DAY_MS);
      await sweepTimers(t.store);
      await waitFor(() => mails.some((m) => m.to.includes('ann@example.com') && /has not arrived/.test(m.raw)), 20_000, 'alert e-mail');
      await waitFor(() => mails.some((m) => m.to.includes('ops@dc.example') && new RegExp(`package of job ${job.name}`).test(m.raw)), 20_000, 'operator task e-mail');
      // Held drives of an unknown job: only the operators hear about it.
      await receivePackage(call(t.store), { carrier: 'DHL', trackingNumber: 'MAIL-H', driveIds: uniqueDrives(1, 'MAILHELD') });
      await waitFor(() => mails.some((m) => m.to.includes('ops@dc.example') && /no known job/.test(m.raw)), 20_000, 'held e-mail');
      expect(mails.every((m) => !/key-of-|bitlocker/i.test(m.raw))).toBe(true);
    } finally {
      await new Promise<void>((r) => smtp.close(() => r()));
    }
  });
});

describe('webhook signature and topic filters', () => {
  it('a signature verifies with the secret and the exact body, and not with another secret, body or an old timestamp', async () => {
    const { sign, verifySignature } = await import('../../src/notify/sign.ts');
    const body = JSON.stringify({ id: 'ntf_1', type: 'job.create' });
    const now = Math.floor(Date.now() / 1000);
    const header = sign('s3cret-s3cret-s3cret', now, body);
    expect(verifySignature('s3cret-s3cret-s3cret', header, body)).toBe(true);
    expect(verifySignature('other-secret-other', header, body)).toBe(false);
    expect(verifySignature('s3cret-s3cret-s3cret', header, body + ' ')).toBe(false);
    expect(verifySignature('s3cret-s3cret-s3cret', sign('s3cret-s3cret-s3cret', now - 3600, body), body)).toBe(false);
    expect(verifySignature('s3cret-s3cret-s3cret', undefined, body)).toBe(false);
  });

  it('topic filters: empty means all, exact names and trailing wildcards', async () => {
    const { topicMatches } = await import('../../src/notify/dispatcher.ts');
    expect(topicMatches([], 'job.create')).toBe(true);
    expect(topicMatches(['job.*'], 'job.deleted')).toBe(true);
    expect(topicMatches(['job.deleted'], 'job.create')).toBe(false);
    expect(topicMatches(['operator.*'], 'job.create')).toBe(false);
  });
});
