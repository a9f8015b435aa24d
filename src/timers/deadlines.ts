/**
 * What the timers will do to a job, when, and why: for Get Job (an extension property the ARM serializer adds,
 * e.g. `properties.pendingDeadlines`) and the console. Pure: computed from the job record alone.
 */
import { AddressFlagDeadlineKind } from '../domain/custody.ts';
import { nextDeadline, WARNED_DEADLINES, WARNING_BEFORE_MS, type DeadlineKind } from '../domain/timers.ts';
import type { JobRecord } from '../store/records.ts';

export interface PendingDeadline {
  /** Stable machine name: deleteCreating | shippingAlert | closeUnanswered | deleteFinished | destroyUnreachable. */
  kind: string;
  /** ISO date-time at which the timer fires. */
  dueAt: string;
  /** What will happen, for people. */
  description: string;
  /** When the customer is (or was) warned, for deadlines that delete or close. */
  warningAt?: string;
}

type JobLike = Pick<JobRecord, 'state' | 'stateEnteredAt' | 'updatedAt' | 'shippingAlertedAt' | 'shippingExtendedUntil' | 'extensions'> & Partial<Pick<JobRecord, 'deadlineAt' | 'deadlineKind'>>;

export function pendingDeadlines(job: JobLike): PendingDeadline[] {
  const out: PendingDeadline[] = [];
  const d = nextDeadline(job);
  if (d) {
    // The stored deadline is authoritative (it is what the sweep reads); the description comes from the domain.
    const at = job.deadlineAt && job.deadlineKind === d.kind ? job.deadlineAt : d.at;
    const p: PendingDeadline = { kind: d.kind, dueAt: at.toISOString(), description: d.description };
    if (WARNED_DEADLINES.includes(d.kind as DeadlineKind)) p.warningAt = new Date(at.getTime() - WARNING_BEFORE_MS).toISOString();
    out.push(p);
  }
  const flag = job.extensions?.returnAddressProblem as { destroyDrivesAt?: string } | undefined;
  if (flag?.destroyDrivesAt) {
    out.push({
      kind: AddressFlagDeadlineKind.DestroyUnreachable,
      dueAt: flag.destroyDrivesAt,
      description: 'The return address is wrong or missing: unless it is corrected, the drives will be marked for secure destruction.',
    });
  }
  return out;
}
