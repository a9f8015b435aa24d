/**
 * Crash safety of notifications and timers: a real `sneakernet serve --clock manual` child process on PostgreSQL,
 * killed with SIGKILL (1) after state changes committed but before any delivery, and (2) while deliveries are in
 * flight (the receiver has processed them but not answered). After each restart an idempotent receiver (dedupe by
 * the notification id, HMAC signature verified) has every notification exactly once. Timers keep firing correctly
 * across restarts (no warning twice, deletion and close still happen). Own database, so pg-boss has its own schema.
 */
import type { ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DriveState, JobState } from '../../src/domain/states.ts';
import { EVENT_ID_HEADER, SIGNATURE_HEADER, verifySignature } from '../../src/notify/sign.ts';
import { DELIVERY, RETURN_ADDRESS, importBody, jobPath, withApi } from '../api/helpers.ts';
import { startServer } from '../helpers/cli.ts';
import { waitFor } from './receiver.ts';

const url = process.env.DATABASE_URL;
const SUB = 'sub-crash';

describe.runIf(url)('notifications and timers survive SIGKILL of the server process [postgres]', { timeout: 300_000 }, () => {
  const dbName = `crash_${crypto.randomBytes(5).toString('hex')}`;
  const target = url ? Object.assign(new URL(url), { pathname: `/${dbName}` }).toString() : '';
  const admin = `admin-${crypto.randomBytes(8).toString('hex')}`;
  let rootDb: pg.Client;
  let db: pg.Client;
  let child: ChildProcess | null = null;
  let base = '';
  let owner = '';
  let operator = '';

  // The receiver: verifies the signature, applies each notification id once, counts repeats; may hang on purpose.
  let secret = '';
  let mode: 'normal' | 'applyThenHang' = 'normal';
  const applied = new Map<string, any>();
  const seen = new Map<string, number>();
  let invalid = 0;
  let hung = 0;
  const receiver = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      const id = String(req.headers[EVENT_ID_HEADER] ?? '');
      if (!verifySignature(secret, req.headers[SIGNATURE_HEADER] as string | undefined, raw)) {
        invalid++;
        res.writeHead(401).end();
        return;
      }
      const body = JSON.parse(raw);
      expect(body.id).toBe(id);
      seen.set(id, (seen.get(id) ?? 0) + 1);
      if (!applied.has(id)) applied.set(id, body);
      if (mode === 'applyThenHang') {
        hung++;
        return; // processed, but the sender never hears back: it must retry, and we must not apply it twice.
      }
      res.writeHead(200).end();
    });
  });
  let hookUrl = '';

  const env = () => ({
    DATABASE_URL: target, SNEAKERNET_BOOTSTRAP_TOKEN: admin, SNEAKERNET_WEBHOOK_RETRY_DELAY: '1', SNEAKERNET_BOSS_MAINTENANCE_SECONDS: '1', SNEAKERNET_LOG: 'silent',
  });
  async function start(extra: NodeJS.ProcessEnv = {}): Promise<void> {
    const s = await startServer(['serve', '--clock', 'manual', '--port', '0'], { ...env(), ...extra });
    child = s.child;
    base = s.url;
  }
  async function kill(): Promise<void> {
    const c = child!;
    child = null;
    if (c.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      c.once('exit', () => resolve());
      c.kill('SIGKILL');
    });
  }
  async function api(method: string, path: string, token: string, body?: unknown): Promise<{ status: number; body: any }> {
    const res = await fetch(new URL(path, base), {
      method, headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : undefined };
  }
  const ok = async (p: Promise<{ status: number; body: any }>, status = 200) => {
    const r = await p;
    expect(r.status, JSON.stringify(r.body)).toBe(status);
    return r.body;
  };
  const job = (name: string) => withApi(jobPath(name, 'rg1', SUB));
  async function createAndShip(name: string, ship = true): Promise<void> {
    await ok(api('PUT', job(name), owner, importBody([`${name.toUpperCase().replace(/-/g, '')}D1`])), 201);
    if (ship) await ok(api('PATCH', job(name), owner, { properties: { state: JobState.Shipping, deliveryPackage: { ...DELIVERY, trackingNumber: `T-${name}` }, returnAddress: RETURN_ADDRESS } }));
  }
  const advance = (by: string) => ok(api('POST', '/admin/clock/advance', admin, { by }));
  /** Every notification the server owes the subscription's webhook: one per outbox row of the subscription. */
  const owed = async () => (await db.query<{ id: string }>('select id from outbox where subscription_id = $1 order by id', [SUB])).rows.map((r) => `ntf_${r.id}`);
  async function allDelivered(what: string): Promise<void> {
    await waitFor(async () => {
      const ids = await owed();
      return ids.length > 0 && ids.every((id) => applied.has(id));
    }, 150_000, what);
    await waitFor(async () => (await db.query("select count(*)::int as n from notification_deliveries where status <> 'delivered'")).rows[0].n === 0, 60_000, `${what}: delivery log settled`);
    const ids = await owed();
    expect([...applied.keys()].sort()).toEqual([...ids].sort());
    expect(invalid).toBe(0);
  }

  beforeAll(async () => {
    rootDb = new pg.Client({ connectionString: url });
    await rootDb.connect();
    await rootDb.query(`create database ${dbName}`);
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    hookUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
  });
  afterAll(async () => {
    if (child) await kill();
    await db?.end();
    receiver.closeAllConnections();
    await new Promise<void>((r) => receiver.close(() => r()));
    await rootDb.query(`drop database if exists ${dbName} with (force)`);
    await rootDb.end();
  });

  it('killed after state changes committed but before delivery: after restart every notification arrives exactly once', async () => {
    // First life: timers and delivery are off in this process, so the outbox fills and nothing is sent.
    await start({ SNEAKERNET_OPERATOR_BACKGROUND: 'off' });
    db = new pg.Client({ connectionString: target });
    await db.connect();
    owner = (await ok(api('POST', '/admin/tokens', admin, { subscriptionId: SUB, role: 'owner' }), 201)).token;
    operator = (await ok(api('POST', '/admin/tokens', admin, { subscriptionId: SUB, role: 'operator' }), 201)).token;
    secret = (await ok(api('POST', `/subscriptions/${SUB}/providers/Microsoft.ImportExport/webhooks`, owner, { url: hookUrl, topics: ['job.*'] }), 201)).secret;
    for (const name of ['job-a1', 'job-a2', 'job-a3']) await createAndShip(name);
    await createAndShip('job-a4', false);
    const before = await owed();
    expect(before.length).toBeGreaterThanOrEqual(7);
    await kill();
    expect(applied.size).toBe(0);

    await start();
    await allDelivered('the notifications written before the crash');
    expect(Math.max(...seen.values())).toBe(1);
  });

  it('killed while deliveries are in flight (processed by the receiver, unanswered): retried after restart, applied once', async () => {
    await start();
    mode = 'applyThenHang';
    const appliedBefore = applied.size;
    for (const name of ['job-b1', 'job-b2', 'job-b3']) await createAndShip(name);
    await waitFor(() => hung >= 2, 60_000, 'deliveries in flight');
    await kill();
    expect(applied.size).toBeGreaterThan(appliedBefore);
    receiver.closeAllConnections();
    mode = 'normal';

    await start();
    await allDelivered('the notifications in flight at the crash');
    // The window was really hit: some notification reached the receiver more than once, and was applied once.
    expect([...seen.values()].some((n) => n > 1)).toBe(true);
    expect(applied.size).toBe((await owed()).length);
  });

  it('timers keep firing correctly across restarts: a warning once, then the deletion; a shipping alert, then the 30-day close', async () => {
    await createAndShip('idle', false);
    await createAndShip('late');
    await advance('12d'); // the idle job's deletion is 2 days away: its warning goes out (not the deletion)
    await waitFor(() => [...applied.values()].some((b) => b.type === 'job.deadlineWarning' && b.job?.name === 'idle'), 60_000, 'the warning');
    expect((await api('GET', job('idle'), owner)).status).toBe(200);
    await kill();

    // The manual clock starts again at the real time after a restart; the deadlines are in the database.
    await start();
    const s14 = await advance('14d');
    expect(s14.sweep.deleted).toBeGreaterThanOrEqual(1);
    expect(s14.sweep.shippingAlerts).toBeGreaterThanOrEqual(1);
    expect((await api('GET', job('idle'), owner)).status).toBe(404);
    const late = await ok(api('GET', job('late'), owner));
    expect(late.properties.state).toBe(JobState.Shipping);
    expect(late.properties.driveList[0].state).toBe(DriveState.NeverReceived);
    await kill();

    await start();
    const s30 = await advance('29d');
    expect(s30.sweep.closed).toBe(0);
    expect((await ok(api('GET', job('late'), owner))).properties.state).toBe(JobState.Shipping);
    await kill();
    await start();
    await advance('44d'); // the clock restarted at the real time again: the close is due 44 days after the alert's restart
    expect((await ok(api('GET', job('late'), owner))).properties.state).toBe(JobState.Closed);
    // The operator view agrees, through the operator routes.
    const ops = await ok(api('GET', `/operator/jobs?subscriptionId=${SUB}&name=late`, operator));
    expect(ops.value[0].state).toBe(JobState.Closed);

    await allDelivered('every notification of the timer phase');
    const types = (name: string, type: string) => [...applied.values()].filter((b) => b.job?.name === name && b.type === type).length;
    expect(types('idle', 'job.deadlineWarning')).toBe(1);
    expect(types('idle', 'job.deleted')).toBe(1);
    expect(types('late', 'job.shippingAlert')).toBe(1);
    expect(types('late', 'job.deadlineWarning')).toBe(1);
  });
});
