// Blob store on a plain folder: the embedded default. Containers are folders
// under the root, blob names map to relative paths. Bookkeeping lives under
// `<root>/.sneakernet/` (a name no container can have, since container names
// start with a letter or digit):
//   meta/<container>/<hh>/<sha256(name)>.json   sidecar: md5, metadata, properties
//   staging/<container>/<sha256(name)>/<hex(blockId)>   uncommitted blocks
//   tmp/                                          in-flight writes (same filesystem, so rename is atomic)
// Sidecars are keyed by a hash so blob names like "a" and "a.json/x" can never collide with them.
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { pathToFileURL } from 'node:url';
import type {
  BlobBackend, BlobHttpProperties, BlobInfo, BlobListItem, BlobType, ByteSource, CommitOptions, CommitResult,
  PutOptions, PutResult, RangeOptions, StagedBlock,
} from './backend.ts';
import { BlobError } from './errors.ts';
import { assertBlockId, assertContainerName, safeBlobSegments } from './names.ts';
import { toBuffer } from './stream-util.ts';
import { eachLimit } from '../each-limit.ts';

const STATE_DIR = '.sneakernet';
/** Same cap the Azure backend enforces for one staged block. */
const MAX_BLOCK_BYTES = 100 * 1024 * 1024;

interface Sidecar {
  v: 1;
  name: string;
  /** inode + size of the data file this sidecar describes; a mismatch means the sidecar is stale. */
  ino: number;
  size: number;
  md5: string;
  metadata: Record<string, string>;
  properties: BlobHttpProperties;
  blobType: BlobType;
}

function sha256(s: string): string {
  return createHash('sha256').update(s).digest('hex');
}

function isErrno(err: unknown, ...codes: string[]): boolean {
  return typeof err === 'object' && err !== null && codes.includes((err as NodeJS.ErrnoException).code ?? '');
}

/** Bound on the remembered folders (created/verified) and on the writes awaiting a deferred sync. */
const CACHE_LIMIT = 4096;
const PENDING_SYNC_LIMIT = 2048;

async function fsyncPath(p: string): Promise<void> {
  let fh: fsp.FileHandle;
  try {
    fh = await fsp.open(p, 'r');
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return; // replaced or deleted since: nothing of ours left to sync
    throw err;
  }
  try {
    await fh.sync();
  } catch (err) {
    // Some filesystems refuse fsync on a folder; the files themselves were synced.
    if (!isErrno(err, 'EINVAL', 'EISDIR', 'EBADF', 'EPERM')) throw err;
  } finally {
    await fh.close();
  }
}

export class LocalFolderBackend implements BlobBackend {
  readonly rootDir: string;
  /** Folders known to exist and, for blob parents, verified inside their container (bounded caches). */
  private readonly knownDirs = new Set<string>();
  private readonly containerReal = new Map<string, string>();
  /** Files (and the folders holding their names) written with `deferSync`, not yet synced. */
  private pendingFiles = new Set<string>();
  private pendingDirs = new Set<string>();

  constructor(rootDir: string) {
    this.rootDir = path.resolve(rootDir);
  }

  // ---- paths ---------------------------------------------------------------

  private containerDir(container: string): string {
    assertContainerName(container);
    return path.join(this.rootDir, container);
  }

  /** Final path of a blob; validated so it cannot leave the container folder. */
  private blobPath(container: string, name: string): string {
    const dir = this.containerDir(container);
    const p = path.join(dir, ...safeBlobSegments(name));
    // Defence in depth: the segment rules already make this impossible.
    if (!p.startsWith(dir + path.sep)) throw new BlobError('BlobNameInvalid', `Blob name escapes container: ${name}`);
    return p;
  }

  private sidecarPath(container: string, name: string): string {
    const h = sha256(name);
    return path.join(this.rootDir, STATE_DIR, 'meta', container, h.slice(0, 2), `${h}.json`);
  }

  private stagingDir(container: string, name: string): string {
    return path.join(this.rootDir, STATE_DIR, 'staging', container, sha256(name));
  }

  private remember(dir: string): void {
    if (this.knownDirs.size >= CACHE_LIMIT) this.knownDirs.clear();
    this.knownDirs.add(dir);
  }

  private async mkdirCached(dir: string): Promise<void> {
    if (this.knownDirs.has(dir)) return;
    await fsp.mkdir(dir, { recursive: true });
    this.remember(dir);
  }

  private async tmpPath(): Promise<string> {
    const dir = path.join(this.rootDir, STATE_DIR, 'tmp');
    await this.mkdirCached(dir);
    return path.join(dir, `${Date.now()}-${randomBytes(8).toString('hex')}.part`);
  }

