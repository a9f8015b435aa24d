/**
 * Contract: the official @azure/arm-storageimportexport SDK, unmodified, drives a real sneakernet server over
 * HTTPS (a self-signed certificate made for this test, trusted through the pipeline's tlsOptions — no
 * NODE_TLS_REJECT_UNAUTHORIZED). Every operation, paging through nextLink, and errors as RestError statusCode/code.
 */
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StorageImportExport, type JobResponse, type PutJobParameters } from '@azure/arm-storageimportexport';
import { drivers } from '../helpers/db.ts';
import { BITLOCKER, DELIVERY, RETURN_ADDRESS, RG, STORAGE, SUB, makeCert, startServer, type TestCert, type TestServer } from './helpers.ts';

const credentialFor = (token: string) => ({
  getToken: async () => ({ token, expiresOnTimestamp: Date.now() + 3_600_000 }),
});

function importParams(drive = '9CA995BB'): PutJobParameters {
  return {
    location: 'West US',
    tags: { project: 'contract' },
    properties: {
      storageAccountId: STORAGE,
      jobType: 'Import',
      returnShipping: { carrierName: 'FedEx', carrierAccountNumber: '989ffff' },
      diagnosticsPath: 'waimportexport',
      logLevel: 'Verbose',
      backupDriveManifest: true,
      driveList: [{ driveId: drive, bitLockerKey: BITLOCKER, manifestFile: '\\DriveManifest.xml', manifestHash: '109B21108597EF36D5785F08303F3638', driveHeaderHash: '' }],
    },
  };
}

async function restError(p: Promise<unknown>): Promise<{ statusCode?: number; code?: string; name: string }> {
  try {
    await p;
  } catch (e) {
    return e as { statusCode?: number; code?: string; name: string };
  }
  throw new Error('expected the SDK call to fail');
}

async function all<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

