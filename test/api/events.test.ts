/** Live events: GET …/jobs/{name}/events streams history, then live changes, as SSE; Last-Event-ID resumes. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Actor } from '../../src/domain/states.ts';
import { JobEvent } from '../../src/domain/transitions.ts';
import { drivers } from '../helpers/db.ts';
import { DELIVERY, RETURN_ADDRESS, RG, SUB, call, importBody, jobPath, startServer, withApi, type TestServer } from './helpers.ts';

interface Sse {
  id?: string;
  data: any;
}

/** Opens an SSE stream with fetch and collects parsed messages. */
async function openStream(url: string, token: string, headers: Record<string, string> = {}) {
  const ac = new AbortController();
  const res = await fetch(url, { headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream', ...headers }, signal: ac.signal });
  if (res.status !== 200) throw new Error(`events stream answered ${res.status}: ${await res.text()}`);
  const messages: Sse[] = [];
  let ended = false;
  const waiters: Array<() => void> = [];
  const wake = () => waiters.splice(0).forEach((w) => w());
  void (async () => {
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    let buf = '';
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += value;
        let i: number;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          const id = /^id: (.*)$/m.exec(block)?.[1];
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (data) messages.push({ id, data: JSON.parse(data) });
        }
        wake();
      }
    } catch {
      /* aborted */
    }
    ended = true;
    wake();
  })();
  return {
    res,
    messages,
    get ended() {
      return ended;
    },
    async waitFor(count: number, timeoutMs = 10_000): Promise<Sse[]> {
      const until = Date.now() + timeoutMs;
      while (messages.length < count) {
        if (Date.now() > until || ended) throw new Error(`only ${messages.length} of ${count} events arrived: ${JSON.stringify(messages.map((m) => m.data.event))}`);
        await new Promise<void>((r) => {
          waiters.push(r);
          setTimeout(r, 100);
        });
      }
      return messages.slice(0, count);
    },
    close: () => ac.abort(),
  };
}

