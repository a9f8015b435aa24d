/** ARM job operations: Create/Replace (PUT), Get, Update (PATCH), Delete, the two lists and listBitLockerKeys. */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { App } from '../../app.ts';
import { DomainError } from '../../domain/errors.ts';
import { principalOf } from '../auth.ts';
import { armHeaders, assertMayReadKeys, assertOwner, jobKey, subscriptionFor } from './common.ts';
import { etagOf, readPrecondition } from './etag.ts';
import { parseJobFilter } from './filter.ts';
import { findJobWithDrives } from './job-reads.ts';
import { JobReadCache, jobReadCache } from './job-read-cache.ts';
import { getJobCache } from '../../observability/metrics.ts';
import { bitLockerKeys, createOrReplaceJob, deleteJob, updateJob } from './job-service.ts';
import type { LocationCatalog } from './locations.ts';
import { decodeSkipToken, encodeSkipToken, nextLink, parseTop } from './paging.ts';
import type { RouteSpec } from './route-table.ts';
import * as S from './schemas.ts';
import { jobToArm } from './serializers.ts';

export const JOBS_BASE = '/subscriptions/:subscriptionId/resourceGroups/:resourceGroupName/providers/Microsoft.ImportExport/jobs';
export const JOB_PATH = `${JOBS_BASE}/:jobName`;

const jobParams = S.obj(
  { subscriptionId: S.subscriptionIdParam, resourceGroupName: S.resourceGroupParam, jobName: S.jobNameParam },
  { required: ['subscriptionId', 'resourceGroupName', 'jobName'] },
);
const rgParams = S.obj({ subscriptionId: S.subscriptionIdParam, resourceGroupName: S.resourceGroupParam }, { required: ['subscriptionId', 'resourceGroupName'] });
const subParams = S.obj({ subscriptionId: S.subscriptionIdParam }, { required: ['subscriptionId'] });

const etagHeader = { ETag: { description: "The job's version; send it back in If-Match.", schema: { type: 'string' } } };
const errors = { default: { description: 'ARM error body.', schema: S.errorResponse } };
const jobOk = (description: string) => ({ description, schema: S.jobResponse, headers: etagHeader });

const JSON_TYPE = 'application/json; charset=utf-8';
const cacheHits = getJobCache.labels('hit');
const cacheMisses = getJobCache.labels('miss');

