/**
 * The `sneakernet jobs …` CLI is a thin client of the ARM API: the real binary (child process) against a real
 * server over HTTPS with a self-signed certificate (--ca), tables by default, --json, and exit codes scripts rely on.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JobState } from '../../src/domain/states.ts';
import { advanceJob } from '../api/advance.ts';
import { BITLOCKER, RG, STORAGE, SUB, call, importBody, jobPath, makeCert, startServer, withApi, type TestCert, type TestServer } from '../api/helpers.ts';
import { BIN, runCli } from '../helpers/cli.ts';

describe('sneakernet jobs (CLI over HTTPS)', { timeout: 240_000 }, () => {
  let cert: TestCert;
  let s: TestServer;
  let env: NodeJS.ProcessEnv;
  const cli = (args: string[], extra: NodeJS.ProcessEnv = {}) => runCli(args, { ...env, ...extra });

  beforeAll(async () => {
    cert = makeCert();
    s = await startServer('pglite', { https: cert });
    env = { SNEAKERNET_ENDPOINT: s.url, SNEAKERNET_TOKEN: s.tokens.owner, SNEAKERNET_CA: cert.certFile, SNEAKERNET_RESOURCE_GROUP: RG };
  });
  afterAll(async () => {
    await s?.close();
    fs.rmSync(cert.dir, { recursive: true, force: true });
  });

  const drive = (id: string) => `driveId=${id},bitLockerKey=${BITLOCKER},manifestFile=\\DriveManifest.xml,manifestHash=109B21108597EF36D5785F08303F3638`;
  const address = 'recipientName=Ann Smith,streetAddress1=1 Main St, Suite 5,city=Redmond,postalCode=98052,countryOrRegion=USA,phone=1234,email=ann@example.com';

  it('create, show, list, update, ship, keys, cancel and delete drive the API; tables by default, --json on request', async () => {
    const created = await cli(['jobs', 'create', 'clijob', '--storage-account', STORAGE, '--drive', drive('CLI1'), '--drive', drive('CLI2'), '--tag', 'team=ops']);
    expect(created.code, created.stderr).toBe(0);
    expect(created.stdout).toMatch(/^name:\s+clijob$/m);
    expect(created.stdout).toMatch(/^state:\s+Creating$/m);
    expect(created.stdout).toMatch(/CLI1\s+Specified/);
    expect(created.stdout).not.toContain(BITLOCKER);

    const shown = await cli(['jobs', 'show', 'clijob', '--json']);
    expect(shown.code).toBe(0);
    const job = JSON.parse(shown.stdout);
    expect(job.properties.driveList.map((d: { driveId: string }) => d.driveId)).toEqual(['CLI1', 'CLI2']);
    expect(job.tags).toEqual({ team: 'ops' });

    const [listed, listedJson] = await Promise.all([cli(['jobs', 'list']), cli(['jobs', 'list', '--state', 'Creating', '--json', '--top', '1'])]);
    expect(listed.code).toBe(0);
    expect(listed.stdout.split('\n')[0]).toMatch(/^NAME\s+RESOURCE GROUP\s+TYPE\s+STATE/);
    expect(listed.stdout).toMatch(/clijob\s+rg1\s+Import\s+Creating/);
    expect(JSON.parse(listedJson.stdout).value.map((j: { name: string }) => j.name)).toContain('clijob');

    const updated = await cli(['jobs', 'update', 'clijob', '--log-level', 'Verbose', '--return-address', address, '--if-match', job.properties.sneakernet.etag]);
    expect(updated.code, updated.stderr).toBe(0);
    const afterUpdate = JSON.parse((await cli(['jobs', 'show', 'clijob', '--json'])).stdout);
    expect(afterUpdate.properties.returnAddress.streetAddress1).toBe('1 Main St, Suite 5');
    expect(afterUpdate.properties.logLevel).toBe('Verbose');

    const shipped = await cli(['jobs', 'ship', 'clijob', '--carrier', 'FedEx', '--tracking', '7788', '--drive-count', '2']);
    expect(shipped.code, shipped.stderr).toBe(0);
    expect(shipped.stdout).toMatch(/^state:\s+Shipping$/m);
    expect(shipped.stdout).toMatch(/^delivery package:\s+FedEx 7788$/m);

    const keys = await cli(['jobs', 'keys', 'clijob']);
    expect(keys.code).toBe(0);
    expect(keys.stdout).toMatch(new RegExp(`CLI1\\s+${BITLOCKER}`));

    const cancelled = await cli(['jobs', 'cancel', 'clijob', '--json']);
    expect(cancelled.code).toBe(0);
    expect(JSON.parse(cancelled.stdout).properties.cancelRequested).toBe(true);

    await cli(['jobs', 'create', 'cligone', '--storage-account', STORAGE, '--drive', drive('GONE1')]);
    const deleted = await cli(['jobs', 'delete', 'cligone']);
    expect(deleted.code).toBe(0);
    expect(deleted.stdout.trim()).toBe('deleted cligone');
  });

  it('exit codes: 3 not found, 4 conflict, 5 unauthorized, 2 bad input, 6 unreachable; one line on stderr', async () => {
    expect((await call(s, 'PUT', withApi(jobPath('cliexit')), { body: importBody(['EX1']) })).status).toBe(201);
    const job = (await s.app.store.getJob({ subscriptionId: SUB, resourceGroup: RG, name: 'cliexit' }))!;
    await advanceJob(s.app.store, job.id, JobState.Shipping);
    const [notFound, conflict, unauthorized, badInput, reader, unreachable] = await Promise.all([
      cli(['jobs', 'show', 'nosuchjob']),
      cli(['jobs', 'delete', 'cliexit']),
      cli(['jobs', 'show', 'cliexit'], { SNEAKERNET_TOKEN: 'snk_wrong' }),
      cli(['jobs', 'create', 'x', '--storage-account', STORAGE]),
      cli(['jobs', 'keys', 'cliexit'], { SNEAKERNET_TOKEN: s.tokens.reader }),
      cli(['jobs', 'show', 'cliexit'], { SNEAKERNET_ENDPOINT: 'https://127.0.0.1:1' }),
    ]);
    expect(notFound.code).toBe(3);
    expect(conflict.code).toBe(4);
    expect(conflict.stderr).toMatch(/DeleteNotAllowedInState/);
    expect(unauthorized.code).toBe(5);
    expect(badInput.code).toBe(2);
    expect(reader.code).toBe(5);
    expect(unreachable.code).toBe(6);
    for (const r of [notFound, conflict, unauthorized, badInput, reader, unreachable]) {
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(/^sneakernet: /);
    }
  });

  it('without --ca the self-signed server is refused (no silent trust)', async () => {
    const r = await cli(['jobs', 'show', 'anyjob'], { SNEAKERNET_CA: '' });
    expect(r.code).toBe(6);
    expect(r.stderr).toMatch(/certificate/i);
  });

  it('watch prints the history, follows live changes and exits 0 once the job is Completed', async () => {
    const created = await cli(['jobs', 'create', 'watched', '--storage-account', STORAGE, '--drive', drive('W1')]);
    expect(created.code).toBe(0);
    const child = spawn(process.execPath, [BIN, 'jobs', 'watch', 'watched'], { env: { ...process.env, ...env, DATABASE_URL: '' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    const until = Date.now() + 30_000;
    while (!stdout.includes('create') && Date.now() < until) await new Promise((r) => setTimeout(r, 100));
    expect(stdout).toMatch(/create - -> Creating/);
    const job = (await s.app.store.getJob({ subscriptionId: SUB, resourceGroup: RG, name: 'watched' }))!;
    await advanceJob(s.app.store, job.id, JobState.Completed);
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    const code = await exited;
    clearTimeout(timer);
    expect(code, stderr).toBe(0);
    expect(stdout).toMatch(/provideShippingInfo Creating -> Shipping/);
    expect(stdout).toMatch(/drive W1 receive Specified -> Received/);
    expect(stdout).toMatch(/shipBack Packaging -> Completed/);
  });
});

describe('sneakernet token', { timeout: 240_000 }, () => {
  it('create on the store directly prints the token last; a data folder held by a server fails in one clear line (exit 6)', async () => {
    const dir = fs.mkdtempSync(path.join((await import('node:os')).tmpdir(), 'snk-data-'));
    try {
      const r = await runCli(['token', 'create', '--data-dir', dir, '--subscription', 'sub-z', '--role', 'owner']);
      expect(r.code, r.stderr).toBe(0);
      const token = r.stdout.trim().split('\n').at(-1)!;
      expect(token).toMatch(/^snk_/);
      const listed = await runCli(['token', 'list', '--data-dir', dir]);
      expect(listed.stdout).toMatch(/sub-z\s+owner/);
      expect(listed.stdout).not.toContain(token);
      // now a server holds the folder
      const { openApp } = await import('../../src/app.ts');
      const { configFromEnv } = await import('../../src/config.ts');
      const config = configFromEnv({ dataDir: dir });
      config.databaseUrl = undefined;
      const app = await openApp(config);
      try {
        expect(await app.tokens.verify(token)).not.toBeNull();
        const busy = await runCli(['token', 'create', '--data-dir', dir, '--subscription', 'sub-z', '--role', 'reader']);
        expect(busy.code).toBe(6);
        expect(busy.stderr.trim().split('\n')).toHaveLength(1);
        expect(busy.stderr).toMatch(/in use by process \d+.*--endpoint/);
      } finally {
        await app.close();
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('create, list and revoke through a running server with --endpoint/--token', async () => {
    const s = await startServer('pglite');
    try {
      const env = { SNEAKERNET_ENDPOINT: s.url, SNEAKERNET_TOKEN: s.admin };
      const created = await runCli(['token', 'create', '--subscription', SUB, '--role', 'reader', '--label', 'ci'], env);
      expect(created.code, created.stderr).toBe(0);
      const token = created.stdout.trim().split('\n').at(-1)!;
      expect(await s.app.tokens.verify(token)).toMatchObject({ role: 'reader', subscriptionId: SUB });
      const id = /^id: (.+)$/m.exec(created.stdout)![1];
      const listed = await runCli(['token', 'list', '--json'], env);
      expect(JSON.parse(listed.stdout).value.map((t: { id: string }) => t.id)).toContain(id);
      const revoked = await runCli(['token', 'revoke', id], env);
      expect(revoked.code).toBe(0);
      expect(await s.app.tokens.verify(token)).toBeNull();
      const notAdmin = await runCli(['token', 'list'], { ...env, SNEAKERNET_TOKEN: s.tokens.owner });
      expect(notAdmin.code).toBe(5);
    } finally {
      await s.close();
    }
  });
});
