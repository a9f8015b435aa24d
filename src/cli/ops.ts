/**
 * `sneakernet ops …`: the data center's CLI, a thin client of the operator routes (`/operator/...`, an `operator`
 * or admin token). Jobs are named by their numeric id (see `ops jobs`). Tables by default, the API's JSON with
 * --json. Exit codes as for `jobs`: 0 ok, 2 bad input, 3 not found, 4 conflict (state), 5 unauthorized, 6 unreachable.
 */
import type { Command } from 'commander';
import { ApiClient } from './api-client.ts';
import { CliExit, ExitCode } from './output.ts';
import { keyValues, table } from './table.ts';

export interface ClientFlags {
  endpoint?: string;
  token?: string;
  ca?: string;
  json?: boolean;
}

/** --endpoint/--token/--ca/--json, shared by `ops` and `clock`. */
export function withClientFlags(cmd: Command): Command {
  return cmd
    .option('--endpoint <url>', 'server URL (env SNEAKERNET_ENDPOINT, default http://localhost:7480)')
    .option('--token <token>', 'bearer token (env SNEAKERNET_TOKEN)')
    .option('--ca <file>', 'extra CA certificate (PEM) to trust (env SNEAKERNET_CA)')
    .option('--json', "print the API's JSON instead of a table");
}

const out = (s: string): void => {
  process.stdout.write(s);
};
const printJson = (v: unknown) => out(JSON.stringify(v, null, 2) + '\n');
const collect = (v: string, prev: string[] = []) => [...prev, v];
const enc = encodeURIComponent;
const iso = (v: unknown) => (v ? new Date(String(v)).toISOString() : '');

export function positiveInt(v: string | undefined, what: string): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\d{1,15}$/.test(v) || Number(v) <= 0) throw new CliExit(ExitCode.Usage, `${what} must be a positive whole number, not '${v}'.`);
  return Number(v);
}
const jobIdOf = (v: string) => positiveInt(v, 'the job id')!;
const requireText = (v: string | undefined, flag: string): string => {
  if (v === undefined || !v.trim()) throw new CliExit(ExitCode.Usage, `${flag} is required.`);
  return v;
};

function printOperatorJob(job: any): void {
  const next = (job.pendingDeadlines ?? [])[0];
  out(keyValues([
    ['id', job.id],
    ['subscription', job.subscriptionId],
    ['resource group', job.resourceGroup],
    ['name', job.name],
    ['type', job.jobType],
    ['state', job.state],
    ['faulted from', job.faultedFrom],
    ['cancel requested', job.cancelRequested ? 'yes' : undefined],
    ['why', job.stateReason?.message],
    ['next deadline', next ? `${next.kind} at ${next.dueAt}` : undefined],
    ['return package', job.returnPackage ? `${job.returnPackage.carrierName} ${job.returnPackage.trackingNumber}` : undefined],
  ]));
  const drives = job.drives ?? [];
  if (drives.length > 0) out('\n' + table(['DRIVE', 'STATE', 'EXTRA', 'COPY STATUS'], drives.map((d: any) => [d.driveId, d.state, d.isExtra ? 'yes' : '', d.copyStatus])));
  const tasks = (job.tasks ?? []).filter((t: any) => t.status === 'open');
  if (tasks.length > 0) out('\nopen tasks:\n' + taskTable(tasks));
}

const taskTable = (tasks: any[]) =>
  table(['ID', 'KIND', 'STATUS', 'JOB', 'DRIVES', 'DUE', 'TITLE'], tasks.map((t) => [
    t.id, t.kind, t.status + (t.overdue ? ' (overdue)' : ''), t.jobId ?? '', (t.driveIds ?? []).join(','), iso(t.dueAt), t.title,
  ]));

const heldTable = (held: any[]) =>
  table(['ID', 'DRIVE', 'STATE', 'REASON', 'JOB', 'RECEIVED', 'NEXT DEADLINE'], held.map((h) => [
    h.id, h.driveId, h.state, h.reason, h.jobName ?? h.jobId ?? '', iso(h.receivedAt), h.deadlineAt ? `${h.deadlineKind} ${iso(h.deadlineAt)}` : '',
  ]));

