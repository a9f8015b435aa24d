// WAImportExport v2 input files (reference §3.12): the dataset CSV (what to
// copy where) and the driveset CSV (which drives to use). Read line by line;
// every problem is a TransferError naming the line.
import { createReadStream } from 'node:fs';
import * as path from 'node:path';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import type { BlobType } from '../blob/backend.ts';
import { TransferError, type PrepareErrorCode } from './errors.ts';
import type { ImportDisposition } from './manifest-types.ts';

export type CsvSource = string | Readable;

/** Splits one CSV record (RFC 4180 quoting: "a ""b""" → a "b"). Records cannot span lines. */
export function splitCsvLine(line: string, lineNo: number, code: PrepareErrorCode): string[] {
  const fields: string[] = [];
  let i = 0;
  for (;;) {
    let field = '';
    if (line[i] === '"') {
      i++;
      for (;;) {
        if (i >= line.length) throw new TransferError(code, 'unterminated quoted field', { line: lineNo });
        if (line[i] === '"') {
          if (line[i + 1] === '"') { field += '"'; i += 2; continue; }
          i++;
          break;
        }
        field += line[i++];
      }
      while (line[i] === ' ' || line[i] === '\t') i++;
      if (i < line.length && line[i] !== ',') throw new TransferError(code, 'text after a closing quote', { line: lineNo });
    } else {
      const end = line.indexOf(',', i);
      field = (end < 0 ? line.slice(i) : line.slice(i, end)).trim();
      if (field.includes('"')) throw new TransferError(code, 'stray quote in an unquoted field', { line: lineNo });
      i = end < 0 ? line.length : end;
    }
    fields.push(field);
    if (i >= line.length) return fields;
    i++; // comma
  }
}

/** Yields [lineNo, fields] for each non-blank line; the header is the first. */
async function* csvRecords(source: CsvSource, code: PrepareErrorCode): AsyncGenerator<[number, string[]]> {
  const input = typeof source === 'string' ? createReadStream(source, { encoding: 'utf8' }) : source;
  const rl = createInterface({ input, crlfDelay: Infinity });
  let lineNo = 0;
  try {
    for await (let line of rl) {
      lineNo++;
      if (lineNo === 1 && line.charCodeAt(0) === 0xfeff) line = line.slice(1);
      if (line.length > 64 * 1024) throw new TransferError(code, 'line longer than 64 KiB', { line: lineNo });
      if (line.trim() === '') continue;
      yield [lineNo, splitCsvLine(line, lineNo, code)];
    }
  } catch (err) {
    if (err instanceof TransferError) throw err;
    throw new TransferError(code, `cannot read: ${(err as Error).message}`, { line: lineNo || undefined, cause: err });
  } finally {
    rl.close();
  }
}

/** Maps header names (case-insensitive) to column indexes, checking required ones. */
function headerIndex(header: string[], known: string[], required: string[], code: PrepareErrorCode, lineNo: number): Map<string, number> {
  const idx = new Map<string, number>();
  header.forEach((h, i) => {
    const name = known.find((k) => k.toLowerCase() === h.trim().toLowerCase());
    if (!name) throw new TransferError(code, `unknown column ${JSON.stringify(h)}; expected ${known.join(',')}`, { line: lineNo });
    if (idx.has(name)) throw new TransferError(code, `column ${name} appears twice`, { line: lineNo });
    idx.set(name, i);
  });
  for (const r of required) if (!idx.has(r)) throw new TransferError(code, `missing column ${r}`, { line: lineNo });
  return idx;
}

// ---- dataset --------------------------------------------------------------

export const DATASET_COLUMNS = ['BasePath', 'DstBlobPathOrPrefix', 'BlobType', 'Disposition', 'MetadataFile', 'PropertiesFile'];

export interface DatasetEntry {
  line: number;
  /** As written, minus a trailing separator for directories. */
  basePath: string;
  /** BasePath ended with "\" or "/": copy the folder recursively. */
  isDirectory: boolean;
  container: string;
  /** Text after "container/": a virtual-directory prefix ("" or ending in "/") or, for a single file, a blob name. */
  blobPathOrPrefix: string;
  /** Destination ends with "/": file names are appended to it. */
  isPrefix: boolean;
  /** Explicit BlobType; when absent, blobTypeForFile decides by extension. */
  blobType?: BlobType;
  disposition: ImportDisposition;
  metadataFile?: string;
  propertiesFile?: string;
}

const CONTAINER = /^(?:\$root|[a-z0-9](?:[a-z0-9]|-(?=[a-z0-9])){2,62})$/;

