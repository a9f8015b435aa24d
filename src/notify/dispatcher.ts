/**
 * The outbox dispatcher. Every job event (and every timer/operator notice) has an outbox row written in the same
 * transaction as the change. After commit, `fanOut` turns each pending outbox row into one delivery per matching
 * webhook and e-mail recipient and enqueues a pg-boss job for each, all in one transaction with marking the row
 * dispatched: a crash before it leaves the row pending (fanned out again later), a crash after it leaves queued jobs
 * (delivered later). pg-boss runs the deliveries with retries and exponential backoff, then dead-letters them.
 * Deliveries carry a stable event id, so a receiver that is idempotent by it sees every notification exactly once.
 */
import { sql } from 'kysely';
import nodemailer, { type Transporter } from 'nodemailer';
import type PgBoss from 'pg-boss';
import { JobState } from '../domain/states.ts';
import { asOps, inTx, type Tx } from '../operator/common.ts';
import { fromJson, opsDb } from '../operator/schema.ts';
import type { Store } from '../store/store.ts';
import { executorOf } from '../timers/boss.ts';
import { processLogger } from '../observability/request-context.ts';
import { DELIVERY_ID_HEADER, EVENT_ID_HEADER, SIGNATURE_HEADER, TOPIC_HEADER, sign } from './sign.ts';

export const WEBHOOK_QUEUE = 'sneakernet-webhook';
export const EMAIL_QUEUE = 'sneakernet-email';
export const DEAD_LETTER_QUEUE = 'sneakernet-notification-dead';

export const DeliveryStatus = { Pending: 'pending', Delivered: 'delivered', Dead: 'dead' } as const;
export const Channel = { Webhook: 'webhook', Email: 'email' } as const;

export interface NotifierOptions {
  /** smtp(s)://user:pass@host:port; e-mail is off when absent (env SNEAKERNET_SMTP_URL). */
  smtpUrl?: string;
  /** From address (env SNEAKERNET_SMTP_FROM, default sneakernet@localhost). */
  from?: string;
  /** Operators' address for tasks, alerts and faults (env SNEAKERNET_OPERATOR_EMAIL). */
  operatorEmail?: string;
  /** Attempts after the first (default 8). */
  retryLimit?: number;
  /** First retry delay in seconds; doubles each time (default 5). */
  retryDelaySeconds?: number;
  /** HTTP timeout per webhook attempt (default 10 s). */
  timeoutMs?: number;
}

export function notifierOptionsFromEnv(env = process.env): NotifierOptions {
  return {
    smtpUrl: env.SNEAKERNET_SMTP_URL || undefined,
    from: env.SNEAKERNET_SMTP_FROM || undefined,
    operatorEmail: env.SNEAKERNET_OPERATOR_EMAIL || undefined,
    retryLimit: env.SNEAKERNET_WEBHOOK_RETRY_LIMIT ? Number(env.SNEAKERNET_WEBHOOK_RETRY_LIMIT) : undefined,
    retryDelaySeconds: env.SNEAKERNET_WEBHOOK_RETRY_DELAY ? Number(env.SNEAKERNET_WEBHOOK_RETRY_DELAY) : undefined,
  };
}

/** What a customer receives: no actor ids, no internal fields, never a secret. */
export interface NotificationBody {
  /** Stable per notification: receivers deduplicate by it. */
  id: string;
  type: string;
  subscriptionId: string | null;
  occurredAt: string;
  job: { id: string | null; name: string | null; resourceGroup: string | null } | null;
  data: Record<string, unknown>;
}

/** Topics e-mailed to the customer (the return address) and to the operators. */
const CUSTOMER_EMAIL_EVENTS = new Set(['shippingAlert', 'deadlineWarning', 'deleted', 'returnAddressFlagged', 'drivesHeld', 'returnIssue', 'drivesDueForDestruction', 'extraDrive']);
const OPERATOR_EMAIL_EVENTS = new Set(['shippingAlert', 'taskOpened', 'fault']);

interface OutboxRow { id: number; event_id: number | null; subscription_id: string | null; job_id: number | null; topic: string; payload: unknown; created_at: unknown }

export class Notifier {
  private mailer: Transporter | null;
  private readonly opts: Required<Pick<NotifierOptions, 'retryLimit' | 'retryDelaySeconds' | 'timeoutMs'>> & NotifierOptions;

