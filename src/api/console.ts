/**
 * The web console: its built files (web/dist) at `/` without a token, and two small read-only helpers the console
 * needs and the ARM contract does not offer:
 *   GET /console/api/whoami  — the caller's role and subscription (so the console knows which URLs to call);
 *   GET /console/api/changes — Server-Sent Events: one `change` per committed job event in the caller's
 *                              subscription(s), so the jobs list updates live (the per-job stream is the ARM
 *                              route …/jobs/{name}/events);
 *   GET /console/api/job-id  — the number the operator API (/operator/jobs/{id}) uses for a job the caller can see;
 *   GET /console/api/drives/{driveId} — operators: which jobs list a scanned drive id, and in what state;
 *   GET /console/api/jobs    — the jobs list sorted by last change, filtered by state/type/name on the server,
 *                              paged with a keyset cursor on (updated_at, id) — ARM's $filter has no name search
 *                              and no ordering, and the console must stay quick with many thousands of jobs.
 * Everything else the console does goes through the public ARM and operator APIs, like any other client.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { sql } from 'kysely';
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { App } from '../app.ts';
import { isJobState, type JobState } from '../domain/states.ts';
import { assertCanRead, assertRole, isAdmin, principalOf } from './auth.ts';
import { TokenRole } from '../store/tokens.ts';
import { badRequest, notFound } from './errors.ts';

const HERE = path.dirname(fileURLToPath(import.meta.url));
/** Where `npm run build` puts the console. Overridable for tests and packaging. */
export const CONSOLE_DIST = process.env.SNEAKERNET_CONSOLE_DIR
  ? path.resolve(process.env.SNEAKERNET_CONSOLE_DIR)
  : path.resolve(HERE, '..', '..', 'web', 'dist');

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
  '.woff2': 'font/woff2',
  '.map': 'application/json',
};

