/** /openapi.json comes from the route schemas; pure parts of the edge (validation, $filter, ETags, skip tokens). */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SUPPORTED_API_VERSIONS } from '../../src/api/arm/api-version.ts';
import { readPrecondition } from '../../src/api/arm/etag.ts';
import { parseJobFilter } from '../../src/api/arm/filter.ts';
import { decodeSkipToken, encodeSkipToken } from '../../src/api/arm/paging.ts';
import * as S from '../../src/api/arm/schemas.ts';
import { DomainError } from '../../src/domain/errors.ts';
import { validatePatchJob, validatePutJob } from '../../src/domain/validation.ts';
import { call, importBody, startServer, type TestServer } from './helpers.ts';
import { loadSwagger } from './swagger.ts';

describe('/openapi.json', () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startServer('pglite');
  });
  afterAll(async () => s?.close());

  it('is public and lists every operation of the Azure swagger, plus the events stream', async () => {
    const r = await call(s, 'GET', '/openapi.json', { token: null });
    expect(r.status).toBe(200);
    expect(r.body.openapi).toBe('3.0.3');
    const ours = new Set<string>();
    for (const ops of Object.values(r.body.paths) as Array<Record<string, { operationId: string }>>) for (const op of Object.values(ops)) ours.add(op.operationId);
    const azure = new Set<string>();
    for (const ops of Object.values(loadSwagger().doc.paths) as Array<Record<string, { operationId?: string }>>) for (const op of Object.values(ops)) if (op.operationId) azure.add(op.operationId);
    for (const id of azure) expect(ours.has(id), id).toBe(true);
    expect(ours.has('Jobs_Events')).toBe(true);
  });

  it('is generated from the same schemas that validate requests (same objects, same limits)', async () => {
    const r = await call(s, 'GET', '/openapi.json', { token: null });
    const put = r.body.paths['/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.ImportExport/jobs/{jobName}'].put;
    expect(put.requestBody.content['application/json'].schema).toEqual(JSON.parse(JSON.stringify(S.putJobBody)));
    const apiVersion = put.parameters.find((p: { name: string }) => p.name === 'api-version');
    expect(apiVersion.schema.enum).toEqual([...SUPPORTED_API_VERSIONS]);
    const jobName = put.parameters.find((p: { name: string }) => p.name === 'jobName');
    // what the document says is what the server enforces
    const maxDrives = put.requestBody.content['application/json'].schema.properties.properties.properties.driveList.maxItems;
    const tooMany = importBody(Array.from({ length: maxDrives + 1 }, (_, i) => `M${i}`));
    const refused = await call(s, 'PUT', `/subscriptions/sub-a/resourceGroups/rg1/providers/Microsoft.ImportExport/jobs/many?api-version=2021-01-01`, { body: tooMany });
    expect(refused.status).toBe(400);
    expect(new RegExp(jobName.schema.pattern).test('1bad')).toBe(false);
    expect((await call(s, 'GET', `/subscriptions/sub-a/resourceGroups/rg1/providers/Microsoft.ImportExport/jobs/1bad?api-version=2021-01-01`)).status).toBe(400);
  });
});

describe('pure edge helpers', () => {
  it('$filter: eq, in, or on one field, and; canonical spelling; contradictions match nothing', () => {
    expect(parseJobFilter("state eq 'shipping'")).toEqual({ states: ['Shipping'] });
    expect(parseJobFilter("jobType eq 'EXPORT' and state in ('Creating','Completed')")).toEqual({ jobType: 'Export', states: ['Creating', 'Completed'] });
    expect(parseJobFilter("(state eq 'Creating' or state eq 'Shipping') and properties/jobType eq 'Import'")).toEqual({ states: ['Creating', 'Shipping'], jobType: 'Import' });
    expect(parseJobFilter("state eq 'Creating' and state eq 'Closed'").matchesNothing).toBe(true);
    expect(parseJobFilter('')).toEqual({});
    for (const bad of ["state eq Creating", "state ne 'Creating'", "state eq 'Creating' or jobType eq 'Import'", "(state eq 'Creating'", "state eq 'Creating' and", "name eq 'x'", "state eq 'O''Brien'", 'x'.repeat(1001)]) {
      expect(() => parseJobFilter(bad), bad).toThrow(/\$filter/);
    }
  });

  it('skip tokens round-trip and garbage is refused', () => {
    expect(decodeSkipToken(encodeSkipToken(12345))).toBe(12345);
    for (const bad of ['x', 'eyJ2IjoyfQ', '!!!', 'a'.repeat(300)]) expect(() => decodeSkipToken(bad)).toThrow();
  });

  it('If-Match parsing: quoted, weak and bare versions, * and lists; anything else cannot match (412)', () => {
    expect(readPrecondition({ 'if-match': '"3"' }).version).toBe(3);
    expect(readPrecondition({ 'if-match': 'W/"3"' }).version).toBe(3);
    const star = readPrecondition({ 'if-match': '*' });
    expect(star.version).toBeUndefined();
    expect(star.mustExist).toBe(true);
    const none = readPrecondition({});
    expect(none.version).toBeUndefined();
    expect([none.mustExist, none.mustNotExist]).toEqual([false, false]);
    expect(() => readPrecondition({ 'if-match': '"abc"' })).toThrow(/ETag/);
    expect(() => readPrecondition({ 'if-match': '"1", "2"' })).toThrow();
  });

  it('job body validation: defaults, canonical values, read-only fields ignored, targets on failures', () => {
    const spec = validatePutJob({ ...importBody(), properties: { ...importBody().properties, jobType: 'import', logLevel: 'verbose', state: 'Completed', diagnosticsPath: undefined } });
    expect(spec).toMatchObject({ jobType: 'Import', logLevel: 'Verbose', diagnosticsPath: 'waimportexport', encryptionKey: { kekType: 'MicrosoftManaged' } });
    expect(spec.drives[0]).toMatchObject({ driveId: '9CA995BB', bitLockerKey: expect.any(String) });
    const fail = (body: unknown) => {
      try {
        validatePutJob(body);
      } catch (e) {
        return (e as DomainError).target;
      }
      return 'passed';
    };
    expect(fail(null)).toBe('body');
    expect(fail({ ...importBody(), tags: { 'a/b': 'x' } })).toMatch(/^tags/);
    expect(fail({ ...importBody(), properties: { ...importBody().properties, encryptionKey: { kekType: 'CustomerManaged' } } })).toBe('properties.encryptionKey.kekUrl');
    expect(fail({ ...importBody(), properties: { ...importBody().properties, returnAddress: { recipientName: 'x' } } })).toBe('properties.returnAddress.streetAddress1');
    expect(validatePatchJob({ properties: { state: '' } })).toEqual({});
    expect(validatePatchJob({ properties: { state: 'shipping', cancelRequested: true } })).toEqual({ state: 'Shipping', cancelRequested: true });
    expect(() => validatePatchJob({ properties: { state: 'Received' } })).toThrow(DomainError);
    expect(() => validatePatchJob([])).toThrow(DomainError);
  });
});