  constructor(readonly store: Store, readonly boss: PgBoss, opts: NotifierOptions = {}) {
    // Options read from an unset environment variable arrive as `undefined`; they must not erase the defaults.
    const given = Object.fromEntries(Object.entries(opts).filter(([, v]) => v !== undefined)) as NotifierOptions;
    this.opts = { retryLimit: 8, retryDelaySeconds: 5, timeoutMs: 10_000, ...given };
    this.mailer = opts.smtpUrl ? nodemailer.createTransport(opts.smtpUrl) : null;
  }

  async createQueues(): Promise<void> {
    await this.boss.createQueue(DEAD_LETTER_QUEUE, { name: DEAD_LETTER_QUEUE });
    for (const name of [WEBHOOK_QUEUE, EMAIL_QUEUE]) {
      await this.boss.createQueue(name, {
        name, retryLimit: this.opts.retryLimit, retryDelay: this.opts.retryDelaySeconds, retryBackoff: true, deadLetter: DEAD_LETTER_QUEUE,
        expireInSeconds: Math.max(30, Math.ceil(this.opts.timeoutMs / 1000) * 3),
      });
    }
  }

  /** Fans out pending outbox rows (up to `limit` per transaction) until none is left; returns how many rows. */
  async fanOut(limit = 200): Promise<number> {
    let total = 0;
    for (;;) {
      const n = await inTx(this.store, (tx) => this.fanOutBatch(tx, limit), { wake: false });
      total += n;
      if (n < limit) return total;
    }
  }

  private async fanOutBatch(tx: Tx, limit: number): Promise<number> {
    const rows = (await tx.selectFrom('outbox').selectAll().where('dispatched_at', 'is', null).orderBy('id').limit(limit).forUpdate().skipLocked().execute()) as unknown as OutboxRow[];
    if (rows.length === 0) return 0;
    const subs = [...new Set(rows.map((r) => r.subscription_id).filter((s): s is string => !!s))];
    const hooks = subs.length === 0 ? [] : await tx.selectFrom('webhooks').select(['id', 'subscription_id', 'topics']).where('subscription_id', 'in', subs).execute();
    const jobIds = [...new Set(rows.map((r) => r.job_id).filter((j): j is number => j != null).map(Number))];
    const jobs = jobIds.length === 0 ? [] : await tx.selectFrom('jobs').select(['id', 'name', 'resource_group', 'subscription_id', 'return_address', 'state']).where('id', 'in', jobIds).execute();
    const jobById = new Map(jobs.map((j) => [Number(j.id), j]));
    const now = this.store.clock.now();
    const send = executorOf(tx as never);
    for (const row of rows) {
      const payload = fromJson<Record<string, unknown>>(row.payload) ?? {};
      const job = row.job_id != null ? jobById.get(Number(row.job_id)) : undefined;
      const body = renderBody(row, payload, job);
      const deliveries: Array<{ channel: string; webhookId: string | null; recipient: string | null; body: unknown; key: string }> = [];
      if (row.subscription_id) {
        for (const h of hooks.filter((h) => h.subscription_id === row.subscription_id)) {
          if (!topicMatches(fromJson<string[]>(h.topics) ?? [], row.topic)) continue;
          deliveries.push({ channel: Channel.Webhook, webhookId: h.id, recipient: null, body, key: `${Channel.Webhook}:${row.id}:${h.id}` });
        }
      }
      if (this.mailer) {
        const event = String(payload.event ?? row.topic.split('.').pop());
        const jobLevelStateChange = payload.toState != null && payload.driveId == null && row.subscription_id != null;
        const customerEmail = (fromJson<Record<string, unknown> | null>(job?.return_address) ?? {}).email ?? payload.recipientEmail;
        if (typeof customerEmail === 'string' && row.subscription_id && (jobLevelStateChange || CUSTOMER_EMAIL_EVENTS.has(event) || /cancel/i.test(event))) {
          deliveries.push({ channel: Channel.Email, webhookId: null, recipient: customerEmail, body: await this.renderEmail(tx, body, customerEmail), key: `${Channel.Email}:${row.id}:${customerEmail}` });
        }
        const toOperators = OPERATOR_EMAIL_EVENTS.has(event) || payload.toState === JobState.Faulted;
        if (this.opts.operatorEmail && toOperators) {
          deliveries.push({ channel: Channel.Email, webhookId: null, recipient: this.opts.operatorEmail, body: await this.renderEmail(tx, body, this.opts.operatorEmail, true), key: `${Channel.Email}:${row.id}:${this.opts.operatorEmail}` });
        }
      }
      for (const d of deliveries) {
        const ins = await tx.insertInto('notification_deliveries').values({
          channel: d.channel, webhook_id: d.webhookId, recipient: d.recipient, outbox_id: Number(row.id), subscription_id: row.subscription_id, topic: row.topic,
          body: JSON.stringify(d.body), status: DeliveryStatus.Pending, attempts: 0, created_at: now, dedupe_key: d.key,
        }).onConflict((oc) => oc.column('dedupe_key').doNothing()).returning('id').executeTakeFirst();
        if (!ins) continue;
        await this.boss.send(d.channel === Channel.Webhook ? WEBHOOK_QUEUE : EMAIL_QUEUE, { deliveryId: Number(ins.id) }, { db: send as PgBoss.Db });
      }
    }
    await tx.updateTable('outbox').set({ dispatched_at: now }).where('id', 'in', rows.map((r) => Number(r.id))).execute();
    return rows.length;
  }

