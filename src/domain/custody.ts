/**
 * The data center's side of the seed's error tables, as data: drives held because their job is not ready (or
 * unknown), return-address problems, secure destruction, and the operator task kinds. Like transitions.ts, this
 * file is the only place these states and rules are spelled; services and timers read them from here.
 */
import { DomainError } from './errors.ts';
import { JobState } from './states.ts';
import { DAY_MS, HELD_DRIVE_RETURN_MS, UNCLAIMED_DRIVE_DESTRUCTION_MS, WARNING_BEFORE_MS } from './timers.ts';

/** A drive that arrived but cannot be processed: its job is not in Shipping, or no job lists it. */
export const HeldDriveState = {
  Held: 'Held',
  /** Its job reached Shipping and the drive went on into the job. */
  Released: 'Released',
  /** Sent back to the sender without processing. */
  Returned: 'Returned',
  /** Nobody answered for 90 days: to be securely destroyed. */
  DueForDestruction: 'DueForDestruction',
  Destroyed: 'Destroyed',
} as const;
export type HeldDriveState = (typeof HeldDriveState)[keyof typeof HeldDriveState];
export const HELD_DRIVE_STATES: readonly HeldDriveState[] = Object.values(HeldDriveState);

export const HeldDriveEvent = {
  Release: 'release',
  Return: 'return',
  MarkForDestruction: 'markForDestruction',
  Destroy: 'destroy',
} as const;
export type HeldDriveEvent = (typeof HeldDriveEvent)[keyof typeof HeldDriveEvent];

export const HELD_DRIVE_TRANSITIONS: readonly { event: HeldDriveEvent; from: readonly HeldDriveState[]; to: HeldDriveState }[] = [
  { event: HeldDriveEvent.Release, from: [HeldDriveState.Held, HeldDriveState.DueForDestruction], to: HeldDriveState.Released },
  { event: HeldDriveEvent.Return, from: [HeldDriveState.Held, HeldDriveState.DueForDestruction], to: HeldDriveState.Returned },
  { event: HeldDriveEvent.MarkForDestruction, from: [HeldDriveState.Held], to: HeldDriveState.DueForDestruction },
  { event: HeldDriveEvent.Destroy, from: [HeldDriveState.DueForDestruction], to: HeldDriveState.Destroyed },
];

export function decideHeldDrive(state: HeldDriveState, event: HeldDriveEvent): HeldDriveState {
  const rule = HELD_DRIVE_TRANSITIONS.find((r) => r.event === event && r.from.includes(state));
  if (!rule) throw new DomainError('TransitionNotAllowed', `A held drive in state ${state} cannot ${event}.`, { target: 'state' });
  return rule.to;
}

/** Where a scanned drive goes, by the state of the job that lists it. */
export const ReceiptDisposition = {
  /** Drive moves to Received (or from NeverReceived to Received when late). */
  Receive: 'receive',
  /** Kept aside, not processed; operators contact the customer. */
  Hold: 'hold',
} as const;
export type ReceiptDisposition = (typeof ReceiptDisposition)[keyof typeof ReceiptDisposition];

/** Job states whose package may carry extra drives that are then returned with the job (§1.8: Creating/Shipping/Transferring). */
export const EXTRA_DRIVE_JOB_STATES: readonly JobState[] = [JobState.Creating, JobState.Shipping, JobState.Received, JobState.Transferring];
/** A return address problem can be flagged while the drives are still in the data center. */
export const ADDRESS_FLAG_JOB_STATES: readonly JobState[] = [JobState.Transferring, JobState.Packaging];
/** Damage or loss in return shipping is recorded on finished jobs. */
export const RETURN_DAMAGE_JOB_STATES: readonly JobState[] = [JobState.Completed, JobState.Closed];
/** Operators may extend the wait for a late package, or cancel, while the job is in Shipping. */
export const SHIPPING_WAIT_JOB_STATES: readonly JobState[] = [JobState.Shipping];

/** Held-drive deadlines (kinds distinct from job deadlines). */
export const HeldDeadlineKind = {
  ReturnHeld: 'returnHeld',
  DestroyUnclaimed: 'destroyUnclaimed',
} as const;
export type HeldDeadlineKind = (typeof HeldDeadlineKind)[keyof typeof HeldDeadlineKind];

