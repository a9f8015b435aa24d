/**
 * Webhook signatures: HMAC-SHA256 over `${timestamp}.${body}` with the webhook's secret, sent as
 * `x-sneakernet-signature: t=<unix seconds>,v1=<hex>`. Receivers recompute it and reject old timestamps.
 */
import crypto from 'node:crypto';

export const SIGNATURE_HEADER = 'x-sneakernet-signature';
export const EVENT_ID_HEADER = 'x-sneakernet-event-id';
export const DELIVERY_ID_HEADER = 'x-sneakernet-delivery-id';
export const TOPIC_HEADER = 'x-sneakernet-topic';

export function sign(secret: string, timestampSeconds: number, body: string): string {
  const mac = crypto.createHmac('sha256', secret).update(`${timestampSeconds}.${body}`).digest('hex');
  return `t=${timestampSeconds},v1=${mac}`;
}

/** Verifies a signature header; `toleranceSeconds` bounds replay of old deliveries (default 5 minutes). */
export function verifySignature(secret: string, header: string | undefined, body: string, opts: { nowSeconds?: number; toleranceSeconds?: number } = {}): boolean {
  if (!header) return false;
  const parts = Object.fromEntries(header.split(',').map((p) => p.trim().split('=', 2) as [string, string]));
  const t = Number(parts.t);
  if (!Number.isInteger(t) || typeof parts.v1 !== 'string' || !/^[0-9a-f]{64}$/.test(parts.v1)) return false;
  const now = opts.nowSeconds ?? Math.floor(Date.now() / 1000);
  if (Math.abs(now - t) > (opts.toleranceSeconds ?? 300)) return false;
  const expected = Buffer.from(sign(secret, t, body).split('v1=')[1], 'hex');
  return crypto.timingSafeEqual(expected, Buffer.from(parts.v1, 'hex'));
}
