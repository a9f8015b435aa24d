// Drive preparation, the folder-based equivalent of WAImportExport PrepImport
// (reference §3.12): copy a dataset's files onto a drive folder, hashing while
// copying, then write the drive manifest. A journal (JSON lines, one fsync'd
// record per copied file) lets a re-run after an interruption skip what is
// already on the drive; the manifest is written only at the end, from the
// journal, so an interrupted-then-resumed run produces the same manifest as an
// uninterrupted one.
//
// Drive layout: each file lands at "<container>/<blob name>" under the drive
// folder (the blob path, so the drive mirrors the destination); a dataset
// row's metadata/properties files are copied to "_sneakernet/" (a name no
// container can have). The manifest is "DriveManifest.xml" at the root.
//
// driveHeaderHash: a folder has no disk header, so we use the newer tool's
// "offset:length:SHA512" shape over the manifest file itself:
// "0:<manifest size>:<SHA-512 of the manifest, Base16 upper>". It changes
// whenever the manifest does, like the tool's hash of the drive's header area.
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, type Dirent } from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { BlobType } from '../blob/backend.ts';
import { blobTypeForFile, parseDatasetCsv, type DatasetEntry } from './csv.ts';
import { driveRelativeSegments, resolveWritableInsideDrive, toManifestFilePath } from './drive-paths.ts';
import { TransferError } from './errors.ts';
import { readMetadataFile, readPropertiesFile } from './metadata-file.ts';
import { blockIdForIndex, type ImportDisposition, type ManifestChunk, type ManifestFileRef } from './manifest-types.ts';
import { ManifestWriter } from './manifest-writer.ts';
import { createMd5Tap, md5FileBase16, Md5Tracker, MANIFEST_BLOCK_SIZE } from './md5.ts';
import { element } from './xml-writer.ts';

export const MANIFEST_FILE_NAME = 'DriveManifest.xml';
/** Drive folder for copied metadata/properties files; '_' cannot start a container name, so no blob path collides. */
export const DRIVE_SIDE_FOLDER = '_sneakernet';

export interface PrepareProgress {
  type: 'file-copied' | 'file-skipped';
  sourcePath: string;
  /** Manifest FilePath ("\container\name"). */
  filePath: string;
  blobPath: string;
  bytes: number;
  filesDone: number;
  bytesDone: number;
}

export interface PrepareDriveOptions {
  /** Path of the dataset CSV (§3.12). */
  datasetCsv: string;
  /** The folder standing in for the drive; created if absent. */
  driveFolder: string;
  /** Drive serial; generated (and kept in the journal) when absent. */
  driveId?: string;
  /** Resume journal; must not be inside the drive folder. */
  journalFile: string;
  /** Called after each file is copied (and journaled) or skipped; throwing stops the run, which can be resumed. */
  onProgress?: (p: PrepareProgress) => void | Promise<void>;
  /** Block/page-range size in the manifest; a multiple of 512, at most 4 MiB. */
  blockSize?: number;
  /** Written into the manifest header when given (the docs require one of them for import). */
  storageAccountKey?: string;
  containerSas?: string;
}

export interface PrepareDriveResult {
  driveId: string;
  /** Drive-relative manifest path, as Put Job's ManifestFile: "\DriveManifest.xml". */
  manifestFile: string;
  /** Base16 upper MD5 of the manifest file. */
  manifestHash: string;
  /** "0:<size>:<SHA-512>" of the manifest file; see the header comment. */
  driveHeaderHash: string;
  filesCopied: number;
  filesSkipped: number;
  bytesCopied: number;
  /** Absolute path of "<driveId>.xml" next to the journal: the four Put Job drive fields (like the tool's per-drive output). */
  driveInfoFile: string;
}

interface SessionRecord { t: 'session'; v: 1; driveId: string; driveFolder: string; datasetHash: string; blockSize: number; at: string }
interface FileRecord {
  t: 'file';
  row: number;
  source: string;
  size: number;
  mtimeMs: number;
  blobPath: string;
  filePath: string;
  blobType: BlobType;
  disposition: ImportDisposition;
  md5: string;
  /** [offset, length, Base16 MD5] per block or page range. */
  chunks: [number, number, string][];
}
type JournalRecord = SessionRecord | FileRecord | { t: 'done'; manifestHash: string; at: string };

