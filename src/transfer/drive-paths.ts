// FilePath values in manifests are drive-relative and Windows-flavoured
// (documented samples: "\pictures\bob\wild\desert.jpg"). These helpers turn
// them into safe relative paths and make sure that what we finally open is
// inside the drive folder even after following symlinks.
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { TransferError } from './errors.ts';

/** NTFS component limit; longer names cannot exist on a prepared drive. */
const MAX_SEGMENT_BYTES = 255;
/** Generous bound on a whole path (NTFS extended paths top out at 32,767 UTF-16 units). */
const MAX_PATH_LENGTH = 32_767;

/**
 * Normalises a manifest FilePath into '/'-separated segments relative to the
 * drive root. One leading "\" (root of the drive, as in the docs) is accepted;
 * refused with FileNameInvalid: empty, NUL/control characters, POSIX-absolute
 * ("/x"), drive letters ("C:"), UNC ("\\server"), "." or ".." segments and
 * empty segments. Over-long names give FileNameTooLong.
 */
export function driveRelativeSegments(filePath: string): string[] {
  const fail = (why: string) => new TransferError('FileNameInvalid', `File path ${JSON.stringify(filePath)} ${why}`, { path: filePath });
  if (typeof filePath !== 'string' || filePath.trim() === '') throw fail('is empty');
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f]/.test(filePath)) throw fail('contains a control or NUL character');
  if (filePath.startsWith('/')) throw fail('is absolute');
  if (filePath.startsWith('\\\\')) throw fail('is a UNC path');
  if (/^[A-Za-z]:/.test(filePath)) throw fail('names a drive letter');
  if (filePath.length > MAX_PATH_LENGTH) {
    throw new TransferError('FileNameTooLong', `File path longer than ${MAX_PATH_LENGTH} characters`, { path: filePath.slice(0, 200) });
  }
  const rel = filePath.startsWith('\\') ? filePath.slice(1) : filePath;
  const segments = rel.split(/[\\/]/);
  for (const s of segments) {
    if (s === '') throw fail('has an empty path segment');
    if (s === '.' || s === '..') throw fail(`has a "${s}" segment`);
    if (Buffer.byteLength(s) > MAX_SEGMENT_BYTES) {
      throw new TransferError('FileNameTooLong', `File path ${JSON.stringify(filePath)} has a name longer than ${MAX_SEGMENT_BYTES} bytes`, { path: filePath });
    }
  }
  return segments;
}

/** The manifest spelling of a drive-relative path: "\dir\file" (as the documented samples). */
export function toManifestFilePath(segments: string[] | string): string {
  const segs = typeof segments === 'string' ? driveRelativeSegments(segments) : segments;
  return '\\' + segs.join('\\');
}

function isInside(root: string, p: string): boolean {
  return p === root || p.startsWith(root.endsWith(path.sep) ? root : root + path.sep);
}

function ioError(err: unknown, relPath: string): TransferError {
  const code = (err as NodeJS.ErrnoException)?.code;
  if (code === 'ENOENT' || code === 'ENOTDIR') return new TransferError('FileNotFound', `File ${relPath} not found on the drive`, { path: relPath, cause: err });
  if (code === 'EACCES' || code === 'EPERM') return new TransferError('FileAccessDenied', `Access denied to ${relPath}`, { path: relPath, cause: err });
  if (code === 'ENAMETOOLONG') return new TransferError('FileNameTooLong', `File path ${relPath} too long`, { path: relPath, cause: err });
  return new TransferError('IOFailed', `I/O error on ${relPath}: ${(err as Error)?.message}`, { path: relPath, cause: err });
}

/**
 * Resolves an existing file named by a manifest FilePath to its real absolute
 * path, refusing anything that, once symlinks are followed, lies outside the
 * drive folder (FileAccessDenied). Call at read time and open the returned path.
 */
export async function resolveInsideDrive(driveRoot: string, relPath: string, opts: { realRoot?: string } = {}): Promise<string> {
  const segments = driveRelativeSegments(relPath);
  let realRoot: string;
  try {
    realRoot = opts.realRoot ?? await fsp.realpath(driveRoot);
  } catch (err) {
    throw ioError(err, driveRoot);
  }
  let real: string;
  try {
    real = await fsp.realpath(path.join(realRoot, ...segments));
  } catch (err) {
    throw ioError(err, relPath);
  }
  if (!isInside(realRoot, real) || real === realRoot) {
    throw new TransferError('FileAccessDenied', `File path ${JSON.stringify(relPath)} resolves outside the drive`, { path: relPath });
  }
  return real;
}

/**
 * For writing (export): creates the parent folders of relPath on the drive and
 * returns the absolute path to write, refusing parents that escape the drive
 * via symlinks and a target that is itself a symlink.
 */
export async function resolveWritableInsideDrive(driveRoot: string, relPath: string): Promise<string> {
  const segments = driveRelativeSegments(relPath);
  const realRoot = await fsp.realpath(driveRoot).catch((err) => { throw ioError(err, driveRoot); });
  const parent = path.join(realRoot, ...segments.slice(0, -1));
  try {
    await fsp.mkdir(parent, { recursive: true });
  } catch (err) {
    throw ioError(err, relPath);
  }
  const realParent = await fsp.realpath(parent).catch((err) => { throw ioError(err, relPath); });
  if (!isInside(realRoot, realParent)) {
    throw new TransferError('FileAccessDenied', `File path ${JSON.stringify(relPath)} resolves outside the drive`, { path: relPath });
  }
  const target = path.join(realParent, segments[segments.length - 1]);
  const st = await fsp.lstat(target).catch(() => null);
  if (st?.isSymbolicLink()) {
    throw new TransferError('FileAccessDenied', `File path ${JSON.stringify(relPath)} is a symbolic link`, { path: relPath });
  }
  return target;
}
