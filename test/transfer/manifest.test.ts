import { createHash } from 'node:crypto';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TransferError } from '../../src/transfer/errors.ts';
import { driveRelativeSegments, resolveInsideDrive, resolveWritableInsideDrive, toManifestFilePath } from '../../src/transfer/drive-paths.ts';
import { readManifestEntries, readManifestHeader, verifyManifestHash } from '../../src/transfer/manifest-reader.ts';
import { blockIdForIndex, type ManifestBlob } from '../../src/transfer/manifest-types.ts';
import { ManifestWriter } from '../../src/transfer/manifest-writer.ts';
import { collect, makeTempDir } from './tmp.ts';

const H = (s: string) => createHash('md5').update(s).digest('hex').toUpperCase();
let dir: string;
let cleanup: () => Promise<void>;
beforeAll(async () => ({ dir, cleanup } = await makeTempDir('manifest')));
afterAll(async () => cleanup());

const fromString = (s: string) => Readable.from([Buffer.from(s)]);
const wrapBlobs = (blobs: string, head = '<DriveId>D1</DriveId>') =>
  `<?xml version="1.0" encoding="UTF-8"?><DriveManifest Version="2014-11-01"><Drive>${head}<BlobList>${blobs}</BlobList></Drive></DriveManifest>`;
const blobXml = (inner: string) => `<Blob><BlobPath>c/b</BlobPath><FilePath>\\b</FilePath>${inner}</Blob>`;

