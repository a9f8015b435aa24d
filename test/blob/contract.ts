// One behavioural contract, run against every BlobBackend implementation.
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import type { BlobBackend } from '../../src/blob/backend.ts';
import { BlobError } from '../../src/blob/errors.ts';

export async function readAll(r: AsyncIterable<unknown>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of r) parts.push(Buffer.from(c as Uint8Array));
  return Buffer.concat(parts);
}

const md5 = (b: Buffer) => createHash('md5').update(b).digest('base64');

/** A source that yields `data` in awkward chunk sizes, then optionally fails. */
function chunked(data: Buffer, chunk = 70_001, failAfter?: number): Readable {
  return Readable.from((async function* () {
    for (let i = 0; i < data.length; i += chunk) {
      if (failAfter !== undefined && i >= failAfter) throw new Error('source broke');
      yield data.subarray(i, i + chunk);
    }
  })());
}

export function runBlobContract(label: string, getBackend: () => BlobBackend): void {
  describe(`BlobBackend contract: ${label}`, () => {
    let n = 0;
    const fresh = async () => {
      const c = `c${Date.now().toString(36)}${(n++).toString(36)}`;
      await getBackend().ensureContainer(c);
      return c;
    };

    it('puts a multi-block stream and reads it back with md5, size, metadata and properties', async () => {
      const b = getBackend();
      const c = await fresh();
      const data = randomBytes(9 * 1024 * 1024 + 123);
      const res = await b.putStream(c, 'dir/sub/file.bin', chunked(data), {
        contentMd5: md5(data),
        metadata: { origin: 'test', datasetname: 'x' },
        properties: { contentType: 'application/x-test', cacheControl: 'no-cache', contentLanguage: 'en' },
      });
      expect(res).toEqual({ md5: md5(data), size: data.length });
      const back = await readAll(await b.getStream(c, 'dir/sub/file.bin'));
      expect(back.equals(data)).toBe(true);
      const props = await b.getProperties(c, 'dir/sub/file.bin');
      expect(props).toMatchObject({
        size: data.length,
        md5: md5(data),
        metadata: { origin: 'test', datasetname: 'x' },
        properties: { contentType: 'application/x-test', cacheControl: 'no-cache', contentLanguage: 'en' },
        blobType: 'BlockBlob',
      });
      expect(props!.lastModified).toBeInstanceOf(Date);
    });

    it('reads ranges', async () => {
      const b = getBackend();
      const c = await fresh();
      const data = randomBytes(10_000);
      await b.putStream(c, 'r', chunked(data, 999));
      expect((await readAll(await b.getStream(c, 'r', { offset: 100, length: 50 }))).equals(data.subarray(100, 150))).toBe(true);
      expect((await readAll(await b.getStream(c, 'r', { offset: 9_990 }))).equals(data.subarray(9_990))).toBe(true);
      expect((await readAll(await b.getStream(c, 'r', { offset: 5, length: 0 }))).length).toBe(0);
    });

    it('stores empty blobs', async () => {
      const b = getBackend();
      const c = await fresh();
      const res = await b.putStream(c, 'empty', Readable.from([]));
      expect(res).toEqual({ md5: md5(Buffer.alloc(0)), size: 0 });
      expect(await b.exists(c, 'empty')).toBe(true);
      expect((await readAll(await b.getStream(c, 'empty'))).length).toBe(0);
    });

    it('refuses an MD5 mismatch and leaves the previous blob intact', async () => {
      const b = getBackend();
      const c = await fresh();
      const old = Buffer.from('old content');
      await b.putStream(c, 'keep', chunked(old));
      const bad = randomBytes(5 * 1024 * 1024);
      await expect(b.putStream(c, 'keep', chunked(bad), { contentMd5: md5(Buffer.from('nope')) }))
        .rejects.toMatchObject({ code: 'Md5Mismatch' });
      expect((await readAll(await b.getStream(c, 'keep'))).equals(old)).toBe(true);
      await expect(b.putStream(c, 'never', chunked(bad), { contentMd5: md5(Buffer.from('nope')) })).rejects.toBeInstanceOf(BlobError);
      expect(await b.exists(c, 'never')).toBe(false);
    });

    it('never shows a half-written blob when the source fails mid-stream', async () => {
      const b = getBackend();
      const c = await fresh();
      const data = randomBytes(6 * 1024 * 1024);
      await expect(b.putStream(c, 'broken', chunked(data, 1024 * 1024, 3 * 1024 * 1024))).rejects.toThrow('source broke');
      expect(await b.exists(c, 'broken')).toBe(false);
      expect(await b.getProperties(c, 'broken')).toBeNull();
      const names: string[] = [];
      for await (const it of b.list(c)) names.push(it.name);
      expect(names).toEqual([]);
    });

    it('lists by prefix with sizes and md5', async () => {
      const b = getBackend();
      const c = await fresh();
      for (const name of ['a/1.txt', 'a/2.txt', 'a/b/3.txt', 'ab.txt', 'z.txt']) {
        await b.putStream(c, name, Readable.from([Buffer.from(name)]));
      }
      const all: string[] = [];
      for await (const it of b.list(c)) all.push(it.name);
      expect(all.sort()).toEqual(['a/1.txt', 'a/2.txt', 'a/b/3.txt', 'ab.txt', 'z.txt']);
      const under: { name: string; size: number; md5?: string }[] = [];
      for await (const it of b.list(c, 'a/')) under.push({ name: it.name, size: it.size, md5: it.md5 });
      expect(under.sort((x, y) => x.name.localeCompare(y.name))).toEqual([
        { name: 'a/1.txt', size: 7, md5: md5(Buffer.from('a/1.txt')) },
        { name: 'a/2.txt', size: 7, md5: md5(Buffer.from('a/2.txt')) },
        { name: 'a/b/3.txt', size: 9, md5: md5(Buffer.from('a/b/3.txt')) },
      ]);
      const partial: string[] = [];
      for await (const it of b.list(c, 'a')) partial.push(it.name);
      expect(partial.sort()).toEqual(['a/1.txt', 'a/2.txt', 'a/b/3.txt', 'ab.txt']);
      const none: string[] = [];
      for await (const it of b.list(c, 'nothing/')) none.push(it.name);
      expect(none).toEqual([]);
    });

    it('reports absent blobs and deletes', async () => {
      const b = getBackend();
      const c = await fresh();
      expect(await b.getProperties(c, 'missing')).toBeNull();
      expect(await b.exists(c, 'missing')).toBe(false);
      await expect(b.getStream(c, 'missing')).rejects.toMatchObject({ code: 'BlobNotFound' });
      expect(await b.delete(c, 'missing')).toBe(false);
      await b.putStream(c, 'x/y', Readable.from([Buffer.from('y')]));
      expect(await b.delete(c, 'x/y')).toBe(true);
      expect(await b.exists(c, 'x/y')).toBe(false);
      // A name that used to be a virtual directory is usable as a blob again.
      await b.putStream(c, 'x', Readable.from([Buffer.from('x')]));
      expect(await b.exists(c, 'x')).toBe(true);
    });

    it('stages blocks, lists them as uncommitted, resumes and commits', async () => {
      const b = getBackend();
      const c = await fresh();
      const blocks = [randomBytes(1000), randomBytes(2000), randomBytes(5)];
      const ids = ['AAAAAA==', 'AQAAAA==', 'AgAAAA=='];
      const r0 = await b.stageBlock(c, 'blocky', ids[0], Readable.from([blocks[0]]));
      expect(r0).toEqual({ md5: md5(blocks[0]), size: 1000 });
      await b.stageBlock(c, 'blocky', ids[1], chunked(blocks[1], 300));
      expect(await b.exists(c, 'blocky')).toBe(false);
      const staged = await b.listUncommittedBlocks(c, 'blocky');
      expect(staged.map((s) => [s.id, s.size]).sort()).toEqual([[ids[0], 1000], [ids[1], 2000]]);
      // "resume": stage only what is missing
      const have = new Set(staged.map((s) => s.id));
      for (const [i, id] of ids.entries()) if (!have.has(id)) await b.stageBlock(c, 'blocky', id, Readable.from([blocks[i]]));
      const all = Buffer.concat(blocks);
      await expect(b.commitBlocks(c, 'blocky', [...ids, 'AwAAAA=='])).rejects.toMatchObject({ code: 'BlockNotFound' });
      const res = await b.commitBlocks(c, 'blocky', ids, { metadata: { k: 'v' }, properties: { contentType: 'text/plain' }, contentMd5: md5(all) });
      expect(res.size).toBe(all.length);
      expect(res.md5).toBe(md5(all));
      expect((await readAll(await b.getStream(c, 'blocky'))).equals(all)).toBe(true);
      expect(await b.getProperties(c, 'blocky')).toMatchObject({ size: all.length, md5: md5(all), metadata: { k: 'v' }, properties: { contentType: 'text/plain' } });
      expect(await b.listUncommittedBlocks(c, 'blocky')).toEqual([]);
    });

    it('rejects invalid block ids and container names', async () => {
      const b = getBackend();
      const c = await fresh();
      await expect(b.stageBlock(c, 'x', 'not base64!', Readable.from([Buffer.from('a')]))).rejects.toMatchObject({ code: 'BlockIdInvalid' });
      await expect(b.ensureContainer('Bad_Name')).rejects.toMatchObject({ code: 'ContainerNameInvalid' });
      await expect(b.ensureContainer('../up')).rejects.toMatchObject({ code: 'ContainerNameInvalid' });
    });

    it('writes page blobs whose length is a multiple of 512, and refuses others', async () => {
      const b = getBackend();
      const c = await fresh();
      const data = randomBytes(512 * 9000);
      const res = await b.putStream(c, 'disk.vhd', chunked(data, 10_000), { blobType: 'PageBlob', metadata: { m: '1' } });
      expect(res).toEqual({ md5: md5(data), size: data.length });
      expect(await b.getProperties(c, 'disk.vhd')).toMatchObject({ blobType: 'PageBlob', size: data.length, metadata: { m: '1' } });
      expect((await readAll(await b.getStream(c, 'disk.vhd'))).equals(data)).toBe(true);
      await expect(b.putStream(c, 'odd.vhd', Readable.from([Buffer.alloc(513)]), { blobType: 'PageBlob' }))
        .rejects.toMatchObject({ code: 'PageBlobLengthInvalid' });
      expect(await b.exists(c, 'odd.vhd')).toBe(false);
    });

    it('gives a URL for logs', async () => {
      const b = getBackend();
      const c = await fresh();
      const url = b.urlFor(c, 'waies/job_drive_error.xml');
      expect(url).toMatch(/^(file|https?):\/\//);
      expect(url).toContain('waies/job_drive_error.xml');
    });
  });
}
