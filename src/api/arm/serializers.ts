/**
 * Records → ARM JSON, field by field as the swagger has them. BitLocker keys are never part of a job body: the
 * drive serializer has no access to them (they stay sealed in DriveRecord.bitLockerKeyCipher); listBitLockerKeys
 * is the only door. Absent values are left out rather than sent as null, as the real service does.
 */
import { pendingDeadlines } from '../../timers/deadlines.ts';
import type { DriveRecord, JobRecord } from '../../store/records.ts';
import { JobType } from '../../domain/states.ts';
import { etagOf } from './etag.ts';
import { LOCATION_TYPE, locationId, type LocationInfo } from './locations.ts';

export const JOB_RESOURCE_TYPE = 'Microsoft.ImportExport/jobs';
export const PROVIDER = 'Microsoft.ImportExport';

export const jobResourceId = (j: Pick<JobRecord, 'subscriptionId' | 'resourceGroup' | 'name'>) =>
  `/subscriptions/${j.subscriptionId}/resourceGroups/${j.resourceGroup}/providers/${PROVIDER}/jobs/${j.name}`;

const iso = (d: Date) => d.toISOString();

function put<T extends Record<string, unknown>>(o: T, key: string, v: unknown): void {
  if (v !== null && v !== undefined) (o as Record<string, unknown>)[key] = v;
}

export function driveToArm(d: DriveRecord): Record<string, unknown> {
  const out: Record<string, unknown> = { driveId: d.driveId };
  put(out, 'manifestFile', d.manifestFile);
  put(out, 'manifestHash', d.manifestHash);
  put(out, 'driveHeaderHash', d.driveHeaderHash);
  out.state = d.state;
  put(out, 'copyStatus', d.copyStatus);
  out.percentComplete = d.percentComplete;
  put(out, 'verboseLogUri', d.verboseLogUri);
  put(out, 'errorLogUri', d.errorLogUri);
  put(out, 'manifestUri', d.manifestUri);
  out.bytesSucceeded = d.bytesSucceeded;
  return out;
}

function driveExtras(d: DriveRecord) {
  return {
    driveId: d.driveId,
    stateReason: d.stateReason,
    stateEnteredAt: iso(d.stateEnteredAt),
    bytesTotal: d.bytesTotal,
    bytesSucceeded: d.bytesSucceeded,
    objectsTotal: d.objectsTotal,
    objectsSucceeded: d.objectsSucceeded,
    objectsFailed: d.objectsFailed,
    objectsSkipped: d.objectsSkipped,
    phase: d.phase,
    rateBps: d.rateBps,
    hasErrors: d.hasErrors,
    isExtra: d.isExtra,
  };
}

export interface JobSerializeOptions {
  /** Include driveList (Get, Put, Patch, and list items too). */
  drives?: boolean;
}

export function jobToArm(job: JobRecord, drives: readonly DriveRecord[] | undefined, opts: JobSerializeOptions = {}): Record<string, unknown> {
  const listed = (drives ?? []).filter((d) => !d.isExtra);
  const extra = (drives ?? []).filter((d) => d.isExtra);
  const p: Record<string, unknown> = {};
  put(p, 'storageAccountId', job.storageAccountId);
  p.jobType = job.jobType;
  put(p, 'returnAddress', job.returnAddress);
  put(p, 'returnShipping', job.returnShipping);
  put(p, 'shippingInformation', job.shippingInformation);
  put(p, 'deliveryPackage', job.deliveryPackage);
  put(p, 'returnPackage', job.returnPackage);
  put(p, 'diagnosticsPath', job.diagnosticsPath);
  put(p, 'logLevel', job.logLevel);
  p.backupDriveManifest = job.backupDriveManifest;
  p.cancelRequested = job.cancelRequested;
  p.state = job.state;
  p.percentComplete = job.percentComplete;
  put(p, 'incompleteBlobListUri', job.incompleteBlobListUri);
  if (opts.drives !== false && drives) p.driveList = listed.map(driveToArm);
  if (job.jobType === JobType.Export) put(p, 'export', job.exportSpec);
  p.provisioningState = 'Succeeded';
  p.encryptionKey = job.encryptionKey ?? { kekType: 'MicrosoftManaged' };
  const ext: Record<string, unknown> = {
    etag: etagOf(job.version),
    version: job.version,
    stateReason: job.stateReason,
    stateEnteredAt: iso(job.stateEnteredAt),
  };
  put(ext, 'faultedFrom', job.faultedFrom);
  ext.pendingDeadline = job.deadlineAt && job.deadlineKind ? { kind: job.deadlineKind, at: iso(job.deadlineAt) } : null;
  ext.pendingDeadlines = pendingDeadlines(job);
  const x = job.extensions ?? {};
  if (Array.isArray(x.returnIssues)) ext.returnIssues = x.returnIssues;
  if (x.returnAddressProblem) ext.returnAddressProblem = x.returnAddressProblem;
  if (Array.isArray(x.drivesDueForDestruction)) ext.drivesDueForDestruction = x.drivesDueForDestruction;
  if (Array.isArray(x.destroyedDrives)) ext.destroyedDrives = x.destroyedDrives;
  ext.createdAt = iso(job.createdAt);
  ext.updatedAt = iso(job.updatedAt);
  if (drives) {
    ext.drives = drives.map(driveExtras);
    ext.extraDrives = extra.map((d) => d.driveId);
  }
  p.sneakernet = ext;
  return {
    systemData: {
      createdBy: job.createdBy ?? 'unknown',
      createdByType: 'Application',
      createdAt: iso(job.createdAt),
      lastModifiedBy: job.updatedBy ?? job.createdBy ?? 'unknown',
      lastModifiedByType: 'Application',
      lastModifiedAt: iso(job.updatedAt),
    },
    id: jobResourceId(job),
    name: job.name,
    type: JOB_RESOURCE_TYPE,
    location: job.location,
    tags: job.tags ?? {},
    properties: p,
    identity: job.identity ?? { type: 'None' },
  };
}

