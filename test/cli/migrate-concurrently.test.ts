/** Several processes starting at once on one PostgreSQL apply migrations without error (advisory lock). */
import crypto from 'node:crypto';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.ts';

const url = process.env.DATABASE_URL;

describe.runIf(url)('migrations on PostgreSQL', () => {
  it('run concurrently from 4 processes without error', async () => {
    const name = `mig_${crypto.randomBytes(5).toString('hex')}`;
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    await admin.query(`create database ${name}`);
    try {
      const target = new URL(url!);
      target.pathname = `/${name}`;
      const results = await Promise.all(Array.from({ length: 4 }, () => runCli(['migrate'], { DATABASE_URL: target.toString() })));
      for (const r of results) {
        expect(r.stderr).toBe('');
        expect(r.code).toBe(0);
        expect(r.stdout).toMatch(/migrations are current/);
      }
      const c = new pg.Client({ connectionString: target.toString() });
      await c.connect();
      const { rows } = await c.query('select count(*)::int as n from kysely_migration');
      await c.end();
      expect(rows[0].n).toBeGreaterThan(0);
    } finally {
      await admin.query(`drop database if exists ${name} with (force)`);
      await admin.end();
    }
  });
});
