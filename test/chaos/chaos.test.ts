/**
 * Chaos on real PostgreSQL: 2 `sneakernet api` + 2 `sneakernet worker` child processes on one fresh database. A load
 * generator creates, ships, receives (operator route) and imports jobs with small prepared drives through the API,
 * then ships them back, while a random api or worker process is SIGKILLed every few seconds and restarted. At the
 * end: every job is Completed with its drive ShippedBack, every blob is MD5-equal to its source file, job_events
 * holds each transition exactly once, the idempotent webhook receiver applied every notification exactly once,
 * and SSE clients that reconnected with Last-Event-ID saw every event of their job exactly once.
 *
 * All 200 jobs of the issue: about 5.5 minutes on the shared 2-core machine (a restart under that load takes 5-25 s,
 * so kills overlap restarts; at least one api and one worker stay up). CHAOS_JOBS=20 makes a quick local run;
 * CHAOS_DEBUG=1 prints each kill with what every job is doing.
 */
import crypto from 'node:crypto';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalFolderBackend } from '../../src/blob/index.ts';
import { DriveState, JobState } from '../../src/domain/states.ts';
import { startReceiver } from '../notify/receiver.ts';
import { makeTempDir } from '../transfer/tmp.ts';
import { md5, prepare, randomBytes, streamToBuffer, writeTree } from '../transfer-worker/helpers.ts';
import { cli, Cluster, freshDatabase, sleep, type Proc } from './cluster.ts';

const url = process.env.DATABASE_URL;
/** The issue asks for 200 jobs; CHAOS_JOBS overrides it for a quick local run. */
const JOBS = Number(process.env.CHAOS_JOBS ?? 200);
const PARALLEL = 24;
const SSE_EVERY = 10; // one SSE watcher per 10 jobs
const SUB = 'sub-chaos';
const RG = 'rg';
const STORAGE = `/subscriptions/${SUB}/resourceGroups/${RG}/providers/Microsoft.Storage/storageAccounts/chaosacct`;
const BITLOCKER = '238810-662376-448998-450120-652806-203390-606320-483076';
const RETURN_ADDRESS = {
  recipientName: 'Chaos', streetAddress1: 'Street 1', city: 'Redmond', stateOrProvince: 'wa', postalCode: '98007',
  countryOrRegion: 'USA', phone: '4250000000', email: 'chaos@example.com',
};
const API = '2021-01-01';
const jobPath = (name: string) => `/subscriptions/${SUB}/resourceGroups/${RG}/providers/Microsoft.ImportExport/jobs/${name}`;

