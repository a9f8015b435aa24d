/**
 * The job and drive lifecycles as data. The API, the operator routes, the timers, the workers and the console's
 * diagrams all read these tables; nothing else decides whether a state may change.
 *
 * A rule says: on `event`, from any state in `from`, an `actors` member may move the entity to `to` when `guard`
 * holds. Several rules may share an event (e.g. shipping back ends in Completed or Closed); the first rule whose
 * guard holds wins, unless the caller names the target (operators unfaulting choose where the job goes).
 */
import { Actor, DriveState, JobState, JobType, JOB_STATES, DRIVE_STATES, FINISHED_DRIVE_STATES } from './states.ts';
import type { StateReason } from './reasons.ts';

export interface Guard<C> {
  name: string;
  description: string;
  test: (ctx: C) => boolean;
}

export interface TransitionRule<S extends string, E extends string, C> {
  event: E;
  from: readonly S[];
  to: S;
  actors: readonly Actor[];
  guard?: Guard<C>;
  reason: StateReason;
}

/** What the job guards may look at: facts, not rows. */
export interface DriveFacts {
  driveId: string;
  state: DriveState;
  /** The copy reported errors (not mere warnings or overwrite notices). */
  hasErrors?: boolean;
  /** A drive no job listed that came in this job's package: never processed, returned with the job. */
  isExtra?: boolean;
}
export interface JobFacts {
  state: JobState;
  jobType: JobType;
  cancelRequested: boolean;
  hasDeliveryPackage: boolean;
  hasReturnAddress: boolean;
  drives: readonly DriveFacts[];
}
export interface DriveContext {
  drive: DriveFacts;
  /** The state of the drive's job: drives are processed only for jobs that expect them. */
  jobState: JobState;
  /** Set by the copy when it finishes: any blob failed, warned, or overwrote. */
  copyHasIssues?: boolean;
  jobCancelled: boolean;
}

const ALL_OPERATORS = [Actor.Operator, Actor.System] as const;

// ---------- job guards ----------
const driveIsIn = (d: DriveFacts, states: readonly DriveState[]) => states.includes(d.state);
/** Drives the data center is expected to hold: everything except the ones that never arrived. */
const presentDrives = (j: JobFacts) => j.drives.filter((d) => d.state !== DriveState.NeverReceived);

export const jobGuards = {
  hasShippingInfo: {
    name: 'hasShippingInfo',
    description: 'deliveryPackage and returnAddress are set',
    test: (j) => j.hasDeliveryPackage && j.hasReturnAddress,
  },
  allDrivesReceived: {
    name: 'allDrivesReceived',
    description: 'every listed drive is received',
    test: (j) => j.drives.length > 0 && j.drives.every((d) => d.state !== DriveState.Specified && d.state !== DriveState.NeverReceived),
  },
  someDrivesReceived: {
    name: 'someDrivesReceived',
    description: 'at least one drive is received and the rest never arrived',
    test: (j) =>
      presentDrives(j).length > 0 && j.drives.every((d) => d.state !== DriveState.Specified),
  },
  firstDriveStarted: {
    name: 'firstDriveStarted',
    description: 'a drive has started transferring',
    test: (j) => j.drives.some((d) => d.state === DriveState.Transferring || driveIsIn(d, FINISHED_DRIVE_STATES)),
  },
  cancelledBeforeCopy: {
    name: 'cancelledBeforeCopy',
    description: 'cancel was requested before any drive started copying',
    test: (j) => j.cancelRequested && !j.drives.some((d) => d.state === DriveState.Transferring),
  },
  allDrivesFinished: {
    name: 'allDrivesFinished',
    description: 'every received drive has finished (or was skipped because the job was cancelled)',
    test: (j) =>
      presentDrives(j).length > 0 &&
      presentDrives(j).every(
        (d) => driveIsIn(d, FINISHED_DRIVE_STATES) || (j.cancelRequested && d.state === DriveState.Received),
      ),
  },
  noErrors: {
    name: 'noErrors',
    description: 'no drive had errors and none went missing',
    test: (j) => !j.drives.some((d) => d.hasErrors || d.state === DriveState.NeverReceived),
  },
  hasErrors: {
    name: 'hasErrors',
    description: 'a drive had errors or never arrived',
    test: (j) => j.drives.some((d) => d.hasErrors || d.state === DriveState.NeverReceived),
  },
} satisfies Record<string, Guard<JobFacts>>;

