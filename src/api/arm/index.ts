/**
 * The customer API: Microsoft.ImportExport over ARM paths, the job events stream and /openapi.json. Registered
 * from src/api/routes.ts; everything runs inside one encapsulated Fastify plugin so its JSON parser (an empty
 * body is no body, as the SDK's bodiless POST sends) does not leak to other surfaces.
 */
import type { FastifyInstance } from 'fastify';
import type { App } from '../../app.ts';
import { ApiError, ApiErrorCode } from '../errors.ts';
import { eventsRoutes } from './events-routes.ts';
import { jobsRoutes } from './jobs-routes.ts';
import { loadLocations } from './locations.ts';
import { buildOpenApi } from './openapi.ts';
import { providerRoutes } from './provider-routes.ts';
import { registerRouteTable, type RouteSpec } from './route-table.ts';

export const SNEAKERNET_API_VERSION = '0.1.0';

/** JSON.parse that drops prototype-polluting keys. */
function parseJson(text: string): unknown {
  return JSON.parse(text, (k, v) => (k === '__proto__' || k === 'constructor' || k === 'prototype' ? undefined : v));
}

export function armRouteTable(app: FastifyInstance, ctx: App): RouteSpec[] {
  const catalog = loadLocations(ctx.config.locationsFile);
  return [...providerRoutes(catalog), ...jobsRoutes(ctx, catalog), ...eventsRoutes(app, ctx)];
}

export function registerArmRoutes(app: FastifyInstance, ctx: App): void {
  void app.register(async (scoped) => {
    scoped.removeContentTypeParser('application/json');
    scoped.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, done) => {
      const text = String(body);
      if (text.trim() === '') return done(null, undefined);
      try {
        done(null, parseJson(text));
      } catch {
        done(new ApiError(400, ApiErrorCode.InvalidRequestContent, 'The request body is not valid JSON.', 'body'), undefined);
      }
    });
    const routes = armRouteTable(scoped, ctx);
    registerRouteTable(scoped, routes);
    const doc = JSON.stringify(buildOpenApi(routes, { version: SNEAKERNET_API_VERSION, serverUrl: ctx.config.publicUrl }));
    scoped.get('/openapi.json', { config: { public: true } }, async (_req, reply) => reply.type('application/json').send(doc));
  });
}
