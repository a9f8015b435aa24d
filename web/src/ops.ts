/**
 * The operator API as the console calls it (issue 4: `/operator/...`). Every path is here, in one place, so the
 * console follows the operator routes as they settle.
 */
import { call } from './api.ts';

const enc = encodeURIComponent;
export interface JobRef {
  subscriptionId: string;
  resourceGroup: string;
  name: string;
}
const jobBase = (j: JobRef) => `/operator/jobs/${enc(j.subscriptionId)}/${enc(j.resourceGroup)}/${enc(j.name)}`;

export interface ScanOutcome {
  driveId: string;
  outcome: string;
  job?: { subscriptionId?: string; resourceGroup?: string; name?: string } | null;
  message?: string;
  [k: string]: unknown;
}

export const ops = {
  receivePackage: (t: string, body: { carrierName: string; trackingNumber: string; driveIds: string[] }) =>
    call<{ drives?: ScanOutcome[]; outcomes?: ScanOutcome[]; [k: string]: unknown }>(t, 'POST', '/operator/packages', body),
  /** Looks up one scanned drive without changing anything (what would happen on receipt). */
  lookupDrive: (t: string, driveId: string) => call<Record<string, unknown>>(t, 'GET', `/operator/drives/${enc(driveId)}`),
  tasks: (t: string, status = 'open') => call<{ value: Array<Record<string, unknown>> }>(t, 'GET', `/operator/tasks?status=${enc(status)}`),
  closeTask: (t: string, id: string | number, note: string) => call<unknown>(t, 'POST', `/operator/tasks/${enc(String(id))}/close`, { note }),
  transfers: (t: string) => call<{ value: Array<Record<string, unknown>> }>(t, 'GET', '/operator/transfers'),
  faultJob: (t: string, j: JobRef, reason: string) => call<unknown>(t, 'POST', `${jobBase(j)}/fault`, { reason }),
  unfaultJob: (t: string, j: JobRef, to: string, reason: string) => call<unknown>(t, 'POST', `${jobBase(j)}/unfault`, { to, reason }),
  faultDrive: (t: string, j: JobRef, driveId: string, reason: string) => call<unknown>(t, 'POST', `${jobBase(j)}/drives/${enc(driveId)}/fault`, { reason }),
  unfaultDrive: (t: string, j: JobRef, driveId: string, to: string, reason: string) =>
    call<unknown>(t, 'POST', `${jobBase(j)}/drives/${enc(driveId)}/unfault`, { to, reason }),
  shipBack: (t: string, j: JobRef, body: { carrierName: string; trackingNumber: string; driveCount: number; shipDate: string }) =>
    call<unknown>(t, 'POST', `${jobBase(j)}/ship-back`, body),
  recordDestruction: (t: string, driveId: string, body: { method: string; destroyedBy: string; destroyedAt?: string }) =>
    call<Record<string, unknown>>(t, 'POST', `/operator/drives/${enc(driveId)}/destruction`, body),
  certificate: (t: string, driveId: string) => call<Record<string, unknown>>(t, 'GET', `/operator/drives/${enc(driveId)}/certificate`),
};