function parseBlobType(v: string, line: number): BlobType | undefined {
  const t = v.trim().toLowerCase();
  if (t === '') return undefined;
  if (t === 'blockblob' || t === 'block') return 'BlockBlob';
  if (t === 'pageblob' || t === 'page') return 'PageBlob';
  throw new TransferError('DataSetInvalid', `BlobType must be BlockBlob or PageBlob, not ${JSON.stringify(v)}`, { line });
}

function parseDisposition(v: string, line: number): ImportDisposition {
  const t = v.trim().toLowerCase();
  if (t === '') return 'rename';
  if (t === 'rename' || t === 'no-overwrite' || t === 'overwrite') return t;
  throw new TransferError('DataSetInvalid', `Disposition must be rename, no-overwrite or overwrite, not ${JSON.stringify(v)}`, { line });
}

function optionalFile(v: string | undefined): string | undefined {
  const t = (v ?? '').trim();
  return t === '' || t.toLowerCase() === 'none' ? undefined : t;
}

/** Default blob type of a file: page blob for VHDs, block blob otherwise. */
export function blobTypeForFile(entry: Pick<DatasetEntry, 'blobType'>, fileName: string): BlobType {
  return entry.blobType ?? (/\.vhdx?$/i.test(fileName) ? 'PageBlob' : 'BlockBlob');
}

/** Parses a dataset CSV (header BasePath,DstBlobPathOrPrefix[,BlobType,Disposition,MetadataFile,PropertiesFile]). */
export async function parseDatasetCsv(source: CsvSource): Promise<DatasetEntry[]> {
  const out: DatasetEntry[] = [];
  let idx: Map<string, number> | undefined;
  for await (const [line, fields] of csvRecords(source, 'DataSetInvalid')) {
    if (!idx) {
      idx = headerIndex(fields, DATASET_COLUMNS, ['BasePath', 'DstBlobPathOrPrefix'], 'DataSetInvalid', line);
      continue;
    }
    if (fields.length > idx.size) throw new TransferError('DataSetInvalid', `${fields.length} fields, header has ${idx.size}`, { line });
    const get = (c: string) => (idx!.has(c) ? (fields[idx!.get(c)!] ?? '') : '');
    let basePath = get('BasePath').trim();
    if (basePath === '') throw new TransferError('DataSetInvalid', 'BasePath is empty', { line });
    if (!path.posix.isAbsolute(basePath) && !path.win32.isAbsolute(basePath)) {
      throw new TransferError('DataSetInvalid', `BasePath ${JSON.stringify(basePath)} must be an absolute path`, { line });
    }
    const isDirectory = /[\\/]$/.test(basePath);
    if (isDirectory && basePath.length > 1) basePath = basePath.replace(/[\\/]+$/, '') || basePath;
    let dst = get('DstBlobPathOrPrefix').trim();
    // Examples also show full blob URLs; keep only the path after the account.
    const url = /^https?:\/\/[^/]+\/(.*)$/i.exec(dst);
    if (url) dst = decodeURIComponent(url[1]);
    const slash = dst.indexOf('/');
    if (slash <= 0) throw new TransferError('DataSetInvalid', `DstBlobPathOrPrefix ${JSON.stringify(dst)} must start with a container name and "/"`, { line });
    const container = dst.slice(0, slash);
    if (!CONTAINER.test(container)) throw new TransferError('DataSetInvalid', `invalid container name ${JSON.stringify(container)} (lower-case letters, digits, hyphens; or $root)`, { line });
    const rest = dst.slice(slash + 1);
    const isPrefix = rest === '' || rest.endsWith('/');
    if (isDirectory && !isPrefix) throw new TransferError('DataSetInvalid', 'a directory BasePath needs a DstBlobPathOrPrefix ending in "/"', { line });
    if (container === '$root' && rest.includes('/') && !(isPrefix && rest === '')) {
      throw new TransferError('DataSetInvalid', 'blobs in $root cannot have virtual directories', { line });
    }
    if (/(^|\/)\.\.?(\/|$)|\/\/|\\/.test(rest)) throw new TransferError('DataSetInvalid', `DstBlobPathOrPrefix ${JSON.stringify(dst)} has empty, "." or ".." segments or a backslash`, { line });
    const entry: DatasetEntry = {
      line, basePath, isDirectory, container, blobPathOrPrefix: rest, isPrefix,
      disposition: parseDisposition(get('Disposition'), line),
    };
    const bt = parseBlobType(get('BlobType'), line);
    if (bt) entry.blobType = bt;
    const m = optionalFile(get('MetadataFile'));
    const p = optionalFile(get('PropertiesFile'));
    if (m) entry.metadataFile = m;
    if (p) entry.propertiesFile = p;
    out.push(entry);
  }
  if (!idx) throw new TransferError('DataSetInvalid', 'empty dataset file (no header)');
  if (out.length === 0) throw new TransferError('DataSetInvalid', 'dataset lists no files or folders');
  return out;
}

