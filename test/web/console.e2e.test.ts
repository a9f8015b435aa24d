/**
 * The console in a real browser (Debian's chromium through playwright-core) against a real server started in this
 * process (PGlite in memory, a bootstrap admin token). Walks the flow as far as the backend offers it —
 * each step probes its API route first and says so when it is not there yet — takes screenshots of the main pages
 * at 1280 px and 390 px (test-artifacts/), and measures the time to first render of the jobs list with 10,000 jobs.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import type { FastifyInstance } from 'fastify';
import { openApp, type App } from '../../src/app.ts';
import { buildServer } from '../../src/api/server.ts';
import { configFromEnv } from '../../src/config.ts';
import { JobState, JobType } from '../../src/domain/states.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const ARTIFACTS = path.join(ROOT, 'test-artifacts', 'web');
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ADMIN = 'e2e-admin-token-' + Math.random().toString(36).slice(2);
const PERF_SUB = 'perf-sub';
const SUB = 'e2e-sub';
const PERF_JOBS = 10_000;

let ctx: App;
let server: FastifyInstance;
let base: string;
let browser: BrowserContext;
let userDataDir: string;
const notes: string[] = [];

function buildConsole() {
  execFileSync(process.execPath, [path.join(ROOT, 'node_modules', 'vite', 'bin', 'vite.js'), 'build', '--config', path.join(ROOT, 'web', 'vite.config.ts')], {
    cwd: ROOT,
    stdio: 'pipe',
  });
}

async function insertJobs(n: number) {
  const db = ctx.store.db;
  const states = Object.values(JobState);
  const t0 = Date.parse('2026-01-01T00:00:00Z');
  for (let i = 0; i < n; i += 1000) {
    const rows = [];
    for (let k = i; k < Math.min(n, i + 1000); k++) {
      const at = new Date(t0 + k * 60_000);
      rows.push({
        subscription_id: PERF_SUB, resource_group: `rg${k % 7}`, name: `perf-job-${String(k).padStart(5, '0')}`, location: 'West US',
        job_type: k % 3 === 0 ? JobType.Export : JobType.Import, state: states[k % states.length],
        state_reason_code: 'Seeded', state_reason_message: 'Inserted by the browser test.', cancel_requested: false,
        backup_drive_manifest: false, tags: JSON.stringify({}), extensions: JSON.stringify({}), percent_complete: k % 100,
        version: 1, state_entered_at: at, created_at: at, updated_at: at,
      });
    }
    await db.insertInto('jobs').values(rows).execute();
  }
}

async function api(method: string, url: string, token: string, body?: unknown) {
  const res = await fetch(base + url, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

/** Is a route there? Unknown routes answer 404 with Fastify's "Route ... not found" (not an ARM NotFound). */
async function routeExists(method: string, url: string): Promise<boolean> {
  const res = await fetch(base + url, { method, headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' }, body: method === 'GET' ? undefined : '{}' });
  const text = await res.text();
  return !(res.status === 404 && /Route .* not found|No route for/i.test(text));
}

async function newPage(width: number): Promise<Page> {
  const page = await browser.newPage();
  await page.setViewportSize({ width, height: width < 500 ? 844 : 900 });
  return page;
}

async function signIn(page: Page, token: string, subscription = '') {
  await page.goto(base + '/');
  await page.getByLabel('Access token').fill(token);
  if (subscription) await page.getByLabel('Subscription (only for admin tokens)').fill(subscription);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'Jobs' }).waitFor();
}

async function shot(page: Page, name: string) {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage: true });
}

beforeAll(async () => {
  if (!fs.existsSync(CHROMIUM)) execFileSync('bash', [path.join(ROOT, 'scripts', 'ensure-chromium.sh')], { stdio: 'inherit' });
  buildConsole();
  // Always the embedded database in memory, even when DATABASE_URL is set (CI): this suite owns its data.
  const config = { ...configFromEnv({ dataDir: 'memory://', bootstrapToken: ADMIN, port: 0, host: '127.0.0.1', clock: 'system' }), databaseUrl: undefined, tlsCert: undefined, tlsKey: undefined };
  ctx = await openApp(config);
  server = await buildServer(ctx);
  const address = await server.listen({ port: 0, host: '127.0.0.1' });
  base = address;
  const t = Date.now();
  await insertJobs(PERF_JOBS);
  notes.push(`inserted ${PERF_JOBS} jobs in ${Date.now() - t} ms`);
  userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sneakernet-chromium-'));
  browser = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}, 240_000);

