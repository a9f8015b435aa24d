/** Tokens, roles and tenant isolation on the customer API; BitLocker keys only through listBitLockerKeys. */
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildServer } from '../../src/api/server.ts';
import { drivers } from '../helpers/db.ts';
import { BITLOCKER, OTHER_SUB, RG, SUB, call, importBody, jobPath, startServer, withApi, type TestServer } from './helpers.ts';

for (const driver of drivers) {
  describe(`auth, roles and tenant isolation [${driver}]`, () => {
    let s: TestServer;
    beforeAll(async () => {
      s = await startServer(driver);
      expect((await call(s, 'PUT', withApi(jobPath('mine')), { body: importBody(['SECRETDRIVE']) })).status).toBe(201);
    });
    afterAll(async () => s?.close());

    it('every ARM route needs a bearer token: 401 AuthenticationFailed without one, InvalidAuthenticationToken with a bad one', async () => {
      for (const url of [withApi(jobPath('mine')), withApi('/providers/Microsoft.ImportExport/locations'), withApi('/providers/Microsoft.ImportExport/operations'), withApi(`/subscriptions/${SUB}/providers/Microsoft.ImportExport/jobs`)]) {
        const none = await call(s, 'GET', url, { token: null });
        expect(none.status, url).toBe(401);
        expect(none.body.error.code).toBe('AuthenticationFailed');
        const bad = await call(s, 'GET', url, { token: 'snk_nope' });
        expect(bad.status).toBe(401);
        expect(bad.body.error.code).toBe('InvalidAuthenticationToken');
      }
      expect((await call(s, 'GET', '/healthz', { token: null })).status).toBe(200);
    });

    it("another subscription's job is 404, never 403 — for reads, writes, keys and events", async () => {
      const other = s.tokens.otherOwner;
      for (const [m, tail, body] of [['GET', '', undefined], ['PATCH', '', { tags: {} }], ['DELETE', '', undefined], ['POST', '/listBitLockerKeys', undefined], ['GET', '/events?follow=false', undefined], ['PUT', '', importBody()]] as const) {
        const r = await call(s, m, withApi(jobPath('mine') + tail), { token: other, body });
        expect(r.status, m + tail).toBe(404);
        expect(r.body.error.code).toBe('ResourceNotFound');
      }
      const list = await call(s, 'GET', withApi(`/subscriptions/${SUB}/providers/Microsoft.ImportExport/jobs`), { token: other });
      expect(list.status).toBe(404);
      // and its own subscription does not show the job
      const own = await call(s, 'GET', withApi(`/subscriptions/${OTHER_SUB}/providers/Microsoft.ImportExport/jobs`), { token: other });
      expect(own.status).toBe(200);
      expect(own.body.value).toEqual([]);
    });

    it('a token scoped to a subscription cannot create a job in another one (404)', async () => {
      const r = await call(s, 'PUT', withApi(jobPath('intruder', RG, OTHER_SUB)), { token: s.tokens.owner, body: importBody() });
      expect(r.status).toBe(404);
    });

    it('reader: reads jobs, cannot write (403 AuthorizationFailed) and never sees BitLocker keys', async () => {
      const t = s.tokens.reader;
      expect((await call(s, 'GET', withApi(jobPath('mine')), { token: t })).status).toBe(200);
      expect((await call(s, 'GET', withApi(`/subscriptions/${SUB}/resourceGroups/${RG}/providers/Microsoft.ImportExport/jobs`), { token: t })).status).toBe(200);
      for (const [m, tail, body] of [['PUT', '', importBody()], ['PATCH', '', { tags: {} }], ['DELETE', '', undefined], ['POST', '/listBitLockerKeys', undefined]] as const) {
        const r = await call(s, m, withApi(jobPath('mine') + tail), { token: t, body });
        expect(r.status, m + tail).toBe(403);
        expect(r.body.error.code).toBe('AuthorizationFailed');
      }
    });

    it('operator tokens do not act as customers on the ARM API (no writes, no keys)', async () => {
      const t = s.tokens.operator;
      expect((await call(s, 'PATCH', withApi(jobPath('mine')), { token: t, body: { tags: {} } })).status).toBe(403);
      expect((await call(s, 'POST', withApi(jobPath('mine') + '/listBitLockerKeys'), { token: t })).status).toBe(403);
    });

    it('admin tokens (SNEAKERNET_BOOTSTRAP_TOKEN) reach every subscription', async () => {
      expect((await call(s, 'GET', withApi(jobPath('mine')), { token: s.admin })).status).toBe(200);
      expect((await call(s, 'PUT', withApi(jobPath('adminmade', RG, OTHER_SUB)), { token: s.admin, body: importBody() })).status).toBe(201);
    });

    it('a revoked token stops working', async () => {
      const created = await call(s, 'POST', '/admin/tokens', { token: s.admin, body: { subscriptionId: SUB, role: 'owner' } });
      expect(created.status).toBe(201);
      const tok = created.body.token as string;
      expect((await call(s, 'GET', withApi(jobPath('mine')), { token: tok })).status).toBe(200);
      expect((await call(s, 'DELETE', `/admin/tokens/${created.body.id}`, { token: s.admin })).status).toBe(200);
      expect((await call(s, 'GET', withApi(jobPath('mine')), { token: tok })).status).toBe(401);
    });

    it('BitLocker keys appear only in listBitLockerKeys: never in PUT/GET/PATCH/List bodies, events, outbox or logs', async () => {
      const lines: string[] = [];
      const stream = new Writable({ write(chunk, _enc, cb) { lines.push(String(chunk)); cb(); } });
      const logged = await buildServer(s.app, { logger: { level: 'trace', stream } });
      const bodies: string[] = [];
      const via = async (method: string, url: string, body?: unknown) => {
        const r = await logged.inject({ method: method as 'GET', url, headers: { authorization: `Bearer ${s.tokens.owner}`, ...(body ? { 'content-type': 'application/json' } : {}) }, payload: body ? JSON.stringify(body) : undefined });
        bodies.push(r.body);
        return r;
      };
      expect((await via('PUT', withApi(jobPath('keyjob')), importBody(['K1', 'K2']))).statusCode).toBe(201);
      await via('GET', withApi(jobPath('keyjob')));
      await via('PATCH', withApi(jobPath('keyjob')), { properties: { logLevel: 'Error' } });
      await via('GET', withApi(`/subscriptions/${SUB}/providers/Microsoft.ImportExport/jobs`));
      await via('GET', withApi(jobPath('keyjob') + '/events?follow=false'));
      const keys = await via('POST', withApi(jobPath('keyjob') + '/listBitLockerKeys'));
      await logged.close();
      expect(JSON.parse(keys.body).value).toEqual([{ driveId: 'K1', bitLockerKey: BITLOCKER }, { driveId: 'K2', bitLockerKey: BITLOCKER }]);
      for (const b of bodies.slice(0, -1)) expect(b).not.toContain(BITLOCKER);
      expect(lines.length).toBeGreaterThan(0);
      expect(lines.join('')).not.toContain(BITLOCKER);
      const events = await s.app.store.db.selectFrom('job_events').selectAll().execute();
      const outbox = await s.app.store.db.selectFrom('outbox').selectAll().execute();
      expect(JSON.stringify(events)).not.toContain(BITLOCKER);
      expect(JSON.stringify(outbox)).not.toContain(BITLOCKER);
      // at rest, the key is sealed
      const drives = await s.app.store.db.selectFrom('drives').select('bitlocker_key').execute();
      expect(JSON.stringify(drives)).not.toContain(BITLOCKER);
    });
  });
}
