/**
 * JSON Schemas of the ARM surface, written after the Microsoft.ImportExport swagger (2020-08-01/2021-01-01
 * models). The same objects validate requests (route-table.ts compiles them with Ajv), serialize responses
 * (Fastify's fast-json-stringify) and make up /openapi.json. Sneakernet's own additions live under
 * `properties.sneakernet`, which Azure clients ignore.
 */
import { SUPPORTED_API_VERSIONS } from './api-version.ts';
import { JOB_NAME_PATTERN, RESOURCE_GROUP_PATTERN, SUBSCRIPTION_ID_PATTERN, MAX_DRIVES_PER_JOB } from '../../domain/validation.ts';
import { MAX_TOP } from './paging.ts';

export type JsonSchema = Record<string, unknown>;

export const str = (description?: string): JsonSchema => (description ? { type: 'string', description } : { type: 'string' });
export const strings: JsonSchema = { type: 'array', items: { type: 'string' } };
export const int: JsonSchema = { type: 'integer' };
export const bool: JsonSchema = { type: 'boolean' };
export const obj = (properties: Record<string, JsonSchema>, extra: JsonSchema = {}): JsonSchema => ({ type: 'object', properties, ...extra });

// ---------------------------------------------------------------- parameters

export const apiVersionParam: JsonSchema = { type: 'string', enum: [...SUPPORTED_API_VERSIONS], description: 'The API version.' };
export const subscriptionIdParam: JsonSchema = { type: 'string', pattern: SUBSCRIPTION_ID_PATTERN.source, description: 'The subscription id.' };
export const resourceGroupParam: JsonSchema = { type: 'string', pattern: RESOURCE_GROUP_PATTERN.source, maxLength: 90, description: 'The resource group name, case-insensitive.' };
export const jobNameParam: JsonSchema = { type: 'string', pattern: JOB_NAME_PATTERN.source, description: '3-64 characters: a letter, then letters, digits, - or _.' };
export const locationNameParam: JsonSchema = { type: 'string', maxLength: 100, description: "A location's name or short id, e.g. 'West US' or 'westus'." };

export const apiVersionQuery = obj({ 'api-version': apiVersionParam }, { required: ['api-version'] });
export const listQuery = obj(
  {
    'api-version': apiVersionParam,
    $top: { type: 'integer', minimum: 1, maximum: MAX_TOP, description: `Page size (at most ${MAX_TOP}); nextLink brings the next page.` },
    $filter: { type: 'string', maxLength: 1000, description: "state eq 'X', jobType eq 'Import|Export', state in ('A','B'), joined by and; or between comparisons on one field." },
    $skipToken: { type: 'string', maxLength: 200, description: 'Opaque cursor from a nextLink.' },
  },
  { required: ['api-version'] },
);

// ---------------------------------------------------------------- models

export const returnAddress = obj(
  {
    recipientName: str(), streetAddress1: str(), streetAddress2: str(), city: str(), stateOrProvince: str(),
    postalCode: str(), countryOrRegion: str(), phone: str(), email: str(),
  },
  { required: ['recipientName', 'streetAddress1', 'city', 'postalCode', 'countryOrRegion', 'phone', 'email'] },
);
export const returnShipping = obj({ carrierName: str(), carrierAccountNumber: str() }, { required: ['carrierName', 'carrierAccountNumber'] });
export const shippingInformation = obj({
  recipientName: str(), streetAddress1: str(), streetAddress2: str(), city: str(), stateOrProvince: str(),
  postalCode: str(), countryOrRegion: str(), phone: str(), additionalInformation: str(),
});
export const deliveryPackage = obj({ carrierName: str(), trackingNumber: str(), driveCount: int, shipDate: str() }, { required: ['carrierName', 'trackingNumber'] });
export const packageInformation = obj({ carrierName: str(), trackingNumber: str(), driveCount: int, shipDate: str() });
export const exportSpec = obj({
  blobList: obj({ blobPath: strings, blobPathPrefix: strings }),
  blobListBlobPath: str(),
});
export const encryptionKey = obj({ kekType: str('MicrosoftManaged (default) or CustomerManaged'), kekUrl: str(), kekVaultResourceID: str() });
export const identity = obj({ type: str(), principalId: str(), tenantId: str() });
export const systemData = obj({
  createdBy: str(), createdByType: str(), createdAt: { type: 'string', format: 'date-time' },
  lastModifiedBy: str(), lastModifiedByType: str(), lastModifiedAt: { type: 'string', format: 'date-time' },
});

/** A drive in a request: bitLockerKey goes in, never comes out (only listBitLockerKeys shows it). */
export const driveRequest = obj({
  driveId: str("The drive's hardware serial number, without spaces."),
  bitLockerKey: str('BitLocker recovery password: 8 groups of 6 digits.'),
  manifestFile: str(), manifestHash: str(), driveHeaderHash: str(),
});

const reason = obj({ code: str(), message: str() });
const deadline = obj({ kind: str(), at: { type: 'string', format: 'date-time' }, description: str() });

/** Sneakernet's additions to a drive (under properties.sneakernet.drives). */
export const driveExtras = obj({
  driveId: str(),
  stateReason: reason,
  stateEnteredAt: { type: 'string', format: 'date-time' },
  bytesTotal: int, bytesSucceeded: int,
  objectsTotal: int, objectsSucceeded: int, objectsFailed: int, objectsSkipped: int,
  phase: { type: 'string', nullable: true },
  rateBps: int,
  hasErrors: bool,
  isExtra: bool,
});

