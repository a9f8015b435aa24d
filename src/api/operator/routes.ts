/**
 * Operator HTTP API (`/operator/...`): the data center's surface. Every route needs an `operator` token (or an
 * admin). Operators act across subscriptions: a package may hold drives of any customer. Handlers are thin: parse,
 * authorize, call src/operator, serialize.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { App } from '../../app.ts';
import { assertRole, principalOf } from '../auth.ts';
import { badRequest, notFound } from '../errors.ts';
import { TokenRole } from '../../store/tokens.ts';
import { isJobState, type JobState } from '../../domain/states.ts';
import type { DriveRecord, JobRecord } from '../../store/records.ts';
import {
  acceptPartialDelivery, closeTask, closeUndelivered, custodyChain, extendShippingWait, faultJob, finishDriveTransfer, flagReturnAddress,
  getCertificates, listHeldDrives, listTasks, receivePackage, recordHeldDestruction, recordJobDriveDestruction, recordReturnDamage,
  releaseHeldDrive, returnHeldDrive, shipBack, startDriveTransfer, unfaultJob, type OperatorCall,
} from '../../operator/index.ts';
import { opsDb } from '../../operator/schema.ts';
import { pendingDeadlines } from '../../timers/deadlines.ts';
import { sweepTimers } from '../../timers/sweep.ts';
import { backgroundOf } from '../../timers/background.ts';

type Body = Record<string, unknown>;

export function body(req: FastifyRequest): Body {
  const b = req.body;
  if (b === undefined || b === null || b === '') return {};
  if (typeof b !== 'object' || Array.isArray(b)) throw badRequest('The body must be a JSON object.');
  return b as Body;
}

export function intParam(v: unknown, name: string): number {
  const n = typeof v === 'string' && /^\d{1,15}$/.test(v) ? Number(v) : NaN;
  if (!Number.isSafeInteger(n) || n <= 0) throw badRequest(`'${name}' must be a positive whole number.`, name);
  return n;
}

const optString = (v: unknown, name: string): string | undefined => {
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw badRequest(`'${name}' must be a string.`, name);
  return v;
};
const optInt = (v: unknown, name: string): number | undefined => {
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v)) throw badRequest(`'${name}' must be a number.`, name);
  return v;
};
const optStrings = (v: unknown, name: string): string[] | undefined => {
  if (v === undefined) return undefined;
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) throw badRequest(`'${name}' must be a list of strings.`, name);
  return v as string[];
};

export function operatorJob(job: JobRecord, drives: DriveRecord[]) {
  return {
    ...job,
    drives: drives.map(({ bitLockerKeyCipher: _secret, ...d }) => d),
    pendingDeadlines: pendingDeadlines(job),
  };
}

export function registerOperatorRoutes(app: FastifyInstance, ctx: App): void {
  const call = (req: FastifyRequest): OperatorCall => {
    const p = principalOf(req);
    assertRole(p, TokenRole.Operator);
    return { store: ctx.store, by: p.tokenId };
  };
  const jobOut = async (r: { job: JobRecord; drives?: DriveRecord[] }) => operatorJob(r.job, r.drives ?? (await ctx.store.getDrives(r.job.id)));

  app.post('/operator/packages', async (req) => {
    const c = call(req);
    const b = body(req);
    return receivePackage(c, {
      carrier: optString(b.carrier, 'carrier') ?? '', trackingNumber: optString(b.trackingNumber, 'trackingNumber') ?? '',
      driveIds: optStrings(b.driveIds, 'driveIds') ?? [], jobId: optInt(b.jobId, 'jobId'),
    });
  });

  app.get('/operator/jobs', async (req) => {
    call(req);
    const q = req.query as Record<string, string | undefined>;
    const states = q.state ? q.state.split(',') : undefined;
    if (states && !states.every(isJobState)) throw badRequest("'state' must be job states separated by commas.", 'state');
    const limit = q.top ? intParam(q.top, 'top') : 100;
    const page = await ctx.store.listJobs({
      subscriptionId: q.subscriptionId, states: states as JobState[] | undefined, nameContains: q.name,
      afterId: q.after ? intParam(q.after, 'after') : undefined, limit: Math.min(limit, 500),
    });
    return { value: page.jobs.map((j) => ({ ...j, pendingDeadlines: pendingDeadlines(j) })), nextAfter: page.nextAfterId };
  });

  app.get('/operator/jobs/:jobId', async (req) => {
    const c = call(req);
    const id = intParam((req.params as Body).jobId, 'jobId');
    const job = await ctx.store.getJobById(id);
    if (!job) throw notFound('The job');
    const tasks = await listTasks(c, { status: 'all', jobId: id, limit: 500 });
    return { ...(await jobOut({ job })), tasks: tasks.tasks, events: await ctx.store.listEvents(id, 0, 1000) };
  });

  const jobAction = (path: string, fn: (c: OperatorCall, jobId: number, b: Body, params: Body) => Promise<{ job: JobRecord; drives?: DriveRecord[] | undefined; drive?: DriveRecord; changed?: boolean; flagId?: number }>) => {
    app.post(`/operator/jobs/:jobId/${path}`, async (req) => {
      const c = call(req);
      const params = req.params as Body;
      const r = await fn(c, intParam(params.jobId, 'jobId'), body(req), params);
      const { job, drives, drive, ...rest } = r;
      return { ...rest, ...(drive ? { drive: { ...drive, bitLockerKeyCipher: undefined } } : {}), job: await jobOut({ job, drives }) };
    });
  };
  jobAction('return-address-problem', (c, id, b) => flagReturnAddress(c, id, { note: optString(b.note, 'note') ?? '' }));
  jobAction('ship-back', (c, id, b) => shipBack(c, id, {
    carrierName: optString(b.carrierName, 'carrierName') ?? '', trackingNumber: optString(b.trackingNumber, 'trackingNumber') ?? '',
    driveCount: optInt(b.driveCount, 'driveCount'), shipDate: optString(b.shipDate, 'shipDate'),
  }));
  jobAction('return-issues', (c, id, b) => recordReturnDamage(c, id, { kind: optString(b.kind, 'kind') ?? '', driveIds: optStrings(b.driveIds, 'driveIds'), blobs: optStrings(b.blobs, 'blobs'), note: optString(b.note, 'note') ?? '' }));
  jobAction('fault', (c, id, b) => faultJob(c, id, { reason: optString(b.reason, 'reason') ?? '' }));
  jobAction('unfault', (c, id, b) => unfaultJob(c, id, { note: optString(b.note, 'note') ?? '', to: optString(b.to, 'to') }));
  jobAction('drives/:driveId/fault', (c, id, b, p) => faultJob(c, id, { reason: optString(b.reason, 'reason') ?? '', driveId: String(p.driveId) }));
  jobAction('drives/:driveId/unfault', (c, id, b, p) => unfaultJob(c, id, { note: optString(b.note, 'note') ?? '', to: optString(b.to, 'to'), driveId: String(p.driveId) }));
  jobAction('drives/:driveId/start-transfer', (c, id, _b, p) => startDriveTransfer(c.store, { jobId: id, driveId: String(p.driveId), workerId: c.by ?? undefined }));
  jobAction('drives/:driveId/finish-transfer', (c, id, b, p) => {
    const o = (b.outcome ?? {}) as Body;
    if (typeof o !== 'object' || Array.isArray(o)) throw badRequest("'outcome' must be an object.", 'outcome');
    return finishDriveTransfer(c.store, {
      jobId: id, driveId: String(p.driveId), workerId: c.by ?? undefined,
      outcome: {
        errors: optInt(o.errors, 'outcome.errors') ?? 0, warnings: optInt(o.warnings, 'outcome.warnings'), overwrites: optInt(o.overwrites, 'outcome.overwrites'),
        bytesSucceeded: optInt(o.bytesSucceeded, 'outcome.bytesSucceeded'), errorLogUri: optString(o.errorLogUri, 'outcome.errorLogUri'), verboseLogUri: optString(o.verboseLogUri, 'outcome.verboseLogUri'),
      },
    });
  });
  jobAction('extend-shipping', (c, id, b) => extendShippingWait(c, id, { days: optInt(b.days, 'days'), note: optString(b.note, 'note') }));
  jobAction('close-undelivered', (c, id, b) => closeUndelivered(c, id, { note: optString(b.note, 'note') }));
  jobAction('accept-partial-delivery', (c, id, b) => acceptPartialDelivery(c, id, { note: optString(b.note, 'note') }));

  app.post('/operator/jobs/:jobId/drives/:driveId/destruction', async (req, reply) => {
    const c = call(req);
    const p = req.params as Body;
    const b = body(req);
    const cert = await recordJobDriveDestruction(c, intParam(p.jobId, 'jobId'), String(p.driveId), {
      method: optString(b.method, 'method') ?? '', destroyedBy: optString(b.destroyedBy, 'destroyedBy') ?? '', destroyedAt: optString(b.destroyedAt, 'destroyedAt'), witness: optString(b.witness, 'witness'),
    });
    return reply.code(201).send(cert);
  });

  app.get('/operator/held-drives', async (req) => {
    const c = call(req);
    const q = req.query as Record<string, string | undefined>;
    return { value: await listHeldDrives(c, { state: q.state, jobId: q.jobId ? intParam(q.jobId, 'jobId') : undefined }) };
  });
  app.post('/operator/held-drives/:id/release', async (req) => {
    const c = call(req);
    const b = body(req);
    return releaseHeldDrive(c, intParam((req.params as Body).id, 'id'), { jobId: optInt(b.jobId, 'jobId') });
  });
  app.post('/operator/held-drives/:id/return', async (req) => {
    const c = call(req);
    const b = body(req);
    return returnHeldDrive(c, intParam((req.params as Body).id, 'id'), { carrier: optString(b.carrier, 'carrier') ?? '', trackingNumber: optString(b.trackingNumber, 'trackingNumber') ?? '', note: optString(b.note, 'note') });
  });
  app.post('/operator/held-drives/:id/destruction', async (req, reply) => {
    const c = call(req);
    const b = body(req);
    const cert = await recordHeldDestruction(c, intParam((req.params as Body).id, 'id'), {
      method: optString(b.method, 'method') ?? '', destroyedBy: optString(b.destroyedBy, 'destroyedBy') ?? '', destroyedAt: optString(b.destroyedAt, 'destroyedAt'), witness: optString(b.witness, 'witness'),
    });
    return reply.code(201).send(cert);
  });

  app.get('/operator/tasks', async (req) => {
    const c = call(req);
    const q = req.query as Record<string, string | undefined>;
    const page = await listTasks(c, {
      status: (q.status as 'open' | 'closed' | 'all' | undefined) ?? 'open', kind: q.kind, jobId: q.jobId ? intParam(q.jobId, 'jobId') : undefined,
      overdue: q.overdue === 'true', afterId: q.after ? intParam(q.after, 'after') : undefined, limit: q.top ? intParam(q.top, 'top') : undefined,
    });
    return { value: page.tasks, nextAfter: page.nextAfterId };
  });
  app.post('/operator/tasks/:id/close', async (req) => {
    const c = call(req);
    return closeTask(c, intParam((req.params as Body).id, 'id'), optString(body(req).note, 'note') ?? '');
  });

  app.get('/operator/drives/:driveId/custody', async (req) => {
    const c = call(req);
    const driveId = String((req.params as Body).driveId);
    return { driveId, chainOfCustody: await custodyChain(opsDb(ctx.store), driveId), certificates: await getCertificates(c, driveId) };
  });

  app.post('/operator/timers/sweep', async (req) => {
    call(req);
    const bg = backgroundOf(ctx);
    return bg ? bg.timers.sweepNow() : sweepTimers(ctx.store);
  });
}
