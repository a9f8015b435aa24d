/** Every CLI command group, in one list. Each feature adds one line here. */
import type { Command } from 'commander';
import { registerDocsCommands } from './docs.ts';
import { registerMigrateCommand } from './migrate.ts';
import { registerStorageCommands } from './storage.ts';
import { registerTransferCommands } from './transfer.ts';
import { registerJobsCommands } from './jobs.ts';
import { registerTokenCommands } from './token.ts';
import { registerOpsCommands } from './ops.ts';
import { registerClockCommands } from './clock.ts';

export type CliRegistration = (program: Command) => void;

export const cliRegistrations: CliRegistration[] = [
  registerDocsCommands,
  registerMigrateCommand,
  registerStorageCommands,
  registerTransferCommands,
  registerJobsCommands,
  registerTokenCommands,
  registerOpsCommands,
  registerClockCommands,
];
