/** A real local HTTP receiver for webhook tests: records every request, verifies signatures, dedupes by event id. */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { verifySignature, SIGNATURE_HEADER, EVENT_ID_HEADER } from '../../src/notify/sign.ts';

export interface Received { eventId: string; body: any; raw: string; signatureValid: boolean; status: number }

export async function startReceiver(secretOf: () => string, respond: (r: { eventId: string; attempt: number }) => number | Promise<number> = () => 200) {
  const requests: Received[] = [];
  const applied = new Map<string, any>();
  const attempts = new Map<string, number>();
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', async () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      const eventId = String(req.headers[EVENT_ID_HEADER] ?? '');
      const attempt = (attempts.get(eventId) ?? 0) + 1;
      attempts.set(eventId, attempt);
      const status = await respond({ eventId, attempt });
      const signatureValid = verifySignature(secretOf(), req.headers[SIGNATURE_HEADER] as string | undefined, raw);
      requests.push({ eventId, body: JSON.parse(raw), raw, signatureValid, status });
      // Idempotent by event id: a repeated delivery changes nothing.
      if (status >= 200 && status < 300 && signatureValid && !applied.has(eventId)) applied.set(eventId, JSON.parse(raw));
      res.writeHead(status).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  return { url, requests, applied, close: () => new Promise<void>((r) => server.close(() => r())) };
}

export async function waitFor(cond: () => boolean | Promise<boolean>, ms = 20_000, what = 'condition'): Promise<void> {
  const until = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
