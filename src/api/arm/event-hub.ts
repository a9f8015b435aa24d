/**
 * One LISTEN per process for job events, fanned out to every SSE stream in it. (On PostgreSQL each
 * `database.listen` holds a connection; a thousand watchers must not hold a thousand.) NOTIFY reaches every API
 * process, so a change made through any process shows up on streams held by any other.
 */
import type { App } from '../../app.ts';
import type { EventNotice } from '../../store/store.ts';

/** Called with each notice for the job, or with null once if the hub lost its LISTEN connection (notices may be missed). */
type Listener = (n: EventNotice | null) => void;

class EventHub {
  private readonly byJob = new Map<number, Set<Listener>>();
  private unlisten: (() => Promise<void>) | null = null;
  private starting: Promise<void> | null = null;

  constructor(private readonly ctx: App) {}

  private start(): Promise<void> {
    this.starting ??= (async () => {
      this.unlisten = await this.ctx.database.listen(this.ctx.database.eventsChannel, (payload) => {
        let n: EventNotice;
        try {
          n = JSON.parse(payload) as EventNotice;
        } catch {
          return;
        }
        for (const fn of this.byJob.get(Number(n.jobId)) ?? []) fn(n);
      }, () => this.lost());
    })().catch((e) => {
      this.starting = null;
      throw e;
    });
    return this.starting;
  }

  async subscribe(jobId: number, fn: Listener): Promise<() => void> {
    await this.start();
    let set = this.byJob.get(jobId);
    if (!set) this.byJob.set(jobId, (set = new Set()));
    set.add(fn);
    return () => {
      set!.delete(fn);
      if (set!.size === 0) this.byJob.delete(jobId);
    };
  }

  /** Every stream is told, so it ends and its client resumes with Last-Event-ID; the next subscriber listens anew. */
  private lost(): void {
    this.unlisten = null;
    this.starting = null;
    const all = [...this.byJob.values()].flatMap((set) => [...set]);
    this.byJob.clear();
    for (const fn of all) fn(null);
  }

  async stop(): Promise<void> {
    const u = this.unlisten;
    this.unlisten = null;
    this.starting = null;
    if (u) await u().catch(() => {});
  }
}

const hubs = new WeakMap<App, EventHub>();

export function eventHub(ctx: App): EventHub {
  let hub = hubs.get(ctx);
  if (!hub) {
    hub = new EventHub(ctx);
    hubs.set(ctx, hub);
    const h = hub;
    ctx.onClose(() => h.stop());
  }
  return hub;
}
