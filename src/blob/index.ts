export * from './backend.ts';
export * from './errors.ts';
export { LocalFolderBackend } from './local-folder.ts';
export { AzureBlobBackend, AZURE_UPLOAD_BLOCK_SIZE } from './azure.ts';
export { assertContainerName, safeBlobSegments, assertBlockId } from './names.ts';
