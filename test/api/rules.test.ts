/** The ARM edge rules of issue 3 (§1.2–1.7 of the reference), each test named after the rule it checks. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/domain/clock.ts';
import { JobState } from '../../src/domain/states.ts';
import { CREATING_EXPIRY_MS, DAY_MS } from '../../src/domain/timers.ts';
import { drivers } from '../helpers/db.ts';
import { advanceJob } from './advance.ts';
import { API, DELIVERY, RETURN_ADDRESS, RG, SUB, call, exportBody, importBody, jobPath, startServer, withApi, type TestServer } from './helpers.ts';

for (const driver of drivers) {
  describe(`ARM edge rules [${driver}]`, () => {
    let s: TestServer;
    const clock = new ManualClock(new Date('2026-03-01T00:00:00Z'));
    let n = 0;
    const fresh = async (body: unknown = importBody([`D${++n}`])) => {
      const name = `rule${++n}`;
      const r = await call(s, 'PUT', withApi(jobPath(name)), { body });
      expect(r.status, r.text).toBe(201);
      return { name, id: (await s.app.store.getJob({ subscriptionId: SUB, resourceGroup: RG, name }))!.id };
    };
    const jobIn = async (state: JobState) => {
      const j = await fresh();
      await advanceJob(s.app.store, j.id, state);
      return j;
    };

    beforeAll(async () => {
      s = await startServer(driver, { clock });
    });
    afterAll(async () => s?.close());

    it('PUT answers 201 when it creates and 200 when it replaces; replace only while Creating', async () => {
      const j = await fresh();
      const again = await call(s, 'PUT', withApi(jobPath(j.name)), { body: importBody(['NEWDRIVE', 'OTHER']) });
      expect(again.status).toBe(200);
      expect(again.body.properties.driveList.map((d: { driveId: string }) => d.driveId)).toEqual(['NEWDRIVE', 'OTHER']);
      await advanceJob(s.app.store, j.id, JobState.Shipping);
      const refused = await call(s, 'PUT', withApi(jobPath(j.name)), { body: importBody() });
      expect(refused.status).toBe(409);
      expect(refused.body.error.code).toBe('Conflict');
    });

    it('PUT replace keeps drives that stay (same id) and their keys when none is given again', async () => {
      const j = await fresh(importBody(['KEEP1', 'DROP1']));
      const body = importBody(['KEEP1', 'ADD1']);
      const r = await call(s, 'PUT', withApi(jobPath(j.name)), { body });
      expect(r.status).toBe(200);
      const keys = await call(s, 'POST', withApi(jobPath(j.name) + '/listBitLockerKeys'));
      expect(keys.body.value.map((k: { driveId: string }) => k.driveId)).toEqual(['KEEP1', 'ADD1']);
    });

    it('PUT cannot change the jobType of an existing job (409)', async () => {
      const j = await fresh();
      const r = await call(s, 'PUT', withApi(jobPath(j.name)), { body: exportBody() });
      expect(r.status).toBe(409);
      expect(r.body.error.target).toBe('properties.jobType');
    });

    it('job names are 3-64 characters, start with a letter, then letters, digits, - or _ (else 400 InvalidResourceName)', async () => {
      for (const bad of ['ab', '1abc', '-abc', 'a'.repeat(65), 'ab%20c', 'h%C3%A9llo', 'ab.c', 'ab*c']) {
        const r = await call(s, 'PUT', withApi(jobPath(bad)), { body: importBody() });
        expect(r.status, bad).toBe(400);
        expect(r.body.error.code, bad).toBe('InvalidResourceName');
      }
      for (const good of ['abc', 'A_b-1', `a${'b'.repeat(63)}`]) {
        const r = await call(s, 'PUT', withApi(jobPath(good)), { body: importBody([`G${good.length}`]) });
        expect(r.status, good).toBe(201);
      }
    });

    it('job names are unique case-insensitively within a resource group (same job, replaced)', async () => {
      expect((await call(s, 'PUT', withApi(jobPath('CaseJob')), { body: importBody() })).status).toBe(201);
      const r = await call(s, 'PUT', withApi(jobPath('casejob')), { body: importBody() });
      expect(r.status).toBe(200);
      expect(r.body.name).toBe('CaseJob');
      const other = await call(s, 'PUT', withApi(jobPath('casejob', 'other-rg')), { body: importBody() });
      expect(other.status).toBe(201);
    });

    it('resource group names are validated as ARM does (400 InvalidResourceGroupName)', async () => {
      for (const bad of ['rg.', 'r'.repeat(91), 'rg!x', 'rg%20x']) {
        const r = await call(s, 'GET', withApi(jobPath('abc', bad)));
        expect(r.status, bad).toBe(400);
        expect(r.body.error.code).toBe('InvalidResourceGroupName');
      }
      const ok = await call(s, 'PUT', withApi(jobPath('abc', 'My.Group_(1)-x')), { body: importBody() });
      expect(ok.status).toBe(201);
    });

    it('Import needs 1-10 drives with id, BitLocker key, manifest file and hash; Export needs an export spec', async () => {
      const cases: Array<[unknown, string]> = [
        [importBody([]), 'properties.driveList'],
        [importBody(Array.from({ length: 11 }, (_, i) => `DR${i}`)), 'properties.driveList'],
        [importBody(['SAME', 'same']), 'properties.driveList[1].driveId'],
        [(() => { const b = importBody(); delete (b.properties as Record<string, unknown>).driveList; return b; })(), 'properties.driveList'],
        [(() => { const b = importBody(); b.properties.driveList[0].bitLockerKey = '1234'; return b; })(), 'properties.driveList[0].bitLockerKey'],
        [(() => { const b = importBody(); b.properties.driveList[0].manifestHash = 'zz'; return b; })(), 'properties.driveList[0].manifestHash'],
        [(() => { const b = importBody(); b.properties.driveList[0].driveId = 'has space'; return b; })(), 'properties.driveList[0].driveId'],
        [(() => { const b = exportBody(); delete (b.properties as Record<string, unknown>).export; return b; })(), 'properties.export'],
        [(() => { const b = exportBody(); b.properties.export = { blobList: { blobPathPrefix: [] } } as never; return b; })(), 'properties.export.blobList'],
        [{ ...importBody(), properties: { ...importBody().properties, jobType: 'Sideways' } }, 'properties.jobType'],
        [{ ...importBody(), properties: { ...importBody().properties, storageAccountId: 'acct' } }, 'properties.storageAccountId'],
        [{ properties: importBody().properties }, 'location'],
        [{ location: 'westus' }, 'properties'],
      ];
      for (const [body, target] of cases) {
        const r = await call(s, 'PUT', withApi(jobPath('badbody')), { body });
        expect(r.status, target).toBe(400);
        expect(r.body.error.code, target).toBe('InvalidRequestContent');
        expect(r.body.error.target, JSON.stringify(r.body)).toBe(target);
      }
      expect((await call(s, 'PUT', withApi(jobPath('okexport')), { body: exportBody() })).status).toBe(201);
    });

    it('an unknown location is 400 LocationNotAvailableForResourceType; names and short ids both work', async () => {
      const r = await call(s, 'PUT', withApi(jobPath('nowhere')), { body: { ...importBody(), location: 'Atlantis' } });
      expect(r.status).toBe(400);
      expect(r.body.error.code).toBe('LocationNotAvailableForResourceType');
      expect((await call(s, 'PUT', withApi(jobPath('somewhere')), { body: { ...importBody(), location: 'East US 2' } })).status).toBe(201);
    });

    it('DELETE answers 200 with an empty body (never 204), only in Creating or Completed (else 409)', async () => {
      const creating = await fresh();
      const r = await call(s, 'DELETE', withApi(jobPath(creating.name)));
      expect(r.status).toBe(200);
      expect(r.text).toBe('');
      expect((await call(s, 'GET', withApi(jobPath(creating.name)))).status).toBe(404);
      for (const state of [JobState.Shipping, JobState.Received, JobState.Transferring, JobState.Packaging]) {
        const j = await jobIn(state);
        const d = await call(s, 'DELETE', withApi(jobPath(j.name)));
        expect(d.status, state).toBe(409);
        expect(d.body.error.code).toBe('DeleteNotAllowedInState');
      }
      const done = await jobIn(JobState.Completed);
      expect((await call(s, 'DELETE', withApi(jobPath(done.name)))).status).toBe(200);
      expect((await call(s, 'DELETE', withApi(jobPath(done.name)))).status).toBe(404);
    });

    it('cancel is accepted in Creating, Shipping, Received and Transferring, not from Packaging on (409 CancelNotAllowed)', async () => {
      for (const state of [JobState.Creating, JobState.Shipping, JobState.Received, JobState.Transferring]) {
        const j = await jobIn(state);
        const r = await call(s, 'PATCH', withApi(jobPath(j.name)), { body: { properties: { cancelRequested: true } } });
        expect(r.status, state).toBe(200);
        expect(r.body.properties.cancelRequested).toBe(true);
      }
      for (const state of [JobState.Packaging, JobState.Completed]) {
        const j = await jobIn(state);
        const r = await call(s, 'PATCH', withApi(jobPath(j.name)), { body: { properties: { cancelRequested: true } } });
        expect(r.status, state).toBe(409);
        expect(r.body.error.code).toBe('CancelNotAllowed');
      }
    });

    it('a cancelled job skips the copy: cancelled in Received it goes to Packaging; a cancel cannot be withdrawn', async () => {
      const j = await jobIn(JobState.Received);
      const r = await call(s, 'PATCH', withApi(jobPath(j.name)), { body: { properties: { cancelRequested: true } } });
      expect(r.body.properties.state).toBe(JobState.Packaging);
      const back = await call(s, 'PATCH', withApi(jobPath(j.name)), { body: { properties: { cancelRequested: false } } });
      expect(back.status).toBe(400);
    });

    it('Shipping needs deliveryPackage and returnAddress, in this request or an earlier one', async () => {
      const j = await fresh();
      const no = await call(s, 'PATCH', withApi(jobPath(j.name)), { body: { properties: { state: 'Shipping', deliveryPackage: DELIVERY } } });
      expect(no.status).toBe(400);
      expect(no.body.error.code).toBe('TransitionPreconditionNotMet');
      expect((await call(s, 'PATCH', withApi(jobPath(j.name)), { body: { properties: { returnAddress: RETURN_ADDRESS } } })).body.properties.state).toBe('Creating');
      const yes = await call(s, 'PATCH', withApi(jobPath(j.name)), { body: { properties: { state: 'Shipping', deliveryPackage: DELIVERY } } });
      expect(yes.status).toBe(200);
      expect(yes.body.properties.state).toBe('Shipping');
      expect(yes.body.properties.sneakernet.stateReason.code).toBe('ShippingInfoProvided');
    });

    it('a customer may never set Completed, Received or any state but Shipping (400); an empty state means unchanged', async () => {
      const j = await fresh();
      for (const state of ['Completed', 'Received', 'Transferring', 'Closed', 'Creating', 'bogus']) {
        const r = await call(s, 'PATCH', withApi(jobPath(j.name)), { body: { properties: { state } } });
        expect(r.status, state).toBe(400);
        expect(r.body.error.target).toBe('properties.state');
      }
      const empty = await call(s, 'PATCH', withApi(jobPath(j.name)), { body: { properties: { state: '' } } });
      expect(empty.status).toBe(200);
      expect(empty.body.properties.state).toBe('Creating');
    });

    it('PATCH changes only the fields the reference allows in the states it allows them (409 UpdateNotAllowedInState)', async () => {
      const shipping = await jobIn(JobState.Shipping);
      const drives = await call(s, 'PATCH', withApi(jobPath(shipping.name)), { body: { properties: { driveList: importBody(['X1']).properties.driveList } } });
      expect(drives.status).toBe(409);
      expect(drives.body.error.code).toBe('UpdateNotAllowedInState');
      expect((await call(s, 'PATCH', withApi(jobPath(shipping.name)), { body: { properties: { logLevel: 'Error' } } })).status).toBe(200);
      const received = await jobIn(JobState.Received);
      const pkg = await call(s, 'PATCH', withApi(jobPath(received.name)), { body: { properties: { deliveryPackage: { ...DELIVERY, trackingNumber: '999' } } } });
      expect(pkg.status).toBe(409);
      const packaging = await jobIn(JobState.Packaging);
      expect((await call(s, 'PATCH', withApi(jobPath(packaging.name)), { body: { properties: { logLevel: 'Error' } } })).status).toBe(409);
      // a wrong return address can still be fixed while the drives are being packed
      const addr = await call(s, 'PATCH', withApi(jobPath(packaging.name)), { body: { properties: { returnAddress: { ...RETURN_ADDRESS, city: 'Seattle' } } } });
      expect(addr.status).toBe(200);
      // sending a field with its current value is not a change
      expect((await call(s, 'PATCH', withApi(jobPath(packaging.name)), { body: { properties: { logLevel: 'Verbose' } } })).status).toBe(200);
    });

    it('a PATCH in Creating resets the 14-day timer', async () => {
      const j = await fresh();
      const t0 = clock.now().getTime();
      const before = await call(s, 'GET', withApi(jobPath(j.name)));
      expect(Date.parse(before.body.properties.sneakernet.pendingDeadline.at)).toBe(t0 + CREATING_EXPIRY_MS);
      clock.advance(10 * DAY_MS);
      const r = await call(s, 'PATCH', withApi(jobPath(j.name)), { body: { tags: { touched: 'yes' } } });
      expect(r.status).toBe(200);
      expect(r.body.properties.sneakernet.pendingDeadline.kind).toBe('deleteCreating');
      expect(Date.parse(r.body.properties.sneakernet.pendingDeadline.at)).toBe(t0 + 10 * DAY_MS + CREATING_EXPIRY_MS);
    });

    it('api-version is required (400 MissingApiVersionParameter) and must be one the reference lists (400 InvalidApiVersionParameter)', async () => {
      const missing = await call(s, 'GET', jobPath('abc'));
      expect(missing.status).toBe(400);
      expect(missing.body.error.code).toBe('MissingApiVersionParameter');
      for (const v of ['2019-01-01', 'latest', '2021-01-01-preview']) {
        const r = await call(s, 'GET', `${jobPath('abc')}?api-version=${v}`);
        expect(r.status).toBe(400);
        expect(r.body.error.code).toBe('InvalidApiVersionParameter');
      }
      for (const v of ['2016-11-01', '2020-08-01', '2021-01-01']) {
        expect((await call(s, 'GET', `/providers/Microsoft.ImportExport/operations?api-version=${v}`)).status).toBe(200);
      }
    });

    it('an unknown job is 404 ResourceNotFound on every job operation', async () => {
      for (const [m, tail, body] of [['GET', '', undefined], ['PATCH', '', { tags: {} }], ['DELETE', '', undefined], ['POST', '/listBitLockerKeys', undefined], ['GET', '/events', undefined]] as const) {
        const r = await call(s, m, withApi(jobPath('doesnotexist') + tail), { body });
        expect(r.status, m + tail).toBe(404);
        expect(r.body.error.code).toBe('ResourceNotFound');
      }
    });

    it('nextLink is absolute, carries api-version, $top and $filter, and paging stays correct while jobs are added', async () => {
      const rg = 'rg-keyset';
      for (let i = 0; i < 5; i++) await call(s, 'PUT', withApi(jobPath(`k${i}a`, rg)), { body: importBody([`K${i}`]) });
      const seen: string[] = [];
      let url: string | undefined = withApi(`/subscriptions/${SUB}/resourceGroups/${rg}/providers/Microsoft.ImportExport/jobs?$top=2&$filter=${encodeURIComponent("jobType eq 'Import'")}`);
      let added = 0;
      while (url) {
        const r = await call(s, 'GET', url);
        expect(r.status).toBe(200);
        seen.push(...r.body.value.map((j: { name: string }) => j.name));
        url = r.body.nextLink;
        if (url) {
          const u = new URL(url);
          expect(u.protocol).toMatch(/^https?:$/);
          expect(u.searchParams.get('api-version')).toBe(API);
          expect(u.searchParams.get('$top')).toBe('2');
          expect(u.searchParams.get('$filter')).toBe("jobType eq 'Import'");
          url = u.pathname + u.search;
        }
        if (added < 2) await call(s, 'PUT', withApi(jobPath(`k${5 + added++}a`, rg)), { body: importBody(['KX']) });
      }
      expect(seen).toEqual(['k0a', 'k1a', 'k2a', 'k3a', 'k4a', 'k5a', 'k6a']);
    });

    it('$top is 1 to 100; $filter handles state eq / in / or and jobType; bad ones are 400 InvalidQueryParameter', async () => {
      const list = (q: string) => call(s, 'GET', withApi(`/subscriptions/${SUB}/providers/Microsoft.ImportExport/jobs?${q}`));
      for (const q of ['$top=0', '$top=101', '$top=abc', '$top=-1', "$filter=state eq 'Nope'", "$filter=name eq 'x'", "$filter=state eq 'Creating' or jobType eq 'Import'", '$filter=state', "$filter=state eq 'Creating' and", '$skipToken=garbage!']) {
        const r = await list(q);
        expect(r.status, q).toBe(400);
        expect(r.body.error.code, q).toBe('InvalidQueryParameter');
      }
      expect((await list('$top=100')).status).toBe(200);
      const shipping = await list("$filter=state eq 'Shipping'");
      expect(shipping.body.value.length).toBeGreaterThan(0);
      expect(shipping.body.value.every((j: { properties: { state: string } }) => j.properties.state === 'Shipping')).toBe(true);
      const two = await list("$filter=(state eq 'Shipping' or state eq 'Packaging') and jobType eq 'Import'");
      expect(new Set(two.body.value.map((j: { properties: { state: string } }) => j.properties.state))).toEqual(new Set(['Shipping', 'Packaging']));
      const inList = await list("$filter=state in ('shipping','PACKAGING')");
      expect(inList.body.value.length).toBe(two.body.value.length);
      expect((await list("$filter=state eq 'Shipping' and state eq 'Creating'")).body.value).toEqual([]);
      const exports = await list("$filter=jobType eq 'Export'");
      expect(exports.body.value.every((j: { properties: { jobType: string } }) => j.properties.jobType === 'Export')).toBe(true);
    });

    it('every job response carries an ETag equal to properties.sneakernet.etag', async () => {
      const j = await fresh();
      const g = await call(s, 'GET', withApi(jobPath(j.name)));
      expect(g.headers.etag).toBe('"1"');
      expect(g.body.properties.sneakernet.etag).toBe(g.headers.etag);
      const p = await call(s, 'PATCH', withApi(jobPath(j.name)), { body: { tags: { a: 'b' } } });
      expect(p.headers.etag).toBe('"2"');
    });
  });
}
