/**
 * Starts the operator side's background work in a process (`serve`, later `worker`): one pg-boss, the timer
 * sweep and the notification delivery. Registered in src/cli/serve.ts's `serveBackground`.
 */
import type { App } from '../app.ts';
import { NotifyService, type NotifyServiceOptions } from '../notify/service.ts';
import { notifierOptionsFromEnv } from '../notify/dispatcher.ts';
import { sharedBoss, stopSharedBoss, TimerService, type TimerServiceOptions } from './service.ts';

export interface Background {
  timers: TimerService;
  notify: NotifyService;
  stop(): Promise<void>;
}

const running = new WeakMap<object, Background>();

/** The background services of an app, when this process runs them (the admin clock route uses it to sweep at once). */
export const backgroundOf = (ctx: App): Background | undefined => running.get(ctx);

export async function startBackground(ctx: App, opts: { timers?: TimerServiceOptions; notify?: NotifyServiceOptions; bossSchema?: string } = {}): Promise<Background> {
  const existing = running.get(ctx);
  if (existing) return existing;
  const boss = await sharedBoss(ctx.database, { schema: opts.bossSchema ?? process.env.SNEAKERNET_BOSS_SCHEMA });
  const timers = new TimerService(ctx.store, boss, opts.timers);
  // pg-boss polls each delivery worker once a second (one webhook per worker per second when the queue is deep):
  // SNEAKERNET_WEBHOOK_WORKERS raises the parallelism of a process (default 4).
  const webhookWorkers = Number(process.env.SNEAKERNET_WEBHOOK_WORKERS) || undefined;
  const notify = new NotifyService(ctx.store, boss, { ...notifierOptionsFromEnv(), workers: webhookWorkers, ...opts.notify });
  await notify.start();
  await timers.start();
  const bg: Background = {
    timers, notify,
    async stop() {
      running.delete(ctx);
      await timers.stop();
      await notify.stop();
      await stopSharedBoss(ctx.database);
    },
  };
  running.set(ctx, bg);
  ctx.onClose(() => bg.stop());
  return bg;
}

/** Background entry for `serve` and `worker`; SNEAKERNET_OPERATOR_BACKGROUND=off leaves timers and delivery to another process. */
export async function startOperatorBackground(ctx: App): Promise<void | (() => Promise<void>)> {
  if (process.env.SNEAKERNET_OPERATOR_BACKGROUND === 'off') return;
  const bg = await startBackground(ctx);
  return () => bg.stop();
}
