/** `GET /readyz`: database, migrations, and every registered blob backend reachable (never leaking a connection string). */
import * as fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StorageAccounts } from '../../src/storage-accounts/registry.ts';
import { drivers } from '../helpers/db.ts';
import { call, startServer, type TestServer } from './helpers.ts';

for (const driver of drivers) {
  describe(`GET /readyz [${driver}]`, () => {
    let s: TestServer;
    let dir: string;
    beforeAll(async () => {
      s = await startServer(driver);
      dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'snk-readyz-'));
    });
    afterAll(async () => {
      await s.close();
      await fsp.rm(dir, { recursive: true, force: true });
    });

    it('is ready with no storage account, and with a reachable local folder; names the backends', async () => {
      let r = await call(s, 'GET', '/readyz', { token: null });
      expect(r.status).toBe(200);
      expect(r.body).toEqual({ status: 'ready', blobBackends: [] });
      await new StorageAccounts(s.app.store).add({ accountId: 'good', backend: 'local', rootDir: path.join(dir, 'blobs') });
      r = await call(s, 'GET', '/readyz', { token: null });
      expect(r.status).toBe(200);
      expect(r.body.blobBackends).toEqual([{ accountId: 'good', backend: 'local', ok: true }]);
    });

    it('is not ready while a local folder cannot be written; ready again once it can', async () => {
      const blocker = path.join(dir, 'not-a-dir');
      await fsp.writeFile(blocker, 'x');
      const accounts = new StorageAccounts(s.app.store);
      await accounts.add({ accountId: 'broken', backend: 'local', rootDir: path.join(blocker, 'blobs') });
      let r = await call(s, 'GET', '/readyz', { token: null });
      expect(r.status).toBe(503);
      expect(r.body.error.message).toContain('broken');
      expect(r.body.error.message).not.toContain('good');
      // /healthz (liveness) stays up: a storage outage must not get the process restarted.
      expect((await call(s, 'GET', '/healthz', { token: null })).status).toBe(200);
      await fsp.rm(blocker);
      r = await call(s, 'GET', '/readyz', { token: null });
      expect(r.status).toBe(200);
      await accounts.remove('broken');
    });

    it('is not ready when an Azure account does not answer, and never shows its key', async () => {
      const key = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';
      const accounts = new StorageAccounts(s.app.store);
      await accounts.add({ accountId: 'remote', backend: 'azure', connectionString: `DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=${key};BlobEndpoint=http://127.0.0.1:1/devstoreaccount1;` });
      const r = await call(s, 'GET', '/readyz', { token: null });
      expect(r.status).toBe(503);
      expect(r.body.error.message).toContain('remote (azure');
      expect(r.text).not.toContain(key);
      await accounts.remove('remote');
      expect((await call(s, 'GET', '/readyz', { token: null })).status).toBe(200);
    }, 30_000);
  });
}
