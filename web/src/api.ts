/**
 * The console's HTTP client. The token lives in sessionStorage (gone when the tab closes) and travels only in the
 * Authorization header — never in a URL, so it cannot leak through history, logs or Referer. Server-Sent Events are
 * read with fetch (EventSource cannot send headers).
 */
import type { ReturnIssueKind } from '../../src/domain/custody.ts';

export const API_VERSION = '2021-01-01';
const KEY = 'sneakernet.session';

export interface Session {
  token: string;
  /** The subscription the console works in (a customer token has exactly one). */
  subscriptionId: string;
  role: string;
  admin: boolean;
}

export function loadSession(): Session | null {
  try {
    const raw = sessionStorage.getItem(KEY);
    return raw ? (JSON.parse(raw) as Session) : null;
  } catch {
    return null;
  }
}
export function saveSession(s: Session | null): void {
  if (s) sessionStorage.setItem(KEY, JSON.stringify(s));
  else sessionStorage.removeItem(KEY);
}

export class ApiFailure extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly target?: string,
    readonly details?: Array<{ code?: string; message?: string; target?: string }>,
  ) {
    super(message);
  }
}

export async function call<T>(token: string, method: string, url: string, body?: unknown, headers: Record<string, string> = {}): Promise<T> {
  const res = await fetch(url, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      ...headers,
    },
    body: body !== undefined ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  let json: unknown = undefined;
  if (text) {
    try {
      json = JSON.parse(text);
    } catch {
      json = text;
    }
  }
  if (!res.ok) {
    const err = (json as { error?: { code?: string; message?: string; target?: string; details?: [] } } | undefined)?.error;
    throw new ApiFailure(res.status, err?.code ?? `HTTP${res.status}`, err?.message ?? (typeof json === 'string' ? json : res.statusText), err?.target, err?.details);
  }
  return json as T;
}

const enc = encodeURIComponent;
export const jobPath = (sub: string, rg: string, name: string) =>
  `/subscriptions/${enc(sub)}/resourceGroups/${enc(rg)}/providers/Microsoft.ImportExport/jobs/${enc(name)}`;
export const withVersion = (path: string) => `${path}${path.includes('?') ? '&' : '?'}api-version=${API_VERSION}`;

/** Where the console reads a drive log from: the URI itself when it is on this server (fetched with the token), else the
 * API's log route, which streams the log from whatever backend holds it (file:// URIs of the local folder backend,
 * Azure URLs that would need a SAS or CORS). */
export function driveLogSource(uri: string, jobApiPath: string, driveId: string, kind: 'error' | 'verbose', here: string = globalThis.location?.href ?? 'http://localhost/'): string {
  let url: URL | null = null;
  try {
    url = new URL(uri, here);
  } catch {
    url = null;
  }
  const origin = new URL(here).origin;
  if (url && (url.protocol === 'http:' || url.protocol === 'https:') && url.origin === origin) return url.href;
  return withVersion(`${jobApiPath}/drives/${encodeURIComponent(driveId)}/logs/${kind}`);
}

// ---------------------------------------------------------------- ARM shapes (what the console reads)
export interface DriveStatus {
  driveId: string;
  state: string;
  percentComplete?: number;
  bytesSucceeded?: number;
  copyStatus?: string;
  errorLogUri?: string;
  verboseLogUri?: string;
  manifestUri?: string;
  manifestFile?: string;
  manifestHash?: string;
  driveHeaderHash?: string;
  [extra: string]: unknown;
}
export interface JobResponse {
  id: string;
  name: string;
  type: string;
  location: string;
  tags?: Record<string, string>;
  properties: {
    jobType?: string;
    state?: string;
    cancelRequested?: boolean;
    percentComplete?: number;
    storageAccountId?: string;
    returnAddress?: Record<string, string>;
    returnShipping?: Record<string, string>;
    shippingInformation?: Record<string, string>;
    deliveryPackage?: Record<string, unknown>;
    returnPackage?: Record<string, unknown>;
    diagnosticsPath?: string;
    logLevel?: string;
    driveList?: DriveStatus[];
    export?: Record<string, unknown>;
    /** This service's extension of the ARM job (src/api/arm/serializers.ts). */
    sneakernet?: JobExtension;
    [extra: string]: unknown;
  };
  [extra: string]: unknown;
}

/** Drives damaged or lost in return shipping, as an operator recorded it (src/operator/jobs.ts recordReturnDamage). */
export interface ReturnIssue {
  kind: ReturnIssueKind;
  driveIds: string[];
  /** The blobs on those drives: export them again or download them. */
  blobs: string[];
  note: string;
  recordedAt: string;
  advice?: string;
}