describe('DriveManifest writer + streaming reader', () => {
  it('round-trips header, blob lists, blocks, page ranges and per-blob files', async () => {
    const file = path.join(dir, 'rt.xml');
    const blobs: ManifestBlob[] = [
      {
        blobPath: 'pictures/bob/wild/desert.jpg', filePath: '\\pictures\\bob\\wild\\desert.jpg', length: 8000,
        importDisposition: 'rename', clientData: 'x & <y>',
        blocks: [{ offset: 0, length: 4096, id: blockIdForIndex(0), hash: H('a') }, { offset: 4096, length: 3904, id: blockIdForIndex(1), hash: H('b') }],
        propertiesPath: { path: '\\props\\desert.properties', hash: H('p') },
      },
      {
        blobPath: 'vhds/disk.vhd', filePath: '\\vhds\\disk.vhd', length: 7680, importDisposition: 'overwrite',
        pageRanges: [{ offset: 0, length: 3584, hash: H('0') }, { offset: 3584, length: 3584, hash: H('1') }, { offset: 7168, length: 512, hash: H('2') }],
      },
      { blobPath: 'c/empty', filePath: '\\c\\empty', length: 0, blocks: [] },
    ];
    const w = await ManifestWriter.open(file, { driveId: '9WM35C3U', storageAccountKey: 'key==' });
    await w.startBlobList({ id: 'session#1-0', metadataPath: { path: '\\meta\\global.xml', hash: H('m') } });
    await w.writeBlob(blobs[0]);
    await w.writeBlob(blobs[1]);
    await w.startBlobList();
    await w.writeBlob(blobs[2]);
    await w.close();
    await expect(fsp.access(`${file}.partial`)).rejects.toThrow();

    let header: unknown;
    const entries = await collect(readManifestEntries(file, { onHeader: (h) => { header = h; }, expectedDriveId: '9WM35C3U' }));
    expect(header).toEqual({ version: '2014-11-01', driveId: '9WM35C3U', storageAccountKey: 'key==' });
    expect(entries).toHaveLength(3);
    expect(entries[0]).toMatchObject({ ...blobs[0], blobListIndex: 0, relativePath: 'pictures/bob/wild/desert.jpg', effectiveMetadataPath: { path: '\\meta\\global.xml', hash: H('m') } });
    expect(entries[1]).toMatchObject({ ...blobs[1], blobListIndex: 0 });
    expect(entries[1].blocks).toBeUndefined();
    expect(entries[2]).toMatchObject({ blobListIndex: 1, length: 0, blocks: [] });
    expect(entries[2].effectiveMetadataPath).toBeUndefined();
    expect(await readManifestHeader(file)).toMatchObject({ driveId: '9WM35C3U' });
  });

  it('round-trips arbitrary text values (property)', async () => {
    const text = fc.string({ minLength: 1, maxLength: 40 }).filter((s) => !/[\u0000-\u001f\ufffe\uffff\ud800-\udfff]/.test(s) && s.trim() === s);
    await fc.assert(fc.asyncProperty(fc.array(fc.tuple(text, text), { minLength: 1, maxLength: 5 }), async (pairs) => {
      const chunks: string[] = [];
      const sink = new (await import('node:stream')).Writable({ write(c, _e, cb) { chunks.push(c.toString()); cb(); } });
      const w = await ManifestWriter.open(sink, { driveId: 'D' });
      for (const [b, cd] of pairs) await w.writeBlob({ blobPath: `c/${b}`, filePath: '\\f', length: 0, clientData: cd });
      await w.close();
      const back = await collect(readManifestEntries(fromString(chunks.join(''))));
      expect(back.map((e) => [e.blobPath.slice(2), e.clientData])).toEqual(pairs);
    }), { numRuns: 30 });
  });

  it('reads the documented sample shape, Windows paths and a leading-space hash', async () => {
    const xml = wrapBlobs(
      `<Blob><BlobPath>pictures/wild/canyon.jpg</BlobPath><FilePath>\\pictures\\wild\\canyon.jpg</FilePath><Length>10884</Length>` +
      `<BlockList><Block Offset="0" Length="2721" Id="AAAAAA==" Hash=" ${H('1')}"/><Block Offset="2721" Length="2721" Id="AQAAAA==" Hash="${H('2')}"/>` +
      `<Block Offset="5442" Length="2721" Id="AgAAAA==" Hash="${H('3')}"/><Block Offset="8163" Length="2721" Id="AwAAAA==" Hash="${H('4')}"/></BlockList>` +
      `<PropertiesPath Hash="${H('p')}">\\pictures\\wild\\canyon.jpg.properties</PropertiesPath></Blob>`, '<DriveId>9WM35C3U</DriveId>');
    const [e] = await collect(readManifestEntries(fromString('\ufeff' + xml)));
    expect(e.blocks!.map((b) => b.id)).toEqual(['AAAAAA==', 'AQAAAA==', 'AgAAAA==', 'AwAAAA==']);
    expect(e.blocks![0].hash).toBe(H('1'));
    expect(e.relativePath).toBe('pictures/wild/canyon.jpg');
  });

  it('streams a large manifest one entry at a time', async () => {
    const file = path.join(dir, 'big.xml');
    const w = await ManifestWriter.open(file, { driveId: 'BIG' });
    const N = 50_000;
    for (let i = 0; i < N; i++) await w.writeBlob({ blobPath: `c/f${i}`, filePath: `\\c\\f${i}`, length: 10, blocks: [{ offset: 0, length: 10, hash: H(String(i)) }] });
    await w.close();
    let count = 0;
    let maxHeapGrowth = 0;
    const before = process.memoryUsage().heapUsed;
    for await (const e of readManifestEntries(file)) {
      if (e.blobPath !== `c/f${count}`) throw new Error('out of order');
      count++;
      if (count % 5000 === 0) maxHeapGrowth = Math.max(maxHeapGrowth, process.memoryUsage().heapUsed - before);
    }
    expect(count).toBe(N);
    // The file is several MB; holding all entries would grow the heap far beyond this.
    expect(maxHeapGrowth).toBeLessThan(96 * 1024 * 1024);
  });

  const bad: [string, string, string][] = [
    ['not XML at all', 'hello, world', 'ManifestFormatInvalid'],
    ['empty', '', 'ManifestFormatInvalid'],
    ['truncated', wrapBlobs(blobXml('<Length>1</Length>')).slice(0, 120), 'ManifestFormatInvalid'],
    ['wrong root', '<DriveLog><DriveId>x</DriveId></DriveLog>', 'ManifestFormatInvalid'],
    ['DOCTYPE', '<!DOCTYPE x [<!ENTITY a "b">]><DriveManifest/>', 'ManifestFormatInvalid'],
    ['DriveId after BlobList', '<DriveManifest><Drive><BlobList/><DriveId>x</DriveId></Drive></DriveManifest>', 'ManifestFormatInvalid'],
    ['no DriveId', '<DriveManifest><Drive><BlobList/></Drive></DriveManifest>', 'ManifestFormatInvalid'],
    ['absurd length', wrapBlobs(blobXml('<Length>999999999999999</Length>')), 'ManifestFormatInvalid'],
    ['negative length', wrapBlobs(blobXml('<Length>-1</Length>')), 'ManifestFormatInvalid'],
    ['length not a number', wrapBlobs(blobXml('<Length>1e9</Length>')), 'ManifestFormatInvalid'],
    ['block gap', wrapBlobs(blobXml(`<Length>20</Length><BlockList><Block Offset="0" Length="5" Hash="${H('a')}"/><Block Offset="10" Length="10" Hash="${H('b')}"/></BlockList>`)), 'ManifestFormatInvalid'],
    ['block list short', wrapBlobs(blobXml(`<Length>20</Length><BlockList><Block Offset="0" Length="5" Hash="${H('a')}"/></BlockList>`)), 'ManifestFormatInvalid'],
    ['block too big', wrapBlobs(blobXml(`<Length>5000000</Length><BlockList><Block Offset="0" Length="5000000" Hash="${H('a')}"/></BlockList>`)), 'ManifestFormatInvalid'],
    ['bad hash', wrapBlobs(blobXml(`<Length>5</Length><BlockList><Block Offset="0" Length="5" Hash="xyz"/></BlockList>`)), 'ManifestFormatInvalid'],
    ['page not aligned', wrapBlobs(blobXml(`<Length>1024</Length><PageRangeList><PageRange Offset="1" Length="512" Hash="${H('a')}"/></PageRangeList>`)), 'ManifestFormatInvalid'],
    ['mixed ids', wrapBlobs(blobXml(`<Length>10</Length><BlockList><Block Offset="0" Length="5" Id="AAAAAA==" Hash="${H('a')}"/><Block Offset="5" Length="5" Hash="${H('b')}"/></BlockList>`)), 'ManifestFormatInvalid'],
    ['unknown disposition', wrapBlobs(blobXml('<Length>1</Length><ImportDisposition>clobber</ImportDisposition>')), 'ManifestFormatInvalid'],
    ['huge text', wrapBlobs(blobXml(`<Length>1</Length><ClientData>${'x'.repeat(70_000)}</ClientData>`)), 'ManifestFormatInvalid'],
    ['deep nesting', '<DriveManifest><Drive>' + '<a>'.repeat(40) + '</a>'.repeat(40) + '</Drive></DriveManifest>', 'ManifestFormatInvalid'],
    ['utf-16 declared', '<?xml version="1.0" encoding="UTF-16"?><DriveManifest/>', 'ManifestFormatInvalid'],
  ];
  for (const [label, xml, code] of bad) {
    it(`rejects ${label} with ${code}`, async () => {
      const err = await collect(readManifestEntries(fromString(xml))).then(() => null, (e) => e);
      expect(err).toBeInstanceOf(TransferError);
      expect(err.code).toBe(code);
    });
  }

  it('rejects invalid UTF-8 bytes', async () => {
    const bytes = Buffer.concat([Buffer.from('<DriveManifest><Drive><DriveId>'), Buffer.from([0xff, 0xfe, 0xfd]), Buffer.from('</DriveId></Drive></DriveManifest>')]);
    await expect(collect(readManifestEntries(Readable.from([bytes])))).rejects.toMatchObject({ code: 'ManifestFormatInvalid' });
    const file = path.join(dir, 'bad-utf8.xml');
    await fsp.writeFile(file, bytes);
    await expect(collect(readManifestEntries(file))).rejects.toMatchObject({ code: 'ManifestFormatInvalid' });
  });

  it('checks the manifest hash (ManifestCorrupted), the drive id and missing files', async () => {
    const file = path.join(dir, 'hash.xml');
    const xml = wrapBlobs(blobXml('<Length>0</Length>'));
    await fsp.writeFile(file, xml);
    const good = H(xml);
    await expect(verifyManifestHash(file, good.toLowerCase())).resolves.toBeUndefined();
    await expect(collect(readManifestEntries(file, { expectedHash: H('other') }))).rejects.toMatchObject({ code: 'ManifestCorrupted' });
    expect(await collect(readManifestEntries(file, { expectedHash: ` ${good}` }))).toHaveLength(1);
    await expect(collect(readManifestEntries(file, { expectedDriveId: 'D2' }))).rejects.toMatchObject({ code: 'ManifestDriveIdMismatch' });
    await expect(collect(readManifestEntries(path.join(dir, 'nope.xml')))).rejects.toMatchObject({ code: 'ManifestNotFound' });
  });

  it('flags unsafe FilePaths on their own entry without failing the others', async () => {
    const paths = ['/etc/passwd', 'C:\\Windows\\x', '\\\\server\\share\\x', '..\\..\\x', '\\a\\..\\..\\x', 'a/../b', '\\ok\\file.txt', 'a\\\\b', 'x'.repeat(300)];
    const xml = wrapBlobs(paths.map((p) => `<Blob><BlobPath>c/x</BlobPath><FilePath>${p.replace(/&/g, '&amp;')}</FilePath><Length>0</Length></Blob>`).join(''));
    const entries = await collect(readManifestEntries(fromString(xml)));
    expect(entries.map((e) => e.pathError?.code ?? e.relativePath)).toEqual([
      'FileNameInvalid', 'FileNameInvalid', 'FileNameInvalid', 'FileNameInvalid', 'FileNameInvalid', 'FileNameInvalid', 'ok/file.txt', 'FileNameInvalid', 'FileNameTooLong',
    ]);
  });
});

