/**
 * The data-plane CLI, run as the real `sneakernet` binary: `storage add|list|remove` (secrets never printed) and
 * `prepare-drive` (plain lines when stdout is not a terminal, the four drive fields, `--job` adds the drive to a
 * job in Creating through the API).
 */
import crypto from 'node:crypto';
import * as fsp from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JobState } from '../../src/domain/states.ts';
import { hashManifest } from '../../src/transfer/prepare.ts';
import { call, importBody, jobPath, RG, startServer, SUB, withApi, type TestServer } from '../api/helpers.ts';
import { runCli } from '../helpers/cli.ts';
import { makeTempDir } from '../transfer/tmp.ts';
import { randomBytes, writeTree } from './helpers.ts';

describe('sneakernet storage add|list|remove', { timeout: 180_000 }, () => {
  let tmp: { dir: string; cleanup: () => Promise<void> };
  beforeAll(async () => { tmp = await makeTempDir('storage-cli'); });
  afterAll(async () => { await tmp?.cleanup(); });

  it('registers local and Azure accounts, lists them without secrets, removes them', async () => {
    const dataDir = path.join(tmp.dir, 'data');
    const key = crypto.randomBytes(32).toString('base64');
    const cs = `DefaultEndpointsProtocol=http;AccountName=acctx;AccountKey=${key};BlobEndpoint=http://127.0.0.1:10000/acctx`;
    const env = { SECRET_CS: cs, SNEAKERNET_LOG: 'silent' };
    const cli = (args: string[]) => runCli([...args, '--data-dir', dataDir], env, 90_000);
    const noSecret = (r: { stdout: string; stderr: string }) => {
      for (const out of [r.stdout, r.stderr]) {
        expect(out).not.toContain(key);
        expect(out).not.toContain('AccountKey');
      }
    };

    const local = await cli(['storage', 'add', 'acctlocal', '--local', path.join(tmp.dir, 'blobs')]);
    expect(local.code, local.stderr).toBe(0);
    expect(local.stdout).toContain(`storage account acctlocal → local ${path.join(tmp.dir, 'blobs')}`);
    const azure = await cli(['storage', 'add', '/subscriptions/s/resourceGroups/r/providers/Microsoft.Storage/storageAccounts/acctx', '--azure-connection-string-env', 'SECRET_CS']);
    expect(azure.code, azure.stderr).toBe(0);
    expect(azure.stdout).toMatch(/→ azure \S+/);
    noSecret(azure);

    const list = await cli(['storage', 'list']);
    expect(list.code, list.stderr).toBe(0);
    noSecret(list);
    const lines = list.stdout.trim().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines.some((l) => l.startsWith('acctlocal\tlocal\t'))).toBe(true);
    expect(lines.some((l) => /acctx\tazure\t/.test(l))).toBe(true);
    const json = await cli(['storage', 'list', '--json']);
    expect(json.code).toBe(0);
    noSecret(json);
    const parsed = JSON.parse(json.stdout) as Array<Record<string, unknown>>;
    expect(parsed.map((a) => a.backend).sort()).toEqual(['azure', 'local']);
    expect(JSON.stringify(parsed)).not.toMatch(/connectionString|Cipher/i);

    // Usage errors: neither or both backends, an empty variable; the key never echoes back.
    expect((await cli(['storage', 'add', 'x'])).code).toBe(2);
    const empty = await runCli(['storage', 'add', 'y', '--azure-connection-string-env', 'NOPE_UNSET', '--data-dir', dataDir], { SNEAKERNET_LOG: 'silent' });
    expect(empty.code).toBe(2);
    expect(empty.stderr).toContain('NOPE_UNSET');

    const removed = await cli(['storage', 'remove', 'acctlocal']);
    expect(removed.code, removed.stderr).toBe(0);
    expect(removed.stdout).toContain('storage account acctlocal removed');
    const again = await cli(['storage', 'remove', 'acctlocal']);
    expect(again.code).not.toBe(0);
    const after = await cli(['storage', 'list']);
    expect(after.stdout.trim().split('\n')).toHaveLength(1);
    noSecret(after);
  });
});

