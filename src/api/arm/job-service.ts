/**
 * What the ARM job operations do, between the route (parse, authorize) and the store (one transaction). Every
 * rule comes from the domain: validation.ts for bodies, updates.ts for what may change in which state,
 * transitions.ts (through JobWork.applyJobEvent) for state changes.
 */
import { DomainError } from '../../domain/errors.ts';
import { Actor, DriveState, JobState, JobType } from '../../domain/states.ts';
import { JobEvent } from '../../domain/transitions.ts';
import { assertDeletable, assertFieldUpdatable, assertReplaceable, type PatchableField } from '../../domain/updates.ts';
import { validatePatchJob, validatePutJob, type DriveSpec, type JobSpec } from '../../domain/validation.ts';
import type { DriveRecord } from '../../store/records.ts';
import type { JobFieldUpdate, JobWork } from '../../store/job-work.ts';
import type { JobKey, Store } from '../../store/store.ts';
import { ApiError } from '../errors.ts';
import { checkPrecondition, type Precondition } from './etag.ts';
import { findJobWithDrives, type JobWithDrives } from './job-reads.ts';
import type { LocationCatalog, LocationInfo } from './locations.ts';
import { shippingInformationFor } from './serializers.ts';

export const CREATED_REASON = { code: 'JobCreated', message: 'The job was created. Ship the drives, then set state Shipping with the delivery package and return address.' };
const DRIVE_SPECIFIED_REASON = { code: 'DriveSpecified', message: 'The drive is listed in the job and expected at the data center.' };

export interface Caller {
  tokenId: string;
}

function resolveLocation(catalog: LocationCatalog, name: string): LocationInfo {
  const loc = catalog.find(name);
  if (!loc) {
    throw new ApiError(400, 'LocationNotAvailableForResourceType',
      `The location '${name.slice(0, 60)}' is not available for Microsoft.ImportExport/jobs; see GET /providers/Microsoft.ImportExport/locations.`, 'location');
  }
  return loc;
}

function newDriveRecord(jobId: number, position: number, d: DriveSpec | Omit<DriveSpec, 'bitLockerKey'>, cipher: string | null, now: Date): DriveRecord {
  return {
    jobId, driveId: d.driveId, position, state: DriveState.Specified, stateReason: DRIVE_SPECIFIED_REASON, faultedFrom: null,
    bitLockerKeyCipher: cipher, manifestFile: d.manifestFile, manifestHash: d.manifestHash, driveHeaderHash: d.driveHeaderHash ?? null,
    bytesTotal: 0, bytesSucceeded: 0, objectsTotal: 0, objectsSucceeded: 0, objectsFailed: 0, objectsSkipped: 0, percentComplete: 0,
    phase: null, rateBps: 0, copyStatus: null, hasErrors: false, errorLogUri: null, verboseLogUri: null, manifestUri: null,
    isExtra: false, leaseOwner: null, leaseExpiresAt: null, stateEnteredAt: now,
  };
}

/**
 * Puts a new drive list on a Creating job. Drives whose id stays keep their row (updated in place); the others are
 * removed or inserted. Keys not given again are kept.
 */
async function putDrives(store: Store, w: JobWork, specs: Array<Omit<DriveSpec, 'bitLockerKey'> & { bitLockerKey?: string }>): Promise<void> {
  const old = new Map(w.drives.map((d) => [d.driveId, d]));
  const next: DriveRecord[] = [];
  for (const [i, s] of specs.entries()) {
    const prev = old.get(s.driveId);
    const cipher = s.bitLockerKey ? await store.sealBitLockerKey(s.bitLockerKey) : (prev?.bitLockerKeyCipher ?? null);
    if (!cipher) {
      throw new DomainError('InvalidInput', `Drive '${s.driveId}' is new to the job and needs its bitLockerKey.`, { target: `properties.driveList[${i}].bitLockerKey` });
    }
    next.push(prev
      ? { ...prev, position: i, manifestFile: s.manifestFile, manifestHash: s.manifestHash, driveHeaderHash: s.driveHeaderHash ?? null, bitLockerKeyCipher: cipher }
      : newDriveRecord(w.job.id, i, s, cipher, w.now));
  }
  w.replaceDrives(next);
}

