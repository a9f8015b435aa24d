/**
 * Every row of the seed's job and drive error tables (reference §1.8, DESIGN.md "Rules from the seed") end to end
 * through HTTP over a real socket: customer tokens on the ARM routes, an operator token on /operator, an admin token
 * moving a manual clock through POST /admin/clock/advance across 14, 30 and 90 days. The server runs its
 * background in-process (timers, the return-address watcher, webhook delivery to a real signed receiver).
 */
import crypto from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/domain/clock.ts';
import { DriveState, JobState } from '../../src/domain/states.ts';
import { HeldDriveState, TaskKind } from '../../src/domain/custody.ts';
import { startBackground } from '../../src/timers/background.ts';
import { DELIVERY, RETURN_ADDRESS, SUB, exportBody, importBody, jobPath, startServer, withApi, type TestServer } from '../api/helpers.ts';
import { drivers } from '../helpers/db.ts';
import { startReceiver, waitFor } from '../notify/receiver.ts';

interface R { status: number; body: any; text: string }

for (const driver of drivers) describe(`seed error tables through HTTP [${driver}]`, { timeout: 120_000 }, () => {
  let s: TestServer;
  let rx: Awaited<ReturnType<typeof startReceiver>>;
  let secret = '';
  const clock = new ManualClock(new Date('2026-03-01T00:00:00Z'));
  const bossSchema = `boss_${crypto.randomBytes(4).toString('hex')}`;
  let n = 0;
  const uid = (p: string) => `${p}${++n}${driver === 'postgres' ? 'P' : 'L'}`;

  async function http(method: string, path: string, token: string, body?: unknown): Promise<R> {
    const res = await fetch(new URL(path, s.url), {
      method, headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = undefined;
    }
    return { status: res.status, body: parsed, text };
  }
  const ok = async (p: Promise<R>, status = 200) => {
    const r = await p;
    expect(r.status, r.text).toBe(status);
    return r.body;
  };
  // Customer (ARM), operator and admin calls.
  const arm = (method: string, name: string, body?: unknown, tail = '') => http(method, withApi(jobPath(name) + tail), s.tokens.owner, body);
  const op = (method: string, path: string, body?: unknown) => http(method, `/operator${path}`, s.tokens.operator, body);
  const advance = (by: string) => ok(http('POST', '/admin/clock/advance', s.admin, { by }));
  const errorCode = (r: R) => r.body?.error?.code;

  async function createImport(name: string, drives: string[]): Promise<void> {
    await ok(arm('PUT', name, importBody(drives)), 201);
  }
  async function ship(name: string, tracking: string, driveCount = 1, returnAddress: unknown = RETURN_ADDRESS): Promise<void> {
    const body = await ok(arm('PATCH', name, { properties: { state: JobState.Shipping, deliveryPackage: { ...DELIVERY, trackingNumber: tracking, driveCount }, returnAddress } }));
    expect(body.properties.state).toBe(JobState.Shipping);
  }
  async function shipped(drives: string[]): Promise<{ name: string; tracking: string; id: number }> {
    const name = uid('job');
    const tracking = uid('TRK');
    await createImport(name, drives);
    await ship(name, tracking, drives.length);
    return { name, tracking, id: await idOf(name) };
  }
  async function idOf(name: string): Promise<number> {
    const r = await ok(op('GET', `/jobs?subscriptionId=${SUB}&name=${name}`));
    const j = r.value.find((x: { name: string }) => x.name === name);
    expect(j, `job ${name} in /operator/jobs`).toBeDefined();
    return j.id;
  }
  const receive = (tracking: string, driveIds: string[], carrier = 'FedEx') => ok(op('POST', '/packages', { carrier, trackingNumber: tracking, driveIds }));
  const customerJob = async (name: string) => (await ok(arm('GET', name))).properties;
  const driveStates = async (name: string) => Object.fromEntries((await customerJob(name)).driveList.map((d: { driveId: string; state: string }) => [d.driveId, d.state]));
  const tasksOf = async (id: number) => (await ok(op('GET', `/tasks?jobId=${id}`))).value.map((t: { kind: string }) => t.kind).sort();
  const history = async (name: string) => {
    const r = await http('GET', withApi(`${jobPath(name)}/events`) + '&follow=false', s.tokens.owner);
    expect(r.status).toBe(200);
    return r.text.split('\n').filter((l) => l.startsWith('data:')).map((l) => JSON.parse(l.slice(5)));
  };
  async function copyAll(id: number, issues: Record<string, { errors: number; warnings?: number; overwrites?: number }> = {}) {
    const job = await ok(op('GET', `/jobs/${id}`));
    for (const d of job.drives) {
      if (d.isExtra || d.state !== DriveState.Received) continue;
      await ok(op('POST', `/jobs/${id}/drives/${d.driveId}/start-transfer`));
      await ok(op('POST', `/jobs/${id}/drives/${d.driveId}/finish-transfer`, { outcome: issues[d.driveId] ?? { errors: 0 } }));
    }
  }
  const delivered = (type: string, jobName: string) => [...rx.applied.values()].filter((b) => b.type === type && b.job?.name === jobName);

  beforeAll(async () => {
    s = await startServer(driver, { clock });
    rx = await startReceiver(() => secret);
    const hook = await ok(http('POST', `/subscriptions/${SUB}/providers/Microsoft.ImportExport/webhooks`, s.tokens.owner, { url: rx.url, topics: ['job.shippingAlert', 'job.deleted', 'job.deadlineWarning', 'job.returnIssue', 'job.shipBack', 'job.fault'] }), 201);
    secret = hook.secret;
    await startBackground(s.app, { bossSchema, notify: { pollMs: 200, pollingIntervalSeconds: 0.5, retryDelaySeconds: 1 } });
  });
  afterAll(async () => {
    await s?.close();
    await rx?.close();
    if (driver === 'postgres') {
      const c = new pg.Client({ connectionString: process.env.DATABASE_URL });
      await c.connect();
      await c.query(`drop schema if exists ${bossSchema} cascade`);
      await c.end();
    }
  });

  describe('job error table', () => {
    it('Creating: drives that arrive while the job is not in Shipping are held, not processed, and operators contact the customer; once shipped they are released', async () => {
      const drives = [uid('CR'), uid('CR')];
      const name = uid('early');
      await createImport(name, drives);
      const r = await receive('EARLY-BOX', drives);
      expect(r.held.map((h: { driveId: string; reason: string }) => h.driveId).sort()).toEqual([...drives].sort());
      expect(r.received).toEqual([]);
      const id = await idOf(name);
      expect((await customerJob(name)).state).toBe(JobState.Creating);
      expect(Object.values(await driveStates(name))).toEqual([DriveState.Specified, DriveState.Specified]);
      expect(await tasksOf(id)).toEqual([TaskKind.ContactCustomer]);
      // The customer answers by shipping the job; the operator releases the held drives into it.
      await ship(name, 'EARLY-BOX', 2);
      await ok(op('POST', `/held-drives/${r.held[0].heldDriveId}/release`));
      const last = await ok(op('POST', `/held-drives/${r.held[1].heldDriveId}/release`));
      expect(last.jobState).toBe(JobState.Received);
      expect((await customerJob(name)).state).toBe(JobState.Received);
    });

    it('Undefined: drives of no known job are held, not processed, and an operator task opens', async () => {
      const stray = uid('NOJOB');
      const r = await receive('UNKNOWN-1', [stray], 'DHL');
      expect(r.held).toMatchObject([{ driveId: stray, jobId: null, reason: 'UnknownJob' }]);
      const held = (await ok(op('GET', `/held-drives?state=${HeldDriveState.Held}`))).value;
      expect(held.map((h: { driveId: string }) => h.driveId)).toContain(stray);
      const tasks = (await ok(op('GET', `/tasks?kind=${TaskKind.HeldDrives}`))).value;
      expect(tasks.some((t: { driveIds: string[] }) => t.driveIds.includes(stray))).toBe(true);
    });

    it('Creating or Undefined: unreachable for 14 days → operators return the drives; not returnable and unreachable for 90 days → securely destroyed with a certificate', async () => {
      const [a, b] = [uid('HELD'), uid('HELD')];
      const r = await receive('LOST-SENDER', [a, b], 'DHL');
      const [ha, hb] = r.held.map((h: { heldDriveId: number }) => h.heldDriveId);
      const s14 = (await advance('14d')).sweep;
      expect(s14.heldReturnAlerts).toBeGreaterThanOrEqual(2);
      const returnTasks = (await ok(op('GET', `/tasks?kind=${TaskKind.ReturnHeldDrives}`))).value.filter((t: { heldDriveId: number }) => [ha, hb].includes(t.heldDriveId));
      expect(returnTasks).toHaveLength(2);
      await ok(op('POST', `/held-drives/${hb}/return`, { carrier: 'DHL', trackingNumber: 'BACK-1' }));
      const early = await op('POST', `/held-drives/${ha}/destruction`, { method: 'shred', destroyedBy: 'Bo' });
      expect(early.status).toBe(409);
      const s76 = (await advance('76d')).sweep;
      expect(s76.heldDueForDestruction).toBeGreaterThanOrEqual(1);
      const due = (await ok(op('GET', `/held-drives?state=${HeldDriveState.DueForDestruction}`))).value.map((h: { id: number }) => h.id);
      expect(due).toContain(ha);
      expect(due).not.toContain(hb);
      const cert = await ok(op('POST', `/held-drives/${ha}/destruction`, { method: 'NIST 800-88 purge, shredded', destroyedBy: 'Bo Operator', witness: 'Cy' }), 201);
      expect(cert).toMatchObject({ kind: 'SecureDestructionCertificate', driveId: a, destroyedBy: 'Bo Operator' });
      expect(cert.chainOfCustody.map((c: { kind: string }) => c.kind)).toEqual(['held', 'markedForDestruction', 'destroyed']);
      // Firing again changes nothing twice.
      const again = (await advance('1m')).sweep;
      expect(again.heldDueForDestruction + again.heldReturnAlerts).toBe(0);
    });

    it('Shipping: the package has not arrived after 14 days → operators get a task, the customer a signed webhook notice, and the drives are NeverReceived', async () => {
      const { name, id } = await shipped([uid('SH')]);
      const before = await advance('13d');
      expect((await customerJob(name)).driveList[0].state).toBe(DriveState.Specified);
      expect(before.sweep.shippingAlerts).toBe(0);
      const s = (await advance('1d')).sweep;
      expect(s.shippingAlerts).toBeGreaterThanOrEqual(1);
      const p = await customerJob(name);
      expect(p.state).toBe(JobState.Shipping);
      expect(p.driveList[0].state).toBe(DriveState.NeverReceived);
      expect(await tasksOf(id)).toEqual([TaskKind.MissingPackage]);
      await waitFor(() => delivered('job.shippingAlert', name).length === 1, 20_000, 'the shipping alert webhook');
      expect(rx.requests.filter((q) => q.body.job?.name === name).every((q) => q.signatureValid)).toBe(true);
    });

    it('Shipping: the operator extends the wait; the package then arrives and the job goes on', async () => {
      const drive = uid('EXT');
      const { name, tracking, id } = await shipped([drive]);
      await advance('14d');
      await ok(op('POST', `/jobs/${id}/extend-shipping`, { days: 10, note: 'customer: it is on its way' }));
      expect(await tasksOf(id)).toEqual([]);
      // The extension holds: 9 more days close nothing.
      await advance('9d');
      expect((await customerJob(name)).state).toBe(JobState.Shipping);
      const r = await receive(tracking, [drive]);
      expect(r.received).toMatchObject([{ driveId: drive, from: DriveState.NeverReceived, to: DriveState.Received, late: true }]);
      expect((await customerJob(name)).state).toBe(JobState.Received);
    });

    it('Shipping: the customer cancels instead, and the operator closes the job', async () => {
      const { name, id } = await shipped([uid('CAN')]);
      await advance('14d');
      await ok(arm('PATCH', name, { properties: { cancelRequested: true } }));
      const r = await ok(op('POST', `/jobs/${id}/close-undelivered`, { note: 'customer cancelled' }));
      expect(r.job.state).toBe(JobState.Closed);
      const p = await customerJob(name);
      expect(p).toMatchObject({ state: JobState.Closed, cancelRequested: true });
      expect(await tasksOf(id)).toEqual([]);
    });

    it('Shipping: no response within 30 days → the job moves from Shipping directly to Closed, then is deleted 90 days later', async () => {
      const { name } = await shipped([uid('UNANS')]);
      await advance('14d');
      await advance('29d');
      expect((await customerJob(name)).state).toBe(JobState.Shipping);
      const s = (await advance('1d')).sweep;
      expect(s.closed).toBeGreaterThanOrEqual(1);
      const p = await customerJob(name);
      expect(p.state).toBe(JobState.Closed);
      expect(p.sneakernet.stateReason.code).toBe('PackageNeverArrived');
      expect(p.sneakernet.pendingDeadline).toMatchObject({ kind: 'deleteFinished' });
      await advance('89d');
      expect((await arm('GET', name)).status).toBe(200);
      await advance('1d');
      expect(errorCode(await arm('GET', name))).toBe('ResourceNotFound');
      await waitFor(() => delivered('job.deleted', name).length === 1, 20_000, 'the deletion notice');
      expect(delivered('job.deadlineWarning', name).length).toBeGreaterThanOrEqual(1);
    });

    it('Completed/Closed: drives never reached the return address or were damaged → the customer sees in Get Job that they shipped, and the recorded issue with the blobs to re-export', async () => {
      const drive = uid('DMG');
      const { name, tracking, id } = await shipped([drive]);
      await receive(tracking, [drive]);
      await copyAll(id);
      expect((await op('POST', `/jobs/${id}/return-issues`, { kind: 'damaged', note: 'x' })).status).toBe(409);
      await ok(op('POST', `/jobs/${id}/ship-back`, { carrierName: 'FedEx', trackingNumber: 'RET-DMG' }));
      const p = await customerJob(name);
      expect(p.state).toBe(JobState.Completed);
      expect(p.returnPackage).toMatchObject({ carrierName: 'FedEx', trackingNumber: 'RET-DMG', driveCount: 1 });
      expect(p.driveList[0].state).toBe(DriveState.ShippedBack);
      const r = await ok(op('POST', `/jobs/${id}/return-issues`, { kind: 'damaged', note: 'box crushed', blobs: ['photos/a.jpg'] }));
      expect(r.job.extensions.returnIssues).toMatchObject([{ kind: 'damaged', driveIds: [drive], blobs: ['photos/a.jpg'] }]);
      // The customer sees it in Get Job, with the blobs to export again or download.
      expect((await customerJob(name)).sneakernet.returnIssues).toMatchObject([{ kind: 'damaged', driveIds: [drive], blobs: ['photos/a.jpg'] }]);
      expect((await history(name)).at(-1)).toMatchObject({ event: 'returnIssue', reasonCode: 'DrivesDamagedInReturn' });
      await waitFor(() => delivered('job.returnIssue', name).length === 1, 20_000, 'the return issue notice');
    });

    it('Transferring/Packaging: an incorrect or missing return address raises an operator task; the customer\'s PATCH of the address resolves it', async () => {
      const drive = uid('ADDR');
      const { name, tracking, id } = await shipped([drive]);
      await receive(tracking, [drive]);
      expect((await op('POST', `/jobs/${id}/return-address-problem`, { note: 'no such street' })).status).toBe(409);
      await copyAll(id);
      expect((await customerJob(name)).state).toBe(JobState.Packaging);
      await ok(op('POST', `/jobs/${id}/return-address-problem`, { note: 'no such street' }));
      expect(await tasksOf(id)).toEqual([TaskKind.BadReturnAddress]);
      const blocked = await op('POST', `/jobs/${id}/ship-back`, { carrierName: 'FedEx', trackingNumber: 'R' });
      expect([blocked.status, errorCode(blocked)]).toEqual([400, 'TransitionPreconditionNotMet']);
      expect((await ok(op('GET', `/jobs/${id}`))).pendingDeadlines.map((d: { kind: string }) => d.kind)).toContain('destroyUnreachable');
      // The customer sees the problem and the deadline in Get Job.
      const seen = (await customerJob(name)).sneakernet;
      expect(seen.returnAddressProblem).toMatchObject({ note: 'no such street' });
      expect(seen.pendingDeadlines.map((d: { kind: string }) => d.kind)).toContain('destroyUnreachable');
      await ok(arm('PATCH', name, { properties: { returnAddress: { ...RETURN_ADDRESS, streetAddress1: '2 Real Rd' } } }));
      await waitFor(async () => (await tasksOf(id)).length === 0, 20_000, 'the watcher to resolve the flag');
      const done = await ok(op('POST', `/jobs/${id}/ship-back`, { carrierName: 'FedEx', trackingNumber: 'R' }));
      expect(done.job.state).toBe(JobState.Completed);
    });

    it('Transferring/Packaging: the contact stays unreachable for 90 days → the drives are securely destroyed', async () => {
      const drives = [uid('UNR'), uid('UNR')];
      const { tracking, id } = await shipped(drives);
      await receive(tracking, drives);
      await ok(op('POST', `/jobs/${id}/drives/${drives[0]}/start-transfer`));
      await ok(op('POST', `/jobs/${id}/return-address-problem`, { note: 'address missing' }));
      expect((await op('POST', `/jobs/${id}/drives/${drives[0]}/destruction`, { method: 'shred', destroyedBy: 'Bo' })).status).toBe(409);
      await advance('89d');
      expect((await ok(op('GET', `/jobs/${id}`))).extensions.drivesDueForDestruction).toBeUndefined();
      const s = (await advance('1d')).sweep;
      expect(s.addressFlagsExpired).toBeGreaterThanOrEqual(1);
      const job = await ok(op('GET', `/jobs/${id}`));
      expect(job.extensions.drivesDueForDestruction).toEqual(drives);
      expect(await tasksOf(id)).toEqual([TaskKind.BadReturnAddress, TaskKind.DestroyDrives].sort());
      const cert = await ok(op('POST', `/jobs/${id}/drives/${drives[0]}/destruction`, { method: 'degauss + shred', destroyedBy: 'Bo' }), 201);
      expect(cert.chainOfCustody.map((c: { kind: string }) => c.kind)).toEqual(['received', 'transferStarted', 'markedForDestruction', 'destroyed']);
      expect((await op('POST', `/jobs/${id}/drives/${drives[0]}/destruction`, { method: 'x', destroyedBy: 'Bo' })).status).toBe(409);
      const custody = await ok(op('GET', `/drives/${drives[0]}/custody`));
      expect(custody.certificates).toHaveLength(1);
    });

    it('Creating/Shipping/Transferring: a drive not in the job\'s drive list is an extra drive: not processed, returned with the job', async () => {
      const drive = uid('LIST');
      const extra = uid('EXTRA');
      const { name, tracking, id } = await shipped([drive]);
      const r = await receive(tracking, [drive, extra]);
      expect(r.extra).toEqual([{ jobId: id, driveId: extra }]);
      let p = await customerJob(name);
      expect(p.state).toBe(JobState.Received);
      expect(p.driveList.map((d: { driveId: string }) => d.driveId)).toEqual([drive]);
      expect(p.sneakernet.extraDrives).toEqual([extra]);
      expect((await op('POST', `/jobs/${id}/drives/${extra}/start-transfer`)).status).toBe(409);
      await copyAll(id);
      const done = await ok(op('POST', `/jobs/${id}/ship-back`, { carrierName: 'FedEx', trackingNumber: 'RET-X' }));
      expect(done.job.state).toBe(JobState.Completed);
      expect(done.job.drives.find((d: { driveId: string }) => d.driveId === extra)).toMatchObject({ isExtra: true, state: DriveState.ShippedBack });
      p = await customerJob(name);
      expect(p.sneakernet.drives.find((d: { driveId: string }) => d.driveId === extra)).toMatchObject({ isExtra: true });
    });
  });

  describe('job rules with timers', () => {
    it('Creating: 14 days without shipping → deleted, with a warning 3 days before; an update in Creating resets the 14-day clock', async () => {
      const name = uid('idle');
      await createImport(name, [uid('IDLE')]);
      await advance('10d');
      await ok(arm('PATCH', name, { tags: { touched: 'yes' } }));
      const p = await customerJob(name);
      expect(p.sneakernet.pendingDeadline.kind).toBe('deleteCreating');
      expect(new Date(p.sneakernet.pendingDeadline.at).getTime()).toBe(clock.now().getTime() + 14 * 86_400_000);
      await advance('11d');
      await waitFor(() => delivered('job.deadlineWarning', name).length === 1, 20_000, 'the warning 3 days before deletion');
      await advance('2d');
      expect((await customerJob(name)).state).toBe(JobState.Creating);
      await advance('1d');
      expect(errorCode(await arm('GET', name))).toBe('ResourceNotFound');
    });

    it('Completed: deleted 90 days after the drives shipped back', async () => {
      const drive = uid('DONE');
      const { name, tracking, id } = await shipped([drive]);
      await receive(tracking, [drive]);
      await copyAll(id);
      await ok(op('POST', `/jobs/${id}/ship-back`, { carrierName: 'FedEx', trackingNumber: 'RET-DONE' }));
      await advance('89d');
      expect((await customerJob(name)).state).toBe(JobState.Completed);
      await advance('1d');
      expect((await arm('GET', name)).status).toBe(404);
      expect((await op('GET', `/jobs/${id}`)).status).toBe(404);
    });

    it('cancel is allowed only in the states the tables allow and skips the copy', async () => {
      const drives = [uid('CX'), uid('CX')];
      const { name, tracking, id } = await shipped(drives);
      await ok(arm('PATCH', name, { properties: { cancelRequested: true } }));
      const r = await receive(tracking, drives);
      expect(r.jobs[0].state).toBe(JobState.Packaging);
      const copy = await op('POST', `/jobs/${id}/drives/${drives[0]}/start-transfer`);
      expect([copy.status, errorCode(copy)]).toEqual([400, 'TransitionPreconditionNotMet']);
      const done = await ok(op('POST', `/jobs/${id}/ship-back`, { carrierName: 'FedEx', trackingNumber: 'RC' }));
      expect(done.job.state).toBe(JobState.Completed);
      // Not in Packaging: a job whose copy is over can no longer be cancelled.
      const other = await shipped([uid('PK')]);
      await receive(other.tracking, (await ok(op('GET', `/jobs/${other.id}`))).drives.map((d: { driveId: string }) => d.driveId));
      await copyAll(other.id);
      expect((await customerJob(other.name)).state).toBe(JobState.Packaging);
      const late = await arm('PATCH', other.name, { properties: { cancelRequested: true } });
      expect([late.status, errorCode(late)]).toEqual([409, 'CancelNotAllowed']);
    });
  });

  describe('drive error table', () => {
    it('Specified: an import drive starts Specified; Received: an export job\'s drives start Received when the operator processes the package', async () => {
      const name = uid('imp');
      const drive = uid('SPEC');
      await createImport(name, [drive]);
      expect(await driveStates(name)).toEqual({ [drive]: DriveState.Specified });
      const ex = uid('exp');
      await ok(http('PUT', withApi(jobPath(ex)), s.tokens.owner, exportBody()), 201);
      expect((await customerJob(ex)).driveList ?? []).toEqual([]);
      const tracking = uid('EXTRK');
      await ok(arm('PATCH', ex, { properties: { state: JobState.Shipping, deliveryPackage: { ...DELIVERY, trackingNumber: tracking } } }));
      const exDrive = uid('EXD');
      await receive(tracking, [exDrive]);
      expect(await driveStates(ex)).toEqual({ [exDrive]: DriveState.Received });
      expect((await customerJob(ex)).state).toBe(JobState.Received);
    });

    it('NeverReceived: the package arrived without this drive', async () => {
      const drives = [uid('NR'), uid('NR')];
      const { name, tracking, id } = await shipped(drives);
      const r = await receive(tracking, [drives[0]]);
      expect(r.neverReceived).toEqual([{ jobId: id, driveId: drives[1] }]);
      expect(await driveStates(name)).toEqual({ [drives[0]]: DriveState.Received, [drives[1]]: DriveState.NeverReceived });
      expect((await customerJob(name)).state).toBe(JobState.Shipping);
      expect(await tasksOf(id)).toEqual([TaskKind.MissingDrives]);
      const accepted = await ok(op('POST', `/jobs/${id}/accept-partial-delivery`, { note: 'go on' }));
      expect(accepted.job.state).toBe(JobState.Received);
      await copyAll(id);
      const done = await ok(op('POST', `/jobs/${id}/ship-back`, { carrierName: 'FedEx', trackingNumber: 'RET-P' }));
      expect(done.job.state).toBe(JobState.Closed);
    });

    it('NeverReceived: 14 days after shipping information was received, the package has not arrived', async () => {
      const drive = uid('NR14');
      const { name } = await shipped([drive]);
      await advance('13d');
      expect(await driveStates(name)).toEqual({ [drive]: DriveState.Specified });
      await advance('1d');
      expect(await driveStates(name)).toEqual({ [drive]: DriveState.NeverReceived });
    });

    it('NeverReceived → Received: a drive that never arrived turns up in a later shipment', async () => {
      const drives = [uid('LATE'), uid('LATE')];
      const { name, tracking, id } = await shipped(drives);
      await receive(tracking, [drives[0]]);
      await ok(op('POST', `/jobs/${id}/accept-partial-delivery`));
      await ok(op('POST', `/jobs/${id}/drives/${drives[0]}/start-transfer`));
      expect((await customerJob(name)).state).toBe(JobState.Transferring);
      const late = await receive('SECOND-BOX', [drives[1]], 'UPS');
      expect(late.received).toMatchObject([{ driveId: drives[1], from: DriveState.NeverReceived, to: DriveState.Received, late: true }]);
      await ok(op('POST', `/jobs/${id}/drives/${drives[0]}/finish-transfer`, { outcome: { errors: 0 } }));
      expect((await customerJob(name)).state).toBe(JobState.Transferring);
      await copyAll(id);
      expect((await customerJob(name)).state).toBe(JobState.Packaging);
      expect((await ok(op('POST', `/jobs/${id}/ship-back`, { carrierName: 'UPS', trackingNumber: 'R2' }))).job.state).toBe(JobState.Completed);
    });

    it('Transferring → Completed (no errors) or CompletedMoreInfo (errors, warnings, overwrites) → ShippedBack; Received → Transferring → Packaging for the job; Closed when a drive had errors', async () => {
      const drives = [uid('TR'), uid('TR'), uid('TR'), uid('TR')];
      const { name, tracking, id } = await shipped(drives);
      await receive(tracking, drives);
      expect((await customerJob(name)).state).toBe(JobState.Received);
      const first = await ok(op('POST', `/jobs/${id}/drives/${drives[0]}/start-transfer`));
      expect(first.job.state).toBe(JobState.Transferring);
      expect((await driveStates(name))[drives[0]]).toBe(DriveState.Transferring);
      await ok(op('POST', `/jobs/${id}/drives/${drives[0]}/finish-transfer`, { outcome: { errors: 0 } }));
      await copyAll(id, { [drives[1]]: { errors: 0, overwrites: 2 }, [drives[2]]: { errors: 0, warnings: 1 }, [drives[3]]: { errors: 3 } });
      expect(await driveStates(name)).toEqual({
        [drives[0]]: DriveState.Completed, [drives[1]]: DriveState.CompletedMoreInfo, [drives[2]]: DriveState.CompletedMoreInfo, [drives[3]]: DriveState.CompletedMoreInfo,
      });
      expect((await customerJob(name)).state).toBe(JobState.Packaging);
      const done = await ok(op('POST', `/jobs/${id}/ship-back`, { carrierName: 'FedEx', trackingNumber: 'R3' }));
      expect(done.job.state).toBe(JobState.Closed);
      expect(Object.values(await driveStates(name))).toEqual(drives.map(() => DriveState.ShippedBack));
      // One notice per drive shipped back and one for the job.
      await waitFor(() => delivered('job.shipBack', name).length === drives.length + 1, 20_000, 'the ship-back notices');
      const notices = delivered('job.shipBack', name).map((b) => [b.data.driveId ?? null, b.data.toState]).sort();
      expect(notices).toEqual([...drives.map((d) => [d, DriveState.ShippedBack]), [null, JobState.Closed]].sort());
    });

    it('N/A: a drive that is part of no job, arriving with another job\'s package, is marked extra and returned with that job', async () => {
      const drive = uid('OWN');
      const stranger = uid('STRANGER');
      const { name, tracking, id } = await shipped([drive]);
      const r = await receive(tracking, [stranger, drive]);
      expect(r.extra).toEqual([{ jobId: id, driveId: stranger }]);
      expect(r.held).toEqual([]);
      expect((await history(name)).find((e) => e.event === 'extraDrive')).toMatchObject({ driveId: stranger, reasonCode: 'ExtraDrive' });
    });

    it('Faulted: a job or drive that fails to progress is faulted by an operator with a reason and moved back only to a state the tables allow', async () => {
      const drive = uid('FLT');
      const { name, tracking, id } = await shipped([drive]);
      await receive(tracking, [drive]);
      await ok(op('POST', `/jobs/${id}/drives/${drive}/start-transfer`));
      const df = await ok(op('POST', `/jobs/${id}/drives/${drive}/fault`, { reason: 'BitLocker key invalid' }));
      expect(df.job.drives[0]).toMatchObject({ state: DriveState.Faulted, faultedFrom: DriveState.Transferring });
      expect((await op('POST', `/jobs/${id}/drives/${drive}/unfault`, { note: 'x', to: DriveState.ShippedBack })).status).toBe(409);
      const back = await ok(op('POST', `/jobs/${id}/drives/${drive}/unfault`, { note: 'right key', to: DriveState.Received }));
      expect(back.job.drives[0].state).toBe(DriveState.Received);
      await ok(op('POST', `/jobs/${id}/fault`, { reason: 'storage account not accessible' }));
      expect((await customerJob(name)).state).toBe(JobState.Faulted);
      expect(await tasksOf(id)).toEqual([TaskKind.Faulted]);
      expect((await op('POST', `/jobs/${id}/unfault`, { note: 'x', to: JobState.Completed })).status).toBe(409);
      // Only operators fault and unfault.
      expect((await http('POST', `/operator/jobs/${id}/unfault`, s.tokens.owner, { note: 'me' })).status).toBe(403);
      const jb = await ok(op('POST', `/jobs/${id}/unfault`, { note: 'access restored' }));
      expect(jb.job.state).toBe(JobState.Transferring);
      expect(await tasksOf(id)).toEqual([]);
      await waitFor(() => delivered('job.fault', name).length >= 1, 20_000, 'the fault notice');
    });
  });

  it('tokens: customers cannot use /operator routes, operators cannot move the clock', async () => {
    expect((await http('GET', '/operator/tasks', s.tokens.owner)).status).toBe(403);
    expect((await http('POST', '/admin/clock/advance', s.tokens.operator, { by: '1d' })).status).toBe(403);
  });
});
