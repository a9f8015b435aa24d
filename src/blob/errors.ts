// Typed errors so callers can map blob failures to the documented log status
// codes (BlobRequestFailed, FileNameInvalid, ...) without parsing messages.

export type BlobErrorCode =
  | 'BlobNameInvalid'
  | 'ContainerNameInvalid'
  | 'BlobNotFound'
  | 'ContainerNotFound'
  | 'BlobNameConflict'
  | 'Md5Mismatch'
  | 'BlockNotFound'
  | 'BlockIdInvalid'
  | 'BlockTooLarge'
  | 'PageBlobLengthInvalid'
  | 'BlobRequestFailed';

export class BlobError extends Error {
  readonly code: BlobErrorCode;
  constructor(code: BlobErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'BlobError';
    this.code = code;
  }
}

/** A blob name that could escape the store or is not representable; never retried. */
export class BlobNameInvalid extends BlobError {
  readonly blobName: string;
  constructor(blobName: string, reason: string) {
    super('BlobNameInvalid', `Invalid blob name ${JSON.stringify(blobName)}: ${reason}`);
    this.name = 'BlobNameInvalid';
    this.blobName = blobName;
  }
}

export function isBlobError(err: unknown, code?: BlobErrorCode): err is BlobError {
  return err instanceof BlobError && (code === undefined || err.code === code);
}
