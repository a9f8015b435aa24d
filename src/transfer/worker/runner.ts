/**
 * The transfer worker: N claim loops (`--concurrency`, env SNEAKERNET_WORKER_CONCURRENCY, default 1), each
 * claiming one drive at a time with a lease, renewing it by heartbeat, and copying it (import or export). A worker
 * that dies simply stops renewing; once the lease expires another worker takes the drive over and resumes from its
 * checkpoints. Stopping (SIGTERM) finishes the blobs in flight, checkpoints, and hands the leases back.
 */
import crypto from 'node:crypto';
import os from 'node:os';
import type { App } from '../../app.ts';
import { DomainError } from '../../domain/errors.ts';
import { Actor, JobState, JobType } from '../../domain/states.ts';
import { FAULTABLE_JOB_STATES, JobEvent } from '../../domain/transitions.ts';
import { leaseTakeovers } from '../../observability/metrics.ts';
import { processLogger, withRequestId } from '../../observability/request-context.ts';
import { StorageAccounts, UnknownStorageAccountError } from '../../storage-accounts/registry.ts';
import type { Store } from '../../store/store.ts';
import { driveFolderFor, drivesDir, isDirectory, Phase } from './common.ts';
import { exportDrive } from './export-drive.ts';
import { importDrive } from './import-drive.ts';
import { claimDrive, releaseLease, renewLease, type Claim } from './leases.ts';
import type { DriveTask, TransferOptions } from './task.ts';

export interface WorkerOptions extends Partial<TransferOptions> {
  /** Parallel claim loops (drives copied at once). */
  concurrency?: number;
  leaseMs?: number;
  pollMs?: number;
  /** Root of the drive folders (default SNEAKERNET_DRIVES_DIR or <data dir>/drives). */
  drivesRoot?: string;
  workerId?: string;
  jobTypes?: JobType[];
  /** How long to leave a drive whose folder is not attached before looking again. */
  notAttachedRetryMs?: number;
  onError?: (err: unknown, claim: Claim) => void;
}

const envInt = (name: string): number | undefined => {
  const v = process.env[name];
  return v && /^\d+$/.test(v) ? Number(v) : undefined;
};

export class TransferWorker {
  readonly workerId: string;
  private readonly accounts: StorageAccounts;
  private readonly controller = new AbortController();
  private loops: Promise<void>[] = [];
  private wake: (() => void) | null = null;
  private readonly opts: Required<Pick<WorkerOptions, 'concurrency' | 'leaseMs' | 'pollMs' | 'drivesRoot' | 'notAttachedRetryMs' | 'jobTypes'>> & { transfer: TransferOptions };

  constructor(private readonly store: Store, dataDir: string, private readonly options: WorkerOptions = {}) {
    this.workerId = options.workerId ?? `${os.hostname()}:${process.pid}:${crypto.randomBytes(3).toString('hex')}`;
    this.accounts = new StorageAccounts(store);
    this.opts = {
      concurrency: options.concurrency ?? envInt('SNEAKERNET_WORKER_CONCURRENCY') ?? 1,
      leaseMs: options.leaseMs ?? envInt('SNEAKERNET_LEASE_MS') ?? 30_000,
      pollMs: options.pollMs ?? envInt('SNEAKERNET_WORKER_POLL_MS') ?? 2000,
      drivesRoot: options.drivesRoot ?? drivesDir({ dataDir }),
      notAttachedRetryMs: options.notAttachedRetryMs ?? 30_000,
      jobTypes: options.jobTypes ?? [JobType.Import, JobType.Export],
      transfer: {
        blobConcurrency: options.blobConcurrency ?? envInt('SNEAKERNET_BLOB_CONCURRENCY') ?? 16,
        progressIntervalMs: options.progressIntervalMs ?? 1000,
        blobDelayMs: options.blobDelayMs ?? envInt('SNEAKERNET_WORKER_THROTTLE_MS') ?? 0,
        exportCapacity: options.exportCapacity,
      },
    };
  }

  start(): this {
    for (let i = 0; i < this.opts.concurrency; i++) this.loops.push(this.loop(`${this.workerId}#${i}`));
    return this;
  }

  /** Claims and copies drives until none is left; for tests and one-shot runs. Returns how many were processed. */
  async drain(): Promise<number> {
    let n = 0;
    for (;;) {
      const did = await this.runOnce(`${this.workerId}#0`);
      if (!did) return n;
      n++;
    }
  }

  async stop(): Promise<void> {
    this.controller.abort();
    this.wake?.();
    await Promise.allSettled(this.loops);
  }

  private async loop(owner: string): Promise<void> {
    while (!this.controller.signal.aborted) {
      let did = false;
      try {
        did = await this.runOnce(owner);
      } catch (err) {
        // The claim itself failed (database unavailable...): report and poll again.
        process.stderr.write(JSON.stringify({ level: 'error', msg: 'drive claim failed', error: (err as Error)?.message ?? String(err) }) + '\n');
        did = false;
      }
      if (!did && !this.controller.signal.aborted) {
        await new Promise<void>((r) => {
          const t = setTimeout(r, this.opts.pollMs);
          this.wake = () => { clearTimeout(t); r(); };
        });
      }
    }
  }

