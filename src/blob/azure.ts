// Azure Blob Storage backend over @azure/storage-blob. Block blobs are written
// with our own stageBlock/commitBlockList loop (the same thing uploadStream
// does internally) so we can compare the whole-content MD5 *before* the commit
// makes the blob visible: a mismatch leaves only uncommitted blocks behind,
// which Azure garbage-collects. Each block also carries a transactional MD5,
// so the service checks every chunk it receives.
import { randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import { Readable as ReadableStream } from 'node:stream';
import { createHash } from 'node:crypto';
import { BlobServiceClient, RestError, type BlobHTTPHeaders } from '@azure/storage-blob';
import type {
  BlobBackend, BlobHttpProperties, BlobInfo, BlobListItem, ByteSource, CommitOptions, CommitResult,
  PutOptions, PutResult, RangeOptions, StagedBlock,
} from './backend.ts';
import { BlobError } from './errors.ts';
import { assertBlockId, assertContainerName, MAX_BLOB_NAME_LENGTH } from './names.ts';
import { fixedChunks, readBounded } from './stream-util.ts';
import { BlobNameInvalid } from './errors.ts';

/** Size of each staged block in putStream; also the memory bound per in-flight block. */
export const AZURE_UPLOAD_BLOCK_SIZE = 4 * 1024 * 1024;
/** Blocks uploaded in parallel by putStream. */
const UPLOAD_CONCURRENCY = 4;
/** Largest block stageBlock will buffer (it needs the length and MD5 up front). */
const MAX_BLOCK_BYTES = 100 * 1024 * 1024;
/** Page blobs are built under a temporary name here, then server-side copied into place. */
const STAGING_CONTAINER = 'sneakernet-staging';

function statusOf(err: unknown): number | undefined {
  return err instanceof RestError ? err.statusCode : undefined;
}

function toHeaders(p: BlobHttpProperties | undefined, md5?: string): BlobHTTPHeaders {
  return {
    blobContentType: p?.contentType,
    blobContentEncoding: p?.contentEncoding,
    blobContentLanguage: p?.contentLanguage,
    blobCacheControl: p?.cacheControl,
    blobContentDisposition: p?.contentDisposition,
    blobContentMD5: md5 === undefined ? undefined : Buffer.from(md5, 'base64'),
  };
}

function defined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined && v !== '')) as T;
}

function b64(u: Uint8Array | undefined): string | undefined {
  return u && u.length > 0 ? Buffer.from(u).toString('base64') : undefined;
}

/** Only the checks Azure itself would not make: empty or over-long names. */
function assertName(name: string): void {
  if (typeof name !== 'string' || name.length === 0) throw new BlobNameInvalid(String(name), 'empty');
  if (name.length > MAX_BLOB_NAME_LENGTH) throw new BlobNameInvalid(name.slice(0, 64) + '…', 'longer than 1024 characters');
}

function wrap(err: unknown, what: string): never {
  if (err instanceof BlobError) throw err;
  const code = err instanceof RestError ? (err.details as { errorCode?: string } | undefined)?.errorCode : undefined;
  if (code === 'ContainerNotFound') throw new BlobError('ContainerNotFound', `${what}: container not found`, { cause: err });
  if (code === 'BlobNotFound' || statusOf(err) === 404) throw new BlobError('BlobNotFound', `${what}: not found`, { cause: err });
  if (code === 'Md5Mismatch') throw new BlobError('Md5Mismatch', `${what}: MD5 mismatch`, { cause: err });
  throw new BlobError('BlobRequestFailed', `${what}: ${(err as Error)?.message ?? String(err)}`, { cause: err });
}

export class AzureBlobBackend implements BlobBackend {
  private readonly service: BlobServiceClient;

  constructor(connectionString: string) {
    this.service = BlobServiceClient.fromConnectionString(connectionString);
  }

  private container(container: string) {
    assertContainerName(container);
    return this.service.getContainerClient(container);
  }

  private blob(container: string, name: string) {
    assertName(name);
    return this.container(container).getBlockBlobClient(name);
  }

  async ensureContainer(container: string): Promise<void> {
    try {
      await this.container(container).createIfNotExists();
    } catch (err) { wrap(err, `create container ${container}`); }
  }

