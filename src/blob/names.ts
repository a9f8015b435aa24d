// Name rules shared by both backends. The local backend maps names onto the
// filesystem, so it is stricter than Azure: anything that could climb out of
// the root or be read differently by the OS is refused outright.
import { BlobError, BlobNameInvalid } from './errors.ts';

/** Azure container names, plus the special root container. */
const CONTAINER_NAME = /^(?:\$root|[a-z0-9](?:[a-z0-9]|-(?=[a-z0-9])){2,62})$/;

export function assertContainerName(container: string): void {
  if (!CONTAINER_NAME.test(container)) {
    throw new BlobError('ContainerNameInvalid', `Invalid container name ${JSON.stringify(container)}`);
  }
}

/** Azure's limit on blob name length. */
export const MAX_BLOB_NAME_LENGTH = 1024;

/**
 * Returns the '/'-separated segments of a blob name that is safe to use as a
 * relative path. Refuses: empty, too long, NUL/control characters, backslashes
 * (a Windows path separator, and a way to smuggle "..\"), absolute names,
 * drive letters, empty segments ("a//b", trailing "/"), "." and "..".
 */
export function safeBlobSegments(name: string): string[] {
  if (typeof name !== 'string' || name.length === 0) throw new BlobNameInvalid(String(name), 'empty');
  if (name.length > MAX_BLOB_NAME_LENGTH) throw new BlobNameInvalid(name.slice(0, 64) + '…', 'longer than 1024 characters');
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(name)) throw new BlobNameInvalid(name, 'contains a control or NUL character');
  if (name.includes('\\')) throw new BlobNameInvalid(name, 'contains a backslash');
  if (name.startsWith('/')) throw new BlobNameInvalid(name, 'is absolute');
  if (/^[A-Za-z]:/.test(name)) throw new BlobNameInvalid(name, 'starts with a drive letter');
  const segments = name.split('/');
  for (const s of segments) {
    if (s === '') throw new BlobNameInvalid(name, 'has an empty path segment');
    if (s === '.' || s === '..') throw new BlobNameInvalid(name, `has a "${s}" segment`);
    if (Buffer.byteLength(s) > 255) throw new BlobNameInvalid(name, 'has a path segment longer than 255 bytes');
  }
  return segments;
}

/** Block ids are base64 strings of at most 64 bytes once decoded (Put Block rules). */
export function assertBlockId(blockId: string): void {
  if (typeof blockId !== 'string' || blockId.length === 0 || !/^[A-Za-z0-9+/]+={0,2}$/.test(blockId) || blockId.length % 4 !== 0) {
    throw new BlobError('BlockIdInvalid', `Invalid block id ${JSON.stringify(blockId)}: must be base64`);
  }
  if (Buffer.from(blockId, 'base64').length > 64) {
    throw new BlobError('BlockIdInvalid', `Invalid block id ${JSON.stringify(blockId)}: longer than 64 bytes`);
  }
}
