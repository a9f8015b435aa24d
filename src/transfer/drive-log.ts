// DriveLog XML (reference §3.9): the per-drive error and verbose logs the
// service leaves in the diagnostics container. Written streaming (a log can
// list every file of a drive); parsed back into rows for the console.
import type { Writable } from 'node:stream';
import {
  TransferError, type BlobStatusCode, type ChunkStatusCode, type DriveStatusCode, type ImportDispositionStatus, type MetadataStatusCode,
} from './errors.ts';
import type { ImportDisposition } from './manifest-types.ts';
import { child, childText, streamXmlEvents, type XmlSource, type XNode } from './xml-stream.ts';
import { attrs, element, XmlOutput } from './xml-writer.ts';

export const DRIVE_LOG_VERSION = '2014-11-01';

export interface DriveLogChunk {
  offset: number;
  length: number;
  /** Block id (blocks only). */
  id?: string;
  /** Base16 MD5. */
  hash?: string;
  status: ChunkStatusCode;
}

export interface DriveLogFileRef {
  path: string;
  hash?: string;
}

/** <Metadata> or <Properties> status of a blob. */
export interface DriveLogFileStatus {
  status: MetadataStatusCode;
  globalPath?: DriveLogFileRef;
  path?: DriveLogFileRef;
}

export interface DriveLogBlob {
  status: BlobStatusCode;
  /** URI of the blob (for a renamed import: the new name). */
  blobPath: string;
  /** Relative path on the drive. */
  filePath: string;
  snapshot?: string;
  length: number;
  lastModified?: string;
  importDisposition?: { value: ImportDisposition | string; status: ImportDispositionStatus };
  /** Present as an (possibly empty) list when the blob is a block blob with a block list. */
  blocks?: DriveLogChunk[];
  pageRanges?: DriveLogChunk[];
  metadata?: DriveLogFileStatus;
  properties?: DriveLogFileStatus;
}

export interface DriveLogHeader {
  version: string;
  driveId: string;
}

function fileStatusXml(name: string, s: DriveLogFileStatus | undefined, indent: string): string {
  if (!s) return '';
  const inner =
    (s.globalPath ? element('GlobalPath', s.globalPath.path, { Hash: s.globalPath.hash }) : '') +
    (s.path ? element('Path', s.path.path, { Hash: s.path.hash }) : '');
  return inner === '' ? `${indent}<${name}${attrs({ Status: s.status })} />\n` : `${indent}<${name}${attrs({ Status: s.status })}>${inner}</${name}>\n`;
}

function chunksXml(list: string, item: string, chunks: DriveLogChunk[], indent: string): string {
  if (chunks.length === 0) return `${indent}<${list} />\n`;
  let s = `${indent}<${list}>\n`;
  for (const c of chunks) s += `${indent}  <${item}${attrs({ Offset: c.offset, Length: c.length, Id: c.id, Hash: c.hash, Status: c.status })} />\n`;
  return `${s}${indent}</${list}>\n`;
}

export function formatDriveLogBlob(b: DriveLogBlob): string {
  const i = '    ';
  let s = `  <Blob${attrs({ Status: b.status })}>\n`;
  s += `${i}${element('BlobPath', b.blobPath)}\n${i}${element('FilePath', b.filePath)}\n`;
  if (b.snapshot !== undefined) s += `${i}${element('Snapshot', b.snapshot)}\n`;
  s += `${i}${element('Length', b.length)}\n`;
  if (b.lastModified !== undefined) s += `${i}${element('LastModified', b.lastModified)}\n`;
  if (b.importDisposition) s += `${i}${element('ImportDisposition', b.importDisposition.value, { Status: b.importDisposition.status })}\n`;
  if (b.pageRanges) s += chunksXml('PageRangeList', 'PageRange', b.pageRanges, i);
  else if (b.blocks) s += chunksXml('BlockList', 'Block', b.blocks, i);
  s += fileStatusXml('Metadata', b.metadata, i);
  s += fileStatusXml('Properties', b.properties, i);
  return `${s}  </Blob>\n`;
}

/**
 * The error log is the verbose log minus successful items: returns null for a
 * fully successful blob, else the blob with only its failing blocks/ranges.
 */
