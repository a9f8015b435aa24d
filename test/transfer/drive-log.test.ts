import { Readable, Writable } from 'node:stream';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DriveLogWriter, parseDriveLog, readDriveLogBlobs, toErrorLogEntry, writeDriveLog, type DriveLogBlob } from '../../src/transfer/drive-log.ts';
import { collect, makeTempDir } from './tmp.ts';

let dir: string;
let cleanup: () => Promise<void>;
beforeAll(async () => ({ dir, cleanup } = await makeTempDir('drivelog')));
afterAll(async () => cleanup());

const ok: DriveLogBlob = {
  status: 'Completed',
  blobPath: 'https://account.blob.core.windows.net/pictures/bob/wild/desert.jpg',
  filePath: '\\pictures\\bob\\wild\\desert.jpg',
  length: 98304,
  importDisposition: { value: 'overwrite', status: 'Created' },
  blocks: [
    { offset: 0, length: 65536, id: 'AAAAAA==', hash: 'AA2585F6F6FD01C4AD4256E018240CD4', status: 'Completed' },
    { offset: 65536, length: 32768, id: 'AQAAAA==', hash: '9C8AF5A60BF2BB3C1ED1F3C6E4F7E2AB', status: 'Completed' },
  ],
  metadata: { status: 'Completed', globalPath: { path: '\\Metadata.xml', hash: '4B7E6F1B2C5D8E9A0B1C2D3E4F5A6B7C' } },
};
const bad: DriveLogBlob = {
  status: 'CompletedWithErrors',
  blobPath: 'https://account.blob.core.windows.net/pictures/bob/wild/canyon.vhd',
  filePath: '\\pictures\\bob\\wild\\canyon.vhd',
  length: 1536,
  importDisposition: { value: 'rename', status: 'Created' },
  pageRanges: [
    { offset: 0, length: 512, hash: '1111', status: 'Completed' },
    { offset: 512, length: 1024, hash: '2222', status: 'Corrupted' },
  ],
  properties: { status: 'Completed', path: { path: '\\props\\canyon.properties', hash: 'ABCD' } },
};
const notFound: DriveLogBlob = {
  status: 'FileNotFound',
  blobPath: 'https://account.blob.core.windows.net/c/missing.txt',
  filePath: '\\c\\missing.txt',
  length: 10,
  importDisposition: { value: 'rename', status: 'Cancelled' },
  blocks: [{ offset: 0, length: 10, id: 'MD5/cAzn4h7VVSWXf696qp5Uaw==', hash: '6C09E79F2EC0CB4D40E5A6D6D4FFFB2A', status: 'Cancelled' }],
};

describe('DriveLog', () => {
  it('writes a verbose log and reads every blob back', async () => {
    const file = path.join(dir, 'verbose.xml');
    await writeDriveLog(file, { driveId: '9WM35C2V', status: 'CompletedWithErrors', blobs: [ok, bad, notFound] });
    const text = await fsp.readFile(file, 'utf8');
    expect(text.startsWith('<?xml version="1.0" encoding="UTF-8"?>\n<DriveLog Version="2014-11-01">')).toBe(true);
    expect(text).toContain('<ImportDisposition Status="Created">overwrite</ImportDisposition>');
    expect(text).toContain('<GlobalPath Hash="4B7E6F1B2C5D8E9A0B1C2D3E4F5A6B7C">\\Metadata.xml</GlobalPath>');
    let header: unknown;
    let status = '';
    const blobs = await collect(readDriveLogBlobs(file, { header: (h) => { header = h; }, status: (s) => { status = s; } }));
    expect(header).toEqual({ version: '2014-11-01', driveId: '9WM35C2V' });
    expect(status).toBe('CompletedWithErrors');
    expect(blobs).toEqual([ok, bad, notFound]);
  });

  it('derives the error log: failing blobs only, failing ranges only', () => {
    expect(toErrorLogEntry(ok)).toBeNull();
    const e = toErrorLogEntry(bad)!;
    expect(e.pageRanges).toEqual([bad.pageRanges![1]]);
    expect(e.properties).toBeUndefined();
    expect(toErrorLogEntry(notFound)).toEqual(notFound);
  });

  it('parses into table rows, with row limit', async () => {
    const chunks: Buffer[] = [];
    const sink = new Writable({ write(c, _e, cb) { chunks.push(c); cb(); } });
    const w = await DriveLogWriter.open(sink, { driveId: 'D1' });
    for (let i = 0; i < 5; i++) await w.writeBlob({ ...ok, blobPath: `c/${i}` });
    await w.writeBlob(bad);
    await w.close('CompletedWithErrors');
    const xml = Buffer.concat(chunks);
    const parsed = await parseDriveLog(Readable.from([xml]));
    expect(parsed).toMatchObject({ driveId: 'D1', status: 'CompletedWithErrors', totalBlobs: 6, truncated: false });
    expect(parsed.rows[5]).toEqual({
      status: 'CompletedWithErrors', blobPath: bad.blobPath, filePath: bad.filePath, length: 1536,
      importDisposition: 'rename', importDispositionStatus: 'Created', chunks: 2, failedChunks: 1,
      failedChunkStatuses: { Corrupted: 1 }, propertiesStatus: 'Completed',
    });
    const limited = await parseDriveLog(Readable.from([xml]), { maxRows: 2 });
    expect(limited.rows).toHaveLength(2);
    expect(limited).toMatchObject({ totalBlobs: 6, truncated: true });
  });

  it('parses a documented-style export error log', async () => {
    const xml = `<?xml version="1.0" encoding="utf-8"?>
<DriveLog Version="2014-11-01">
  <DriveId>9WM35C3U</DriveId>
  <Blob Status="CompletedWithErrors">
    <BlobPath>pictures/wild/canyon.jpg</BlobPath>
    <FilePath>\\pictures\\wild\\canyon.jpg</FilePath>
    <LastModified>2012-09-18T23:47:08Z</LastModified>
    <Length>163840</Length>
    <BlockList />
    <Properties Status="Failed" />
  </Blob>
  <Status>CompletedWithErrors</Status>
</DriveLog>`;
    const parsed = await parseDriveLog(Readable.from([xml]));
    expect(parsed.rows).toEqual([{
      status: 'CompletedWithErrors', blobPath: 'pictures/wild/canyon.jpg', filePath: '\\pictures\\wild\\canyon.jpg',
      length: 163840, lastModified: '2012-09-18T23:47:08Z', chunks: 0, failedChunks: 0, failedChunkStatuses: {}, propertiesStatus: 'Failed',
    }]);
  });

  it('rejects non-logs', async () => {
    await expect(parseDriveLog(Readable.from(['<DriveManifest/>']))).rejects.toMatchObject({ code: 'DriveLogFormatInvalid' });
    await expect(parseDriveLog(Readable.from(['garbage']))).rejects.toMatchObject({ code: 'DriveLogFormatInvalid' });
  });
});
