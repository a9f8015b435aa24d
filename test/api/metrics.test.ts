/** `/metrics`: Prometheus text for operators and admins only, with the series docs/deploy.md promises. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JobState } from '../../src/domain/states.ts';
import { drivers } from '../helpers/db.ts';
import { call, importBody, jobPath, startServer, withApi, type TestServer } from './helpers.ts';

for (const driver of drivers) {
  describe(`metrics [${driver}]`, () => {
    let s: TestServer;
    beforeAll(async () => {
      s = await startServer(driver);
      await call(s, 'PUT', withApi(jobPath('measured')), { body: importBody(['M1']) });
    });
    afterAll(async () => s?.close());

    const scrape = async (token?: string) => {
      const res = await fetch(`${s.url}/metrics`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
      return { status: res.status, type: res.headers.get('content-type'), text: await res.text() };
    };
    const value = (text: string, series: string) => {
      const line = text.split('\n').find((l) => l.startsWith(series + ' '));
      return line === undefined ? undefined : Number(line.slice(series.length + 1));
    };

    it('needs the operator or admin role: no token 401, an owner 403', async () => {
      expect((await scrape()).status).toBe(401);
      const owner = await scrape(s.tokens.owner);
      expect(owner.status).toBe(403);
      expect(JSON.parse(owner.text).error.code).toBeTruthy();
    });

    it('reports HTTP latency by route, jobs and drives by state, timer lag, outbox backlog and the Get Job cache', async () => {
      // The cache starts listening on the first Get Job; repeat until one is answered from it.
      let m = await scrape(s.tokens.operator);
      for (const until = Date.now() + 5_000; !(value(m.text, 'sneakernet_get_job_cache_total{result="hit"}')! >= 1) && Date.now() < until;) {
        await call(s, 'GET', withApi(jobPath('measured')));
        m = await scrape(s.tokens.operator);
      }
      expect(m.status).toBe(200);
      expect(m.type).toContain('text/plain');
      expect(m.text).toMatch(/sneakernet_http_request_duration_seconds_bucket\{[^}]*route="\/subscriptions\/:subscriptionId\/resourceGroups\/:resourceGroupName\/providers\/Microsoft.ImportExport\/jobs\/:jobName"/);
      expect(value(m.text, `sneakernet_jobs{state="${JobState.Creating}"}`)).toBeGreaterThanOrEqual(1);
      expect(m.text).toMatch(/^sneakernet_drives\{state="[A-Za-z]+"\} \d+$/m);
      expect(value(m.text, 'sneakernet_timer_lag_seconds')).toBe(0);
      expect(value(m.text, 'sneakernet_outbox_backlog')).toBeGreaterThanOrEqual(0);
      expect(value(m.text, 'sneakernet_get_job_cache_total{result="hit"}')).toBeGreaterThanOrEqual(1);
      expect(m.text).toContain('sneakernet_bytes_copied_total');
      expect(m.text).toContain('sneakernet_lease_takeovers_total');
      expect(m.text).toContain('sneakernet_notification_delivery_failures_total');
    });

    it('never shows a token or a BitLocker key', async () => {
      const m = await scrape(s.admin);
      for (const secret of [s.admin, s.tokens.owner, s.tokens.operator, importBody().properties.driveList[0].bitLockerKey]) {
        expect(m.text).not.toContain(secret);
      }
    });
  });
}