export const JobEvent = {
  ProvideShippingInfo: 'provideShippingInfo',
  ReceiveAllDrives: 'receiveAllDrives',
  AcceptPartialDelivery: 'acceptPartialDelivery',
  StartTransfer: 'startTransfer',
  SkipCopy: 'skipCopy',
  FinishTransfer: 'finishTransfer',
  ShipBack: 'shipBack',
  CloseUndelivered: 'closeUndelivered',
  Fault: 'fault',
  Unfault: 'unfault',
} as const;
export type JobEvent = (typeof JobEvent)[keyof typeof JobEvent];

/** States a job may be faulted from: every state that is neither terminal nor already faulted. */
export const FAULTABLE_JOB_STATES: readonly JobState[] = [
  JobState.Creating,
  JobState.Shipping,
  JobState.Received,
  JobState.Transferring,
  JobState.Packaging,
];
/** Where an operator may send a faulted job once the problem is solved. */
export const UNFAULT_JOB_TARGETS: readonly JobState[] = [
  JobState.Shipping,
  JobState.Received,
  JobState.Transferring,
  JobState.Packaging,
  JobState.Closed,
];

export const JOB_TRANSITIONS: readonly TransitionRule<JobState, JobEvent, JobFacts>[] = [
  {
    event: JobEvent.ProvideShippingInfo, from: [JobState.Creating], to: JobState.Shipping,
    actors: [Actor.Customer], guard: jobGuards.hasShippingInfo,
    reason: { code: 'ShippingInfoProvided', message: 'The customer shipped the drives and gave the tracking number.' },
  },
  {
    event: JobEvent.ReceiveAllDrives, from: [JobState.Shipping], to: JobState.Received,
    actors: ALL_OPERATORS, guard: jobGuards.allDrivesReceived,
    reason: { code: 'AllDrivesReceived', message: 'Every drive of the job arrived at the data center.' },
  },
  {
    event: JobEvent.AcceptPartialDelivery, from: [JobState.Shipping], to: JobState.Received,
    actors: [Actor.Operator], guard: jobGuards.someDrivesReceived,
    reason: { code: 'PartialDeliveryAccepted', message: 'The job goes on with the drives that arrived; the others never did.' },
  },
  {
    event: JobEvent.StartTransfer, from: [JobState.Received], to: JobState.Transferring,
    actors: [Actor.System], guard: jobGuards.firstDriveStarted,
    reason: { code: 'TransferStarted', message: 'The first drive started copying.' },
  },
  {
    event: JobEvent.SkipCopy, from: [JobState.Received, JobState.Transferring], to: JobState.Packaging,
    actors: ALL_OPERATORS, guard: jobGuards.cancelledBeforeCopy,
    reason: { code: 'CancelledCopySkipped', message: 'The job was cancelled: the copy is skipped and the drives are packed for return.' },
  },
  {
    event: JobEvent.FinishTransfer, from: [JobState.Transferring], to: JobState.Packaging,
    actors: [Actor.System], guard: jobGuards.allDrivesFinished,
    reason: { code: 'TransferFinished', message: 'Every drive finished copying; the drives are being packed for return.' },
  },
  {
    event: JobEvent.ShipBack, from: [JobState.Packaging], to: JobState.Completed,
    actors: [Actor.Operator], guard: jobGuards.noErrors,
    reason: { code: 'ShippedBack', message: 'The drives were shipped back; the job finished without errors.' },
  },
  {
    event: JobEvent.ShipBack, from: [JobState.Packaging], to: JobState.Closed,
    actors: [Actor.Operator], guard: jobGuards.hasErrors,
    reason: { code: 'ShippedBackWithErrors', message: 'The drives were shipped back; the job had errors, see the drive logs.' },
  },
  {
    event: JobEvent.CloseUndelivered, from: [JobState.Shipping], to: JobState.Closed,
    actors: ALL_OPERATORS,
    reason: { code: 'PackageNeverArrived', message: 'The package never arrived and the customer did not answer.' },
  },
  {
    event: JobEvent.Fault, from: FAULTABLE_JOB_STATES, to: JobState.Faulted,
    actors: ALL_OPERATORS,
    reason: { code: 'Faulted', message: 'The job stopped progressing; operators are on it.' },
  },
  ...UNFAULT_JOB_TARGETS.map((to) => ({
    event: JobEvent.Unfault, from: [JobState.Faulted], to, actors: [Actor.Operator],
    reason: { code: 'FaultResolved', message: `The fault was resolved; the job continues in ${to}.` },
  })),
];

