import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { blobTypeForFile, parseDatasetCsv, parseDrivesetCsv, splitCsvLine } from '../../src/transfer/csv.ts';
import { TransferError } from '../../src/transfer/errors.ts';

const src = (s: string) => Readable.from([s]);
const DS_HEADER = 'BasePath,DstBlobPathOrPrefix,BlobType,Disposition,MetadataFile,PropertiesFile\n';
const DRV_HEADER = 'DriveLetter,FormatOption,SilentOrPromptOnFormat,Encryption,ExistingBitLockerKey\n';

async function failure(p: Promise<unknown>): Promise<TransferError> {
  const e = await p.then(() => null, (x) => x);
  expect(e).toBeInstanceOf(TransferError);
  return e as TransferError;
}

describe('CSV splitting', () => {
  it('handles quotes, escaped quotes and empty fields', () => {
    expect(splitCsvLine('"a, b",c,,"x ""y"""', 1, 'DataSetInvalid')).toEqual(['a, b', 'c', '', 'x "y"']);
    expect(() => splitCsvLine('"open', 3, 'DataSetInvalid')).toThrow(/line 3/);
  });
});

describe('parseDatasetCsv', () => {
  it('parses the documented sample and defaults', async () => {
    const rows = await parseDatasetCsv(src(DS_HEADER +
      '"F:\\50M_original\\100M_1.csv.txt","containername/100M_1.csv.txt",BlockBlob,rename,"None",None\r\n' +
      '"/data/photos/","https://mystorageaccount.blob.core.windows.net/video/",,,/meta/m.xml,\n' +
      '\n' +
      '/data/disk.vhd,vhds/,page,overwrite,None,/p.xml\n'));
    expect(rows).toEqual([
      { line: 2, basePath: 'F:\\50M_original\\100M_1.csv.txt', isDirectory: false, container: 'containername', blobPathOrPrefix: '100M_1.csv.txt', isPrefix: false, blobType: 'BlockBlob', disposition: 'rename' },
      { line: 3, basePath: '/data/photos', isDirectory: true, container: 'video', blobPathOrPrefix: '', isPrefix: true, disposition: 'rename', metadataFile: '/meta/m.xml' },
      { line: 5, basePath: '/data/disk.vhd', isDirectory: false, container: 'vhds', blobPathOrPrefix: '', isPrefix: true, blobType: 'PageBlob', disposition: 'overwrite', propertiesFile: '/p.xml' },
    ]);
    expect(blobTypeForFile({}, 'x.VHDX')).toBe('PageBlob');
    expect(blobTypeForFile({}, 'x.txt')).toBe('BlockBlob');
    expect(blobTypeForFile({ blobType: 'BlockBlob' }, 'x.vhd')).toBe('BlockBlob');
  });

  it('accepts a header with only the required columns', async () => {
    const rows = await parseDatasetCsv(src('basepath,dstblobpathorprefix\n/a/b.txt,c1c/b.txt\n'));
    expect(rows[0]).toMatchObject({ container: 'c1c', blobPathOrPrefix: 'b.txt', disposition: 'rename' });
  });

  const bad: [string, string, number | undefined][] = [
    ['', 'empty', undefined],
    ['Foo,Bar\n/a,c/\n', 'unknown column', 1],
    ['BasePath\n/a\n', 'missing column', 1],
    [DS_HEADER, 'no files', undefined],
    [DS_HEADER + 'relative/path,cont/\n', 'absolute', 2],
    [DS_HEADER + '/a,Upper/\n', 'container', 2],
    [DS_HEADER + '/a,noslash\n', 'container name', 2],
    [DS_HEADER + '/dir/,cont/blob\n', 'ending in "/"', 2],
    [DS_HEADER + '/a,cont/x,TapeBlob\n', 'BlobType', 2],
    [DS_HEADER + '/a,cont/x,,clobber\n', 'Disposition', 2],
    [DS_HEADER + '/a,cont/x\n/b,cont/../y\n', '".."', 3],
    [DS_HEADER + '/a,$root/dir/x\n', '$root', 2],
    [DS_HEADER + '/a,cont/x,,,,,extra\n', 'fields', 2],
    [DS_HEADER + '"/a,cont/x\n', 'unterminated', 2],
  ];
  for (const [text, msg, line] of bad) {
    it(`rejects: ${msg}`, async () => {
      const e = await failure(parseDatasetCsv(src(text)));
      expect(e.code).toBe('DataSetInvalid');
      expect(e.message).toContain(msg);
      expect(e.line).toBe(line);
    });
  }
});

describe('parseDrivesetCsv', () => {
  it('parses the documented samples', async () => {
    const rows = await parseDrivesetCsv(src(DRV_HEADER +
      'G,AlreadyFormatted,SilentMode,AlreadyEncrypted,060456-014509-132033-080300-252615-584177-672089-411631\n' +
      'h,Format,SilentMode,Encrypt,\n'));
    expect(rows).toEqual([
      { line: 2, driveLetter: 'G', formatOption: 'AlreadyFormatted', silentOrPromptOnFormat: 'SilentMode', encryption: 'AlreadyEncrypted', existingBitLockerKey: '060456-014509-132033-080300-252615-584177-672089-411631' },
      { line: 3, driveLetter: 'H', formatOption: 'Format', silentOrPromptOnFormat: 'SilentMode', encryption: 'Encrypt' },
    ]);
  });

  const bad: [string, string][] = [
    ['H,Format,,Encrypt,', 'Incorrect value for SilentOrPromptOnFormat: none'],
    ['H,Format,SilentMode,AlreadyEncrypted,060456-014509-132033-080300-252615-584177-672089-411631', 'When Format is specified, Encrypt must also be specified'],
    ['H,AlreadyFormatted,SilentMode,Encrypt,060456-014509-132033-080300-252615-584177-672089-411631', 'BitLocker Key should not be specified'],
    ['H,AlreadyFormatted,SilentMode,AlreadyEncrypted,', 'required'],
    ['H,AlreadyFormatted,SilentMode,AlreadyEncrypted,1234', 'eight groups'],
    ['HH,Format,SilentMode,Encrypt,', 'DriveLetter'],
    ['H,Erase,SilentMode,Encrypt,', 'FormatOption'],
  ];
  for (const [row, msg] of bad) {
    it(`rejects: ${msg}`, async () => {
      const e = await failure(parseDrivesetCsv(src(DRV_HEADER + row + '\n')));
      expect(e.code).toBe('DriveSetInvalid');
      expect(e.message).toContain(msg);
      expect(e.line).toBe(2);
    });
  }

  it('rejects a drive listed twice', async () => {
    const e = await failure(parseDrivesetCsv(src(DRV_HEADER + 'H,Format,SilentMode,Encrypt,\nh,Format,SilentMode,Encrypt,\n')));
    expect(e.line).toBe(3);
  });
});
