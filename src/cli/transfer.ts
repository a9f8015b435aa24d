/**
 * `sneakernet prepare-drive`: the cross-platform WAImportExport PrepImport (copy a dataset onto a drive folder,
 * write its manifest and journal; re-running resumes). `--job` adds the drive to a job in Creating through the
 * API. Also adds `--concurrency` to `sneakernet worker` (drives copied at once by this process).
 */
import crypto from 'node:crypto';
import path from 'node:path';
import type { Command } from 'commander';
import { prepareDrive, type PrepareProgress } from '../transfer/prepare.ts';
import { isTransferError } from '../transfer/errors.ts';
import { ExitCode, failWith } from './output.ts';

interface PrepareFlags {
  dataset: string;
  drive: string;
  driveId?: string;
  journal?: string;
  storageAccountKey?: string;
  job?: string;
  subscription?: string;
  resourceGroup?: string;
  endpoint?: string;
  token?: string;
  bitlockerKey?: string;
  progress?: string;
}

const fmtBytes = (n: number) => {
  const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
  return `${n.toFixed(i === 0 ? 0 : 1)} ${u[i]}`;
};

/** A progress bar (bytes, rate, ETA) on a terminal; one plain line per file otherwise. */
export function progressPrinter(out: NodeJS.WriteStream, totalBytes: number | null, tty = !!out.isTTY) {
  const start = Date.now();
  let last = 0;
  return (p: PrepareProgress) => {
    const secs = Math.max(0.001, (Date.now() - start) / 1000);
    const rate = p.bytesDone / secs;
    if (!tty) {
      out.write(`${p.type === 'file-copied' ? 'copied' : 'skipped'} ${p.blobPath} ${p.bytes} bytes (${p.filesDone} files, ${p.bytesDone} bytes done)\n`);
      return;
    }
    if (Date.now() - last < 100) return;
    last = Date.now();
    const width = 30;
    const frac = totalBytes ? Math.min(1, p.bytesDone / totalBytes) : 0;
    const bar = totalBytes ? `[${'#'.repeat(Math.round(frac * width)).padEnd(width, '.')}] ${(frac * 100).toFixed(0).padStart(3)}% ` : '';
    const eta = totalBytes && rate > 0 ? ` ETA ${Math.ceil((totalBytes - p.bytesDone) / rate)}s` : '';
    out.write(`\r${bar}${fmtBytes(p.bytesDone)} ${fmtBytes(rate)}/s${eta} ${p.filesDone} files   `);
  };
}

/** A BitLocker-style numerical password (eight groups of six digits, each a multiple of 11). */
function newRecoveryPassword(): string {
  return Array.from({ length: 8 }, () => String(crypto.randomInt(0, 65536) * 11).padStart(6, '0')).join('-');
}

async function addDriveToJob(flags: PrepareFlags, drive: { driveId: string; manifestFile: string; manifestHash: string; driveHeaderHash: string }, bitLockerKey: string) {
  const endpoint = (flags.endpoint ?? process.env.SNEAKERNET_ENDPOINT ?? '').replace(/\/+$/, '');
  const token = flags.token ?? process.env.SNEAKERNET_TOKEN;
  if (!endpoint || !token || !flags.subscription || !flags.resourceGroup) {
    failWith('--job needs --endpoint, --token (or SNEAKERNET_ENDPOINT/SNEAKERNET_TOKEN), --subscription and --resource-group.', ExitCode.Usage);
  }
  const url = `${endpoint}/subscriptions/${encodeURIComponent(flags.subscription!)}/resourceGroups/${encodeURIComponent(flags.resourceGroup!)}/providers/Microsoft.ImportExport/jobs/${encodeURIComponent(flags.job!)}?api-version=2021-01-01`;
  const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
  const got = await fetch(url, { headers });
  const body = (await got.json().catch(() => ({}))) as { properties?: { driveList?: Array<Record<string, unknown>> }; error?: { message?: string } };
  if (!got.ok) failWith(`cannot read job ${flags.job}: ${body.error?.message ?? got.status}`, got.status === 404 ? ExitCode.NotFound : ExitCode.Failure);
  const existing = (body.properties?.driveList ?? [])
    .filter((d) => String(d.driveId).toLowerCase() !== drive.driveId.toLowerCase())
    .map((d) => ({ driveId: d.driveId, manifestFile: d.manifestFile, manifestHash: d.manifestHash, driveHeaderHash: d.driveHeaderHash }));
  const patch = await fetch(url, {
    method: 'PATCH', headers,
    body: JSON.stringify({ properties: { driveList: [...existing, { ...drive, bitLockerKey }] } }),
  });
  if (!patch.ok) {
    const e = (await patch.json().catch(() => ({}))) as { error?: { message?: string } };
    failWith(`cannot add the drive to job ${flags.job}: ${e.error?.message ?? patch.status}`, patch.status === 409 ? ExitCode.Conflict : ExitCode.Failure);
  }
}