// ---------- drive guards ----------
/** Job states in which an arriving drive of the job is taken in (otherwise it is held and the customer contacted). */
export const JOB_STATES_ACCEPTING_DRIVES: readonly JobState[] = [JobState.Shipping];
/** A drive that never arrived may still turn up while the job is in one of these states. */
export const JOB_STATES_ACCEPTING_LATE_DRIVES: readonly JobState[] = [JobState.Shipping, JobState.Received, JobState.Transferring];

export const driveGuards = {
  jobExpectsDrives: {
    name: 'jobExpectsDrives', description: 'the job is in Shipping (drives of other jobs are held, not processed)',
    test: (c) => JOB_STATES_ACCEPTING_DRIVES.includes(c.jobState),
  },
  jobStillOpen: {
    name: 'jobStillOpen', description: 'the job has not started packing its drives for return',
    test: (c) => JOB_STATES_ACCEPTING_LATE_DRIVES.includes(c.jobState),
  },
  copyAllowed: {
    name: 'copyAllowed', description: 'the job is not cancelled and the drive is part of it (extra drives are never processed)',
    test: (c) => !c.jobCancelled && c.drive.isExtra !== true,
  },

  jobCancelled: {
    name: 'jobCancelled', description: 'the job was cancelled, so the copy is skipped', test: (c) => c.jobCancelled,
  },
  extraDrive: {
    name: 'extraDrive', description: 'the drive is an extra drive that came in the job\'s package', test: (c) => c.drive.isExtra === true,
  },
  copyClean: {
    name: 'copyClean', description: 'the copy had no errors, warnings or overwrites', test: (c) => c.copyHasIssues === false,
  },
  copyHasIssues: {
    name: 'copyHasIssues', description: 'the copy had errors, warnings or overwrite notices', test: (c) => c.copyHasIssues === true,
  },
} satisfies Record<string, Guard<DriveContext>>;

export const DriveEvent = {
  Receive: 'receive',
  MarkNeverReceived: 'markNeverReceived',
  StartCopy: 'startCopy',
  FinishCopy: 'finishCopy',
  ShipBack: 'shipBack',
  Fault: 'fault',
  Unfault: 'unfault',
} as const;
export type DriveEvent = (typeof DriveEvent)[keyof typeof DriveEvent];

export const FAULTABLE_DRIVE_STATES: readonly DriveState[] = [
  DriveState.Specified,
  DriveState.Received,
  DriveState.NeverReceived,
  DriveState.Transferring,
  DriveState.Completed,
  DriveState.CompletedMoreInfo,
];
export const UNFAULT_DRIVE_TARGETS: readonly DriveState[] = [
  DriveState.Received,
  DriveState.NeverReceived,
  DriveState.CompletedMoreInfo,
];

