// Minimal streaming XML output: escape, write, respect backpressure. Writing
// to a path goes to "<path>.partial" and is renamed on close, so a reader
// never sees a half-written manifest or log under its final name.
import { createWriteStream } from 'node:fs';
import * as fsp from 'node:fs/promises';
import type { Writable } from 'node:stream';

export function escapeXml(s: string): string {
  // Characters XML 1.0 cannot carry at all are refused rather than silently dropped.
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/.test(s)) {
    throw new RangeError(`value contains characters XML cannot represent: ${JSON.stringify(s.slice(0, 80))}`);
  }
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c]!);
}

export function attrs(a: Record<string, string | number | undefined>): string {
  return Object.entries(a)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => ` ${k}="${escapeXml(String(v))}"`)
    .join('');
}

export function element(name: string, text: string | number, a: Record<string, string | number | undefined> = {}): string {
  return `<${name}${attrs(a)}>${escapeXml(String(text))}</${name}>`;
}

export class XmlOutput {
  private readonly stream: Writable;
  private readonly finalPath?: string;
  private readonly partialPath?: string;
  private error: Error | undefined;
  private closed = false;

  /** `target`: a file path (written atomically) or any Writable (ended on close). */
  constructor(target: string | Writable) {
    if (typeof target === 'string') {
      this.finalPath = target;
      this.partialPath = `${target}.partial`;
      this.stream = createWriteStream(this.partialPath);
    } else {
      this.stream = target;
    }
    this.stream.on('error', (err) => { this.error ??= err; });
  }

  async write(s: string): Promise<void> {
    if (this.error) throw this.error;
    if (this.closed) throw new Error('XML writer already closed');
    if (!this.stream.write(s)) {
      await new Promise<void>((resolve, reject) => {
        const done = (err?: Error) => {
          this.stream.off('drain', onDrain);
          this.stream.off('error', done);
          if (err) reject(err);
          else resolve();
        };
        const onDrain = () => done();
        this.stream.on('drain', onDrain);
        this.stream.on('error', done);
      });
    }
  }

  async close(): Promise<void> {
    if (this.error) throw this.error;
    this.closed = true;
    // For files wait for 'close' (descriptor released) before renaming; for other streams 'finish' is enough.
    const doneEvent = this.partialPath ? 'close' : 'finish';
    const finished = new Promise<void>((resolve, reject) => {
      this.stream.once(doneEvent, resolve);
      this.stream.once('error', reject);
    });
    this.stream.end();
    await finished;
    if (this.error) throw this.error;
    if (this.partialPath && this.finalPath) await fsp.rename(this.partialPath, this.finalPath);
  }

  /** Abandon the output (removes the partial file). */
  async abort(): Promise<void> {
    this.closed = true;
    this.stream.destroy();
    if (this.partialPath) await fsp.rm(this.partialPath, { force: true });
  }
}
