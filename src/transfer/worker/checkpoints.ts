/**
 * Group commit for copy checkpoints: instead of one database round trip per blob, checkpoints are written in
 * batches, one statement each.
 *
 * - `putNow` is for records that must be durable before the caller goes on (the "writing" intent that fixes a
 *   blob's target name before anything appears under it): it resolves once its batch is committed. Concurrent
 *   callers share a batch; a new batch starts as soon as the previous one is done.
 * - `putLater` is for outcomes (ok, failed, skipped): they are committed at most `maxDelayMs` later or once
 *   `maxRows` are waiting, always after `beforeDurable()` (the blob store's sync), so a checkpoint never claims a
 *   blob the store could still lose. A crash before that only means the blobs of the last batch are copied again
 *   (to the same target, from their durable intent); a finished blob is never trusted without its record.
 *
 * The lease is checked by every batch; once it is lost every later call throws `LeaseLost`.
 */
import type { Kysely } from 'kysely';
import type { Schema } from '../../store/schema.ts';
import { putCheckpoints, type Claim } from './leases.ts';

export class LeaseLost extends Error {
  constructor() {
    super('The drive lease was lost to another worker.');
  }
}

interface Row { key: string; status: string; detail: unknown }

export interface BatcherOptions {
  maxRows?: number;
  maxDelayMs?: number;
  /** Runs before a batch of outcomes is committed (e.g. the backend's deferred sync). */
  beforeDurable?: () => Promise<void>;
}

export class CheckpointBatcher {
  private now: { rows: Row[]; waiters: { resolve: () => void; reject: (e: unknown) => void }[] } = { rows: [], waiters: [] };
  private nowRunning: Promise<void> | null = null;
  private later: Row[] = [];
  private laterChain: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | null = null;
  private failure: unknown = null;
  private readonly maxRows: number;
  private readonly maxDelayMs: number;

  constructor(
    private readonly db: Kysely<Schema>,
    private readonly claim: Pick<Claim, 'jobId' | 'driveId'>,
    private readonly owner: string,
    private readonly options: BatcherOptions = {},
  ) {
    this.maxRows = options.maxRows ?? 256;
    this.maxDelayMs = options.maxDelayMs ?? 100;
  }

  private check(): void {
    if (this.failure) throw this.failure;
  }

  private async write(rows: Row[]): Promise<void> {
    if (rows.length === 0) return;
    if (!(await putCheckpoints(this.db, this.claim, this.owner, rows))) throw new LeaseLost();
  }

  /** Resolves once the record is committed. */
  putNow(key: string, status: string, detail: unknown): Promise<void> {
    return this.putManyNow([{ key, status, detail }]);
  }

  /** Resolves once every record is committed (in one batch, with any others waiting). */
  putManyNow(rows: Row[]): Promise<void> {
    this.check();
    if (rows.length === 0) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      this.now.rows.push(...rows);
      this.now.waiters.push({ resolve, reject });
      if (!this.nowRunning) this.nowRunning = this.runNow();
    });
  }

  private async runNow(): Promise<void> {
    while (this.now.rows.length > 0) {
      const batch = this.now;
      this.now = { rows: [], waiters: [] };
      try {
        await this.write(batch.rows);
        for (const w of batch.waiters) w.resolve();
      } catch (err) {
        this.failure ??= err;
        for (const w of batch.waiters) w.reject(err);
      }
    }
    this.nowRunning = null;
  }

  /** Queues an outcome; waits only when a full batch is being committed (bounded memory). */
  async putLater(key: string, status: string, detail: unknown): Promise<void> {
    this.check();
    this.later.push({ key, status, detail });
    if (this.later.length >= this.maxRows) await this.flushLater();
    else this.timer ??= setTimeout(() => { void this.flushLater().catch(() => {}); }, this.maxDelayMs);
    this.check();
  }

  /** Commits the queued outcomes (after `beforeDurable`). */
  flushLater(): Promise<void> {
    if (this.timer) { clearTimeout(this.timer); this.timer = null; }
    const rows = this.later;
    this.later = [];
    this.laterChain = this.laterChain.then(async () => {
      if (this.failure) throw this.failure;
      if (rows.length === 0) return;
      await this.options.beforeDurable?.();
      await this.write(rows);
    }).catch((err) => {
      this.failure ??= err;
      throw err;
    });
    return this.laterChain;
  }

  /** Commits everything queued; throws the first failure of any batch. */
  async close(): Promise<void> {
    await this.nowRunning;
    await this.flushLater();
    this.check();
  }

  /** Stops the timer without committing (the drive copy is being abandoned). */
  dispose(): void {
    if (this.timer) { clearTimeout(this.timer); this.timer = null; }
  }
}