describe.runIf(url)('chaos: 2 api + 2 worker processes, SIGKILLed at random', () => {
  let tmp: { dir: string; cleanup: () => Promise<void> };
  let db: Awaited<ReturnType<typeof freshDatabase>>;
  let cluster: Cluster;
  const admin = `admin-${crypto.randomBytes(8).toString('hex')}`;

  beforeAll(async () => {
    tmp = await makeTempDir('chaos');
    db = await freshDatabase('chaos');
  });
  afterAll(async () => {
    await cluster?.stopAll().catch(() => {});
    await db?.drop().catch(() => {});
    await tmp?.cleanup();
  });

  it(`${JOBS} jobs through kills: states, blobs, events, webhooks and SSE all exact`, async () => {
    const blobs = path.join(tmp.dir, 'blobs');
    const env: NodeJS.ProcessEnv = {
      DATABASE_URL: db.url, SNEAKERNET_BOOTSTRAP_TOKEN: admin, SNEAKERNET_SECRET_KEY: crypto.randomBytes(32).toString('hex'),
      SNEAKERNET_DRIVES_DIR: path.join(tmp.dir, 'drives'), SNEAKERNET_DATA_DIR: path.join(tmp.dir, 'data'),
      SNEAKERNET_LEASE_MS: '2000', SNEAKERNET_WORKER_POLL_MS: '200', SNEAKERNET_WORKER_CONCURRENCY: '2',
      SNEAKERNET_WEBHOOK_RETRY_DELAY: '1', SNEAKERNET_WEBHOOK_RETRY_LIMIT: '20', SNEAKERNET_BOSS_MAINTENANCE_SECONDS: '5', SNEAKERNET_WEBHOOK_WORKERS: '16',
      SNEAKERNET_LOG: 'warn',
    };
    await cli(['migrate'], env);
    await cli(['storage', 'add', STORAGE, '--local', blobs], env);
    cluster = new Cluster(env);
    for (let i = 0; i < 2; i++) await cluster.add('api', i);
    for (let i = 0; i < 2; i++) await cluster.add('worker', i);
    await Promise.all(cluster.procs.map((p) => cluster.start(p)));

    // ---- HTTP through whichever api is up ------------------------------------------------------------------
    let rr = 0;
    const http = async (method: string, p: string, body?: unknown): Promise<{ status: number; body: any }> => {
      const apis = cluster.apis;
      const target = apis[rr++ % apis.length];
      const res = await fetch(cluster.url(target) + p, {
        method, signal: AbortSignal.timeout(20_000),
        headers: { authorization: `Bearer ${admin}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await res.text();
      let parsed: unknown;
      try { parsed = text ? JSON.parse(text) : undefined; } catch { parsed = text; }
      return { status: res.status, body: parsed };
    };
    /** Retries `fn` (on errors and 5xx) until it succeeds, first asking `done` whether an earlier try already took. */
    const current = new Map<string, string>();
    const step = async (what: string, done: () => Promise<boolean>, fn: () => Promise<{ status: number; body: any }>) => {
      const until = Date.now() + 240_000;
      let last = '';
      const key = what.split(' ').at(-1)!;
      current.set(key, what);
      for (let attempt = 0; Date.now() < until; attempt++) {
        try {
          if (attempt > 0 && (await done())) return;
          const r = await fn();
          if (r.status < 300) return;
          last = `${r.status} ${JSON.stringify(r.body).slice(0, 300)}`;
          current.set(key, `${what}: ${last}`);
          if (r.status < 500 && r.status !== 409 && r.status !== 412) throw new Error(`${what}: ${last}`);
        } catch (e) {
          if ((e as Error).message.startsWith(`${what}:`)) throw e;
          last = (e as Error).message;
        }
        await sleep(200 + Math.random() * 300);
      }
      throw new Error(`${what} did not succeed: ${last}`);
    };
    const getJob = async (name: string): Promise<any> => {
      for (;;) {
        try {
          const r = await http('GET', `${jobPath(name)}?api-version=${API}`);
          if (r.status === 200) return r.body;
          if (r.status === 404) return null;
        } catch { /* that api is down: the next call goes to the other */ }
        await sleep(200);
      }
    };
    const stateOf = async (name: string) => (await getJob(name))?.properties?.state as string | undefined;

    // ---- webhook receiver, idempotent by event id --------------------------------------------------------------
    let secret = '';
    const rx = await startReceiver(() => secret);
    await step('webhook', async () => false, async () => {
      const r = await http('POST', `/subscriptions/${SUB}/providers/Microsoft.ImportExport/webhooks`, { url: rx.url });
      if (r.status === 201) secret = r.body.secret;
      return r;
    });
    current.delete('webhook');

    // ---- SSE watchers that reconnect with Last-Event-ID -------------------------------------------------------
    interface Watcher { name: string; seen: number[]; reconnects: number; stop: AbortController; running: Promise<void> }
    const watchers: Watcher[] = [];
    const watch = (name: string): Watcher => {
      const w: Watcher = { name, seen: [], reconnects: 0, stop: new AbortController(), running: Promise.resolve() };
      w.running = (async () => {
        while (!w.stop.signal.aborted) {
          const apis = cluster.apis;
          const target = apis[Math.floor(Math.random() * apis.length)];
          try {
            const last = w.seen.at(-1);
            const res = await fetch(`${cluster.url(target)}${jobPath(name)}/events?api-version=${API}`, {
              signal: w.stop.signal,
              headers: { authorization: `Bearer ${admin}`, accept: 'text/event-stream', ...(last !== undefined ? { 'last-event-id': String(last) } : {}) },
            });
            if (res.status === 200 && res.body) {
              const decoder = new TextDecoder();
              let buf = '';
              for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
                buf += decoder.decode(chunk, { stream: true });
                let i: number;
                while ((i = buf.indexOf('\n\n')) >= 0) {
                  const block = buf.slice(0, i);
                  buf = buf.slice(i + 2);
                  const id = /^id: (\d+)$/m.exec(block);
                  if (id && /^data: /m.test(block)) w.seen.push(Number(id[1]));
                }
              }
            } else {
              await res.body?.cancel().catch(() => {});
            }
          } catch { /* the api died (or we stopped): reconnect elsewhere */ }
          if (w.stop.signal.aborted) break;
          w.reconnects++;
          await sleep(300 + Math.random() * 500);
        }
      })();
      watchers.push(w);
      return w;
    };

    // ---- drives ----------------------------------------------------------------------------------------------
    interface JobSpec { name: string; driveId: string; files: Record<string, Buffer>; manifestHash: string; id?: number }
    const specs: JobSpec[] = [];
    for (let i = 0; i < JOBS; i++) {
      const name = `chaos${String(i).padStart(3, '0')}`;
      const driveId = `CHAOSDRIVE${String(i).padStart(4, '0')}`;
      const files: Record<string, Buffer> = {};
      for (let f = 0; f < 3; f++) files[`f${f}.bin`] = randomBytes(1000 + ((i * 7919 + f * 104729) % 20_000), i * 10 + f);
      const src = path.join(tmp.dir, 'src', name);
      await writeTree(src, files);
      const prep = await prepare(tmp.dir, driveId, [`${src}/,${name}/`]);
      specs.push({ name, driveId, files, manifestHash: prep.manifestHash });
    }

    // ---- the load generator ----------------------------------------------------------------------------------
    const runJob = async (s: JobSpec) => {
      await step(`create ${s.name}`, async () => (await getJob(s.name)) !== null, () => http('PUT', `${jobPath(s.name)}?api-version=${API}`, {
        location: 'westus',
        properties: {
          storageAccountId: STORAGE, jobType: 'Import', logLevel: 'Error', backupDriveManifest: false,
          returnShipping: { carrierName: 'FedEx', carrierAccountNumber: '989ffff' },
          driveList: [{ driveId: s.driveId, bitLockerKey: BITLOCKER, manifestFile: '\\DriveManifest.xml', manifestHash: s.manifestHash, driveHeaderHash: '' }],
        },
      }));
      if (specs.indexOf(s) % SSE_EVERY === 0) watch(s.name);
      await step(`ship ${s.name}`, async () => (await stateOf(s.name)) !== JobState.Creating, () => http('PATCH', `${jobPath(s.name)}?api-version=${API}`, {
        properties: { state: JobState.Shipping, returnAddress: RETURN_ADDRESS, deliveryPackage: { carrierName: 'FedEx', trackingNumber: `T${s.driveId}`, driveCount: 1, shipDate: '2026-11-25' } },
      }));
      if (specs.indexOf(s) >= JOBS / 2) await bothKilled;
      await step(`receive ${s.name}`, async () => (await stateOf(s.name)) !== JobState.Shipping, () => http('POST', '/operator/packages', {
        carrier: 'FedEx', trackingNumber: `T${s.driveId}`, driveIds: [s.driveId],
      }));
      const until = Date.now() + 300_000;
      current.set(s.name, `copy ${s.name}`);
      for (;;) {
        const st = await stateOf(s.name);
        if (st === JobState.Packaging || st === JobState.Completed) break;
        if (st !== JobState.Received && st !== JobState.Transferring) throw new Error(`${s.name} went to ${st}`);
        if (Date.now() > until) throw new Error(`${s.name} stuck in ${st}`);
        await sleep(500);
      }
      for (;;) {
        try {
          const r = await http('GET', `/operator/jobs?subscriptionId=${SUB}&name=${s.name}`);
          const hit = r.status === 200 ? (r.body.value as Array<{ id: number; name: string }>).find((j) => j.name === s.name) : undefined;
          if (hit) { s.id = hit.id; break; }
        } catch { /* next api */ }
        await sleep(200);
      }
      await step(`ship back ${s.name}`, async () => (await stateOf(s.name)) === JobState.Completed, () => http('POST', `/operator/jobs/${s.id}/ship-back`, {
        carrierName: 'FedEx', trackingNumber: `R${s.driveId}`,
      }));
    };

    // The second half of the jobs is received only once an api and a worker have each been killed: on a fast idle
    // machine the load could otherwise finish before the chaos loop has touched both roles.
    let bothRolesKilled = () => {};
    const bothKilled = new Promise<void>((resolve) => { bothRolesKilled = resolve; });
    let finished = 0;
    const queue = [...specs];
    const load = Promise.all(Array.from({ length: PARALLEL }, async () => {
      for (let s = queue.shift(); s; s = queue.shift()) {
        await runJob(s);
        current.delete(s.name);
        finished++;
      }
    }));

    // ---- chaos: SIGKILL a random process every few seconds, restart it ---------------------------------------
    const kills: string[] = [];
    const restarting = new Set<Proc>();
    const restarts: Promise<void>[] = [];
    let loadDone = false;
    const loadResult = load.then(() => { loadDone = true; }, (e) => { loadDone = true; throw e; });
    const started = Date.now();
    while (!loadDone) {
      await Promise.race([sleep(2000 + Math.random() * 2000), loadResult.catch(() => {})]);
      if (loadDone) break;
      // A random process that is up, as long as another of its role stays up (so the load always makes progress).
      // A restart takes 5-25 s on this loaded 2-core machine; it runs while the next kills happen.
      const up = (p: Proc) => p.child !== null && !restarting.has(p);
      const candidates = cluster.procs.filter((p) => up(p) && cluster.procs.some((q) => q !== p && q.role === p.role && up(q)));
      if (candidates.length === 0) continue;
      // The role killed less often so far goes first (a random process of it), so both roles die early in every run,
      // however fast the machine finishes the load.
      const killsOf = (role: string) => kills.filter((k) => k.startsWith(role)).length;
      const fewest = Math.min(...candidates.map((p) => killsOf(p.role)));
      const pool = candidates.filter((p) => killsOf(p.role) === fewest);
      const victim = pool[Math.floor(Math.random() * pool.length)];
      await cluster.kill(victim, 'SIGKILL');
      kills.push(`${victim.role}#${victim.slot}@${Math.round((Date.now() - started) / 1000)}s(${finished} done)`);
      if (kills.some((k) => k.startsWith('api')) && kills.some((k) => k.startsWith('worker'))) bothRolesKilled();
      if (process.env.CHAOS_DEBUG) console.log(kills.at(-1), [...current.values()].join(', '));
      restarting.add(victim);
      restarts.push(cluster.start(victim).finally(() => restarting.delete(victim)));
    }
    await loadResult;
    await Promise.all(restarts);
    console.log(`chaos: ${JOBS} jobs in ${Math.round((Date.now() - started) / 1000)} s, ${kills.length} kills: ${kills.join(' ')}`);
    expect(kills.filter((k) => k.startsWith('api')).length).toBeGreaterThan(0);
    expect(kills.filter((k) => k.startsWith('worker')).length).toBeGreaterThan(0);

    // ---- every job in the state the tables say -------------------------------------------------------------
    const c = new pg.Client({ connectionString: db.url });
    await c.connect();
    try {
      const { rows: jobs } = await c.query<{ id: string; name: string; state: string }>('select id, name, state from jobs order by id');
      expect(jobs.length).toBe(JOBS);
      expect(jobs.filter((j) => j.state !== JobState.Completed)).toEqual([]);
      const { rows: drives } = await c.query<{ drive_id: string; state: string }>('select drive_id, state from drives');
      expect(drives.filter((d) => d.state !== DriveState.ShippedBack)).toEqual([]);
      for (const s of specs.slice(0, 20)) expect(await stateOf(s.name)).toBe(JobState.Completed);

      // ---- every blob MD5-equal to its source ----------------------------------------------------------------
      const backend = new LocalFolderBackend(blobs);
      for (const s of specs) {
        for (const [rel, content] of Object.entries(s.files)) {
          // The dataset line `<src>/,<name>/` puts the files in container <name>.
          const got = await streamToBuffer(await backend.getStream(s.name, rel));
          expect(await md5(got), `${s.name}/${rel}`).toBe(await md5(content));
        }
      }

      // ---- job_events: each transition exactly once ---------------------------------------------------------
      const { rows: events } = await c.query<{ id: string; job_id: string; drive_id: string | null; from_state: string | null; to_state: string | null }>(
        'select id, job_id, drive_id, from_state, to_state from job_events order by id');
      const expectedJob = [
        `null>${JobState.Creating}`, `${JobState.Creating}>${JobState.Shipping}`, `${JobState.Shipping}>${JobState.Received}`,
        `${JobState.Received}>${JobState.Transferring}`, `${JobState.Transferring}>${JobState.Packaging}`, `${JobState.Packaging}>${JobState.Completed}`,
      ];
      const expectedDrive = [
        `${DriveState.Specified}>${DriveState.Received}`, `${DriveState.Received}>${DriveState.Transferring}`,
        `${DriveState.Transferring}>${DriveState.Completed}`, `${DriveState.Completed}>${DriveState.ShippedBack}`,
      ];
      const byJob = new Map<string, string[]>();
      for (const e of events) {
        if (e.to_state === null) continue;
        const list = byJob.get(e.job_id) ?? [];
        list.push(`${e.drive_id ? 'drive:' : ''}${e.from_state}>${e.to_state}`);
        byJob.set(e.job_id, list);
      }
      for (const j of jobs) {
        const got = byJob.get(j.id) ?? [];
        expect({ job: j.name, transitions: got.filter((t) => !t.startsWith('drive:')) }).toEqual({ job: j.name, transitions: expectedJob });
        expect({ job: j.name, transitions: got.filter((t) => t.startsWith('drive:')).map((t) => t.slice(6)) }).toEqual({ job: j.name, transitions: expectedDrive });
      }

      // ---- webhooks: none lost, none applied twice -------------------------------------------------------------
      const expected = async () => new Set((await c.query<{ id: string }>('select id from outbox where subscription_id = $1', [SUB])).rows.map((r) => `ntf_${r.id}`));
      const want = await expected();
      const until = Date.now() + 150_000;
      while ([...want].some((id) => !rx.applied.has(id)) && Date.now() < until) await sleep(500);
      const missing = [...want].filter((id) => !rx.applied.has(id));
      expect(missing, `${missing.length} notifications never arrived`).toEqual([]);
      expect([...rx.applied.keys()].filter((id) => !want.has(id))).toEqual([]);
      expect(rx.applied.size).toBe(want.size);
      const { rows: perOutbox } = await c.query<{ n: number }>(
        "select count(*)::int as n from notification_deliveries where channel = 'webhook' group by outbox_id having count(*) <> 1");
      expect(perOutbox).toEqual([]);
      expect(rx.requests.every((r) => r.signatureValid)).toBe(true);
      const repeats = rx.requests.length - new Set(rx.requests.filter((r) => r.status < 300).map((r) => r.eventId)).size;
      console.log(`chaos: ${want.size} notifications, ${rx.requests.length} requests (${repeats} repeated after a kill, absorbed by the idempotent receiver)`);

      // ---- SSE: every event exactly once across reconnects -----------------------------------------------------
      expect(watchers.length).toBe(Math.ceil(JOBS / SSE_EVERY));
      for (const w of watchers) {
        const { rows } = await c.query<{ id: string }>('select e.id from job_events e join jobs j on j.id = e.job_id where j.name = $1 order by e.id', [w.name]);
        const ids = rows.map((r) => Number(r.id));
        const deadline = Date.now() + 30_000;
        while (w.seen.length < ids.length && Date.now() < deadline) await sleep(200);
        expect({ job: w.name, seen: w.seen }).toEqual({ job: w.name, seen: ids });
      }
      const reconnects = watchers.reduce((n, w) => n + w.reconnects, 0);
      console.log(`chaos: ${watchers.length} SSE watchers, ${reconnects} reconnects with Last-Event-ID`);
      expect(reconnects).toBeGreaterThan(0);
    } finally {
      for (const w of watchers) w.stop.abort();
      await Promise.all(watchers.map((w) => w.running));
      await c.end();
      await rx.close();
    }
  }, 600_000);
});
