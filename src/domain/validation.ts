/**
 * Validation of customer job bodies (ARM PutJobParameters and UpdateJobParameters), pure: values in, a
 * normalised value or a DomainError('InvalidInput') with a `target` out. The API's route schemas check JSON types
 * first; this module owns the rules (names, limits, what Import and Export need) so the CLI, the console and tests
 * can ask the same questions.
 */
import { DomainError } from './errors.ts';
import { JobState, JobType, LogLevel } from './states.ts';

// ---------------------------------------------------------------- names and limits

/** 3–64 characters, starts with a letter, then letters, digits, '-' or '_' (unique case-insensitively per resource group). */
export const JOB_NAME_PATTERN = /^[A-Za-z][A-Za-z0-9_-]{2,63}$/;
/** ARM resource group names: 1–90 of letters (any script), digits, '_', '-', '.', '(', ')'; not ending in '.'. */
export const RESOURCE_GROUP_PATTERN = /^[-\w.()\p{L}\p{N}]{0,89}[-\w()\p{L}\p{N}]$/u;
/** Subscription ids: a GUID in Azure; sneakernet accepts any short id of letters, digits and '-'. */
export const SUBSCRIPTION_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9-]{0,63}$/;
/** A drive's hardware serial number without spaces. */
export const DRIVE_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
/** BitLocker recovery password: 48 digits in 8 groups of 6. */
export const BITLOCKER_KEY_PATTERN = /^\d{6}(-\d{6}){7}$/;
/** Base16 MD5 (32) or longer hashes (the newer tool emits 64). */
export const MANIFEST_HASH_PATTERN = /^[0-9A-Fa-f]{32,128}$/;
export const STORAGE_ACCOUNT_ID_PATTERN =
  /^\/subscriptions\/[^/\s]{1,64}\/resourceGroups\/[^/\s]{1,90}\/providers\/Microsoft\.(ClassicStorage|Storage)\/storageAccounts\/[a-z0-9]{3,24}$/i;

export const MAX_DRIVES_PER_JOB = 10;
export const MAX_TAGS = 50;
export const MAX_TAG_NAME = 512;
export const MAX_TAG_VALUE = 256;
export const MAX_TEXT = 256;
export const MAX_PATH_TEXT = 1024;
/** Export blob lists inline in the job are limited (classic: 32 KB); bigger lists go in a blob (blobListBlobPath). */
export const MAX_EXPORT_BLOB_LIST_BYTES = 32 * 1024;
export const DEFAULT_DIAGNOSTICS_PATH = 'waimportexport';

export const KekType = { MicrosoftManaged: 'MicrosoftManaged', CustomerManaged: 'CustomerManaged' } as const;

// ---------------------------------------------------------------- shapes

export interface ReturnAddress {
  recipientName: string;
  streetAddress1: string;
  streetAddress2?: string;
  city: string;
  stateOrProvince?: string;
  postalCode: string;
  countryOrRegion: string;
  phone: string;
  email: string;
}
export interface ReturnShipping {
  carrierName: string;
  carrierAccountNumber: string;
}
export interface DeliveryPackage {
  carrierName: string;
  trackingNumber: string;
  driveCount?: number;
  shipDate?: string;
}
export interface DriveSpec {
  driveId: string;
  bitLockerKey: string;
  manifestFile: string;
  manifestHash: string;
  driveHeaderHash?: string;
}
export interface ExportSpec {
  blobList?: { blobPath?: string[]; blobPathPrefix?: string[] };
  blobListBlobPath?: string;
}
export interface EncryptionKey {
  kekType: string;
  kekUrl?: string;
  kekVaultResourceID?: string;
}

export interface JobSpec {
  location: string;
  tags: Record<string, string>;
  jobType: JobType;
  storageAccountId: string;
  returnAddress?: ReturnAddress;
  returnShipping?: ReturnShipping;
  deliveryPackage?: DeliveryPackage;
  diagnosticsPath: string;
  logLevel: LogLevel;
  backupDriveManifest: boolean;
  drives: DriveSpec[];
  exportSpec?: ExportSpec;
  encryptionKey: EncryptionKey;
}

