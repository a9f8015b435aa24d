/**
 * `sneakernet jobs …`: a thin client of the ARM API (the same calls the Azure SDK makes), with a readable table
 * by default and the API's JSON with --json. Exit codes: 0 ok, 2 bad input, 3 not found, 4 conflict (state,
 * ETag), 5 unauthorized, 6 server unreachable.
 */
import fs from 'node:fs';
import { Command, Option } from 'commander';
import { JobState, TERMINAL_JOB_STATES } from '../domain/states.ts';
import { ApiClient } from './api-client.ts';
import { CliExit, ExitCode } from './output.ts';
import { keyValues, table } from './table.ts';

const API_VERSION = '2021-01-01';

interface CommonFlags {
  endpoint?: string;
  token?: string;
  ca?: string;
  subscription?: string;
  resourceGroup?: string;
  json?: boolean;
}

function withCommon(cmd: Command, opts: { rg?: boolean } = {}): Command {
  cmd
    .option('--endpoint <url>', 'server URL (env SNEAKERNET_ENDPOINT, default http://localhost:7480)')
    .option('--token <token>', 'bearer token (env SNEAKERNET_TOKEN)')
    .option('--ca <file>', 'extra CA certificate (PEM) to trust, e.g. a self-signed server cert (env SNEAKERNET_CA)')
    .option('--subscription <id>', "subscription id (env SNEAKERNET_SUBSCRIPTION; default: the token's)")
    .option('--json', "print the API's JSON instead of a table");
  if (opts.rg !== false) cmd.option('-g, --resource-group <name>', 'resource group (env SNEAKERNET_RESOURCE_GROUP)');
  return cmd;
}

const enc = encodeURIComponent;
const out = (s: string): void => {
  process.stdout.write(s);
};

async function context(flags: CommonFlags, needRg = true) {
  const client = new ApiClient(flags);
  let subscription = flags.subscription ?? process.env.SNEAKERNET_SUBSCRIPTION;
  if (!subscription) {
    // Ask the server whose token this is; a server without that route just means "give --subscription".
    const who = await client.request<{ subscriptionId: string | null }>('GET', '/console/api/whoami').catch((e) => {
      if (e instanceof CliExit && e.exitCode === ExitCode.NotFound) return null;
      throw e;
    });
    subscription = who?.body?.subscriptionId ?? undefined;
    if (!subscription) throw new CliExit(ExitCode.Usage, 'give --subscription (or SNEAKERNET_SUBSCRIPTION): this token is not tied to one subscription.');
  }
  const rg = flags.resourceGroup ?? process.env.SNEAKERNET_RESOURCE_GROUP;
  if (needRg && !rg) throw new CliExit(ExitCode.Usage, 'give -g/--resource-group (or SNEAKERNET_RESOURCE_GROUP).');
  return { client, subscription, rg: rg! };
}

const jobUrl = (sub: string, rg: string, name: string, tail = '') =>
  `/subscriptions/${enc(sub)}/resourceGroups/${enc(rg)}/providers/Microsoft.ImportExport/jobs/${enc(name)}${tail}?api-version=${API_VERSION}`;

/** `a=1,b=two words,c=3` → object; values may hold commas when the next part does not look like `key=`. */
export function parsePairs(text: string, what: string, numbers: string[] = []): Record<string, string | number> {
  const out: Record<string, string | number> = {};
  for (const part of text.split(/,(?=\s*[A-Za-z][A-Za-z0-9]*=)/)) {
    const i = part.indexOf('=');
    if (i <= 0) throw new CliExit(ExitCode.Usage, `${what}: expected key=value pairs separated by commas, got '${part}'.`);
    const k = part.slice(0, i).trim();
    const v = part.slice(i + 1).trim();
    out[k] = numbers.includes(k) && /^\d+$/.test(v) ? Number(v) : v;
  }
  return out;
}

