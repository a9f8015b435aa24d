/** `/metrics` for Prometheus (bearer token with the operator or admin role), and request latency by route. */
import type { FastifyInstance } from 'fastify';
import type { App } from '../app.ts';
import { assertRole, principalOf } from './auth.ts';
import { httpDuration, renderMetrics } from '../observability/metrics.ts';
import { TokenRole } from '../store/tokens.ts';

export function registerMetrics(app: FastifyInstance, ctx: App): void {
  // One labelled child per (method, route, status), looked up by a plain string: prom-client's own label
  // handling cost more per request than the rest of the hook.
  const series = new Map<string, { observe(v: number): void }>();
  app.addHook('onResponse', (req, reply, done) => {
    const route = req.routeOptions.url ?? 'unmatched';
    const key = `${req.method} ${reply.statusCode} ${route}`;
    let child = series.get(key);
    if (!child) series.set(key, (child = httpDuration.labels({ method: req.method, route, status: String(reply.statusCode) })));
    child.observe(reply.elapsedTime / 1000);
    done();
  });
  app.get('/metrics', async (req, reply) => {
    assertRole(principalOf(req), TokenRole.Operator);
    return reply.type('text/plain; version=0.0.4').send(await renderMetrics(ctx));
  });
}
