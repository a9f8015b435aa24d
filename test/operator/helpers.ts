/** Builders for operator tests: jobs shipped by the customer, through the store's unit of work. */
import { Actor, DriveState } from '../../src/domain/states.ts';
import { JobEvent } from '../../src/domain/transitions.ts';
import type { Store } from '../../src/store/store.ts';
import { createImportJob, shippingFields } from '../helpers/jobs.ts';

let n = 0;
export const uniqueDrives = (count: number, prefix = 'D') => {
  n++;
  return Array.from({ length: count }, (_, i) => `${prefix}${n}X${i + 1}`);
};

/** An import job in Shipping, with its own tracking number. */
export async function shippedJob(store: Store, drives: string[], tracking = `TRK-${drives[0]}`) {
  const { job } = await createImportJob(store, { drives });
  const r = await store.changeJob(job.id, { actor: Actor.Customer }, (w) => {
    w.set({ ...shippingFields, deliveryPackage: { ...shippingFields.deliveryPackage, trackingNumber: tracking } });
    w.applyJobEvent(JobEvent.ProvideShippingInfo);
  });
  return { job: r.job, tracking };
}

export async function driveStates(store: Store, jobId: number): Promise<Record<string, DriveState>> {
  return Object.fromEntries((await store.getDrives(jobId)).map((d) => [d.driveId, d.state]));
}

export const call = (store: Store) => ({ store, by: 'op-token-1' });
