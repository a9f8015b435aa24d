/** Number and time formatting shared by the widgets; pure, so the component tests can check it directly. */
const UNITS = ['B', 'KB', 'MB', 'GB', 'TB', 'PB'];

export function formatBytes(n: number | undefined | null): string {
  if (n === undefined || n === null || !Number.isFinite(n) || n < 0) return '—';
  let v = n;
  let u = 0;
  while (v >= 1000 && u < UNITS.length - 1) {
    v /= 1000;
    u++;
  }
  return u === 0 ? `${v} B` : `${v >= 100 ? v.toFixed(0) : v.toFixed(1)} ${UNITS[u]}`;
}

export const formatRate = (bps: number | undefined | null) => (bps && bps > 0 ? `${formatBytes(bps)}/s` : '—');

export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '—';
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${s % 60 ? `${s % 60} s` : ''}`.trim();
  const h = Math.floor(m / 60);
  if (h < 48) return `${h} h ${m % 60 ? `${m % 60} min` : ''}`.trim();
  return `${Math.floor(h / 24)} days`;
}

/** Seconds left at the current rate; null when it cannot be told (no rate, nothing left, unknown total). */
export function etaMs(bytesTotal: number, bytesDone: number, rateBps: number): number | null {
  if (!(bytesTotal > 0) || !(rateBps > 0) || bytesDone >= bytesTotal) return null;
  return ((bytesTotal - bytesDone) / rateBps) * 1000;
}

/** "in 9 days", "in 3 h", "2 days ago" — for deadlines and the timeline. */
export function relative(at: Date, now: Date = new Date()): string {
  const d = at.getTime() - now.getTime();
  const abs = Math.abs(d);
  const days = Math.floor(abs / 86_400_000);
  const text = days >= 1 ? `${days} day${days === 1 ? '' : 's'}` : formatDuration(abs);
  return d >= 0 ? `in ${text}` : `${text} ago`;
}

export const formatTime = (iso: string | Date | null | undefined) => {
  if (!iso) return '—';
  const d = typeof iso === 'string' ? new Date(iso) : iso;
  return Number.isNaN(d.getTime()) ? String(iso) : d.toLocaleString('en-GB', { dateStyle: 'medium', timeStyle: 'short' });
};