/** Everything sneakernet adds beyond Azure's model: why the job is in its state, what happens next and when. */
export const sneakernetExtras = obj({
  etag: str('The ETag of this job version (also in the ETag header); use it in If-Match.'),
  version: int,
  stateReason: reason,
  stateEnteredAt: { type: 'string', format: 'date-time' },
  faultedFrom: str(),
  pendingDeadline: { ...deadline, nullable: true, description: 'The next automatic step (deletion, operator alert...) and when it is due.' },
  pendingDeadlines: {
    type: 'array', description: 'Every scheduled automatic step: what will happen, when, and when the customer is warned.',
    items: obj({ kind: str(), dueAt: { type: 'string', format: 'date-time' }, description: str(), warningAt: { type: 'string', format: 'date-time' } }),
  },
  returnIssues: {
    type: 'array', description: 'Drives damaged or lost in return shipping, with the blobs to export again or download.',
    items: obj({ kind: str(), driveIds: strings, blobs: strings, note: str(), recordedAt: { type: 'string', format: 'date-time' }, advice: str() }),
  },
  returnAddressProblem: obj({ flaggedAt: { type: 'string', format: 'date-time' }, note: str(), destroyDrivesAt: { type: 'string', format: 'date-time' } }, { description: 'The return address is wrong or missing: fix it with an update (PATCH).' }),
  drivesDueForDestruction: { ...strings, description: 'Drives that will be securely destroyed because their owner could not be reached.' },
  destroyedDrives: { ...strings, description: 'Drives securely destroyed (certificates from the operators).' },
  createdAt: { type: 'string', format: 'date-time' },
  updatedAt: { type: 'string', format: 'date-time' },
  drives: { type: 'array', items: driveExtras },
  extraDrives: { type: 'array', items: str(), description: 'Drives that arrived with the package but are not in driveList: not processed, returned with the job.' },
});

export const driveStatus = obj({
  driveId: str(), manifestFile: str(), manifestHash: str(), driveHeaderHash: str(),
  state: str('Specified, Received, NeverReceived, Transferring, Completed, CompletedMoreInfo, ShippedBack'),
  copyStatus: str(), percentComplete: int, verboseLogUri: str(), errorLogUri: str(), manifestUri: str(), bytesSucceeded: int,
});

export const jobDetails = obj({
  storageAccountId: str(), jobType: str('Import or Export'), returnAddress, returnShipping, shippingInformation, deliveryPackage,
  returnPackage: packageInformation, diagnosticsPath: str(), logLevel: str('Error or Verbose'), backupDriveManifest: bool,
  state: str(), cancelRequested: bool, percentComplete: int, incompleteBlobListUri: str(),
  driveList: { type: 'array', items: driveStatus }, export: exportSpec, provisioningState: str(), encryptionKey,
  sneakernet: sneakernetExtras,
});

export const jobResponse = obj({
  systemData, id: str(), name: str(), type: str(), location: str(),
  tags: { type: 'object', additionalProperties: { type: 'string' } },
  properties: jobDetails, identity,
});

export const listJobsResponse = obj({ nextLink: str(), value: { type: 'array', items: jobResponse } });

export const putJobBody = obj(
  {
    location: str('A location name or id from the locations list.'),
    tags: { type: 'object', additionalProperties: { type: 'string' } },
    properties: obj(
      {
        storageAccountId: str(), jobType: { type: 'string', description: 'Import or Export' }, returnAddress, returnShipping,
        deliveryPackage, diagnosticsPath: str(), logLevel: str(), backupDriveManifest: bool,
        driveList: { type: 'array', maxItems: MAX_DRIVES_PER_JOB, items: driveRequest },
        export: exportSpec, encryptionKey,
      },
      { required: ['storageAccountId', 'jobType'] },
    ),
  },
  { required: ['location', 'properties'] },
);

export const patchJobBody = obj({
  tags: { type: 'object', additionalProperties: { type: 'string' } },
  properties: obj({
    cancelRequested: { type: 'boolean', description: 'If given, must be true.' },
    state: { type: 'string', description: "If given, must be 'Shipping' (or empty: unchanged)." },
    returnAddress, returnShipping, deliveryPackage, logLevel: str(), backupDriveManifest: bool,
    driveList: { type: 'array', maxItems: MAX_DRIVES_PER_JOB, items: driveRequest },
  }),
});

export const bitLockerKeysResponse = obj({ value: { type: 'array', items: obj({ bitLockerKey: str(), driveId: str() }) } });

export const location = obj({
  id: str(), name: str(), type: str(),
  properties: obj({
    recipientName: str(), streetAddress1: str(), streetAddress2: str(), city: str(), stateOrProvince: str(), postalCode: str(),
    countryOrRegion: str(), phone: str(), additionalShippingInformation: str(), supportedCarriers: strings, alternateLocations: strings,
  }),
});
export const locationsResponse = obj({ value: { type: 'array', items: location } });

export const operation = obj({ name: str(), display: obj({ provider: str(), resource: str(), operation: str(), description: str() }) });
export const operationsResponse = obj({ value: { type: 'array', items: operation } });

export const errorResponse = obj({
  error: obj({
    code: str(), message: str(), target: str(),
    details: { type: 'array', items: obj({ code: str(), target: str(), message: str() }) },
    innererror: { type: 'object' },
  }),
});
