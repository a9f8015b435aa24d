import { createHash } from 'node:crypto';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  readMetadataFile, readPropertiesFile, toBlobHttpProperties, writeMetadataFile, writePropertiesFile,
} from '../../src/transfer/metadata-file.ts';
import { makeTempDir } from './tmp.ts';

let dir: string;
let cleanup: () => Promise<void>;
beforeAll(async () => ({ dir, cleanup } = await makeTempDir('metadata')));
afterAll(async () => cleanup());
const md5hex = (s: string | Buffer) => createHash('md5').update(s).digest('hex').toUpperCase();

describe('metadata and properties files', () => {
  it('round-trips metadata, verifying the hash', async () => {
    const file = path.join(dir, 'meta.xml');
    const meta = { UploadMethod: 'Windows Azure Import/Export service', DataSetName: 'SampleData & <more>', CreationDate: '10/1/2013' };
    await writeMetadataFile(file, meta);
    const hash = md5hex(await fsp.readFile(file));
    expect(await readMetadataFile(file, { expectedHash: hash })).toEqual(meta);
    await expect(readMetadataFile(file, { expectedHash: md5hex('x') })).rejects.toMatchObject({ code: 'Corrupted' });
  });

  it('round-trips properties and maps them to blob HTTP properties', async () => {
    const file = path.join(dir, 'props.xml');
    const props = { contentType: 'image/jpeg', contentMd5: 'Q2hlY2sgSW50ZWdyaXR5IQ==', contentEncoding: 'gzip', contentLanguage: 'en-US', cacheControl: 'no-cache', lastModified: 'Mon, 18 Sep 2012 23:47:08 GMT', etag: '0x8CF5F', contentLength: 42 };
    await writePropertiesFile(file, props);
    const back = await readPropertiesFile(file);
    expect(back).toEqual(props);
    expect(toBlobHttpProperties(back)).toEqual({ contentType: 'image/jpeg', contentEncoding: 'gzip', contentLanguage: 'en-US', cacheControl: 'no-cache' });
  });

  it('reports the documented status codes', async () => {
    await expect(readMetadataFile(path.join(dir, 'none.xml'))).rejects.toMatchObject({ code: 'FileNotFound' });
    const cases: [string, string][] = [
      ['not xml', 'XmlReadFailed'],
      ['<Properties/>', 'XmlReadFailed'],
      ['<Metadata><bad-name>x</bad-name></Metadata>', 'XmlReadFailed'],
      ['<Metadata><a>1</a><A>2</A></Metadata>', 'XmlReadFailed'],
      ['<Metadata><a><b>nested</b></a></Metadata>', 'XmlReadFailed'],
    ];
    for (const [xml, code] of cases) await expect(readMetadataFile(Readable.from([xml]))).rejects.toMatchObject({ code });
    await expect(readPropertiesFile(Readable.from(['<Properties><X-Custom>1</X-Custom></Properties>']))).rejects.toMatchObject({ code: 'XmlReadFailed' });
    await expect(readPropertiesFile(Readable.from(['<Properties><Content-MD5>nope</Content-MD5></Properties>']))).rejects.toMatchObject({ code: 'XmlReadFailed' });
    const big = path.join(dir, 'big.xml');
    await fsp.writeFile(big, `<Metadata><a>${'x'.repeat(70_000)}</a></Metadata>`);
    await expect(readMetadataFile(big)).rejects.toMatchObject({ code: 'XmlReadFailed' });
    await expect(writeMetadataFile(path.join(dir, 'w.xml'), { 'not-valid': 'x' })).rejects.toMatchObject({ code: 'XmlWriteFailed' });
  });
});
