/** The `sneakernet` command. Each command group lives in its own file and is added here. */
import { Command } from 'commander';
import { addServerFlags, runApi, runServe, runWorker } from './serve.ts';
import { reportAndExit } from './output.ts';
import { cliRegistrations } from './commands.ts';

export function buildProgram(): Command {
  const program = new Command('sneakernet')
    .description('Self-hostable Import/Export service: ship drives, track jobs, copy data to and from blob storage.')
    .showHelpAfterError()
    .exitOverride();
  addServerFlags(program.command('serve').description('run everything in one process: API, console, workers, timers')).action(runServe);
  addServerFlags(program.command('api').description('run the HTTP API and console only (scale out: many api processes on one PostgreSQL)')).action(runApi);
  addServerFlags(program.command('worker').description('run transfers, timers and notification delivery only (no HTTP)')).action(runWorker);
  for (const register of cliRegistrations) register(program);
  return program;
}

export async function main(argv: string[]): Promise<void> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
  } catch (e) {
    const ce = e as { code?: string; exitCode?: number };
    if (typeof ce?.code === 'string' && ce.code.startsWith('commander.')) {
      process.exit(ce.code === 'commander.helpDisplayed' || ce.code === 'commander.version' ? 0 : 2);
    }
    reportAndExit(e);
  }
}
