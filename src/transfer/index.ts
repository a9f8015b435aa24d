// Data-plane building blocks for the import/export workers and the CLI.
export * from './errors.ts';
export * from './md5.ts';
export * from './manifest-types.ts';
export { ManifestWriter, formatManifestBlob } from './manifest-writer.ts';
export {
  readManifestEntries, readManifestHeader, verifyManifestHash,
  MAX_BLOCK_BLOB_LENGTH, MAX_PAGE_BLOB_LENGTH, MAX_CHUNK_LENGTH,
  type ManifestBlobEntry, type ReadManifestOptions,
} from './manifest-reader.ts';
export { driveRelativeSegments, toManifestFilePath, resolveInsideDrive, resolveWritableInsideDrive } from './drive-paths.ts';
export * from './drive-log.ts';
export * from './metadata-file.ts';
export * from './csv.ts';
export * from './naming.ts';
export {
  prepareDrive, hashManifest, MANIFEST_FILE_NAME, DRIVE_SIDE_FOLDER,
  type PrepareDriveOptions, type PrepareDriveResult, type PrepareProgress,
} from './prepare.ts';
