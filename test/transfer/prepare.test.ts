import { createHash, randomBytes } from 'node:crypto';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { resolveInsideDrive } from '../../src/transfer/drive-paths.ts';
import { readManifestEntries } from '../../src/transfer/manifest-reader.ts';
import { hashFile, md5FileBase16 } from '../../src/transfer/md5.ts';
import { readMetadataFile } from '../../src/transfer/metadata-file.ts';
import { prepareDrive, type PrepareProgress } from '../../src/transfer/prepare.ts';
import { collect, makeTempDir } from './tmp.ts';

let dir: string;
let cleanup: () => Promise<void>;
let dataset: string;
const BLOCK = 1024;

async function write(rel: string, data: Buffer | string): Promise<string> {
  const p = path.join(dir, rel);
  await fsp.mkdir(path.dirname(p), { recursive: true });
  await fsp.writeFile(p, data);
  return p;
}

beforeEach(async () => {
  ({ dir, cleanup } = await makeTempDir('prepare'));
  await write('src/photos/a.jpg', randomBytes(3000));
  await write('src/photos/b.jpg', randomBytes(1024));
  await write('src/photos/empty.txt', '');
  await write('src/photos/2013/x.jpg', randomBytes(5000));
  await write('src/photos/2013/y z.jpg', randomBytes(10));
  await write('src/disk.vhd', randomBytes(512 * 5));
  await write('src/single.bin', randomBytes(777));
  const meta = await write('meta.xml', '<?xml version="1.0" encoding="UTF-8"?>\n<Metadata><DataSetName>photos</DataSetName></Metadata>\n');
  dataset = await write('dataset.csv',
    'BasePath,DstBlobPathOrPrefix,BlobType,Disposition,MetadataFile,PropertiesFile\n' +
    `"${path.join(dir, 'src/photos')}/","pictures/2013/",BlockBlob,rename,"${meta}",None\n` +
    `${path.join(dir, 'src/disk.vhd')},vhds/,,overwrite,None,None\n` +
    `${path.join(dir, 'src/single.bin')},files/renamed.bin,,no-overwrite,,\n`);
});
afterEach(async () => cleanup());

const md5hex = (b: Buffer) => createHash('md5').update(b).digest('hex').toUpperCase();

