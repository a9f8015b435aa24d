/**
 * Rule: no input may produce a 5xx, and every 4xx carries ARM's error body. 1,500+ generated malformed requests
 * (fast-check, fixed seed so a failure replays): broken JSON, wrong types in otherwise valid bodies, unicode and
 * oversized names, bad percent-encoding, garbage query parameters, wrong content types, 10 MB bodies, bad tokens.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { drivers } from '../helpers/db.ts';
import { API, call, exportBody, importBody, jobPath, startServer, withApi, type TestServer } from './helpers.ts';

const SEGMENTS = fc.oneof(
  fc.constantFrom('job1', 'myJob', 'a', 'ab', 'a'.repeat(65), 'x'.repeat(600), '%E0%A4%A', '%', '%00', '..', '.', 'ünïcødé', '名前', '%F0%9F%92%A9', 'a b', "a'b", 'a;b', '%2F', ''),
  fc.string({ maxLength: 80 }).map(encodeURIComponent),
  fc.string({ unit: 'grapheme', maxLength: 20 }).map(encodeURIComponent),
);

const API_VERSIONS = fc.oneof(fc.constantFrom(API, '2020-08-01', '2016-11-01', '', '2021-01-01,2021-01-01', '9999-99-99', 'latest'), fc.string({ maxLength: 20 }));

function pathsFor(seg: string, rg: string): string[] {
  return [
    jobPath(seg, rg),
    `${jobPath(seg, rg)}/listBitLockerKeys`,
    `${jobPath(seg, rg)}/events`,
    `/subscriptions/${seg}/providers/Microsoft.ImportExport/jobs`,
    `/subscriptions/sub-a/resourceGroups/${rg}/providers/Microsoft.ImportExport/jobs`,
    `/providers/Microsoft.ImportExport/locations/${seg}`,
    '/providers/Microsoft.ImportExport/locations',
    '/providers/Microsoft.ImportExport/operations',
    `/subscriptions/sub-a/resourceGroups/${rg}/providers/Microsoft.ImportExport/${seg}`,
  ];
}

/** Replaces one value deep in a valid body with something of the wrong type or shape. */
function mutate(body: unknown, pathChoice: number, value: unknown): unknown {
  const copy = structuredClone(body) as Record<string, unknown>;
  const slots: Array<[Record<string, unknown> | unknown[], string | number]> = [];
  const walk = (x: unknown) => {
    if (Array.isArray(x)) x.forEach((v, i) => { slots.push([x, i]); walk(v); });
    else if (x && typeof x === 'object') for (const [k, v] of Object.entries(x)) { slots.push([x as Record<string, unknown>, k]); walk(v); }
  };
  walk(copy);
  const [holder, key] = slots[pathChoice % slots.length];
  (holder as Record<string | number, unknown>)[key] = value;
  return copy;
}

const WEIRD = fc.oneof(
  fc.constant(null), fc.boolean(), fc.integer(), fc.double(), fc.string({ maxLength: 300 }), fc.constant(''),
  fc.constant('x'.repeat(5000)), fc.array(fc.jsonValue({ maxDepth: 2 }), { maxLength: 12 }), fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 5 }),
  fc.constant({ __proto__: { polluted: true } }), fc.constant(Number.MAX_SAFE_INTEGER), fc.constant(-1),
);

const BODIES = fc.oneof(
  fc.record({ kind: fc.constant('mutated' as const), base: fc.constantFrom('import', 'export', 'patch'), at: fc.nat(), value: WEIRD }),
  fc.record({ kind: fc.constant('json' as const), value: fc.jsonValue({ maxDepth: 4 }) }),
  fc.record({ kind: fc.constant('text' as const), value: fc.oneof(fc.string({ maxLength: 200 }), fc.constantFrom('{', '{"location":', '[1,2', '{"a":1}}', 'null', '"str"', '\u0000', '{"properties":{"driveList":[' + '['.repeat(5000))) }),
);

const CONTENT_TYPES = fc.constantFrom('application/json', 'application/json; charset=utf-8', 'text/plain', 'application/x-www-form-urlencoded', 'application/xml', '', 'application/json; charset=latin1', 'multipart/form-data; boundary=x');

const bodyText = (b: { kind: string; base?: string; at?: number; value: unknown }): string => {
  if (b.kind === 'text') return b.value as string;
  if (b.kind === 'json') return JSON.stringify(b.value);
  const base = b.base === 'import' ? importBody() : b.base === 'export' ? exportBody() : { properties: { state: 'Shipping', logLevel: 'Verbose', deliveryPackage: { carrierName: 'x', trackingNumber: '1' } } };
  return JSON.stringify(mutate(base, b.at ?? 0, b.value));
};

