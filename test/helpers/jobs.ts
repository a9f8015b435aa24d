/** Builders for jobs in tests, straight on the store (the API tests build them over HTTP instead). */
import { DriveState, JobState, JobType } from '../../src/domain/states.ts';
import type { Store } from '../../src/store/store.ts';

let counter = 0;

export async function createImportJob(store: Store, opts: { drives?: string[]; subscriptionId?: string; name?: string; resourceGroup?: string } = {}) {
  const drives = opts.drives ?? ['DRIVE1', 'DRIVE2'];
  return store.createJob({
    key: { subscriptionId: opts.subscriptionId ?? 'sub-1', resourceGroup: opts.resourceGroup ?? 'rg', name: opts.name ?? `job${++counter}` },
    location: 'West US',
    jobType: JobType.Import,
    initial: { state: JobState.Creating, reason: { code: 'JobCreated', message: 'created' } },
    fields: { storageAccountId: '/subscriptions/sub-1/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/acct' },
    drives: drives.map((driveId) => ({
      driveId,
      state: DriveState.Specified,
      stateReason: { code: 'DriveSpecified', message: 'listed' },
      bitLockerKey: `key-of-${driveId}`,
      bytesTotal: 1000,
    })),
  });
}

export const shippingFields = {
  deliveryPackage: { carrierName: 'FedEx', trackingNumber: '123', driveCount: 2, shipDate: '2026-01-01' },
  returnAddress: { recipientName: 'Ann', streetAddress1: '1 Main St', city: 'Redmond', postalCode: '98052', countryOrRegion: 'USA', phone: '1', email: 'ann@example.com' },
};