describe('sneakernet prepare-drive', { timeout: 180_000 }, () => {
  let tmp: { dir: string; cleanup: () => Promise<void> };
  let s: TestServer;
  beforeAll(async () => {
    tmp = await makeTempDir('prepare-cli');
    s = await startServer('pglite');
  });
  afterAll(async () => {
    await s?.close();
    await tmp?.cleanup();
  });

  const dataset = async (name: string, files: Record<string, string | Buffer>, prefix: string) => {
    const src = path.join(tmp.dir, `${name}-src`);
    await writeTree(src, files);
    const csv = path.join(tmp.dir, `${name}.csv`);
    await fsp.writeFile(csv, `BasePath,DstBlobPathOrPrefix,BlobType,Disposition,MetadataFile,PropertiesFile\n${src}/,${prefix},BlockBlob,rename,,\n`);
    return csv;
  };
  const field = (out: string, name: string) => new RegExp(`^${name}: (.+)$`, 'm').exec(out)?.[1];

  it('prints plain progress lines (no terminal) and the four drive fields; a re-run resumes', async () => {
    const csv = await dataset('plain', { 'a.txt': 'alpha', 'd/b.bin': randomBytes(5000, 1) }, 'docs/');
    const drive = path.join(tmp.dir, 'DRIVEP1');
    const args = ['prepare-drive', '--dataset', csv, '--drive', drive, '--drive-id', 'DRIVEP1', '--journal', path.join(tmp.dir, 'p1.jrn')];
    const r = await runCli(args, { SNEAKERNET_LOG: 'silent' });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout + r.stderr).not.toContain('\r');
    expect(r.stdout).toMatch(/^copied docs\/a\.txt 5 bytes /m);
    expect(r.stdout).toMatch(/^copied docs\/d\/b\.bin 5000 bytes /m);
    expect(field(r.stdout, 'driveId')).toBe('DRIVEP1');
    expect(field(r.stdout, 'manifestFile')).toBe('\\DriveManifest.xml');
    const manifest = await hashManifest(path.join(drive, 'DriveManifest.xml'));
    expect(field(r.stdout, 'manifestHash')).toBe(manifest.manifestHash);
    expect(field(r.stdout, 'driveHeaderHash')).toBe(manifest.driveHeaderHash);
    const last = JSON.parse(r.stdout.trim().split('\n').pop()!);
    expect(last).toEqual({ driveId: 'DRIVEP1', manifestFile: '\\DriveManifest.xml', manifestHash: manifest.manifestHash, driveHeaderHash: field(r.stdout, 'driveHeaderHash') });

    const again = await runCli(args, { SNEAKERNET_LOG: 'silent' });
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toMatch(/copied 0 files \(0 bytes\), 2 already on the drive/);
    expect(field(again.stdout, 'manifestHash')).toBe(manifest.manifestHash);
  });

  it('--job adds the drive to a job in Creating through the API, with its manifest hash', async () => {
    const created = await call(s, 'PUT', withApi(jobPath('prepjob')), { body: importBody(['OTHERDRIVE1']) });
    expect(created.status, created.text).toBe(201);
    const csv = await dataset('job', { 'x.txt': 'x marks' }, 'jobdata/');
    const args = ['prepare-drive', '--dataset', csv, '--drive', path.join(tmp.dir, 'DRIVEJ1'), '--drive-id', 'DRIVEJ1', '--journal', path.join(tmp.dir, 'j1.jrn'),
      '--job', 'prepjob', '--subscription', SUB, '--resource-group', RG, '--endpoint', s.url, '--progress', 'none'];
    const r = await runCli(args, { SNEAKERNET_TOKEN: s.tokens.owner, SNEAKERNET_LOG: 'silent' });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^added drive DRIVEJ1 to job prepjob \(BitLocker key [0-9-]+\)$/m);
    const job = await call(s, 'GET', withApi(jobPath('prepjob')));
    expect(job.body.properties.state).toBe(JobState.Creating);
    const drives = job.body.properties.driveList as Array<{ driveId: string; manifestHash: string }>;
    expect(drives.map((d) => d.driveId)).toEqual(['OTHERDRIVE1', 'DRIVEJ1']);
    expect(drives[1].manifestHash).toBe(field(r.stdout, 'manifestHash'));

    // Another subscription's token cannot see the job: the command fails and the job is unchanged.
    const denied = await runCli([...args.slice(0, 9).map((a) => a.replace('DRIVEJ1', 'DRIVEJ2').replace('j1.jrn', 'j2.jrn')), '--job', 'prepjob', '--subscription', SUB, '--resource-group', RG, '--endpoint', s.url, '--progress', 'none'],
      { SNEAKERNET_TOKEN: s.tokens.otherOwner, SNEAKERNET_LOG: 'silent' });
    expect(denied.code).not.toBe(0);
    expect(denied.stderr).toMatch(/cannot read job prepjob/);
    const after = await call(s, 'GET', withApi(jobPath('prepjob')));
    expect(after.body.properties.driveList).toHaveLength(2);
  });
});