for (const driver of drivers) {
  describe(`job events over SSE [${driver}]`, () => {
    let s: TestServer;
    const eventsUrl = (name: string, q = '') => `${s.url}${withApi(jobPath(name) + '/events')}${q}`;

    beforeAll(async () => {
      s = await startServer(driver);
      await call(s, 'PUT', withApi(jobPath('live1')), { body: importBody(['LD1']) });
      await call(s, 'PATCH', withApi(jobPath('live1')), { body: { properties: { logLevel: 'Error' } } });
    });
    afterAll(async () => s?.close());

    it('sends the history first, as text/event-stream, each event with its id', async () => {
      const st = await openStream(eventsUrl('live1'), s.tokens.reader);
      expect(st.res.status).toBe(200);
      expect(st.res.headers.get('content-type')).toContain('text/event-stream');
      const history = await st.waitFor(2);
      expect(history.map((m) => m.data.event)).toEqual(['create', 'update']);
      expect(history[0].data).toMatchObject({ job: 'live1', toState: 'Creating', actor: 'customer', reasonCode: 'JobCreated' });
      expect(Number(history[1].id)).toBeGreaterThan(Number(history[0].id));
      st.close();
    });

    it('live: changes made after connecting arrive on the open stream (customer and data-center changes)', async () => {
      const st = await openStream(eventsUrl('live1'), s.tokens.owner);
      await st.waitFor(2);
      const patch = await call(s, 'PATCH', withApi(jobPath('live1')), { body: { properties: { state: 'Shipping', deliveryPackage: DELIVERY, returnAddress: RETURN_ADDRESS } } });
      expect(patch.status).toBe(200);
      const afterPatch = await st.waitFor(4);
      expect(afterPatch.slice(2).map((m) => m.data.event)).toEqual(['update', JobEvent.ProvideShippingInfo]);
      expect(afterPatch[3].data).toMatchObject({ fromState: 'Shipping'.replace('Shipping', 'Creating'), toState: 'Shipping' });
      const job = (await s.app.store.getJob({ subscriptionId: SUB, resourceGroup: RG, name: 'live1' }))!;
      await s.app.store.changeJob(job.id, { actor: Actor.Operator }, (w) => w.note('operatorNote', 'PackageSeen', 'The package is at the dock.'));
      const all = await st.waitFor(5);
      expect(all[4].data).toMatchObject({ event: 'operatorNote', actor: 'operator', message: 'The package is at the dock.' });
      st.close();
    });

    it('resume: Last-Event-ID (header or ?lastEventId=) sends only the events after it', async () => {
      const full = await openStream(eventsUrl('live1', '&follow=false'), s.tokens.owner);
      const every = await full.waitFor(5);
      const second = every[1].id!;
      const resumed = await openStream(eventsUrl('live1', '&follow=false'), s.tokens.owner, { 'last-event-id': second });
      await resumed.waitFor(3);
      expect(resumed.messages.map((m) => m.id)).toEqual(every.slice(2).map((m) => m.id));
      const byQuery = await openStream(eventsUrl('live1', `&follow=false&lastEventId=${every[3].id}`), s.tokens.owner);
      await byQuery.waitFor(1);
      expect(byQuery.messages.map((m) => m.id)).toEqual([every[4].id]);
    });

    it('follow=false sends the history and ends the stream', async () => {
      const st = await openStream(eventsUrl('live1', '&follow=false'), s.tokens.owner);
      expect((await st.waitFor(5)).length).toBe(5);
      const until = Date.now() + 5000;
      while (!st.ended && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
      expect(st.ended).toBe(true);
    });

    it('a resumed live stream picks up new events after the resume point without repeating old ones', async () => {
      const first = await openStream(eventsUrl('live1'), s.tokens.owner);
      const seen = await first.waitFor(5);
      first.close();
      // an event happens while the client is disconnected
      await call(s, 'PATCH', withApi(jobPath('live1')), { body: { tags: { offline: 'yes' } } });
      const again = await openStream(eventsUrl('live1'), s.tokens.owner, { 'last-event-id': seen[4].id! });
      const missed = await again.waitFor(1);
      expect(missed[0].data.event).toBe('update');
      await call(s, 'PATCH', withApi(jobPath('live1')), { body: { tags: { online: 'yes' } } });
      const more = await again.waitFor(2);
      expect(more.map((m) => m.data.event)).toEqual(['update', 'update']);
      expect(new Set(more.map((m) => m.id)).size).toBe(2);
      again.close();
    });

    it('events of another job or subscription never reach a stream; foreign jobs are 404', async () => {
      await call(s, 'PUT', withApi(jobPath('quiet')), { body: importBody(['Q1']) });
      const st = await openStream(eventsUrl('quiet'), s.tokens.owner);
      await st.waitFor(1);
      await call(s, 'PATCH', withApi(jobPath('live1')), { body: { tags: { noise: '1' } } });
      await new Promise((r) => setTimeout(r, 300));
      expect(st.messages).toHaveLength(1);
      st.close();
      const foreign = await fetch(eventsUrl('quiet'), { headers: { authorization: `Bearer ${s.tokens.otherOwner}` } });
      expect(foreign.status).toBe(404);
      expect((await foreign.json()).error.code).toBe('ResourceNotFound');
    });
  });
}

describe.runIf(process.env.DATABASE_URL)('job events when the LISTEN connection is lost [postgres]', () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startServer('postgres');
    await call(s, 'PUT', withApi(jobPath('lost1')), { body: importBody(['LL1']) });
  });
  afterAll(async () => s?.close());

  it('open streams end (so clients resume with Last-Event-ID) and a new stream listens again and misses nothing', async () => {
    const url = `${s.url}${withApi(jobPath('lost1') + '/events')}`;
    const st = await openStream(url, s.tokens.owner);
    const [created] = await st.waitFor(1);
    const pg = (await import('pg')).default;
    const c = new pg.Client({ connectionString: process.env.DATABASE_URL });
    await c.connect();
    try {
      const killed = await c.query(`select pg_terminate_backend(pid) from pg_stat_activity where query = $1`, [`listen "${s.app.database.eventsChannel}"`]);
      expect(killed.rowCount).toBe(1);
    } finally {
      await c.end();
    }
    const until = Date.now() + 5_000;
    while (!st.ended && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
    expect(st.ended).toBe(true);
    // Changed while no stream was open: the resumed stream sends it, then live ones again.
    await call(s, 'PATCH', withApi(jobPath('lost1')), { body: { tags: { while: 'down' } } });
    const again = await openStream(url, s.tokens.owner, { 'last-event-id': created.id! });
    expect((await again.waitFor(1))[0].data.event).toBe('update');
    await call(s, 'PATCH', withApi(jobPath('lost1')), { body: { tags: { after: 'relisten' } } });
    const both = await again.waitFor(2);
    expect(both.map((m) => m.data.event)).toEqual(['update', 'update']);
    again.close();
  });
});