/** A PATCH body, normalised: absent and null fields are left out; `state: ""` means "unchanged" (the spec's own example). */
export interface JobPatch {
  tags?: Record<string, string>;
  cancelRequested?: boolean;
  state?: typeof JobState.Shipping;
  returnAddress?: ReturnAddress;
  returnShipping?: ReturnShipping;
  deliveryPackage?: DeliveryPackage;
  logLevel?: LogLevel;
  backupDriveManifest?: boolean;
  driveList?: Array<Omit<DriveSpec, 'bitLockerKey'> & { bitLockerKey?: string }>;
}

// ---------------------------------------------------------------- helpers

const invalid = (message: string, target: string): never => {
  throw new DomainError('InvalidInput', message, { target });
};

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const given = (v: unknown) => v !== undefined && v !== null;
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

function text(v: unknown, target: string, opts: { max?: number; allowEmpty?: boolean; pattern?: RegExp; hint?: string } = {}): string {
  if (typeof v !== 'string') return invalid(`'${target}' must be a string.`, target);
  const max = opts.max ?? MAX_TEXT;
  if (!opts.allowEmpty && v.trim().length === 0) return invalid(`'${target}' must not be empty.`, target);
  if (v.length > max) return invalid(`'${target}' must be at most ${max} characters.`, target);
  if (CONTROL.test(v)) return invalid(`'${target}' must not contain control characters.`, target);
  if (opts.pattern && !opts.pattern.test(v)) return invalid(`'${target}' is not valid${opts.hint ? `: ${opts.hint}` : '.'}`, target);
  return v;
}

function optionalText(v: unknown, target: string, opts: Parameters<typeof text>[2] = {}): string | undefined {
  return given(v) ? text(v, target, { allowEmpty: true, ...opts }) : undefined;
}

function bool(v: unknown, target: string): boolean {
  if (typeof v !== 'boolean') return invalid(`'${target}' must be true or false.`, target);
  return v;
}

function object(v: unknown, target: string): Record<string, unknown> {
  if (!isObject(v)) return invalid(`'${target}' must be a JSON object.`, target);
  return v;
}

/** Matches a value against allowed words case-insensitively and returns the canonical spelling. */
function oneOf<T extends string>(v: unknown, allowed: readonly T[], target: string): T {
  const found = typeof v === 'string' ? allowed.find((a) => a.toLowerCase() === v.toLowerCase()) : undefined;
  if (!found) return invalid(`'${target}' must be one of ${allowed.join(', ')}.`, target);
  return found;
}

const compact = <T extends Record<string, unknown>>(o: T): T =>
  Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;

// ---------------------------------------------------------------- names

export function validateJobName(name: unknown): string {
  if (typeof name !== 'string' || !JOB_NAME_PATTERN.test(name)) {
    throw new DomainError('InvalidInput', "The job name must be 3-64 characters, start with a letter, and contain only letters, digits, '-' and '_'.", { target: 'jobName' });
  }
  return name;
}

export function validateResourceGroupName(name: unknown): string {
  if (typeof name !== 'string' || !RESOURCE_GROUP_PATTERN.test(name)) {
    throw new DomainError('InvalidInput', "The resource group name must be 1-90 characters of letters, digits, '_', '-', '.', '(' and ')', and must not end with '.'.", { target: 'resourceGroupName' });
  }
  return name;
}

export function validateSubscriptionId(id: unknown): string {
  if (typeof id !== 'string' || !SUBSCRIPTION_ID_PATTERN.test(id)) {
    throw new DomainError('InvalidInput', "The subscription id must be letters, digits and '-' (at most 64).", { target: 'subscriptionId' });
  }
  return id;
}

// ---------------------------------------------------------------- parts

