/**
 * Contract: the swagger's own examples. For each example the server gets the example's request (same path
 * parameters, same body); its response must validate against the swagger schema of that operation and carry
 * every field the example response carries — with the same values where they follow from the request (the
 * examples' timestamps, ids of unrelated jobs and data-center addresses are instance data).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { drivers } from '../helpers/db.ts';
import { call, startServer, type TestServer } from './helpers.ts';
import { keyPaths, loadExample, loadSwagger } from './swagger.ts';

const swagger = loadSwagger();

function pathFor(p: Record<string, any>, tail = '') {
  return `/subscriptions/${p.subscriptionId}/resourceGroups/${p.resourceGroupName}/providers/Microsoft.ImportExport/jobs/${p.jobName}${tail}?api-version=${p['api-version']}`;
}

/** Fields whose presence depends on how far a job got, not on the response shape. */
const PROGRESS_FIELDS = /\.(copyStatus|verboseLogUri|errorLogUri|manifestUri|percentComplete|driveHeaderHash)$/;

function expectSameShape(actual: unknown, example: unknown, ignore: RegExp = /^$/) {
  const have = keyPaths(actual);
  const missing = [...keyPaths(example)].filter((k) => !have.has(k) && !ignore.test(k));
  expect(missing).toEqual([]);
}

/** The example's values, without instance data. */
function comparable(job: any) {
  const { systemData: _s, id: _i, ...rest } = structuredClone(job);
  delete rest.properties.shippingInformation;
  delete rest.properties.sneakernet;
  delete rest.tags;
  return rest;
}