function printCertificate(c: any): void {
  out(keyValues([
    ['certificate', c.certificateId],
    ['drive', c.driveId],
    ['job', c.job ? `${c.job.name ?? ''} (${c.job.id})` : undefined],
    ['held drive', c.heldDriveId],
    ['method', c.method],
    ['destroyed by', c.destroyedBy],
    ['witness', c.witness],
    ['destroyed at', c.destroyedAt],
  ]));
  out('\n' + custodyTable(c.chainOfCustody ?? []));
}

const custodyTable = (entries: any[]) => table(['AT', 'EVENT', 'JOB', 'PACKAGE', 'BY'], entries.map((e) => [e.at, e.kind, e.jobName ?? '', e.packageId ?? '', e.actorId ?? '']));

/** Runs one operator call: prints the JSON or the job (with the call's own result summarized by `line`). */
async function jobAction(f: ClientFlags, jobId: string, path: string, body: Record<string, unknown>, line: (r: any) => string): Promise<void> {
  const r = await new ApiClient(f).request('POST', `/operator/jobs/${jobIdOf(jobId)}/${path}`, { body });
  if (f.json) return printJson(r.body);
  out(line(r.body) + '\n\n');
  printOperatorJob(r.body.job);
}

export function registerOpsCommands(program: Command): void {
  const ops = program.command('ops').description('data-center operators: receive packages, tasks, faults, ship back, held drives, destruction (operator token)');

  withClientFlags(ops.command('receive <driveIds...>').description('record a package and the drive ids scanned from it'))
    .requiredOption('--carrier <name>', 'carrier that delivered the package')
    .requiredOption('--tracking <number>', 'tracking number on the package')
    .option('--job <id>', 'the job the package belongs to, when known (else found by tracking number and drives)')
    .action(async (driveIds: string[], f: ClientFlags & { carrier: string; tracking: string; job?: string }) => {
      const body = { carrier: f.carrier, trackingNumber: f.tracking, driveIds, ...(f.job ? { jobId: positiveInt(f.job, '--job') } : {}) };
      const r = await new ApiClient(f).request('POST', '/operator/packages', { body });
      if (f.json) return printJson(r.body);
      const b = r.body;
      const rows: Array<Array<string | number>> = [
        ...b.received.map((d: any) => [d.driveId, d.jobName, d.late ? `received late (${d.from} -> ${d.to})` : `received (${d.from} -> ${d.to})`]),
        ...b.neverReceived.map((d: any) => [d.driveId, d.jobId, 'never received (missing from the package)']),
        ...b.extra.map((d: any) => [d.driveId, d.jobId, 'extra: not processed, returned with the job']),
        ...b.held.map((d: any) => [d.driveId, d.jobId ?? '', `held (${d.reason}), held drive ${d.heldDriveId}, task ${d.taskId}`]),
        ...b.alreadyIn.map((d: any) => [d.driveId, d.jobId, `already in (${d.state})`]),
      ];
      out(`package ${b.packageId}\n` + table(['DRIVE', 'JOB', 'OUTCOME'], rows));
      if (b.jobs.length > 0) out('\n' + table(['JOB', 'NAME', 'STATE'], b.jobs.map((j: any) => [j.jobId, j.name, j.state])));
    });

  withClientFlags(ops.command('jobs').description('list jobs across subscriptions'))
    .option('--state <states>', 'only these states (comma-separated)')
    .option('--subscription <id>', 'only this subscription')
    .option('--name <text>', 'name contains')
    .option('--top <n>', 'at most this many (default 100)')
    .action(async (f: ClientFlags & { state?: string; subscription?: string; name?: string; top?: string }) => {
      const q = new URLSearchParams();
      if (f.state) q.set('state', f.state);
      if (f.subscription) q.set('subscriptionId', f.subscription);
      if (f.name) q.set('name', f.name);
      if (f.top) q.set('top', String(positiveInt(f.top, '--top')));
      const r = await new ApiClient(f).request('GET', `/operator/jobs${q.size ? `?${q}` : ''}`);
      if (f.json) return printJson(r.body);
      out(table(['ID', 'SUBSCRIPTION', 'RESOURCE GROUP', 'NAME', 'TYPE', 'STATE', 'NEXT DEADLINE'], r.body.value.map((j: any) => {
        const d = (j.pendingDeadlines ?? [])[0];
        return [j.id, j.subscriptionId, j.resourceGroup, j.name, j.jobType, j.state, d ? `${d.kind} ${d.dueAt}` : ''];
      })));
    });

  withClientFlags(ops.command('job <jobId>').description('one job with its drives, open tasks and deadlines'))
    .action(async (jobId: string, f: ClientFlags) => {
      const r = await new ApiClient(f).request('GET', `/operator/jobs/${jobIdOf(jobId)}`);
      if (f.json) return printJson(r.body);
      printOperatorJob(r.body);
    });

  const tasks = ops.command('tasks').description('the operators\' task queue');
  withClientFlags(tasks.command('list').description('list tasks (open by default)'))
    .option('--status <status>', 'open, closed or all', 'open')
    .option('--kind <kind>', 'only this kind of task')
    .option('--job <id>', 'only tasks of this job')
    .option('--overdue', 'only tasks past their due date')
    .option('--top <n>', 'page size')
    .action(async (f: ClientFlags & { status: string; kind?: string; job?: string; overdue?: boolean; top?: string }) => {
      if (!['open', 'closed', 'all'].includes(f.status)) throw new CliExit(ExitCode.Usage, `--status must be open, closed or all, not '${f.status}'.`);
      const q = new URLSearchParams({ status: f.status });
      if (f.kind) q.set('kind', f.kind);
      if (f.job) q.set('jobId', String(positiveInt(f.job, '--job')));
      if (f.overdue) q.set('overdue', 'true');
      if (f.top) q.set('top', String(positiveInt(f.top, '--top')));
      const r = await new ApiClient(f).request('GET', `/operator/tasks?${q}`);
      if (f.json) return printJson(r.body);
      out(taskTable(r.body.value));
    });
  withClientFlags(tasks.command('close <taskId>').description('close a task with a note on what was done'))
    .requiredOption('--note <text>', 'what was done')
    .action(async (taskId: string, f: ClientFlags & { note: string }) => {
      const r = await new ApiClient(f).request('POST', `/operator/tasks/${positiveInt(taskId, 'the task id')}/close`, { body: { note: requireText(f.note, '--note') } });
      if (f.json) return printJson(r.body);
      out(`closed task ${r.body.id} (${r.body.kind})\n`);
    });

  withClientFlags(ops.command('fault <jobId>').description('fault a job, or one drive with --drive, with a reason'))
    .requiredOption('--reason <text>', 'why it cannot progress')
    .option('--drive <driveId>', 'fault this drive instead of the job')
    .action((jobId: string, f: ClientFlags & { reason: string; drive?: string }) =>
      jobAction(f, jobId, f.drive ? `drives/${enc(f.drive)}/fault` : 'fault', { reason: f.reason }, (r) =>
        f.drive ? `drive ${f.drive}: ${r.job.drives.find((d: any) => d.driveId === f.drive)?.state}` : `job ${r.job.name}: ${r.job.state}`));

  withClientFlags(ops.command('unfault <jobId>').description('move a faulted job (or drive) back, only to a state the tables allow'))
    .requiredOption('--note <text>', 'how it was resolved')
    .option('--to <state>', 'target state (default: the state it was faulted from)')
    .option('--drive <driveId>', 'unfault this drive instead of the job')
    .action((jobId: string, f: ClientFlags & { note: string; to?: string; drive?: string }) =>
      jobAction(f, jobId, f.drive ? `drives/${enc(f.drive)}/unfault` : 'unfault', { note: f.note, ...(f.to ? { to: f.to } : {}) }, (r) =>
        f.drive ? `drive ${f.drive}: ${r.job.drives.find((d: any) => d.driveId === f.drive)?.state}` : `job ${r.job.name}: ${r.job.state}`));

  withClientFlags(ops.command('ship-back <jobId>').description('record the return package: drives ShippedBack, job Completed or Closed'))
    .requiredOption('--carrier <name>', 'carrier of the return package')
    .requiredOption('--tracking <number>', 'tracking number of the return package')
    .option('--drive-count <n>', 'drives in the package (default: all that ship)')
    .option('--ship-date <date>', 'when it was sent (default now)')
    .action((jobId: string, f: ClientFlags & { carrier: string; tracking: string; driveCount?: string; shipDate?: string }) => {
      const body: Record<string, unknown> = { carrierName: f.carrier, trackingNumber: f.tracking };
      if (f.driveCount !== undefined) {
        if (!/^\d+$/.test(f.driveCount)) throw new CliExit(ExitCode.Usage, '--drive-count must be a whole number.');
        body.driveCount = Number(f.driveCount);
      }
      if (f.shipDate) body.shipDate = f.shipDate;
      return jobAction(f, jobId, 'ship-back', body, (r) => `shipped back: job ${r.job.name} is ${r.job.state}`);
    });

  withClientFlags(ops.command('return-issue <jobId>').description('drives damaged or lost in return shipping (on a Completed/Closed job)'))
    .requiredOption('--kind <kind>', 'damaged or lost')
    .requiredOption('--note <text>', 'what happened')
    .option('--drive <driveId>', 'affected drive (repeatable; default all shipped back)', collect)
    .option('--blob <path>', 'blob to re-export or download (repeatable)', collect)
    .action((jobId: string, f: ClientFlags & { kind: string; note: string; drive?: string[]; blob?: string[] }) =>
      jobAction(f, jobId, 'return-issues', { kind: f.kind, note: f.note, ...(f.drive ? { driveIds: f.drive } : {}), ...(f.blob ? { blobs: f.blob } : {}) },
        (r) => `recorded: drives ${f.kind} in return shipping of job ${r.job.name}`));

  withClientFlags(ops.command('address-problem <jobId>').description('flag a wrong or missing return address (Transferring/Packaging): opens a task'))
    .requiredOption('--note <text>', 'what is wrong')
    .action((jobId: string, f: ClientFlags & { note: string }) =>
      jobAction(f, jobId, 'return-address-problem', { note: f.note }, (r) => `flagged the return address of job ${r.job.name}`));

  withClientFlags(ops.command('extend-shipping <jobId>').description('the package is late: wait longer (default 14 more days)'))
    .option('--days <n>', 'days to wait from now')
    .option('--note <text>', 'what the customer said')
    .action((jobId: string, f: ClientFlags & { days?: string; note?: string }) =>
      jobAction(f, jobId, 'extend-shipping', { ...(f.days ? { days: positiveInt(f.days, '--days') } : {}), ...(f.note ? { note: f.note } : {}) },
        (r) => `waiting for the package of job ${r.job.name} until ${iso(r.job.shippingExtendedUntil)}`));

  withClientFlags(ops.command('close-undelivered <jobId>').description('the package never came (customer cancelled or unreachable): close the job'))
    .option('--note <text>', 'why')
    .action((jobId: string, f: ClientFlags & { note?: string }) =>
      jobAction(f, jobId, 'close-undelivered', f.note ? { note: f.note } : {}, (r) => `job ${r.job.name} is ${r.job.state}`));

  withClientFlags(ops.command('accept-partial <jobId>').description('the package lacked drives and the customer agrees to go on without them'))
    .option('--note <text>', 'what the customer said')
    .action((jobId: string, f: ClientFlags & { note?: string }) =>
      jobAction(f, jobId, 'accept-partial-delivery', f.note ? { note: f.note } : {}, (r) => `job ${r.job.name} is ${r.job.state}`));

  const held = ops.command('held').description('drives held because their job was not in Shipping or is unknown');
  withClientFlags(held.command('list').description('list held drives'))
    .option('--state <state>', 'only this state (Held, Released, Returned, DueForDestruction, Destroyed)')
    .option('--job <id>', 'only drives of this job')
    .action(async (f: ClientFlags & { state?: string; job?: string }) => {
      const q = new URLSearchParams();
      if (f.state) q.set('state', f.state);
      if (f.job) q.set('jobId', String(positiveInt(f.job, '--job')));
      const r = await new ApiClient(f).request('GET', `/operator/held-drives${q.size ? `?${q}` : ''}`);
      if (f.json) return printJson(r.body);
      out(heldTable(r.body.value));
    });
  withClientFlags(held.command('release <heldId>').description('the job is now in Shipping: the drive goes on into it'))
    .option('--job <id>', 'the job to release it into (default: the job that lists it)')
    .action(async (heldId: string, f: ClientFlags & { job?: string }) => {
      const r = await new ApiClient(f).request('POST', `/operator/held-drives/${positiveInt(heldId, 'the held drive id')}/release`, { body: f.job ? { jobId: positiveInt(f.job, '--job') } : {} });
      if (f.json) return printJson(r.body);
      out(`released drive ${r.body.held.driveId}; job is ${r.body.jobState}\n`);
    });
  withClientFlags(held.command('return <heldId>').description('send a held drive back to its sender unprocessed'))
    .requiredOption('--carrier <name>', 'carrier')
    .requiredOption('--tracking <number>', 'tracking number')
    .option('--note <text>', 'note')
    .action(async (heldId: string, f: ClientFlags & { carrier: string; tracking: string; note?: string }) => {
      const r = await new ApiClient(f).request('POST', `/operator/held-drives/${positiveInt(heldId, 'the held drive id')}/return`, { body: { carrier: f.carrier, trackingNumber: f.tracking, ...(f.note ? { note: f.note } : {}) } });
      if (f.json) return printJson(r.body);
      out(`drive ${r.body.driveId} is ${r.body.state}\n`);
    });

  withClientFlags(ops.command('destroy [jobId] [driveId]').description('record the secure destruction of a job\'s drive (or --held ID); prints the certificate'))
    .option('--held <id>', 'a held drive instead of a job\'s drive')
    .requiredOption('--method <text>', 'how it was destroyed, e.g. "NIST 800-88 purge, shredded"')
    .requiredOption('--by <name>', 'who destroyed it')
    .option('--witness <name>', 'who witnessed it')
    .option('--at <date>', 'when (default now)')
    .action(async (jobId: string | undefined, driveId: string | undefined, f: ClientFlags & { held?: string; method: string; by: string; witness?: string; at?: string }) => {
      const body = { method: f.method, destroyedBy: f.by, ...(f.witness ? { witness: f.witness } : {}), ...(f.at ? { destroyedAt: f.at } : {}) };
      let path: string;
      if (f.held !== undefined) {
        if (jobId !== undefined) throw new CliExit(ExitCode.Usage, 'give either --held ID or JOBID DRIVEID, not both.');
        path = `/operator/held-drives/${positiveInt(f.held, '--held')}/destruction`;
      } else {
        if (jobId === undefined || driveId === undefined) throw new CliExit(ExitCode.Usage, 'give JOBID DRIVEID, or --held ID.');
        path = `/operator/jobs/${jobIdOf(jobId)}/drives/${enc(driveId)}/destruction`;
      }
      const r = await new ApiClient(f).request('POST', path, { body });
      if (f.json) return printJson(r.body);
      printCertificate(r.body);
    });

  withClientFlags(ops.command('custody <driveId>').description('chain of custody of a drive, from receipt to return or destruction'))
    .action(async (driveId: string, f: ClientFlags) => {
      const r = await new ApiClient(f).request('GET', `/operator/drives/${enc(driveId)}/custody`);
      if (f.json) return printJson(r.body);
      out(custodyTable(r.body.chainOfCustody));
      for (const c of r.body.certificates ?? []) out(`\ndestroyed: certificate ${c.certificateId}, ${c.method}, by ${c.destroyedBy} at ${c.destroyedAt}\n`);
    });

  withClientFlags(ops.command('sweep').description('apply every due timer now (normally done every minute)'))
    .action(async (f: ClientFlags) => {
      const r = await new ApiClient(f).request('POST', '/operator/timers/sweep');
      if (f.json) return printJson(r.body);
      out(keyValues(Object.entries(r.body).map(([k, v]) => [k, v as string | number])));
    });
}