export function validateTags(v: unknown, target = 'tags'): Record<string, string> {
  const o = object(v, target);
  const entries = Object.entries(o);
  if (entries.length > MAX_TAGS) invalid(`At most ${MAX_TAGS} tags are allowed.`, target);
  const out: Record<string, string> = {};
  for (const [k, val] of entries) {
    if (k.length === 0 || k.length > MAX_TAG_NAME || /[<>%&\\?/]/.test(k) || CONTROL.test(k)) {
      invalid(`Tag name '${k.slice(0, 40)}' is not valid: 1-${MAX_TAG_NAME} characters, none of < > % & \\ ? /.`, `${target}.${k.slice(0, 40)}`);
    }
    out[k] = text(val, `${target}.${k}`, { max: MAX_TAG_VALUE, allowEmpty: true });
  }
  return out;
}

export function validateReturnAddress(v: unknown, target = 'properties.returnAddress'): ReturnAddress {
  const o = object(v, target);
  return compact({
    recipientName: text(o.recipientName, `${target}.recipientName`),
    streetAddress1: text(o.streetAddress1, `${target}.streetAddress1`),
    streetAddress2: optionalText(o.streetAddress2, `${target}.streetAddress2`),
    city: text(o.city, `${target}.city`),
    stateOrProvince: optionalText(o.stateOrProvince, `${target}.stateOrProvince`),
    postalCode: text(o.postalCode, `${target}.postalCode`),
    countryOrRegion: text(o.countryOrRegion, `${target}.countryOrRegion`),
    phone: text(o.phone, `${target}.phone`),
    email: text(o.email, `${target}.email`, { pattern: /^[^@\s]+@[^@\s]+$/, hint: 'an e-mail address is needed.' }),
  });
}

export function validateReturnShipping(v: unknown, target = 'properties.returnShipping'): ReturnShipping {
  const o = object(v, target);
  return {
    carrierName: text(o.carrierName, `${target}.carrierName`),
    carrierAccountNumber: text(o.carrierAccountNumber, `${target}.carrierAccountNumber`),
  };
}

export function validateDeliveryPackage(v: unknown, target = 'properties.deliveryPackage'): DeliveryPackage {
  const o = object(v, target);
  let driveCount: number | undefined;
  if (given(o.driveCount)) {
    if (typeof o.driveCount !== 'number' || !Number.isInteger(o.driveCount) || o.driveCount < 0 || o.driveCount > 1000) {
      invalid(`'${target}.driveCount' must be a whole number from 0 to 1000.`, `${target}.driveCount`);
    }
    driveCount = o.driveCount as number;
  }
  return compact({
    carrierName: text(o.carrierName, `${target}.carrierName`),
    trackingNumber: text(o.trackingNumber, `${target}.trackingNumber`),
    driveCount,
    shipDate: optionalText(o.shipDate, `${target}.shipDate`, { max: 64 }),
  });
}

function validateDrive(v: unknown, target: string, keyRequired: boolean): DriveSpec | Omit<DriveSpec, 'bitLockerKey'> & { bitLockerKey?: string } {
  const o = object(v, target);
  const driveId = text(o.driveId, `${target}.driveId`, { max: 64, pattern: DRIVE_ID_PATTERN, hint: "the drive's serial number: letters, digits, '-', '_' or '.', no spaces." });
  const bitLockerKey = keyRequired || given(o.bitLockerKey)
    ? text(o.bitLockerKey, `${target}.bitLockerKey`, { max: 64, pattern: BITLOCKER_KEY_PATTERN, hint: 'a BitLocker recovery password is 8 groups of 6 digits separated by -.' })
    : undefined;
  return compact({
    driveId,
    bitLockerKey,
    manifestFile: text(o.manifestFile, `${target}.manifestFile`, { max: MAX_PATH_TEXT }),
    manifestHash: text(o.manifestHash, `${target}.manifestHash`, { max: 128, pattern: MANIFEST_HASH_PATTERN, hint: 'a base16 hash of the manifest file.' }),
    driveHeaderHash: optionalText(o.driveHeaderHash, `${target}.driveHeaderHash`, { max: 4096 }),
  });
}