describe('prepareDrive', () => {
  it('copies the dataset, writes a verifiable manifest, journal and drive info', async () => {
    const drive = path.join(dir, 'driveA');
    const events: PrepareProgress[] = [];
    const res = await prepareDrive({ datasetCsv: dataset, driveFolder: drive, driveId: 'DRIVE01', journalFile: path.join(dir, 'a.jrn'), blockSize: BLOCK, onProgress: (p) => { events.push(p); } });
    expect(res).toMatchObject({ driveId: 'DRIVE01', manifestFile: '\\DriveManifest.xml', filesCopied: 7, filesSkipped: 0 });
    const manifestBytes = await fsp.readFile(path.join(drive, 'DriveManifest.xml'));
    expect(res.manifestHash).toBe(md5hex(manifestBytes));
    expect(res.driveHeaderHash).toBe(`0:${manifestBytes.length}:${createHash('sha512').update(manifestBytes).digest('hex').toUpperCase()}`);
    expect(events.map((e) => e.blobPath)).toEqual([
      'pictures/2013/2013/x.jpg', 'pictures/2013/2013/y z.jpg', 'pictures/2013/a.jpg', 'pictures/2013/b.jpg', 'pictures/2013/empty.txt',
      'vhds/disk.vhd', 'files/renamed.bin',
    ]);
    expect(await fsp.readFile(res.driveInfoFile, 'utf8')).toContain(`<ManifestHash>${res.manifestHash}</ManifestHash>`);

    let header: { driveId?: string } = {};
    const entries = await collect(readManifestEntries(path.join(drive, 'DriveManifest.xml'), { expectedHash: res.manifestHash, onHeader: (h) => { header = h; } }));
    expect(header.driveId).toBe('DRIVE01');
    expect(entries).toHaveLength(7);
    for (const e of entries) {
      const onDrive = await resolveInsideDrive(drive, e.filePath);
      const h = await hashFile(onDrive, { blockSize: BLOCK });
      expect(h.size).toBe(e.length);
      const chunks = e.pageRanges ?? e.blocks!;
      expect(chunks.map((c) => [c.offset, c.length, c.hash])).toEqual(h.blocks.map((b) => [b.offset, b.length, b.md5]));
    }
    const vhd = entries.find((e) => e.blobPath === 'vhds/disk.vhd')!;
    expect(vhd).toMatchObject({ importDisposition: 'overwrite', filePath: '\\vhds\\disk.vhd' });
    expect(vhd.pageRanges).toHaveLength(3);
    const photo = entries.find((e) => e.blobPath === 'pictures/2013/a.jpg')!;
    expect(photo.blocks!.map((b) => b.id)).toEqual(['AAAAAA==', 'AQAAAA==', 'AgAAAA==']);
    expect(photo.effectiveMetadataPath).toBeDefined();
    const metaOnDrive = await resolveInsideDrive(drive, photo.effectiveMetadataPath!.path);
    expect(await readMetadataFile(metaOnDrive, { expectedHash: photo.effectiveMetadataPath!.hash })).toEqual({ DataSetName: 'photos' });
    expect(entries.find((e) => e.blobPath === 'files/renamed.bin')).toMatchObject({ importDisposition: 'no-overwrite', blobListIndex: 2 });
    expect((await fsp.readdir(drive)).filter((n) => n.includes('partial'))).toEqual([]);
  });

  it('resumes after an interruption and produces an identical manifest', async () => {
    const reference = await prepareDrive({ datasetCsv: dataset, driveFolder: path.join(dir, 'ref'), driveId: 'DRIVE01', journalFile: path.join(dir, 'ref.jrn'), blockSize: BLOCK });
    const drive = path.join(dir, 'driveB');
    const journalFile = path.join(dir, 'b.jrn');
    let n = 0;
    await expect(prepareDrive({
      datasetCsv: dataset, driveFolder: drive, driveId: 'DRIVE01', journalFile, blockSize: BLOCK,
      onProgress: () => { if (++n === 3) throw new Error('unplugged'); },
    })).rejects.toThrow('unplugged');
    await expect(fsp.access(path.join(drive, 'DriveManifest.xml'))).rejects.toThrow();
    // simulate a crash in the middle of appending a journal record
    await fsp.appendFile(journalFile, '{"t":"file","row":2,"sou');

    const types: string[] = [];
    const res = await prepareDrive({ datasetCsv: dataset, driveFolder: drive, journalFile, blockSize: BLOCK, onProgress: (p) => { types.push(p.type); } });
    expect(types).toEqual(['file-skipped', 'file-skipped', 'file-skipped', 'file-copied', 'file-copied', 'file-copied', 'file-copied']);
    expect(res).toMatchObject({ driveId: 'DRIVE01', filesCopied: 4, filesSkipped: 3, manifestHash: reference.manifestHash, driveHeaderHash: reference.driveHeaderHash });
    expect((await fsp.readFile(path.join(drive, 'DriveManifest.xml'))).equals(await fsp.readFile(path.join(dir, 'ref', 'DriveManifest.xml')))).toBe(true);

    // A completed run re-run skips everything; a file removed from the drive is copied again.
    await fsp.rm(path.join(drive, 'pictures', '2013', 'b.jpg'));
    const again = await prepareDrive({ datasetCsv: dataset, driveFolder: drive, journalFile, blockSize: BLOCK });
    expect(again).toMatchObject({ filesCopied: 1, filesSkipped: 6, manifestHash: reference.manifestHash });
  });

  it('generates a drive id once and keeps it on resume', async () => {
    const journalFile = path.join(dir, 'c.jrn');
    const drive = path.join(dir, 'driveC');
    const first = await prepareDrive({ datasetCsv: dataset, driveFolder: drive, journalFile, blockSize: BLOCK });
    expect(first.driveId).toMatch(/^[0-9A-Z]{8}$/);
    const second = await prepareDrive({ datasetCsv: dataset, driveFolder: drive, journalFile, blockSize: BLOCK });
    expect(second.driveId).toBe(first.driveId);
    await expect(prepareDrive({ datasetCsv: dataset, driveFolder: drive, journalFile, driveId: 'OTHER', blockSize: BLOCK })).rejects.toMatchObject({ code: 'JournalInvalid' });
  });

  it('refuses a changed dataset, a journal on the drive, and two files aimed at one blob', async () => {
    const journalFile = path.join(dir, 'd.jrn');
    const drive = path.join(dir, 'driveD');
    await prepareDrive({ datasetCsv: dataset, driveFolder: drive, journalFile, blockSize: BLOCK });
    await fsp.appendFile(dataset, `${path.join(dir, 'meta.xml')},files/meta.xml\n`);
    await expect(prepareDrive({ datasetCsv: dataset, driveFolder: drive, journalFile, blockSize: BLOCK })).rejects.toMatchObject({ code: 'JournalInvalid' });
    await expect(prepareDrive({ datasetCsv: dataset, driveFolder: drive, journalFile: path.join(drive, 'j.jrn') })).rejects.toMatchObject({ code: 'JournalInvalid' });

    const dup = await write('dup.csv', 'BasePath,DstBlobPathOrPrefix\n' +
      `${path.join(dir, 'src/single.bin')},files/x.bin\n${path.join(dir, 'src/disk.vhd')},files/X.bin\n`);
    await expect(prepareDrive({ datasetCsv: dup, driveFolder: path.join(dir, 'driveE'), journalFile: path.join(dir, 'e.jrn') }))
      .rejects.toMatchObject({ code: 'DataSetInvalid', line: 3 });
    const missing = await write('missing.csv', 'BasePath,DstBlobPathOrPrefix\n/definitely/not/here.bin,files/x.bin\n');
    await expect(prepareDrive({ datasetCsv: missing, driveFolder: path.join(dir, 'driveF'), journalFile: path.join(dir, 'f.jrn') }))
      .rejects.toMatchObject({ code: 'FileNotFound', line: 2 });
  });

  it('uses 4 MiB blocks by default', async () => {
    const big = await write('big/file.bin', randomBytes(4 * 1024 * 1024 + 10));
    const csv = await write('big.csv', `BasePath,DstBlobPathOrPrefix\n${big},c1c/file.bin\n`);
    const drive = path.join(dir, 'driveG');
    await prepareDrive({ datasetCsv: csv, driveFolder: drive, journalFile: path.join(dir, 'g.jrn') });
    const [e] = await collect(readManifestEntries(path.join(drive, 'DriveManifest.xml')));
    expect(e.blocks!.map((b) => b.length)).toEqual([4 * 1024 * 1024, 10]);
    expect(await md5FileBase16(path.join(drive, 'c1c', 'file.bin'))).toBe(await md5FileBase16(big));
  });
});