  async putStream(container: string, name: string, source: ByteSource, options: PutOptions = {}): Promise<PutResult> {
    if (options.blobType === 'PageBlob') return this.putPageBlob(container, name, source, options);
    const client = this.blob(container, name);
    const prefix = randomBytes(8);
    const ids: string[] = [];
    const hash = createHash('md5');
    let size = 0;
    const inFlight = new Set<Promise<void>>();
    let failure: unknown;
    try {
      for await (const chunk of fixedChunks(source, AZURE_UPLOAD_BLOCK_SIZE)) {
        if (failure) break;
        hash.update(chunk);
        size += chunk.length;
        const idBuf = Buffer.alloc(12);
        prefix.copy(idBuf);
        idBuf.writeUInt32BE(ids.length, 8);
        const id = idBuf.toString('base64');
        ids.push(id);
        const md5 = createHash('md5').update(chunk).digest();
        const p: Promise<void> = client
          .stageBlock(id, chunk, chunk.length, { transactionalContentMD5: md5 })
          .then(() => {}, (err) => { failure ??= err; })
          .finally(() => inFlight.delete(p));
        inFlight.add(p);
        if (inFlight.size >= UPLOAD_CONCURRENCY) await Promise.race(inFlight);
      }
    } finally {
      await Promise.all(inFlight);
    }
    if (failure) wrap(failure, `upload ${container}/${name}`);
    const md5 = hash.digest('base64');
    if (options.contentMd5 !== undefined && options.contentMd5 !== md5) {
      throw new BlobError('Md5Mismatch', `Content MD5 mismatch for ${container}/${name}: expected ${options.contentMd5}, got ${md5}`);
    }
    try {
      await client.commitBlockList(ids, {
        blobHTTPHeaders: defined(toHeaders(options.properties, md5)),
        metadata: options.metadata,
      });
    } catch (err) { wrap(err, `commit ${container}/${name}`); }
    return { md5, size };
  }

  /**
   * Page blobs cannot be committed atomically, so they are written under a
   * temporary name in a staging container and server-side copied into place.
   */
  private async putPageBlob(container: string, name: string, source: ByteSource, options: PutOptions): Promise<PutResult> {
    assertName(name);
    const dest = this.container(container).getPageBlobClient(name);
    await this.ensureContainer(STAGING_CONTAINER);
    const tmp = this.service.getContainerClient(STAGING_CONTAINER).getPageBlobClient(`${Date.now()}-${randomBytes(8).toString('hex')}`);
    const hash = createHash('md5');
    let size = 0;
    try {
      try {
        await tmp.create(0);
        for await (const chunk of fixedChunks(source, AZURE_UPLOAD_BLOCK_SIZE)) {
          hash.update(chunk);
          if (chunk.length % 512 !== 0) {
            throw new BlobError('PageBlobLengthInvalid', `Page blob length ${size + chunk.length} is not a multiple of 512`);
          }
          await tmp.resize(size + chunk.length);
          await tmp.uploadPages(chunk, size, chunk.length, { transactionalContentMD5: createHash('md5').update(chunk).digest() });
          size += chunk.length;
        }
        const md5 = hash.digest('base64');
        if (options.contentMd5 !== undefined && options.contentMd5 !== md5) {
          throw new BlobError('Md5Mismatch', `Content MD5 mismatch for ${container}/${name}: expected ${options.contentMd5}, got ${md5}`);
        }
        await tmp.setHTTPHeaders(defined(toHeaders(options.properties, md5)));
        if (options.metadata) await tmp.setMetadata(options.metadata);
        const poller = await dest.beginCopyFromURL(tmp.url);
        await poller.pollUntilDone();
        return { md5, size };
      } catch (err) { wrap(err, `upload page blob ${container}/${name}`); }
    } finally {
      await tmp.deleteIfExists().catch(() => {});
    }
  }

  async getStream(container: string, name: string, range: RangeOptions = {}): Promise<Readable> {
    const client = this.blob(container, name);
    try {
      if (range.length === 0) return ReadableStream.from([]);
      const props = range.offset ? await client.getProperties() : undefined;
      if (props && (range.offset ?? 0) >= (props.contentLength ?? 0)) return ReadableStream.from([]);
      const res = await client.download(range.offset ?? 0, range.length);
      return res.readableStreamBody as Readable;
    } catch (err) { wrap(err, `read ${container}/${name}`); }
  }

