// The one small interface every blob store hides behind. The import/export
// workers only ever talk to this, so the embedded local-folder default and
// Azure Blob Storage behave the same from the data plane's point of view.
import type { Readable } from 'node:stream';

export type BlobType = 'BlockBlob' | 'PageBlob';

/** The settable HTTP properties of a blob (Set Blob Properties). */
export interface BlobHttpProperties {
  contentType?: string;
  contentEncoding?: string;
  contentLanguage?: string;
  cacheControl?: string;
  contentDisposition?: string;
}

export interface PutOptions {
  /** Expected MD5 of the whole content, base64. A mismatch fails the put and nothing is committed. */
  contentMd5?: string;
  metadata?: Record<string, string>;
  properties?: BlobHttpProperties;
  /** Default BlockBlob. A PageBlob's content length must be a multiple of 512. */
  blobType?: BlobType;
  /**
   * `contentMd5` was computed by the caller over exactly the bytes it streams (e.g. the import copier, which has
   * already verified them against the drive manifest): a backend that would hash only to compare may skip it.
   */
  contentMd5Verified?: boolean;
  /**
   * Durability may wait for the next `sync()` (backends that have one): the blob is visible under its final name
   * at once, but it is only guaranteed to survive a machine crash after `sync()` resolved. Lets a copier pay one
   * sync per batch of blobs instead of one per blob.
   */
  deferSync?: boolean;
}

export interface PutResult {
  /** MD5 of the content, base64 (as Azure's Content-MD5). */
  md5: string;
  size: number;
}

export interface CommitOptions {
  metadata?: Record<string, string>;
  properties?: BlobHttpProperties;
  /**
   * MD5 of the whole committed content, base64, when the caller knows it (the
   * import copier hashes the file while reading it). Local: verified; Azure:
   * stored as Content-MD5 (each block was already checked on upload).
   */
  contentMd5?: string;
}

export interface CommitResult {
  size: number;
  /** base64; absent when the backend could not learn it (Azure without contentMd5). */
  md5?: string;
}

export interface BlobListItem {
  name: string;
  size: number;
  md5?: string;
  lastModified: Date;
}

export interface BlobInfo {
  size: number;
  md5?: string;
  metadata: Record<string, string>;
  properties: BlobHttpProperties;
  blobType: BlobType;
  lastModified: Date;
}

export interface RangeOptions {
  offset?: number;
  /** Bytes to read from offset; default to the end. */
  length?: number;
}

export interface StagedBlock {
  /** The block id exactly as given to stageBlock (base64 text). */
  id: string;
  size: number;
}

/** Anything we can stream bytes from: a Node Readable or any async iterable of chunks. */
export type ByteSource = Readable | AsyncIterable<Uint8Array> | readonly Uint8Array[];

export interface BlobBackend {
  /** Create the container if absent. */
  ensureContainer(container: string): Promise<void>;
  /**
   * Stream content into a blob, hashing on the fly. The blob appears under its
   * final name only once every byte arrived and the MD5 matched; a failure
   * leaves any previous blob of that name untouched.
   */
  putStream(container: string, name: string, source: ByteSource, options?: PutOptions): Promise<PutResult>;
  /** Throws BlobNotFound when absent. */
  getStream(container: string, name: string, range?: RangeOptions): Promise<Readable>;
  /** Blobs whose names start with prefix (all when prefix is empty). */
  list(container: string, prefix?: string): AsyncIterable<BlobListItem>;
  /** null when the blob (or container) does not exist. */
  getProperties(container: string, name: string): Promise<BlobInfo | null>;
  exists(container: string, name: string): Promise<boolean>;
  /** true when something was deleted. */
  delete(container: string, name: string): Promise<boolean>;
  /**
   * Upload one block of a block blob without committing it, so a resumed
   * import can skip blocks already staged. Returns the block's MD5 (base64).
   */
  stageBlock(container: string, name: string, blockId: string, source: ByteSource): Promise<{ md5: string; size: number }>;
  listUncommittedBlocks(container: string, name: string): Promise<StagedBlock[]>;
  /** Commit staged blocks, in order, as the blob's content (replaces any previous content). */
  commitBlocks(container: string, name: string, blockIds: string[], options?: CommitOptions): Promise<CommitResult>;
  /**
   * Makes every blob written with `deferSync` since the last call durable (local folder: fsync of the files and
   * their folders). Absent on backends whose writes are durable when they return.
   */
  sync?(): Promise<void>;
  /** Where the blob lives, for logs: file:// URL (local) or the blob's https URL (Azure). */
  urlFor(container: string, name: string): string;
}