const NOT_BUILT = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>sneakernet console not built</title></head>
<body style="font-family:system-ui,sans-serif;max-width:40rem;margin:3rem auto;line-height:1.5">
<h1>The web console is not built</h1>
<p>This server found no <code>web/dist</code> folder. Build the console once with</p>
<pre style="background:#eee;padding:.75rem">npm run build</pre>
<p>and reload this page. The APIs (<code>/subscriptions/…</code>, <code>/operator/…</code>, <code>/healthz</code>) work without it.</p>
</body></html>`;

function sendFile(reply: FastifyReply, file: string) {
  const type = TYPES[path.extname(file).toLowerCase()] ?? 'application/octet-stream';
  reply.header('content-type', type);
  reply.header('x-frame-options', 'DENY');
  if (type.startsWith('text/html')) {
    reply.header(
      'content-security-policy',
      "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; connect-src 'self'; frame-ancestors 'none'",
    );
  }
  return reply.send(fs.createReadStream(file));
}

export interface ConsoleJobRow {
  id: number;
  subscriptionId: string;
  resourceGroup: string;
  name: string;
  jobType: string;
  state: string;
  stateReason: { code: string; message: string };
  cancelRequested: boolean;
  percentComplete: number;
  updatedAt: string;
  deadlineAt: string | null;
  deadlineKind: string | null;
}

const encodeCursor = (at: Date, id: number) => Buffer.from(`${at.toISOString()}|${id}`).toString('base64url');
function decodeCursor(c: string): { at: Date; id: number } {
  const [at, id] = Buffer.from(c, 'base64url').toString().split('|');
  const d = new Date(at ?? '');
  const n = Number(id);
  if (Number.isNaN(d.getTime()) || !Number.isInteger(n)) throw badRequest("'cursor' is not a cursor this server gave.", 'cursor');
  return { at: d, id: n };
}

export function registerConsoleRoutes(app: FastifyInstance, ctx: App): void {
  const index = path.join(CONSOLE_DIST, 'index.html');
  const serveIndex = async (_req: unknown, reply: FastifyReply) => {
    if (!fs.existsSync(index)) return reply.code(503).header('content-type', 'text/html; charset=utf-8').send(NOT_BUILT);
    return sendFile(reply, index);
  };
  app.get('/', { config: { public: true } }, serveIndex);
  app.get('/console', { config: { public: true } }, serveIndex);
  app.get('/assets/*', { config: { public: true } }, async (req, reply) => {
    const rel = (req.params as { '*': string })['*'];
    const root = path.join(CONSOLE_DIST, 'assets');
    const file = path.resolve(root, rel);
    if (!file.startsWith(root + path.sep) || !fs.existsSync(file) || !fs.statSync(file).isFile()) {
      return reply.code(404).send({ error: { code: 'NotFound', message: 'No such console file.' } });
    }
    return sendFile(reply, file);
  });

  app.get('/console/api/whoami', async (req) => {
    const p = principalOf(req);
    return { role: p.role, subscriptionId: p.subscriptionId, admin: isAdmin(p) };
  });

  // One database listener per server, fanned out to every open console stream.
  type Notice = { jobId: number; subscriptionId: string; lastEventId: number };
  const streams = new Set<{ push: (n: Notice) => void; end: () => void }>();
  let unlisten: (() => Promise<void>) | null = null;
  let listening: Promise<void> | null = null;
  const ensureListening = () =>
    (listening ??= ctx.database
      .listen(ctx.database.eventsChannel, (payload) => {
        let n: Notice;
        try {
          n = JSON.parse(payload);
        } catch {
          return;
        }
        for (const s of streams) s.push(n);
      })
      .then((u) => {
        unlisten = u;
      }));
  // Open streams would keep the server from closing: end them first.
  app.addHook('preClose', async () => {
    for (const s of [...streams]) s.end();
    streams.clear();
    if (unlisten) await unlisten().catch(() => {});
  });

  app.get('/console/api/changes', async (req, reply) => {
    const p = principalOf(req);
    await ensureListening();
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    res.write(': console change stream\n\n');
    const sub = p.subscriptionId?.toLowerCase() ?? null;
    const push = (n: Notice) => {
      if (!isAdmin(p) && sub !== String(n.subscriptionId).toLowerCase()) return;
      res.write(`event: change\nid: ${n.lastEventId}\ndata: ${JSON.stringify({ jobId: n.jobId, lastEventId: n.lastEventId })}\n\n`);
    };
    const ping = setInterval(() => res.write(': ping\n\n'), 15_000);
    const entry = { push, end: () => res.end() };
    streams.add(entry);
    const stop = () => {
      clearInterval(ping);
      streams.delete(entry);
    };
    req.raw.on('close', stop);
    res.on('close', stop);
  });

  // The operator API addresses jobs by number; the console knows subscription/resource group/name.
  app.get('/console/api/job-id', async (req) => {
    const p = principalOf(req);
    const q = req.query as Record<string, string | undefined>;
    if (!q.subscriptionId || !q.resourceGroup || !q.name) throw badRequest("'subscriptionId', 'resourceGroup' and 'name' are required.");
    assertCanRead(p, q.subscriptionId, 'The job');
    const job = await ctx.store.getJob({ subscriptionId: q.subscriptionId, resourceGroup: q.resourceGroup, name: q.name });
    if (!job) throw notFound('The job');
    return { id: job.id };
  });

  // The dock's scanner: which jobs list this drive id, in what state (operators only; changes nothing).
  app.get('/console/api/drives/:driveId', async (req) => {
    assertRole(principalOf(req), TokenRole.Operator);
    const driveId = String((req.params as { driveId: string }).driveId);
    const rows = await ctx.store.db
      .selectFrom('drives')
      .innerJoin('jobs', 'jobs.id', 'drives.job_id')
      .select(['jobs.id as jobId', 'jobs.subscription_id', 'jobs.resource_group', 'jobs.name', 'jobs.state as jobState', 'drives.state as driveState', 'drives.is_extra'])
      .where('drives.drive_id', '=', driveId)
      .orderBy('jobs.id', 'desc')
      .limit(20)
      .execute();
    return {
      driveId,
      jobs: rows.map((r) => ({
        id: Number(r.jobId), subscriptionId: r.subscription_id, resourceGroup: r.resource_group, name: r.name,
        jobState: r.jobState, driveState: r.driveState, isExtra: r.is_extra,
      })),
    };
  });

  app.get('/console/api/jobs', async (req) => {
    const p = principalOf(req);
    const q = req.query as Record<string, string | undefined>;
    const top = q.top === undefined ? 50 : Number(q.top);
    if (!Number.isInteger(top) || top < 1 || top > 200) throw badRequest("'top' must be an integer from 1 to 200.", 'top');
    const states = (q.state ?? '').split(',').map((s) => s.trim()).filter(Boolean);
    for (const s of states) if (!isJobState(s)) throw badRequest(`'${s}' is not a job state.`, 'state');
    if (q.type !== undefined && q.type !== '' && q.type !== 'Import' && q.type !== 'Export') throw badRequest("'type' must be Import or Export.", 'type');
    let subscription: string | undefined;
    if (isAdmin(p) || p.subscriptionId === null) subscription = q.subscriptionId || undefined;
    else {
      if (q.subscriptionId && q.subscriptionId.toLowerCase() !== p.subscriptionId.toLowerCase()) return { value: [], total: 0, nextCursor: null };
      subscription = p.subscriptionId;
    }
    const db = ctx.store.db;
    let base = db.selectFrom('jobs');
    if (subscription) base = base.where('subscription_id', '=', subscription);
    if (q.resourceGroup) base = base.where(sql`lower(resource_group)`, '=', q.resourceGroup.toLowerCase());
    if (states.length) base = base.where('state', 'in', states as JobState[]);
    if (q.type) base = base.where('job_type', '=', q.type);
    if (q.q) base = base.where(sql`lower(name)`, 'like', `%${q.q.toLowerCase().replace(/[\\%_]/g, (c) => '\\' + c)}%`);
    let page = base.select([
      'id', 'subscription_id', 'resource_group', 'name', 'job_type', 'state', 'state_reason_code', 'state_reason_message',
      'cancel_requested', 'percent_complete', 'updated_at', 'deadline_at', 'deadline_kind',
    ]);
    if (q.cursor) {
      const c = decodeCursor(q.cursor);
      page = page.where((eb) => eb.or([eb('updated_at', '<', c.at), eb.and([eb('updated_at', '=', c.at), eb('id', '<', c.id)])]));
    }
    const [rows, count] = await Promise.all([
      page.orderBy('updated_at', 'desc').orderBy('id', 'desc').limit(top + 1).execute(),
      base.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirst(),
    ]);
    const value: ConsoleJobRow[] = rows.slice(0, top).map((r) => ({
      id: Number(r.id),
      subscriptionId: r.subscription_id,
      resourceGroup: r.resource_group,
      name: r.name,
      jobType: r.job_type,
      state: r.state,
      stateReason: { code: r.state_reason_code, message: r.state_reason_message },
      cancelRequested: r.cancel_requested,
      percentComplete: Number(r.percent_complete),
      updatedAt: new Date(r.updated_at as unknown as string).toISOString(),
      deadlineAt: r.deadline_at ? new Date(r.deadline_at as unknown as string).toISOString() : null,
      deadlineKind: r.deadline_kind,
    }));
    const last = rows.length > top ? rows[top - 1] : undefined;
    return {
      value,
      total: Number(count?.n ?? 0),
      nextCursor: last ? encodeCursor(new Date(last.updated_at as unknown as string), Number(last.id)) : null,
    };
  });
}
