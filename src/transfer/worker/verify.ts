/**
 * Verifies file bytes against a manifest's blocks or page ranges while they stream past: each chunk's MD5 is
 * compared as soon as its last byte arrives, the whole content is hashed for the blob's Content-MD5, and a file
 * that ends early or runs long is noticed. Used as a pass-through in front of the blob upload; when anything is
 * wrong the stream fails at its end, so the upload never commits and nothing appears under the blob's name.
 */
import { createHash, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import type { ChunkStatusCode } from '../errors.ts';
import { TransferError } from '../errors.ts';
import type { ManifestChunk } from '../manifest-types.ts';
import { sameBase16 } from '../md5.ts';

const EMPTY_MD5 = createHash('md5').digest('hex');

export interface VerifyResult {
  statuses: ChunkStatusCode[];
  /** Every chunk matched, the file had exactly `length` bytes. */
  ok: boolean;
  /** The file ended before `length`. */
  short: boolean;
  /** The file had more than `length` bytes. */
  long: boolean;
  size: number;
  md5Base64: string;
}

export class ChunkVerifier {
  private pos = 0;
  private idx = 0;
  private h: Hash | null = null;
  private readonly whole = createHash('md5');
  readonly statuses: ChunkStatusCode[];

  constructor(private readonly chunks: readonly ManifestChunk[], private readonly length: number) {
    this.statuses = chunks.map(() => 'Failed');
  }

  update(buf: Buffer): void {
    this.whole.update(buf);
    let off = 0;
    while (this.idx < this.chunks.length) {
      const c = this.chunks[this.idx];
      if (c.length === 0) {
        this.statuses[this.idx++] = sameBase16(EMPTY_MD5, c.hash) ? 'Completed' : 'Corrupted';
        continue;
      }
      if (off >= buf.length) break;
      const abs = this.pos + off;
      if (abs < c.offset) {
        off += Math.min(c.offset - abs, buf.length - off);
        continue;
      }
      const end = c.offset + c.length;
      const take = Math.min(end - abs, buf.length - off);
      (this.h ??= createHash('md5')).update(buf.subarray(off, off + take));
      off += take;
      if (abs + take === end) {
        this.statuses[this.idx] = sameBase16(this.h.digest('hex'), c.hash) ? 'Completed' : 'Corrupted';
        this.h = null;
        this.idx++;
      }
    }
    this.pos += buf.length;
  }

  finish(): VerifyResult {
    for (let i = this.idx; i < this.chunks.length; i++) this.statuses[i] = 'FileUnexpectedEnd';
    const short = this.pos < this.length;
    const long = this.pos > this.length;
    return {
      statuses: this.statuses,
      ok: !short && !long && this.statuses.every((s) => s === 'Completed'),
      short, long, size: this.pos,
      md5Base64: this.whole.digest('base64'),
    };
  }

  /** A pass-through that fails at the end (so an upload behind it never commits) unless everything matched. */
  tap(onDone: (r: VerifyResult) => void, onBytes?: (n: number) => void): Transform {
    return new Transform({
      transform: (chunk: Buffer, _e: BufferEncoding, cb: TransformCallback) => {
        this.update(chunk);
        onBytes?.(chunk.length);
        cb(null, chunk);
      },
      flush: (cb: TransformCallback) => {
        const r = this.finish();
        onDone(r);
        if (r.ok) cb();
        else cb(new TransferError(r.short ? 'FileUnexpectedEnd' : 'Corrupted', r.short ? 'The file is shorter than the manifest says.' : 'The file content does not match the manifest.'));
      },
    });
  }
}
