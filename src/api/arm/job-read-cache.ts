/**
 * Get Job is the call clients repeat most (SDK pollers, consoles, scripts waiting for a state), and its answer only
 * changes when the job's or its drives' rows change. This cache keeps the serialized answer per job and drops it
 * when the database announces a change (migration 0005: a trigger NOTIFYs on every write to jobs or drives, from any
 * process or code path). Rules that keep it exact:
 * - It serves only while this process is listening to the announcements; when the listening connection is lost,
 *   everything is dropped and reads go to the database until it listens again.
 * - A read that started before an announcement arrived is not stored (`ticket`), so a row read just before a
 *   change cannot outlive it.
 * - A write request handled by this process drops everything before its answer leaves (`dropAll` from the API's
 *   onSend hook), so a client reads its own write even before the NOTIFY comes back.
 * Another process's write is seen once its NOTIFY arrives (typically well under a millisecond after commit).
 * SNEAKERNET_JOB_CACHE=0 turns it off.
 */
import type { FastifyInstance } from 'fastify';
import type { App } from '../../app.ts';
import { JOB_CHANGES_CHANNEL } from '../../store/db.ts';
import type { JobKey } from '../../store/store.ts';

export interface CachedJob {
  jobId: number;
  etag: string;
  /** The serialized 200 body, sent as is. */
  body: string;
}

const RELISTEN_MS = 1_000;

export class JobReadCache {
  private readonly byKey = new Map<string, CachedJob>();
  private readonly keyOfJob = new Map<number, string>();
  private generation = 0;
  private listening = false;
  private closed = false;
  private unlisten: (() => Promise<void>) | null = null;
  private starting: Promise<void> | null = null;
  private retry: NodeJS.Timeout | null = null;

  constructor(private readonly ctx: App, private readonly maxEntries: number) {}

  /** Subscription ids compare exactly (the store does); resource group and job name case-insensitively. */
  static keyOf(k: JobKey): string {
    return `${k.subscriptionId}\u0000${k.resourceGroup.toLowerCase()}\u0000${k.name.toLowerCase()}`;
  }

  get size(): number {
    return this.byKey.size;
  }

  get(key: string): CachedJob | undefined {
    if (!this.listening) {
      void this.start();
      return undefined;
    }
    return this.byKey.get(key);
  }

  /** Take before reading the database; hand back to `set`. */
  ticket(): number {
    return this.generation;
  }

  set(key: string, ticket: number, value: CachedJob): void {
    if (!this.listening || ticket !== this.generation) return;
    const old = this.byKey.get(key);
    if (old) this.keyOfJob.delete(old.jobId);
    if (this.byKey.size >= this.maxEntries) {
      // Maps iterate in insertion order: drop the oldest entry.
      const [oldestKey, oldest] = this.byKey.entries().next().value!;
      this.byKey.delete(oldestKey);
      this.keyOfJob.delete(oldest.jobId);
    }
    this.byKey.set(key, value);
    this.keyOfJob.set(value.jobId, key);
  }

  dropJobs(jobIds: Iterable<number>): void {
    this.generation++;
    for (const id of jobIds) {
      const key = this.keyOfJob.get(id);
      if (key === undefined) continue;
      this.keyOfJob.delete(id);
      this.byKey.delete(key);
    }
  }

  dropAll(): void {
    this.generation++;
    this.byKey.clear();
    this.keyOfJob.clear();
  }

  /** Announcements look like `<schema>:<id>,<id>` or `<schema>:*`; other schemas' are not ours. */
  private onAnnouncement(payload: string): void {
    const colon = payload.lastIndexOf(':');
    if (colon < 0 || payload.slice(0, colon) !== this.ctx.database.schema) return;
    const ids = payload.slice(colon + 1);
    if (ids === '*') return this.dropAll();
    this.dropJobs(ids.split(',').map(Number).filter(Number.isFinite));
  }

  private onLost(): void {
    this.listening = false;
    this.unlisten = null;
    this.starting = null;
    this.dropAll();
    this.scheduleRetry();
  }

  private scheduleRetry(): void {
    if (this.closed || this.retry) return;
    this.retry = setTimeout(() => {
      this.retry = null;
      void this.start();
    }, RELISTEN_MS);
    this.retry.unref();
  }

  start(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.starting ??= (async () => {
      try {
        const unlisten = await this.ctx.database.listen(JOB_CHANGES_CHANNEL, (p) => this.onAnnouncement(p), () => this.onLost());
        if (this.closed) return void (await unlisten());
        this.unlisten = unlisten;
        this.dropAll();
        this.listening = true;
      } catch {
        this.starting = null;
        this.scheduleRetry();
      }
    })();
    return this.starting;
  }

  async stop(): Promise<void> {
    this.closed = true;
    this.listening = false;
    if (this.retry) clearTimeout(this.retry);
    await this.starting;
    const u = this.unlisten;
    this.unlisten = null;
    this.dropAll();
    if (u) await u().catch(() => {});
  }
}

const caches = new WeakMap<App, JobReadCache | null>();

/** The process's cache for this app, or null when SNEAKERNET_JOB_CACHE=0. */
export function jobReadCache(ctx: App): JobReadCache | null {
  if (caches.has(ctx)) return caches.get(ctx)!;
  const max = Number(process.env.SNEAKERNET_JOB_CACHE ?? 10_000);
  const cache = Number.isFinite(max) && max > 0 ? new JobReadCache(ctx, max) : null;
  caches.set(ctx, cache);
  if (cache) ctx.onClose(() => cache.stop());
  return cache;
}

const READ_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * A write answered by this process drops the cache before the answer leaves, so the client reads its own write.
 * The hook goes on every route that can write (any method but GET/HEAD/OPTIONS), and only there: reads pay nothing.
 */
export function registerJobReadCache(app: FastifyInstance, ctx: App): void {
  const cache = jobReadCache(ctx);
  if (!cache) return;
  const dropBeforeAnswer = (_req: unknown, _reply: unknown, payload: unknown, done: (err: null, payload: unknown) => void) => {
    cache.dropAll();
    done(null, payload);
  };
  app.addHook('onRoute', (route) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    if (methods.every((m) => READ_METHODS.has(m))) return;
    const own = route.onSend ? (Array.isArray(route.onSend) ? route.onSend : [route.onSend]) : [];
    route.onSend = [dropBeforeAnswer as never, ...own];
  });
}
