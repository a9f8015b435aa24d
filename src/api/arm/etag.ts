/**
 * ETags are the job's version number. If-Match on PATCH/DELETE (and PUT) makes the change conditional: a
 * mismatch is 412 PreconditionFailed, and the store re-checks the version inside the transaction so a race
 * between the check and the write still cannot lose an update.
 */
import { ApiError, ApiErrorCode } from '../errors.ts';

export const etagOf = (version: number) => `"${version}"`;

export interface Precondition {
  /** The version the caller insists on; undefined when any version will do ('*' or no header). */
  version?: number;
  /** If-Match was given (with '*' the resource must exist). */
  mustExist: boolean;
  /** If-None-Match: * — the resource must not exist (create only). */
  mustNotExist: boolean;
}

const preconditionFailed = (message: string) => new ApiError(412, ApiErrorCode.PreconditionFailed, message);

/** Reads If-Match / If-None-Match. A value that is not one of our ETags can never match: 412. */
export function readPrecondition(headers: Record<string, unknown>): Precondition {
  const ifMatch = headerText(headers['if-match']);
  const ifNoneMatch = headerText(headers['if-none-match']);
  const out: Precondition = { mustExist: false, mustNotExist: false };
  if (ifNoneMatch !== undefined) {
    if (ifNoneMatch.trim() !== '*') throw new ApiError(400, ApiErrorCode.InvalidRequestContent, "Only 'If-None-Match: *' is supported.", 'If-None-Match');
    out.mustNotExist = true;
  }
  if (ifMatch !== undefined) {
    out.mustExist = true;
    const tags = ifMatch.split(',').map((t) => t.trim()).filter(Boolean);
    if (tags.includes('*')) return out;
    const versions = new Set(tags.map(parseEtag));
    if (versions.size !== 1 || versions.has(undefined)) {
      throw preconditionFailed(`The If-Match value '${ifMatch.slice(0, 80)}' does not match the job's ETag.`);
    }
    out.version = [...versions][0];
  }
  return out;
}

function headerText(v: unknown): string | undefined {
  if (v === undefined) return undefined;
  return Array.isArray(v) ? v.join(',') : String(v);
}

function parseEtag(tag: string): number | undefined {
  const m = /^(?:W\/)?"?(\d{1,15})"?$/.exec(tag);
  return m ? Number(m[1]) : undefined;
}

/** Checks a precondition against the current version (null when the job does not exist). */
export function checkPrecondition(p: Precondition, currentVersion: number | null): void {
  if (currentVersion === null) {
    if (p.mustExist) throw preconditionFailed('If-Match was given but the job does not exist.');
    return;
  }
  if (p.mustNotExist) throw preconditionFailed('If-None-Match: * was given but the job already exists.');
  if (p.version !== undefined && p.version !== currentVersion) {
    throw preconditionFailed(`The job was changed since it was read: its ETag is ${etagOf(currentVersion)}, If-Match said ${etagOf(p.version)}.`);
  }
}