for (const driver of drivers) {
  describe(`fuzz: malformed requests never produce a 5xx [${driver}]`, () => {
    let s: TestServer;
    beforeAll(async () => {
      s = await startServer(driver);
      expect((await call(s, 'PUT', withApi(jobPath('job1')), { body: importBody() })).status).toBe(201);
    });
    afterAll(async () => s?.close());

    const seen = { total: 0, byStatus: new Map<number, number>() };
    const check = async (method: string, url: string, opts: Parameters<typeof call>[3]) => {
      const r = await call(s, method, url, opts);
      seen.total++;
      seen.byStatus.set(r.status, (seen.byStatus.get(r.status) ?? 0) + 1);
      const where = `${method} ${url.slice(0, 200)} → ${r.status} ${r.text.slice(0, 300)}`;
      expect(r.status, where).toBeLessThan(500);
      if (r.status >= 400 && method !== 'HEAD') {
        expect(typeof r.body?.error?.code, where).toBe('string');
        expect(typeof r.body?.error?.message, where).toBe('string');
      }
    };

    it('1,200 generated requests (paths, query, bodies, content types, tokens): zero 5xx, ARM error body on every 4xx', async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.constantFrom('GET', 'PUT', 'PATCH', 'DELETE', 'POST', 'HEAD', 'OPTIONS'),
          SEGMENTS, fc.oneof(fc.constant('rg1'), SEGMENTS), fc.nat(),
          API_VERSIONS, fc.option(fc.string({ maxLength: 30 })), fc.option(fc.string({ maxLength: 60 })),
          BODIES, CONTENT_TYPES, fc.constantFrom('owner', 'owner', 'owner', 'reader', 'none', 'garbage', 'otherOwner'),
          fc.option(fc.constantFrom('"1"', '*', 'W/"2"', 'garbage', '"99999999999999999999"')),
          async (method, seg, rg, pick, apiVersion, top, filter, body, contentType, who, ifMatch) => {
            const paths = pathsFor(seg, rg);
            let url = paths[pick % paths.length] + `?api-version=${encodeURIComponent(apiVersion)}`;
            if (top !== null) url += `&$top=${encodeURIComponent(top)}`;
            if (filter !== null) url += `&$filter=${encodeURIComponent(filter)}`;
            const token = who === 'none' ? null : who === 'garbage' ? 'garbage token' : s.tokens[who as 'owner'];
            const headers: Record<string, string> = {};
            if (contentType) headers['content-type'] = contentType;
            if (ifMatch) headers['if-match'] = ifMatch;
            const hasBody = method === 'PUT' || method === 'PATCH' || method === 'POST';
            await check(method, url, { token, headers, ...(hasBody ? { raw: bodyText(body) } : {}) });
          },
        ),
        { numRuns: 1200, seed: 20261125, endOnFailure: true },
      );
    });

    it('300 wrong-typed fields inside otherwise valid PUT/PATCH bodies for an existing job: zero 5xx', async () => {
      await fc.assert(
        fc.asyncProperty(fc.constantFrom('import', 'export', 'patch'), fc.nat(), WEIRD, async (base, at, value) => {
          const method = base === 'patch' ? 'PATCH' : 'PUT';
          await check(method, withApi(jobPath(base === 'export' ? 'exp1' : 'job1')), { raw: bodyText({ kind: 'mutated', base, at, value }), headers: { 'content-type': 'application/json' } });
        }),
        { numRuns: 300, seed: 7, endOnFailure: true },
      );
    });

    it('hand-picked nasties: 10 MB bodies, deep nesting, bad percent-encoding, huge headers', async () => {
      const big = JSON.stringify({ location: 'westus', properties: { jobType: 'Import', pad: 'x'.repeat(10 * 1024 * 1024) } });
      await check('PUT', withApi(jobPath('big1')), { raw: big, headers: { 'content-type': 'application/json' } });
      await check('PATCH', withApi(jobPath('job1')), { raw: big, headers: { 'content-type': 'application/json' } });
      await check('PUT', withApi(jobPath('deep1')), { raw: '['.repeat(100000) + ']'.repeat(100000), headers: { 'content-type': 'application/json' } });
      await check('PUT', withApi(jobPath('deep2')), { raw: JSON.stringify(JSON.parse('{"a":'.repeat(2000) + '1' + '}'.repeat(2000))), headers: { 'content-type': 'application/json' } });
      await check('GET', `/subscriptions/sub-a/resourceGroups/%E0%A4%A/providers/Microsoft.ImportExport/jobs/job1?api-version=${API}`, {});
      await check('GET', `/subscriptions/sub-a/resourceGroups/rg1/providers/Microsoft.ImportExport/jobs/%?api-version=${API}`, {});
      await check('GET', `/subscriptions/sub-a/providers/Microsoft.ImportExport/jobs?api-version=${API}&$skipToken=%%%`, {});
      await check('GET', `/subscriptions/sub-a/providers/Microsoft.ImportExport/jobs?api-version=${API}&$skipToken=eyJ2IjoxLCJhZnRlciI6LTF9`, {});
      await check('GET', `/subscriptions/sub-a/providers/Microsoft.ImportExport/jobs?api-version=${API}&$top=1e3`, {});
      await check('GET', `/subscriptions/sub-a/providers/Microsoft.ImportExport/jobs?api-version=${API}&$top=5&$top=6`, {});
      await check('GET', `/subscriptions/sub-a/providers/Microsoft.ImportExport/jobs?api-version=${API}&api-version=${API}`, {});
      await check('GET', withApi(jobPath('job1') + '/events?lastEventId=abc'), {});
      await check('GET', withApi(jobPath('job1') + '/events'), { headers: { 'last-event-id': '-5' } });
      await check('GET', withApi(jobPath('job1')), { headers: { 'if-match': 'x'.repeat(8000) } });
      await check('PUT', withApi(jobPath('job1')), { raw: '{"location":"westus","properties":{"jobType":"Import","__proto__":{"x":1}}}', headers: { 'content-type': 'application/json' } });
      await check('POST', withApi(jobPath('job1') + '/listBitLockerKeys'), { raw: 'not json', headers: { 'content-type': 'application/json' } });
      await check('GET', withApi(jobPath('job1')), { token: 'Bearer' });
      await check('GET', withApi(jobPath('job1')), { token: null, headers: { authorization: 'Basic dXNlcjpwYXNz' } });
      expect(seen.total).toBeGreaterThanOrEqual(1000);
      // The generator reaches the validators and handlers, not only the auth gate.
      expect(seen.byStatus.get(400) ?? 0).toBeGreaterThan(100);
      expect([...seen.byStatus.keys()].filter((k) => k < 300).length).toBeGreaterThan(0);
    });
  });
}