export function toErrorLogEntry(b: DriveLogBlob): DriveLogBlob | null {
  const chunkOk = (c: DriveLogChunk) => c.status === 'Completed';
  const fileOk = (f?: DriveLogFileStatus) => !f || f.status === 'Completed';
  const dispositionOk = !b.importDisposition || b.importDisposition.status !== 'Cancelled';
  const ok = b.status === 'Completed' && (b.blocks ?? []).every(chunkOk) && (b.pageRanges ?? []).every(chunkOk) &&
    fileOk(b.metadata) && fileOk(b.properties) && dispositionOk;
  if (ok) return null;
  const out: DriveLogBlob = { ...b };
  if (b.blocks) out.blocks = b.blocks.filter((c) => !chunkOk(c));
  if (b.pageRanges) out.pageRanges = b.pageRanges.filter((c) => !chunkOk(c));
  if (fileOk(b.metadata)) delete out.metadata;
  if (fileOk(b.properties)) delete out.properties;
  return out;
}

export class DriveLogWriter {
  private count = 0;
  private constructor(private readonly out: XmlOutput) {}

  /** A path target is written to "<path>.partial" and renamed on close. */
  static async open(target: string | Writable, header: { driveId: string; version?: string }): Promise<DriveLogWriter> {
    const w = new DriveLogWriter(new XmlOutput(target));
    await w.out.write(
      `<?xml version="1.0" encoding="UTF-8"?>\n<DriveLog${attrs({ Version: header.version ?? DRIVE_LOG_VERSION })}>\n  ${element('DriveId', header.driveId)}\n`,
    );
    return w;
  }

  async writeBlob(b: DriveLogBlob): Promise<void> {
    this.count++;
    await this.out.write(formatDriveLogBlob(b));
  }

  get blobCount(): number {
    return this.count;
  }

  async close(status: DriveStatusCode): Promise<void> {
    await this.out.write(`  ${element('Status', status)}\n</DriveLog>\n`);
    await this.out.close();
  }

  async abort(): Promise<void> {
    await this.out.abort();
  }
}

/** Convenience: write a whole log from an (async) iterable of blobs. */
export async function writeDriveLog(
  target: string | Writable,
  log: { driveId: string; status: DriveStatusCode; blobs: Iterable<DriveLogBlob> | AsyncIterable<DriveLogBlob>; version?: string },
): Promise<void> {
  const w = await DriveLogWriter.open(target, log);
  try {
    for await (const b of log.blobs) await w.writeBlob(b);
  } catch (err) {
    await w.abort();
    throw err;
  }
  await w.close(log.status);
}

// ---- reading --------------------------------------------------------------

function invalid(message: string, line?: number): TransferError {
  return new TransferError('DriveLogFormatInvalid', `Drive log format invalid: ${message}`, { line });
}

function num(v: string | undefined, what: string, line: number): number {
  if (v === undefined || !/^\s*\d{1,15}\s*$/.test(v)) throw invalid(`${what} is not a non-negative integer`, line);
  return Number(v);
}

function chunksOf(list: XNode): DriveLogChunk[] {
  return list.children.map((c) => {
    const out: DriveLogChunk = {
      offset: num(c.attrs.Offset, 'Offset', c.line),
      length: num(c.attrs.Length, 'Length', c.line),
      status: (c.attrs.Status ?? 'Failed') as ChunkStatusCode,
    };
    if (c.attrs.Id !== undefined) out.id = c.attrs.Id;
    if (c.attrs.Hash !== undefined) out.hash = c.attrs.Hash.trim();
    return out;
  });
}

function fileStatusOf(n: XNode | undefined): DriveLogFileStatus | undefined {
  if (!n) return undefined;
  const ref = (r: XNode | undefined): DriveLogFileRef | undefined =>
    r ? (r.attrs.Hash !== undefined ? { path: r.text.trim(), hash: r.attrs.Hash.trim() } : { path: r.text.trim() }) : undefined;
  const out: DriveLogFileStatus = { status: (n.attrs.Status ?? 'Failed') as MetadataStatusCode };
  const g = ref(child(n, 'GlobalPath'));
  const p = ref(child(n, 'Path'));
  if (g) out.globalPath = g;
  if (p) out.path = p;
  return out;
}

function blobOf(n: XNode): DriveLogBlob {
  const b: DriveLogBlob = {
    status: (n.attrs.Status ?? 'Failed') as BlobStatusCode,
    blobPath: childText(n, 'BlobPath') ?? '',
    filePath: childText(n, 'FilePath') ?? '',
    length: num(childText(n, 'Length') ?? '0', 'Length', n.line),
  };
  const snapshot = childText(n, 'Snapshot');
  const lastModified = childText(n, 'LastModified');
  const disp = child(n, 'ImportDisposition');
  const blocks = child(n, 'BlockList');
  const pages = child(n, 'PageRangeList');
  if (snapshot !== undefined) b.snapshot = snapshot;
  if (lastModified !== undefined) b.lastModified = lastModified;
  if (disp) b.importDisposition = { value: disp.text.trim(), status: (disp.attrs.Status ?? 'Cancelled') as ImportDispositionStatus };
  if (blocks) b.blocks = chunksOf(blocks);
  if (pages) b.pageRanges = chunksOf(pages);
  const m = fileStatusOf(child(n, 'Metadata'));
  const p = fileStatusOf(child(n, 'Properties'));
  if (m) b.metadata = m;
  if (p) b.properties = p;
  return b;
}

