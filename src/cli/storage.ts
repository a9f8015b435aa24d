/** `sneakernet storage add|list|remove`: which blob store a job's storageAccountId copies to. Secrets are never printed. */
import type { Command } from 'commander';
import { configFromEnv } from '../config.ts';
import { openApp } from '../app.ts';
import { StorageAccounts } from '../storage-accounts/registry.ts';
import { ExitCode, failWith } from './output.ts';

interface AddFlags {
  local?: string;
  azureConnectionStringEnv?: string;
  dataDir?: string;
}

async function withAccounts<T>(dataDir: string | undefined, fn: (a: StorageAccounts) => Promise<T>): Promise<T> {
  const app = await openApp(configFromEnv({ dataDir }));
  try {
    return await fn(new StorageAccounts(app.store));
  } finally {
    await app.close();
  }
}

export function registerStorageCommands(program: Command): void {
  const storage = program.command('storage').description("map jobs' storage accounts to blob stores (local folder or Azure Blob Storage)");
  storage
    .command('add <accountId>')
    .description("register a storage account: its ARM id (/subscriptions/…/storageAccounts/NAME), its bare NAME, or '*' for every account")
    .option('--local <dir>', 'a local folder (the embedded default); with "*", each account gets a sub-folder')
    .option('--azure-connection-string-env <VAR>', 'Azure Blob Storage: the name of an environment variable holding the connection string (keeps it out of shell history)')
    .option('--data-dir <dir>', 'folder of the embedded database (when DATABASE_URL is not set)')
    .action(async (accountId: string, flags: AddFlags) => {
      if (!!flags.local === !!flags.azureConnectionStringEnv) failWith('give exactly one of --local <dir> or --azure-connection-string-env <VAR>.', ExitCode.Usage);
      let input: Parameters<StorageAccounts['add']>[0];
      if (flags.local) input = { accountId, backend: 'local', rootDir: flags.local };
      else {
        const cs = process.env[flags.azureConnectionStringEnv!];
        if (!cs) failWith(`environment variable ${flags.azureConnectionStringEnv} is empty or not set.`, ExitCode.Usage);
        input = { accountId, backend: 'azure', connectionString: cs };
      }
      const view = await withAccounts(flags.dataDir, (a) => a.add(input).catch((e: Error) => failWith(e.message, ExitCode.Usage)));
      process.stdout.write(`storage account ${view.accountId} → ${view.backend} ${view.location}\n`);
    });
  storage
    .command('list')
    .description('list registered storage accounts (never shows keys or connection strings)')
    .option('--json', 'print JSON')
    .option('--data-dir <dir>', 'folder of the embedded database (when DATABASE_URL is not set)')
    .action(async (flags: { json?: boolean; dataDir?: string }) => {
      const list = await withAccounts(flags.dataDir, (a) => a.list());
      if (flags.json) process.stdout.write(JSON.stringify(list, null, 2) + '\n');
      else if (list.length === 0) process.stdout.write('no storage accounts registered\n');
      else for (const s of list) process.stdout.write(`${s.accountId}\t${s.backend}\t${s.location}\n`);
    });
  storage
    .command('remove <accountId>')
    .description('unregister a storage account (jobs naming it fault until it is added again)')
    .option('--data-dir <dir>', 'folder of the embedded database (when DATABASE_URL is not set)')
    .action(async (accountId: string, flags: { dataDir?: string }) => {
      const removed = await withAccounts(flags.dataDir, (a) => a.remove(accountId));
      if (!removed) failWith(`storage account ${accountId} is not registered.`, ExitCode.NotFound);
      process.stdout.write(`storage account ${accountId} removed\n`);
    });
}
