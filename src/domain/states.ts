/**
 * The one place state names are spelled. Everything else refers to JobState.X / DriveState.X.
 */
export const JobState = {
  Creating: 'Creating',
  Shipping: 'Shipping',
  Received: 'Received',
  Transferring: 'Transferring',
  Packaging: 'Packaging',
  Completed: 'Completed',
  Closed: 'Closed',
  Faulted: 'Faulted',
} as const;
export type JobState = (typeof JobState)[keyof typeof JobState];
export const JOB_STATES: readonly JobState[] = Object.values(JobState);

export const DriveState = {
  Specified: 'Specified',
  Received: 'Received',
  NeverReceived: 'NeverReceived',
  Transferring: 'Transferring',
  Completed: 'Completed',
  CompletedMoreInfo: 'CompletedMoreInfo',
  ShippedBack: 'ShippedBack',
  Faulted: 'Faulted',
} as const;
export type DriveState = (typeof DriveState)[keyof typeof DriveState];
export const DRIVE_STATES: readonly DriveState[] = Object.values(DriveState);

export const JobType = { Import: 'Import', Export: 'Export' } as const;
export type JobType = (typeof JobType)[keyof typeof JobType];
export const JOB_TYPES: readonly JobType[] = Object.values(JobType);

export const LogLevel = { Error: 'Error', Verbose: 'Verbose' } as const;
export type LogLevel = (typeof LogLevel)[keyof typeof LogLevel];

/** Who caused a change. Customers use the ARM API, operators the data-center API, the system runs timers and copies. */
export const Actor = { Customer: 'customer', Operator: 'operator', System: 'system' } as const;
export type Actor = (typeof Actor)[keyof typeof Actor];

/** Terminal job states: nothing but deletion happens after them. */
export const TERMINAL_JOB_STATES: readonly JobState[] = [JobState.Completed, JobState.Closed];
/** Drive states after which a drive needs no more work in the data center except shipping it back. */
export const FINISHED_DRIVE_STATES: readonly DriveState[] = [DriveState.Completed, DriveState.CompletedMoreInfo];
export const TERMINAL_DRIVE_STATES: readonly DriveState[] = [DriveState.ShippedBack];

export const isJobState = (s: unknown): s is JobState => typeof s === 'string' && (JOB_STATES as string[]).includes(s);
export const isDriveState = (s: unknown): s is DriveState =>
  typeof s === 'string' && (DRIVE_STATES as string[]).includes(s);
