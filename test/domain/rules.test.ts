/**
 * One test per rule of DESIGN.md's "Rules from the seed", at the level of the domain tables. Store-level and
 * end-to-end versions live beside the features that carry them out (test/store, test/operator, test/api).
 */
import { describe, expect, it } from 'vitest';
import {
  Actor, DriveEvent, DriveState, JobEvent, JobState, JobType, DeadlineKind, DomainError,
  decideDriveTransition, decideJobTransition, automaticJobEvents, nextDeadline, initialDriveState,
  CANCELLABLE_JOB_STATES, JOB_STATES, assertFieldUpdatable, assertDeletable,
  CREATING_EXPIRY_MS, SHIPPING_ALERT_MS, UNANSWERED_CLOSE_MS, FINISHED_RETENTION_MS, UNCLAIMED_DRIVE_DESTRUCTION_MS, DAY_MS,
} from '../../src/domain/index.ts';
import { drive, job } from '../helpers/facts.ts';

const t0 = new Date('2026-03-01T00:00:00Z');
const at = (ms: number) => new Date(t0.getTime() + ms);
const codeOf = (fn: () => unknown) => {
  try {
    fn();
  } catch (e) {
    return (e as DomainError).code;
  }
  return 'no error';
};

describe('Rules from the seed: jobs', () => {
  it('job: created in Creating (the deadline of a new job is the Creating expiry)', () => {
    const d = nextDeadline({ state: JobState.Creating, stateEnteredAt: t0, updatedAt: t0 });
    expect(d?.kind).toBe(DeadlineKind.DeleteCreating);
    expect(JOB_STATES[0]).toBe(JobState.Creating);
  });

  it('job: update in Creating resets the 14-day clock', () => {
    const before = nextDeadline({ state: JobState.Creating, stateEnteredAt: t0, updatedAt: t0 })!;
    const after = nextDeadline({ state: JobState.Creating, stateEnteredAt: t0, updatedAt: at(10 * DAY_MS) })!;
    expect(before.at).toEqual(at(CREATING_EXPIRY_MS));
    expect(after.at).toEqual(at(10 * DAY_MS + CREATING_EXPIRY_MS));
  });

  it('job: Shipping only when deliveryPackage and returnAddress are set', () => {
    expect(decideJobTransition(job(JobState.Creating), JobEvent.ProvideShippingInfo, Actor.Customer).to).toBe(JobState.Shipping);
    expect(codeOf(() => decideJobTransition(job(JobState.Creating, { hasDeliveryPackage: false }), JobEvent.ProvideShippingInfo, Actor.Customer))).toBe('GuardFailed');
    expect(codeOf(() => decideJobTransition(job(JobState.Creating, { hasReturnAddress: false }), JobEvent.ProvideShippingInfo, Actor.Customer))).toBe('GuardFailed');
    expect(codeOf(() => decideJobTransition(job(JobState.Received), JobEvent.ProvideShippingInfo, Actor.Customer))).toBe('TransitionNotAllowed');
  });

  it('job: 14 days in Creating → deleted', () => {
    expect(CREATING_EXPIRY_MS).toBe(14 * DAY_MS);
    const d = nextDeadline({ state: JobState.Creating, stateEnteredAt: t0, updatedAt: t0 })!;
    expect(d).toMatchObject({ kind: DeadlineKind.DeleteCreating, at: at(14 * DAY_MS) });
  });

  it('job: 14 days in Shipping without drives → operators notified', () => {
    expect(SHIPPING_ALERT_MS).toBe(14 * DAY_MS);
    const d = nextDeadline({ state: JobState.Shipping, stateEnteredAt: t0, updatedAt: t0 })!;
    expect(d).toMatchObject({ kind: DeadlineKind.ShippingAlert, at: at(14 * DAY_MS) });
  });

  it('job: operator extends or cancels', () => {
    const extended = nextDeadline({ state: JobState.Shipping, stateEnteredAt: t0, updatedAt: t0, shippingAlertedAt: at(14 * DAY_MS), shippingExtendedUntil: at(20 * DAY_MS) })!;
    expect(extended).toMatchObject({ kind: DeadlineKind.ShippingAlert, at: at(20 * DAY_MS) });
    expect(decideJobTransition(job(JobState.Shipping), JobEvent.CloseUndelivered, Actor.Operator).to).toBe(JobState.Closed);
    expect(codeOf(() => decideJobTransition(job(JobState.Shipping), JobEvent.CloseUndelivered, Actor.Customer))).toBe('ActorNotAllowed');
  });

  it('job: 30 days without answer → Closed', () => {
    expect(UNANSWERED_CLOSE_MS).toBe(30 * DAY_MS);
    const d = nextDeadline({ state: JobState.Shipping, stateEnteredAt: t0, updatedAt: t0, shippingAlertedAt: at(14 * DAY_MS) })!;
    expect(d).toMatchObject({ kind: DeadlineKind.CloseUnanswered, at: at(44 * DAY_MS) });
    expect(decideJobTransition(job(JobState.Shipping), JobEvent.CloseUndelivered, Actor.System).to).toBe(JobState.Closed);
  });

  it('job: Received when all drives received', () => {
    const partly = job(JobState.Shipping, { drives: [drive(DriveState.Received, 'D1'), drive(DriveState.Specified, 'D2')] });
    expect(codeOf(() => decideJobTransition(partly, JobEvent.ReceiveAllDrives, Actor.System))).toBe('GuardFailed');
    expect(automaticJobEvents(partly)).toEqual([]);
    const all = job(JobState.Shipping, { drives: [drive(DriveState.Received, 'D1'), drive(DriveState.Received, 'D2')] });
    expect(automaticJobEvents(all).map((d) => d.to)).toEqual([JobState.Received]);
  });

  it('job: Transferring when the first drive starts', () => {
    const one = job(JobState.Received, { drives: [drive(DriveState.Transferring, 'D1'), drive(DriveState.Received, 'D2')] });
    expect(automaticJobEvents(one).map((d) => d.to)).toEqual([JobState.Transferring]);
    const none = job(JobState.Received, { drives: [drive(DriveState.Received, 'D1'), drive(DriveState.Received, 'D2')] });
    expect(automaticJobEvents(none)).toEqual([]);
  });

  it('job: Packaging when all drives finished', () => {
    const oneLeft = job(JobState.Transferring, { drives: [drive(DriveState.Completed, 'D1'), drive(DriveState.Transferring, 'D2')] });
    expect(automaticJobEvents(oneLeft)).toEqual([]);
    const done = job(JobState.Transferring, { drives: [drive(DriveState.Completed, 'D1'), drive(DriveState.CompletedMoreInfo, 'D2')] });
    expect(automaticJobEvents(done).map((d) => d.to)).toEqual([JobState.Packaging]);
  });

  it('job: Completed when shipped back without errors, Closed with errors', () => {
    const clean = job(JobState.Packaging, { drives: [drive(DriveState.ShippedBack, 'D1'), drive(DriveState.ShippedBack, 'D2')] });
    expect(decideJobTransition(clean, JobEvent.ShipBack, Actor.Operator).to).toBe(JobState.Completed);
    const withErrors = job(JobState.Packaging, { drives: [drive(DriveState.ShippedBack, 'D1', true), drive(DriveState.ShippedBack, 'D2')] });
    expect(decideJobTransition(withErrors, JobEvent.ShipBack, Actor.Operator).to).toBe(JobState.Closed);
    const missingDrive = job(JobState.Packaging, { drives: [drive(DriveState.ShippedBack, 'D1'), drive(DriveState.NeverReceived, 'D2')] });
    expect(decideJobTransition(missingDrive, JobEvent.ShipBack, Actor.Operator).to).toBe(JobState.Closed);
  });

  it('job: both deleted after 90 days', () => {
    expect(FINISHED_RETENTION_MS).toBe(90 * DAY_MS);
    for (const state of [JobState.Completed, JobState.Closed]) {
      expect(nextDeadline({ state, stateEnteredAt: t0, updatedAt: t0 })).toMatchObject({ kind: DeadlineKind.DeleteFinished, at: at(90 * DAY_MS) });
    }
  });

  it('job: cancel only in allowed states, skips the copy', () => {
    expect(CANCELLABLE_JOB_STATES).toEqual([JobState.Creating, JobState.Shipping, JobState.Received, JobState.Transferring]);
    for (const s of JOB_STATES) {
      const expected = CANCELLABLE_JOB_STATES.includes(s) ? 'no error' : 'CancelNotAllowed';
      expect(codeOf(() => assertFieldUpdatable('cancelRequested', s)), s).toBe(expected);
    }
    // A cancelled job's received drives are not copied: the job goes straight to Packaging...
    const cancelled = job(JobState.Received, { cancelRequested: true, drives: [drive(DriveState.Received, 'D1')] });
    expect(automaticJobEvents(cancelled).map((d) => d.to)).toEqual([JobState.Packaging]);
    expect(codeOf(() => decideDriveTransition({ drive: drive(DriveState.Received), jobCancelled: true, jobState: JobState.Received }, DriveEvent.StartCopy, Actor.System))).toBe('GuardFailed');
    // ...its drives ship back uncopied and the job follows the same path to Completed.
    expect(decideDriveTransition({ drive: drive(DriveState.Received), jobCancelled: true, jobState: JobState.Packaging }, DriveEvent.ShipBack, Actor.Operator).to).toBe(DriveState.ShippedBack);
    const shipped = job(JobState.Packaging, { cancelRequested: true, drives: [drive(DriveState.ShippedBack, 'D1')] });
    expect(decideJobTransition(shipped, JobEvent.ShipBack, Actor.Operator).to).toBe(JobState.Completed);
  });

  it('job: Faulted in and out by operator', () => {
    for (const s of [JobState.Creating, JobState.Shipping, JobState.Received, JobState.Transferring, JobState.Packaging]) {
      expect(decideJobTransition(job(s), JobEvent.Fault, Actor.Operator).to).toBe(JobState.Faulted);
    }
    expect(codeOf(() => decideJobTransition(job(JobState.Completed), JobEvent.Fault, Actor.Operator))).toBe('TransitionNotAllowed');
    expect(codeOf(() => decideJobTransition(job(JobState.Shipping), JobEvent.Fault, Actor.Customer))).toBe('ActorNotAllowed');
    expect(decideJobTransition(job(JobState.Faulted), JobEvent.Unfault, Actor.Operator, { to: JobState.Transferring }).to).toBe(JobState.Transferring);
    expect(codeOf(() => decideJobTransition(job(JobState.Faulted), JobEvent.Unfault, Actor.Operator, { to: JobState.Completed }))).toBe('TransitionNotAllowed');
    expect(codeOf(() => decideJobTransition(job(JobState.Faulted), JobEvent.Unfault, Actor.System, { to: JobState.Received }))).toBe('ActorNotAllowed');
  });

  it('job: delete only in Creating or Completed', () => {
    for (const s of JOB_STATES) {
      const expected = s === JobState.Creating || s === JobState.Completed ? 'no error' : 'DeleteNotAllowed';
      expect(codeOf(() => assertDeletable(s)), s).toBe(expected);
    }
  });
});

