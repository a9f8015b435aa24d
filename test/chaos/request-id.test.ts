/**
 * A request id follows a job's work across processes: the operator's receive request (id given by the client as
 * `x-ms-client-request-id`) is logged by the api process, recorded with the job events it caused, continued by the
 * worker process that copies the drive (its log lines and the events it writes carry it), and logged by the
 * notifier for each webhook delivery of those events. No log line of any process holds a secret.
 */
import crypto from 'node:crypto';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DriveState, JobState } from '../../src/domain/states.ts';
import { startReceiver, waitFor } from '../notify/receiver.ts';
import { makeTempDir } from '../transfer/tmp.ts';
import { prepare, randomBytes, writeTree } from '../transfer-worker/helpers.ts';
import { cli, Cluster, freshDatabase, sleep } from './cluster.ts';

const url = process.env.DATABASE_URL;
const SUB = 'sub-trace';
const STORAGE = `/subscriptions/${SUB}/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/traceacct`;
const BITLOCKER = '238810-662376-448998-450120-652806-203390-606320-483076';

const parse = (lines: string[]) => lines.map((l) => { try { return JSON.parse(l) as Record<string, any>; } catch { return null; } }).filter((x): x is Record<string, any> => x !== null);

describe.runIf(url)('request id across processes', () => {
  let tmp: { dir: string; cleanup: () => Promise<void> };
  let db: Awaited<ReturnType<typeof freshDatabase>>;
  let cluster: Cluster;
  beforeAll(async () => {
    tmp = await makeTempDir('trace');
    db = await freshDatabase('trace');
  });
  afterAll(async () => {
    await cluster?.stopAll().catch(() => {});
    await db?.drop().catch(() => {});
    await tmp?.cleanup();
  });

  it('the receive request id is in the api, worker and notifier JSON logs and on the events; no secret is', async () => {
    const admin = `admin-${crypto.randomBytes(12).toString('hex')}`;
    const secretKey = crypto.randomBytes(32).toString('hex');
    const blobs = path.join(tmp.dir, 'blobs');
    const env: NodeJS.ProcessEnv = {
      DATABASE_URL: db.url, SNEAKERNET_BOOTSTRAP_TOKEN: admin, SNEAKERNET_SECRET_KEY: secretKey,
      SNEAKERNET_DRIVES_DIR: path.join(tmp.dir, 'drives'), SNEAKERNET_DATA_DIR: path.join(tmp.dir, 'data'),
      SNEAKERNET_LEASE_MS: '5000', SNEAKERNET_WORKER_POLL_MS: '200', SNEAKERNET_LOG: 'info',
    };
    await cli(['migrate'], env);
    await cli(['storage', 'add', STORAGE, '--local', blobs], env);
    const src = path.join(tmp.dir, 'src');
    await writeTree(src, { 'a.bin': randomBytes(5000, 1), 'b.bin': randomBytes(7000, 2) });
    const prep = await prepare(tmp.dir, 'TRACEDRIVE1', [`${src}/,trace/`]);

    cluster = new Cluster(env);
    const api = await cluster.add('api', 0);
    const worker = await cluster.add('worker', 0);
    await Promise.all([cluster.start(api), cluster.start(worker)]);
    const http = async (method: string, p: string, body?: unknown, requestId?: string) => {
      const res = await fetch(cluster.url(api) + p, {
        method, body: body === undefined ? undefined : JSON.stringify(body),
        headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json', ...(requestId ? { 'x-ms-client-request-id': requestId } : {}) },
      });
      const json = await res.json().catch(() => undefined);
      expect(res.status, `${method} ${p}: ${JSON.stringify(json)}`).toBeLessThan(300);
      return { json: json as any, requestId: res.headers.get('x-ms-request-id') };
    };

    let hookSecret = '';
    const rx = await startReceiver(() => hookSecret);
    try {
      hookSecret = (await http('POST', `/subscriptions/${SUB}/providers/Microsoft.ImportExport/webhooks`, { url: rx.url })).json.secret;
      expect(hookSecret.length).toBeGreaterThan(8);
      const jobUrl = `/subscriptions/${SUB}/resourceGroups/rg/providers/Microsoft.ImportExport/jobs/trace1?api-version=2021-01-01`;
      await http('PUT', jobUrl, {
        location: 'westus',
        properties: {
          storageAccountId: STORAGE, jobType: 'Import', logLevel: 'Error',
          returnShipping: { carrierName: 'FedEx', carrierAccountNumber: '989ffff' },
          driveList: [{ driveId: 'TRACEDRIVE1', bitLockerKey: BITLOCKER, manifestFile: '\\DriveManifest.xml', manifestHash: prep.manifestHash, driveHeaderHash: '' }],
        },
      });
      await http('PATCH', jobUrl, {
        properties: {
          state: JobState.Shipping, deliveryPackage: { carrierName: 'FedEx', trackingNumber: 'TR1', driveCount: 1, shipDate: '2026-11-25' },
          returnAddress: { recipientName: 'T', streetAddress1: 'S', city: 'C', postalCode: '98007', countryOrRegion: 'USA', phone: '1', email: 't@example.com' },
        },
      });
      const trace = `recv-${crypto.randomBytes(6).toString('hex')}`;
      const received = await http('POST', '/operator/packages', { carrier: 'FedEx', trackingNumber: 'TR1', driveIds: ['TRACEDRIVE1'] }, trace);
      expect(received.requestId).toBe(trace);

      const c = new pg.Client({ connectionString: db.url });
      await c.connect();
      let events: Array<{ id: string; drive_id: string | null; to_state: string | null; request_id: string | null }>;
      try {
        await waitFor(async () => (await c.query('select state from jobs')).rows[0].state === JobState.Packaging, 90_000, 'Packaging');
        events = (await c.query('select id, drive_id, to_state, request_id from job_events order by id')).rows;
        // The events the receive caused (api process) and the ones the copy caused (worker process) carry the id.
        const traced = events.filter((e) => e.request_id === trace);
        expect(traced.map((e) => `${e.drive_id ? 'drive' : 'job'}:${e.to_state}`)).toEqual(expect.arrayContaining([
          `drive:${DriveState.Received}`, `job:${JobState.Received}`, `drive:${DriveState.Transferring}`, `job:${JobState.Transferring}`,
          `drive:${DriveState.Completed}`, `job:${JobState.Packaging}`,
        ]));
        // Earlier requests had their own ids.
        expect(events.find((e) => e.to_state === JobState.Creating)?.request_id).toMatch(/^[0-9a-f-]{36}$/);
        const { rows: outbox } = await c.query('select count(*)::int as n from outbox where request_id = $1', [trace]);
        expect(outbox[0].n).toBeGreaterThanOrEqual(traced.length);
      } finally {
        await c.end();
      }
      // Every notification of the traced events is delivered and logged under the trace.
      const tracedCount = events.filter((e) => e.request_id === trace).length;
      await waitFor(() => parse(worker.lines).filter((l) => l.msg === 'notification delivered' && l.reqId === trace).length >= tracedCount, 60_000, 'notifier log lines');
      await sleep(300);

      const apiLogs = parse(api.lines);
      const workerLogs = parse(worker.lines);
      expect(apiLogs.some((l) => l.reqId === trace && l.req?.url === '/operator/packages')).toBe(true);
      expect(apiLogs.some((l) => l.reqId === trace && l.res?.statusCode === 200)).toBe(true);
      const claimed = workerLogs.filter((l) => l.msg === 'drive claimed' && l.driveId === 'TRACEDRIVE1');
      expect(claimed.length).toBeGreaterThan(0);
      expect(claimed.every((l) => l.reqId === trace)).toBe(true);
      const delivered = workerLogs.filter((l) => l.msg === 'notification delivered' && l.reqId === trace);
      expect(delivered.map((l) => l.topic)).toEqual(expect.arrayContaining(['job.receive']));
      expect(delivered.every((l) => l.channel === 'webhook' && l.status === 200)).toBe(true);
      // The notifier delivered events that the worker process wrote, under the api request's id.
      expect(delivered.length).toBeGreaterThanOrEqual(tracedCount);
      expect(workerLogs.every((l) => l.service === 'sneakernet' && typeof l.pid === 'number')).toBe(true);

      // Never a secret, in any process's output.
      const all = [...api.lines, ...worker.lines].join('\n');
      for (const secret of [admin, secretKey, hookSecret, BITLOCKER]) expect(all.includes(secret), 'a secret reached a log line').toBe(false);
    } finally {
      await rx.close();
    }
  }, 240_000);
});
