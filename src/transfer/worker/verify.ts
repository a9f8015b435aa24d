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
  /**
   * MD5 of the whole content, base64. Absent when the verifier was told not to hash the whole content and the
   * chunks are several (each byte was still checked against its chunk's MD5; the blob store hashes the whole).
   */
  md5Base64?: string;
}

/** The chunks cover [0, length) without gap or overlap: checking every chunk checks every byte. */
export function chunksTile(chunks: readonly ManifestChunk[], length: number): boolean {
  let pos = 0;
  for (const c of chunks) {
    if (c.offset !== pos) return false;
    pos += c.length;
  }
  return pos === length;
}

export class ChunkVerifier {
  private pos = 0;
  private idx = 0;
  private h: Hash | null = null;
  private readonly whole: Hash | null;
  /** One chunk that is the whole content: its MD5 is the content's (hashed once). */
  private readonly single: boolean;
  private singleDigest: Buffer | null = null;
  readonly statuses: ChunkStatusCode[];

  /**
   * `wholeMd5: false` skips the whole-content hash when the chunks tile the content (the blob store computes it
   * while writing); with a single chunk covering everything the chunk's MD5 is the whole MD5 either way.
   */
  constructor(private readonly chunks: readonly ManifestChunk[], private readonly length: number, opts: { wholeMd5?: boolean } = {}) {
    this.statuses = chunks.map(() => 'Failed');
    this.single = chunks.length === 1 && chunks[0].offset === 0 && chunks[0].length === length && length > 0;
    this.whole = this.single || (opts.wholeMd5 === false && chunksTile(chunks, length)) ? null : createHash('md5');
  }

  update(buf: Buffer): void {
    this.whole?.update(buf);
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
        const digest = this.h.digest();
        if (this.single) this.singleDigest = digest;
        this.statuses[this.idx] = sameBase16(digest.toString('hex'), c.hash) ? 'Completed' : 'Corrupted';
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
      md5Base64: this.whole ? this.whole.digest('base64') : this.singleDigest && !long ? this.singleDigest.toString('base64') : undefined,
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