for (const driver of drivers) {
  describe(`Azure SDK contract over HTTPS [${driver}]`, () => {
    let cert: TestCert;
    let s: TestServer;
    let client: StorageImportExport;
    const clientFor = (token: string, extra: Record<string, unknown> = {}) =>
      new StorageImportExport(credentialFor(token), SUB, { endpoint: s.url, tlsOptions: { ca: cert.cert }, retryOptions: { maxRetries: 0 }, ...extra });

    beforeAll(async () => {
      cert = makeCert();
      s = await startServer(driver, { https: cert });
      expect(s.url.startsWith('https://')).toBe(true);
      client = clientFor(s.tokens.owner);
    });
    afterAll(async () => {
      await s?.close();
      fs.rmSync(cert.dir, { recursive: true, force: true });
    });

    it('Jobs_Create answers 201 on create with the job in Creating, drives Specified and no BitLocker key', async () => {
      let status = 0;
      const job = await client.jobs.create('sdkjob1', RG, importParams(), { onResponse: (r) => (status = r.status) });
      expect(status).toBe(201);
      expect(job.name).toBe('sdkjob1');
      expect(job.type).toBe('Microsoft.ImportExport/jobs');
      expect(job.id).toBe(`/subscriptions/${SUB}/resourceGroups/${RG}/providers/Microsoft.ImportExport/jobs/sdkjob1`);
      expect(job.location).toBe('West US');
      expect(job.properties?.state).toBe('Creating');
      expect(job.properties?.provisioningState).toBe('Succeeded');
      expect(job.properties?.shippingInformation?.recipientName).toBeTruthy();
      expect(job.properties?.driveList?.[0]).toMatchObject({ driveId: '9CA995BB', state: 'Specified' });
      expect(job.properties?.driveList?.[0].bitLockerKey).toBeUndefined();
      expect(job.systemData?.createdAt).toBeInstanceOf(Date);
      // sneakernet's extension rides along as an extra property the SDK passes through
      expect((job.properties as Record<string, any>).sneakernet.stateReason.code).toBe('JobCreated');
    });

    it('Jobs_Create on an existing Creating job replaces it and answers 200', async () => {
      let status = 0;
      const params = importParams();
      params.properties!.logLevel = 'Error';
      const job = await client.jobs.create('sdkjob1', RG, params, { onResponse: (r) => (status = r.status) });
      expect(status).toBe(200);
      expect(job.properties?.logLevel).toBe('Error');
    });

    it('Jobs_Get returns the job; names are case-insensitive', async () => {
      const job = await client.jobs.get('SDKJOB1', RG.toUpperCase());
      expect(job.name).toBe('sdkjob1');
      expect(job.properties?.driveList).toHaveLength(1);
    });

    it('Jobs_Update (flat SDK form) sets Shipping with deliveryPackage and returnAddress', async () => {
      const job = await client.jobs.update('sdkjob1', RG, { state: 'Shipping', deliveryPackage: DELIVERY, returnAddress: RETURN_ADDRESS });
      expect(job.properties?.state).toBe('Shipping');
      expect(job.properties?.deliveryPackage?.trackingNumber).toBe(DELIVERY.trackingNumber);
    });

    it('Jobs_Update refuses a state the customer may not set (RestError 400) and Shipping without shipping info', async () => {
      const e = await restError(client.jobs.update('sdkjob1', RG, { state: 'Completed' }));
      expect(e.name).toBe('RestError');
      expect(e.statusCode).toBe(400);
      expect(e.code).toBe('InvalidRequestContent');
      await client.jobs.create('sdkjob2', RG, importParams('DRIVE2'));
      const e2 = await restError(client.jobs.update('sdkjob2', RG, { state: 'Shipping' }));
      expect(e2.statusCode).toBe(400);
      expect(e2.code).toBe('TransitionPreconditionNotMet');
    });

    it('Jobs_Update with cancelRequested cancels a Creating job, which stays Creating', async () => {
      const job = await client.jobs.update('sdkjob2', RG, { cancelRequested: true });
      expect(job.properties?.cancelRequested).toBe(true);
      expect(job.properties?.state).toBe('Creating');
    });

    it('BitLockerKeys_List returns the keys given at creation', async () => {
      const keys = await all(client.bitLockerKeys.list('sdkjob1', RG));
      expect(keys).toEqual([{ driveId: '9CA995BB', bitLockerKey: BITLOCKER }]);
    });

    it('Jobs_Delete answers 200 (the SDK rejects 204) in Creating, then Get is RestError 404 ResourceNotFound', async () => {
      let status = 0;
      await client.jobs.delete('sdkjob2', RG, { onResponse: (r) => (status = r.status) });
      expect(status).toBe(200);
      const e = await restError(client.jobs.get('sdkjob2', RG));
      expect(e.statusCode).toBe(404);
      expect(e.code).toBe('ResourceNotFound');
    });

    it('Jobs_Delete is refused outside Creating/Completed (409 DeleteNotAllowedInState)', async () => {
      const e = await restError(client.jobs.delete('sdkjob1', RG));
      expect(e.statusCode).toBe(409);
      expect(e.code).toBe('DeleteNotAllowedInState');
    });

    it('Jobs_ListBySubscription pages through nextLink ($top) and returns every job exactly once', async () => {
      for (let i = 0; i < 5; i++) await client.jobs.create(`page${i}`, 'rg-paging', importParams(`PD${i}`));
      const seen: string[] = [];
      let pages = 0;
      for await (const page of client.jobs.listBySubscription({ top: 2 }).byPage()) {
        pages++;
        expect(page.length).toBeLessThanOrEqual(2);
        seen.push(...page.map((j: JobResponse) => j.name!));
      }
      expect(pages).toBe(Math.ceil(seen.length / 2));
      expect(pages).toBeGreaterThanOrEqual(3);
      expect(seen.filter((n) => n.startsWith('page'))).toEqual(['page0', 'page1', 'page2', 'page3', 'page4']);
      expect(new Set(seen).size).toBe(seen.length);
    });

    it('Jobs_ListByResourceGroup filters with $filter on state and jobType', async () => {
      const rgJobs = await all(client.jobs.listByResourceGroup('rg-paging', { top: 3 }));
      expect(rgJobs.map((j) => j.name)).toEqual(['page0', 'page1', 'page2', 'page3', 'page4']);
      const shipping = await all(client.jobs.listBySubscription({ filter: "state eq 'Shipping'" }));
      expect(shipping.map((j) => j.name)).toEqual(['sdkjob1']);
      const exports = await all(client.jobs.listBySubscription({ filter: "jobType eq 'Export'" }));
      expect(exports).toEqual([]);
      const e = await restError(all(client.jobs.listBySubscription({ filter: "color eq 'red'" })));
      expect(e.statusCode).toBe(400);
      expect(e.code).toBe('InvalidQueryParameter');
    });

    it('$top above 100 is a 400 InvalidQueryParameter', async () => {
      const e = await restError(all(client.jobs.listBySubscription({ top: 101 })));
      expect(e.statusCode).toBe(400);
      expect(e.code).toBe('InvalidQueryParameter');
    });

    it('Locations_List and Locations_Get (by display name, URL-encoded by the SDK)', async () => {
      const locations = await all(client.locations.list());
      expect(locations.length).toBeGreaterThan(0);
      expect(locations.find((l) => l.name === 'West US')?.id).toBe('/providers/Microsoft.ImportExport/locations/westus');
      const loc = await client.locations.get('West US');
      expect(loc.id).toBe('/providers/Microsoft.ImportExport/locations/westus');
      expect(loc.supportedCarriers?.length).toBeGreaterThan(0);
      const e = await restError(client.locations.get('Atlantis'));
      expect(e.statusCode).toBe(404);
    });

    it('Operations_List lists the provider operations', async () => {
      const ops = await all(client.operations.list());
      expect(ops.map((o) => o.name)).toContain('Microsoft.ImportExport/jobs/listBitLockerKeys/action');
      expect(ops[0].provider).toBe('Microsoft Import/Export');
    });

    it('every api-version the reference lists is accepted; another is RestError 400 InvalidApiVersionParameter', async () => {
      for (const v of ['2016-11-01', '2020-08-01', '2021-01-01']) {
        const job = await clientFor(s.tokens.owner, { apiVersion: v }).jobs.get('sdkjob1', RG);
        expect(job.name).toBe('sdkjob1');
      }
      const e = await restError(clientFor(s.tokens.owner, { apiVersion: '2099-01-01' }).jobs.get('sdkjob1', RG));
      expect(e.statusCode).toBe(400);
      expect(e.code).toBe('InvalidApiVersionParameter');
    });

    it('a wrong token is RestError 401; another subscription is 404; a reader cannot write (403) or list keys (403)', async () => {
      const bad = await restError(clientFor('snk_not-a-token').jobs.get('sdkjob1', RG));
      expect(bad.statusCode).toBe(401);
      expect(bad.code).toBe('InvalidAuthenticationToken');
      const other = await restError(clientFor(s.tokens.otherOwner).jobs.get('sdkjob1', RG));
      expect(other.statusCode).toBe(404);
      const reader = clientFor(s.tokens.reader);
      expect((await reader.jobs.get('sdkjob1', RG)).name).toBe('sdkjob1');
      const w = await restError(reader.jobs.update('sdkjob1', RG, { logLevel: 'Error' }));
      expect(w.statusCode).toBe(403);
      expect(w.code).toBe('AuthorizationFailed');
      const k = await restError(all(reader.bitLockerKeys.list('sdkjob1', RG)));
      expect(k.statusCode).toBe(403);
    });

    it('Export jobs: created with an export blob list, returned with export.blobPathPrefix (SDK flattening)', async () => {
      const job = await client.jobs.create('sdkexport', RG, {
        location: 'westus',
        properties: { storageAccountId: STORAGE, jobType: 'Export', returnAddress: RETURN_ADDRESS, export: { blobPathPrefix: ['/'] } },
      });
      expect(job.location).toBe('westus');
      expect(job.properties?.jobType).toBe('Export');
      expect(job.properties?.export?.blobPathPrefix).toEqual(['/']);
      expect(job.properties?.driveList).toEqual([]);
    });
  });
}
