/** Simulated time for demos (`serve --clock manual`): admins move the clock forward; the timers sweep at once. */
import type { FastifyInstance } from 'fastify';
import type { App } from '../../app.ts';
import { ApiError, badRequest } from '../errors.ts';
import { assertRole, principalOf } from '../auth.ts';
import { ManualClock, parseDuration } from '../../domain/clock.ts';
import { backgroundOf } from '../../timers/background.ts';
import { sweepTimers } from '../../timers/sweep.ts';
import { body } from './routes.ts';

export function registerClockRoutes(app: FastifyInstance, ctx: App): void {
  app.get('/admin/clock', async (req) => {
    assertRole(principalOf(req));
    return { mode: ctx.clock instanceof ManualClock ? 'manual' : 'system', now: ctx.clock.now().toISOString() };
  });
  app.post('/admin/clock/advance', async (req) => {
    assertRole(principalOf(req));
    if (!(ctx.clock instanceof ManualClock)) {
      throw new ApiError(409, 'ClockNotManual', 'The clock is the system clock; start the server with --clock manual to move time by hand.');
    }
    const b = body(req);
    const ms = typeof b.by === 'string' ? parseDuration(b.by) : typeof b.ms === 'number' ? b.ms : null;
    if (ms === null || !Number.isFinite(ms) || ms < 0 || ms > 3650 * 86_400_000) throw badRequest("'by' must be a duration such as '15d', '36h' or '90m'.", 'by');
    const now = ctx.clock.advance(ms);
    const bg = backgroundOf(ctx);
    const sweep = bg ? await bg.timers.sweepNow() : await sweepTimers(ctx.store);
    if (bg) await bg.notify.fanOutNow();
    return { now: now.toISOString(), sweep };
  });
}
