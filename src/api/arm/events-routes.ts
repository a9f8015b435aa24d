/**
 * `GET …/jobs/{name}/events`: the job's history, then its live changes, as Server-Sent Events. Each event's SSE
 * id is the job_events id, so a client that reconnects with `Last-Event-ID` (or `?lastEventId=`) resumes exactly
 * after the last event it saw. `?follow=false` sends the history and ends. What Azure lacks: no more polling.
 */
import type { FastifyInstance } from 'fastify';
import type { App } from '../../app.ts';
import { DomainError } from '../../domain/errors.ts';
import type { JobEventRecord } from '../../store/records.ts';
import { ApiError, ApiErrorCode } from '../errors.ts';
import { jobKey } from './common.ts';
import { eventHub } from './event-hub.ts';
import { JOB_PATH } from './jobs-routes.ts';
import type { RouteSpec } from './route-table.ts';
import * as S from './schemas.ts';

const HEARTBEAT_MS = 15_000;
const BATCH = 500;

export const jobEventSchema = S.obj({
  id: S.int, jobId: S.int, job: { type: 'string' }, driveId: { type: 'string', nullable: true }, event: { type: 'string' },
  fromState: { type: 'string', nullable: true }, toState: { type: 'string', nullable: true }, actor: { type: 'string' },
  reasonCode: { type: 'string' }, message: { type: 'string' }, at: { type: 'string', format: 'date-time' }, data: {},
});

export function eventToWire(e: JobEventRecord, jobName: string) {
  return {
    id: e.id, jobId: e.jobId, job: jobName, driveId: e.driveId, event: e.event, fromState: e.fromState, toState: e.toState,
    actor: e.actor, reasonCode: e.reasonCode, message: e.message, at: e.at.toISOString(), data: e.data ?? undefined,
  };
}

function parseLastEventId(header: unknown, query: unknown): number {
  const raw = header ?? query;
  if (raw === undefined || raw === '') return 0;
  const text = Array.isArray(raw) ? String(raw[0]) : String(raw);
  if (!/^\d{1,15}$/.test(text.trim())) {
    throw new ApiError(400, ApiErrorCode.InvalidRequestContent, 'Last-Event-ID must be the id of an event this stream sent.', 'Last-Event-ID');
  }
  return Number(text.trim());
}

export function eventsRoutes(app: FastifyInstance, ctx: App): RouteSpec[] {
  const open = new Set<() => void>();
  app.addHook('preClose', async () => {
    for (const end of [...open]) end();
  });
  return [
    {
      method: 'GET', url: `${JOB_PATH}/events`, operationId: 'Jobs_Events', tag: 'Jobs (sneakernet)', apiVersion: 'optional',
      summary: 'Streams the job history then live changes as Server-Sent Events (Last-Event-ID resumes). Not part of Azure.',
      params: S.obj({ subscriptionId: S.subscriptionIdParam, resourceGroupName: S.resourceGroupParam, jobName: S.jobNameParam }, { required: ['subscriptionId', 'resourceGroupName', 'jobName'] }),
      querystring: S.obj({
        'api-version': S.apiVersionParam,
        lastEventId: { type: 'integer', minimum: 0, description: 'Resume after this event (same as the Last-Event-ID header).' },
        follow: { type: 'boolean', description: 'false: send the history and end (default true).' },
      }),
      responses: {
        200: { description: 'text/event-stream of job events; data is JSON.', contentType: 'text/event-stream', schema: jobEventSchema },
        default: { description: 'ARM error body.', schema: S.errorResponse },
      },
      handler: async (req, reply) => {
        const { key } = jobKey(req);
        const q = req.query as Record<string, string | undefined>;
        const after = parseLastEventId(req.headers['last-event-id'], q.lastEventId);
        const follow = q.follow !== 'false';
        const job = await ctx.store.getJob(key);
        if (!job) throw new DomainError('NotFound', `The job '${key.name}' was not found in resource group '${key.resourceGroup}'.`);

        reply.hijack();
        const res = reply.raw;
        res.writeHead(200, {
          'content-type': 'text/event-stream; charset=utf-8',
          'cache-control': 'no-cache',
          'x-accel-buffering': 'no',
          'x-content-type-options': 'nosniff',
          'x-ms-request-id': req.id,
          connection: 'keep-alive',
        });
        res.write('retry: 2000\n\n');

        let cursor = after;
        let closed = false;
        let chain = Promise.resolve();
        let unsubscribe: (() => void) | null = null;
        let heartbeat: NodeJS.Timeout | null = null;

        const end = () => {
          if (closed) return;
          closed = true;
          open.delete(end);
          if (heartbeat) clearInterval(heartbeat);
          unsubscribe?.();
          res.end();
        };
        open.add(end);
        res.on('close', end);

        const pump = async () => {
          while (!closed) {
            const events = await ctx.store.listEvents(job.id, cursor, BATCH);
            for (const e of events) {
              res.write(`id: ${e.id}\ndata: ${JSON.stringify(eventToWire(e, job.name))}\n\n`);
              cursor = e.id;
            }
            if (events.length < BATCH) return;
          }
        };
        // Serialised: notices that arrive while a read runs queue one more read, never a parallel one.
        const schedule = () => {
          chain = chain.then(pump).catch(() => end());
          return chain;
        };

        // A lost LISTEN connection ends the stream: the client reconnects with Last-Event-ID and misses nothing.
        if (follow) {
          try {
            unsubscribe = await eventHub(ctx).subscribe(job.id, (n) => (n ? void schedule() : end()));
          } catch {
            return end(); // cannot listen now (database unreachable): the client retries with Last-Event-ID
          }
        }
        await schedule();
        if (!follow) return end();
        heartbeat = setInterval(() => {
          if (!closed) res.write(': keep-alive\n\n');
        }, HEARTBEAT_MS);
        heartbeat.unref();
      },
    },
  ];
}
