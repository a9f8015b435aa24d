/**
 * A real sneakernet API server for tests, listening on a random port (HTTP, or HTTPS with a self-signed
 * certificate made here with openssl), on PGlite or PostgreSQL. Tokens for two subscriptions and every role.
 */
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import type { FastifyInstance } from 'fastify';
import { openApp, type App } from '../../src/app.ts';
import { configFromEnv } from '../../src/config.ts';
import { buildServer } from '../../src/api/server.ts';
import type { Clock } from '../../src/domain/clock.ts';
import type { Driver } from '../helpers/db.ts';

export const API = '2021-01-01';
export const SUB = 'sub-a';
export const OTHER_SUB = 'sub-b';
export const RG = 'rg1';

export interface TestCert {
  dir: string;
  certFile: string;
  keyFile: string;
  cert: string;
}

/** A throwaway self-signed certificate for 127.0.0.1/localhost. */
export function makeCert(): TestCert {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'snk-tls-'));
  const certFile = path.join(dir, 'cert.pem');
  const keyFile = path.join(dir, 'key.pem');
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', keyFile, '-out', certFile, '-days', '2',
    '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost',
  ], { stdio: 'ignore' });
  return { dir, certFile, keyFile, cert: fs.readFileSync(certFile, 'utf8') };
}

export interface TestServer {
  app: App;
  server: FastifyInstance;
  url: string;
  admin: string;
  tokens: { owner: string; reader: string; operator: string; otherOwner: string };
  close(): Promise<void>;
}

export interface StartOptions {
  https?: TestCert;
  clock?: Clock;
  locationsFile?: string;
  publicUrl?: string;
}

export async function startServer(driver: Driver, opts: StartOptions = {}): Promise<TestServer> {
  const admin = `admin-${crypto.randomBytes(8).toString('hex')}`;
  const config = configFromEnv({
    port: 0, host: '127.0.0.1', dataDir: 'memory://', bootstrapToken: admin,
    tlsCert: opts.https?.certFile, tlsKey: opts.https?.keyFile, locationsFile: opts.locationsFile, publicUrl: opts.publicUrl,
  });
  config.databaseUrl = driver === 'postgres' ? process.env.DATABASE_URL : undefined;
  config.locationsFile = opts.locationsFile;
  config.publicUrl = opts.publicUrl;
  const schema = driver === 'postgres' ? `t_${crypto.randomBytes(6).toString('hex')}` : undefined;
  const app = await openApp(config, { clock: opts.clock, schema });
  const server = await buildServer(app);
  const address = await server.listen({ port: 0, host: '127.0.0.1' });
  const mk = async (sub: string | null, role: 'owner' | 'reader' | 'operator') => (await app.tokens.create(sub, role)).token;
  const tokens = {
    owner: await mk(SUB, 'owner'),
    reader: await mk(SUB, 'reader'),
    operator: await mk(SUB, 'operator'),
    otherOwner: await mk(OTHER_SUB, 'owner'),
  };
  return {
    app, server, url: address, admin, tokens,
    async close() {
      await server.close();
      await app.close();
      if (schema) {
        const c = new pg.Client({ connectionString: process.env.DATABASE_URL });
        await c.connect();
        await c.query(`drop schema if exists ${schema} cascade`);
        await c.end();
      }
    },
  };
}

export const jobPath = (name: string, rg = RG, sub = SUB) =>
  `/subscriptions/${sub}/resourceGroups/${rg}/providers/Microsoft.ImportExport/jobs/${name}`;
export const withApi = (p: string, v = API) => `${p}${p.includes('?') ? '&' : '?'}api-version=${v}`;

export const BITLOCKER = '238810-662376-448998-450120-652806-203390-606320-483076';
export const RETURN_ADDRESS = {
  recipientName: 'Test', streetAddress1: 'Street1', streetAddress2: 'street2', city: 'Redmond', stateOrProvince: 'wa',
  postalCode: '98007', countryOrRegion: 'USA', phone: '4250000000', email: 'Test@contoso.com',
};
export const DELIVERY = { carrierName: 'FedEx', trackingNumber: '787895108176', driveCount: 1, shipDate: '9/29/2017 10:28:35 PM' };
export const STORAGE = `/subscriptions/${SUB}/resourceGroups/${RG}/providers/Microsoft.Storage/storageAccounts/acct1`;

export function importBody(drives: string[] = ['9CA995BB'], extra: Record<string, unknown> = {}) {
  return {
    location: 'westus',
    tags: { team: 'a' },
    properties: {
      storageAccountId: STORAGE,
      jobType: 'Import',
      returnShipping: { carrierName: 'FedEx', carrierAccountNumber: '989ffff' },
      diagnosticsPath: 'waimportexport',
      logLevel: 'Verbose',
      backupDriveManifest: true,
      driveList: drives.map((driveId) => ({
        driveId, bitLockerKey: BITLOCKER, manifestFile: '\\DriveManifest.xml', manifestHash: '109B21108597EF36D5785F08303F3638', driveHeaderHash: '',
      })),
      ...extra,
    },
  };
}

export function exportBody() {
  return {
    location: 'West US',
    properties: {
      storageAccountId: STORAGE, jobType: 'Export', returnAddress: RETURN_ADDRESS,
      returnShipping: { carrierName: 'FedEx', carrierAccountNumber: '989ffff' },
      export: { blobList: { blobPathPrefix: ['/'] } },
    },
  };
}

export interface Res {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: any;
  text: string;
}

/** fastify.inject with a bearer token; parses JSON bodies. */
export async function call(s: TestServer, method: string, url: string, opts: { token?: string | null; body?: unknown; headers?: Record<string, string>; raw?: string } = {}): Promise<Res> {
  const token = opts.token === undefined ? s.tokens.owner : opts.token;
  const headers: Record<string, string> = { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(opts.headers ?? {}) };
  let payload: string | undefined;
  if (opts.raw !== undefined) payload = opts.raw;
  else if (opts.body !== undefined) {
    payload = JSON.stringify(opts.body);
    headers['content-type'] ??= 'application/json';
  }
  const r = await s.server.inject({ method: method as 'GET', url, headers, payload });
  let body: unknown;
  try {
    body = r.body ? JSON.parse(r.body) : undefined;
  } catch {
    body = undefined;
  }
  return { status: r.statusCode, headers: r.headers as Res['headers'], body, text: r.body };
}