  private async requireContainer(container: string): Promise<string> {
    const dir = this.containerDir(container);
    try {
      const st = await fsp.stat(dir);
      if (st.isDirectory()) return dir;
    } catch (err) {
      if (!isErrno(err, 'ENOENT', 'ENOTDIR')) throw err;
    }
    throw new BlobError('ContainerNotFound', `Container ${container} does not exist`);
  }

  /**
   * Creates the blob's parent folders and checks, after following any
   * symlinks someone planted, that they are still inside the container.
   */
  private async prepareParent(container: string, finalPath: string, name: string): Promise<void> {
    const parent = path.dirname(finalPath);
    // A parent this instance already created and verified is reused (a folder cannot turn into a symlink
    // without being removed first, and removal goes through delete(), which forgets it).
    if (this.knownDirs.has(parent)) return;
    let containerReal = this.containerReal.get(container);
    if (!containerReal) {
      containerReal = await fsp.realpath(await this.requireContainer(container));
      if (this.containerReal.size >= CACHE_LIMIT) this.containerReal.clear();
      this.containerReal.set(container, containerReal);
    }
    try {
      await fsp.mkdir(parent, { recursive: true });
    } catch (err) {
      if (isErrno(err, 'EEXIST', 'ENOTDIR')) {
        throw new BlobError('BlobNameConflict', `Blob ${name} conflicts with an existing blob that is a prefix of its name`);
      }
      throw err;
    }
    const parentReal = await fsp.realpath(parent);
    if (parentReal !== containerReal && !parentReal.startsWith(containerReal + path.sep)) {
      throw new BlobError('BlobNameInvalid', `Blob ${name} resolves outside its container`);
    }
    this.remember(parent);
  }

  // ---- writing ------------------------------------------------------------

  /**
   * Streams a source into a fresh temp file, hashing on the way (unless the caller vouches for the MD5); fsyncs
   * before returning unless the sync is deferred.
   */
  private async writeTemp(
    source: ByteSource | AsyncIterable<Buffer>, limit = Infinity, opts: { knownMd5?: string; deferSync?: boolean } = {},
  ): Promise<{ tmp: string; md5: string; size: number; ino: number }> {
    const tmp = await this.tmpPath();
    const hash = opts.knownMd5 === undefined ? createHash('md5') : null;
    let size = 0;
    let ino = 0;
    const fh = await fsp.open(tmp, 'wx');
    try {
      for await (const raw of source as AsyncIterable<unknown>) {
        const buf = toBuffer(raw);
        size += buf.length;
        if (size > limit) throw new BlobError('BlockTooLarge', `Block larger than ${limit} bytes`);
        hash?.update(buf);
        let off = 0;
        while (off < buf.length) off += (await fh.write(buf, off, buf.length - off)).bytesWritten;
      }
      if (!opts.deferSync) await fh.sync();
      ino = (await fh.stat()).ino;
    } catch (err) {
      await fh.close().catch(() => {});
      await fsp.rm(tmp, { force: true });
      throw err;
    }
    await fh.close();
    return { tmp, md5: hash ? hash.digest('base64') : opts.knownMd5!, size, ino };
  }

  private async deferred(file: string): Promise<void> {
    this.pendingFiles.add(file);
    this.pendingDirs.add(path.dirname(file));
    if (this.pendingFiles.size >= PENDING_SYNC_LIMIT) await this.sync();
  }

  /** fsyncs every file written with `deferSync` since the last call, then the folders holding their names. */
  async sync(): Promise<void> {
    const files = [...this.pendingFiles];
    const dirs = [...this.pendingDirs];
    this.pendingFiles = new Set();
    this.pendingDirs = new Set();
    try {
      await eachLimit(files, 16, fsyncPath);
      await eachLimit(dirs, 16, fsyncPath);
    } catch (err) {
      for (const f of files) this.pendingFiles.add(f);
      for (const d of dirs) this.pendingDirs.add(d);
      throw err;
    }
  }

