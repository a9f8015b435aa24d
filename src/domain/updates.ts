/**
 * What a customer may change on a job, and in which states. Azure's docs disagree on cancel; sneakernet accepts
 * it in Creating, Shipping, Received and Transferring (not from Packaging on): drives not yet copying are skipped,
 * a drive already copying finishes, and the job follows the same path to Completed.
 */
import { DomainError } from './errors.ts';
import { JobState } from './states.ts';

export const CANCELLABLE_JOB_STATES: readonly JobState[] = [
  JobState.Creating,
  JobState.Shipping,
  JobState.Received,
  JobState.Transferring,
];

/** Only jobs in these states may be deleted by the customer (ARM: "Creating or Completed"). */
export const DELETABLE_JOB_STATES: readonly JobState[] = [JobState.Creating, JobState.Completed];

/** PUT on an existing name replaces the job only while it is still being created. */
export const REPLACEABLE_JOB_STATES: readonly JobState[] = [JobState.Creating];

const BEFORE_PACKAGING: readonly JobState[] = [JobState.Creating, JobState.Shipping, JobState.Received, JobState.Transferring];
const NOT_FINISHED: readonly JobState[] = [...BEFORE_PACKAGING, JobState.Packaging, JobState.Faulted];

/**
 * PATCHable fields and the states they may change in (classic "Update Job Properties" remarks). The return
 * address stays editable through Packaging so a customer can fix a wrong address that held up the return.
 */
export const PATCHABLE_FIELDS = {
  tags: NOT_FINISHED,
  returnAddress: NOT_FINISHED,
  returnShipping: BEFORE_PACKAGING,
  deliveryPackage: [JobState.Creating, JobState.Shipping],
  logLevel: BEFORE_PACKAGING,
  backupDriveManifest: BEFORE_PACKAGING,
  driveList: [JobState.Creating],
  cancelRequested: CANCELLABLE_JOB_STATES,
  state: [JobState.Creating],
} as const satisfies Record<string, readonly JobState[]>;
export type PatchableField = keyof typeof PATCHABLE_FIELDS;

export function assertFieldUpdatable(field: PatchableField, state: JobState): void {
  const allowed: readonly JobState[] = PATCHABLE_FIELDS[field];
  if (!allowed.includes(state)) {
    const code = field === 'cancelRequested' ? 'CancelNotAllowed' : 'UpdateNotAllowed';
    throw new DomainError(code, `'${field}' cannot be changed while the job is ${state}; allowed in ${allowed.join(', ')}.`, {
      target: `properties.${field}`,
    });
  }
}

export function assertDeletable(state: JobState): void {
  if (!DELETABLE_JOB_STATES.includes(state)) {
    throw new DomainError('DeleteNotAllowed', `A job in state ${state} cannot be deleted; only jobs in ${DELETABLE_JOB_STATES.join(' or ')} can.`);
  }
}

export function assertReplaceable(state: JobState): void {
  if (!REPLACEABLE_JOB_STATES.includes(state)) {
    throw new DomainError('AlreadyExists', `A job with this name exists in state ${state}; it can be replaced only while ${REPLACEABLE_JOB_STATES.join(', ')}.`);
  }
}
