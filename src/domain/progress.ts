/**
 * Percent complete, derived from bytes. Never 100 while work is pending: rounding down and a cap at 99 until
 * every drive has finished.
 */
export interface DriveProgressFacts {
  bytesTotal: number;
  bytesSucceeded: number;
  finished: boolean;
}

export function drivePercent(d: DriveProgressFacts): number {
  if (d.finished) return 100;
  if (d.bytesTotal <= 0) return 0;
  return Math.min(99, Math.floor((Math.max(0, d.bytesSucceeded) * 100) / d.bytesTotal));
}

export function jobPercent(drives: readonly DriveProgressFacts[]): number {
  const counted = drives.filter((d) => d.bytesTotal > 0 || d.finished);
  if (counted.length === 0) return 0;
  if (counted.every((d) => d.finished)) return 100;
  const total = counted.reduce((s, d) => s + Math.max(d.bytesTotal, 0), 0);
  const done = counted.reduce((s, d) => s + Math.min(Math.max(d.bytesSucceeded, 0), Math.max(d.bytesTotal, 0)), 0);
  if (total === 0) return 0;
  return Math.min(99, Math.floor((done * 100) / total));
}
