/**
 * bench/timers: time to apply all due timers with N jobs stored and D due, on PostgreSQL (DATABASE_URL).
 * The cost must follow the due count, not the table size. Usage:
 *   DATABASE_URL=postgres://... node --import tsx bench/timers.ts [stored=1000000,100000] [due=10000]
 * Rows are inserted with generate_series; due jobs are Creating jobs past their 14-day deadline (deleted with an
 * outbox notice each) plus Shipping jobs past their alert (a unit of work each) in the ratio given by SHIPPING_SHARE.
 */
import pg from 'pg';
import { openDatabase } from '../src/store/db.ts';
import { Store } from '../src/store/store.ts';
import { ManualClock } from '../src/domain/clock.ts';
import { sweepTimers } from '../src/timers/sweep.ts';

const url = process.env.DATABASE_URL;
if (!url) throw new Error('Set DATABASE_URL to a PostgreSQL database.');
const storedList = (process.argv[2] ?? '1000000,100000').split(',').map(Number);
const due = Number(process.argv[3] ?? 10_000);
const shippingShare = Number(process.env.SHIPPING_SHARE ?? 0.1);
const now = new Date('2026-06-01T00:00:00Z');

for (const stored of storedList) {
  const schema = `bench_timers_${stored}`;
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  await admin.query(`drop schema if exists ${schema} cascade`);
  await admin.end();
  const database = await openDatabase({ databaseUrl: url, schema });
  const store = new Store(database, new ManualClock(now));
  const c = new pg.Client({ connectionString: url, options: `-c search_path=${schema}` });
  await c.connect();
  const t0 = Date.now();
  const nShip = Math.round(due * shippingShare);
  const nDel = due - nShip;
  // Not due: jobs in Creating whose deadline is in the future.
  await c.query(`insert into jobs (subscription_id, resource_group, name, location, job_type, state, state_reason_code, state_reason_message, state_entered_at, created_at, updated_at, deadline_at, deadline_kind)
    select 'sub-' || (g % 100), 'rg', 'job' || g, 'West US', 'Import', 'Creating', 'JobCreated', 'created', $1::timestamptz, $1::timestamptz, $1::timestamptz, $1::timestamptz + interval '10 days', 'deleteCreating'
    from generate_series(1, $2::int) g`, [now.toISOString(), stored - due]);
  // Due: Creating jobs 15 days old.
  await c.query(`insert into jobs (subscription_id, resource_group, name, location, job_type, state, state_reason_code, state_reason_message, state_entered_at, created_at, updated_at, deadline_at, deadline_kind)
    select 'sub-' || (g % 100), 'rg', 'due' || g, 'West US', 'Import', 'Creating', 'JobCreated', 'created', $1::timestamptz - interval '15 days', $1::timestamptz - interval '15 days', $1::timestamptz - interval '15 days', $1::timestamptz - interval '1 day', 'deleteCreating'
    from generate_series(1, $2::int) g`, [now.toISOString(), nDel]);
  // Due: Shipping jobs 15 days old with one drive each (alert: drive → NeverReceived, task, notice).
  await c.query(`insert into jobs (subscription_id, resource_group, name, location, job_type, state, state_reason_code, state_reason_message, state_entered_at, created_at, updated_at, deadline_at, deadline_kind, delivery_package, return_address)
    select 'sub-' || (g % 100), 'rg', 'ship' || g, 'West US', 'Import', 'Shipping', 'ShippingInfoProvided', 'shipped', $1::timestamptz - interval '15 days', $1::timestamptz - interval '15 days', $1::timestamptz - interval '15 days', $1::timestamptz - interval '1 day', 'shippingAlert', '{"carrierName":"FedEx","trackingNumber":"1"}', '{"email":"a@example.com"}'
    from generate_series(1, $2::int) g`, [now.toISOString(), nShip]);
  await c.query(`insert into drives (job_id, drive_id, state, state_reason_code, state_reason_message, state_entered_at) select id, 'D' || id, 'Specified', 'DriveSpecified', 'listed', state_entered_at from jobs where state = 'Shipping'`);
  await c.query('analyze');
  const loadMs = Date.now() - t0;
  const s0 = performance.now();
  const r = await sweepTimers(store, { batchSize: 1000, concurrency: 8 });
  const ms = performance.now() - s0;
  const applied = r.deleted + r.shippingAlerts;
  // Warnings of jobs due within 3 days are part of the sweep too (none here: not-due jobs are 10 days out).
  console.log(JSON.stringify({ stored, due, deleted: r.deleted, shippingAlerts: r.shippingAlerts, skipped: r.skipped, sweepMs: Math.round(ms), transitionsPerSecond: Math.round(applied / (ms / 1000)), loadMs }));
  const s1 = performance.now();
  const again = await sweepTimers(store);
  console.log(JSON.stringify({ stored, secondSweepMs: Math.round(performance.now() - s1), appliedAgain: again.deleted + again.shippingAlerts }));
  await c.end();
  await database.close();
  const a2 = new pg.Client({ connectionString: url });
  await a2.connect();
  await a2.query(`drop schema if exists ${schema} cascade`);
  await a2.end();
}
