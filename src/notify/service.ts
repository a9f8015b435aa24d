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
}

export class NotifyService {
  readonly notifier: Notifier;
  private timer: NodeJS.Timeout | null = null;
  private unlisten: Array<() => Promise<void>> = [];
  private fanning: Promise<void> | null = null;
  private again = false;
  private stopped = false;

  constructor(readonly store: Store, readonly boss: PgBoss, readonly opts: NotifyServiceOptions = {}) {
    this.notifier = new Notifier(store, boss, opts);
  }

  async start(): Promise<void> {
    await this.notifier.createQueues();
    const polling = { pollingIntervalSeconds: this.opts.pollingIntervalSeconds ?? 1 };
    for (let i = 0; i < (this.opts.workers ?? 4); i++) {
      await this.boss.work<{ deliveryId: number }>(WEBHOOK_QUEUE, polling, async ([job]) => this.notifier.deliverWebhook(job.data.deliveryId));
    }
    await this.boss.work<{ deliveryId: number }>(EMAIL_QUEUE, polling, async ([job]) => this.notifier.deliverEmail(job.data.deliveryId));
    await this.boss.work<{ deliveryId: number }>(DEAD_LETTER_QUEUE, polling, async ([job]) => this.notifier.markDead(job.data.deliveryId));
    const db = this.store.database;
    this.unlisten.push(await db.listen(db.eventsChannel, () => this.kick()));
    this.unlisten.push(await db.listen(outboxChannel(this.store), () => this.kick()));
    this.timer = setInterval(() => this.kick(), this.opts.pollMs ?? 2000);
    await this.fanOutNow();
  }

  /** Fans out everything pending now (also what a crashed process left behind). */
  async fanOutNow(): Promise<void> {
    await this.notifier.fanOut();
  }

  kick(): void {
    if (this.stopped) return;
    if (this.fanning) {
      this.again = true;
      return;
    }
    this.fanning = this.notifier.fanOut().then(() => undefined, () => undefined).finally(() => {
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