interface FileToCopy {
  row: DatasetEntry;
  source: string;
  blobPath: string;
  /** Drive-relative segments (container, ...blob name segments). */
  segments: string[];
}

const journalError = (msg: string, line?: number) => new TransferError('JournalInvalid', `Journal: ${msg}`, { line });

function compareNames(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Random drive serial in the style of the documented ones (e.g. 9WM35C2V). */
function newDriveId(): string {
  const alphabet = '0123456789ABCDEFGHJKLMNPQRSTUVWXYZ';
  return Array.from(randomBytes(8), (b) => alphabet[b % alphabet.length]).join('');
}

/** Append-only, fsync'd journal. Loads what a previous run left. */
class Journal {
  private constructor(private readonly fh: fsp.FileHandle, private offset: number) {}

  static async open(file: string): Promise<{ journal: Journal; records: { rec: JournalRecord; offset: number; length: number }[] }> {
    await fsp.mkdir(path.dirname(file), { recursive: true });
    const fh = await fsp.open(file, 'a+');
    const records: { rec: JournalRecord; offset: number; length: number }[] = [];
    // Read line by line with positioned reads, remembering where each record is (manifest writing reads them back).
    const size = (await fh.stat()).size;
    let pos = 0;
    let carry = Buffer.alloc(0);
    let lineNo = 0;
    let validEnd = 0;
    const buf = Buffer.alloc(1024 * 1024);
    while (pos < size) {
      const { bytesRead } = await fh.read(buf, 0, buf.length, pos);
      if (bytesRead === 0) break;
      let data = Buffer.concat([carry, buf.subarray(0, bytesRead)]);
      let start = pos - carry.length;
      pos += bytesRead;
      let nl: number;
      while ((nl = data.indexOf(0x0a)) >= 0) {
        lineNo++;
        const line = data.subarray(0, nl);
        try {
          records.push({ rec: JSON.parse(line.toString('utf8')) as JournalRecord, offset: start, length: nl });
        } catch {
          throw journalError('unreadable record', lineNo);
        }
        validEnd = start + nl + 1;
        start += nl + 1;
        data = data.subarray(nl + 1);
      }
      carry = Buffer.from(data);
    }
    // A torn last line (crash mid-append) is dropped: that file was not finished.
    if (validEnd < size) await fh.truncate(validEnd);
    return { journal: new Journal(fh, validEnd), records };
  }

  /** Appends a record durably; returns where it sits. */
  async append(rec: JournalRecord): Promise<{ offset: number; length: number }> {
    const line = Buffer.from(JSON.stringify(rec) + '\n');
    const at = this.offset;
    let done = 0;
    while (done < line.length) done += (await this.fh.write(line, done, line.length - done, at + done)).bytesWritten;
    await this.fh.datasync();
    this.offset += line.length;
    return { offset: at, length: line.length - 1 };
  }

  async readAt(offset: number, length: number): Promise<JournalRecord> {
    const buf = Buffer.alloc(length);
    await this.fh.read(buf, 0, length, offset);
    return JSON.parse(buf.toString('utf8')) as JournalRecord;
  }

  close(): Promise<void> {
    return this.fh.close();
  }
}

/** Regular files under a folder, depth-first in name order (deterministic across runs). Symlinks are not followed. */
async function* walkFiles(root: string, rel: string[], recursive: boolean): AsyncGenerator<string[]> {
  let entries: Dirent[];
  try {
    entries = await fsp.readdir(path.join(root, ...rel), { withFileTypes: true });
  } catch (err) {
    throw new TransferError('FileNotFound', `Cannot read folder ${path.join(root, ...rel)}: ${(err as Error).message}`, { path: root, cause: err });
  }
  entries.sort((a, b) => compareNames(a.name, b.name));
  for (const e of entries) {
    if (e.isFile()) yield [...rel, e.name];
    else if (e.isDirectory() && recursive) yield* walkFiles(root, [...rel, e.name], recursive);
  }
}

/** Expands dataset rows into files with their blob paths, in a stable order. */
async function* filesOf(rows: DatasetEntry[]): AsyncGenerator<FileToCopy> {
  for (const row of rows) {
    const toCopy = (source: string, blobName: string): FileToCopy => {
      const blobPath = `${row.container}/${blobName}`;
      let segments: string[];
      try {
        segments = driveRelativeSegments(blobPath.replace(/\//g, '\\'));
        if (blobName.includes('\\')) throw new TransferError('FileNameInvalid', 'backslash in name');
      } catch {
        throw new TransferError('FileNameInvalid', `Cannot place ${source} on the drive as blob ${JSON.stringify(blobPath)}`, { line: row.line, path: source });
      }
      return { row, source, blobPath, segments };
    };
    if (row.isDirectory) {
      // "$root/" takes only the folder's top-level files: subdirectories are not copied under $root.
      for await (const rel of walkFiles(row.basePath, [], row.container !== '$root')) {
        yield toCopy(path.join(row.basePath, ...rel), row.blobPathOrPrefix + rel.join('/'));
      }
    } else {
      const st = await fsp.stat(row.basePath).catch(() => null);
      if (!st?.isFile()) throw new TransferError('FileNotFound', `${row.basePath} is not a file`, { line: row.line, path: row.basePath });
      yield toCopy(row.basePath, row.isPrefix ? row.blobPathOrPrefix + path.basename(row.basePath) : row.blobPathOrPrefix);
    }
  }
}

/** Copies one file onto the drive (temp name, fsync, rename), hashing per chunk as it goes. */
async function copyFile(file: FileToCopy, dest: string, blockSize: number): Promise<Omit<FileRecord, 't' | 'row' | 'blobPath' | 'filePath' | 'disposition' | 'blobType'>> {
  const before = await fsp.stat(file.source);
  const tracker = new Md5Tracker(blockSize);
  const tmp = `${dest}.sneakernet-partial`;
  try {
    await pipeline(createReadStream(file.source), createMd5Tap(tracker), createWriteStream(tmp));
    const fh = await fsp.open(tmp, 'r+');
    try { await fh.sync(); } finally { await fh.close(); }
    const after = await fsp.stat(file.source);
    const hashes = tracker.finish();
    if (after.size !== before.size || after.mtimeMs !== before.mtimeMs || hashes.size !== before.size) {
      throw new TransferError('IOFailed', `${file.source} changed while it was being copied`, { path: file.source });
    }
    await fsp.rename(tmp, dest);
    return {
      source: file.source, size: hashes.size, mtimeMs: before.mtimeMs, md5: hashes.md5Base16,
      chunks: hashes.blocks.map((b) => [b.offset, b.length, b.md5]),
    };
  } catch (err) {
    await fsp.rm(tmp, { force: true });
    if (err instanceof TransferError) throw err;
    throw new TransferError('IOFailed', `Copying ${file.source}: ${(err as Error).message}`, { path: file.source, cause: err });
  }
}

/** Copies a row's metadata/properties file to the drive after checking it parses; returns the manifest reference. */
async function placeSideFile(driveFolder: string, row: DatasetEntry, kind: 'metadata' | 'properties'): Promise<ManifestFileRef | undefined> {
  const source = kind === 'metadata' ? row.metadataFile : row.propertiesFile;
  if (!source) return undefined;
  try {
    if (kind === 'metadata') await readMetadataFile(source);
    else await readPropertiesFile(source);
  } catch (err) {
    const e = err as TransferError;
    throw new TransferError(e.code ?? 'XmlReadFailed', `${kind} file of dataset line ${row.line}: ${e.message}`, { line: row.line, path: source, cause: err });
  }
  const rel = `${DRIVE_SIDE_FOLDER}\\dataset-line${row.line}.${kind}.xml`;
  const dest = await resolveWritableInsideDrive(driveFolder, rel);
  await fsp.copyFile(source, `${dest}.sneakernet-partial`);
  await fsp.rename(`${dest}.sneakernet-partial`, dest);
  return { path: toManifestFilePath(rel), hash: await md5FileBase16(dest) };
}

async function isAlreadyOnDrive(rec: FileRecord, dest: string): Promise<boolean> {
  const [src, dst] = await Promise.all([fsp.stat(rec.source).catch(() => null), fsp.lstat(dest).catch(() => null)]);
  return !!src && !!dst && dst.isFile() && src.size === rec.size && src.mtimeMs === rec.mtimeMs && dst.size === rec.size;
}

export async function prepareDrive(options: PrepareDriveOptions): Promise<PrepareDriveResult> {
  const blockSize = options.blockSize ?? MANIFEST_BLOCK_SIZE;
  if (blockSize <= 0 || blockSize % 512 !== 0 || blockSize > MANIFEST_BLOCK_SIZE) {
    throw new RangeError('blockSize must be a positive multiple of 512, at most 4 MiB');
  }
  await fsp.mkdir(options.driveFolder, { recursive: true });
  const driveFolder = await fsp.realpath(options.driveFolder);
  const journalPath = path.resolve(options.journalFile);
  const journalDirReal = await fsp.realpath(path.dirname(journalPath)).catch(() => path.dirname(journalPath));
  if (journalDirReal === driveFolder || journalDirReal.startsWith(driveFolder + path.sep)) {
    throw journalError('the journal must not be on the drive being prepared');
  }
  const rows = await parseDatasetCsv(options.datasetCsv);
  const datasetHash = await md5FileBase16(options.datasetCsv);

  const { journal, records } = await Journal.open(journalPath);
  try {
    // ---- session: new, or the one we resume ----
    if (records.length > 0 && records[0].rec.t !== 'session') throw journalError('does not start with a session record', 1);
    const session = records[0]?.rec as SessionRecord | undefined;
    let driveId: string;
    if (session) {
      if (options.driveId !== undefined && options.driveId !== session.driveId) throw journalError(`it belongs to drive ${session.driveId}, not ${options.driveId}`);
      if (session.driveFolder !== driveFolder) throw journalError(`it belongs to drive folder ${session.driveFolder}`);
      if (session.datasetHash !== datasetHash) throw journalError('the dataset file changed since this journal was started; use a new journal');
      if (session.blockSize !== blockSize) throw journalError(`it was started with block size ${session.blockSize}`);
      driveId = session.driveId;
    } else {
      driveId = options.driveId ?? newDriveId();
      if (!/^[A-Za-z0-9_-]{1,64}$/.test(driveId)) throw new RangeError('driveId must be 1-64 letters, digits, "_" or "-"');
      await journal.append({ t: 'session', v: 1, driveId, driveFolder, datasetHash, blockSize, at: new Date().toISOString() });
    }
    // Latest record per source file: what a previous run finished.
    const done = new Map<string, { rec: FileRecord; offset: number; length: number }>();
    for (const r of records) if (r.rec.t === 'file') done.set(r.rec.source, { rec: r.rec, offset: r.offset, length: r.length });

    // ---- copy ----
    const order: { offset: number; length: number }[] = []; // journal positions, in manifest order
    const claimed = new Map<string, string>(); // drive path → source, to catch two files aimed at one blob
    const rowRefs = new Map<number, { metadataPath?: ManifestFileRef; propertiesPath?: ManifestFileRef }>();
    let filesCopied = 0;
    let filesSkipped = 0;
    let bytesCopied = 0;
    let bytesDone = 0;
    for (const row of rows) {
      rowRefs.set(row.line, {
        metadataPath: await placeSideFile(driveFolder, row, 'metadata'),
        propertiesPath: await placeSideFile(driveFolder, row, 'properties'),
      });
    }
    for await (const file of filesOf(rows)) {
      const key = file.segments.join('/').toLowerCase(); // NTFS is case-insensitive
      const other = claimed.get(key);
      if (other !== undefined) {
        throw new TransferError('DataSetInvalid', `${file.source} and ${other} would both become blob ${file.blobPath}`, { line: file.row.line, path: file.source });
      }
      claimed.set(key, file.source);
      const filePath = toManifestFilePath(file.segments);
      const blobType = blobTypeForFile(file.row, file.source);
      const dest = await resolveWritableInsideDrive(driveFolder, filePath);
      const prev = done.get(file.source);
      let type: PrepareProgress['type'];
      let size: number;
      if (prev && prev.rec.filePath === filePath && prev.rec.blobPath === file.blobPath && prev.rec.row === file.row.line && (await isAlreadyOnDrive(prev.rec, dest))) {
        order.push({ offset: prev.offset, length: prev.length });
        type = 'file-skipped';
        size = prev.rec.size;
        filesSkipped++;
      } else {
        const st = await fsp.stat(file.source);
        if (blobType === 'PageBlob' && st.size % 512 !== 0) {
          throw new TransferError('DataSetInvalid', `${file.source} is imported as a page blob but its size ${st.size} is not a multiple of 512`, { line: file.row.line, path: file.source });
        }
        const copied = await copyFile(file, dest, blockSize);
        const rec: FileRecord = {
          t: 'file', row: file.row.line, blobPath: file.blobPath, filePath, blobType, disposition: file.row.disposition, ...copied,
        };
        order.push(await journal.append(rec));
        type = 'file-copied';
        size = copied.size;
        filesCopied++;
        bytesCopied += size;
      }
      bytesDone += size;
      await options.onProgress?.({ type, sourcePath: file.source, filePath, blobPath: file.blobPath, bytes: size, filesDone: filesCopied + filesSkipped, bytesDone });
    }

    // ---- manifest, from the journal, in dataset order ----
    const manifestPath = path.join(driveFolder, MANIFEST_FILE_NAME);
    const writer = await ManifestWriter.open(manifestPath, {
      driveId, storageAccountKey: options.storageAccountKey, containerSas: options.containerSas,
    });
    try {
      let currentRow = -1;
      for (const pos of order) {
        const rec = (await journal.readAt(pos.offset, pos.length)) as FileRecord;
        if (rec.row !== currentRow) {
          currentRow = rec.row;
          await writer.startBlobList(rowRefs.get(rec.row) ?? {});
        }
        const chunks: ManifestChunk[] = rec.chunks.map(([offset, length, hash], i) =>
          rec.blobType === 'PageBlob' ? { offset, length, hash } : { offset, length, id: blockIdForIndex(i), hash });
        await writer.writeBlob({
          blobPath: rec.blobPath, filePath: rec.filePath, length: rec.size, importDisposition: rec.disposition,
          ...(rec.blobType === 'PageBlob' ? { pageRanges: chunks } : { blocks: chunks }),
        });
      }
      await writer.close();
    } catch (err) {
      await writer.abort().catch(() => {});
      throw err;
    }

    const { manifestHash, driveHeaderHash } = await hashManifest(manifestPath);
    const manifestFile = `\\${MANIFEST_FILE_NAME}`;
    const driveInfoFile = path.join(path.dirname(journalPath), `${driveId}.xml`);
    await fsp.writeFile(`${driveInfoFile}.partial`,
      `<?xml version="1.0" encoding="UTF-8"?>\n<Drive>\n  ${element('DriveId', driveId)}\n  <BitLockerKey></BitLockerKey>\n` +
      `  ${element('ManifestFile', manifestFile)}\n  ${element('ManifestHash', manifestHash)}\n</Drive>\n`);
    await fsp.rename(`${driveInfoFile}.partial`, driveInfoFile);
    await journal.append({ t: 'done', manifestHash, at: new Date().toISOString() });
    return { driveId, manifestFile, manifestHash, driveHeaderHash, filesCopied, filesSkipped, bytesCopied, driveInfoFile };
  } finally {
    await journal.close();
  }
}

/** ManifestHash (MD5, Base16 upper) and our driveHeaderHash ("0:<size>:<SHA-512 upper>") of a manifest file, in one pass. */
export async function hashManifest(manifestPath: string): Promise<{ manifestHash: string; driveHeaderHash: string }> {
  const md5 = createHash('md5');
  const sha = createHash('sha512');
  let size = 0;
  for await (const chunk of createReadStream(manifestPath)) {
    md5.update(chunk as Buffer);
    sha.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return {
    manifestHash: md5.digest('hex').toUpperCase(),
    driveHeaderHash: `0:${size}:${sha.digest('hex').toUpperCase()}`,
  };
}