export function registerTransferCommands(program: Command): void {
  program
    .command('prepare-drive')
    .description('copy a dataset onto a drive folder and write its manifest (re-run to resume); prints the drive fields for the job')
    .requiredOption('--dataset <csv>', 'dataset CSV: BasePath,DstBlobPathOrPrefix[,BlobType,Disposition,MetadataFile,PropertiesFile]')
    .requiredOption('--drive <folder>', 'the folder that stands for the drive (its mount point)')
    .option('--drive-id <id>', 'drive serial (default: generated and kept in the journal)')
    .option('--journal <file>', 'resume journal, off the drive (default: ./<drive folder name>.jrn)')
    .option('--storage-account-key-env <VAR>', 'write the storage account key from this environment variable into the manifest')
    .option('--job <name>', 'add the drive to this job (in Creating) through the API')
    .option('--subscription <id>', 'with --job')
    .option('--resource-group <name>', 'with --job')
    .option('--endpoint <url>', 'with --job: the sneakernet API (env SNEAKERNET_ENDPOINT)')
    .option('--token <token>', 'with --job: bearer token (env SNEAKERNET_TOKEN)')
    .option('--bitlocker-key <key>', 'with --job: the drive\'s BitLocker recovery password (default: a new one, printed)')
    .option('--progress <mode>', "'bar', 'lines' or 'none' (default: bar on a terminal, lines otherwise)")
    .action(async (flags: PrepareFlags & { storageAccountKeyEnv?: string }) => {
      const driveFolder = path.resolve(flags.drive);
      const journalFile = path.resolve(flags.journal ?? `${path.basename(driveFolder)}.jrn`);
      const mode = flags.progress ?? (process.stdout.isTTY ? 'bar' : 'lines');
      if (!['bar', 'lines', 'none'].includes(mode)) failWith("--progress must be 'bar', 'lines' or 'none'.", ExitCode.Usage);
      const printer = mode === 'none' ? undefined : progressPrinter(mode === 'bar' ? process.stderr : process.stdout, null, mode === 'bar');
      let result;
      try {
        result = await prepareDrive({
          datasetCsv: path.resolve(flags.dataset), driveFolder, journalFile, driveId: flags.driveId, onProgress: printer,
          storageAccountKey: flags.storageAccountKeyEnv ? process.env[flags.storageAccountKeyEnv] : undefined,
        });
      } catch (e) {
        if (isTransferError(e) || e instanceof RangeError) failWith(`${e.message}`, ExitCode.Usage);
        throw e;
      }
      if (mode === 'bar') process.stderr.write('\n');
      const drive = { driveId: result.driveId, manifestFile: result.manifestFile, manifestHash: result.manifestHash, driveHeaderHash: result.driveHeaderHash };
      process.stdout.write(`copied ${result.filesCopied} files (${result.bytesCopied} bytes), ${result.filesSkipped} already on the drive\n`);
      process.stdout.write(`driveId: ${drive.driveId}\nmanifestFile: ${drive.manifestFile}\nmanifestHash: ${drive.manifestHash}\ndriveHeaderHash: ${drive.driveHeaderHash}\n`);
      if (flags.job) {
        const key = flags.bitlockerKey ?? newRecoveryPassword();
        await addDriveToJob(flags, drive, key);
        process.stdout.write(`added drive ${drive.driveId} to job ${flags.job}${flags.bitlockerKey ? '' : ` (BitLocker key ${key})`}\n`);
      }
      process.stdout.write(JSON.stringify(drive) + '\n');
    });

  // `sneakernet worker --concurrency N`: the worker command is defined in main.ts; its option lands in the
  // environment the transfer worker reads when it starts.
  const workerCmd = program.commands.find((c) => c.name() === 'worker');
  if (workerCmd) {
    workerCmd.option('--concurrency <n>', 'drives this process copies at once (env SNEAKERNET_WORKER_CONCURRENCY, default 1)');
    workerCmd.hook('preAction', (cmd) => {
      const c = cmd.opts().concurrency as string | undefined;
      if (c === undefined) return;
      if (!/^[1-9]\d{0,2}$/.test(c)) failWith(`--concurrency must be a positive number, not '${c}'.`, ExitCode.Usage);
      process.env.SNEAKERNET_WORKER_CONCURRENCY = c;
    });
  }
}