export function locationToArm(l: LocationInfo): Record<string, unknown> {
  const a = l.address;
  return {
    id: locationId(l.shortName),
    name: l.name,
    type: LOCATION_TYPE,
    properties: {
      ...addressLines(a),
      additionalShippingInformation: a.additionalShippingInformation ?? '',
      supportedCarriers: l.supportedCarriers,
      alternateLocations: l.alternateLocations.map(locationId),
    },
  };
}

/** The data center's address as a job's shippingInformation (filled in at creation). */
export function shippingInformationFor(l: LocationInfo): Record<string, string> {
  const a = l.address;
  return { ...addressLines(a), additionalInformation: a.additionalShippingInformation ?? '' };
}

/** The address fields a location and a job's shippingInformation share (optional ones as empty strings, as Azure sends them). */
function addressLines(a: LocationInfo['address']): Record<string, string> {
  return {
    recipientName: a.recipientName,
    streetAddress1: a.streetAddress1,
    streetAddress2: a.streetAddress2 ?? '',
    city: a.city,
    stateOrProvince: a.stateOrProvince ?? '',
    postalCode: a.postalCode,
    countryOrRegion: a.countryOrRegion,
    phone: a.phone,
  };
}

export const OPERATIONS: ReadonlyArray<{ name: string; display: { provider: string; resource: string; operation: string; description: string } }> = [
  { name: 'Microsoft.ImportExport/locations/read', display: { provider: 'Microsoft Import/Export', resource: 'Locations', operation: 'Get or List Locations', description: 'Gets the properties for the specified location or returns the list of locations.' } },
  { name: 'Microsoft.ImportExport/jobs/write', display: { provider: 'Microsoft Import/Export', resource: 'Jobs', operation: 'Create or Update Job', description: 'Creates a job with the specified parameters or update the properties or tags for the specified job.' } },
  { name: 'Microsoft.ImportExport/jobs/read', display: { provider: 'Microsoft Import/Export', resource: 'Jobs', operation: 'Get or List Jobs', description: 'Gets the properties for the specified job or returns the list of jobs.' } },
  { name: 'Microsoft.ImportExport/jobs/listBitLockerKeys/action', display: { provider: 'Microsoft Import/Export', resource: 'Jobs', operation: 'List BitLocker Keys', description: 'Gets the BitLocker keys for the specified job.' } },
  { name: 'Microsoft.ImportExport/jobs/delete', display: { provider: 'Microsoft Import/Export', resource: 'Jobs', operation: 'Delete Job', description: 'Deletes an existing job.' } },
  { name: 'Microsoft.ImportExport/register/action', display: { provider: 'Microsoft Import/Export', resource: 'Import/Export Resource Provider', operation: 'Registers the Import/Export Resource Provider', description: 'Registers the subscription for the import/export resource provider and enables the creation of import/export jobs.' } },
];
