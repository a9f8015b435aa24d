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
  const notify = new NotifyService(ctx.store, boss, { ...notifierOptionsFromEnv(), ...opts.notify });
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

/**
 * serveBackground entry. On PostgreSQL it always runs. On the embedded PGlite it runs only with
 * SNEAKERNET_OPERATOR_BACKGROUND=on for now: with pg-boss workers and the dispatcher sharing PGlite's single session,
 * a concurrent transaction was seen to starve (under investigation). Without it, timers still run through
 * `POST /admin/clock/advance` and `POST /operator/timers/sweep`.
 */
export async function startOperatorBackground(ctx: App): Promise<void | (() => Promise<void>)> {
  const flag = process.env.SNEAKERNET_OPERATOR_BACKGROUND;
  if (flag === 'off' || (ctx.database.kind === 'pglite' && flag !== 'on')) return;
  const bg = await startBackground(ctx);
  return () => bg.stop();
}