  /** Moves a finished temp file to its final name and records its sidecar. */
  private async commitTemp(
    container: string, name: string, tmp: string, md5: string, size: number,
    meta: { metadata?: Record<string, string>; properties?: BlobHttpProperties; blobType?: BlobType; deferSync?: boolean },
    knownIno?: number,
  ): Promise<void> {
    const finalPath = this.blobPath(container, name);
    try {
      await this.prepareParent(container, finalPath, name);
      try {
        await fsp.rename(tmp, finalPath);
      } catch (err) {
        if (!isErrno(err, 'ENOENT')) throw err;
        // A remembered parent folder was removed behind our back: forget it and create it again.
        this.knownDirs.clear();
        this.containerReal.clear();
        await this.prepareParent(container, finalPath, name);
        await fsp.rename(tmp, finalPath);
      }
    } catch (err) {
      await fsp.rm(tmp, { force: true });
      if (isErrno(err, 'EISDIR', 'ENOTEMPTY', 'EEXIST', 'ENOTDIR')) {
        throw new BlobError('BlobNameConflict', `Blob ${name} conflicts with existing blobs under ${name}/`);
      }
      throw err;
    }
    // A rename keeps the inode: the one of the temp file is the blob's.
    const ino = knownIno ?? (await fsp.stat(finalPath)).ino;
    const sidecar: Sidecar = {
      v: 1, name, ino, size, md5,
      metadata: { ...(meta.metadata ?? {}) },
      properties: { ...(meta.properties ?? {}) },
      blobType: meta.blobType ?? 'BlockBlob',
    };
    const sidecarFile = await this.writeSidecar(container, name, sidecar);
    if (meta.deferSync) {
      await this.deferred(finalPath);
      await this.deferred(sidecarFile);
    }
  }

  private async writeSidecar(container: string, name: string, sidecar: Sidecar): Promise<string> {
    const p = this.sidecarPath(container, name);
    await this.mkdirCached(path.dirname(p));
    const tmp = `${p}.${randomBytes(4).toString('hex')}.tmp`;
    await fsp.writeFile(tmp, JSON.stringify(sidecar));
    await fsp.rename(tmp, p);
    return p;
  }

  private async readSidecar(container: string, name: string, ino: number, size: number): Promise<Sidecar | null> {
    try {
      const s = JSON.parse(await fsp.readFile(this.sidecarPath(container, name), 'utf8')) as Sidecar;
      // A crash between the data rename and the sidecar write leaves the old sidecar; ignore it.
      return s.ino === ino && s.size === size && s.name === name ? s : null;
    } catch (err) {
      if (isErrno(err, 'ENOENT')) return null;
      throw err;
    }
  }

  async ensureContainer(container: string): Promise<void> {
    await fsp.mkdir(this.containerDir(container), { recursive: true });
  }

  async putStream(container: string, name: string, source: ByteSource, options: PutOptions = {}): Promise<PutResult> {
    this.blobPath(container, name); // validate before reading anything
    if (!this.containerReal.has(container)) await this.requireContainer(container);
    const knownMd5 = options.contentMd5Verified ? options.contentMd5 : undefined;
    const { tmp, md5, size, ino } = await this.writeTemp(source, Infinity, { knownMd5, deferSync: options.deferSync });
    try {
      if (options.contentMd5 !== undefined && options.contentMd5 !== md5) {
        throw new BlobError('Md5Mismatch', `Content MD5 mismatch for ${container}/${name}: expected ${options.contentMd5}, got ${md5}`);
      }
      if (options.blobType === 'PageBlob' && size % 512 !== 0) {
        throw new BlobError('PageBlobLengthInvalid', `Page blob length ${size} is not a multiple of 512`);
      }
    } catch (err) {
      await fsp.rm(tmp, { force: true });
      throw err;
    }
    await this.commitTemp(container, name, tmp, md5, size, options, ino);
    return { md5, size };
  }

  // ---- reading ------------------------------------------------------------

  private async statBlob(container: string, name: string) {
    const p = this.blobPath(container, name);
    try {
      const st = await fsp.stat(p);
      return st.isFile() ? { p, st } : null;
    } catch (err) {
      if (isErrno(err, 'ENOENT', 'ENOTDIR')) return null;
      throw err;
    }
  }

  async getStream(container: string, name: string, range: RangeOptions = {}): Promise<Readable> {
    const found = await this.statBlob(container, name);
    if (!found) throw new BlobError('BlobNotFound', `Blob ${container}/${name} not found`);
    const start = range.offset ?? 0;
    const end = range.length === undefined ? found.st.size - 1 : Math.min(found.st.size, start + range.length) - 1;
    if (start >= found.st.size || end < start) return Readable.from([]);
    return createReadStream(found.p, { start, end });
  }

  async getProperties(container: string, name: string): Promise<BlobInfo | null> {
    const found = await this.statBlob(container, name);
    if (!found) return null;
    const s = await this.readSidecar(container, name, found.st.ino, found.st.size);
    return {
      size: found.st.size,
      md5: s?.md5,
      metadata: s?.metadata ?? {},
      properties: s?.properties ?? {},
      blobType: s?.blobType ?? 'BlockBlob',
      lastModified: found.st.mtime,
    };
  }

  async exists(container: string, name: string): Promise<boolean> {
    return (await this.statBlob(container, name)) !== null;
  }

