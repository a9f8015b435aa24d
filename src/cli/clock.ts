/**
 * `sneakernet clock show|advance <duration>`: simulated time for demos, on a server started with `--clock manual`
 * (admin token). Advancing applies every timer that fell due at once, and prints what the sweep did.
 */
import type { Command } from 'commander';
import { parseDuration } from '../domain/clock.ts';
import { ApiClient } from './api-client.ts';
import { CliExit, ExitCode } from './output.ts';
import { withClientFlags, type ClientFlags } from './ops.ts';
import { keyValues } from './table.ts';

export function registerClockCommands(program: Command): void {
  const clock = program.command('clock').description("the server's clock: show it, or move simulated time forward (serve --clock manual, admin token)");

  withClientFlags(clock.command('show').description("the server's clock mode and time"))
    .action(async (f: ClientFlags) => {
      const r = await new ApiClient(f).request('GET', '/admin/clock');
      if (f.json) process.stdout.write(JSON.stringify(r.body) + '\n');
      else process.stdout.write(keyValues([['mode', r.body.mode], ['now', r.body.now]]));
    });

  withClientFlags(clock.command('advance <duration>').description("move the clock forward, e.g. '15d', '36h', '90m'; due timers fire at once"))
    .action(async (duration: string, f: ClientFlags) => {
      const ms = parseDuration(duration);
      if (ms === null || ms <= 0) throw new CliExit(ExitCode.Usage, `the duration must look like 15d, 36h, 90m or 30s, not '${duration}'.`);
      const r = await new ApiClient(f).request('POST', '/admin/clock/advance', { body: { by: duration } });
      if (f.json) return void process.stdout.write(JSON.stringify(r.body, null, 2) + '\n');
      const sweep = (r.body.sweep ?? {}) as Record<string, unknown>;
      const done = Object.entries(sweep).filter(([k, v]) => k !== 'now' && typeof v === 'number' && v > 0) as Array<[string, number]>;
      process.stdout.write(keyValues([['now', r.body.now], ...done]));
      if (done.length === 0) process.stdout.write('no timer was due\n');
    });
}
