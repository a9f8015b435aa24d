/**
 * The dock: type the package's carrier and tracking number, then scan drives one after another. The scan field
 * keeps focus (a barcode scanner types and presses Enter); each scan shows at once which job the drive belongs to
 * and what will happen to it. "Record package" receives them all in one call and shows the outcome per drive.
 */
import { useEffect, useRef, useState, type FormEvent } from 'react';
import { ApiFailure } from '../api.ts';
import { useSession } from '../App.tsx';
import { DriveState, JobState } from '../../../src/domain/states.ts';
import { ops, type DriveLookup, type ReceiveResult } from '../ops.ts';

interface Scan {
  driveId: string;
  at: string;
  info: string;
  outcome?: string;
}

export function ReceivePackage() {
  const session = useSession();
  const [carrier, setCarrier] = useState('FedEx');
  const [tracking, setTracking] = useState('');
  const [scan, setScan] = useState('');
  const [scans, setScans] = useState<Scan[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [done, setDone] = useState<string | null>(null);
  const scanRef = useRef<HTMLInputElement>(null);
  useEffect(() => scanRef.current?.focus(), []);

  /** What receipt will do to a scanned drive, told before the package is recorded. */
  const describe = (r: DriveLookup) => {
    const j = r.jobs[0];
    if (!j) return 'unknown drive: no job lists it — it will be held (or returned as extra with another job of this package)';
    const where = `job ${j.name} (${j.jobState}), drive ${j.driveState}`;
    if (j.jobState === JobState.Shipping && j.driveState === DriveState.Specified) return `${where} — will be received`;
    if (j.driveState === DriveState.NeverReceived) return `${where} — arrived late, will be received`;
    if (j.jobState === JobState.Creating) return `${where} — will be held: the job is not shipping yet`;
    return `${where} — already in the data center or not expected now`;
  };
  const outcomeOf = (r: ReceiveResult, id: string): string | undefined => {
    const rec = r.received.find((x) => x.driveId === id);
    if (rec) return `received (${rec.from} → ${rec.to}) for job ${rec.jobName}${rec.late ? ', late' : ''}`;
    if (r.extra.some((x) => x.driveId === id)) return 'extra: not processed, returned with the job';
    const held = r.held.find((x) => x.driveId === id);
    if (held) return `held (${held.reason}); operator task ${held.taskId} opened`;
    const again = r.alreadyIn.find((x) => x.driveId === id);
    if (again) return `already in the data center (${again.state}); nothing changed`;
    return undefined;
  };

  const onScan = async (e: FormEvent) => {
    e.preventDefault();
    const id = scan.trim();
    setScan('');
    scanRef.current?.focus();
    if (!id) return;
    if (scans.some((s) => s.driveId === id)) {
      setScans((list) => list.map((s) => (s.driveId === id ? { ...s, info: 'already scanned in this package' } : s)));
      return;
    }
    setScans((list) => [{ driveId: id, at: new Date().toLocaleTimeString(), info: 'looking up…' }, ...list]);
    try {
      const r = await ops.lookupDrive(session.token, id);
      setScans((list) => list.map((s) => (s.driveId === id ? { ...s, info: describe(r) } : s)));
    } catch (err) {
      const info = err instanceof ApiFailure && err.status === 404 ? 'unknown drive: no job lists it' : `lookup failed: ${(err as Error).message}`;
      setScans((list) => list.map((s) => (s.driveId === id ? { ...s, info } : s)));
    }
  };

  const record = async () => {
    setError(null);
    setDone(null);
    try {
      const r = await ops.receivePackage(session.token, { carrier, trackingNumber: tracking, driveIds: scans.map((s) => s.driveId).reverse() });
      setScans((list) => list.map((s) => ({ ...s, outcome: outcomeOf(r, s.driveId) ?? 'recorded' })));
      const missing = r.neverReceived.map((x) => x.driveId);
      setDone(
        `Package ${tracking} recorded with ${scans.length} drive${scans.length === 1 ? '' : 's'}` +
          (r.jobs.length ? `; jobs now: ${r.jobs.map((j) => `${j.name} ${j.state}`).join(', ')}` : '') +
          (missing.length ? `; never received: ${missing.join(', ')}` : '') + '.',
      );
    } catch (err) {
      setError((err as Error).message);
    }
    scanRef.current?.focus();
  };

  return (
    <section aria-labelledby="receive-title">
      <h1 id="receive-title" tabIndex={-1}>Receive a package</h1>
      <div className="card form">
        <div className="row">
          <label>Carrier<input name="carrier" value={carrier} onChange={(e) => setCarrier(e.target.value)} /></label>
          <label>Tracking number<input name="tracking" value={tracking} onChange={(e) => setTracking(e.target.value)} /></label>
        </div>
        <form onSubmit={onScan} className="scan">
          <label>
            Scan a drive id (press Enter after each)
            <input ref={scanRef} name="scan" value={scan} onChange={(e) => setScan(e.target.value)} autoComplete="off" data-testid="scan-input" />
          </label>
          <button type="submit">Add</button>
        </form>
        <button type="button" onClick={record} disabled={scans.length === 0 || !tracking}>
          Record package ({scans.length} drive{scans.length === 1 ? '' : 's'})
        </button>
        {error && <p className="error" role="alert"><span aria-hidden="true">⚠ </span>{error}</p>}
        {done && <p className="ok" role="status"><span aria-hidden="true">✓ </span>{done}</p>}
      </div>
      <ol className="scans" aria-live="polite" aria-label="Scanned drives, newest first">
        {scans.map((s) => (
          <li key={s.driveId} data-drive={s.driveId}>
            <span className="mono">{s.driveId}</span> <span className="muted">{s.at}</span> — <span data-testid="scan-info">{s.info}</span>
            {s.outcome && <strong className="tag"> {s.outcome}</strong>}
          </li>
        ))}
      </ol>
    </section>
  );
}
