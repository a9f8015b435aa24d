// Helpers to consume a byte source chunk by chunk while hashing, so no backend
// ever needs the whole blob in memory.
import { createHash } from 'node:crypto';
import type { ByteSource } from './backend.ts';

export function toBuffer(chunk: unknown): Buffer {
  if (Buffer.isBuffer(chunk)) return chunk;
  if (chunk instanceof Uint8Array) return Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  if (typeof chunk === 'string') return Buffer.from(chunk);
  throw new TypeError('byte source yielded a non-binary chunk');
}

/**
 * Re-chunks a source into pieces of exactly `size` bytes (the last may be
 * shorter, and an empty source yields nothing). Memory stays near `size`.
 */
export async function* fixedChunks(source: ByteSource, size: number): AsyncGenerator<Buffer> {
  let parts: Buffer[] = [];
  let have = 0;
  for await (const raw of source as AsyncIterable<unknown>) {
    let buf = toBuffer(raw);
    while (buf.length > 0) {
      const take = Math.min(size - have, buf.length);
      parts.push(buf.subarray(0, take));
      have += take;
      buf = buf.subarray(take);
      if (have === size) {
        yield Buffer.concat(parts, have);
        parts = [];
        have = 0;
      }
    }
  }
  if (have > 0) yield Buffer.concat(parts, have);
}

/** Reads a source fully into memory, refusing more than `limit` bytes. Used only for single blocks. */
export async function readBounded(source: ByteSource, limit: number, onTooLarge: () => Error): Promise<Buffer> {
  const parts: Buffer[] = [];
  let have = 0;
  for await (const raw of source as AsyncIterable<unknown>) {
    const buf = toBuffer(raw);
    have += buf.length;
    if (have > limit) throw onTooLarge();
    parts.push(buf);
  }
  return Buffer.concat(parts, have);
}

export function md5Base64(data: Uint8Array): string {
  return createHash('md5').update(data).digest('base64');
}