  /** One claim and copy. Returns false when there was nothing to claim. */
  async runOnce(owner = `${this.workerId}#0`): Promise<boolean> {
    const claim = await claimDrive(this.store.db, owner, this.opts.leaseMs, this.opts.jobTypes);
    if (!claim) return false;
    if (claim.takeover) leaseTakeovers.inc();
    const driveAbort = new AbortController();
    const onStop = () => driveAbort.abort();
    this.controller.signal.addEventListener('abort', onStop);
    const beat = setInterval(() => {
      renewLease(this.store.db, claim, owner, this.opts.leaseMs).then((held) => { if (!held) driveAbort.abort(); }, () => {});
    }, Math.max(200, Math.floor(this.opts.leaseMs / 3)));
    let retryAfter = 0;
    // The copy (and the events it writes) continues under the request id of the job's latest request.
    const reqId = await jobRequestId(this.store, claim.jobId).catch(() => null);
    const log = processLogger().child({ jobId: claim.jobId, driveId: claim.driveId, worker: owner, ...(reqId ? { reqId } : {}) });
    log.info({ takeover: claim.takeover }, 'drive claimed');
    try {
      retryAfter = await withRequestId(reqId, () => this.process(claim, owner, driveAbort.signal));
      log.info({ retryAfterMs: retryAfter, stopped: driveAbort.signal.aborted }, 'drive released');
    } catch (err) {
      log.warn({ error: (err as Error)?.message ?? String(err) }, 'drive copy attempt failed');
      this.options.onError?.(err, claim);
      retryAfter = Math.min(this.opts.leaseMs, 10_000);
    } finally {
      clearInterval(beat);
      this.controller.signal.removeEventListener('abort', onStop);
      await releaseLease(this.store.db, claim, owner, retryAfter).catch(() => {});
    }
    return true;
  }

  /** Returns how long the drive should rest before being claimed again (0: no wait). */
  private async process(claim: Claim, owner: string, signal: AbortSignal): Promise<number> {
    const job = await this.store.getJobById(claim.jobId);
    const drive = (await this.store.getDrives(claim.jobId)).find((d) => d.driveId === claim.driveId);
    if (!job || !drive) return 0;
    let backend;
    try {
      backend = await this.accounts.backendFor(job.storageAccountId);
    } catch (err) {
      if (!(err instanceof UnknownStorageAccountError)) throw err;
      await this.faultJob(job.id, err.message);
      return 0;
    }
    const folder = driveFolderFor(this.opts.drivesRoot, drive.driveId);
    if (!(await isDirectory(folder))) {
      if (drive.phase !== Phase.WaitingForDrive) {
        await this.store.changeJob(job.id, { actor: Actor.System, actorId: owner }, (w) => {
          w.updateDrive(drive.driveId, { phase: Phase.WaitingForDrive });
          w.note('transferWaiting', 'DriveNotAttached', `Drive ${drive.driveId} is waiting to be attached at ${folder}.`, undefined, drive.driveId);
        });
      }
      return this.opts.notAttachedRetryMs;
    }
    const task: DriveTask = { store: this.store, accounts: this.accounts, claim, workerId: owner, signal, options: this.opts.transfer };
    if (job.jobType === JobType.Export) await exportDrive(task, job, drive, backend, folder);
    else await importDrive(task, job, drive, backend, folder);
    return 0;
  }

  private async faultJob(jobId: number, reason: string): Promise<void> {
    await this.store.changeJob(jobId, { actor: Actor.System, actorId: this.workerId }, (w) => {
      if (!FAULTABLE_JOB_STATES.includes(w.job.state) || w.job.state === JobState.Faulted) return;
      w.applyJobEvent(JobEvent.Fault, { reasonCode: 'StorageAccountUnknown', message: reason });
    }).catch((e) => {
      if (!(e instanceof DomainError)) throw e;
    });
  }
}

/** The request id of the job's latest event that has one (the request that last moved it), for log correlation. */
async function jobRequestId(store: Store, jobId: number): Promise<string | null> {
  const row = await store.db.selectFrom('job_events').select('request_id').where('job_id', '=', jobId)
    .where('request_id', 'is not', null).orderBy('id', 'desc').limit(1).executeTakeFirst();
  return row?.request_id ?? null;
}

/** Background starter for `serve` and `worker`. */
export async function startTransferWorkers(app: App): Promise<() => Promise<void>> {
  const worker = new TransferWorker(app.store, app.config.dataDir, {
    // One JSON line per failed drive attempt (the drive is retried after a short rest); never secrets.
    onError: (err, claim) => process.stderr.write(JSON.stringify({
      level: 'error', msg: 'drive copy attempt failed', jobId: claim.jobId, driveId: claim.driveId, error: (err as Error)?.message ?? String(err),
    }) + '\n'),
  }).start();
  return () => worker.stop();
}
