/** Rows as the rest of the program sees them: camelCase, typed states, numbers for bigints. */
import type { DriveState, JobState, JobType, LogLevel } from '../domain/states.ts';
import type { DriveFacts, JobFacts } from '../domain/transitions.ts';
import type { DriveRow, JobEventRow, JobRow } from './schema.ts';

export interface JobRecord {
  id: number;
  subscriptionId: string;
  resourceGroup: string;
  name: string;
  location: string;
  jobType: JobType;
  state: JobState;
  stateReason: { code: string; message: string };
  faultedFrom: JobState | null;
  cancelRequested: boolean;
  storageAccountId: string | null;
  returnAddress: Record<string, unknown> | null;
  returnShipping: Record<string, unknown> | null;
  shippingInformation: Record<string, unknown> | null;
  deliveryPackage: Record<string, unknown> | null;
  returnPackage: Record<string, unknown> | null;
  diagnosticsPath: string | null;
  logLevel: LogLevel | null;
  backupDriveManifest: boolean;
  exportSpec: Record<string, unknown> | null;
  encryptionKey: Record<string, unknown> | null;
  identity: Record<string, unknown> | null;
  incompleteBlobListUri: string | null;
  tags: Record<string, string>;
  /** Extension data that later features hang on a job (address problems, damage reports...). */
  extensions: Record<string, unknown>;
  percentComplete: number;
  version: number;
  stateEnteredAt: Date;
  deadlineAt: Date | null;
  deadlineKind: string | null;
  shippingAlertedAt: Date | null;
  shippingExtendedUntil: Date | null;
  createdAt: Date;
  createdBy: string | null;
  updatedAt: Date;
  updatedBy: string | null;
}

export interface DriveRecord {
  jobId: number;
  driveId: string;
  position: number;
  state: DriveState;
  stateReason: { code: string; message: string };
  faultedFrom: DriveState | null;
  /** Encrypted at rest; decrypt only for listBitLockerKeys. */
  bitLockerKeyCipher: string | null;
  manifestFile: string | null;
  manifestHash: string | null;
  driveHeaderHash: string | null;
  bytesTotal: number;
  bytesSucceeded: number;
  objectsTotal: number;
  objectsSucceeded: number;
  objectsFailed: number;
  objectsSkipped: number;
  percentComplete: number;
  phase: string | null;
  rateBps: number;
  copyStatus: string | null;
  hasErrors: boolean;
  errorLogUri: string | null;
  verboseLogUri: string | null;
  manifestUri: string | null;
  isExtra: boolean;
  leaseOwner: string | null;
  leaseExpiresAt: Date | null;
  stateEnteredAt: Date;
}

export interface JobEventRecord {
  id: number;
  jobId: number;
  subscriptionId: string;
  driveId: string | null;
  event: string;
  fromState: string | null;
  toState: string | null;
  actor: string;
  actorId: string | null;
  reasonCode: string;
  message: string;
  data: unknown;
  at: Date;
}

const date = (v: unknown): Date => (v instanceof Date ? v : new Date(String(v)));
const dateOrNull = (v: unknown): Date | null => (v == null ? null : date(v));
const json = <T>(v: unknown): T => (typeof v === 'string' ? JSON.parse(v) : v) as T;

export function jobFromRow(r: JobRow): JobRecord {
  return {
    id: Number(r.id),
    subscriptionId: r.subscription_id,
    resourceGroup: r.resource_group,
    name: r.name,
    location: r.location,
    jobType: r.job_type as JobType,
    state: r.state as JobState,
    stateReason: { code: r.state_reason_code, message: r.state_reason_message },
    faultedFrom: (r.faulted_from as JobState) ?? null,
    cancelRequested: r.cancel_requested,
    storageAccountId: r.storage_account_id,
    returnAddress: json(r.return_address),
    returnShipping: json(r.return_shipping),
    shippingInformation: json(r.shipping_information),
    deliveryPackage: json(r.delivery_package),
    returnPackage: json(r.return_package),
    diagnosticsPath: r.diagnostics_path,
    logLevel: r.log_level as LogLevel | null,
    backupDriveManifest: r.backup_drive_manifest,
    exportSpec: json(r.export_spec),
    encryptionKey: json(r.encryption_key),
    identity: json(r.identity),
    incompleteBlobListUri: r.incomplete_blob_list_uri,
    tags: json(r.tags) ?? {},
    extensions: json(r.extensions) ?? {},
    percentComplete: r.percent_complete,
    version: r.version,
    stateEnteredAt: date(r.state_entered_at),
    deadlineAt: dateOrNull(r.deadline_at),
    deadlineKind: r.deadline_kind,
    shippingAlertedAt: dateOrNull(r.shipping_alerted_at),
    shippingExtendedUntil: dateOrNull(r.shipping_extended_until),
    createdAt: date(r.created_at),
    createdBy: r.created_by,
    updatedAt: date(r.updated_at),
    updatedBy: r.updated_by,
  };
}

export function driveFromRow(r: DriveRow): DriveRecord {
  return {
    jobId: Number(r.job_id),
    driveId: r.drive_id,
    position: r.position,
    state: r.state as DriveState,
    stateReason: { code: r.state_reason_code, message: r.state_reason_message },
    faultedFrom: (r.faulted_from as DriveState) ?? null,
    bitLockerKeyCipher: r.bitlocker_key,
    manifestFile: r.manifest_file,
    manifestHash: r.manifest_hash,
    driveHeaderHash: r.drive_header_hash,
    bytesTotal: Number(r.bytes_total),
    bytesSucceeded: Number(r.bytes_succeeded),
    objectsTotal: r.objects_total,
    objectsSucceeded: r.objects_succeeded,
    objectsFailed: r.objects_failed,
    objectsSkipped: r.objects_skipped,
    percentComplete: r.percent_complete,
    phase: r.phase,
    rateBps: Number(r.rate_bps),
    copyStatus: r.copy_status,
    hasErrors: r.has_errors,
    errorLogUri: r.error_log_uri,
    verboseLogUri: r.verbose_log_uri,
    manifestUri: r.manifest_uri,
    isExtra: r.is_extra,
    leaseOwner: r.lease_owner,
    leaseExpiresAt: dateOrNull(r.lease_expires_at),
    stateEnteredAt: date(r.state_entered_at),
  };
}

export function eventFromRow(r: JobEventRow): JobEventRecord {
  return {
    id: Number(r.id),
    jobId: Number(r.job_id),
    subscriptionId: r.subscription_id,
    driveId: r.drive_id,
    event: r.event,
    fromState: r.from_state,
    toState: r.to_state,
    actor: r.actor,
    actorId: r.actor_id,
    reasonCode: r.reason_code,
    message: r.message,
    data: json(r.data),
    at: date(r.at),
  };
}

export function jobFacts(job: JobRecord, drives: readonly DriveRecord[]): JobFacts {
  return {
    state: job.state,
    jobType: job.jobType,
    cancelRequested: job.cancelRequested,
    hasDeliveryPackage: job.deliveryPackage != null,
    hasReturnAddress: job.returnAddress != null,
    drives: drives.filter((d) => !d.isExtra).map(driveFacts),
  };
}

export const driveFacts = (d: DriveRecord): DriveFacts => ({ driveId: d.driveId, state: d.state, hasErrors: d.hasErrors });
