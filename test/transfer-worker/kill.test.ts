/**
 * The real `sneakernet worker` command (transfers plus the timer/notification background, as deployed) runs as a
 * child process and is SIGKILLed at random points, at least 10 times during one import; each
 * time a new one takes the drive over (lease expiry) and resumes from the checkpoints. In the end every blob is
 * MD5-equal to its file and the verbose log accounts for each blob exactly once.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import * as fsp from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { openApp } from '../../src/app.ts';
import { configFromEnv } from '../../src/config.ts';
import { DriveState, LogLevel } from '../../src/domain/states.ts';
import { LocalFolderBackend } from '../../src/blob/index.ts';
import { parseDriveLog } from '../../src/transfer/drive-log.ts';
import { drivers } from '../helpers/db.ts';
import { makeTempDir } from '../transfer/tmp.ts';
import { md5, prepare, randomBytes, receivedImportJob, registerLocal, streamToBuffer, writeTree } from './helpers.ts';
import { describe } from 'vitest';

import { BIN } from '../helpers/cli.ts';

for (const driver of drivers) {
  describe(`worker killed with SIGKILL [${driver}]`, () => {
    let tmp: { dir: string; cleanup: () => Promise<void> };
    let env: NodeJS.ProcessEnv;
    let schema: string | undefined;
    beforeAll(async () => {
      tmp = await makeTempDir('kill');
      const dataDir = path.join(tmp.dir, 'data');
      if (driver === 'postgres') {
        schema = `t_kill_${crypto.randomBytes(4).toString('hex')}`;
        const url = new URL(process.env.DATABASE_URL!);
        url.searchParams.set('options', `-c search_path=${schema}`);
        const c = new pg.Client({ connectionString: process.env.DATABASE_URL });
        await c.connect();
        await c.query(`create schema ${schema}`);
        await c.end();
        env = { DATABASE_URL: url.toString() };
      } else {
        env = { DATABASE_URL: '', SNEAKERNET_DATA_DIR: dataDir };
      }
      Object.assign(env, {
        SNEAKERNET_DRIVES_DIR: path.join(tmp.dir, 'drives'), SNEAKERNET_LEASE_MS: '1500', SNEAKERNET_WORKER_POLL_MS: '100',
        // Few blobs at a time with a pause after each: the copy lasts long enough for ten kills. On PostgreSQL a new
        // worker starts copying sooner (no embedded database to open), so it goes slower there; on PGlite the last
        // worker must finish within a fixed wait (below).
        // The pace is fixed by the throttle, not by the machine: a fast, idle CI machine must not finish first.
        SNEAKERNET_WORKER_THROTTLE_MS: '40', SNEAKERNET_BLOB_CONCURRENCY: '1',
        SNEAKERNET_LOG: 'silent', SNEAKERNET_DATA_DIR: dataDir,
      });
    });
    afterAll(async () => {
      await tmp.cleanup();
      if (schema) {
        const c = new pg.Client({ connectionString: process.env.DATABASE_URL });
        await c.connect();
        await c.query(`drop schema if exists ${schema} cascade`);
        await c.end();
      }
    });

    const withApp = async <T>(fn: (app: Awaited<ReturnType<typeof openApp>>) => Promise<T>): Promise<T> => {
      const saved = { ...process.env };
      Object.assign(process.env, env);
      try {
        const app = await openApp(configFromEnv({ dataDir: env.SNEAKERNET_DATA_DIR }));
        try { return await fn(app); } finally { await app.close(); }
      } finally {
        for (const k of Object.keys(env)) if (saved[k] === undefined) delete process.env[k]; else process.env[k] = saved[k];
      }
    };

    it('at least 10 kills during one import: blobs MD5-equal, logs account for each blob once', async () => {
      const src = path.join(tmp.dir, 'src');
      const files: Record<string, Buffer> = {};
      for (let i = 0; i < 240; i++) files[`small/f${String(i).padStart(3, '0')}.bin`] = randomBytes(2000 + i * 37, i);
      for (let i = 0; i < 6; i++) files[`big/b${i}.bin`] = randomBytes(6 * 1024 * 1024 + i, 1000 + i);
      await writeTree(src, files);
      const prep = await prepare(tmp.dir, 'KILLDRIVE1', [`${src}/,kill/`]);
      const blobs = path.join(tmp.dir, 'blobs');
      const jobId = await withApp(async (app) => {
        await registerLocal(app.store, blobs);
        return (await receivedImportJob(app.store, [{ driveId: 'KILLDRIVE1', manifestHash: prep.manifestHash }], { logLevel: LogLevel.Verbose })).id;
      });
      const state = () => withApp(async (app) => (await app.store.getDrives(jobId))[0]);

      const countBlobs = async () => {
        const list = await fsp.readdir(path.join(blobs, 'kill'), { recursive: true }).catch(() => [] as string[]);
        return list.length;
      };
      let kills = 0;
      const start = (): Promise<ChildProcess> => new Promise((resolve, reject) => {
        const child = spawn(process.execPath, [BIN, 'worker'], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
        let out = '';
        child.stdout!.on('data', (d) => { out += d; if (out.includes('worker running')) resolve(child); });
        child.stderr!.on('data', (d) => { out += d; if (process.env.KILL_DEBUG) process.stderr.write(d); });
        child.on('exit', (code, sig) => { if (!out.includes('worker running')) reject(new Error(`worker exited ${code ?? sig}: ${out}`)); });
      });
      const exited = (c: ChildProcess) => new Promise<void>((r) => (c.exitCode !== null || c.signalCode !== null ? r() : c.once('exit', () => r())));
      while (kills < 10) {
        const before = await countBlobs();
        const child = await start();
        // Wait until this worker has taken the drive over (the killed one's lease must expire first) and copied
        // something, then kill it at a random point.
        const until = Date.now() + 60_000;
        while ((await countBlobs()) <= before && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
        await new Promise((r) => setTimeout(r, Math.random() * 500));
        child.kill('SIGKILL');
        await exited(child);
        kills++;
        if (driver === 'pglite') await new Promise((r) => setTimeout(r, 100));
        const d = await state();
        expect(d.state, `the import finished after only ${kills} kills; make it longer`).toBe(DriveState.Transferring);
      }
      // Let a last worker finish.
      const last = await start();
      const deadline = Date.now() + 120_000;
      let d = await new Promise<Awaited<ReturnType<typeof state>>>((resolve, reject) => {
        const poll = setInterval(async () => {
          if (driver === 'pglite') return; // PGlite: one process at a time; read after the worker exits
          const s = await state().catch(() => null);
          if (s && s.state !== DriveState.Transferring) { clearInterval(poll); resolve(s); }
          if (Date.now() > deadline) { clearInterval(poll); reject(new Error('import did not finish')); }
        }, 300);
        if (driver === 'pglite') {
          // Without a second connection, wait for the copy's expected duration, then stop the worker and look.
          setTimeout(async () => {
            clearInterval(poll);
            last.kill('SIGTERM');
            await exited(last);
            resolve(await state());
          }, 45_000);
        }
      });
      if (driver === 'postgres') { last.kill('SIGTERM'); await exited(last); }
      expect(kills).toBeGreaterThanOrEqual(10);
      expect(d.state).toBe(DriveState.Completed);
      const backend = new LocalFolderBackend(blobs);
      for (const [rel, content] of Object.entries(files)) {
        expect(await md5(await streamToBuffer(await backend.getStream('kill', rel))), rel).toBe(await md5(content));
      }
      const log = await parseDriveLog(await backend.getStream('waimportexport', decodeURIComponent(d.verboseLogUri!.split('/waimportexport/')[1])));
      const paths = log.rows.map((r) => r.blobPath);
      expect(paths.length).toBe(Object.keys(files).length);
      expect(new Set(paths).size).toBe(paths.length);
      expect(log.rows.every((r) => r.status === 'Completed' && r.importDispositionStatus === 'Created')).toBe(true);
      d = await state();
      expect([d.objectsSucceeded, d.objectsFailed, d.objectsSkipped, d.objectsTotal]).toEqual([246, 0, 0, 246]);
    }, 300_000);
  });
}
