/**
 * The operator-side facts of a job that its owner must act on, read from Get Job (`properties.sneakernet`): a return
 * address flagged as wrong or missing, drives damaged or lost in return shipping, and drives due for (or past) secure
 * destruction. Pure, so the component tests can check it directly; read leniently, as the rest of the console does.
 */
import type { JobExtension, JobResponse, ReturnAddressProblem, ReturnIssue } from './api.ts';

export interface DriveDestruction {
  driveId: string;
  /** Securely destroyed (else: due for destruction). */
  destroyed: boolean;
}

export interface JobNoticesData {
  returnAddressProblem: ReturnAddressProblem | null;
  returnIssues: ReturnIssue[];
  /** Every drive due for destruction or destroyed, once each, in the order the job lists them. */
  destruction: DriveDestruction[];
  /** When the drives were marked for destruction (the address flag expired), when the job tells. */
  markedForDestructionAt: string | null;
}

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const strings = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);

export const jobExtension = (job: JobResponse): JobExtension => (job.properties.sneakernet ?? {}) as JobExtension;

function readProblem(v: unknown): ReturnAddressProblem | null {
  if (!v || typeof v !== 'object') return null;
  const o = v as Record<string, unknown>;
  const flaggedAt = str(o.flaggedAt);
  const note = str(o.note);
  if (!flaggedAt && !note) return null;
  const p: ReturnAddressProblem = { flaggedAt: flaggedAt ?? '', note: note ?? '' };
  if (str(o.destroyDrivesAt)) p.destroyDrivesAt = str(o.destroyDrivesAt);
  if (str(o.expiredAt)) p.expiredAt = str(o.expiredAt);
  return p;
}

function readIssues(v: unknown): ReturnIssue[] {
  if (!Array.isArray(v)) return [];
  return v
    .filter((i): i is Record<string, unknown> => !!i && typeof i === 'object')
    .map((i) => ({
      kind: String(i.kind ?? '') as ReturnIssue['kind'],
      driveIds: strings(i.driveIds),
      blobs: strings(i.blobs),
      note: str(i.note) ?? '',
      recordedAt: str(i.recordedAt) ?? '',
      ...(str(i.advice) ? { advice: str(i.advice) } : {}),
    }));
}

const same = (a: string, b: string) => a.toLowerCase() === b.toLowerCase();

export function readJobNotices(job: JobResponse): JobNoticesData {
  const x = jobExtension(job);
  const problem = readProblem(x.returnAddressProblem);
  const destroyed = strings(x.destroyedDrives);
  const destruction: DriveDestruction[] = [];
  for (const driveId of [...strings(x.drivesDueForDestruction), ...destroyed]) {
    if (destruction.some((d) => same(d.driveId, driveId))) continue;
    destruction.push({ driveId, destroyed: destroyed.some((d) => same(d, driveId)) });
  }
  return {
    returnAddressProblem: problem,
    returnIssues: readIssues(x.returnIssues),
    destruction,
    markedForDestructionAt: problem?.expiredAt ?? null,
  };
}

export const hasJobNotices = (n: JobNoticesData) => !!n.returnAddressProblem || n.returnIssues.length > 0 || n.destruction.length > 0;