  private async renderEmail(tx: Tx, body: NotificationBody, to: string, operator = false): Promise<{ to: string; subject: string; text: string }> {
    const d = body.data;
    const name = body.job?.name ?? 'a job';
    const what = d.toState ? `${d.driveId ? `drive ${d.driveId} ` : ''}is now ${d.toState}` : String(d.event ?? body.type);
    const lines = [String(d.message ?? d.title ?? ''), '', `Job: ${body.job?.id ?? name}`, `Event: ${body.type} at ${body.occurredAt}`];
    if (d.toState === JobState.Completed || d.toState === JobState.Closed) {
      const logs = await this.logLinks(tx, body);
      if (logs.length > 0) lines.push('', 'Logs:', ...logs);
    }
    return { to, subject: `${operator ? '[sneakernet ops] ' : '[sneakernet] '}${name}: ${what}`, text: lines.join('\n') };
  }

  private async logLinks(tx: Tx, body: NotificationBody): Promise<string[]> {
    const jobId = (body.data as { jobId?: number }).jobId;
    if (jobId == null) return [];
    const drives = await tx.selectFrom('drives').select(['drive_id', 'error_log_uri', 'verbose_log_uri']).where('job_id', '=', jobId).execute();
    return drives.flatMap((d) => [d.error_log_uri ? `${d.drive_id} error log: ${d.error_log_uri}` : null, d.verbose_log_uri ? `${d.drive_id} verbose log: ${d.verbose_log_uri}` : null]).filter((x): x is string => !!x);
  }

  /** One webhook attempt; throws on failure so pg-boss retries it with backoff. */
  async deliverWebhook(deliveryId: number): Promise<void> {
    const db = opsDb(this.store);
    const d = await db.selectFrom('notification_deliveries').selectAll().where('id', '=', deliveryId).executeTakeFirst();
    if (!d || d.status !== DeliveryStatus.Pending || !d.webhook_id) return;
    const hook = await db.selectFrom('webhooks').select(['url', 'secret']).where('id', '=', d.webhook_id).executeTakeFirst();
    if (!hook) {
      await db.updateTable('notification_deliveries').set({ status: DeliveryStatus.Dead, last_error: 'webhook deleted' }).where('id', '=', deliveryId).execute();
      return;
    }
    const body = JSON.stringify(fromJson(d.body));
    const secret = (await this.store.secrets()).open(hook.secret);
    const started = Date.now();
    let status: number | null = null;
    let error: string | null = null;
    try {
      const res = await fetch(hook.url, {
        method: 'POST', redirect: 'manual', signal: AbortSignal.timeout(this.opts.timeoutMs), body,
        headers: {
          'content-type': 'application/json', 'user-agent': 'sneakernet-webhooks/1',
          [SIGNATURE_HEADER]: sign(secret, Math.floor(Date.now() / 1000), body),
          [EVENT_ID_HEADER]: (fromJson<NotificationBody>(d.body)).id, [DELIVERY_ID_HEADER]: String(deliveryId), [TOPIC_HEADER]: d.topic,
        },
      });
      status = res.status;
      await res.body?.cancel().catch(() => {});
      if (status < 200 || status >= 300) error = `HTTP ${status}`;
    } catch (e) {
      error = describeFetchError(e);
    }
    await this.recordAttempt(deliveryId, status, error, Date.now() - started);
    await this.logDelivery(d.outbox_id, { deliveryId, channel: Channel.Webhook, topic: d.topic, status, error });
    if (error) throw new Error(`webhook delivery ${deliveryId} failed: ${error}`);
  }

