/** Admin routes: token management. Admin = the bootstrap token or an admin-role token. */
import type { FastifyInstance } from 'fastify';
import type { App } from '../app.ts';
import { assertRole, principalOf } from './auth.ts';
import { badRequest, notFound } from './errors.ts';
import { TOKEN_ROLES, TokenRole } from '../store/tokens.ts';

const SUBSCRIPTION_ID = /^[A-Za-z0-9][A-Za-z0-9-]{0,63}$/;

export function registerAdminRoutes(app: FastifyInstance, ctx: App): void {
  app.post('/admin/tokens', async (req, reply) => {
    assertRole(principalOf(req));
    const body = req.body as Record<string, unknown> | undefined;
    if (!body || typeof body !== 'object' || Array.isArray(body)) throw badRequest('The body must be a JSON object with subscriptionId and role.');
    const { subscriptionId, role, label } = body;
    if (typeof role !== 'string' || !(TOKEN_ROLES as string[]).includes(role)) {
      throw badRequest(`'role' must be one of ${TOKEN_ROLES.join(', ')}.`, 'role');
    }
    if (role !== TokenRole.Admin && (typeof subscriptionId !== 'string' || !SUBSCRIPTION_ID.test(subscriptionId))) {
      throw badRequest("'subscriptionId' must be a subscription id (letters, digits and '-').", 'subscriptionId');
    }
    if (label !== undefined && (typeof label !== 'string' || label.length > 200)) throw badRequest("'label' must be a short string.", 'label');
    const { token, info } = await ctx.tokens.create(role === TokenRole.Admin ? null : (subscriptionId as string), role as TokenRole, (label as string) ?? null);
    return reply.code(201).send({ token, id: info.id, subscriptionId: info.subscriptionId, role: info.role });
  });

  app.get('/admin/tokens', async (req) => {
    assertRole(principalOf(req));
    return { value: await ctx.tokens.list() };
  });

  app.delete('/admin/tokens/:id', async (req) => {
    assertRole(principalOf(req));
    const { id } = req.params as { id: string };
    if (!(await ctx.tokens.revoke(id))) throw notFound('The token');
    return { revoked: id };
  });
}