export function jobsRoutes(ctx: App, catalog: LocationCatalog): RouteSpec[] {
  const store = ctx.store;
  const cache = jobReadCache(ctx);

  const sendJob = (reply: FastifyReply, status: number, found: { job: Parameters<typeof jobToArm>[0]; drives: Parameters<typeof jobToArm>[1] }) =>
    armHeaders(reply).code(status).header('etag', etagOf(found.job.version)).send(jobToArm(found.job, found.drives));

  async function list(req: FastifyRequest, reply: FastifyReply, resourceGroup: string | undefined) {
    const p = principalOf(req);
    const params = req.params as { subscriptionId: string };
    const subscriptionId = subscriptionFor(p, params.subscriptionId, `The subscription '${params.subscriptionId}'`);
    const q = req.query as Record<string, string | undefined>;
    const top = parseTop(q.$top);
    const filter = parseJobFilter(q.$filter);
    const afterId = decodeSkipToken(q.$skipToken ?? q.$skiptoken);
    if (filter.matchesNothing) return armHeaders(reply).send({ value: [] });
    const { jobs, nextAfterId } = await store.listJobs({ subscriptionId, resourceGroup, states: filter.states, jobType: filter.jobType, afterId, limit: top });
    const drives = await store.getDrivesOfJobs(jobs.map((j) => j.id));
    const body: Record<string, unknown> = { value: jobs.map((j) => jobToArm(j, drives.get(j.id) ?? [])) };
    if (nextAfterId !== null) {
      body.nextLink = nextLink(req, ctx.config.publicUrl, req.url.split('?')[0], {
        'api-version': String(q['api-version']),
        $top: q.$top !== undefined ? String(top) : undefined,
        $filter: q.$filter,
        $skipToken: encodeSkipToken(nextAfterId),
      });
    }
    return armHeaders(reply).send(body);
  }

  return [
    {
      method: 'PUT', url: JOB_PATH, operationId: 'Jobs_Create', tag: 'Jobs', apiVersion: 'required',
      summary: 'Creates a job, or replaces a job that is still Creating. 201 when created, 200 when replaced. If-Match / If-None-Match: * honoured.',
      params: jobParams, querystring: S.apiVersionQuery, body: S.putJobBody, bodyRequired: true,
      responses: { 200: jobOk('The Creating job was replaced.'), 201: jobOk('The job was created.'), ...errors },
      handler: async (req, reply) => {
        const { principal, key } = jobKey(req);
        assertOwner(principal);
        const r = await createOrReplaceJob(store, catalog, key, req.body, readPrecondition(req.headers), { tokenId: principal.tokenId });
        return sendJob(reply, r.created ? 201 : 200, r);
      },
    },
    {
      method: 'GET', url: JOB_PATH, operationId: 'Jobs_Get', tag: 'Jobs', apiVersion: 'required',
      summary: 'Gets a job with its drives. BitLocker keys are never included (see listBitLockerKeys).',
      params: jobParams, querystring: S.apiVersionQuery,
      responses: { 200: jobOk('The job.'), ...errors },
      handler: async (req, reply) => {
        const { key } = jobKey(req);
        const cacheKey = cache && JobReadCache.keyOf(key);
        const hit = cacheKey ? cache!.get(cacheKey) : undefined;
        if (hit) {
          cacheHits.inc();
          return armHeaders(reply).code(200).header('etag', hit.etag).type(JSON_TYPE).send(hit.body);
        }
        if (cacheKey) cacheMisses.inc();
        const ticket = cache?.ticket() ?? 0;
        const found = await findJobWithDrives(store, key);
        if (!found) throw new DomainError('NotFound', `The job '${key.name}' was not found in resource group '${key.resourceGroup}'.`);
        const etag = etagOf(found.job.version);
        const body = String(armHeaders(reply).code(200).header('etag', etag).serialize(jobToArm(found.job, found.drives)));
        if (cacheKey) cache!.set(cacheKey, ticket, { jobId: found.job.id, etag, body });
        return reply.type(JSON_TYPE).send(body);
      },
    },
    {
      method: 'PATCH', url: JOB_PATH, operationId: 'Jobs_Update', tag: 'Jobs', apiVersion: 'required',
      summary: "Updates a job: tags, addresses, delivery package, log level, manifest backup, drives (Creating), state 'Shipping', cancelRequested. In Creating it restarts the 14-day clock. If-Match honoured.",
      params: jobParams, querystring: S.apiVersionQuery, body: S.patchJobBody, bodyRequired: true,
      responses: { 200: jobOk('The updated job.'), ...errors },
      handler: async (req, reply) => {
        const { principal, key } = jobKey(req);
        assertOwner(principal);
        return sendJob(reply, 200, await updateJob(store, key, req.body, readPrecondition(req.headers), { tokenId: principal.tokenId }));
      },
    },
    {
      method: 'DELETE', url: JOB_PATH, operationId: 'Jobs_Delete', tag: 'Jobs', apiVersion: 'required',
      summary: 'Deletes a job in Creating or Completed. 200 with an empty body. If-Match honoured.',
      params: jobParams, querystring: S.apiVersionQuery,
      responses: { 200: { description: 'Deleted (empty body).' }, ...errors },
      handler: async (req, reply) => {
        const { principal, key } = jobKey(req);
        assertOwner(principal);
        await deleteJob(store, key, readPrecondition(req.headers));
        return armHeaders(reply).code(200).send();
      },
    },
    {
      method: 'GET', url: '/subscriptions/:subscriptionId/providers/Microsoft.ImportExport/jobs', operationId: 'Jobs_ListBySubscription', tag: 'Jobs',
      apiVersion: 'required', summary: 'Lists the jobs of a subscription, oldest first, with keyset paging (nextLink).',
      params: subParams, querystring: S.listQuery,
      responses: { 200: { description: 'A page of jobs.', schema: S.listJobsResponse }, ...errors },
      handler: (req, reply) => list(req, reply, undefined),
    },
    {
      method: 'GET', url: JOBS_BASE, operationId: 'Jobs_ListByResourceGroup', tag: 'Jobs', apiVersion: 'required',
      summary: 'Lists the jobs of a resource group, oldest first, with keyset paging (nextLink).',
      params: rgParams, querystring: S.listQuery,
      responses: { 200: { description: 'A page of jobs.', schema: S.listJobsResponse }, ...errors },
      handler: (req, reply) => list(req, reply, (req.params as { resourceGroupName: string }).resourceGroupName),
    },
    {
      method: 'POST', url: `${JOB_PATH}/listBitLockerKeys`, operationId: 'BitLockerKeys_List', tag: 'BitLockerKeys', apiVersion: 'required',
      summary: "Returns the BitLocker keys of the job's drives: the only place they appear. Owners only.",
      params: jobParams, querystring: S.apiVersionQuery,
      responses: { 200: { description: 'The keys.', schema: S.bitLockerKeysResponse }, ...errors },
      handler: async (req, reply) => {
        const { principal, key } = jobKey(req);
        assertMayReadKeys(principal);
        const value = await bitLockerKeys(store, key);
        return armHeaders(reply).header('cache-control', 'no-store').send({ value });
      },
    },
  ];
}
