// Transfer failures carry the status code the documented drive log would
// show (reference §3.9), so a worker can put err.code straight into the log.

/** Drive-level status codes (DriveLog/Status). */
export const DRIVE_STATUS_CODES = [
  'Completed', 'CompletedWithWarnings', 'CompletedWithErrors', 'DiskNotFound', 'VolumeNotNtfs', 'DiskOperationFailed',
  'BitLockerVolumeNotFound', 'BitLockerNotActivated', 'BitLockerProtectorNotFound', 'BitLockerKeyInvalid',
  'BitLockerUnlockVolumeFailed', 'BitLockerFailed', 'ManifestNameInvalid', 'ManifestNameTooLong', 'ManifestNotFound',
  'ManifestAccessDenied', 'ManifestCorrupted', 'ManifestFormatInvalid', 'ManifestDriveIdMismatch', 'ReadManifestFailed',
  'BlobListFormatInvalid', 'BlobRequestForbidden', 'InternalError',
] as const;
export type DriveStatusCode = (typeof DRIVE_STATUS_CODES)[number];

/** Blob-level status codes (Blob/@Status). */
export const BLOB_STATUS_CODES = [
  'Completed', 'CompletedWithErrors', 'FileNameInvalid', 'FileNameTooLong', 'FileNotFound', 'FileAccessDenied',
  'BlobRequestFailed', 'BlobRequestForbidden', 'RenameFailed', 'BlobUnexpectedChange', 'LeasePresent', 'IOFailed', 'Failed',
] as const;
export type BlobStatusCode = (typeof BLOB_STATUS_CODES)[number];

export const IMPORT_DISPOSITION_STATUS_CODES = ['Created', 'Renamed', 'Skipped', 'Overwritten', 'Cancelled'] as const;
export type ImportDispositionStatus = (typeof IMPORT_DISPOSITION_STATUS_CODES)[number];

/** PageRange/Block @Status. */
export const CHUNK_STATUS_CODES = [
  'Completed', 'Committed', 'Uncommitted', 'Corrupted', 'FileUnexpectedEnd', 'BlobUnexpectedEnd', 'BlobRequestFailed',
  'IOFailed', 'Failed', 'Cancelled',
] as const;
export type ChunkStatusCode = (typeof CHUNK_STATUS_CODES)[number];

/** Metadata/@Status and Properties/@Status (identical lists). */
export const METADATA_STATUS_CODES = [
  'Completed', 'FileNameInvalid', 'FileNameTooLong', 'FileNotFound', 'FileAccessDenied', 'Corrupted', 'XmlReadFailed',
  'XmlWriteFailed', 'BlobRequestFailed', 'IOFailed', 'Failed', 'Cancelled',
] as const;
export type MetadataStatusCode = (typeof METADATA_STATUS_CODES)[number];

/**
 * Codes of our own, for inputs the service never sees (the tool's CSV files
 * and journal); the documented lists have nothing for them.
 */
export type PrepareErrorCode = 'DataSetInvalid' | 'DriveSetInvalid' | 'JournalInvalid' | 'DriveLogFormatInvalid';

export type TransferErrorCode = DriveStatusCode | BlobStatusCode | ChunkStatusCode | MetadataStatusCode | PrepareErrorCode;

export class TransferError extends Error {
  readonly code: TransferErrorCode;
  /** 1-based line in the input file, when the error is about one. */
  readonly line?: number;
  /** The file (or manifest FilePath) concerned, when known. */
  readonly path?: string;

  constructor(code: TransferErrorCode, message: string, details: { line?: number; path?: string; cause?: unknown } = {}) {
    super(details.line !== undefined ? `line ${details.line}: ${message}` : message, { cause: details.cause });
    this.name = 'TransferError';
    this.code = code;
    this.line = details.line;
    this.path = details.path;
  }
}

export function isTransferError(err: unknown, code?: TransferErrorCode): err is TransferError {
  return err instanceof TransferError && (code === undefined || err.code === code);
}
