/** A drive's copy progress: bytes and objects done/total/failed, phase, rate, ETA. Percent is the server's. */
import { etaMs, formatBytes, formatDuration, formatRate } from '../format.ts';

export interface DriveProgressData {
  driveId: string;
  state: string;
  percentComplete: number;
  bytesTotal?: number;
  bytesSucceeded?: number;
  objectsTotal?: number;
  objectsSucceeded?: number;
  objectsFailed?: number;
  phase?: string | null;
  rateBps?: number;
}

export function DriveProgress({ drive }: { drive: DriveProgressData }) {
  const pct = Math.max(0, Math.min(100, Math.round(drive.percentComplete || 0)));
  const eta = etaMs(drive.bytesTotal ?? 0, drive.bytesSucceeded ?? 0, drive.rateBps ?? 0);
  const labelId = `progress-${drive.driveId}`;
  const failed = drive.objectsFailed ?? 0;
  return (
    <div className="progress" data-testid={`progress-${drive.driveId}`}>
      <div className="progress-head">
        <span id={labelId}>Drive {drive.driveId} copy progress</span>
        <strong className="progress-pct">{pct}%</strong>
      </div>
      <div
        className="bar"
        role="progressbar"
        aria-labelledby={labelId}
        aria-valuemin={0}
        aria-valuemax={100}
        aria-valuenow={pct}
        aria-valuetext={`${pct}% — ${formatBytes(drive.bytesSucceeded)} of ${formatBytes(drive.bytesTotal)}`}
      >
        <div className={`bar-fill${failed > 0 ? ' has-failures' : ''}`} style={{ width: `${pct}%` }} />
      </div>
      <dl className="progress-facts">
        <div>
          <dt>Bytes</dt>
          <dd data-testid="bytes">
            {formatBytes(drive.bytesSucceeded ?? 0)} / {formatBytes(drive.bytesTotal)}
          </dd>
        </div>
        <div>
          <dt>Objects</dt>
          <dd data-testid="objects">
            {drive.objectsSucceeded ?? 0} / {drive.objectsTotal ?? '—'} done
            {failed > 0 ? <span className="failed"> · <span aria-hidden="true">✕</span> {failed} failed</span> : ' · 0 failed'}
          </dd>
        </div>
        <div>
          <dt>Phase</dt>
          <dd data-testid="phase">{drive.phase || '—'}</dd>
        </div>
        <div>
          <dt>Rate</dt>
          <dd data-testid="rate">{formatRate(drive.rateBps)}</dd>
        </div>
        <div>
          <dt>ETA</dt>
          <dd data-testid="eta">{eta === null ? (pct >= 100 ? 'done' : '—') : formatDuration(eta)}</dd>
        </div>
      </dl>
    </div>
  );
}
