// Streaming DriveManifest reader: yields one blob entry at a time with
// bounded memory, and refuses anything that is not a well-formed manifest
// (ManifestFormatInvalid), does not match its hash (ManifestCorrupted), or
// belongs to another drive (ManifestDriveIdMismatch). A bad FilePath only
// spoils its own entry (pathError), as the service reports it per blob.
import * as fsp from 'node:fs/promises';
import { TransferError } from './errors.ts';
import { driveRelativeSegments } from './drive-paths.ts';
import {
  IMPORT_DISPOSITIONS, type ImportDisposition, type ManifestBlob, type ManifestChunk, type ManifestFileRef, type ManifestHeader,
} from './manifest-types.ts';
import { md5FileBase16, sameBase16, MAX_BLOCKS_PER_BLOB } from './md5.ts';
import { child, childText, streamXmlEvents, type XmlSource, type XNode } from './xml-stream.ts';

/** Limits from reference §3.10. "GB"/"TB" are read as decimal units, "MB" for chunks as MiB (the API's 4 MiB block). */
export const MAX_BLOCK_BLOB_LENGTH = 200 * 1000 ** 3;
export const MAX_PAGE_BLOB_LENGTH = 1000 ** 4;
export const MAX_CHUNK_LENGTH = 4 * 1024 * 1024;

export interface ManifestBlobEntry extends ManifestBlob {
  /** 0-based position of the entry's BlobList. */
  blobListIndex: number;
  /** Line of the <Blob> element, for error messages. */
  line: number;
  /** Drive-relative path with '/' separators, when filePath is acceptable. */
  relativePath?: string;
  /** Why filePath was refused (FileNameInvalid / FileNameTooLong); the entry must then not be copied. */
  pathError?: TransferError;
  /** Metadata/properties that apply: the blob's own, else its BlobList's. */
  effectiveMetadataPath?: ManifestFileRef;
  effectivePropertiesPath?: ManifestFileRef;
}

export interface ReadManifestOptions {
  /** Expected Base16 MD5 of the file (the drive's ManifestHash); checked before parsing. Path sources only. */
  expectedHash?: string;
  /** Fails with ManifestDriveIdMismatch when the manifest names another drive. */
  expectedDriveId?: string;
  /** Called once, before the first entry, with the drive header. */
  onHeader?: (header: ManifestHeader) => void;
}

const HEX32 = /^\s?[0-9A-Fa-f]{32}$/;

function invalid(message: string, line?: number): TransferError {
  return new TransferError('ManifestFormatInvalid', `Manifest format invalid: ${message}`, { line });
}

function intAttr(node: XNode, name: string): number {
  const v = node.attrs[name];
  if (v === undefined || !/^\d{1,15}$/.test(v.trim())) throw invalid(`<${node.name}> needs a non-negative integer ${name}`, node.line);
  return Number(v.trim());
}

function hashAttr(node: XNode, required: boolean): string | undefined {
  const h = node.attrs.Hash;
  if (h === undefined) {
    if (required) throw invalid(`<${node.name}> needs a Hash`, node.line);
    return undefined;
  }
  if (!HEX32.test(h)) throw invalid(`<${node.name}> Hash is not a Base16 MD5`, node.line);
  return h.trim().toUpperCase();
}

function fileRefOf(node: XNode | undefined): ManifestFileRef | undefined {
  if (!node) return undefined;
  const p = node.text.trim();
  if (p === '') throw invalid(`<${node.name}> is empty`, node.line);
  return { path: p, hash: hashAttr(node, true)! };
}

function chunksOf(list: XNode, itemName: string, isPage: boolean, length: number): ManifestChunk[] {
  const out: ManifestChunk[] = [];
  let next = 0;
  for (const c of list.children) {
    if (c.name !== itemName) throw invalid(`unexpected <${c.name}> in <${list.name}>`, c.line);
    const chunk: ManifestChunk = { offset: intAttr(c, 'Offset'), length: intAttr(c, 'Length'), hash: hashAttr(c, true)! };
    if (chunk.length > MAX_CHUNK_LENGTH) throw invalid(`${itemName} longer than ${MAX_CHUNK_LENGTH} bytes`, c.line);
    if (chunk.offset + chunk.length > length) throw invalid(`${itemName} extends past the blob Length`, c.line);
    if (isPage) {
      if (chunk.offset % 512 !== 0 || chunk.length % 512 !== 0) throw invalid('PageRange Offset and Length must be multiples of 512', c.line);
      if (chunk.offset < next) throw invalid('PageRanges overlap or are not ordered by offset', c.line);
    } else {
      if (chunk.offset !== next) throw invalid('Blocks must be ordered by offset and leave no gaps', c.line);
      if (chunk.length === 0) throw invalid('empty Block', c.line);
      const id = c.attrs.Id;
      if (id !== undefined) {
        if (!/^[A-Za-z0-9+/]+={0,2}$/.test(id) || id.length % 4 !== 0 || Buffer.from(id, 'base64').length > 64) {
          throw invalid(`Block Id ${JSON.stringify(id)} is not valid base64`, c.line);
        }
        chunk.id = id;
      }
    }
    next = chunk.offset + chunk.length;
    out.push(chunk);
  }
  if (!isPage) {
    if (out.length > MAX_BLOCKS_PER_BLOB) throw invalid(`more than ${MAX_BLOCKS_PER_BLOB} blocks`, list.line);
    if (next !== length) throw invalid('BlockList does not cover the whole file', list.line);
    const withId = out.filter((b) => b.id !== undefined).length;
    if (withId !== 0 && withId !== out.length) throw invalid('block ids must be all present or all absent', list.line);
  }
  return out;
}

