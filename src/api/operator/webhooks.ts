/**
 * Customer webhook subscriptions, beside the ARM resources of a subscription (not an ARM resource type; the Azure
 * SDK never calls these): `/subscriptions/{sub}/providers/Microsoft.ImportExport/webhooks[/{id}[/deliveries]]`.
 * Readers may list; owners create and delete. The signing secret is shown once, at creation.
 */
import type { FastifyInstance } from 'fastify';
import type { App } from '../../app.ts';
import { assertCanRead, assertCanWrite, principalOf } from '../auth.ts';
import { notFound } from '../errors.ts';
import { createWebhook, deleteWebhook, getWebhook, listDeliveries, listWebhooks } from '../../notify/webhooks.ts';
import { body, intParam } from './routes.ts';

const BASE = '/subscriptions/:subscriptionId/providers/Microsoft.ImportExport/webhooks';

export function registerWebhookRoutes(app: FastifyInstance, ctx: App): void {
  const sub = (params: unknown) => String((params as { subscriptionId: string }).subscriptionId);

  app.post(BASE, async (req, reply) => {
    const p = principalOf(req);
    const s = sub(req.params);
    assertCanWrite(p, s, 'The subscription');
    const b = body(req);
    const { webhook, secret } = await createWebhook(ctx.store, s, { url: b.url, topics: b.topics, description: b.description, secret: b.secret }, p.tokenId);
    return reply.code(201).send({ ...webhook, secret });
  });
  app.get(BASE, async (req) => {
    const s = sub(req.params);
    assertCanRead(principalOf(req), s, 'The subscription');
    return { value: await listWebhooks(ctx.store, s) };
  });
  app.get(`${BASE}/:id`, async (req) => {
    const s = sub(req.params);
    assertCanRead(principalOf(req), s, 'The webhook');
    const w = await getWebhook(ctx.store, s, String((req.params as { id: string }).id));
    if (!w) throw notFound('The webhook');
    return w;
  });
  app.delete(`${BASE}/:id`, async (req, reply) => {
    const s = sub(req.params);
    assertCanWrite(principalOf(req), s, 'The webhook');
    if (!(await deleteWebhook(ctx.store, s, String((req.params as { id: string }).id)))) throw notFound('The webhook');
    return reply.code(200).send();
  });
  app.get(`${BASE}/:id/deliveries`, async (req) => {
    const s = sub(req.params);
    assertCanRead(principalOf(req), s, 'The webhook');
    const id = String((req.params as { id: string }).id);
    if (!(await getWebhook(ctx.store, s, id))) throw notFound('The webhook');
    const q = req.query as Record<string, string | undefined>;
    return { value: await listDeliveries(ctx.store, s, id, { afterId: q.after ? intParam(q.after, 'after') : undefined, limit: q.top ? intParam(q.top, 'top') : undefined }) };
  });
}
