/**
 * SIGTERM during a copy: a real `sneakernet worker` stops within the grace period, checkpoints and hands its lease
 * back, and another worker process resumes the drive from the checkpoints: it takes the drive at once (the lease is
 * long, so only a hand-back makes that possible), never redoes a blob the first one finished, and the result is
 * complete and MD5-equal.
 */
import crypto from 'node:crypto';
import * as fsp from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalFolderBackend } from '../../src/blob/index.ts';
import { DriveState, JobState } from '../../src/domain/states.ts';
import { makeTempDir } from '../transfer/tmp.ts';
import { md5, prepare, randomBytes, streamToBuffer, writeTree } from '../transfer-worker/helpers.ts';
import { cli, Cluster, freshDatabase, sleep } from './cluster.ts';

const url = process.env.DATABASE_URL;
const SUB = 'sub-term';
const STORAGE = `/subscriptions/${SUB}/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/termacct`;

describe.runIf(url)('SIGTERM during a copy', () => {
  let tmp: { dir: string; cleanup: () => Promise<void> };
  let db: Awaited<ReturnType<typeof freshDatabase>>;
  let cluster: Cluster;
  beforeAll(async () => {
    tmp = await makeTempDir('sigterm');
    db = await freshDatabase('term');
  });
  afterAll(async () => {
    await cluster?.stopAll().catch(() => {});
    await db?.drop().catch(() => {});
    await tmp?.cleanup();
  });

  it('the worker hands the drive back with checkpoints; another worker resumes it without redoing finished blobs', async () => {
    const admin = `admin-${crypto.randomBytes(8).toString('hex')}`;
    const blobs = path.join(tmp.dir, 'blobs');
    const env: NodeJS.ProcessEnv = {
      DATABASE_URL: db.url, SNEAKERNET_BOOTSTRAP_TOKEN: admin, SNEAKERNET_SECRET_KEY: crypto.randomBytes(32).toString('hex'),
      SNEAKERNET_DRIVES_DIR: path.join(tmp.dir, 'drives'), SNEAKERNET_DATA_DIR: path.join(tmp.dir, 'data'),
      // A long lease: if the stopping worker did not hand the drive back, nobody could take it within this test.
      SNEAKERNET_LEASE_MS: '120000', SNEAKERNET_WORKER_POLL_MS: '200', SNEAKERNET_WORKER_THROTTLE_MS: '40', SNEAKERNET_LOG: 'info',
    };
    await cli(['migrate'], env);
    await cli(['storage', 'add', STORAGE, '--local', blobs], env);
    const files: Record<string, Buffer> = {};
    for (let i = 0; i < 300; i++) files[`f${String(i).padStart(3, '0')}.bin`] = randomBytes(3000 + i * 13, i);
    const src = path.join(tmp.dir, 'src');
    await writeTree(src, files);
    const prep = await prepare(tmp.dir, 'TERMDRIVE1', [`${src}/,term/`]);

    cluster = new Cluster(env);
    const api = await cluster.add('api', 0);
    const a = await cluster.add('worker', 0);
    const b = await cluster.add('worker', 1);
    await cluster.start(api);
    const http = async (method: string, p: string, body?: unknown) => {
      const res = await fetch(cluster.url(api) + p, {
        method, headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body),
      });
      const json = await res.json().catch(() => undefined);
      expect(res.status, `${method} ${p}: ${JSON.stringify(json)}`).toBeLessThan(300);
      return json as any;
    };
    const jobUrl = `/subscriptions/${SUB}/resourceGroups/rg/providers/Microsoft.ImportExport/jobs/term1?api-version=2021-01-01`;
    await http('PUT', jobUrl, {
      location: 'westus',
      properties: {
        storageAccountId: STORAGE, jobType: 'Import', logLevel: 'Verbose',
        returnShipping: { carrierName: 'FedEx', carrierAccountNumber: '989ffff' },
        driveList: [{ driveId: 'TERMDRIVE1', bitLockerKey: '238810-662376-448998-450120-652806-203390-606320-483076', manifestFile: '\\DriveManifest.xml', manifestHash: prep.manifestHash, driveHeaderHash: '' }],
      },
    });
    await http('PATCH', jobUrl, {
      properties: {
        state: JobState.Shipping, deliveryPackage: { carrierName: 'FedEx', trackingNumber: 'TT1', driveCount: 1, shipDate: '2026-11-25' },
        returnAddress: { recipientName: 'T', streetAddress1: 'S', city: 'C', postalCode: '98007', countryOrRegion: 'USA', phone: '1', email: 't@example.com' },
      },
    });
    await http('POST', '/operator/packages', { carrier: 'FedEx', trackingNumber: 'TT1', driveIds: ['TERMDRIVE1'] });

    const c = new pg.Client({ connectionString: db.url });
    await c.connect();
    try {
      const done = async () => (await c.query<{ n: number }>("select count(*)::int as n from transfer_checkpoints where drive_id = 'TERMDRIVE1' and status <> 'writing'")).rows[0].n;
      await cluster.start(a);
      const until = Date.now() + 120_000;
      while ((await done()) < 40 && Date.now() < until) await sleep(100);
      expect(await done()).toBeGreaterThanOrEqual(40);

      // ---- SIGTERM in the middle of the copy --------------------------------------------------------------------
      const t0 = Date.now();
      const child = a.child!;
      const exit = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
      child.kill('SIGTERM');
      expect(await exit).toBe(0);
      const stopMs = Date.now() - t0;
      expect(stopMs).toBeLessThan(20_000);
      const { rows: [drive] } = await c.query("select state, lease_owner, lease_expires_at from drives where drive_id = 'TERMDRIVE1'");
      expect(drive.state).toBe(DriveState.Transferring);
      expect(drive.lease_owner).toBeNull(); // handed back
      const { rows: finishedByA } = await c.query<{ blob_path: string; updated_at: Date }>(
        "select blob_path, updated_at from transfer_checkpoints where drive_id = 'TERMDRIVE1' and status <> 'writing' and blob_path not like 'log:%'");
      expect(finishedByA.length).toBeGreaterThanOrEqual(40);
      expect(finishedByA.length).toBeLessThan(Object.keys(files).length); // stopped mid-copy
      const mtimes = new Map<string, number>();
      for (const f of Object.keys(files)) {
        const st = await fsp.stat(path.join(blobs, 'term', f)).catch(() => null);
        if (st) mtimes.set(f, st.mtimeMs);
      }
      expect(a.lines.some((l) => l.includes('"msg":"drive released"') && l.includes('"stopped":true'))).toBe(true);

      // ---- another worker resumes ------------------------------------------------------------------------------
      const t1 = Date.now();
      await cluster.start(b);
      const until2 = Date.now() + 180_000;
      let state = '';
      while (Date.now() < until2) {
        state = (await c.query("select state from drives where drive_id = 'TERMDRIVE1'")).rows[0].state;
        if (state !== DriveState.Transferring) break;
        await sleep(200);
      }
      expect(state).toBe(DriveState.Completed);
      const claimed = b.lines.map((l) => { try { return JSON.parse(l); } catch { return null; } }).find((j) => j?.msg === 'drive claimed');
      expect(claimed?.driveId).toBe('TERMDRIVE1');
      expect(claimed.takeover).toBe(false); // handed back, not taken over after expiry
      expect(Date.now() - t1).toBeLessThan(120_000); // well before the 120 s lease would have expired... and:
      const { rows: after } = await c.query<{ blob_path: string; updated_at: Date }>(
        "select blob_path, updated_at from transfer_checkpoints where drive_id = 'TERMDRIVE1' and blob_path = any($1)", [finishedByA.map((r) => r.blob_path)]);
      // Blobs the first worker finished were not done again: their checkpoints and files are untouched.
      expect(after.map((r) => [r.blob_path, r.updated_at.getTime()]).sort()).toEqual(finishedByA.map((r) => [r.blob_path, r.updated_at.getTime()]).sort());
      let untouched = 0;
      for (const [f, m] of mtimes) {
        const st = await fsp.stat(path.join(blobs, 'term', f));
        if (st.mtimeMs === m) untouched++;
      }
      expect(untouched).toBeGreaterThanOrEqual(finishedByA.length);

      const backend = new LocalFolderBackend(blobs);
      for (const [rel, content] of Object.entries(files)) {
        expect(await md5(await streamToBuffer(await backend.getStream('term', rel))), rel).toBe(await md5(content));
      }
      const { rows: [counts] } = await c.query("select objects_total, objects_succeeded, objects_failed from drives where drive_id = 'TERMDRIVE1'");
      expect([counts.objects_total, counts.objects_succeeded, counts.objects_failed]).toEqual([300, 300, 0]);
      console.log(`sigterm: worker stopped in ${stopMs} ms after ${finishedByA.length}/300 blobs; the other worker finished the rest`);
    } finally {
      await c.end();
    }
  }, 300_000);
});
