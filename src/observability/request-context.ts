/**
 * The request id that follows a job's work across processes. The API runs each request's handler inside
 * `withRequestId(req.id)`; the store records the id with every job event and outbox row it writes in that context;
 * a worker that claims a drive continues under the id of the job's latest request (so its own events carry it too);
 * the notifier logs deliveries under the id of their outbox row. Every log line that has one says `reqId`, the name
 * Fastify uses for its request log lines, so one grep over all processes' logs tells a job's story.
 *
 * A request id is an opaque correlation token (a UUID, or the client's `x-ms-client-request-id` when it is a short
 * word): never a secret.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import pino, { type Logger } from 'pino';
import { REDACTED_PATHS } from './logging.ts';

interface RequestContext {
  requestId: string;
}

const storage = new AsyncLocalStorage<RequestContext>();

export function withRequestId<T>(requestId: string | null | undefined, fn: () => T): T {
  return requestId ? storage.run({ requestId }, fn) : fn();
}

export function currentRequestId(): string | null {
  return storage.getStore()?.requestId ?? null;
}

let logger: Logger | null = null;
let enabled = false;

/**
 * Turns background-work logging on for this process (the `serve`, `api` and `worker` commands do); until then the
 * logger is silent, so library use (tests, one-shot tools) prints nothing, as the API server without a logger.
 */
export function enableProcessLogs(): void {
  enabled = true;
  logger = null;
}

/** The JSON logger of background work (workers, notifier): same level, redaction and base fields as the API's. */
export function processLogger(): Logger {
  if (!logger) {
    const level = enabled ? (process.env.SNEAKERNET_LOG ?? 'info') : 'silent';
    logger = pino({
      level: level === 'silent' ? 'silent' : level,
      redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
      base: { service: 'sneakernet', pid: process.pid },
      // Each line carries the request id of the work it describes, when there is one.
      mixin: () => {
        const reqId = currentRequestId();
        return reqId ? { reqId } : {};
      },
    });
  }
  return logger;
}
