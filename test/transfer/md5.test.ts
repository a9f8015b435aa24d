import { createHash, randomBytes } from 'node:crypto';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { base16ToBase64, base64ToBase16, hashFile, Md5Tracker, md5FileBase16, md5RangeBase16, sameBase16 } from '../../src/transfer/md5.ts';
import { makeTempDir } from './tmp.ts';

let dir: string;
let cleanup: () => Promise<void>;
beforeAll(async () => ({ dir, cleanup } = await makeTempDir('md5')));
afterAll(async () => cleanup());
const hex = (b: Buffer) => createHash('md5').update(b).digest('hex').toUpperCase();

describe('MD5 helpers', () => {
  it('hashes a file whole and per block', async () => {
    const data = randomBytes(4 * 1024 * 1024 * 2 + 77);
    const file = path.join(dir, 'f.bin');
    await fsp.writeFile(file, data);
    const h = await hashFile(file);
    expect(h.size).toBe(data.length);
    expect(h.md5Base16).toBe(hex(data));
    expect(h.md5Base64).toBe(createHash('md5').update(data).digest('base64'));
    expect(h.blocks.map((b) => [b.offset, b.length])).toEqual([[0, 4194304], [4194304, 4194304], [8388608, 77]]);
    expect(h.blocks[2].md5).toBe(hex(data.subarray(8388608)));
    expect(await md5FileBase16(file)).toBe(hex(data));
    expect(await md5RangeBase16(file, 10, 100)).toEqual({ md5: hex(data.subarray(10, 110)), bytesRead: 100 });
  });

  it('per-block hashes do not depend on chunking (property)', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 3000 }), fc.array(fc.integer({ min: 1, max: 700 }), { minLength: 1 }), (bytes, cuts) => {
      const data = Buffer.from(bytes);
      const t = new Md5Tracker(512);
      let i = 0;
      for (let k = 0; i < data.length; k++) {
        const n = cuts[k % cuts.length];
        t.update(data.subarray(i, i + n));
        i += n;
      }
      const r = t.finish();
      expect(r.md5Base16).toBe(hex(data));
      expect(r.blocks.length).toBe(Math.ceil(data.length / 512));
      r.blocks.forEach((b) => expect(b.md5).toBe(hex(data.subarray(b.offset, b.offset + b.length))));
    }));
  });

  it('converts between base16 and base64', () => {
    expect(base64ToBase16('Q2hlY2sgSW50ZWdyaXR5IQ==')).toBe('436865636B20496E7465677269747921');
    expect(base16ToBase64(' 436865636b20496e7465677269747921')).toBe('Q2hlY2sgSW50ZWdyaXR5IQ==');
    expect(sameBase16(' ab', 'AB')).toBe(true);
  });
});