  async deliverEmail(deliveryId: number): Promise<void> {
    const db = opsDb(this.store);
    const d = await db.selectFrom('notification_deliveries').selectAll().where('id', '=', deliveryId).executeTakeFirst();
    if (!d || d.status !== DeliveryStatus.Pending || !this.mailer) return;
    const mail = fromJson<{ to: string; subject: string; text: string }>(d.body);
    const started = Date.now();
    let error: string | null = null;
    try {
      await this.mailer.sendMail({
        from: this.opts.from ?? 'sneakernet@localhost', to: mail.to, subject: mail.subject, text: mail.text,
        headers: { 'X-Sneakernet-Event-Id': `ntf_${d.outbox_id}` }, messageId: `<ntf-${d.outbox_id}-${deliveryId}@sneakernet>`,
      });
    } catch (e) {
      error = (e as Error).message?.slice(0, 300) ?? 'send failed';
    }
    await this.recordAttempt(deliveryId, null, error, Date.now() - started);
    if (error) throw new Error(`e-mail delivery ${deliveryId} failed: ${error}`);
  }

  private async recordAttempt(deliveryId: number, status: number | null, error: string | null, ms: number) {
    const now = this.store.clock.now();
    await inTx(this.store, async (tx) => {
      await tx.insertInto('notification_attempts').values({ delivery_id: deliveryId, at: now, status_code: status, error, duration_ms: ms }).execute();
      await tx.updateTable('notification_deliveries').set({
        attempts: sql`attempts + 1`, last_status: status, last_error: error,
        ...(error ? {} : { status: DeliveryStatus.Delivered, delivered_at: now }),
      }).where('id', '=', deliveryId).execute();
    }, { wake: false });
  }

  /** One JSON log line per attempt, under the request id that caused the notification (never the body or a secret). */
  private async logDelivery(outboxId: number, fields: { deliveryId: number; channel: string; topic: string; status: number | null; error: string | null }) {
    const row = await this.store.db.selectFrom('outbox').select('request_id').where('id', '=', Number(outboxId)).executeTakeFirst().catch(() => undefined);
    const reqId = row?.request_id ?? undefined;
    const log = processLogger().child({ ...(reqId ? { reqId } : {}), outboxId: Number(outboxId) });
    if (fields.error) log.warn(fields, 'notification delivery failed');
    else log.info(fields, 'notification delivered');
  }

  async markDead(deliveryId: number): Promise<void> {
    await opsDb(this.store).updateTable('notification_deliveries').set({ status: DeliveryStatus.Dead })
      .where('id', '=', deliveryId).where('status', '=', DeliveryStatus.Pending).execute();
  }

  async close(): Promise<void> {
    this.mailer?.close();
  }
}

export function topicMatches(filters: string[], topic: string): boolean {
  if (filters.length === 0) return true;
  return filters.some((f) => f === '*' || f === topic || (f.endsWith('*') && topic.startsWith(f.slice(0, -1))));
}

export function armJobId(subscriptionId: string, resourceGroup: string, name: string): string {
  return `/subscriptions/${subscriptionId}/resourceGroups/${resourceGroup}/providers/Microsoft.ImportExport/jobs/${name}`;
}

function renderBody(row: OutboxRow, p: Record<string, unknown>, job: { name: string; resource_group: string; subscription_id: string } | undefined): NotificationBody {
  const name = job?.name ?? (p.jobName as string | undefined) ?? null;
  const rg = job?.resource_group ?? (p.resourceGroup as string | undefined) ?? null;
  const data: Record<string, unknown> = { jobId: row.job_id == null ? undefined : Number(row.job_id) };
  for (const [k, v] of Object.entries(p)) {
    // Internal fields stay inside: who (token ids), where to e-mail, and duplicates of the envelope.
    if (k === 'actorId' || k === 'actor' || k === 'recipientEmail' || k === 'at' || k === 'jobName' || k === 'resourceGroup') continue;
    data[k] = v;
  }
  delete data.jobId;
  return {
    id: `ntf_${row.id}`,
    type: row.topic,
    subscriptionId: row.subscription_id,
    occurredAt: new Date(String((p.at as string | undefined) ?? row.created_at)).toISOString(),
    job: row.job_id == null && !name ? null : { id: name && rg && row.subscription_id ? armJobId(row.subscription_id, rg, name) : null, name, resourceGroup: rg },
    data: { ...data, jobId: row.job_id == null ? undefined : Number(row.job_id) },
  };
}

function describeFetchError(e: unknown): string {
  const err = e as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (err?.name === 'TimeoutError') return 'timed out';
  return (err?.cause?.code ?? err?.cause?.message ?? err?.message ?? 'request failed').slice(0, 300);
}

export { asOps };
