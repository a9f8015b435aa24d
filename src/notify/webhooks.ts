/** Customer webhook subscriptions (per Azure subscription) and their delivery log. */
import crypto from 'node:crypto';
import { DomainError } from '../domain/errors.ts';
import { fromJson, opsDb, toDate, toDateOrNull } from '../operator/schema.ts';
import type { Store } from '../store/store.ts';

export interface Webhook {
  id: string;
  subscriptionId: string;
  url: string;
  topics: string[];
  description: string | null;
  createdAt: Date;
}

export interface DeliveryLogEntry {
  id: number;
  webhookId: string | null;
  outboxId: number;
  topic: string;
  status: string;
  attempts: number;
  lastStatus: number | null;
  lastError: string | null;
  createdAt: Date;
  deliveredAt: Date | null;
  attemptLog: Array<{ at: Date; statusCode: number | null; error: string | null; durationMs: number | null }>;
}

export const MAX_WEBHOOKS_PER_SUBSCRIPTION = 20;
const TOPIC = /^[A-Za-z*][A-Za-z0-9.*]{0,99}$/;

export function validateWebhookInput(input: { url?: unknown; topics?: unknown; description?: unknown; secret?: unknown }): { url: string; topics: string[]; description: string | null; secret: string | null } {
  if (typeof input.url !== 'string' || input.url.length > 2000) throw new DomainError('InvalidInput', "'url' must be an http(s) URL.", { target: 'url' });
  let u: URL;
  try {
    u = new URL(input.url);
  } catch {
    throw new DomainError('InvalidInput', "'url' must be an http(s) URL.", { target: 'url' });
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') throw new DomainError('InvalidInput', "'url' must be an http(s) URL.", { target: 'url' });
  if (u.username || u.password) throw new DomainError('InvalidInput', "'url' must not carry credentials; the payload is signed instead.", { target: 'url' });
  const topics = input.topics ?? [];
  if (!Array.isArray(topics) || topics.length > 50 || topics.some((t) => typeof t !== 'string' || !TOPIC.test(t))) {
    throw new DomainError('InvalidInput', "'topics' must be a list of topic names such as 'job.*' or 'job.deleted'.", { target: 'topics' });
  }
  if (input.description !== undefined && input.description !== null && (typeof input.description !== 'string' || input.description.length > 500)) {
    throw new DomainError('InvalidInput', "'description' must be a short string.", { target: 'description' });
  }
  if (input.secret !== undefined && input.secret !== null && (typeof input.secret !== 'string' || input.secret.length < 16 || input.secret.length > 200)) {
    throw new DomainError('InvalidInput', "'secret' must be 16 to 200 characters.", { target: 'secret' });
  }
  return { url: u.toString(), topics: topics as string[], description: (input.description as string) ?? null, secret: (input.secret as string) ?? null };
}

/** Creates a webhook; the signing secret is returned once (generated unless given) and stored only sealed. */
export async function createWebhook(store: Store, subscriptionId: string, input: Parameters<typeof validateWebhookInput>[0], by: string | null = null): Promise<{ webhook: Webhook; secret: string }> {
  const v = validateWebhookInput(input);
  const db = opsDb(store);
  const count = await db.selectFrom('webhooks').select((eb) => eb.fn.countAll<number>().as('n')).where('subscription_id', '=', subscriptionId).executeTakeFirstOrThrow();
  if (Number(count.n) >= MAX_WEBHOOKS_PER_SUBSCRIPTION) throw new DomainError('InvalidInput', `At most ${MAX_WEBHOOKS_PER_SUBSCRIPTION} webhooks per subscription.`);
  const secret = v.secret ?? `whsec_${crypto.randomBytes(24).toString('base64url')}`;
  const id = crypto.randomUUID();
  const now = store.clock.now();
  await db.insertInto('webhooks').values({
    id, subscription_id: subscriptionId, url: v.url, secret: (await store.secrets()).seal(secret), topics: JSON.stringify(v.topics),
    description: v.description, created_at: now, created_by: by,
  }).execute();
  return { webhook: { id, subscriptionId, url: v.url, topics: v.topics, description: v.description, createdAt: now }, secret };
}

type WebhookRow = { id: string; subscription_id: string; url: string; topics: unknown; description: string | null; created_at: unknown };
const webhookFromRow = (r: WebhookRow): Webhook => ({ id: r.id, subscriptionId: r.subscription_id, url: r.url, topics: fromJson<string[]>(r.topics) ?? [], description: r.description, createdAt: toDate(r.created_at) });

export async function listWebhooks(store: Store, subscriptionId: string): Promise<Webhook[]> {
  const rows = await opsDb(store).selectFrom('webhooks').select(['id', 'subscription_id', 'url', 'topics', 'description', 'created_at']).where('subscription_id', '=', subscriptionId).orderBy('created_at').execute();
  return rows.map(webhookFromRow);
}

export async function getWebhook(store: Store, subscriptionId: string, id: string): Promise<Webhook | null> {
  const r = await opsDb(store).selectFrom('webhooks').select(['id', 'subscription_id', 'url', 'topics', 'description', 'created_at']).where('subscription_id', '=', subscriptionId).where('id', '=', id).executeTakeFirst();
  return r ? webhookFromRow(r) : null;
}

export async function deleteWebhook(store: Store, subscriptionId: string, id: string): Promise<boolean> {
  const r = await opsDb(store).deleteFrom('webhooks').where('subscription_id', '=', subscriptionId).where('id', '=', id).returning('id').executeTakeFirst();
  return r !== undefined;
}

export async function listDeliveries(store: Store, subscriptionId: string, webhookId: string, opts: { limit?: number; afterId?: number } = {}): Promise<DeliveryLogEntry[]> {
  const db = opsDb(store);
  let q = db.selectFrom('notification_deliveries').selectAll().where('webhook_id', '=', webhookId).where('subscription_id', '=', subscriptionId);
  if (opts.afterId !== undefined) q = q.where('id', '>', opts.afterId);
  const rows = await q.orderBy('id').limit(Math.min(opts.limit ?? 100, 500)).execute();
  const attempts = rows.length === 0 ? [] : await db.selectFrom('notification_attempts').selectAll().where('delivery_id', 'in', rows.map((r) => Number(r.id))).orderBy('id').execute();
  return rows.map((r) => ({
    id: Number(r.id), webhookId: r.webhook_id, outboxId: Number(r.outbox_id), topic: r.topic, status: r.status, attempts: r.attempts,
    lastStatus: r.last_status, lastError: r.last_error, createdAt: toDate(r.created_at), deliveredAt: toDateOrNull(r.delivered_at),
    attemptLog: attempts.filter((a) => Number(a.delivery_id) === Number(r.id)).map((a) => ({ at: toDate(a.at), statusCode: a.status_code, error: a.error, durationMs: a.duration_ms })),
  }));
}
