/**
 * The console's serving route and its helper endpoints, over HTTP without a browser: a clear page when web/dist
 * is missing, public static files, token-scoped whoami and jobs list (another subscription's jobs stay invisible).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import type { App } from '../../src/app.ts';
import { createImportJob } from '../helpers/jobs.ts';

const ADMIN = 'console-route-admin';
let ctx: App;
let server: FastifyInstance;

beforeAll(async () => {
  process.env.SNEAKERNET_CONSOLE_DIR = '/nonexistent/sneakernet-console';
  const { openApp } = await import('../../src/app.ts');
  const { buildServer } = await import('../../src/api/server.ts');
  const { configFromEnv } = await import('../../src/config.ts');
  ctx = await openApp({ ...configFromEnv({ dataDir: 'memory://', bootstrapToken: ADMIN }), databaseUrl: undefined, tlsCert: undefined, tlsKey: undefined });
  server = await buildServer(ctx);
  await createImportJob(ctx.store, { subscriptionId: 'sub-a', name: 'alpha-one' });
  await createImportJob(ctx.store, { subscriptionId: 'sub-a', name: 'alpha-two' });
  await createImportJob(ctx.store, { subscriptionId: 'sub-b', name: 'beta-one' });
});
afterAll(async () => {
  await server?.close();
  await ctx?.close();
  delete process.env.SNEAKERNET_CONSOLE_DIR;
});

const get = (url: string, token?: string) => server.inject({ method: 'GET', url, headers: token ? { authorization: `Bearer ${token}` } : {} });

describe('console route', () => {
  it('explains how to build the console when web/dist is missing, without asking for a token', async () => {
    const res = await get('/');
    expect(res.statusCode).toBe(503);
    expect(res.headers['content-type']).toContain('text/html');
    expect(res.body).toContain('npm run build');
    const escape = await get('/assets/%2e%2e%2f%2e%2e%2f%2e%2e%2fpackage.json');
    expect(escape.statusCode).toBe(404);
    expect(escape.body).not.toContain('sneakernet');
  });

  it('needs a token for its API and scopes the list to the token subscription', async () => {
    expect((await get('/console/api/jobs')).statusCode).toBe(401);
    const owner = (await ctx.tokens.create('sub-a', 'owner', null)).token;
    const who = await get('/console/api/whoami', owner);
    expect(who.json()).toMatchObject({ role: 'owner', subscriptionId: 'sub-a', admin: false });
    const list = (await get('/console/api/jobs', owner)).json();
    expect(list.total).toBe(2);
    expect(list.value.map((j: { name: string }) => j.name)).toEqual(['alpha-two', 'alpha-one']);
    expect((await get('/console/api/jobs?subscriptionId=sub-b', owner)).json().total).toBe(0);
    expect((await get('/console/api/jobs?subscriptionId=sub-b', ADMIN)).json().total).toBe(1);
    expect((await get('/console/api/jobs?q=TWO', owner)).json().value.map((j: { name: string }) => j.name)).toEqual(['alpha-two']);
    expect((await get('/console/api/jobs?state=Nope', owner)).statusCode).toBe(400);
    const page1 = (await get('/console/api/jobs?top=1', owner)).json();
    const page2 = (await get(`/console/api/jobs?top=1&cursor=${page1.nextCursor}`, owner)).json();
    expect([page1.value[0].name, page2.value[0].name]).toEqual(['alpha-two', 'alpha-one']);
    expect(page2.nextCursor).toBeNull();
  });
});