describe('drive paths', () => {
  it('normalises manifest paths', () => {
    expect(driveRelativeSegments('\\a\\b c\\d.txt')).toEqual(['a', 'b c', 'd.txt']);
    expect(driveRelativeSegments('a/b')).toEqual(['a', 'b']);
    expect(toManifestFilePath(['a', 'b'])).toBe('\\a\\b');
    expect(() => driveRelativeSegments('a\u0000b')).toThrow(TransferError);
  });

  it('resolveInsideDrive follows symlinks and refuses escapes', async () => {
    const drive = path.join(dir, 'drive');
    const outside = path.join(dir, 'outside');
    await fsp.mkdir(path.join(drive, 'sub'), { recursive: true });
    await fsp.mkdir(outside, { recursive: true });
    await fsp.writeFile(path.join(drive, 'sub', 'in.txt'), 'in');
    await fsp.writeFile(path.join(outside, 'secret.txt'), 'secret');
    await fsp.symlink(path.join(outside, 'secret.txt'), path.join(drive, 'link-out.txt'));
    await fsp.symlink(outside, path.join(drive, 'dir-out'));
    await fsp.symlink(path.join(drive, 'sub', 'in.txt'), path.join(drive, 'link-in.txt'));
    const real = await fsp.realpath(drive);
    expect(await resolveInsideDrive(drive, '\\sub\\in.txt')).toBe(path.join(real, 'sub', 'in.txt'));
    expect(await resolveInsideDrive(drive, 'link-in.txt')).toBe(path.join(real, 'sub', 'in.txt'));
    await expect(resolveInsideDrive(drive, 'link-out.txt')).rejects.toMatchObject({ code: 'FileAccessDenied' });
    await expect(resolveInsideDrive(drive, '\\dir-out\\secret.txt')).rejects.toMatchObject({ code: 'FileAccessDenied' });
    await expect(resolveInsideDrive(drive, '..\\outside\\secret.txt')).rejects.toMatchObject({ code: 'FileNameInvalid' });
    await expect(resolveInsideDrive(drive, '/etc/passwd')).rejects.toMatchObject({ code: 'FileNameInvalid' });
    await expect(resolveInsideDrive(drive, 'missing.txt')).rejects.toMatchObject({ code: 'FileNotFound' });
    await expect(resolveWritableInsideDrive(drive, '\\dir-out\\new.txt')).rejects.toMatchObject({ code: 'FileAccessDenied' });
    await expect(resolveWritableInsideDrive(drive, 'link-in.txt')).rejects.toMatchObject({ code: 'FileAccessDenied' });
    expect(await resolveWritableInsideDrive(drive, '\\new\\dir\\f.txt')).toBe(path.join(real, 'new', 'dir', 'f.txt'));
  });
});
