/**
 * The operator API as the console calls it (issue 4: `/operator/...`, jobs addressed by number). Every path is here,
 * in one place. `jobIdOf` turns subscription/resource group/name into that number through the console route.
 */
import { call } from './api.ts';

const enc = encodeURIComponent;
export interface JobRef {
  subscriptionId: string;
  resourceGroup: string;
  name: string;
}

const ids = new Map<string, number>();
export async function jobIdOf(t: string, j: JobRef): Promise<number> {
  const k = `${j.subscriptionId}/${j.resourceGroup}/${j.name}`.toLowerCase();
  if (!ids.has(k)) {
    const q = new URLSearchParams({ subscriptionId: j.subscriptionId, resourceGroup: j.resourceGroup, name: j.name });
    ids.set(k, (await call<{ id: number }>(t, 'GET', `/console/api/job-id?${q}`)).id);
  }
  return ids.get(k)!;
}
const jobBase = async (t: string, j: JobRef) => `/operator/jobs/${await jobIdOf(t, j)}`;

export interface DriveLookup {
  driveId: string;
  jobs: Array<{ id: number; subscriptionId: string; resourceGroup: string; name: string; jobState: string; driveState: string; isExtra: boolean }>;
}
export interface ReceiveResult {
  packageId: number;
  received: Array<{ jobId: number; jobName: string; driveId: string; from: string; to: string; late: boolean }>;
  neverReceived: Array<{ jobId: number; driveId: string }>;
  extra: Array<{ jobId: number; driveId: string }>;
  held: Array<{ heldDriveId: number; driveId: string; jobId: number | null; reason: string; taskId: number }>;
  alreadyIn: Array<{ jobId: number; driveId: string; state: string }>;
  jobs: Array<{ jobId: number; name: string; state: string }>;
  taskIds: number[];
}

export const ops = {
  receivePackage: (t: string, body: { carrier: string; trackingNumber: string; driveIds: string[] }) => call<ReceiveResult>(t, 'POST', '/operator/packages', body),
  lookupDrive: (t: string, driveId: string) => call<DriveLookup>(t, 'GET', `/console/api/drives/${enc(driveId)}`),
  tasks: (t: string, status = 'open') => call<{ value: Array<Record<string, unknown>> }>(t, 'GET', `/operator/tasks?status=${enc(status)}`),
  closeTask: (t: string, id: string | number, note: string) => call<unknown>(t, 'POST', `/operator/tasks/${enc(String(id))}/close`, { note }),
  jobs: (t: string, state: string) => call<{ value: Array<Record<string, unknown>> }>(t, 'GET', `/operator/jobs?state=${enc(state)}&top=50`),
  job: (t: string, id: number) => call<Record<string, unknown> & { drives: Array<Record<string, unknown>> }>(t, 'GET', `/operator/jobs/${id}`),
  faultJob: async (t: string, j: JobRef, reason: string) => call<unknown>(t, 'POST', `${await jobBase(t, j)}/fault`, { reason }),
  unfaultJob: async (t: string, j: JobRef, to: string, note: string) => call<unknown>(t, 'POST', `${await jobBase(t, j)}/unfault`, { to, note }),
  faultDrive: async (t: string, j: JobRef, driveId: string, reason: string) => call<unknown>(t, 'POST', `${await jobBase(t, j)}/drives/${enc(driveId)}/fault`, { reason }),
  unfaultDrive: async (t: string, j: JobRef, driveId: string, to: string, note: string) =>
    call<unknown>(t, 'POST', `${await jobBase(t, j)}/drives/${enc(driveId)}/unfault`, { to, note }),
  shipBack: async (t: string, j: JobRef, body: { carrierName: string; trackingNumber: string; driveCount: number; shipDate: string }) =>
    call<unknown>(t, 'POST', `${await jobBase(t, j)}/ship-back`, body),
  recordDestruction: (t: string, jobId: number, driveId: string, body: { method: string; destroyedBy: string; destroyedAt?: string }) =>
    call<Record<string, unknown>>(t, 'POST', `/operator/jobs/${jobId}/drives/${enc(driveId)}/destruction`, body),
  recordHeldDestruction: (t: string, heldId: number, body: { method: string; destroyedBy: string }) =>
    call<Record<string, unknown>>(t, 'POST', `/operator/held-drives/${heldId}/destruction`, body),
  heldDrives: (t: string) => call<{ value: Array<Record<string, unknown>> }>(t, 'GET', '/operator/held-drives'),
  custody: (t: string, driveId: string) =>
    call<{ driveId: string; chainOfCustody: Array<Record<string, unknown>>; certificates: Array<Record<string, unknown>> }>(t, 'GET', `/operator/drives/${enc(driveId)}/custody`),
};
