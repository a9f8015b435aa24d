/** The operator issue's HTTP surface: operator routes, customer webhook routes, the admin clock. One registration. */
import type { FastifyInstance } from 'fastify';
import type { App } from '../../app.ts';
import { registerOperatorRoutes } from './routes.ts';
import { registerWebhookRoutes } from './webhooks.ts';
import { registerClockRoutes } from './clock.ts';

export function registerOperatorSurface(app: FastifyInstance, ctx: App): void {
  registerOperatorRoutes(app, ctx);
  registerWebhookRoutes(app, ctx);
  registerClockRoutes(app, ctx);
}