afterAll(async () => {
  await browser?.close();
  await server?.close();
  await ctx?.close();
  if (userDataDir) fs.rmSync(userDataDir, { recursive: true, force: true });
  if (notes.length) console.log('console e2e notes:\n  ' + notes.join('\n  '));
});

describe('web console in chromium', () => {
  it('serves the console without a token and keeps the token out of the URL', async () => {
    const res = await fetch(base + '/');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/html');
    expect(await res.text()).toContain('<div id="root">');
    const page = await newPage(1280);
    await page.goto(base + '/');
    await expect.poll(() => page.getByLabel('Access token').isVisible()).toBe(true);
    await shot(page, 'signin-1280');
    await page.getByLabel('Access token').fill('not-a-token');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('alert').waitFor();
    expect(await page.getByRole('alert').textContent()).toContain('invalid');
    await signIn(page, ADMIN, PERF_SUB);
    expect(page.url()).not.toContain(ADMIN);
    expect(await page.evaluate(() => sessionStorage.length)).toBe(1);
    await page.close();
  });

  it('renders the jobs list of 10,000 jobs quickly, filtered and searched on the server', async () => {
    for (const width of [1280, 390]) {
      const page = await newPage(width);
      await page.addInitScript(
        ([token, sub]) => sessionStorage.setItem('sneakernet.session', JSON.stringify({ token, subscriptionId: sub, role: 'admin', admin: true })),
        [ADMIN, PERF_SUB],
      );
      const t0 = Date.now();
      await page.goto(base + '/#/jobs');
      await page.locator('[data-testid="jobs-table"] tbody tr').first().waitFor();
      const wall = Date.now() - t0;
      const mark = await page.evaluate(() => performance.getEntriesByName('jobs-list-rendered')[0]?.startTime ?? -1);
      notes.push(`jobs list first render at ${width}px with ${PERF_JOBS} jobs: ${Math.round(mark)} ms after navigation start (wall clock from goto: ${wall} ms)`);
      console.log(`[perf] jobs list first render (${width}px, ${PERF_JOBS} jobs): ${Math.round(mark)} ms after navigation start; ${wall} ms wall clock from goto`);
      expect(mark).toBeGreaterThan(0);
      expect(mark).toBeLessThan(5000);
      await expect.poll(() => page.getByTestId('jobs-count').textContent()).toContain('of 10,000 jobs');
      // Most recently changed first.
      expect(await page.locator('[data-testid="jobs-table"] tbody tr').first().getAttribute('data-job')).toBe('perf-job-09999');
      expect(await page.locator('[data-testid="jobs-table"] tbody tr').count()).toBe(50);
      await shot(page, `jobs-${width}`);
      if (width === 1280) {
        await page.getByLabel('State').selectOption(JobState.Faulted);
        await expect.poll(() => page.getByTestId('jobs-count').textContent()).toContain('of 1,250 jobs');
        await page.getByLabel('Search by name').fill('perf-job-0999');
        await expect.poll(() => page.locator('[data-testid="jobs-table"] tbody tr').count()).toBeLessThan(50);
        const names = await page.locator('[data-testid="jobs-table"] tbody tr').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-job')));
        expect(names.every((n) => n!.startsWith('perf-job-0999'))).toBe(true);
        await page.getByLabel('Search by name').fill('');
        await page.getByLabel('State').selectOption('');
        await page.getByRole('button', { name: 'Older →' }).click();
        await expect.poll(() => page.getByTestId('jobs-count').textContent()).toContain('Showing 51–100');
        // Keyboard: the filters and links are reachable with Tab.
        // Keyboard: after navigation focus sits on the page heading; Tab reaches the filters, then the rows' links.
        await page.reload();
        await page.locator('[data-testid="jobs-table"] tbody tr').first().waitFor();
        expect(await page.evaluate(() => document.activeElement?.id)).toBe('jobs-title');
        await page.keyboard.press('Tab');
        expect(await page.evaluate(() => document.activeElement?.getAttribute('name'))).toBe('state');
        for (let i = 0; i < 3; i++) await page.keyboard.press('Tab');
        expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('perf-job-09999');
        await page.keyboard.press('Enter');
        await page.getByRole('heading', { name: 'perf-job-09999' }).waitFor();
      }
      await page.close();
    }
  });

  it('walks the customer and operator flow as far as the backend supports', async () => {
    const arm = await routeExists('PUT', `/subscriptions/${SUB}/resourceGroups/rg/providers/Microsoft.ImportExport/jobs/probe?api-version=2021-01-01`);
    const owner = (await api('POST', '/admin/tokens', ADMIN, { subscriptionId: SUB, role: 'owner' })).body.token as string;
    expect(owner).toBeTruthy();
    const page = await newPage(1280);
    await signIn(page, owner);
    expect(await page.getByRole('link', { name: 'New job' }).isVisible()).toBe(true);
    await page.getByRole('link', { name: 'New job' }).click();
    await page.getByRole('heading', { name: 'New job' }).waitFor();
    await shot(page, 'create-1280');
    if (!arm) {
      notes.push('flow stopped before creating a job: the ARM job routes are not registered yet');
      await page.close();
      return;
    }
    // A bad name first: the API's own message is shown.
    await page.getByLabel('Job name').fill('1bad');
    await page.getByLabel('Drive id (serial number)').fill('E2EDRIVE1');
    await page.getByRole('button', { name: 'Create job' }).click();
    await page.getByTestId('create-error').waitFor();
    notes.push(`create with a bad name shows: ${(await page.getByTestId('create-error').textContent())?.slice(0, 160)}`);
    await page.getByLabel('Job name').fill('e2e-import');
    await page.getByLabel('BitLocker key').fill('238810-662376-487612-227843-089737-456210-478896-483076');
    await page.getByLabel('Manifest hash').fill('109B21108597EF36D5785F08303F3638');
    await page.getByRole('button', { name: 'Create job' }).click();
    await page.getByRole('heading', { name: 'e2e-import' }).waitFor({ timeout: 15_000 });
    await expect.poll(() => page.getByTestId('job-state').textContent()).toBe(JobState.Creating);
    await expect.poll(() => page.locator('section[aria-labelledby="diagram-title"] g[data-current="true"]').getAttribute('data-state')).toBe(JobState.Creating);
    await expect.poll(() => page.getByTestId('timeline').locator('tbody tr').count(), { timeout: 10_000 }).toBeGreaterThan(0);
    await expect.poll(() => page.getByTestId('deadline').first().textContent()).toContain('deleted');
    await shot(page, 'job-creating-1280');

    // Add shipping info.
    await page.getByLabel('Tracking number').fill('1Z999');
    await page.getByLabel('Recipient name *').fill('Ann Example');
    await page.getByLabel('Street address *').fill('1 Main St');
    await page.getByLabel('City *').fill('Redmond');
    await page.getByLabel('Postal code *').fill('98052');
    await page.getByLabel('Country or region *').fill('USA');
    await page.getByLabel('Phone *').fill('+1 425 555 0100');
    await page.getByLabel('E-mail *').fill('ann@example.com');
    await page.getByRole('button', { name: 'Mark as shipped' }).click();
    await expect.poll(() => page.getByTestId('job-state').textContent(), { timeout: 10_000 }).toBe(JobState.Shipping);
    await expect.poll(() => page.locator('path[data-edge="Creating>Shipping"]').getAttribute('data-taken')).toBe('true');
    await shot(page, 'job-shipping-1280');
    const narrow = await newPage(390);
    await narrow.addInitScript(
      ([token, sub]) => sessionStorage.setItem('sneakernet.session', JSON.stringify({ token, subscriptionId: sub, role: 'owner', admin: false })),
      [owner, SUB],
    );
    await narrow.goto(base + '/#/jobs/default/e2e-import');
    await expect.poll(() => narrow.getByTestId('job-state').textContent(), { timeout: 10_000 }).toBe(JobState.Shipping);
    await narrow.getByRole('heading', { name: 'e2e-import' }).waitFor();
    await shot(narrow, 'job-shipping-390');
    await narrow.close();
    // Resource group default is "default"; the job lives there.
    const ops = await routeExists('POST', '/operator/packages');
    if (!ops) {
      notes.push('flow stopped after Shipping: the operator routes (/operator/packages) are not registered yet');
      await page.close();
      return;
    }
    const operator = await newPage(1280);
    await signIn(operator, ADMIN, SUB);
    await operator.getByRole('link', { name: 'Receive' }).click();
    await operator.getByLabel('Tracking number').fill('1Z999');
    await operator.getByTestId('scan-input').fill('E2EDRIVE1');
    await operator.keyboard.press('Enter');
    await expect.poll(() => operator.getByTestId('scan-info').first().textContent()).toContain('will be received');
    expect(await operator.evaluate(() => document.activeElement?.getAttribute('data-testid'))).toBe('scan-input');
    await operator.getByTestId('scan-input').fill('STRAYDRIVE9');
    await operator.keyboard.press('Enter');
    await expect.poll(() => operator.locator('li[data-drive="STRAYDRIVE9"]').textContent()).toContain('unknown drive');
    await operator.getByRole('button', { name: /Record package/ }).click();
    await expect.poll(() => operator.locator('li[data-drive="E2EDRIVE1"]').textContent(), { timeout: 10_000 }).toContain('received');
    await expect.poll(() => operator.locator('li[data-drive="STRAYDRIVE9"]').textContent()).toMatch(/extra|held/);
    await shot(operator, 'receive-1280');
    await expect.poll(() => page.getByTestId('job-state').textContent(), { timeout: 15_000 }).toBe(JobState.Received);

    // A small transfer: the data plane's hooks, called as the worker calls them.
    const jobId = (await api('GET', `/console/api/job-id?subscriptionId=${SUB}&resourceGroup=default&name=e2e-import`, ADMIN)).body.id as number;
    const hook = async (what: string, body?: unknown) => {
      const r = await api('POST', `/operator/jobs/${jobId}/drives/E2EDRIVE1/${what}`, ADMIN, body ?? {});
      if (r.status >= 300) notes.push(`${what}: ${r.status} ${JSON.stringify(r.body).slice(0, 200)}`);
      return r.status;
    };
    if ((await hook('start-transfer')) < 300) {
      await expect.poll(() => page.getByTestId('job-state').textContent(), { timeout: 15_000 }).toBe(JobState.Transferring);
      await hook('finish-transfer', { outcome: { errors: 0, bytesSucceeded: 4096 } });
      await expect.poll(() => page.getByTestId('job-state').textContent(), { timeout: 15_000 }).toBe(JobState.Packaging);
      // The operator ships the drives back through the console.
      await operator.goto(base + '/#/jobs/default/e2e-import');
      await operator.getByLabel('Return tracking number').fill('RET-42');
      await operator.getByRole('button', { name: 'Record return shipment' }).click();
      await expect.poll(() => page.getByTestId('job-state').textContent(), { timeout: 15_000 }).toBe(JobState.Completed);
      await expect.poll(() => page.locator('section[aria-labelledby="diagram-title"] g[data-current="true"]').getAttribute('data-state')).toBe(JobState.Completed);
      expect(await page.locator('path[data-edge="Packaging>Completed"]').getAttribute('data-taken')).toBe('true');
      await expect.poll(() => page.getByTestId('timeline').locator('tbody tr').count()).toBeGreaterThan(5);
      await shot(page, 'job-completed-1280');
      notes.push('flow reached Completed (receive, transfer hooks, ship back); log tables need a log-serving route');
    }
    await operator.close();
    await page.close();
  });

  it('shows the operator pages at both widths', async () => {
    for (const width of [1280, 390]) {
      const page = await newPage(width);
      await page.addInitScript(
        ([token, sub]) => sessionStorage.setItem('sneakernet.session', JSON.stringify({ token, subscriptionId: sub, role: 'admin', admin: true })),
        [ADMIN, SUB],
      );
      await page.goto(base + '/#/operator/receive');
      await page.getByRole('heading', { name: 'Receive a package' }).waitFor();
      expect(await page.evaluate(() => document.activeElement?.getAttribute('data-testid'))).toBe('scan-input');
      await shot(page, `receive-empty-${width}`);
      await page.goto(base + '/#/operator/tasks');
      await page.getByRole('heading', { name: 'Operator tasks' }).waitFor();
      await shot(page, `tasks-${width}`);
      await page.close();
    }
  });
});