// ---- driveset -------------------------------------------------------------

export const DRIVESET_COLUMNS = ['DriveLetter', 'FormatOption', 'SilentOrPromptOnFormat', 'Encryption', 'ExistingBitLockerKey'];

export interface DrivesetEntry {
  line: number;
  /** Upper case. */
  driveLetter: string;
  formatOption: 'Format' | 'AlreadyFormatted';
  silentOrPromptOnFormat: 'SilentMode' | 'PromptOnFormat';
  encryption: 'Encrypt' | 'AlreadyEncrypted';
  existingBitLockerKey?: string;
}

/** A BitLocker numerical password: eight groups of six digits. */
const BITLOCKER_KEY = /^\d{6}(?:-\d{6}){7}$/;

function oneOf<T extends string>(v: string, allowed: readonly T[], column: string, line: number): T {
  const hit = allowed.find((a) => a.toLowerCase() === v.trim().toLowerCase());
  if (!hit) throw new TransferError('DriveSetInvalid', `Incorrect value for ${column}: ${v.trim() === '' ? 'none' : v.trim()}`, { line });
  return hit;
}

/** Parses a driveset CSV, applying the tool's documented combination rules. */
export async function parseDrivesetCsv(source: CsvSource): Promise<DrivesetEntry[]> {
  const out: DrivesetEntry[] = [];
  const letters = new Set<string>();
  let idx: Map<string, number> | undefined;
  for await (const [line, fields] of csvRecords(source, 'DriveSetInvalid')) {
    if (!idx) {
      idx = headerIndex(fields, DRIVESET_COLUMNS, DRIVESET_COLUMNS.slice(0, 4), 'DriveSetInvalid', line);
      continue;
    }
    if (fields.length > idx.size) throw new TransferError('DriveSetInvalid', `${fields.length} fields, header has ${idx.size}`, { line });
    const get = (c: string) => (idx!.has(c) ? (fields[idx!.get(c)!] ?? '') : '').trim();
    const letter = get('DriveLetter').replace(/:\\?$/, '');
    if (!/^[A-Za-z]$/.test(letter)) throw new TransferError('DriveSetInvalid', `Incorrect value for DriveLetter: ${letter || 'none'}`, { line });
    const driveLetter = letter.toUpperCase();
    if (letters.has(driveLetter)) throw new TransferError('DriveSetInvalid', `drive ${driveLetter} is listed twice`, { line });
    letters.add(driveLetter);
    const entry: DrivesetEntry = {
      line,
      driveLetter,
      formatOption: oneOf(get('FormatOption'), ['Format', 'AlreadyFormatted'] as const, 'FormatOption', line),
      silentOrPromptOnFormat: oneOf(get('SilentOrPromptOnFormat'), ['SilentMode', 'PromptOnFormat'] as const, 'SilentOrPromptOnFormat', line),
      encryption: oneOf(get('Encryption'), ['Encrypt', 'AlreadyEncrypted'] as const, 'Encryption', line),
    };
    const key = get('ExistingBitLockerKey');
    if (entry.formatOption === 'Format' && entry.encryption !== 'Encrypt') {
      throw new TransferError('DriveSetInvalid', 'When Format is specified, Encrypt must also be specified', { line });
    }
    if (entry.encryption === 'Encrypt' && key !== '') throw new TransferError('DriveSetInvalid', 'BitLocker Key should not be specified', { line });
    if (entry.encryption === 'AlreadyEncrypted') {
      if (key === '') throw new TransferError('DriveSetInvalid', 'ExistingBitLockerKey is required with AlreadyEncrypted', { line });
      if (!BITLOCKER_KEY.test(key)) throw new TransferError('DriveSetInvalid', 'ExistingBitLockerKey must be eight groups of six digits', { line });
      entry.existingBitLockerKey = key;
    }
    out.push(entry);
  }
  if (!idx) throw new TransferError('DriveSetInvalid', 'empty driveset file (no header)');
  if (out.length === 0) throw new TransferError('DriveSetInvalid', 'driveset lists no drives');
  return out;
}
