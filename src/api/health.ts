import type { FastifyInstance } from 'fastify';
import type { App } from '../app.ts';
import { errorBody, ApiErrorCode } from './errors.ts';
import { cachedBlobProbe } from '../storage-accounts/probe.ts';

export function registerHealth(app: FastifyInstance, ctx: App): void {
  // Alive and the database answers.
  app.get('/healthz', { config: { public: true } }, async (_req, reply) => {
    try {
      await ctx.database.ping();
      return { status: 'ok', database: ctx.database.kind };
    } catch {
      return reply.code(503).send(errorBody(ApiErrorCode.ServiceUnavailable, 'The database does not answer.'));
    }
  });
  // Ready to take traffic: database reachable, migrations current, every registered blob backend reachable.
  const probe = cachedBlobProbe();
  app.get('/readyz', { config: { public: true } }, async (_req, reply) => {
    try {
      await ctx.database.ping();
      if (!(await ctx.database.migrationsCurrent())) {
        return reply.code(503).send(errorBody(ApiErrorCode.ServiceUnavailable, 'Database migrations are not current.'));
      }
      const backends = await probe(ctx.store);
      const down = backends.filter((b) => !b.ok);
      if (down.length > 0) {
        return reply.code(503).send(errorBody(ApiErrorCode.ServiceUnavailable,
          `Blob backends unreachable: ${down.map((b) => `${b.accountId} (${b.backend}: ${b.error})`).join('; ')}.`));
      }
      return { status: 'ready', blobBackends: backends.map((b) => ({ accountId: b.accountId, backend: b.backend, ok: b.ok })) };
    } catch {
      return reply.code(503).send(errorBody(ApiErrorCode.ServiceUnavailable, 'The database does not answer.'));
    }
  });
}
