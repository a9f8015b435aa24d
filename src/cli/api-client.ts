/**
 * The CLI's HTTP client for a sneakernet server: bearer token, optional extra CA (self-signed HTTPS), ARM error
 * bodies turned into one clear line and an exit code scripts can rely on.
 */
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { CliExit, ExitCode } from './output.ts';

export interface ClientOptions {
  endpoint?: string;
  token?: string;
  ca?: string;
}

export interface ApiResponse<T = any> {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: T;
}

export const DEFAULT_ENDPOINT = 'http://localhost:7480';

export function exitCodeForStatus(status: number): number {
  if (status === 400 || status === 413 || status === 415) return ExitCode.Usage;
  if (status === 401 || status === 403) return ExitCode.Unauthorized;
  if (status === 404) return ExitCode.NotFound;
  if (status === 409 || status === 412) return ExitCode.Conflict;
  return status >= 500 ? ExitCode.Unavailable : ExitCode.Failure;
}

export class ApiClient {
  readonly endpoint: URL;
  private readonly token?: string;
  private readonly ca?: Buffer;

  constructor(opts: ClientOptions) {
    const raw = opts.endpoint ?? process.env.SNEAKERNET_ENDPOINT ?? DEFAULT_ENDPOINT;
    try {
      this.endpoint = new URL(raw);
    } catch {
      throw new CliExit(ExitCode.Usage, `--endpoint must be a URL such as https://host:7480, not '${raw}'.`);
    }
    if (!/^https?:$/.test(this.endpoint.protocol)) throw new CliExit(ExitCode.Usage, `--endpoint must use http or https, not '${this.endpoint.protocol}'.`);
    this.token = opts.token ?? process.env.SNEAKERNET_TOKEN;
    const caFile = opts.ca ?? process.env.SNEAKERNET_CA;
    if (caFile) {
      try {
        this.ca = fs.readFileSync(caFile);
      } catch (e) {
        throw new CliExit(ExitCode.Usage, `cannot read --ca ${caFile}: ${(e as Error).message}`);
      }
    }
    if (!this.token) throw new CliExit(ExitCode.Unauthorized, 'a token is needed: --token or SNEAKERNET_TOKEN.');
  }

  url(path: string): URL {
    return new URL(path, this.endpoint);
  }

  /** Sends a request; the raw response stream is returned when `stream` is set (SSE). */
  private send(method: string, path: string, opts: { body?: unknown; headers?: Record<string, string> } = {}): Promise<http.IncomingMessage> {
    const url = this.url(path);
    const payload = opts.body === undefined ? undefined : JSON.stringify(opts.body);
    const headers: Record<string, string> = { accept: 'application/json', authorization: `Bearer ${this.token}`, ...(opts.headers ?? {}) };
    if (payload !== undefined) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = String(Buffer.byteLength(payload));
    }
    const lib = url.protocol === 'https:' ? https : http;
    return new Promise((resolve, reject) => {
      const req = lib.request(url, { method, headers, ...(this.ca ? { ca: this.ca } : {}) }, resolve);
      req.on('error', (e) => reject(new CliExit(ExitCode.Unavailable, `cannot reach ${this.endpoint.origin}: ${e.message}`)));
      if (payload !== undefined) req.write(payload);
      req.end();
    });
  }

  async request<T = any>(method: string, path: string, opts: { body?: unknown; headers?: Record<string, string> } = {}): Promise<ApiResponse<T>> {
    const res = await this.send(method, path, opts);
    const chunks: Buffer[] = [];
    for await (const c of res) chunks.push(c as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    let body: any = undefined;
    if (text) {
      try {
        body = JSON.parse(text);
      } catch {
        body = text;
      }
    }
    const status = res.statusCode ?? 0;
    if (status >= 400) {
      const err = body?.error;
      const message = err?.message ? `${err.message}${err.code ? ` (${err.code}${err.target ? `, ${err.target}` : ''})` : ''}` : `HTTP ${status}`;
      throw new CliExit(exitCodeForStatus(status), message);
    }
    return { status, headers: res.headers, body };
  }

  /** Opens a text/event-stream and calls `onEvent` for each message; resolves when the stream ends. */
  async stream(path: string, headers: Record<string, string>, onEvent: (e: { id?: string; data: string }) => boolean | void): Promise<'ended' | 'stopped'> {
    const res = await this.send('GET', path, { headers: { accept: 'text/event-stream', ...headers } });
    if ((res.statusCode ?? 0) >= 400) {
      const chunks: Buffer[] = [];
      for await (const c of res) chunks.push(c as Buffer);
      let message = `HTTP ${res.statusCode}`;
      try {
        message = JSON.parse(Buffer.concat(chunks).toString('utf8')).error.message;
      } catch {
        /* keep the status */
      }
      throw new CliExit(exitCodeForStatus(res.statusCode ?? 0), message);
    }
    res.setEncoding('utf8');
    let buf = '';
    for await (const chunk of res) {
      buf += chunk as string;
      let i: number;
      while ((i = buf.search(/\r?\n\r?\n/)) >= 0) {
        const block = buf.slice(0, i);
        buf = buf.slice(i).replace(/^\r?\n\r?\n/, '');
        let id: string | undefined;
        const data: string[] = [];
        for (const line of block.split(/\r?\n/)) {
          if (line.startsWith('id:')) id = line.slice(3).trim();
          else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
        }
        if (data.length > 0 && onEvent({ id, data: data.join('\n') }) === false) {
          res.destroy();
          return 'stopped';
        }
      }
    }
    return 'ended';
  }
}
