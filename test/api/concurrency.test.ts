/** ETags and concurrent writers: If-Match makes a change conditional (412 on mismatch) and no update is lost. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { drivers } from '../helpers/db.ts';
import { call, importBody, jobPath, startServer, withApi, type TestServer } from './helpers.ts';

for (const driver of drivers) {
  describe(`ETag / If-Match concurrency [${driver}]`, () => {
    let s: TestServer;
    beforeAll(async () => {
      s = await startServer(driver);
    });
    afterAll(async () => s?.close());

    it('If-Match with a stale ETag is 412 PreconditionFailed; with the current one the PATCH applies', async () => {
      const put = await call(s, 'PUT', withApi(jobPath('etag1')), { body: importBody() });
      const etag = put.headers.etag as string;
      const ok = await call(s, 'PATCH', withApi(jobPath('etag1')), { body: { properties: { logLevel: 'Error' } }, headers: { 'if-match': etag } });
      expect(ok.status).toBe(200);
      expect(ok.headers.etag).not.toBe(etag);
      const stale = await call(s, 'PATCH', withApi(jobPath('etag1')), { body: { properties: { logLevel: 'Verbose' } }, headers: { 'if-match': etag } });
      expect(stale.status).toBe(412);
      expect(stale.body.error.code).toBe('PreconditionFailed');
      expect((await call(s, 'GET', withApi(jobPath('etag1')))).body.properties.logLevel).toBe('Error');
      expect((await call(s, 'PATCH', withApi(jobPath('etag1')), { body: { tags: {} }, headers: { 'if-match': '*' } })).status).toBe(200);
    });

    it('If-Match on DELETE: a stale ETag is 412 and the job stays', async () => {
      const put = await call(s, 'PUT', withApi(jobPath('etag2')), { body: importBody() });
      await call(s, 'PATCH', withApi(jobPath('etag2')), { body: { tags: { v: '2' } } });
      const r = await call(s, 'DELETE', withApi(jobPath('etag2')), { headers: { 'if-match': put.headers.etag as string } });
      expect(r.status).toBe(412);
      expect((await call(s, 'GET', withApi(jobPath('etag2')))).status).toBe(200);
    });

    it('If-None-Match: * on PUT creates only (412 when the job exists)', async () => {
      expect((await call(s, 'PUT', withApi(jobPath('etag3')), { body: importBody(), headers: { 'if-none-match': '*' } })).status).toBe(201);
      expect((await call(s, 'PUT', withApi(jobPath('etag3')), { body: importBody(), headers: { 'if-none-match': '*' } })).status).toBe(412);
    });

    it('ETag race: two PATCHes with the same If-Match — exactly one wins, the other gets 412', async () => {
      for (let round = 0; round < 5; round++) {
        const name = `race${round}`;
        const put = await call(s, 'PUT', withApi(jobPath(name)), { body: importBody() });
        const etag = put.headers.etag as string;
        const [a, b] = await Promise.all([
          call(s, 'PATCH', withApi(jobPath(name)), { body: { tags: { writer: 'a' } }, headers: { 'if-match': etag } }),
          call(s, 'PATCH', withApi(jobPath(name)), { body: { tags: { writer: 'b' } }, headers: { 'if-match': etag } }),
        ]);
        expect([a.status, b.status].sort()).toEqual([200, 412]);
        const winner = a.status === 200 ? 'a' : 'b';
        expect((await call(s, 'GET', withApi(jobPath(name)))).body.tags).toEqual({ writer: winner });
      }
    });

    it('concurrent PATCHes without If-Match never lose an update', async () => {
      await call(s, 'PUT', withApi(jobPath('many')), { body: { ...importBody(), properties: { ...importBody().properties, logLevel: 'Error', backupDriveManifest: false } } });
      const [r1, r2, r3] = await Promise.all([
        call(s, 'PATCH', withApi(jobPath('many')), { body: { properties: { logLevel: 'Verbose' } } }),
        call(s, 'PATCH', withApi(jobPath('many')), { body: { properties: { backupDriveManifest: true } } }),
        call(s, 'PATCH', withApi(jobPath('many')), { body: { properties: { returnShipping: { carrierName: 'DHL', carrierAccountNumber: '42' } } } }),
      ]);
      expect([r1.status, r2.status, r3.status]).toEqual([200, 200, 200]);
      const g = await call(s, 'GET', withApi(jobPath('many')));
      expect(g.body.properties).toMatchObject({ logLevel: 'Verbose', backupDriveManifest: true, returnShipping: { carrierName: 'DHL', carrierAccountNumber: '42' } });
      expect(g.headers.etag).toBe('"4"');
    });
  });
}
