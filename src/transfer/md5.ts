// MD5 helpers. The manifest and log carry Base16 MD5s (per block/range and
// for metadata/properties files); blob Content-MD5 is Base64. Both come out
// of one pass over the bytes.
import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { Transform, type TransformCallback } from 'node:stream';

/**
 * Block size used when preparing drives: the manifest allows blocks and page
 * ranges of at most 4 MB (reference §3.10), and 4 MiB is a multiple of 512 as
 * page ranges require. 50,000 blocks × 4 MiB ≈ 195 GiB covers the 200 GB limit
 * of a block blob only just — larger files need bigger blocks (see blockSizeFor).
 */
export const MANIFEST_BLOCK_SIZE = 4 * 1024 * 1024;
/** Most blocks a manifest BlockList may hold. */
export const MAX_BLOCKS_PER_BLOB = 50_000;

/** Block size that keeps a file within MAX_BLOCKS_PER_BLOB (multiples of 4 MiB; only > 4 MiB past ~195 GiB). */
export function blockSizeFor(fileSize: number, base = MANIFEST_BLOCK_SIZE): number {
  let size = base;
  while (Math.ceil(fileSize / size) > MAX_BLOCKS_PER_BLOB) size += base;
  return size;
}

export function base64ToBase16(b64: string): string {
  return Buffer.from(b64, 'base64').toString('hex').toUpperCase();
}

export function base16ToBase64(hex: string): string {
  return Buffer.from(hex.trim(), 'hex').toString('base64');
}

/** Compare two Base16 MD5s; tolerant of case and of the leading space seen in documented samples. */
export function sameBase16(a: string | undefined, b: string | undefined): boolean {
  return a !== undefined && b !== undefined && a.trim().toUpperCase() === b.trim().toUpperCase();
}

export interface BlockHash {
  offset: number;
  length: number;
  /** Base16, upper case. */
  md5: string;
}

export interface FileHashes {
  size: number;
  md5Base16: string;
  md5Base64: string;
  blocks: BlockHash[];
}

/**
 * Collects whole-content and per-block MD5s as data flows past. Feed it with
 * update() or use it as a pass-through Transform (createMd5Tap).
 */
export class Md5Tracker {
  private readonly whole: Hash = createHash('md5');
  private block: Hash = createHash('md5');
  private blockFill = 0;
  private blockStart = 0;
  size = 0;
  readonly blocks: BlockHash[] = [];

  constructor(readonly blockSize: number = MANIFEST_BLOCK_SIZE, private readonly keepBlocks = true) {}

  update(chunk: Buffer): void {
    this.whole.update(chunk);
    this.size += chunk.length;
    if (!this.keepBlocks) return;
    let buf = chunk;
    while (buf.length > 0) {
      const take = Math.min(this.blockSize - this.blockFill, buf.length);
      this.block.update(buf.subarray(0, take));
      this.blockFill += take;
      buf = buf.subarray(take);
      if (this.blockFill === this.blockSize) this.closeBlock();
    }
  }

  private closeBlock(): void {
    this.blocks.push({ offset: this.blockStart, length: this.blockFill, md5: this.block.digest('hex').toUpperCase() });
    this.blockStart += this.blockFill;
    this.blockFill = 0;
    this.block = createHash('md5');
  }

  finish(): FileHashes {
    if (this.keepBlocks && this.blockFill > 0) this.closeBlock();
    const digest = this.whole.digest();
    return { size: this.size, md5Base16: digest.toString('hex').toUpperCase(), md5Base64: digest.toString('base64'), blocks: this.blocks };
  }
}

/** A pass-through stream that feeds an Md5Tracker. */
export function createMd5Tap(tracker: Md5Tracker): Transform {
  return new Transform({
    transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback) {
      tracker.update(chunk);
      cb(null, chunk);
    },
  });
}

/** Whole-file and per-block MD5 of a file, streamed. */
export async function hashFile(filePath: string, options: { blockSize?: number; blocks?: boolean } = {}): Promise<FileHashes> {
  const tracker = new Md5Tracker(options.blockSize ?? MANIFEST_BLOCK_SIZE, options.blocks ?? true);
  for await (const chunk of createReadStream(filePath, { highWaterMark: 1024 * 1024 })) tracker.update(chunk as Buffer);
  return tracker.finish();
}

/** Base16 (upper case) MD5 of a whole file, streamed. */
export async function md5FileBase16(filePath: string): Promise<string> {
  return (await hashFile(filePath, { blocks: false })).md5Base16;
}

/** Base16 MD5 of one byte range of a file, for verifying a single block or page range. */
export async function md5RangeBase16(filePath: string, offset: number, length: number): Promise<{ md5: string; bytesRead: number }> {
  const h = createHash('md5');
  let bytesRead = 0;
  if (length > 0) {
    for await (const chunk of createReadStream(filePath, { start: offset, end: offset + length - 1 })) {
      h.update(chunk as Buffer);
      bytesRead += (chunk as Buffer).length;
    }
  }
  return { md5: h.digest('hex').toUpperCase(), bytesRead };
}
