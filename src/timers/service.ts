/**
 * Background timers: pg-boss schedules a sweep every minute (cron, claimed by one worker among all processes) and
 * the sweep applies every due deadline on the injected clock. The return-address watcher resolves an operator's
 * "bad address" flag as soon as the customer's PATCH changes the address (it listens to job events).
 */
import type PgBoss from 'pg-boss';
import type { Database } from '../store/db.ts';
import type { Store } from '../store/store.ts';
import { resolveChangedReturnAddresses } from '../operator/jobs.ts';
import { opsDb } from '../operator/schema.ts';
import { AddressFlagState } from '../domain/custody.ts';
import { startBoss, type BossOptions } from './boss.ts';
import { sweepTimers, type SweepOptions, type SweepResult } from './sweep.ts';

export const SWEEP_QUEUE = 'sneakernet-timer-sweep';

/** One pg-boss per database per process, shared by timers and notifications. */
const bosses = new WeakMap<Database, Promise<PgBoss>>();
export function sharedBoss(database: Database, opts: BossOptions = {}): Promise<PgBoss> {
  let b = bosses.get(database);
  if (!b) {
    b = startBoss(database, opts);
    bosses.set(database, b);
  }
  return b;
}
export async function stopSharedBoss(database: Database): Promise<void> {
  const b = bosses.get(database);
  if (!b) return;
  bosses.delete(database);
  await (await b).stop({ graceful: false, wait: true, close: false });
}

export interface TimerServiceOptions extends SweepOptions {
  /** Cron for the sweep (default every minute). */
  cron?: string;
  /** Also sweep in-process every this many ms (0 = only the cron; default 0). */
  intervalMs?: number;
}

export class TimerService {
  private running: Promise<SweepResult> | null = null;
  private unlisten: (() => Promise<void>) | null = null;
  private interval: NodeJS.Timeout | null = null;
  lastResult: SweepResult | null = null;

  constructor(readonly store: Store, readonly boss: PgBoss, readonly opts: TimerServiceOptions = {}) {}

  async start(): Promise<void> {
    await this.boss.createQueue(SWEEP_QUEUE, { name: SWEEP_QUEUE, policy: 'singleton', retryLimit: 3, retryDelay: 10, expireInSeconds: 15 * 60 });
    await this.boss.schedule(SWEEP_QUEUE, this.opts.cron ?? '* * * * *', {}, { singletonKey: 'sweep' });
    await this.boss.work(SWEEP_QUEUE, { pollingIntervalSeconds: 5 }, async () => {
      await this.sweepNow();
    });
    this.unlisten = await this.store.database.listen(this.store.database.eventsChannel, (payload) => {
      void this.onJobEvent(payload).catch(() => {});
    });
    if (this.opts.intervalMs) this.interval = setInterval(() => void this.sweepNow().catch(() => {}), this.opts.intervalMs);
    // Catch up at once: deadlines that passed while no process was running.
    await this.sweepNow();
  }

  /** Runs a sweep now (in-process sweeps never overlap; concurrent processes are kept apart by row locks). */
  sweepNow(): Promise<SweepResult> {
    if (this.running) return this.running.then(() => this.sweepNow());
    this.running = sweepTimers(this.store, this.opts).then((r) => {
      this.lastResult = r;
      return r;
    }).finally(() => {
      this.running = null;
    });
    return this.running;
  }

  private async onJobEvent(payload: string): Promise<void> {
    const n = JSON.parse(payload) as { jobId?: number };
    if (typeof n.jobId !== 'number' || n.jobId <= 0) return;
    const open = await opsDb(this.store).selectFrom('return_address_flags').select('id').where('job_id', '=', n.jobId).where('status', '=', AddressFlagState.Open).executeTakeFirst();
    if (open) await resolveChangedReturnAddresses({ store: this.store, by: 'system' }, [n.jobId]);
  }

  async stop(): Promise<void> {
    if (this.interval) clearInterval(this.interval);
    await this.unlisten?.().catch(() => {});
    await this.boss.offWork(SWEEP_QUEUE).catch(() => {});
    await this.running?.catch(() => {});
  }
}