/**
 * The operators flagged the return address as wrong or missing (src/operator/jobs.ts flagReturnAddress). While it is
 * open, `destroyDrivesAt` says when the drives are marked for secure destruction unless the customer PATCHes the
 * address; once that passed, the timer sweep drops `destroyDrivesAt` and sets `expiredAt`.
 */
export interface ReturnAddressProblem {
  flaggedAt: string;
  note: string;
  destroyDrivesAt?: string;
  expiredAt?: string;
}

/** `properties.sneakernet` of Get Job: the facts Azure's shape has no place for. Absent lists are left out. */
export interface JobExtension {
  etag?: string;
  version?: number;
  stateReason?: { code?: string; message?: string } | null;
  stateEnteredAt?: string;
  returnIssues?: ReturnIssue[];
  returnAddressProblem?: ReturnAddressProblem;
  /** Drive ids to be securely destroyed because the owner could not be reached (stay listed once destroyed). */
  drivesDueForDestruction?: string[];
  /** Drive ids securely destroyed. */
  destroyedDrives?: string[];
  extraDrives?: string[];
  [extra: string]: unknown;
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
export interface ConsoleJobsPage {
  value: ConsoleJobRow[];
  total: number;
  nextCursor: string | null;
}

/** One history entry as the events stream sends it; field names vary a little, so read them leniently. */
export interface JobEvent {
  id: number;
  event: string;
  driveId: string | null;
  fromState: string | null;
  toState: string | null;
  actor: string;
  actorId?: string | null;
  reasonCode?: string;
  message?: string;
  at: string;
}

export function normalizeEvent(raw: Record<string, unknown>, fallbackId: number): JobEvent {
  const r = (k: string) => raw[k];
  const reason = (r('reason') ?? {}) as Record<string, unknown>;
  return {
    id: Number(r('id') ?? fallbackId),
    event: String(r('event') ?? r('type') ?? ''),
    driveId: (r('driveId') as string | null) ?? null,
    fromState: (r('fromState') ?? r('from') ?? null) as string | null,
    toState: (r('toState') ?? r('to') ?? null) as string | null,
    actor: String(r('actor') ?? ''),
    actorId: (r('actorId') as string | null) ?? null,
    reasonCode: String(r('reasonCode') ?? reason.code ?? ''),
    message: String(r('message') ?? reason.message ?? ''),
    at: String(r('at') ?? r('time') ?? r('timestamp') ?? ''),
  };
}

// ---------------------------------------------------------------- SSE over fetch
export interface SseMessage {
  event: string;
  id?: string;
  data: string;
}

export function parseSseChunk(buffer: string): { messages: SseMessage[]; rest: string } {
  const messages: SseMessage[] = [];
  const blocks = buffer.split(/\r?\n\r?\n/);
  const rest = blocks.pop() ?? '';
  for (const block of blocks) {
    let event = 'message';
    let id: string | undefined;
    const data: string[] = [];
    for (const line of block.split(/\r?\n/)) {
      if (!line || line.startsWith(':')) continue;
      const i = line.indexOf(':');
      const field = i < 0 ? line : line.slice(0, i);
      const value = i < 0 ? '' : line.slice(i + 1).replace(/^ /, '');
      if (field === 'event') event = value;
      else if (field === 'id') id = value;
      else if (field === 'data') data.push(value);
    }
    if (data.length || event !== 'message') messages.push({ event, id, data: data.join('\n') });
  }
  return { messages, rest };
}

/** Follows an SSE stream, reconnecting with Last-Event-ID; returns a function that stops it. */
export function followSse(token: string, url: string, onMessage: (m: SseMessage) => void, onState?: (live: boolean) => void): () => void {
  let stopped = false;
  let lastId: string | undefined;
  let controller: AbortController | null = null;
  const run = async () => {
    let delay = 500;
    while (!stopped) {
      controller = new AbortController();
      try {
        const res = await fetch(url, {
          headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream', ...(lastId ? { 'last-event-id': lastId } : {}) },
          signal: controller.signal,
        });
        if (!res.ok || !res.body) throw new Error(`HTTP ${res.status}`);
        onState?.(true);
        delay = 500;
        const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
        let buf = '';
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buf += value;
          const { messages, rest } = parseSseChunk(buf);
          buf = rest;
          for (const m of messages) {
            if (m.id) lastId = m.id;
            onMessage(m);
          }
        }
      } catch {
        /* reconnect below */
      }
      onState?.(false);
      if (stopped) break;
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, 10_000);
    }
  };
  void run();
  return () => {
    stopped = true;
    controller?.abort();
  };
}
