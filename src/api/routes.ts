/**
 * Every route group the server mounts, in one list. Each feature adds one line here.
 */
import type { FastifyInstance } from 'fastify';
import type { App } from '../app.ts';
import { registerConsoleRoutes } from './console.ts';
import { registerArmRoutes } from './arm/index.ts';
import { registerOperatorSurface } from './operator/index.ts';
import { registerLogRoutes } from './logs-routes.ts';

export type RouteRegistration = (app: FastifyInstance, ctx: App) => void | Promise<void>;

export const routeRegistrations: RouteRegistration[] = [
  registerConsoleRoutes,
  registerArmRoutes,
  registerOperatorSurface,
  registerLogRoutes,
];
