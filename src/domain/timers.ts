/**
 * Timer policy of the seed, as named constants, and the one function that says what a job's next deadline is.
 * The store keeps (deadline_at, deadline_kind) on each job row so a sweep costs what is due, not the table size.
 */
import { JobState } from './states.ts';

export const DAY_MS = 86_400_000;

/** A job left in Creating is deleted after this long; any customer update restarts the wait. */
export const CREATING_EXPIRY_MS = 14 * DAY_MS;
/** A job in Shipping whose package has not arrived by then raises an operator task and a customer notice. */
export const SHIPPING_ALERT_MS = 14 * DAY_MS;
/** After the shipping alert, a job nobody answers for this long is moved to Closed. */
export const UNANSWERED_CLOSE_MS = 30 * DAY_MS;
/** Completed and Closed jobs are deleted after this long. */
export const FINISHED_RETENTION_MS = 90 * DAY_MS;
/** Held or unclaimed drives whose owner cannot be reached are due for secure destruction after this long. */
export const UNCLAIMED_DRIVE_DESTRUCTION_MS = 90 * DAY_MS;
/** Held drives whose owner does not answer are returned after this long. */
export const HELD_DRIVE_RETURN_MS = 14 * DAY_MS;
/** Customers are warned this long before a deletion or a close. */
export const WARNING_BEFORE_MS = 3 * DAY_MS;

export const DeadlineKind = {
  DeleteCreating: 'deleteCreating',
  ShippingAlert: 'shippingAlert',
  CloseUnanswered: 'closeUnanswered',
  DeleteFinished: 'deleteFinished',
} as const;
export type DeadlineKind = (typeof DeadlineKind)[keyof typeof DeadlineKind];

export interface Deadline {
  kind: DeadlineKind;
  at: Date;
  /** What will happen, for people. */
  description: string;
}

export interface DeadlineFacts {
  state: JobState;
  stateEnteredAt: Date;
  /** Last customer update (resets the Creating clock). */
  updatedAt: Date;
  /** When operators were alerted that the package is late (null before). */
  shippingAlertedAt?: Date | null;
  /** An operator extended the wait for the package until this time. */
  shippingExtendedUntil?: Date | null;
}

const plus = (d: Date, ms: number) => new Date(d.getTime() + ms);

/** The next thing the timers will do to this job, or null when nothing is scheduled. */
export function nextDeadline(j: DeadlineFacts): Deadline | null {
  switch (j.state) {
    case JobState.Creating: {
      const from = j.updatedAt > j.stateEnteredAt ? j.updatedAt : j.stateEnteredAt;
      return {
        kind: DeadlineKind.DeleteCreating,
        at: plus(from, CREATING_EXPIRY_MS),
        description: 'The job will be deleted unless shipping information is added or the job is updated.',
      };
    }
    case JobState.Shipping: {
      if (j.shippingExtendedUntil && (!j.shippingAlertedAt || j.shippingExtendedUntil > j.shippingAlertedAt)) {
        return {
          kind: DeadlineKind.ShippingAlert,
          at: j.shippingExtendedUntil,
          description: 'Operators will be alerted if the package has not arrived by then (the wait was extended).',
        };
      }
      if (j.shippingAlertedAt) {
        return {
          kind: DeadlineKind.CloseUnanswered,
          at: plus(j.shippingAlertedAt, UNANSWERED_CLOSE_MS),
          description: 'The job will be closed unless the package arrives or the customer answers.',
        };
      }
      return {
        kind: DeadlineKind.ShippingAlert,
        at: plus(j.stateEnteredAt, SHIPPING_ALERT_MS),
        description: 'Operators will be alerted and the drives marked never received if the package has not arrived.',
      };
    }
    case JobState.Completed:
    case JobState.Closed:
      return {
        kind: DeadlineKind.DeleteFinished,
        at: plus(j.stateEnteredAt, FINISHED_RETENTION_MS),
        description: 'The job and its history will be deleted.',
      };
    default:
      return null;
  }
}

/** Deadlines that destroy or close something deserve a warning ahead of time. */
export const WARNED_DEADLINES: readonly DeadlineKind[] = [
  DeadlineKind.DeleteCreating,
  DeadlineKind.CloseUnanswered,
  DeadlineKind.DeleteFinished,
];
