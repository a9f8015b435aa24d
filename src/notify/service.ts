/** Background delivery: fans the outbox out after every commit (LISTEN) and every few seconds, and runs the pg-boss delivery workers. */
import type PgBoss from 'pg-boss';
import type { Store } from '../store/store.ts';
import { outboxChannel } from '../operator/common.ts';
import { DEAD_LETTER_QUEUE, EMAIL_QUEUE, Notifier, WEBHOOK_QUEUE, type NotifierOptions } from './dispatcher.ts';

export interface NotifyServiceOptions extends NotifierOptions {
  /** Poll the outbox this often as well as on NOTIFY (default 2000 ms). */
  pollMs?: number;
  /** Parallel webhook workers in this process (default 4). */
  workers?: number;
  /** pg-boss polling interval for delivery jobs (default 1 s). */
  pollingIntervalSeconds?: number;
  /** Delivery jobs a worker takes per fetch and runs at once (default 10). */
  batchSize?: number;
  /**
   * Fetch again at once after a full batch, and wake the workers right after a fan-out enqueued deliveries
   * (default true). Off, a worker waits out its polling interval after every batch: with batchSize 1, one delivery
   * per second per worker (the old behaviour; bench/webhooks measures both).
   */
  drain?: boolean;
}

export class NotifyService {
  readonly notifier: Notifier;
  private timer: NodeJS.Timeout | null = null;
  private unlisten: Array<() => Promise<void>> = [];
  private fanning: Promise<void> | null = null;
  private again = false;
  private stopped = false;
  private webhookWorkers: string[] = [];
  private emailWorkers: string[] = [];

  constructor(readonly store: Store, readonly boss: PgBoss, readonly opts: NotifyServiceOptions = {}) {
    this.notifier = new Notifier(store, boss, opts);
  }

  async start(): Promise<void> {
    await this.notifier.createQueues();
    const polling = { pollingIntervalSeconds: this.opts.pollingIntervalSeconds ?? 1, batchSize: Math.max(1, Math.floor(this.opts.batchSize ?? 10)) };
    for (let i = 0; i < (this.opts.workers ?? 4); i++) {
      this.webhookWorkers.push(await this.work(WEBHOOK_QUEUE, polling, (id) => this.notifier.deliverWebhook(id)));
    }
    this.emailWorkers.push(await this.work(EMAIL_QUEUE, polling, (id) => this.notifier.deliverEmail(id)));
    await this.work(DEAD_LETTER_QUEUE, polling, (id) => this.notifier.markDead(id));
    const db = this.store.database;
    this.unlisten.push(await db.listen(db.eventsChannel, () => this.kick()));
    this.unlisten.push(await db.listen(outboxChannel(this.store), () => this.kick()));
    this.timer = setInterval(() => this.kick(), this.opts.pollMs ?? 2000);
    await this.fanOutNow();
  }

  /** Fans out everything pending now (also what a crashed process left behind). */
  async fanOutNow(): Promise<void> {
    this.wake(await this.notifier.fanOut());
  }

  /**
   * A pg-boss worker over batches of delivery jobs, run at once. pg-boss completes every job of a batch whose
   * handler resolves (its complete touches only jobs still active) and fails them all if it throws; so each failed
   * delivery is failed on its own first (retry with backoff, dead letter after the limit) and the handler resolves
   * for the rest. If failing one is impossible (database gone), the handler throws: the whole batch is retried, and
   * deliveries already made are not made again (deliverWebhook sends only a delivery still pending).
   */
  private async work(queue: string, options: { pollingIntervalSeconds: number; batchSize: number }, deliver: (deliveryId: number) => Promise<void>): Promise<string> {
    const drain = this.opts.drain ?? true;
    let id = '';
    id = await this.boss.work<{ deliveryId: number }>(queue, options, async (jobs) => {
      const results = await Promise.allSettled(jobs.map((job) => deliver(job.data.deliveryId)));
      const failures = results.flatMap((r, i) => (r.status === 'rejected' ? [{ job: jobs[i], error: r.reason as unknown }] : []));
      for (const { job, error } of failures) await this.boss.fail(queue, job.id, error as object);
      // A full batch: more may be waiting, fetch again now instead of after the polling interval.
      if (drain && !this.stopped && jobs.length >= options.batchSize) this.boss.notifyWorker(id);
    });
    return id;
  }

  /** New delivery jobs: wake the idle workers instead of leaving them to their next poll. */
  private wake(fannedOut: number): void {
    if (!(this.opts.drain ?? true) || fannedOut === 0 || this.stopped) return;
    for (const id of [...this.webhookWorkers, ...this.emailWorkers]) this.boss.notifyWorker(id);
  }

  kick(): void {
    if (this.stopped) return;
    if (this.fanning) {
      this.again = true;
      return;
    }
    this.fanning = this.notifier.fanOut().then((n) => this.wake(n), () => undefined).finally(() => {
      this.fanning = null;
      if (this.again) {
        this.again = false;
        this.kick();
      }
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    for (const u of this.unlisten) await u().catch(() => {});
    await this.fanning;
    for (const q of [WEBHOOK_QUEUE, EMAIL_QUEUE, DEAD_LETTER_QUEUE]) await this.boss.offWork(q).catch(() => {});
    await this.notifier.close();
  }
}
