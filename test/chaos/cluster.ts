/**
 * A cluster of real `sneakernet api` and `sneakernet worker` child processes on one fresh PostgreSQL database, for
 * the chaos, shutdown and log-correlation tests. Each process keeps its slot (an api keeps its port), so a killed
 * process can be restarted in place; every process's output is kept for inspection.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import net from 'node:net';
import pg from 'pg';
import { BIN, runCli } from '../helpers/cli.ts';

export type Role = 'api' | 'worker';

export interface Proc {
  role: Role;
  slot: number;
  port?: number;
  child: ChildProcess | null;
  /** Every line this slot's processes wrote (all incarnations), in order. */
  lines: string[];
  starts: number;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

/** A fresh database on the DATABASE_URL server (pg-boss schemas must not collide between suites). */
export async function freshDatabase(prefix: string): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `${prefix}_${crypto.randomBytes(5).toString('hex')}`;
  const admin = new pg.Client({ connectionString: process.env.DATABASE_URL });
  await admin.connect();
  await admin.query(`create database ${name}`);
  await admin.end();
  const target = new URL(process.env.DATABASE_URL!);
  target.pathname = `/${name}`;
  return {
    url: target.toString(),
    async drop() {
      const c = new pg.Client({ connectionString: process.env.DATABASE_URL });
      await c.connect();
      await c.query(`drop database if exists ${name} with (force)`);
      await c.end();
    },
  };
}

export class Cluster {
  readonly procs: Proc[] = [];
  constructor(readonly env: NodeJS.ProcessEnv) {}

  async add(role: Role, slot: number): Promise<Proc> {
    const p: Proc = { role, slot, child: null, lines: [], starts: 0, port: role === 'api' ? await freePort() : undefined };
    this.procs.push(p);
    return p;
  }

  get apis(): Proc[] {
    return this.procs.filter((p) => p.role === 'api');
  }

  url(p: Proc): string {
    return `http://127.0.0.1:${p.port}`;
  }

  /** Starts (or restarts) the slot's process; resolves once it says it is listening / running. */
  start(p: Proc, extraEnv: NodeJS.ProcessEnv = {}): Promise<void> {
    const args = p.role === 'api' ? ['api', '--port', String(p.port), '--host', '127.0.0.1'] : ['worker'];
    const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, ...this.env, ...extraEnv }, stdio: ['ignore', 'pipe', 'pipe'] });
    p.child = child;
    p.starts++;
    const t0 = Date.now();
    return new Promise((resolve, reject) => {
      let partial = '';
      let ready = false;
      const onData = (d: Buffer) => {
        partial += d.toString('utf8');
        const parts = partial.split('\n');
        partial = parts.pop()!;
        for (const line of parts) {
          p.lines.push(line);
          if (!ready && /listening on|worker running/.test(line)) {
            ready = true;
            if (process.env.CHAOS_DEBUG) console.log(`${p.role}#${p.slot} ready in ${Date.now() - t0} ms`);
            resolve();
          }
        }
      };
      child.stdout!.on('data', onData);
      child.stderr!.on('data', onData);
      child.once('exit', (code, sig) => {
        if (p.child === child) p.child = null;
        if (!ready) reject(new Error(`${p.role}#${p.slot} exited ${code ?? sig} before it was ready:\n${p.lines.slice(-20).join('\n')}`));
      });
    });
  }

  async kill(p: Proc, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const c = p.child;
    if (!c) return;
    const exited = new Promise<void>((r) => (c.exitCode !== null || c.signalCode !== null ? r() : c.once('exit', () => r())));
    c.kill(signal);
    await exited;
  }

  async stopAll(): Promise<void> {
    await Promise.all(this.procs.map((p) => this.kill(p, 'SIGTERM')));
  }
}

export async function cli(args: string[], env: NodeJS.ProcessEnv): Promise<string> {
  const r = await runCli(args, env, 120_000);
  if (r.code !== 0) throw new Error(`sneakernet ${args.join(' ')} failed (${r.code}): ${r.stderr}`);
  return r.stdout;
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
