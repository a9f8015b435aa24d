/**
 * Every row of the seed's job and drive error tables (reference §1.8), at the service level. The HTTP end-to-end
 * versions live in http.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { forEachDatabase, openTestStore, type TestDb } from '../helpers/db.ts';
import { createImportJob } from '../helpers/jobs.ts';
import { call, driveStates, shippedJob, uniqueDrives } from './helpers.ts';
import { Actor, DriveState, JobState } from '../../src/domain/states.ts';
import { HeldDriveState, TaskKind } from '../../src/domain/custody.ts';
import { DAY_MS } from '../../src/domain/timers.ts';
import { JobEvent } from '../../src/domain/transitions.ts';
import {
  acceptPartialDelivery, closeTask, closeUndelivered, extendShippingWait, faultJob, finishDriveTransfer, flagReturnAddress, listHeldDrives, listTasks,
  receivePackage, recordHeldDestruction, recordJobDriveDestruction, recordReturnDamage, releaseHeldDrive, returnHeldDrive, shipBack, startDriveTransfer, unfaultJob,
} from '../../src/operator/index.ts';
import { sweepTimers } from '../../src/timers/sweep.ts';
import { opsDb } from '../../src/operator/schema.ts';

const codeOf = async (p: Promise<unknown>) => p.then(() => 'no error', (e) => (e as { code?: string }).code ?? String(e));

forEachDatabase('operator error tables', (driver) => {
  let t: TestDb;
  beforeAll(async () => {
    t = await openTestStore(driver);
  });
  afterAll(async () => t.close());

  /** Copies every received drive cleanly (or with issues) so the job reaches Packaging. */
  async function copyAll(jobId: number, issues: Record<string, { errors: number; warnings?: number }> = {}) {
    for (const d of await t.store.getDrives(jobId)) {
      if (d.isExtra || d.state !== DriveState.Received) continue;
      await startDriveTransfer(t.store, { jobId, driveId: d.driveId, workerId: 'w1' });
      await finishDriveTransfer(t.store, { jobId, driveId: d.driveId, outcome: issues[d.driveId] ?? { errors: 0 } });
    }
    return (await t.store.getJobById(jobId))!;
  }

  describe('job error table', () => {
    it('Creating: drives that arrive while the job is not in Shipping are held, not processed, and operators contact the customer', async () => {
      const drives = uniqueDrives(2);
      const { job } = await createImportJob(t.store, { drives });
      const r = await receivePackage(call(t.store), { carrier: 'FedEx', trackingNumber: 'EARLY-1', driveIds: drives });
      expect(r.held.map((h) => h.driveId).sort()).toEqual([...drives].sort());
      expect(r.received).toEqual([]);
      expect((await t.store.getJobById(job.id))!.state).toBe(JobState.Creating);
      expect(Object.values(await driveStates(t.store, job.id))).toEqual([DriveState.Specified, DriveState.Specified]);
      const tasks = await listTasks(call(t.store), { jobId: job.id });
      expect(tasks.tasks.map((x) => x.kind)).toEqual([TaskKind.ContactCustomer]);
      // The customer answers: the job is shipped, the held drives are released into it and processing starts.
      const shipped = await t.store.changeJob(job.id, { actor: Actor.Customer }, (w) => {
        w.set({ deliveryPackage: { carrierName: 'FedEx', trackingNumber: 'EARLY-1' }, returnAddress: { recipientName: 'A', email: 'a@example.com' } });
        w.applyJobEvent(JobEvent.ProvideShippingInfo);
      });
      expect(shipped.job.state).toBe(JobState.Shipping);
      await releaseHeldDrive(call(t.store), r.held[0].heldDriveId);
      const last = await releaseHeldDrive(call(t.store), r.held[1].heldDriveId);
      expect(last.jobState).toBe(JobState.Received);
      expect((await listHeldDrives(call(t.store), { jobId: job.id })).map((h) => h.state)).toEqual([HeldDriveState.Released, HeldDriveState.Released]);
    });

    it('Undefined: drives of no known job are held and an operator task opens to find the sender', async () => {
      const [stray] = uniqueDrives(1, 'NOJOB');
      const r = await receivePackage(call(t.store), { carrier: 'DHL', trackingNumber: 'UNKNOWN-1', driveIds: [stray] });
      expect(r.held).toMatchObject([{ driveId: stray, jobId: null, reason: 'UnknownJob' }]);
      const tasks = await listTasks(call(t.store), { kind: TaskKind.HeldDrives });
      expect(tasks.tasks.some((x) => x.driveIds.includes(stray))).toBe(true);
    });

    it('Creating or Undefined: unanswered for 14 days → operators return the drives; unreachable for 90 days → due for secure destruction, with a certificate', async () => {
      const [a, b] = uniqueDrives(2, 'HELD');
      const r = await receivePackage(call(t.store), { carrier: 'DHL', trackingNumber: 'LOST-SENDER', driveIds: [a, b] });
      const [ha, hb] = r.held;
      t.clock.advance(14 * DAY_MS);
      const s1 = await sweepTimers(t.store);
      expect(s1.heldReturnAlerts).toBeGreaterThanOrEqual(2);
      const returnTasks = (await listTasks(call(t.store), { kind: TaskKind.ReturnHeldDrives })).tasks.filter((x) => x.heldDriveId === ha.heldDriveId || x.heldDriveId === hb.heldDriveId);
      expect(returnTasks).toHaveLength(2);
      // One drive goes back to its sender; the other cannot be returned.
      await returnHeldDrive(call(t.store), hb.heldDriveId, { carrier: 'DHL', trackingNumber: 'BACK-1' });
      expect(await codeOf(recordHeldDestruction(call(t.store), ha.heldDriveId, { method: 'shred', destroyedBy: 'Bo' }))).toBe('TransitionNotAllowed');
      t.clock.advance(76 * DAY_MS);
      const s2 = await sweepTimers(t.store);
      expect(s2.heldDueForDestruction).toBeGreaterThanOrEqual(1);
      const held = await listHeldDrives(call(t.store), {});
      expect(held.find((h) => h.id === ha.heldDriveId)!.state).toBe(HeldDriveState.DueForDestruction);
      expect(held.find((h) => h.id === hb.heldDriveId)!.state).toBe(HeldDriveState.Returned);
      const cert = await recordHeldDestruction(call(t.store), ha.heldDriveId, { method: 'NIST 800-88 purge, shredded', destroyedBy: 'Bo Operator', witness: 'Cy' });
      expect(cert).toMatchObject({ kind: 'SecureDestructionCertificate', driveId: a, method: 'NIST 800-88 purge, shredded', destroyedBy: 'Bo Operator' });
      expect(cert.chainOfCustody.map((c) => c.kind)).toEqual(['held', 'markedForDestruction', 'destroyed']);
      // Sweeping again changes nothing twice.
      const s3 = await sweepTimers(t.store);
      expect(s3.heldDueForDestruction + s3.heldReturnAlerts).toBe(0);
    });

    it('Shipping: the package has not arrived after 14 days → operators are notified, the customer too, and the drives are NeverReceived', async () => {
      const drives = uniqueDrives(2);
      const { job } = await shippedJob(t.store, drives);
      t.clock.advance(14 * DAY_MS);
      const s = await sweepTimers(t.store);
      expect(s.shippingAlerts).toBeGreaterThanOrEqual(1);
      const after = (await t.store.getJobById(job.id))!;
      expect(after.state).toBe(JobState.Shipping);
      expect(after.shippingAlertedAt).not.toBeNull();
      expect(Object.values(await driveStates(t.store, job.id))).toEqual([DriveState.NeverReceived, DriveState.NeverReceived]);
      expect((await listTasks(call(t.store), { jobId: job.id })).tasks.map((x) => x.kind)).toEqual([TaskKind.MissingPackage]);
      const notices = await opsDb(t.store).selectFrom('outbox').select(['topic', 'subscription_id']).where('job_id', '=', job.id).execute();
      expect(notices.some((n) => n.topic === 'job.shippingAlert' && n.subscription_id === job.subscriptionId)).toBe(true);
    });

    it('Shipping: the operator extends the wait after the customer answered; the package then arrives and the job goes on', async () => {
      const drives = uniqueDrives(1);
      const { job, tracking } = await shippedJob(t.store, drives);
      t.clock.advance(14 * DAY_MS);
      await sweepTimers(t.store);
      const ext = await extendShippingWait(call(t.store), job.id, { days: 10 });
      expect(ext.job.deadlineKind).toBe('shippingAlert');
      expect(ext.job.deadlineAt!.getTime()).toBe(t.clock.now().getTime() + 10 * DAY_MS);
      t.clock.advance(5 * DAY_MS);
      const r = await receivePackage(call(t.store), { carrier: 'FedEx', trackingNumber: tracking, driveIds: drives });
      expect(r.received).toMatchObject([{ driveId: drives[0], from: DriveState.NeverReceived, to: DriveState.Received, late: true }]);
      expect((await t.store.getJobById(job.id))!.state).toBe(JobState.Received);
    });

    it('Shipping: the customer cancels instead, and the operator closes the job', async () => {
      const { job } = await shippedJob(t.store, uniqueDrives(1));
      t.clock.advance(14 * DAY_MS);
      await sweepTimers(t.store);
      const r = await closeUndelivered(call(t.store), job.id, { note: 'customer asked to cancel' });
      expect(r.job.state).toBe(JobState.Closed);
      expect(r.job.cancelRequested).toBe(true);
      expect((await listTasks(call(t.store), { jobId: job.id })).tasks).toEqual([]);
    });

    it('Shipping: no response within 30 days of the alert → the job moves from Shipping directly to Closed', async () => {
      const { job } = await shippedJob(t.store, uniqueDrives(1));
      t.clock.advance(14 * DAY_MS);
      await sweepTimers(t.store);
      t.clock.advance(29 * DAY_MS);
      await sweepTimers(t.store);
      expect((await t.store.getJobById(job.id))!.state).toBe(JobState.Shipping);
      t.clock.advance(1 * DAY_MS);
      const s = await sweepTimers(t.store);
      expect(s.closed).toBeGreaterThanOrEqual(1);
      const closed = (await t.store.getJobById(job.id))!;
      expect(closed.state).toBe(JobState.Closed);
      expect(closed.stateReason.code).toBe('PackageNeverArrived');
    });

    it('Completed/Closed: drives lost or damaged in return shipping are recorded so the customer sees which blobs to re-export or download', async () => {
      const drives = uniqueDrives(1);
      const { job, tracking } = await shippedJob(t.store, drives);
      await receivePackage(call(t.store), { carrier: 'FedEx', trackingNumber: tracking, driveIds: drives });
      await copyAll(job.id);
      expect(await codeOf(recordReturnDamage(call(t.store), job.id, { kind: 'damaged', note: 'x' }))).toBe('TransitionNotAllowed');
      const done = await shipBack(call(t.store), job.id, { carrierName: 'FedEx', trackingNumber: 'RET-1' });
      expect(done.job.state).toBe(JobState.Completed);
      const r = await recordReturnDamage(call(t.store), job.id, { kind: 'damaged', note: 'box crushed', blobs: ['photos/a.jpg', 'photos/b.jpg'] });
      expect(r.job.extensions.returnIssues).toMatchObject([{ kind: 'damaged', driveIds: drives, blobs: ['photos/a.jpg', 'photos/b.jpg'] }]);
      const events = await t.store.listEvents(job.id);
      expect(events.at(-1)).toMatchObject({ event: 'returnIssue', reasonCode: 'DrivesDamagedInReturn' });
    });

    it('Transferring/Packaging: an incorrect or missing return address raises an operator task; the customer\'s update resolves it', async () => {
      const drives = uniqueDrives(1);
      const { job, tracking } = await shippedJob(t.store, drives);
      await receivePackage(call(t.store), { carrier: 'FedEx', trackingNumber: tracking, driveIds: drives });
      expect(await codeOf(flagReturnAddress(call(t.store), job.id, { note: 'no such street' }))).toBe('TransitionNotAllowed');
      await copyAll(job.id);
      const flagged = await flagReturnAddress(call(t.store), job.id, { note: 'no such street' });
      expect(flagged.job.extensions.returnAddressProblem).toMatchObject({ note: 'no such street' });
      expect((await listTasks(call(t.store), { jobId: job.id })).tasks.map((x) => x.kind)).toEqual([TaskKind.BadReturnAddress]);
      expect(await codeOf(shipBack(call(t.store), job.id, { carrierName: 'FedEx', trackingNumber: 'R' }))).toBe('GuardFailed');
      // The customer PATCHes the address (what the ARM route does through changeJob); the watcher resolves the flag.
      await t.store.changeJob(job.id, { actor: Actor.Customer }, (w) => w.set({ returnAddress: { ...w.job.returnAddress, streetAddress1: '2 Real Rd' } }));
      const { resolveChangedReturnAddresses } = await import('../../src/operator/jobs.ts');
      expect(await resolveChangedReturnAddresses(call(t.store), [job.id])).toHaveLength(1);
      expect((await t.store.getJobById(job.id))!.extensions.returnAddressProblem).toBeUndefined();
      expect((await listTasks(call(t.store), { jobId: job.id })).tasks).toEqual([]);
      expect((await shipBack(call(t.store), job.id, { carrierName: 'FedEx', trackingNumber: 'R' })).job.state).toBe(JobState.Completed);
    });

    it('Transferring/Packaging: the customer stays unreachable for 90 days → the drives are securely destroyed', async () => {
      const drives = uniqueDrives(2);
      const { job, tracking } = await shippedJob(t.store, drives);
      await receivePackage(call(t.store), { carrier: 'FedEx', trackingNumber: tracking, driveIds: drives });
      await startDriveTransfer(t.store, { jobId: job.id, driveId: drives[0] });
      await flagReturnAddress(call(t.store), job.id, { note: 'address missing' });
      expect(await codeOf(recordJobDriveDestruction(call(t.store), job.id, drives[0], { method: 'shred', destroyedBy: 'Bo' }))).toBe('TransitionNotAllowed');
      t.clock.advance(90 * DAY_MS);
      const s = await sweepTimers(t.store);
      expect(s.addressFlagsExpired).toBeGreaterThanOrEqual(1);
      const j = (await t.store.getJobById(job.id))!;
      expect(j.extensions.drivesDueForDestruction).toEqual(drives);
      expect((await listTasks(call(t.store), { jobId: job.id })).tasks.map((x) => x.kind).sort()).toEqual([TaskKind.BadReturnAddress, TaskKind.DestroyDrives].sort());
      const cert = await recordJobDriveDestruction(call(t.store), job.id, drives[0], { method: 'degauss + shred', destroyedBy: 'Bo' });
      expect(cert.chainOfCustody.map((c) => c.kind)).toEqual(['received', 'transferStarted', 'markedForDestruction', 'destroyed']);
      expect(await codeOf(recordJobDriveDestruction(call(t.store), job.id, drives[0], { method: 'x', destroyedBy: 'Bo' }))).toBe('AlreadyExists');
    });

    it('Creating/Shipping/Transferring: a drive not in the job\'s list is an extra drive: not processed, returned with the job', async () => {
      const drives = uniqueDrives(1);
      const [extra] = uniqueDrives(1, 'EXTRA');
      const { job, tracking } = await shippedJob(t.store, drives);
      const r = await receivePackage(call(t.store), { carrier: 'FedEx', trackingNumber: tracking, driveIds: [...drives, extra] });
      expect(r.extra).toEqual([{ jobId: job.id, driveId: extra }]);
      expect((await t.store.getJobById(job.id))!.state).toBe(JobState.Received);
      expect(await codeOf(startDriveTransfer(t.store, { jobId: job.id, driveId: extra }))).toBe('TransitionNotAllowed');
      const packed = await copyAll(job.id);
      expect(packed.state).toBe(JobState.Packaging);
      const done = await shipBack(call(t.store), job.id, { carrierName: 'FedEx', trackingNumber: 'RET-X' });
      expect(done.job.state).toBe(JobState.Completed);
      expect(done.drives.find((d) => d.driveId === extra)).toMatchObject({ isExtra: true, state: DriveState.ShippedBack });
    });
  });

  describe('drive error table', () => {
    it('NeverReceived: the package arrived without this drive', async () => {
      const drives = uniqueDrives(2);
      const { job, tracking } = await shippedJob(t.store, drives);
      const r = await receivePackage(call(t.store), { carrier: 'FedEx', trackingNumber: tracking, driveIds: [drives[0]] });
      expect(r.neverReceived).toEqual([{ jobId: job.id, driveId: drives[1] }]);
      expect(await driveStates(t.store, job.id)).toEqual({ [drives[0]]: DriveState.Received, [drives[1]]: DriveState.NeverReceived });
      expect((await t.store.getJobById(job.id))!.state).toBe(JobState.Shipping);
      expect((await listTasks(call(t.store), { jobId: job.id })).tasks.map((x) => x.kind)).toEqual([TaskKind.MissingDrives]);
      // The customer agrees to go on without it.
      const accepted = await acceptPartialDelivery(call(t.store), job.id, { note: 'go on' });
      expect(accepted.job.state).toBe(JobState.Received);
      const packed = await copyAll(job.id);
      const done = await shipBack(call(t.store), packed.id, { carrierName: 'FedEx', trackingNumber: 'RET-P' });
      expect(done.job.state).toBe(JobState.Closed);
    });

    it('NeverReceived: 14 days after shipping information was received, the package has not arrived', async () => {
      const drives = uniqueDrives(1);
      const { job } = await shippedJob(t.store, drives);
      t.clock.advance(14 * DAY_MS - 1);
      await sweepTimers(t.store);
      expect(await driveStates(t.store, job.id)).toEqual({ [drives[0]]: DriveState.Specified });
      t.clock.advance(1);
      await sweepTimers(t.store);
      expect(await driveStates(t.store, job.id)).toEqual({ [drives[0]]: DriveState.NeverReceived });
    });

    it('NeverReceived → Received: a drive that never arrived turns up in a later shipment', async () => {
      const drives = uniqueDrives(2);
      const { job, tracking } = await shippedJob(t.store, drives);
      await receivePackage(call(t.store), { carrier: 'FedEx', trackingNumber: tracking, driveIds: [drives[0]] });
      await acceptPartialDelivery(call(t.store), job.id);
      await startDriveTransfer(t.store, { jobId: job.id, driveId: drives[0] });
      expect((await t.store.getJobById(job.id))!.state).toBe(JobState.Transferring);
      const late = await receivePackage(call(t.store), { carrier: 'UPS', trackingNumber: 'SECOND-BOX', driveIds: [drives[1]] });
      expect(late.received).toMatchObject([{ driveId: drives[1], from: DriveState.NeverReceived, to: DriveState.Received, late: true }]);
      await finishDriveTransfer(t.store, { jobId: job.id, driveId: drives[0], outcome: { errors: 0 } });
      expect((await t.store.getJobById(job.id))!.state).toBe(JobState.Transferring);
      const packed = await copyAll(job.id);
      expect(packed.state).toBe(JobState.Packaging);
      expect((await shipBack(call(t.store), job.id, { carrierName: 'UPS', trackingNumber: 'R2' })).job.state).toBe(JobState.Completed);
    });

    it('N/A: a drive that is part of no job, arriving with another job, is marked extra and returned with that job', async () => {
      const drives = uniqueDrives(1);
      const [stranger] = uniqueDrives(1, 'STRANGER');
      const { job, tracking } = await shippedJob(t.store, drives);
      const r = await receivePackage(call(t.store), { carrier: 'FedEx', trackingNumber: tracking, driveIds: [stranger, ...drives] });
      expect(r.extra).toEqual([{ jobId: job.id, driveId: stranger }]);
      expect(r.held).toEqual([]);
      const events = await t.store.listEvents(job.id);
      expect(events.find((e) => e.event === 'extraDrive')).toMatchObject({ driveId: stranger, reasonCode: 'ExtraDrive' });
    });

    it('Transferring → Completed (no errors) or CompletedMoreInfo (errors, warnings, overwrites) → ShippedBack; the job ends Closed when a drive had errors', async () => {
      const drives = uniqueDrives(3);
      const { job, tracking } = await shippedJob(t.store, drives);
      await receivePackage(call(t.store), { carrier: 'FedEx', trackingNumber: tracking, driveIds: drives });
      const first = await startDriveTransfer(t.store, { jobId: job.id, driveId: drives[0] });
      expect(first.job.state).toBe(JobState.Transferring);
      expect((await startDriveTransfer(t.store, { jobId: job.id, driveId: drives[0] })).changed).toBe(false);
      await finishDriveTransfer(t.store, { jobId: job.id, driveId: drives[0], outcome: { errors: 0, errorLogUri: 'https://x/err.xml' } });
      await startDriveTransfer(t.store, { jobId: job.id, driveId: drives[1] });
      await finishDriveTransfer(t.store, { jobId: job.id, driveId: drives[1], outcome: { errors: 0, overwrites: 2 } });
      await startDriveTransfer(t.store, { jobId: job.id, driveId: drives[2] });
      const last = await finishDriveTransfer(t.store, { jobId: job.id, driveId: drives[2], outcome: { errors: 3 } });
      expect(last.job.state).toBe(JobState.Packaging);
      expect((await finishDriveTransfer(t.store, { jobId: job.id, driveId: drives[2], outcome: { errors: 3 } })).changed).toBe(false);
      expect(await driveStates(t.store, job.id)).toEqual({ [drives[0]]: DriveState.Completed, [drives[1]]: DriveState.CompletedMoreInfo, [drives[2]]: DriveState.CompletedMoreInfo });
      const done = await shipBack(call(t.store), job.id, { carrierName: 'FedEx', trackingNumber: 'R3', shipDate: '2026-03-01' });
      expect(done.job.state).toBe(JobState.Closed);
      expect(done.job.returnPackage).toMatchObject({ carrierName: 'FedEx', trackingNumber: 'R3', driveCount: 3 });
      expect(done.drives.every((d) => d.state === DriveState.ShippedBack)).toBe(true);
    });

    it('Faulted: a job or drive that fails to progress is faulted with a reason and moved back, only to a state the tables allow', async () => {
      const drives = uniqueDrives(1);
      const { job, tracking } = await shippedJob(t.store, drives);
      await receivePackage(call(t.store), { carrier: 'FedEx', trackingNumber: tracking, driveIds: drives });
      await startDriveTransfer(t.store, { jobId: job.id, driveId: drives[0] });
      const df = await faultJob(call(t.store), job.id, { reason: 'BitLocker key invalid', driveId: drives[0] });
      expect(df.drives[0]).toMatchObject({ state: DriveState.Faulted, faultedFrom: DriveState.Transferring });
      expect(await codeOf(unfaultJob(call(t.store), job.id, { note: 'x', driveId: drives[0], to: DriveState.ShippedBack }))).toBe('TransitionNotAllowed');
      // Transferring is not an unfault target for a drive: by default it goes back to where it was only if allowed.
      expect(await codeOf(unfaultJob(call(t.store), job.id, { note: 'x', driveId: drives[0] }))).toBe('TransitionNotAllowed');
      const back = await unfaultJob(call(t.store), job.id, { note: 'customer sent the right key', driveId: drives[0], to: DriveState.Received });
      expect(back.drives[0].state).toBe(DriveState.Received);
      const jf = await faultJob(call(t.store), job.id, { reason: 'storage account not accessible' });
      expect(jf.job).toMatchObject({ state: JobState.Faulted, faultedFrom: JobState.Transferring });
      expect((await listTasks(call(t.store), { jobId: job.id, kind: TaskKind.Faulted })).tasks).toHaveLength(1);
      expect(await codeOf(unfaultJob(call(t.store), job.id, { note: 'x', to: JobState.Completed }))).toBe('TransitionNotAllowed');
      const jb = await unfaultJob(call(t.store), job.id, { note: 'access restored' });
      expect(jb.job.state).toBe(JobState.Transferring);
      expect((await listTasks(call(t.store), { jobId: job.id, kind: TaskKind.Faulted })).tasks).toEqual([]);
    });

    it('a cancelled job skips the copy and follows the same path to Completed', async () => {
      const drives = uniqueDrives(2);
      const { job, tracking } = await shippedJob(t.store, drives);
      await t.store.changeJob(job.id, { actor: Actor.Customer }, (w) => w.set({ cancelRequested: true }));
      const r = await receivePackage(call(t.store), { carrier: 'FedEx', trackingNumber: tracking, driveIds: drives });
      expect(r.jobs[0].state).toBe(JobState.Packaging);
      expect(await codeOf(startDriveTransfer(t.store, { jobId: job.id, driveId: drives[0] }))).toBe('GuardFailed');
      const done = await shipBack(call(t.store), job.id, { carrierName: 'FedEx', trackingNumber: 'RC' });
      expect(done.job.state).toBe(JobState.Completed);
    });
  });

  it('tasks close with a note and can be filtered by kind, job and overdue', async () => {
    const [d] = uniqueDrives(1, 'TASK');
    const r = await receivePackage(call(t.store), { carrier: 'DHL', trackingNumber: 'T-1', driveIds: [d] });
    const id = r.taskIds[0];
    const overdue = await listTasks(call(t.store), { overdue: true });
    expect(overdue.tasks.some((x) => x.id === id)).toBe(false);
    t.clock.advance(15 * DAY_MS);
    expect((await listTasks(call(t.store), { overdue: true })).tasks.some((x) => x.id === id)).toBe(true);
    expect(await codeOf(closeTask(call(t.store), id, ''))).toBe('InvalidInput');
    const closed = await closeTask(call(t.store), id, 'sender found, label printed');
    expect(closed).toMatchObject({ status: 'closed', closeNote: 'sender found, label printed', closedBy: 'op-token-1' });
    expect(await codeOf(closeTask(call(t.store), id, 'again'))).toBe('TransitionNotAllowed');
  });
});
