import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BlobNameInvalid } from '../../src/blob/errors.ts';
import { LocalFolderBackend } from '../../src/blob/local-folder.ts';
import { runBlobContract } from './contract.ts';

let root: string;
let backend: LocalFolderBackend;
beforeAll(async () => {
  root = await fsp.mkdtemp(path.join(os.tmpdir(), 'sn-local-blob-'));
  backend = new LocalFolderBackend(path.join(root, 'store'));
});
afterAll(async () => {
  await fsp.rm(root, { recursive: true, force: true });
});

runBlobContract('LocalFolderBackend', () => backend);

describe('LocalFolderBackend specifics', () => {
  const bad = ['../escape', 'a/../../b', '/etc/passwd', 'a\\..\\..\\b', 'a\u0000b', '', 'a//b', 'a/', './a', 'C:evil', 'x/./y'];
  for (const name of bad) {
    it(`refuses blob name ${JSON.stringify(name)}`, async () => {
      await backend.ensureContainer('names');
      await expect(backend.putStream('names', name, Readable.from([Buffer.from('x')]))).rejects.toBeInstanceOf(BlobNameInvalid);
      await expect(backend.getProperties('names', name)).rejects.toBeInstanceOf(BlobNameInvalid);
      await expect(backend.stageBlock('names', name, 'AAAAAA==', Readable.from([Buffer.from('x')]))).rejects.toBeInstanceOf(BlobNameInvalid);
    });
  }

  it('refuses to write through a symlink that leaves the container', async () => {
    await backend.ensureContainer('links');
    const outside = path.join(root, 'outside');
    await fsp.mkdir(outside, { recursive: true });
    await fsp.symlink(outside, path.join(backend.rootDir, 'links', 'sneaky'));
    await expect(backend.putStream('links', 'sneaky/file', Readable.from([Buffer.from('x')]))).rejects.toMatchObject({ code: 'BlobNameInvalid' });
    expect(await fsp.readdir(outside)).toEqual([]);
  });

  it('keeps containers as folders and leaves no temp files behind', async () => {
    await backend.ensureContainer('tidy');
    await backend.putStream('tidy', 'deep/er/file.txt', Readable.from([Buffer.from('hello')]));
    expect(await fsp.readFile(path.join(backend.rootDir, 'tidy', 'deep', 'er', 'file.txt'), 'utf8')).toBe('hello');
    expect(await fsp.readdir(path.join(backend.rootDir, '.sneakernet', 'tmp'))).toEqual([]);
    expect(backend.urlFor('tidy', 'deep/er/file.txt')).toBe(`file://${path.join(backend.rootDir, 'tidy', 'deep', 'er', 'file.txt')}`);
  });

  it('ignores a stale sidecar when the data file was replaced behind its back', async () => {
    await backend.ensureContainer('stale');
    await backend.putStream('stale', 'f', Readable.from([Buffer.from('one')]), { metadata: { a: '1' } });
    const p = path.join(backend.rootDir, 'stale', 'f');
    await fsp.rm(p);
    await fsp.writeFile(p, 'other!');
    const props = await backend.getProperties('stale', 'f');
    expect(props).toMatchObject({ size: 6, metadata: {} });
    expect(props!.md5).toBeUndefined();
  });

  it('reports ContainerNotFound for a missing container', async () => {
    await expect(backend.putStream('nosuch', 'f', Readable.from([Buffer.from('x')]))).rejects.toMatchObject({ code: 'ContainerNotFound' });
  });
});
