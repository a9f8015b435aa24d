// Names the service derives (reference §3.7, §3.8, §3.10): diagnostic blob
// names for logs and manifest backups, and the "rename" import disposition.

/** "yyyyMMdd-HHmmss-fff" in UTC, as in the documented log URLs. */
export function logTimestamp(at: Date): string {
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${at.getUTCFullYear()}${p(at.getUTCMonth() + 1)}${p(at.getUTCDate())}-${p(at.getUTCHours())}${p(at.getUTCMinutes())}${p(at.getUTCSeconds())}-${p(at.getUTCMilliseconds(), 3)}`;
}

/**
 * Blob name (inside the diagnostics container) of a drive's error log, verbose
 * log or manifest backup: "waies/jobname_driveid_timestamp_logtype.xml".
 */
export function diagnosticsBlobName(jobName: string, driveId: string, at: Date, type: 'error' | 'verbose' | 'manifest'): string {
  return `waies/${jobName}_${driveId}_${logTimestamp(at)}_${type}.xml`;
}

/**
 * The n-th (n >= 2) alternative name under the "rename" disposition: " (n)"
 * before the last dot of the last path segment, or appended when it has none
 * ("Seattle.jpg" -> "Seattle (2).jpg", "BlobNameWithoutDot" -> "BlobNameWithoutDot (2)").
 */
export function renamedBlobName(blobName: string, n: number): string {
  const slash = blobName.lastIndexOf('/');
  const dir = blobName.slice(0, slash + 1);
  const leaf = blobName.slice(slash + 1);
  const dot = leaf.lastIndexOf('.');
  return dot > 0 ? `${dir}${leaf.slice(0, dot)} (${n})${leaf.slice(dot)}` : `${dir}${leaf} (${n})`;
}
