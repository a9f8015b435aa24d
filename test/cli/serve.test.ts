import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli, startServer, stopServer } from '../helpers/cli.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'snk-serve-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('sneakernet serve', () => {
  it('creates the data dir, answers /healthz, prints its URL and a first admin token; a second process gets one clear line', async () => {
    const dataDir = path.join(tmp, 'fresh', 'nested');
    const { child, url, output } = await startServer(['serve', '--port', '0', '--data-dir', dataDir]);
    try {
      const res = await fetch(`${url}/healthz`);
      expect(res.status).toBe(200);
      expect(await res.json()).toMatchObject({ status: 'ok', database: 'pglite' });
      expect(fs.existsSync(dataDir)).toBe(true);
      await new Promise((r) => setTimeout(r, 300));
      expect(output()).toMatch(/admin token/);
      // The embedded default needs no setup: blobs go to a folder under the data dir.
      expect(output()).toContain(path.join(dataDir, 'blobs'));
      // Every other route needs a token, with an ARM error body.
      const denied = await fetch(`${url}/admin/tokens`);
      expect(denied.status).toBe(401);
      expect((await denied.json()).error.code).toBe('AuthenticationFailed');

      const second = await runCli(['serve', '--port', '0', '--data-dir', dataDir]);
      expect(second.code).not.toBe(0);
      expect(second.stderr.trim().split('\n')).toHaveLength(1);
      expect(second.stderr).toMatch(/in use by process \d+/);
    } finally {
      await stopServer(child);
    }
  });

  it('a corrupt data dir gives one clear line on stderr and a non-zero exit, not a stack trace', async () => {
    const dataDir = path.join(tmp, 'corrupt');
    fs.mkdirSync(path.join(dataDir, 'pgdata'), { recursive: true });
    fs.writeFileSync(path.join(dataDir, 'pgdata', 'PG_VERSION'), 'garbage\n');
    fs.writeFileSync(path.join(dataDir, 'pgdata', 'postgresql.conf'), '\0\0\0 not a config');
    const r = await runCli(['serve', '--port', '0', '--data-dir', dataDir]);
    expect(r.code).not.toBe(0);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/cannot be opened/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('a bad flag is a usage error with exit code 2', async () => {
    const r = await runCli(['serve', '--port', 'eighty']);
    expect(r.code).toBe(2);
  });
});