/** Streams the <Blob> records of a drive log; header/status reported through callbacks. */
export async function* readDriveLogBlobs(
  source: XmlSource,
  on: { header?: (h: DriveLogHeader) => void; status?: (s: string) => void } = {},
): AsyncGenerator<DriveLogBlob> {
  let version = '';
  let sawRoot = false;
  let headerSent = false;
  const sendHeader = (driveId: string) => {
    if (!headerSent) on.header?.({ version, driveId });
    headerSent = true;
  };
  for await (const ev of streamXmlEvents(source, (_n, depth) => depth === 2, (m, l) => invalid(m, l))) {
    if (ev.type === 'open' && ev.depth === 1) {
      if (ev.name !== 'DriveLog') throw invalid(`root element is <${ev.name}>, not <DriveLog>`, ev.line);
      sawRoot = true;
      version = ev.attrs.Version ?? '';
    } else if (ev.type === 'node') {
      const n = ev.node;
      if (n.name === 'DriveId') sendHeader(n.text.trim());
      else if (n.name === 'Blob') {
        sendHeader('');
        yield blobOf(n);
      } else if (n.name === 'Status') on.status?.(n.text.trim());
    }
  }
  if (!sawRoot) throw invalid('no <DriveLog> element');
}

/** One row of the console's log table. */
export interface DriveLogRow {
  status: string;
  blobPath: string;
  filePath: string;
  length: number;
  snapshot?: string;
  lastModified?: string;
  importDisposition?: string;
  importDispositionStatus?: string;
  /** Blocks or page ranges listed, and how many of them are not Completed. */
  chunks: number;
  failedChunks: number;
  /** Statuses of the failing chunks, e.g. { Corrupted: 1 }. */
  failedChunkStatuses: Record<string, number>;
  metadataStatus?: string;
  propertiesStatus?: string;
}

export interface ParsedDriveLog {
  version: string;
  driveId: string;
  /** Drive status; '' when the log has none (e.g. truncated). */
  status: string;
  rows: DriveLogRow[];
  /** Blobs in the log (may exceed rows.length when maxRows cut the table). */
  totalBlobs: number;
  truncated: boolean;
}

export function driveLogRow(b: DriveLogBlob): DriveLogRow {
  const chunks = b.pageRanges ?? b.blocks ?? [];
  const failed = chunks.filter((c) => c.status !== 'Completed');
  const failedChunkStatuses: Record<string, number> = {};
  for (const c of failed) failedChunkStatuses[c.status] = (failedChunkStatuses[c.status] ?? 0) + 1;
  const row: DriveLogRow = {
    status: b.status, blobPath: b.blobPath, filePath: b.filePath, length: b.length,
    chunks: chunks.length, failedChunks: failed.length, failedChunkStatuses,
  };
  if (b.snapshot !== undefined) row.snapshot = b.snapshot;
  if (b.lastModified !== undefined) row.lastModified = b.lastModified;
  if (b.importDisposition) {
    row.importDisposition = b.importDisposition.value;
    row.importDispositionStatus = b.importDisposition.status;
  }
  if (b.metadata) row.metadataStatus = b.metadata.status;
  if (b.properties) row.propertiesStatus = b.properties.status;
  return row;
}

/** Parses a drive log into table rows (at most maxRows, default 10,000; the rest is only counted). */
export async function parseDriveLog(source: XmlSource, options: { maxRows?: number } = {}): Promise<ParsedDriveLog> {
  const maxRows = options.maxRows ?? 10_000;
  const out: ParsedDriveLog = { version: '', driveId: '', status: '', rows: [], totalBlobs: 0, truncated: false };
  for await (const b of readDriveLogBlobs(source, {
    header: (h) => { out.version = h.version; out.driveId = h.driveId; },
    status: (s) => { out.status = s; },
  })) {
    out.totalBlobs++;
    if (out.rows.length < maxRows) out.rows.push(driveLogRow(b));
    else out.truncated = true;
  }
  return out;
}