export const DRIVE_TRANSITIONS: readonly TransitionRule<DriveState, DriveEvent, DriveContext>[] = [
  {
    event: DriveEvent.Receive, from: [DriveState.Specified], to: DriveState.Received, actors: ALL_OPERATORS,
    guard: driveGuards.jobExpectsDrives,
    reason: { code: 'DriveReceived', message: 'The drive arrived at the data center.' },
  },
  {
    event: DriveEvent.Receive, from: [DriveState.NeverReceived], to: DriveState.Received, actors: [Actor.Operator],
    guard: driveGuards.jobStillOpen,
    reason: { code: 'DriveArrivedLate', message: 'The drive, missing from the first package, arrived in a later one.' },
  },
  {
    event: DriveEvent.MarkNeverReceived, from: [DriveState.Specified], to: DriveState.NeverReceived, actors: ALL_OPERATORS,
    reason: { code: 'DriveNeverReceived', message: 'The package arrived without this drive, or never arrived.' },
  },
  {
    event: DriveEvent.StartCopy, from: [DriveState.Received], to: DriveState.Transferring, actors: [Actor.System],
    guard: driveGuards.copyAllowed,
    reason: { code: 'CopyStarted', message: 'The data copy started.' },
  },
  {
    event: DriveEvent.FinishCopy, from: [DriveState.Transferring], to: DriveState.Completed, actors: [Actor.System],
    guard: driveGuards.copyClean,
    reason: { code: 'CopyCompleted', message: 'All data was copied without errors.' },
  },
  {
    event: DriveEvent.FinishCopy, from: [DriveState.Transferring], to: DriveState.CompletedMoreInfo, actors: [Actor.System],
    guard: driveGuards.copyHasIssues,
    reason: { code: 'CopyCompletedMoreInfo', message: 'The copy finished with errors, warnings or overwrite notices; see the logs.' },
  },
  {
    event: DriveEvent.ShipBack, from: [DriveState.Completed, DriveState.CompletedMoreInfo], to: DriveState.ShippedBack,
    actors: [Actor.Operator],
    reason: { code: 'DriveShippedBack', message: 'The drive was shipped back to the return address.' },
  },
  {
    event: DriveEvent.ShipBack, from: [DriveState.Received], to: DriveState.ShippedBack, actors: [Actor.Operator],
    guard: driveGuards.jobCancelled,
    reason: { code: 'DriveShippedBackUncopied', message: 'The job was cancelled; the drive was shipped back without copying.' },
  },
  {
    event: DriveEvent.ShipBack, from: [DriveState.Received], to: DriveState.ShippedBack, actors: [Actor.Operator],
    guard: driveGuards.extraDrive,
    reason: { code: 'ExtraDriveShippedBack', message: 'The extra drive, not part of the job, was returned with the job without processing.' },
  },
  {
    event: DriveEvent.Fault, from: FAULTABLE_DRIVE_STATES, to: DriveState.Faulted, actors: ALL_OPERATORS,
    reason: { code: 'DriveFaulted', message: 'The drive stopped progressing; operators are on it.' },
  },
  ...UNFAULT_DRIVE_TARGETS.map((to) => ({
    event: DriveEvent.Unfault, from: [DriveState.Faulted], to, actors: [Actor.Operator],
    reason: { code: 'DriveFaultResolved', message: `The fault was resolved; the drive continues in ${to}.` },
  })),
];

/** Import drives are listed by the customer before shipping; export drives come into being when they arrive. */
export function initialDriveState(jobType: JobType): DriveState {
  return jobType === JobType.Export ? DriveState.Received : DriveState.Specified;
}

export const JOB_EVENTS: readonly JobEvent[] = Object.values(JobEvent);
export const DRIVE_EVENTS: readonly DriveEvent[] = Object.values(DriveEvent);
export { JOB_STATES, DRIVE_STATES };