function blobOf(node: XNode, blobListIndex: number, listDefaults: { metadataPath?: ManifestFileRef; propertiesPath?: ManifestFileRef }): ManifestBlobEntry {
  const blobPath = childText(node, 'BlobPath');
  const filePath = childText(node, 'FilePath');
  const lengthText = childText(node, 'Length');
  if (!blobPath) throw invalid('<Blob> without <BlobPath>', node.line);
  if (filePath === undefined) throw invalid('<Blob> without <FilePath>', node.line);
  if (lengthText === undefined || !/^\d{1,15}$/.test(lengthText)) throw invalid('<Blob> needs a non-negative integer <Length>', node.line);
  const length = Number(lengthText);
  const blockList = child(node, 'BlockList');
  const pageList = child(node, 'PageRangeList');
  if (blockList && pageList) throw invalid('<Blob> has both BlockList and PageRangeList', node.line);
  if (pageList) {
    if (length > MAX_PAGE_BLOB_LENGTH) throw invalid(`page blob Length ${length} exceeds 1 TB`, node.line);
    if (length % 512 !== 0) throw invalid('page blob Length must be a multiple of 512', node.line);
  } else if (length > MAX_BLOCK_BLOB_LENGTH) {
    throw invalid(`block blob Length ${length} exceeds 200 GB`, node.line);
  }
  const disposition = childText(node, 'ImportDisposition');
  if (disposition !== undefined && !IMPORT_DISPOSITIONS.includes(disposition as ImportDisposition)) {
    throw invalid(`unknown ImportDisposition ${JSON.stringify(disposition)}`, node.line);
  }
  const entry: ManifestBlobEntry = {
    blobPath,
    filePath,
    length,
    blobListIndex,
    line: node.line,
    clientData: childText(node, 'ClientData'),
    snapshot: childText(node, 'Snapshot'),
    importDisposition: disposition as ImportDisposition | undefined,
    blocks: blockList ? chunksOf(blockList, 'Block', false, length) : undefined,
    pageRanges: pageList ? chunksOf(pageList, 'PageRange', true, length) : undefined,
    metadataPath: fileRefOf(child(node, 'MetadataPath')),
    propertiesPath: fileRefOf(child(node, 'PropertiesPath')),
  };
  for (const k of Object.keys(entry) as (keyof ManifestBlobEntry)[]) if (entry[k] === undefined) delete entry[k];
  entry.effectiveMetadataPath = entry.metadataPath ?? listDefaults.metadataPath;
  entry.effectivePropertiesPath = entry.propertiesPath ?? listDefaults.propertiesPath;
  if (!entry.effectiveMetadataPath) delete entry.effectiveMetadataPath;
  if (!entry.effectivePropertiesPath) delete entry.effectivePropertiesPath;
  try {
    entry.relativePath = driveRelativeSegments(filePath).join('/');
  } catch (err) {
    if (!(err instanceof TransferError)) throw err;
    entry.pathError = err;
  }
  return entry;
}

/** Throws ManifestCorrupted unless the file's MD5 equals the expected Base16 hash. */
export async function verifyManifestHash(manifestPath: string, expectedHash: string): Promise<void> {
  const actual = await md5FileBase16(manifestPath).catch((err) => {
    throw new TransferError('ReadManifestFailed', `Cannot read manifest: ${(err as Error).message}`, { cause: err });
  });
  if (!sameBase16(actual, expectedHash)) {
    throw new TransferError('ManifestCorrupted', `Manifest MD5 ${actual} does not match the expected ${expectedHash.trim()}`);
  }
}

