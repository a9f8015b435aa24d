/**
 * Prometheus metrics (prom-client). Counters are incremented where things happen; gauges that describe the
 * database (jobs by state, timer lag, outbox backlog) are read from it at scrape time, so every process reports
 * the same truth and no process keeps state another needs.
 */
import client from 'prom-client';
import { sql } from 'kysely';
import type { App } from '../app.ts';

export const registry = new client.Registry();
client.collectDefaultMetrics({ register: registry, prefix: 'sneakernet_process_' });

export const httpDuration = new client.Histogram({
  name: 'sneakernet_http_request_duration_seconds',
  help: 'HTTP request latency by route and status',
  labelNames: ['method', 'route', 'status'] as const,
  buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
  registers: [registry],
});

export const bytesCopied = new client.Counter({
  name: 'sneakernet_bytes_copied_total',
  help: 'Bytes copied between drives and blob storage',
  labelNames: ['direction'] as const,
  registers: [registry],
});

export const copyThroughput = new client.Gauge({
  name: 'sneakernet_copy_throughput_bytes_per_second',
  help: 'Most recent copy rate of drives being copied by this process',
  labelNames: ['drive'] as const,
  registers: [registry],
});

export const deliveryFailures = new client.Counter({
  name: 'sneakernet_notification_delivery_failures_total',
  help: 'Failed notification delivery attempts',
  labelNames: ['channel'] as const,
  registers: [registry],
});

export const leaseTakeovers = new client.Counter({
  name: 'sneakernet_lease_takeovers_total',
  help: 'Drive copies resumed after another worker lost its lease',
  registers: [registry],
});

export const getJobCache = new client.Counter({
  name: 'sneakernet_get_job_cache_total',
  help: 'Get Job answers served from the per-process cache (hit) or read from the database (miss)',
  labelNames: ['result'] as const,
  registers: [registry],
});

let databaseGauges: ((app: App) => Promise<void>) | null = null;

/** Registers the gauges read from the database at scrape time (once per process). */
export function registerDatabaseGauges(app: App): void {
  if (databaseGauges) return;
  const jobs = new client.Gauge({ name: 'sneakernet_jobs', help: 'Jobs by state', labelNames: ['state'] as const, registers: [registry] });
  const drives = new client.Gauge({ name: 'sneakernet_drives', help: 'Drives by state', labelNames: ['state'] as const, registers: [registry] });
  const timerLag = new client.Gauge({ name: 'sneakernet_timer_lag_seconds', help: 'now minus the oldest due deadline (0 when none is due)', registers: [registry] });
  const outbox = new client.Gauge({ name: 'sneakernet_outbox_backlog', help: 'Notifications written but not yet dispatched', registers: [registry] });
  databaseGauges = async (ctx: App) => {
    const db = ctx.database.db;
    jobs.reset();
    for (const r of await db.selectFrom('jobs').select(['state', sql<number>`count(*)::int`.as('n')]).groupBy('state').execute()) jobs.set({ state: r.state }, Number(r.n));
    drives.reset();
    for (const r of await db.selectFrom('drives').select(['state', sql<number>`count(*)::int`.as('n')]).groupBy('state').execute()) drives.set({ state: r.state }, Number(r.n));
    const now = ctx.clock.now();
    const oldest = await db.selectFrom('jobs').select(sql<Date | null>`min(deadline_at)`.as('at')).where('deadline_at', '<=', now).executeTakeFirst();
    timerLag.set(oldest?.at ? Math.max(0, (now.getTime() - new Date(oldest.at).getTime()) / 1000) : 0);
    const backlog = await db.selectFrom('outbox').select(sql<number>`count(*)::int`.as('n')).where('dispatched_at', 'is', null).executeTakeFirst();
    outbox.set(Number(backlog?.n ?? 0));
  };
  void app;
}

export async function renderMetrics(app: App): Promise<string> {
  registerDatabaseGauges(app);
  await databaseGauges!(app);
  return registry.metrics();
}