function specFields(spec: JobSpec, loc: LocationInfo): JobFieldUpdate {
  return {
    location: spec.location,
    tags: spec.tags,
    storageAccountId: spec.storageAccountId,
    returnAddress: (spec.returnAddress ?? null) as Record<string, unknown> | null,
    returnShipping: (spec.returnShipping ?? null) as Record<string, unknown> | null,
    deliveryPackage: (spec.deliveryPackage ?? null) as Record<string, unknown> | null,
    shippingInformation: shippingInformationFor(loc),
    diagnosticsPath: spec.diagnosticsPath,
    logLevel: spec.logLevel,
    backupDriveManifest: spec.backupDriveManifest,
    exportSpec: (spec.exportSpec ?? null) as Record<string, unknown> | null,
    encryptionKey: spec.encryptionKey as unknown as Record<string, unknown>,
  };
}

/** PUT: 201 with the new job, or 200 after replacing a job that is still Creating. */
export async function createOrReplaceJob(
  store: Store, catalog: LocationCatalog, key: JobKey, body: unknown, pre: Precondition, caller: Caller,
): Promise<{ created: boolean } & JobWithDrives> {
  const spec = validatePutJob(body);
  const loc = resolveLocation(catalog, spec.location);
  for (let attempt = 0; attempt < 3; attempt++) {
    const existing = await store.getJob(key);
    checkPrecondition(pre, existing?.version ?? null);
    if (!existing) {
      try {
        const { job, drives } = await store.createJob({
          key,
          location: spec.location,
          jobType: spec.jobType,
          initial: { state: JobState.Creating, reason: CREATED_REASON },
          fields: { ...specFields(spec, loc), extensions: {} } as never,
          drives: spec.drives.map((d, i) => ({
            driveId: d.driveId, state: DriveState.Specified, stateReason: DRIVE_SPECIFIED_REASON, bitLockerKey: d.bitLockerKey,
            manifestFile: d.manifestFile, manifestHash: d.manifestHash, driveHeaderHash: d.driveHeaderHash ?? null, position: i,
          })),
          actorId: caller.tokenId,
        });
        return { created: true, job, drives };
      } catch (e) {
        // Someone created it between our read and our insert: answer as a replace (or its refusal).
        if (e instanceof DomainError && e.code === 'AlreadyExists') continue;
        throw e;
      }
    }
    assertReplaceable(existing.state);
    if (existing.jobType !== spec.jobType) {
      throw new ApiError(409, 'Conflict', `The job '${existing.name}' is an ${existing.jobType} job; its jobType cannot change. Delete it first.`, 'properties.jobType');
    }
    const { job, drives } = await store.changeJob(existing.id, { actor: Actor.Customer, actorId: caller.tokenId, expectedVersion: pre.version }, async (w) => {
      assertReplaceable(w.job.state);
      w.set(specFields(spec, loc));
      if (spec.jobType === JobType.Import) await putDrives(store, w, spec.drives);
      w.note('replace', 'JobReplaced', 'The customer replaced the job definition.');
    });
    return { created: false, job, drives };
  }
  throw new ApiError(409, 'Conflict', 'The job is being created by another request; retry.');
}

const same = (a: unknown, b: unknown) => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);

