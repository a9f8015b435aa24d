/** `sneakernet migrate`: apply pending migrations and exit (every process also does this on start). */
import type { Command } from 'commander';
import { configFromEnv } from '../config.ts';
import { openDatabase } from '../store/db.ts';

export function registerMigrateCommand(program: Command): void {
  program
    .command('migrate')
    .description('apply pending database migrations and exit (safe to run from several processes at once)')
    .option('--data-dir <dir>', 'folder of the embedded database (when DATABASE_URL is not set)')
    .action(async (opts: { dataDir?: string }) => {
      const config = configFromEnv({ dataDir: opts.dataDir });
      const database = await openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.databaseUrl ? undefined : config.dataDir });
      const current = await database.migrationsCurrent();
      await database.close();
      process.stdout.write(current ? 'migrations are current\n' : 'migrations incomplete\n');
      if (!current) process.exitCode = 1;
    });
}