export function validateDriveList(v: unknown, target = 'properties.driveList', keyRequired = true): DriveSpec[] {
  if (!Array.isArray(v)) return invalid(`'${target}' must be an array of drives.`, target);
  if (v.length === 0) invalid(`'${target}' must list at least one drive.`, target);
  if (v.length > MAX_DRIVES_PER_JOB) invalid(`A job can have at most ${MAX_DRIVES_PER_JOB} drives.`, target);
  const drives = v.map((d, i) => validateDrive(d, `${target}[${i}]`, keyRequired)) as DriveSpec[];
  const seen = new Set<string>();
  drives.forEach((d, i) => {
    const k = d.driveId.toLowerCase();
    if (seen.has(k)) invalid(`Drive '${d.driveId}' is listed twice.`, `${target}[${i}].driveId`);
    seen.add(k);
  });
  return drives;
}

export function validateExportSpec(v: unknown, target = 'properties.export'): ExportSpec {
  const o = object(v, target);
  const hasList = given(o.blobList);
  const hasBlob = given(o.blobListBlobPath);
  if (hasList === hasBlob) invalid(`'${target}' needs exactly one of blobList or blobListBlobPath.`, target);
  if (hasBlob) {
    return { blobListBlobPath: text(o.blobListBlobPath, `${target}.blobListBlobPath`, { max: MAX_PATH_TEXT }) };
  }
  const list = object(o.blobList, `${target}.blobList`);
  const paths = (key: 'blobPath' | 'blobPathPrefix'): string[] | undefined => {
    const a = list[key];
    if (!given(a)) return undefined;
    if (!Array.isArray(a)) return invalid(`'${target}.blobList.${key}' must be an array of strings.`, `${target}.blobList.${key}`);
    return a.map((p, i) => text(p, `${target}.blobList.${key}[${i}]`, { max: MAX_PATH_TEXT }));
  };
  const blobPath = paths('blobPath');
  const blobPathPrefix = paths('blobPathPrefix');
  if ((blobPath?.length ?? 0) + (blobPathPrefix?.length ?? 0) === 0) {
    invalid(`'${target}.blobList' must name at least one blob path or prefix.`, `${target}.blobList`);
  }
  const blobList = compact({ blobPath, blobPathPrefix });
  if (Buffer.byteLength(JSON.stringify(blobList)) > MAX_EXPORT_BLOB_LIST_BYTES) {
    invalid(`The inline blob list is larger than ${MAX_EXPORT_BLOB_LIST_BYTES / 1024} KB; put it in a blob and use blobListBlobPath.`, `${target}.blobList`);
  }
  return { blobList };
}

export function validateEncryptionKey(v: unknown, target = 'properties.encryptionKey'): EncryptionKey {
  if (!given(v)) return { kekType: KekType.MicrosoftManaged };
  const o = object(v, target);
  const kekType = given(o.kekType) ? oneOf(o.kekType, Object.values(KekType), `${target}.kekType`) : KekType.MicrosoftManaged;
  const kekUrl = optionalText(o.kekUrl, `${target}.kekUrl`, { max: MAX_PATH_TEXT });
  const kekVaultResourceID = optionalText(o.kekVaultResourceID, `${target}.kekVaultResourceID`, { max: MAX_PATH_TEXT });
  if (kekType === KekType.CustomerManaged && !kekUrl) invalid(`A customer-managed key needs '${target}.kekUrl'.`, `${target}.kekUrl`);
  return compact({ kekType, kekUrl, kekVaultResourceID });
}

// ---------------------------------------------------------------- bodies

