/**
 * Property: random sequences of events by random actors never reach a state outside the tables, and every
 * accepted change appears in job_events exactly once (none lost, none invented).
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import fc from 'fast-check';
import { forEachDatabase, openTestStore, type TestDb } from '../helpers/db.ts';
import { createImportJob, shippingFields } from '../helpers/jobs.ts';
import {
  Actor, DRIVE_EVENTS, DRIVE_STATES, JOB_EVENTS, JOB_STATES, JOB_TRANSITIONS, DRIVE_TRANSITIONS, DomainError,
  UNFAULT_JOB_TARGETS, UNFAULT_DRIVE_TARGETS, type DriveEvent, type JobEvent,
} from '../../src/domain/index.ts';

const actors = [Actor.Customer, Actor.Operator, Actor.System];
const step = fc.oneof(
  fc.record({ kind: fc.constant('job' as const), event: fc.constantFrom(...JOB_EVENTS), actor: fc.constantFrom(...actors), to: fc.constantFrom(undefined, ...UNFAULT_JOB_TARGETS) }),
  fc.record({ kind: fc.constant('drive' as const), event: fc.constantFrom(...DRIVE_EVENTS), actor: fc.constantFrom(...actors), drive: fc.constantFrom('P1', 'P2'), issues: fc.boolean(), to: fc.constantFrom(undefined, ...UNFAULT_DRIVE_TARGETS) }),
  fc.record({ kind: fc.constant('ship' as const) }),
  fc.record({ kind: fc.constant('cancel' as const) }),
);

forEachDatabase('store property', (driver) => {
  let t: TestDb;
  beforeAll(async () => {
    t = await openTestStore(driver);
  });
  afterAll(async () => t.close());

  it('random event sequences stay inside the tables and never lose an event', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 25 }), async (steps) => {
        const { job } = await createImportJob(t.store, { drives: ['P1', 'P2'] });
        let accepted = 1; // the create event
        for (const s of steps) {
          try {
            const r = await t.store.changeJob(job.id, { actor: s.kind === 'job' || s.kind === 'drive' ? s.actor : Actor.Customer }, (w) => {
              if (s.kind === 'job') w.applyJobEvent(s.event as JobEvent, { to: s.event === 'unfault' ? s.to : undefined });
              else if (s.kind === 'drive') {
                w.applyDriveEvent(s.drive, s.event as DriveEvent, { copyHasIssues: s.issues, to: s.event === 'unfault' ? s.to : undefined });
                w.followDrives();
              } else if (s.kind === 'ship') w.set(shippingFields);
              else w.set({ cancelRequested: true });
            });
            accepted += r.events.length;
            // What the table allows is exactly what happened: each state event's edge exists in the table.
            for (const e of r.events) {
              const table = e.driveId ? DRIVE_TRANSITIONS : JOB_TRANSITIONS;
              expect(table.some((rule) => rule.event === e.event && (rule.from as string[]).includes(e.fromState!) && rule.to === e.toState)).toBe(true);
            }
          } catch (e) {
            expect(e).toBeInstanceOf(DomainError);
          }
        }
        const after = (await t.store.getJobById(job.id))!;
        expect(JOB_STATES).toContain(after.state);
        for (const d of await t.store.getDrives(job.id)) expect(DRIVE_STATES).toContain(d.state);
        const events = await t.store.listEvents(job.id);
        expect(events).toHaveLength(accepted);
        // Replaying the events reproduces the current states.
        const lastJob = events.filter((e) => !e.driveId && e.toState).at(-1)!;
        expect(lastJob.toState).toBe(after.state);
      }),
      { numRuns: driver === 'pglite' ? 40 : 25 },
    );
  });
});
