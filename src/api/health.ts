import type { FastifyInstance } from 'fastify';
import type { App } from '../app.ts';
import { errorBody, ApiErrorCode } from './errors.ts';

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
  // Ready to take traffic: database reachable and migrations current.
  app.get('/readyz', { config: { public: true } }, async (_req, reply) => {
    try {
      await ctx.database.ping();
      if (!(await ctx.database.migrationsCurrent())) {
        return reply.code(503).send(errorBody(ApiErrorCode.ServiceUnavailable, 'Database migrations are not current.'));
      }
      return { status: 'ready' };
    } catch {
      return reply.code(503).send(errorBody(ApiErrorCode.ServiceUnavailable, 'The database does not answer.'));
    }
  });
}