/** Maps "cannot open the manifest" to the documented drive status codes. */
async function checkReadable(manifestPath: string): Promise<void> {
  try {
    const st = await fsp.stat(manifestPath);
    if (!st.isFile()) throw new TransferError('ManifestNotFound', `Manifest ${manifestPath} is not a file`);
  } catch (err) {
    if (err instanceof TransferError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') throw new TransferError('ManifestNotFound', `Manifest ${manifestPath} not found`, { cause: err });
    if (code === 'EACCES' || code === 'EPERM') throw new TransferError('ManifestAccessDenied', `Access denied to manifest ${manifestPath}`, { cause: err });
    if (code === 'ENAMETOOLONG') throw new TransferError('ManifestNameTooLong', 'Manifest name too long', { cause: err });
    throw new TransferError('ReadManifestFailed', `Cannot read manifest: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * Yields the manifest's blob entries in document order. `source` is a file
 * path or a stream of the manifest's bytes.
 */
export async function* readManifestEntries(source: XmlSource, options: ReadManifestOptions = {}): AsyncGenerator<ManifestBlobEntry> {
  if (typeof source === 'string') {
    await checkReadable(source);
    if (options.expectedHash !== undefined) await verifyManifestHash(source, options.expectedHash);
  }
  // Captured whole: header fields under <Drive> (depth 3, except BlobList) and BlobList children (depth 4).
  const capture = (name: string, depth: number) => depth === 4 || (depth === 3 && name !== 'BlobList');
  let header: Partial<ManifestHeader> = {};
  let headerDone = false;
  let sawRoot = false;
  let sawDrive = false;
  let listIndex = -1;
  let listDefaults: { metadataPath?: ManifestFileRef; propertiesPath?: ManifestFileRef } = {};
  let listHasBlobs = false;

  const finishHeader = (line: number) => {
    if (headerDone) return;
    if (!header.driveId) throw invalid('<DriveId> must come before any <BlobList>', line);
    if (options.expectedDriveId !== undefined && header.driveId !== options.expectedDriveId) {
      throw new TransferError('ManifestDriveIdMismatch', `Manifest is for drive ${header.driveId}, not ${options.expectedDriveId}`);
    }
    headerDone = true;
    options.onHeader?.(header as ManifestHeader);
  };

  for await (const ev of streamXmlEvents(source, capture, (msg, line) => invalid(msg, line))) {
    if (ev.type === 'open') {
      if (ev.depth === 1) {
        if (ev.name !== 'DriveManifest') throw invalid(`root element is <${ev.name}>, not <DriveManifest>`, ev.line);
        sawRoot = true;
        header.version = ev.attrs.Version ?? '';
      } else if (ev.depth === 2) {
        if (ev.name !== 'Drive') throw invalid(`unexpected <${ev.name}> under <DriveManifest>`, ev.line);
        if (sawDrive) throw invalid('more than one <Drive>', ev.line);
        sawDrive = true;
      } else if (ev.depth === 3 && ev.name === 'BlobList') {
        finishHeader(ev.line);
        listIndex++;
        listDefaults = {};
        listHasBlobs = false;
      }
    } else if (ev.type === 'node') {
      const n = ev.node;
      if (ev.depth === 3) {
        if (headerDone) throw invalid(`<${n.name}> after a <BlobList>`, n.line);
        const text = n.text.trim();
        if (n.name === 'DriveId') header.driveId = text;
        else if (n.name === 'StorageAccountKey') header.storageAccountKey = text;
        else if (n.name === 'ContainerSas') header.containerSas = text;
        else if (n.name === 'ClientCreator') header.clientCreator = text;
        else throw invalid(`unexpected <${n.name}> under <Drive>`, n.line);
      } else if (n.name === 'Blob') {
        listHasBlobs = true;
        yield blobOf(n, listIndex, listDefaults);
      } else if (n.name === 'MetadataPath' || n.name === 'PropertiesPath') {
        if (listHasBlobs) throw invalid(`BlobList <${n.name}> must precede its blobs`, n.line);
        listDefaults[n.name === 'MetadataPath' ? 'metadataPath' : 'propertiesPath'] = fileRefOf(n);
      } else {
        throw invalid(`unexpected <${n.name}> in <BlobList>`, n.line);
      }
    } else if (ev.type === 'close' && ev.depth === 2) {
      finishHeader(ev.line);
    }
  }
  if (!sawRoot || !sawDrive) throw invalid('no <Drive> element');
}

/** Reads only as far as needed to return the drive header. */
export async function readManifestHeader(source: XmlSource): Promise<ManifestHeader> {
  let header: ManifestHeader | undefined;
  const it = readManifestEntries(source, { onHeader: (h) => { header = h; } });
  try {
    while (header === undefined) {
      const r = await it.next();
      if (r.done) break;
    }
  } finally {
    await it.return(undefined);
  }
  if (!header) throw invalid('no drive header');
  return header;
}
