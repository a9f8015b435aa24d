import { afterAll, beforeAll } from 'vitest';
import { AzureBlobBackend } from '../../src/blob/azure.ts';
import { startAzurite, type AzuriteHandle } from '../helpers/azurite.ts';
import { runBlobContract } from './contract.ts';

let azurite: AzuriteHandle | undefined;
let backend: AzureBlobBackend;
beforeAll(async () => {
  azurite = await startAzurite();
  backend = new AzureBlobBackend(azurite.connectionString);
});
afterAll(async () => {
  await azurite?.stop();
});

runBlobContract('AzureBlobBackend (Azurite)', () => backend);
