/**
 * `sneakernet ops …` and `sneakernet clock …` are thin clients of the operator and admin routes: the real binary
 * (child process) against a real HTTP server on a manual clock; tables by default, --json, exit codes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/domain/clock.ts';
import { DriveState, JobState } from '../../src/domain/states.ts';
import { HeldDriveState, TaskKind } from '../../src/domain/custody.ts';
import { DELIVERY, RETURN_ADDRESS, RG, SUB, call, importBody, jobPath, startServer, withApi, type TestServer } from '../api/helpers.ts';
import { runCli } from '../helpers/cli.ts';

describe('sneakernet ops and clock (CLI over HTTP)', { timeout: 480_000 }, () => {
  let s: TestServer;
  let env: NodeJS.ProcessEnv;
  const clock = new ManualClock(new Date('2026-02-01T00:00:00Z'));
  const ops = (args: string[], extra: NodeJS.ProcessEnv = {}) => runCli(['ops', ...args], { ...env, ...extra });
  const clockCli = (args: string[], extra: NodeJS.ProcessEnv = {}) => runCli(['clock', ...args], { ...env, SNEAKERNET_TOKEN: s.admin, ...extra });
  const json = (r: { code: number | null; stdout: string; stderr: string }) => {
    expect(r.code, r.stderr).toBe(0);
    return JSON.parse(r.stdout);
  };

  /** A customer's import job, shipped through the ARM API with its own tracking number; returns its numeric id. */
  async function shipped(name: string, drives: string[], tracking: string): Promise<number> {
    expect((await call(s, 'PUT', withApi(jobPath(name)), { body: importBody(drives) })).status).toBe(201);
    const r = await call(s, 'PATCH', withApi(jobPath(name)), {
      body: { properties: { state: JobState.Shipping, deliveryPackage: { ...DELIVERY, trackingNumber: tracking, driveCount: drives.length }, returnAddress: RETURN_ADDRESS } },
    });
    expect(r.status, r.text).toBe(200);
    return (await s.app.store.getJob({ subscriptionId: SUB, resourceGroup: RG, name }))!.id;
  }

  beforeAll(async () => {
    s = await startServer('pglite', { clock });
    env = { SNEAKERNET_ENDPOINT: s.url, SNEAKERNET_TOKEN: s.tokens.operator };
  });
  afterAll(async () => {
    await s?.close();
  });

  it('receive, jobs, job, fault/unfault, tasks, ship-back, return-issue and custody drive the operator routes', async () => {
    const id = await shipped('opsjob', ['OPS1', 'OPS2'], 'OPS-TRK');

    const received = await ops(['receive', '--carrier', 'FedEx', '--tracking', 'OPS-TRK', 'OPS1', 'OPS2', 'OPSXTRA']);
    expect(received.code, received.stderr).toBe(0);
    expect(received.stdout).toMatch(/^package \d+$/m);
    expect(received.stdout).toMatch(/OPS1\s+opsjob\s+received \(Specified -> Received\)/);
    expect(received.stdout).toMatch(/OPSXTRA\s+\d+\s+extra: not processed, returned with the job/);
    expect(received.stdout).toMatch(new RegExp(`${id}\\s+opsjob\\s+Received`));

    const [listed, listedJson, shown] = await Promise.all([
      ops(['jobs', '--state', JobState.Received]),
      ops(['jobs', '--state', `${JobState.Received},${JobState.Shipping}`, '--json']),
      ops(['job', String(id)]),
    ]);
    expect(listed.code, listed.stderr).toBe(0);
    expect(listed.stdout.split('\n')[0]).toMatch(/^ID\s+SUBSCRIPTION\s+RESOURCE GROUP\s+NAME\s+TYPE\s+STATE/);
    expect(listed.stdout).toMatch(new RegExp(`^${id}\\s+${SUB}\\s+${RG}\\s+opsjob\\s+Import\\s+Received`, 'm'));
    expect(JSON.parse(listedJson.stdout).value.map((j: { id: number }) => j.id)).toContain(id);
    expect(shown.code, shown.stderr).toBe(0);
    expect(shown.stdout).toMatch(/^state:\s+Received$/m);
    expect(shown.stdout).toMatch(/OPSXTRA\s+Received\s+yes/);

    const faulted = await ops(['fault', String(id), '--reason', 'storage account not accessible']);
    expect(faulted.code, faulted.stderr).toBe(0);
    expect(faulted.stdout).toMatch(/^job opsjob: Faulted$/m);
    const tasks = json(await ops(['tasks', 'list', '--job', String(id), '--json']));
    expect(tasks.value.map((t: { kind: string }) => t.kind)).toEqual([TaskKind.Faulted]);
    const table = await ops(['tasks', 'list', '--kind', TaskKind.Faulted]);
    expect(table.stdout).toMatch(new RegExp(`^${tasks.value[0].id}\\s+${TaskKind.Faulted}\\s+open\\s+${id}`, 'm'));
    // Unfault only to a state the tables allow: Completed is refused with exit 4, the default goes back to Received.
    const refused = await ops(['unfault', String(id), '--note', 'x', '--to', JobState.Completed]);
    expect(refused.code).toBe(4);
    expect(refused.stderr.trim().split('\n')).toHaveLength(1);
    const back = json(await ops(['unfault', String(id), '--note', 'access restored', '--json']));
    expect(back.job.state).toBe(JobState.Received);
    expect(json(await ops(['tasks', 'list', '--job', String(id), '--json'])).value).toEqual([]);

    // The data plane copies both drives (operator transfer hooks), then the operator ships the drives back.
    for (const d of ['OPS1', 'OPS2']) {
      expect((await call(s, 'POST', `/operator/jobs/${id}/drives/${d}/start-transfer`, { token: s.tokens.operator })).status).toBe(200);
      expect((await call(s, 'POST', `/operator/jobs/${id}/drives/${d}/finish-transfer`, { token: s.tokens.operator, body: { outcome: { errors: 0 } } })).status).toBe(200);
    }
    const early = await ops(['return-issue', String(id), '--kind', 'damaged', '--note', 'x']);
    expect(early.code).toBe(4);
    const shippedBack = await ops(['ship-back', String(id), '--carrier', 'FedEx', '--tracking', 'RET-OPS']);
    expect(shippedBack.code, shippedBack.stderr).toBe(0);
    expect(shippedBack.stdout).toMatch(/^shipped back: job opsjob is Completed$/m);
    expect(shippedBack.stdout).toMatch(/^return package:\s+FedEx RET-OPS$/m);
    expect(shippedBack.stdout).toMatch(/OPSXTRA\s+ShippedBack\s+yes/);

    const issue = json(await ops(['return-issue', String(id), '--kind', 'damaged', '--note', 'box crushed', '--blob', 'photos/a.jpg', '--json']));
    expect(issue.job.extensions.returnIssues).toMatchObject([{ kind: 'damaged', driveIds: ['OPS1', 'OPS2', 'OPSXTRA'], blobs: ['photos/a.jpg'] }]);
    // The customer sees it in the job's history.
    const history = await call(s, 'GET', withApi(`${jobPath('opsjob')}/events`) + '&follow=false');
    expect(history.status).toBe(200);
    expect(history.text).toMatch(/"event":"returnIssue".*"reasonCode":"DrivesDamagedInReturn"/);

    const custody = await ops(['custody', 'OPS1']);
    expect(custody.code, custody.stderr).toBe(0);
    expect(custody.stdout.split('\n')[0]).toMatch(/^AT\s+EVENT\s+JOB/);
    expect(custody.stdout).toMatch(/received\s+opsjob/);
    expect(custody.stdout).toMatch(/shippedBack\s+opsjob/);
  });

  it('held drives: list, close the task, return one, clock advance 90d marks the other for destruction, destroy prints a certificate', async () => {
    const r = json(await ops(['receive', '--carrier', 'DHL', '--tracking', 'UNKNOWN-SENDER', 'NOJOB1', 'NOJOB2', '--json']));
    expect(r.held.map((h: { driveId: string; reason: string }) => [h.driveId, h.reason])).toEqual([['NOJOB1', 'UnknownJob'], ['NOJOB2', 'UnknownJob']]);
    const [h1, h2] = r.held.map((h: { heldDriveId: number }) => h.heldDriveId);

    const heldTable = await ops(['held', 'list', '--state', HeldDriveState.Held]);
    expect(heldTable.stdout).toMatch(new RegExp(`^${h1}\\s+NOJOB1\\s+Held\\s+UnknownJob`, 'm'));
    const taskId = r.taskIds[0];
    const closed = await ops(['tasks', 'close', String(taskId), '--note', 'sender not found yet']);
    expect(closed.code, closed.stderr).toBe(0);
    expect(closed.stdout.trim()).toBe(`closed task ${taskId} (${TaskKind.HeldDrives})`);
    expect((await ops(['tasks', 'close', String(taskId), '--note', 'again'])).code).toBe(4);

    const returned = await ops(['held', 'return', String(h2), '--carrier', 'DHL', '--tracking', 'BACK-1']);
    expect(returned.stdout.trim()).toBe(`drive NOJOB2 is ${HeldDriveState.Returned}`);

    const before = json(await clockCli(['show', '--json']));
    expect(before.mode).toBe('manual');
    const advanced = await clockCli(['advance', '90d']);
    expect(advanced.code, advanced.stderr).toBe(0);
    // Both of NOJOB1's timers were owed: the 14-day return alert and the 90-day destruction mark, in one sweep.
    expect(advanced.stdout).toMatch(/^heldReturnAlerts:\s+1$/m);
    expect(advanced.stdout).toMatch(/^heldDueForDestruction:\s+1$/m);
    expect(new Date(/^now:\s+(\S+)$/m.exec(advanced.stdout)![1]).getTime()).toBe(new Date(before.now).getTime() + 90 * 86_400_000);
    const shown = await clockCli(['show']);
    expect(shown.stdout).toMatch(/^mode:\s+manual$/m);

    const due = json(await ops(['held', 'list', '--state', HeldDriveState.DueForDestruction, '--json']));
    expect(due.value.map((h: { id: number }) => h.id)).toContain(h1);
    expect(due.value.map((h: { id: number }) => h.id)).not.toContain(h2);

    const cert = await ops(['destroy', '--held', String(h1), '--method', 'NIST 800-88 purge, shredded', '--by', 'Bo Operator', '--witness', 'Cy']);
    expect(cert.code, cert.stderr).toBe(0);
    expect(cert.stdout).toMatch(/^drive:\s+NOJOB1$/m);
    expect(cert.stdout).toMatch(/^method:\s+NIST 800-88 purge, shredded$/m);
    expect(cert.stdout).toMatch(/held\s+/);
    expect(cert.stdout).toMatch(/destroyed\s+/);
    const custody = json(await ops(['custody', 'NOJOB1', '--json']));
    expect(custody.certificates).toHaveLength(1);
    expect(custody.chainOfCustody.map((c: { kind: string }) => c.kind)).toEqual(['held', 'markedForDestruction', 'destroyed']);
    // The same drive cannot be destroyed twice; the returned one cannot be destroyed at all.
    expect((await ops(['destroy', '--held', String(h1), '--method', 'x', '--by', 'y'])).code).toBe(4);
    expect((await ops(['destroy', '--held', String(h2), '--method', 'x', '--by', 'y'])).code).toBe(4);
  });

  it('a late package: clock advance 14d alerts, extend-shipping waits longer, close-undelivered closes the job', async () => {
    const id = await shipped('latejob', ['LATE1'], 'LATE-TRK');
    const a = await clockCli(['advance', '14d']);
    expect(a.code, a.stderr).toBe(0);
    expect(a.stdout).toMatch(/^shippingAlerts:\s+1$/m);
    const missing = json(await ops(['tasks', 'list', '--kind', TaskKind.MissingPackage, '--json']));
    expect(missing.value.map((t: { jobId: number }) => t.jobId)).toContain(id);
    const ext = await ops(['extend-shipping', String(id), '--days', '5', '--note', 'customer says it is on its way']);
    expect(ext.code, ext.stderr).toBe(0);
    expect(ext.stdout).toMatch(/^waiting for the package of job latejob until \d{4}-/m);
    expect(json(await ops(['job', String(id), '--json'])).drives).toMatchObject([{ driveId: 'LATE1', state: DriveState.NeverReceived }]);
    const closed = await ops(['close-undelivered', String(id), '--note', 'customer cancelled']);
    expect(closed.code, closed.stderr).toBe(0);
    expect(closed.stdout).toMatch(/^job latejob is Closed$/m);
    const nothing = await clockCli(['advance', '1h']);
    expect(nothing.stdout).toMatch(/no timer was due/);
  });

  it('exit codes: 2 bad input, 3 not found, 4 conflict, 5 unauthorized, 6 unreachable; one line on stderr', async () => {
    await shipped('exitjob', ['EXIT1'], 'EXIT-TRK');
    const creating = (await call(s, 'PUT', withApi(jobPath('creatingjob')), { body: importBody(['CR1']) })).status;
    expect(creating).toBe(201);
    const creatingId = (await s.app.store.getJob({ subscriptionId: SUB, resourceGroup: RG, name: 'creatingjob' }))!.id;
    const results = await Promise.all([
      ops(['job', '999999']), // 3
      ops(['ship-back', String(creatingId), '--carrier', 'X', '--tracking', 'Y']), // 4
      ops(['jobs'], { SNEAKERNET_TOKEN: s.tokens.owner }), // 5: a customer token
      ops(['jobs'], { SNEAKERNET_TOKEN: 'snk_wrong' }), // 5
      ops(['fault', 'abc', '--reason', 'x']), // 2
      ops(['return-issue', String(creatingId), '--kind', 'stolen', '--note', 'x']), // 2 from the server
      clockCli(['advance', 'soon']), // 2
      clockCli(['advance', '1d'], { SNEAKERNET_TOKEN: s.tokens.operator }), // 5: admin only
      ops(['jobs'], { SNEAKERNET_ENDPOINT: 'http://127.0.0.1:1' }), // 6
    ]);
    expect(results.map((r) => r.code)).toEqual([3, 4, 5, 5, 2, 2, 2, 5, 6]);
    for (const r of results) {
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(/^sneakernet: /);
    }
    // A missing required flag is a usage error too (commander).
    expect((await ops(['fault', '1'])).code).toBe(2);
  });

  it('clock advance on a server with the system clock is refused with exit 4', async () => {
    const sys = await startServer('pglite');
    try {
      const r = await runCli(['clock', 'advance', '15d'], { SNEAKERNET_ENDPOINT: sys.url, SNEAKERNET_TOKEN: sys.admin });
      expect(r.code).toBe(4);
      expect(r.stderr).toMatch(/--clock manual/);
      const shown = await runCli(['clock', 'show', '--json'], { SNEAKERNET_ENDPOINT: sys.url, SNEAKERNET_TOKEN: sys.admin });
      expect(JSON.parse(shown.stdout).mode).toBe('system');
    } finally {
      await sys.close();
    }
  });
});