const collect = (v: string, prev: string[] = []) => [...prev, v];

function readBodyFile(file: string): unknown {
  try {
    return JSON.parse(file === '-' ? fs.readFileSync(0, 'utf8') : fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new CliExit(ExitCode.Usage, `--body ${file}: ${(e as Error).message}`);
  }
}

function tags(list: string[] | undefined): Record<string, string> | undefined {
  if (!list) return undefined;
  return Object.fromEntries(list.map((t) => {
    const i = t.indexOf('=');
    if (i <= 0) throw new CliExit(ExitCode.Usage, `--tag must be key=value, not '${t}'.`);
    return [t.slice(0, i), t.slice(i + 1)];
  }));
}

// ---------------------------------------------------------------- printing

export function printJob(job: any, json: boolean): void {
  if (json) return out(JSON.stringify(job, null, 2) + '\n');
  const p = job.properties ?? {};
  const ext = p.sneakernet ?? {};
  out(keyValues([
    ['name', job.name],
    ['id', job.id],
    ['location', job.location],
    ['type', p.jobType],
    ['state', p.state],
    ['why', ext.stateReason ? `${ext.stateReason.message} (${ext.stateReason.code})` : undefined],
    ['cancel requested', p.cancelRequested ? 'yes' : undefined],
    ['percent complete', p.percentComplete],
    ['next deadline', ext.pendingDeadline ? `${ext.pendingDeadline.kind} at ${ext.pendingDeadline.at}` : undefined],
    ['delivery package', p.deliveryPackage ? `${p.deliveryPackage.carrierName} ${p.deliveryPackage.trackingNumber}` : undefined],
    ['return package', p.returnPackage ? `${p.returnPackage.carrierName} ${p.returnPackage.trackingNumber}` : undefined],
    ['ship drives to', p.shippingInformation ? [p.shippingInformation.recipientName, p.shippingInformation.streetAddress1, p.shippingInformation.city, p.shippingInformation.postalCode, p.shippingInformation.countryOrRegion].filter(Boolean).join(', ') : undefined],
    ['storage account', p.storageAccountId],
    ['etag', ext.etag],
  ]));
  const drives = p.driveList ?? [];
  if (drives.length > 0) {
    out('\n' + table(['DRIVE', 'STATE', '%', 'BYTES', 'COPY STATUS', 'ERROR LOG'], drives.map((d: any) => [d.driveId, d.state, d.percentComplete, d.bytesSucceeded, d.copyStatus, d.errorLogUri])));
  }
}

function printList(jobs: any[], json: boolean): void {
  if (json) return out(JSON.stringify({ value: jobs }, null, 2) + '\n');
  out(table(['NAME', 'RESOURCE GROUP', 'TYPE', 'STATE', '%', 'CANCEL', 'NEXT DEADLINE'], jobs.map((j) => {
    const rg = /\/resourceGroups\/([^/]+)\//i.exec(j.id ?? '')?.[1];
    const d = j.properties?.sneakernet?.pendingDeadline;
    return [j.name, rg, j.properties?.jobType, j.properties?.state, j.properties?.percentComplete, j.properties?.cancelRequested ? 'yes' : '', d ? `${d.kind} ${d.at}` : ''];
  })));
}

function formatEvent(e: any): string {
  const move = e.toState ? ` ${e.fromState ?? '-'} -> ${e.toState}` : '';
  return `${e.at}  ${e.driveId ? `drive ${e.driveId} ` : ''}${e.event}${move}  ${e.message} [${e.actor}]\n`;
}

// ---------------------------------------------------------------- commands

export function registerJobsCommands(program: Command): void {
  const jobs = program.command('jobs').description('customer jobs through the ARM API (create, show, list, update, ship, cancel, delete, keys, watch)');

  withCommon(jobs.command('create <name>').description('create an import or export job (or replace one still Creating)'))
    .addOption(new Option('--type <type>', 'Import or Export').default('Import'))
    .option('--location <location>', "data-center location, e.g. 'westus' (see the locations list)", 'westus')
    .option('--storage-account <id>', 'ARM id of the storage account')
    .option('--drive <spec>', 'driveId=..,bitLockerKey=..,manifestFile=..,manifestHash=..[,driveHeaderHash=..] (repeatable)', collect)
    .option('--export-prefix <prefix>', 'export blobs under this path prefix (repeatable)', collect)
    .option('--export-blob <path>', 'export this blob (repeatable)', collect)
    .option('--export-list-blob <path>', 'export the blobs listed in this blob list blob')
    .option('--return-address <pairs>', 'recipientName=..,streetAddress1=..,city=..,postalCode=..,countryOrRegion=..,phone=..,email=..')
    .option('--return-shipping <pairs>', 'carrierName=..,carrierAccountNumber=..')
    .option('--log-level <level>', 'Error or Verbose')
    .option('--backup-drive-manifest', 'copy drive manifests to blobs')
    .option('--diagnostics-path <path>', 'container or directory for logs (default waimportexport)')
    .option('--tag <key=value>', 'tag (repeatable)', collect)
    .option('--body <file>', 'a full PutJobParameters JSON body (file or - for stdin); the other flags are ignored')
    .action(async (name: string, f: CommonFlags & Record<string, any>) => {
      const { client, subscription, rg } = await context(f);
      let body: unknown;
      if (f.body) body = readBodyFile(f.body);
      else {
        if (!f.storageAccount) throw new CliExit(ExitCode.Usage, '--storage-account is required (an ARM storage account id).');
        const properties: Record<string, unknown> = { storageAccountId: f.storageAccount, jobType: f.type };
        if (f.drive) properties.driveList = (f.drive as string[]).map((d) => parsePairs(d, '--drive'));
        if (f.exportPrefix || f.exportBlob) properties.export = { blobList: { blobPathPrefix: f.exportPrefix, blobPath: f.exportBlob } };
        if (f.exportListBlob) properties.export = { blobListBlobPath: f.exportListBlob };
        if (f.returnAddress) properties.returnAddress = parsePairs(f.returnAddress, '--return-address');
        if (f.returnShipping) properties.returnShipping = parsePairs(f.returnShipping, '--return-shipping');
        if (f.logLevel) properties.logLevel = f.logLevel;
        if (f.backupDriveManifest) properties.backupDriveManifest = true;
        if (f.diagnosticsPath) properties.diagnosticsPath = f.diagnosticsPath;
        body = { location: f.location, tags: tags(f.tag), properties };
      }
      const r = await client.request('PUT', jobUrl(subscription, rg, name), { body });
      printJob(r.body, !!f.json);
    });

  withCommon(jobs.command('show <name>').description('show a job, its drives and what happens next'))
    .action(async (name: string, f: CommonFlags) => {
      const { client, subscription, rg } = await context(f);
      printJob((await client.request('GET', jobUrl(subscription, rg, name))).body, !!f.json);
    });

  withCommon(jobs.command('list').description('list jobs of the subscription (or of one resource group with -g)'))
    .option('--state <state>', 'only jobs in this state (repeatable)', collect)
    .option('--type <type>', 'only Import or Export jobs')
    .option('--filter <expr>', "an ARM $filter, e.g. \"state eq 'Shipping'\"")
    .option('--top <n>', 'page size (1-100); all pages are fetched')
    .action(async (f: CommonFlags & { state?: string[]; type?: string; filter?: string; top?: string }) => {
      const { client, subscription } = await context(f, false);
      const rg = f.resourceGroup ?? process.env.SNEAKERNET_RESOURCE_GROUP;
      const clauses: string[] = [];
      if (f.state) clauses.push(`(${f.state.map((s) => `state eq '${s.replace(/'/g, "''")}'`).join(' or ')})`);
      if (f.type) clauses.push(`jobType eq '${f.type.replace(/'/g, "''")}'`);
      if (f.filter) clauses.push(`(${f.filter})`);
      const q = new URLSearchParams({ 'api-version': API_VERSION });
      if (clauses.length > 0) q.set('$filter', clauses.join(' and '));
      if (f.top) q.set('$top', f.top);
      let path: string | undefined = `/subscriptions/${enc(subscription)}${rg ? `/resourceGroups/${enc(rg)}` : ''}/providers/Microsoft.ImportExport/jobs?${q}`;
      const all: any[] = [];
      while (path) {
        const r: { body: { value: any[]; nextLink?: string } } = await client.request('GET', path);
        all.push(...r.body.value);
        path = r.body.nextLink ? (() => { const u = new URL(r.body.nextLink!); return u.pathname + u.search; })() : undefined;
      }
      printList(all, !!f.json);
    });

  withCommon(jobs.command('update <name>').description('change tags, addresses, the delivery package, log level or manifest backup'))
    .option('--log-level <level>', 'Error or Verbose')
    .option('--backup-drive-manifest <bool>', 'true or false')
    .option('--return-address <pairs>', 'recipientName=..,streetAddress1=..,city=..,postalCode=..,countryOrRegion=..,phone=..,email=..')
    .option('--return-shipping <pairs>', 'carrierName=..,carrierAccountNumber=..')
    .option('--delivery-package <pairs>', 'carrierName=..,trackingNumber=..[,driveCount=..,shipDate=..]')
    .option('--tag <key=value>', 'replace the tags with these (repeatable)', collect)
    .option('--if-match <etag>', 'only if the job is still at this ETag (exit 4 otherwise)')
    .option('--body <file>', 'a full UpdateJobParameters JSON body (file or - for stdin)')
    .action(async (name: string, f: CommonFlags & Record<string, any>) => {
      const { client, subscription, rg } = await context(f);
      let body: unknown;
      if (f.body) body = readBodyFile(f.body);
      else {
        const properties: Record<string, unknown> = {};
        if (f.logLevel) properties.logLevel = f.logLevel;
        if (f.backupDriveManifest !== undefined) {
          if (!/^(true|false)$/.test(f.backupDriveManifest)) throw new CliExit(ExitCode.Usage, '--backup-drive-manifest takes true or false.');
          properties.backupDriveManifest = f.backupDriveManifest === 'true';
        }
        if (f.returnAddress) properties.returnAddress = parsePairs(f.returnAddress, '--return-address');
        if (f.returnShipping) properties.returnShipping = parsePairs(f.returnShipping, '--return-shipping');
        if (f.deliveryPackage) properties.deliveryPackage = parsePairs(f.deliveryPackage, '--delivery-package', ['driveCount']);
        body = { tags: tags(f.tag), properties };
      }
      const r = await client.request('PATCH', jobUrl(subscription, rg, name), { body, headers: f.ifMatch ? { 'if-match': f.ifMatch } : {} });
      printJob(r.body, !!f.json);
    });

  withCommon(jobs.command('ship <name>').description('tell the service the drives are on their way (state Shipping with the tracking number)'))
    .requiredOption('--carrier <name>', 'carrier, e.g. FedEx')
    .requiredOption('--tracking <number>', 'tracking number')
    .option('--drive-count <n>', 'number of drives in the package')
    .option('--ship-date <date>', 'when the package was sent')
    .option('--return-address <pairs>', 'the return address, unless already given')
    .option('--if-match <etag>', 'only if the job is still at this ETag')
    .action(async (name: string, f: CommonFlags & Record<string, any>) => {
      const { client, subscription, rg } = await context(f);
      const deliveryPackage: Record<string, unknown> = { carrierName: f.carrier, trackingNumber: f.tracking };
      if (f.driveCount !== undefined) {
        if (!/^\d+$/.test(f.driveCount)) throw new CliExit(ExitCode.Usage, '--drive-count must be a number.');
        deliveryPackage.driveCount = Number(f.driveCount);
      }
      if (f.shipDate) deliveryPackage.shipDate = f.shipDate;
      const properties: Record<string, unknown> = { state: JobState.Shipping, deliveryPackage };
      if (f.returnAddress) properties.returnAddress = parsePairs(f.returnAddress, '--return-address');
      const r = await client.request('PATCH', jobUrl(subscription, rg, name), { body: { properties }, headers: f.ifMatch ? { 'if-match': f.ifMatch } : {} });
      printJob(r.body, !!f.json);
    });

  withCommon(jobs.command('cancel <name>').description('cancel a job (Creating, Shipping, Received or Transferring)'))
    .action(async (name: string, f: CommonFlags) => {
      const { client, subscription, rg } = await context(f);
      printJob((await client.request('PATCH', jobUrl(subscription, rg, name), { body: { properties: { cancelRequested: true } } })).body, !!f.json);
    });

  withCommon(jobs.command('delete <name>').description('delete a job (Creating or Completed only)'))
    .option('--if-match <etag>', 'only if the job is still at this ETag')
    .action(async (name: string, f: CommonFlags & { ifMatch?: string }) => {
      const { client, subscription, rg } = await context(f);
      await client.request('DELETE', jobUrl(subscription, rg, name), { headers: f.ifMatch ? { 'if-match': f.ifMatch } : {} });
      out(f.json ? JSON.stringify({ deleted: name }) + '\n' : `deleted ${name}\n`);
    });

  withCommon(jobs.command('keys <name>').description("list the BitLocker keys of the job's drives (owner tokens only)"))
    .action(async (name: string, f: CommonFlags) => {
      const { client, subscription, rg } = await context(f);
      const r = await client.request<{ value: Array<{ driveId: string; bitLockerKey: string }> }>('POST', jobUrl(subscription, rg, name, '/listBitLockerKeys'));
      if (f.json) out(JSON.stringify(r.body, null, 2) + '\n');
      else out(table(['DRIVE', 'BITLOCKER KEY'], r.body.value.map((k) => [k.driveId, k.bitLockerKey])));
    });

  withCommon(jobs.command('watch <name>').description('follow the job live (history, then changes) until it is Completed or Closed'))
    .option('--since <eventId>', 'start after this event id (default: the whole history)')
    .option('--no-exit', 'keep following after the job finishes')
    .action(async (name: string, f: CommonFlags & { since?: string; exit: boolean }) => {
      const { client, subscription, rg } = await context(f);
      if (f.since !== undefined && !/^\d+$/.test(f.since)) throw new CliExit(ExitCode.Usage, '--since takes an event id.');
      let last = f.since;
      for (let attempt = 0; attempt < 30; attempt++) {
        let done = false;
        const how = await client.stream(jobUrl(subscription, rg, name, '/events'), last ? { 'last-event-id': last } : {}, (m) => {
          if (m.id) last = m.id;
          let e: any;
          try {
            e = JSON.parse(m.data);
          } catch {
            return;
          }
          out(f.json ? JSON.stringify(e) + '\n' : formatEvent(e));
          if (f.exit && e.driveId == null && (TERMINAL_JOB_STATES as readonly string[]).includes(e.toState)) {
            done = true;
            return false;
          }
        }).catch((e) => {
          if (e instanceof CliExit && e.exitCode !== ExitCode.Unavailable) throw e;
          return 'ended' as const;
        });
        if (done || how === 'stopped') return;
        // The stream ended (server restart, network): reconnect and resume after the last event seen.
        await new Promise((r) => setTimeout(r, Math.min(500 * 2 ** attempt, 5000)));
      }
      throw new CliExit(ExitCode.Unavailable, 'lost the event stream and could not reconnect.');
    });
}