  async *list(container: string, prefix = ''): AsyncIterable<BlobListItem> {
    const client = this.container(container);
    try {
      for await (const item of client.listBlobsFlat({ prefix: prefix || undefined })) {
        yield {
          name: item.name,
          size: item.properties.contentLength ?? 0,
          md5: b64(item.properties.contentMD5),
          lastModified: item.properties.lastModified,
        };
      }
    } catch (err) {
      if (err instanceof RestError && (err.details as { errorCode?: string } | undefined)?.errorCode === 'ContainerNotFound') return;
      if (statusOf(err) === 404) return;
      wrap(err, `list ${container}`);
    }
  }

  async getProperties(container: string, name: string): Promise<BlobInfo | null> {
    try {
      const p = await this.blob(container, name).getProperties();
      return {
        size: p.contentLength ?? 0,
        md5: b64(p.contentMD5),
        // Note: metadata keys come back lower-cased (HTTP headers).
        metadata: p.metadata ?? {},
        properties: defined({
          contentType: p.contentType,
          contentEncoding: p.contentEncoding,
          contentLanguage: p.contentLanguage,
          cacheControl: p.cacheControl,
          contentDisposition: p.contentDisposition,
        }),
        blobType: p.blobType === 'PageBlob' ? 'PageBlob' : 'BlockBlob',
        lastModified: p.lastModified ?? new Date(0),
      };
    } catch (err) {
      if (statusOf(err) === 404) return null;
      wrap(err, `properties of ${container}/${name}`);
    }
  }

  async exists(container: string, name: string): Promise<boolean> {
    try {
      return await this.blob(container, name).exists();
    } catch (err) { wrap(err, `exists ${container}/${name}`); }
  }

  async delete(container: string, name: string): Promise<boolean> {
    try {
      const r = await this.blob(container, name).deleteIfExists({ deleteSnapshots: 'include' });
      return r.succeeded;
    } catch (err) {
      if (statusOf(err) === 404) return false;
      wrap(err, `delete ${container}/${name}`);
    }
  }

  async stageBlock(container: string, name: string, blockId: string, source: ByteSource): Promise<{ md5: string; size: number }> {
    assertBlockId(blockId);
    const client = this.blob(container, name);
    const data = await readBounded(source, MAX_BLOCK_BYTES, () => new BlobError('BlockTooLarge', `Block larger than ${MAX_BLOCK_BYTES} bytes`));
    const md5 = createHash('md5').update(data).digest();
    try {
      await client.stageBlock(blockId, data, data.length, { transactionalContentMD5: md5 });
    } catch (err) { wrap(err, `stage block of ${container}/${name}`); }
    return { md5: md5.toString('base64'), size: data.length };
  }

  async listUncommittedBlocks(container: string, name: string): Promise<StagedBlock[]> {
    try {
      const r = await this.blob(container, name).getBlockList('uncommitted');
      return (r.uncommittedBlocks ?? []).map((b) => ({ id: b.name, size: b.size }));
    } catch (err) {
      if (statusOf(err) === 404) return [];
      wrap(err, `block list of ${container}/${name}`);
    }
  }

  async commitBlocks(container: string, name: string, blockIds: string[], options: CommitOptions = {}): Promise<CommitResult> {
    blockIds.forEach(assertBlockId);
    const client = this.blob(container, name);
    try {
      // Know the sizes before committing: committing discards the uncommitted list.
      const staged = new Map((await this.listUncommittedBlocks(container, name)).map((b) => [b.id, b.size]));
      for (const id of blockIds) {
        if (!staged.has(id)) throw new BlobError('BlockNotFound', `Block ${id} of ${container}/${name} is not staged`);
      }
      await client.commitBlockList(blockIds, {
        blobHTTPHeaders: defined(toHeaders(options.properties, options.contentMd5)),
        metadata: options.metadata,
      });
      const size = blockIds.reduce((n, id) => n + (staged.get(id) ?? 0), 0);
      return { size, md5: options.contentMd5 };
    } catch (err) { wrap(err, `commit ${container}/${name}`); }
  }

  urlFor(container: string, name: string): string {
    return this.blob(container, name).url;
  }
}