/** PATCH: only the fields and state changes the reference allows, in the states it allows them. */
export async function updateJob(store: Store, key: JobKey, body: unknown, pre: Precondition, caller: Caller): Promise<JobWithDrives> {
  const patch = validatePatchJob(body);
  const existing = await store.getJob(key);
  if (!existing) throw new DomainError('NotFound', `The job '${key.name}' was not found in resource group '${key.resourceGroup}'.`);
  checkPrecondition(pre, existing.version);
  const { job, drives } = await store.changeJob(existing.id, { actor: Actor.Customer, actorId: caller.tokenId, expectedVersion: pre.version }, async (w) => {
    const state = w.job.state;
    const changed: PatchableField[] = [];
    const fields: JobFieldUpdate = {};
    const consider = <K extends PatchableField & keyof JobFieldUpdate>(field: K, value: JobFieldUpdate[K] | undefined, current: unknown) => {
      if (value === undefined || same(value, current)) return;
      assertFieldUpdatable(field, state);
      changed.push(field);
      fields[field] = value;
    };
    consider('tags', patch.tags, w.job.tags);
    consider('returnAddress', patch.returnAddress as Record<string, unknown> | undefined, w.job.returnAddress);
    consider('returnShipping', patch.returnShipping as Record<string, unknown> | undefined, w.job.returnShipping);
    consider('deliveryPackage', patch.deliveryPackage as Record<string, unknown> | undefined, w.job.deliveryPackage);
    consider('logLevel', patch.logLevel, w.job.logLevel);
    consider('backupDriveManifest', patch.backupDriveManifest, w.job.backupDriveManifest);
    let cancelNow = false;
    if (patch.cancelRequested === false && w.job.cancelRequested) {
      throw new DomainError('InvalidInput', "A cancel request cannot be withdrawn: 'cancelRequested' may only be set to true.", { target: 'properties.cancelRequested' });
    }
    if (patch.cancelRequested === true && !w.job.cancelRequested) {
      assertFieldUpdatable('cancelRequested', state);
      changed.push('cancelRequested');
      fields.cancelRequested = true;
      cancelNow = true;
    }
    if (patch.driveList !== undefined) {
      assertFieldUpdatable('driveList', state);
      if (w.job.jobType !== JobType.Import) {
        throw new DomainError('InvalidInput', 'Only import jobs list their drives.', { target: 'properties.driveList' });
      }
      changed.push('driveList');
      await putDrives(store, w, patch.driveList);
    }
    const ship = patch.state === JobState.Shipping && w.job.state !== JobState.Shipping;
    if (ship) assertFieldUpdatable('state', state);
    w.set(fields);
    // Every customer update is on the record (and, in Creating, restarts the 14-day clock).
    w.note('update', 'JobUpdated', changed.length > 0 ? `The customer updated ${changed.join(', ')}.` : 'The customer touched the job without changes.', { fields: changed });
    if (ship) w.applyJobEvent(JobEvent.ProvideShippingInfo);
    if (cancelNow) {
      w.note('cancelRequested', 'CancelRequested', 'The customer cancelled the job: drives not yet copying are skipped, a drive already copying finishes.');
      w.followDrives();
    }
  });
  return { job, drives };
}

/** DELETE: only in Creating or Completed. */
export async function deleteJob(store: Store, key: JobKey, pre: Precondition): Promise<void> {
  for (let attempt = 0; attempt < 8; attempt++) {
    const existing = await store.getJob(key);
    if (!existing) throw new DomainError('NotFound', `The job '${key.name}' was not found in resource group '${key.resourceGroup}'.`);
    checkPrecondition(pre, existing.version);
    assertDeletable(existing.state);
    if (await store.deleteJob(existing.id, existing.version)) return;
    // Not every driver reports deleted rows: gone means done. Otherwise it changed between the read and the
    // delete: look again (a conditional delete then fails its check).
    if (!(await store.getJobById(existing.id))) return;
  }
  throw new DomainError('VersionConflict', 'The job keeps changing; retry the delete.');
}

export async function bitLockerKeys(store: Store, key: JobKey): Promise<Array<{ driveId: string; bitLockerKey: string }>> {
  const found = await findJobWithDrives(store, key);
  if (!found) throw new DomainError('NotFound', `The job '${key.name}' was not found in resource group '${key.resourceGroup}'.`);
  const out: Array<{ driveId: string; bitLockerKey: string }> = [];
  for (const d of found.drives) {
    if (d.isExtra) continue;
    const k = await store.revealBitLockerKey(d);
    if (k) out.push({ driveId: d.driveId, bitLockerKey: k });
  }
  return out;
}
