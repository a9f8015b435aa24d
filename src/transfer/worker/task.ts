/** What a drive copy gets from the worker that claimed the drive. */
import type { Store } from '../../store/store.ts';
import type { StorageAccounts } from '../../storage-accounts/registry.ts';
import type { Claim } from './leases.ts';

export interface TransferOptions {
  /** Blobs copied in parallel within one drive (default 16). */
  blobConcurrency: number;
  /** Drive progress is written at most this often (default 1000 ms). */
  progressIntervalMs: number;
  /** Pause after each blob (throttling; tests use it to make a copy long enough to kill). */
  blobDelayMs: number;
  /** Export: capacity of a drive folder in bytes (default: the free space of its filesystem). */
  exportCapacity?: (driveId: string, folder: string) => Promise<number>;
}

export interface DriveTask {
  store: Store;
  accounts: StorageAccounts;
  claim: Claim;
  workerId: string;
  /** Aborted when the worker stops or loses the lease: stop between blobs, the next worker resumes. */
  signal: AbortSignal;
  options: TransferOptions;
}
