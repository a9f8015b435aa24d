/**
 * Keyset paging for job lists. The cursor is the last job id of the page, wrapped in an opaque `$skipToken`;
 * nextLink is absolute and repeats api-version, $top and $filter, because the SDK GETs it verbatim. Ordering by
 * id means jobs created while a client pages appear at the end: nothing repeats, nothing is skipped.
 */
import type { FastifyRequest } from 'fastify';
import { ApiError, ApiErrorCode } from '../errors.ts';

export const MAX_TOP = 100;
export const DEFAULT_PAGE_SIZE = 100;

export function parseTop(raw: unknown): number {
  if (raw === undefined || raw === '') return DEFAULT_PAGE_SIZE;
  const text = Array.isArray(raw) ? undefined : String(raw);
  if (text === undefined || !/^\d{1,6}$/.test(text) || Number(text) < 1 || Number(text) > MAX_TOP) {
    throw new ApiError(400, ApiErrorCode.InvalidQueryParameter, `$top must be a whole number from 1 to ${MAX_TOP}.`, '$top');
  }
  return Number(text);
}

export function encodeSkipToken(afterId: number): string {
  return Buffer.from(JSON.stringify({ v: 1, after: afterId })).toString('base64url');
}

export function decodeSkipToken(raw: unknown): number | undefined {
  if (raw === undefined || raw === '') return undefined;
  const fail = () => new ApiError(400, ApiErrorCode.InvalidQueryParameter, 'The $skipToken is not one this server issued; start the listing again.', '$skipToken');
  if (typeof raw !== 'string' || raw.length > 200 || !/^[A-Za-z0-9_-]+$/.test(raw)) throw fail();
  try {
    const o = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8')) as { v?: unknown; after?: unknown };
    if (o?.v === 1 && typeof o.after === 'number' && Number.isSafeInteger(o.after) && o.after >= 0) return o.after;
  } catch {
    /* fall through */
  }
  throw fail();
}

const SAFE_HOST = /^[A-Za-z0-9.\-:[\]]{1,300}$/;

/** The server's public base URL: configured, else what the client used to reach it. */
export function baseUrl(req: FastifyRequest, configured?: string): string {
  if (configured) return configured.replace(/\/+$/, '');
  const host = typeof req.host === 'string' && SAFE_HOST.test(req.host) ? req.host : 'localhost';
  return `${req.protocol}://${host}`;
}

export function nextLink(req: FastifyRequest, configured: string | undefined, path: string, params: Record<string, string | undefined>): string {
  const url = new URL(baseUrl(req, configured) + path);
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== '') url.searchParams.set(k, v);
  return url.toString();
}