describe('Rules from the seed: drives arriving', () => {
  it('drives of an unknown job or of a job not in Shipping are held, not processed', () => {
    for (const jobState of [JobState.Creating, JobState.Completed, JobState.Closed]) {
      expect(codeOf(() => decideDriveTransition({ drive: drive(DriveState.Specified), jobCancelled: false, jobState }, DriveEvent.Receive, Actor.Operator)), jobState).toBe('GuardFailed');
    }
    expect(decideDriveTransition({ drive: drive(DriveState.Specified), jobCancelled: false, jobState: JobState.Shipping }, DriveEvent.Receive, Actor.Operator).to).toBe(DriveState.Received);
  });

  it('extra drives are not processed and are returned with the job', () => {
    const extra = { driveId: 'X9', state: DriveState.Received, isExtra: true };
    // Not processed: the copy may not start on an extra drive...
    expect(codeOf(() => decideDriveTransition({ drive: extra, jobCancelled: false, jobState: JobState.Transferring }, DriveEvent.StartCopy, Actor.System))).toBe('GuardFailed');
    // ...returned with the job...
    expect(decideDriveTransition({ drive: extra, jobCancelled: false, jobState: JobState.Packaging }, DriveEvent.ShipBack, Actor.Operator).reason.code).toBe('ExtraDriveShippedBack');
    // ...and a drive that belongs to the job is still copied.
    expect(decideDriveTransition({ drive: drive(DriveState.Received), jobCancelled: false, jobState: JobState.Received }, DriveEvent.StartCopy, Actor.System).to).toBe(DriveState.Transferring);
  });

  it('a NeverReceived drive that arrives later becomes Received', () => {
    const d = decideDriveTransition({ drive: drive(DriveState.NeverReceived), jobCancelled: false, jobState: JobState.Received }, DriveEvent.Receive, Actor.Operator);
    expect(d.to).toBe(DriveState.Received);
    expect(d.reason.code).toBe('DriveArrivedLate');
  });

  it('unclaimed drives are marked for secure destruction after 90 days', () => {
    expect(UNCLAIMED_DRIVE_DESTRUCTION_MS).toBe(90 * DAY_MS);
  });
});

