/** Moves a job forward the way the data center would (operator and system events through the domain tables). */
import { Actor, DriveState, JobState } from '../../src/domain/states.ts';
import { DriveEvent, JobEvent } from '../../src/domain/transitions.ts';
import type { Store } from '../../src/store/store.ts';
import { DELIVERY, RETURN_ADDRESS } from './helpers.ts';

const ORDER: JobState[] = [JobState.Creating, JobState.Shipping, JobState.Received, JobState.Transferring, JobState.Packaging, JobState.Completed];

export async function advanceJob(store: Store, jobId: number, target: JobState): Promise<void> {
  for (;;) {
    const job = (await store.getJobById(jobId))!;
    if (job.state === target) return;
    const next = ORDER[ORDER.indexOf(job.state) + 1];
    if (!next) throw new Error(`cannot advance from ${job.state}`);
    switch (next) {
      case JobState.Shipping:
        await store.changeJob(jobId, { actor: Actor.Customer }, (w) => {
          w.set({ deliveryPackage: DELIVERY, returnAddress: RETURN_ADDRESS });
          w.applyJobEvent(JobEvent.ProvideShippingInfo);
        });
        break;
      case JobState.Received:
        await store.changeJob(jobId, { actor: Actor.Operator }, (w) => {
          for (const d of w.drives) w.applyDriveEvent(d.driveId, DriveEvent.Receive);
          w.followDrives();
        });
        break;
      case JobState.Transferring:
        await store.changeJob(jobId, { actor: Actor.System }, (w) => {
          w.updateDrive(w.drives[0].driveId, { bytesTotal: 1000 });
          w.applyDriveEvent(w.drives[0].driveId, DriveEvent.StartCopy);
          w.followDrives();
        });
        break;
      case JobState.Packaging:
        await store.changeJob(jobId, { actor: Actor.System }, (w) => {
          for (const d of w.drives) {
            if (d.state === DriveState.Received) w.applyDriveEvent(d.driveId, DriveEvent.StartCopy);
            w.applyDriveEvent(d.driveId, DriveEvent.FinishCopy, { copyHasIssues: false });
          }
          w.followDrives();
        });
        break;
      case JobState.Completed:
        await store.changeJob(jobId, { actor: Actor.Operator }, (w) => {
          for (const d of w.drives) w.applyDriveEvent(d.driveId, DriveEvent.ShipBack);
          w.applyJobEvent(JobEvent.ShipBack);
        });
        break;
      default:
        throw new Error(`no step to ${next}`);
    }
  }
}
