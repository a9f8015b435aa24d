// Shapes of the documented DriveManifest (reference §3.10), shared by the
// streaming writer and reader.
import type { BlobType } from '../blob/backend.ts';

export const MANIFEST_VERSION = '2014-11-01';
export type ImportDisposition = 'rename' | 'no-overwrite' | 'overwrite';
export const IMPORT_DISPOSITIONS: readonly ImportDisposition[] = ['rename', 'no-overwrite', 'overwrite'];

/** One Block or PageRange. `hash` is Base16 MD5. */
export interface ManifestChunk {
  offset: number;
  length: number;
  /** Block id (base64); block lists only, optional. */
  id?: string;
  hash: string;
}

/** A MetadataPath/PropertiesPath: drive-relative file plus its Base16 MD5. */
export interface ManifestFileRef {
  path: string;
  hash: string;
}

export interface ManifestHeader {
  version: string;
  driveId: string;
  storageAccountKey?: string;
  containerSas?: string;
  clientCreator?: string;
}

export interface ManifestBlobList {
  id?: string;
  metadataPath?: ManifestFileRef;
  propertiesPath?: ManifestFileRef;
}

export interface ManifestBlob {
  /** Relative to the account, starting with the container name. */
  blobPath: string;
  /** Drive-relative, as written in the manifest (e.g. "\dir\file.txt"). */
  filePath: string;
  clientData?: string;
  snapshot?: string;
  length: number;
  importDisposition?: ImportDisposition;
  /** Exactly one of blocks / pageRanges may be present; pageRanges makes it a page blob. */
  blocks?: ManifestChunk[];
  pageRanges?: ManifestChunk[];
  metadataPath?: ManifestFileRef;
  propertiesPath?: ManifestFileRef;
}

/** Block id the way the documented export sample spells it: little-endian int32 index, base64. */
export function blockIdForIndex(i: number): string {
  const b = Buffer.alloc(4);
  b.writeInt32LE(i);
  return b.toString('base64');
}

export function blobTypeOf(blob: Pick<ManifestBlob, 'pageRanges'>): BlobType {
  return blob.pageRanges ? 'PageBlob' : 'BlockBlob';
}
