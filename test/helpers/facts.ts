/** Small builders of domain facts for pure tests. */
import { DriveState, JobState, JobType } from '../../src/domain/states.ts';
import type { DriveFacts, JobFacts } from '../../src/domain/transitions.ts';

export const drive = (state: DriveState, driveId = 'D1', hasErrors = false): DriveFacts => ({ driveId, state, hasErrors });

export function job(state: JobState, over: Partial<JobFacts> = {}): JobFacts {
  return {
    state,
    jobType: JobType.Import,
    cancelRequested: false,
    hasDeliveryPackage: true,
    hasReturnAddress: true,
    drives: [drive(DriveState.Specified, 'D1'), drive(DriveState.Specified, 'D2')],
    ...over,
  };
}