  async *list(container: string, prefix = ''): AsyncIterable<BlobListItem> {
    const dir = this.containerDir(container);
    // Start the walk at the deepest folder the prefix names, so a narrow prefix stays cheap.
    const slash = prefix.lastIndexOf('/');
    const startRel = slash >= 0 ? prefix.slice(0, slash) : '';
    if (startRel !== '') {
      try { safeBlobSegments(startRel); } catch { return; }
    }
    const walk = async function* (this: LocalFolderBackend, rel: string): AsyncGenerator<BlobListItem> {
      let entries: import('node:fs').Dirent[];
      try {
        entries = await fsp.readdir(path.join(dir, rel), { withFileTypes: true });
      } catch (err) {
        if (isErrno(err, 'ENOENT', 'ENOTDIR')) return;
        throw err;
      }
      entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
      for (const e of entries) {
        const name = rel === '' ? e.name : `${rel}/${e.name}`;
        if (e.isDirectory()) {
          // Only descend where the prefix could still match.
          if (name.startsWith(prefix) || prefix.startsWith(name + '/')) yield* walk.call(this, name);
        } else if (e.isFile() && name.startsWith(prefix)) {
          const st = await fsp.stat(path.join(dir, name)).catch(() => null);
          if (!st) continue; // deleted while listing
          const s = await this.readSidecar(container, name, st.ino, st.size);
          yield { name, size: st.size, md5: s?.md5, lastModified: st.mtime };
        }
      }
    };
    yield* walk.call(this, startRel);
  }

  // ---- delete -------------------------------------------------------------

  async delete(container: string, name: string): Promise<boolean> {
    const found = await this.statBlob(container, name);
    // Folders may disappear below: forget what we knew about them.
    this.knownDirs.clear();
    this.containerReal.clear();
    await fsp.rm(this.sidecarPath(container, name), { force: true });
    await fsp.rm(this.stagingDir(container, name), { recursive: true, force: true });
    if (!found) return false;
    await fsp.rm(found.p, { force: true });
    // Remove now-empty virtual directories so listings and later blob names stay clean.
    const top = this.containerDir(container);
    for (let d = path.dirname(found.p); d !== top && d.startsWith(top + path.sep); d = path.dirname(d)) {
      try { await fsp.rmdir(d); } catch { break; }
    }
    return true;
  }

  // ---- blocks -------------------------------------------------------------

  async stageBlock(container: string, name: string, blockId: string, source: ByteSource): Promise<{ md5: string; size: number }> {
    this.blobPath(container, name);
    assertBlockId(blockId);
    await this.requireContainer(container);
    const { tmp, md5, size } = await this.writeTemp(source, MAX_BLOCK_BYTES);
    const dir = this.stagingDir(container, name);
    await fsp.mkdir(dir, { recursive: true });
    await fsp.rename(tmp, path.join(dir, Buffer.from(blockId).toString('hex')));
    return { md5, size };
  }

  async listUncommittedBlocks(container: string, name: string): Promise<StagedBlock[]> {
    this.blobPath(container, name);
    const dir = this.stagingDir(container, name);
    let files: string[];
    try {
      files = await fsp.readdir(dir);
    } catch (err) {
      if (isErrno(err, 'ENOENT')) return [];
      throw err;
    }
    const out: StagedBlock[] = [];
    for (const f of files.sort()) {
      const st = await fsp.stat(path.join(dir, f));
      out.push({ id: Buffer.from(f, 'hex').toString(), size: st.size });
    }
    return out;
  }

  async commitBlocks(container: string, name: string, blockIds: string[], options: CommitOptions = {}): Promise<CommitResult> {
    this.blobPath(container, name);
    await this.requireContainer(container);
    const dir = this.stagingDir(container, name);
    const files = blockIds.map((id) => {
      assertBlockId(id);
      return path.join(dir, Buffer.from(id).toString('hex'));
    });
    for (const [i, f] of files.entries()) {
      try { await fsp.access(f); } catch {
        throw new BlobError('BlockNotFound', `Block ${blockIds[i]} of ${container}/${name} is not staged`);
      }
    }
    async function* concat(): AsyncGenerator<Buffer> {
      for (const f of files) for await (const chunk of createReadStream(f)) yield chunk as Buffer;
    }
    const { tmp, md5, size } = await this.writeTemp(concat());
    if (options.contentMd5 !== undefined && options.contentMd5 !== md5) {
      await fsp.rm(tmp, { force: true });
      throw new BlobError('Md5Mismatch', `Content MD5 mismatch for ${container}/${name}: expected ${options.contentMd5}, got ${md5}`);
    }
    await this.commitTemp(container, name, tmp, md5, size, { ...options, blobType: 'BlockBlob' });
    // Like Azure, a commit discards every other uncommitted block.
    await fsp.rm(dir, { recursive: true, force: true });
    return { size, md5 };
  }

  urlFor(container: string, name: string): string {
    return pathToFileURL(this.blobPath(container, name)).href;
  }
}