describe('Rules from the seed: drive lifecycle', () => {
  it('drive: import starts Specified, export starts Received', () => {
    expect(initialDriveState(JobType.Import)).toBe(DriveState.Specified);
    expect(initialDriveState(JobType.Export)).toBe(DriveState.Received);
  });

  it('drive: NeverReceived when the package arrives without it or 14 days after shipping info without a package', () => {
    for (const actor of [Actor.Operator, Actor.System]) {
      expect(decideDriveTransition({ drive: drive(DriveState.Specified), jobCancelled: false, jobState: JobState.Shipping }, DriveEvent.MarkNeverReceived, actor).to).toBe(DriveState.NeverReceived);
    }
    expect(codeOf(() => decideDriveTransition({ drive: drive(DriveState.Received), jobCancelled: false, jobState: JobState.Received }, DriveEvent.MarkNeverReceived, Actor.System))).toBe('TransitionNotAllowed');
  });

  it('drive: Transferring → Completed (no errors) or CompletedMoreInfo (errors, warnings, overwrite notices) → ShippedBack', () => {
    const ctx = (state: DriveState, copyHasIssues?: boolean) => ({ drive: drive(state), jobCancelled: false, jobState: JobState.Transferring, copyHasIssues });
    expect(decideDriveTransition(ctx(DriveState.Received), DriveEvent.StartCopy, Actor.System).to).toBe(DriveState.Transferring);
    expect(decideDriveTransition(ctx(DriveState.Transferring, false), DriveEvent.FinishCopy, Actor.System).to).toBe(DriveState.Completed);
    expect(decideDriveTransition(ctx(DriveState.Transferring, true), DriveEvent.FinishCopy, Actor.System).to).toBe(DriveState.CompletedMoreInfo);
    for (const s of [DriveState.Completed, DriveState.CompletedMoreInfo]) {
      expect(decideDriveTransition(ctx(s), DriveEvent.ShipBack, Actor.Operator).to).toBe(DriveState.ShippedBack);
    }
    expect(codeOf(() => decideDriveTransition(ctx(DriveState.Transferring), DriveEvent.ShipBack, Actor.Operator))).toBe('TransitionNotAllowed');
  });

  it('drive: Faulted in and out by operator', () => {
    const ctx = (state: DriveState) => ({ drive: drive(state), jobCancelled: false, jobState: JobState.Transferring });
    expect(decideDriveTransition(ctx(DriveState.Transferring), DriveEvent.Fault, Actor.System).to).toBe(DriveState.Faulted);
    expect(decideDriveTransition(ctx(DriveState.Faulted), DriveEvent.Unfault, Actor.Operator, { to: DriveState.Received }).to).toBe(DriveState.Received);
    expect(codeOf(() => decideDriveTransition(ctx(DriveState.Faulted), DriveEvent.Unfault, Actor.Operator, { to: DriveState.ShippedBack }))).toBe('TransitionNotAllowed');
    expect(codeOf(() => decideDriveTransition(ctx(DriveState.ShippedBack), DriveEvent.Fault, Actor.Operator))).toBe('TransitionNotAllowed');
  });
});

describe('bad input gives typed domain errors', () => {
  it('unknown states and events are typed errors with a code and a message', () => {
    expect(codeOf(() => decideJobTransition(job('Nowhere' as JobState), JobEvent.Fault, Actor.Operator))).toBe('UnknownState');
    expect(codeOf(() => decideJobTransition(job(JobState.Creating), 'teleport', Actor.Operator))).toBe('UnknownEvent');
    expect(codeOf(() => decideDriveTransition({ drive: drive('Lost' as DriveState), jobCancelled: false, jobState: JobState.Shipping }, DriveEvent.Receive, Actor.Operator))).toBe('UnknownState');
    try {
      decideJobTransition(job(JobState.Completed), JobEvent.ProvideShippingInfo, Actor.Customer);
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(DomainError);
      expect((e as DomainError).message).toMatch(/Completed/);
    }
  });
});