/** PUT body → the job to create (or to replace a Creating job with). Read-only fields in the body are ignored. */
export function validatePutJob(body: unknown): JobSpec {
  const b = object(body, 'body');
  const location = text(b.location, 'location', { max: 100 });
  const tags = given(b.tags) ? validateTags(b.tags) : {};
  const p = object(b.properties, 'properties');
  const jobType = oneOf(p.jobType, [JobType.Import, JobType.Export] as const, 'properties.jobType');
  const storageAccountId = text(p.storageAccountId, 'properties.storageAccountId', {
    max: MAX_PATH_TEXT, pattern: STORAGE_ACCOUNT_ID_PATTERN,
    hint: 'an ARM id /subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Storage/storageAccounts/{name} is needed.',
  });
  let drives: DriveSpec[] = [];
  let exportSpec: ExportSpec | undefined;
  if (jobType === JobType.Import) {
    if (!given(p.driveList)) invalid('An import job needs properties.driveList (1 to 10 drives).', 'properties.driveList');
    drives = validateDriveList(p.driveList);
    if (given(p.export)) invalid('An import job cannot have an export specification.', 'properties.export');
  } else {
    if (!given(p.export)) invalid('An export job needs properties.export (blobList or blobListBlobPath).', 'properties.export');
    exportSpec = validateExportSpec(p.export);
    if (Array.isArray(p.driveList) && p.driveList.length > 0) {
      invalid('An export job does not list drives when it is created; the data center records the drives it fills.', 'properties.driveList');
    }
    if (given(p.driveList) && !Array.isArray(p.driveList)) invalid("'properties.driveList' must be an array.", 'properties.driveList');
  }
  return compact({
    location,
    tags,
    jobType,
    storageAccountId,
    returnAddress: given(p.returnAddress) ? validateReturnAddress(p.returnAddress) : undefined,
    returnShipping: given(p.returnShipping) ? validateReturnShipping(p.returnShipping) : undefined,
    deliveryPackage: given(p.deliveryPackage) ? validateDeliveryPackage(p.deliveryPackage) : undefined,
    diagnosticsPath: given(p.diagnosticsPath)
      ? text(p.diagnosticsPath, 'properties.diagnosticsPath', { max: MAX_PATH_TEXT, pattern: /^[^\\]+$/, hint: 'a blob container or virtual directory.' })
      : DEFAULT_DIAGNOSTICS_PATH,
    logLevel: given(p.logLevel) ? oneOf(p.logLevel, [LogLevel.Error, LogLevel.Verbose] as const, 'properties.logLevel') : LogLevel.Error,
    backupDriveManifest: given(p.backupDriveManifest) ? bool(p.backupDriveManifest, 'properties.backupDriveManifest') : false,
    drives,
    exportSpec,
    encryptionKey: validateEncryptionKey(p.encryptionKey),
  }) as JobSpec;
}

/** PATCH body → the requested changes. Whether each change is allowed in the job's state is updates.ts's call. */
export function validatePatchJob(body: unknown): JobPatch {
  const b = object(body, 'body');
  const out: JobPatch = {};
  if (given(b.tags)) out.tags = validateTags(b.tags);
  if (!given(b.properties)) return out;
  const p = object(b.properties, 'properties');
  if (given(p.cancelRequested)) {
    out.cancelRequested = bool(p.cancelRequested, 'properties.cancelRequested');
  }
  if (given(p.state) && p.state !== '') {
    if (typeof p.state !== 'string' || p.state.toLowerCase() !== JobState.Shipping.toLowerCase()) {
      invalid(`A customer may only set 'properties.state' to ${JobState.Shipping}; the service moves the job through its other states.`, 'properties.state');
    }
    out.state = JobState.Shipping;
  }
  if (given(p.returnAddress)) out.returnAddress = validateReturnAddress(p.returnAddress);
  if (given(p.returnShipping)) out.returnShipping = validateReturnShipping(p.returnShipping);
  if (given(p.deliveryPackage)) out.deliveryPackage = validateDeliveryPackage(p.deliveryPackage);
  if (given(p.logLevel)) out.logLevel = oneOf(p.logLevel, [LogLevel.Error, LogLevel.Verbose] as const, 'properties.logLevel');
  if (given(p.backupDriveManifest)) out.backupDriveManifest = bool(p.backupDriveManifest, 'properties.backupDriveManifest');
  if (given(p.driveList)) out.driveList = validateDriveList(p.driveList, 'properties.driveList', false);
  return out;
}