export interface HeldDeadlineFacts {
  state: HeldDriveState;
  receivedAt: Date;
  /** When the 14-day "return the drives" task was opened (null before). */
  returnAlertedAt?: Date | null;
}

/** Next thing the timers do to a held drive: after 14 days, ask operators to return it; after 90, mark it for destruction. */
export function nextHeldDeadline(h: HeldDeadlineFacts): { kind: HeldDeadlineKind; at: Date; description: string } | null {
  if (h.state !== HeldDriveState.Held) return null;
  if (!h.returnAlertedAt) {
    return {
      kind: HeldDeadlineKind.ReturnHeld, at: new Date(h.receivedAt.getTime() + HELD_DRIVE_RETURN_MS),
      description: 'Operators will try to return the drive if the customer has not answered.',
    };
  }
  return {
    kind: HeldDeadlineKind.DestroyUnclaimed, at: new Date(h.receivedAt.getTime() + UNCLAIMED_DRIVE_DESTRUCTION_MS),
    description: 'The drive will be marked for secure destruction if it cannot be returned and nobody answers.',
  };
}

/** A return address flagged as wrong or missing: unreachable for this long → the job's drives are due for destruction. */
export const UNREACHABLE_DESTRUCTION_MS = UNCLAIMED_DRIVE_DESTRUCTION_MS;
export const AddressFlagDeadlineKind = { DestroyUnreachable: 'destroyUnreachable' } as const;

export const AddressFlagState = { Open: 'open', Resolved: 'resolved', Expired: 'expired' } as const;
export type AddressFlagState = (typeof AddressFlagState)[keyof typeof AddressFlagState];

/** What operators must do. One queue; each task has a kind, a due date and closes with a note. */
export const TaskKind = {
  /** Drives arrived for a job not in Shipping: contact the customer to ship (or create) the job. */
  ContactCustomer: 'contactCustomer',
  /** 14 days in Shipping without the package: notify the customer, extend the wait or cancel. */
  MissingPackage: 'missingPackage',
  /** A package arrived without some of the job's drives. */
  MissingDrives: 'missingDrives',
  /** Drives of no known job. */
  HeldDrives: 'heldDrives',
  /** Held drives whose owner did not answer for 14 days: return them. */
  ReturnHeldDrives: 'returnHeldDrives',
  BadReturnAddress: 'badReturnAddress',
  Faulted: 'faulted',
  DestroyDrives: 'destroyDrives',
} as const;
export type TaskKind = (typeof TaskKind)[keyof typeof TaskKind];
export const TASK_KINDS: readonly TaskKind[] = Object.values(TaskKind);

export const TaskStatus = { Open: 'open', Closed: 'closed' } as const;
export type TaskStatus = (typeof TaskStatus)[keyof typeof TaskStatus];

/** How soon each kind of task is due after it opens. */
export const TASK_DUE_MS: Record<TaskKind, number> = {
  [TaskKind.ContactCustomer]: HELD_DRIVE_RETURN_MS,
  [TaskKind.MissingPackage]: 3 * DAY_MS,
  [TaskKind.MissingDrives]: 3 * DAY_MS,
  [TaskKind.HeldDrives]: HELD_DRIVE_RETURN_MS,
  [TaskKind.ReturnHeldDrives]: 7 * DAY_MS,
  [TaskKind.BadReturnAddress]: 3 * DAY_MS,
  [TaskKind.Faulted]: 1 * DAY_MS,
  [TaskKind.DestroyDrives]: 7 * DAY_MS,
};

/** Kinds of chain-of-custody records for a physical drive. */
export const CustodyKind = {
  Received: 'received',
  Held: 'held',
  Extra: 'extra',
  Released: 'released',
  TransferStarted: 'transferStarted',
  TransferFinished: 'transferFinished',
  ShippedBack: 'shippedBack',
  Returned: 'returned',
  MarkedForDestruction: 'markedForDestruction',
  Destroyed: 'destroyed',
  ReturnIssue: 'returnIssue',
} as const;
export type CustodyKind = (typeof CustodyKind)[keyof typeof CustodyKind];

export const ReturnIssueKind = { Damaged: 'damaged', Lost: 'lost' } as const;
export type ReturnIssueKind = (typeof ReturnIssueKind)[keyof typeof ReturnIssueKind];

export { WARNING_BEFORE_MS };
