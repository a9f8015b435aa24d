/**
 * The HTTP server: Fastify with the error catalogue, auth, and each surface registered as a plugin-like function.
 * Later features add their `register…Routes` here; handlers stay thin (parse, authorize, call the domain, serialize).
 */
import fs from 'node:fs';
import crypto from 'node:crypto';
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import type { App } from '../app.ts';
import { registerErrorHandling, toHttpError } from './errors.ts';
import { registerAuth } from './auth.ts';
import { registerHealth } from './health.ts';
import { registerAdminRoutes } from './admin.ts';
import { routeRegistrations } from './routes.ts';
import { registerMetrics } from './metrics-route.ts';
import { registerJobReadCache } from './arm/job-read-cache.ts';
import { withRequestId } from '../observability/request-context.ts';

export interface ServerOptions {
  logger?: FastifyServerOptions['logger'];
}

export const BODY_LIMIT_BYTES = 1024 * 1024;

export async function buildServer(ctx: App, opts: ServerOptions = {}): Promise<FastifyInstance> {
  const https = ctx.config.tlsCert && ctx.config.tlsKey
    ? { https: { cert: fs.readFileSync(ctx.config.tlsCert), key: fs.readFileSync(ctx.config.tlsKey) } }
    : {};
  const app = Fastify({
    logger: opts.logger ?? false,
    bodyLimit: BODY_LIMIT_BYTES,
    genReqId: (req) => {
      const given = req.headers['x-ms-client-request-id'];
      return typeof given === 'string' && /^[\w-]{1,100}$/.test(given) ? given : crypto.randomUUID();
    },
    routerOptions: { ignoreTrailingSlash: true, caseSensitive: false, maxParamLength: 500 },
    // Bad percent-encoding and over-long path parameters are answered by the router itself: give them ARM bodies too.
    frameworkErrors: (err: unknown, _req: unknown, reply: { code(n: number): { type(t: string): { send(b: unknown): unknown } } }) => {
      const { status, body } = toHttpError(err);
      void reply.code(status).type('application/json').send(body);
    },
    ...https,
  } as FastifyServerOptions) as unknown as FastifyInstance;
  registerErrorHandling(app);
  // Before any route is added: it hooks every route that can write.
  registerJobReadCache(app, ctx);
  // Hooks on every request are callback-style, not async: no promise and no extra microtask per request.
  app.addHook('onSend', (req, reply, payload, done) => {
    reply.header('x-ms-request-id', req.id);
    reply.header('cache-control', 'no-cache');
    reply.header('x-content-type-options', 'nosniff');
    done(null, payload);
  });
  // Everything a handler does (and every event it writes) runs under the request's id.
  app.addHook('preHandler', (req, _reply, done) => withRequestId(req.id, done));
  registerAuth(app, ctx.tokens, ctx.config.bootstrapToken);
  registerHealth(app, ctx);
  registerAdminRoutes(app, ctx);
  registerMetrics(app, ctx);
  for (const register of routeRegistrations) await register(app, ctx);
  return app;
}