for (const driver of drivers) {
  describe(`swagger examples against the server [${driver}]`, () => {
    let s: TestServer;
    let token: string;
    let dir: string;

    beforeAll(async () => {
      // Locations come from configuration: configure the examples' data centers.
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'snk-loc-'));
      const toConfig = (l: any) => ({
        shortName: l.id.split('/').pop(), name: l.name,
        address: Object.fromEntries(Object.entries(l.properties).filter(([k]) => !['supportedCarriers', 'alternateLocations'].includes(k))),
        supportedCarriers: l.properties.supportedCarriers,
        alternateLocations: l.properties.alternateLocations.map((a: string) => a.split('/').pop()),
      });
      const listed = loadExample('ListLocations').responses['200'].body.value.map(toConfig);
      const westUs = toConfig(loadExample('GetLocation').responses['200'].body);
      const file = path.join(dir, 'locations.json');
      fs.writeFileSync(file, JSON.stringify([...listed, westUs]));
      s = await startServer(driver, { locationsFile: file });
      token = (await s.app.tokens.create('xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx', 'owner')).token;
    });
    afterAll(async () => {
      await s?.close();
      fs.rmSync(dir, { recursive: true, force: true });
    });

    it('CreateJob: PUT answers 201 with the example response (and 200 on replace)', async () => {
      const ex = loadExample('CreateJob');
      const r = await call(s, 'PUT', pathFor(ex.parameters), { token, body: ex.parameters.body });
      expect(r.status).toBe(201);
      expect(swagger.validate('JobResponse', r.body)).toEqual([]);
      expectSameShape(r.body, ex.responses['201'].body);
      expect(comparable(r.body)).toMatchObject(comparable(ex.responses['201'].body));
      const again = await call(s, 'PUT', pathFor(ex.parameters), { token, body: ex.parameters.body });
      expect(again.status).toBe(200);
      expect(comparable(again.body)).toMatchObject(comparable(ex.responses['200'].body));
    });

    it('GetJob: GET returns the JobResponse shape of the example', async () => {
      const ex = loadExample('GetJob');
      const r = await call(s, 'GET', pathFor(ex.parameters), { token });
      expect(r.status).toBe(200);
      expect(swagger.validate('JobResponse', r.body)).toEqual([]);
      expectSameShape(r.body, ex.responses['200'].body);
      expect(r.body.properties.state).toBe(ex.responses['200'].body.properties.state);
    });

    it('UpdateJob: PATCH with an empty state leaves the job Creating and applies logLevel/backupDriveManifest', async () => {
      const ex = loadExample('UpdateJob');
      const r = await call(s, 'PATCH', pathFor(ex.parameters), { token, body: ex.parameters.body });
      expect(r.status).toBe(200);
      expect(swagger.validate('JobResponse', r.body)).toEqual([]);
      expectSameShape(r.body, ex.responses['200'].body);
      const want = ex.responses['200'].body.properties;
      expect(r.body.properties).toMatchObject({ state: want.state, logLevel: want.logLevel, backupDriveManifest: want.backupDriveManifest });
    });

    it('ListBitLockerKeys: POST answers the GetBitLockerKeysResponse of the example', async () => {
      const ex = loadExample('ListBitLockerKeys');
      const r = await call(s, 'POST', pathFor(ex.parameters, '/listBitLockerKeys'), { token });
      expect(r.status).toBe(200);
      expect(swagger.validate('GetBitLockerKeysResponse', r.body)).toEqual([]);
      expectSameShape(r.body, ex.responses['200'].body);
      expect(r.body.value[0].driveId).toBe(ex.responses['200'].body.value[0].driveId);
    });

    it('CreateExportJob, GetExportJob, UpdateExportJob: export jobs round-trip their blob list', async () => {
      const create = loadExample('CreateExportJob');
      const r = await call(s, 'PUT', pathFor(create.parameters), { token, body: create.parameters.body });
      expect(r.status).toBe(201);
      expect(swagger.validate('JobResponse', r.body)).toEqual([]);
      expect(comparable(r.body)).toMatchObject(comparable(create.responses['201'].body));
      const get = loadExample('GetExportJob');
      const g = await call(s, 'GET', pathFor({ ...get.parameters, jobName: 'myExportJob' }), { token });
      expect(g.status).toBe(200);
      expectSameShape(g.body, get.responses['200'].body);
      expect(g.body.properties.export).toEqual(get.responses['200'].body.properties.export);
      const upd = loadExample('UpdateExportJob');
      const u = await call(s, 'PATCH', pathFor(upd.parameters), { token, body: upd.parameters.body });
      expect(u.status).toBe(200);
      expectSameShape(u.body, upd.responses['200'].body);
    });

    it('ListJobsInResourceGroup and ListJobsInSubscription: ListJobsResponse with the example item shapes', async () => {
      const rgEx = loadExample('ListJobsInResourceGroup');
      const subEx = loadExample('ListJobsInSubscription');
      // The examples list jobs that were shipped: give ours a delivery package (allowed while Creating).
      const p = loadExample('CreateJob').parameters;
      const deliveryPackage = rgEx.responses['200'].body.value[0].properties.deliveryPackage;
      expect((await call(s, 'PATCH', pathFor(p), { token, body: { properties: { deliveryPackage } } })).status).toBe(200);
      const rg = await call(s, 'GET', `/subscriptions/${rgEx.parameters.subscriptionId}/resourceGroups/${rgEx.parameters.resourceGroupName}/providers/Microsoft.ImportExport/jobs?api-version=${rgEx.parameters['api-version']}`, { token });
      expect(rg.status).toBe(200);
      expect(swagger.validate('ListJobsResponse', rg.body)).toEqual([]);
      expectSameShape(rg.body.value.find((j: any) => j.name === 'myJob'), rgEx.responses['200'].body.value[0]);
      const sub = await call(s, 'GET', `/subscriptions/${subEx.parameters.subscriptionId}/providers/Microsoft.ImportExport/jobs?api-version=${subEx.parameters['api-version']}`, { token });
      expect(sub.status).toBe(200);
      expect(swagger.validate('ListJobsResponse', sub.body)).toEqual([]);
      expectSameShape(sub.body.value.find((j: any) => j.name === 'myJob'), subEx.responses['200'].body.value[0], PROGRESS_FIELDS);
    });

    it('DeleteJob: DELETE answers 200 with an empty body', async () => {
      const ex = loadExample('DeleteJob');
      const r = await call(s, 'DELETE', pathFor(ex.parameters), { token });
      expect(r.status).toBe(200);
      expect(r.text).toBe('');
    });

    it('ListLocations and GetLocation: the configured locations answer exactly as the examples', async () => {
      const list = loadExample('ListLocations');
      const l = await call(s, 'GET', `/providers/Microsoft.ImportExport/locations?api-version=${list.parameters['api-version']}`, { token });
      expect(l.status).toBe(200);
      expect(swagger.validate('LocationsResponse', l.body)).toEqual([]);
      expect(l.body.value.slice(0, 2)).toEqual(list.responses['200'].body.value);
      const get = loadExample('GetLocation');
      const g = await call(s, 'GET', `/providers/Microsoft.ImportExport/locations/${encodeURIComponent(get.parameters.locationName)}?api-version=2020-08-01`, { token });
      expect(g.status).toBe(200);
      expect(swagger.validate('Location', g.body)).toEqual([]);
      expect(g.body).toEqual(get.responses['200'].body);
    });

    it('ListOperations: the operations list equals the example', async () => {
      const ex = loadExample('ListOperations');
      const r = await call(s, 'GET', `/providers/Microsoft.ImportExport/operations?api-version=${ex.parameters['api-version']}`, { token });
      expect(r.status).toBe(200);
      expect(swagger.validate('ListOperationsResponse', r.body)).toEqual([]);
      expect(r.body).toEqual(ex.responses['200'].body);
    });

    it('errors validate against the swagger ErrorResponse', async () => {
      const r = await call(s, 'GET', pathFor({ ...loadExample('GetJob').parameters, jobName: 'nosuchjob' }), { token });
      expect(r.status).toBe(404);
      expect(swagger.validate('ErrorResponse', r.body)).toEqual([]);
      expect(r.body.error.code).toBe('ResourceNotFound');
    });
  });
}
