/**
 * The dock: type the package's carrier and tracking number, then scan drives one after another. The scan field
 * keeps focus (a barcode scanner types and presses Enter); each scan shows at once which job the drive belongs to
 * and what will happen to it. "Record package" receives them all in one call and shows the outcome per drive.
 */
import { useEffect, useRef, useState, type FormEvent } from 'react';
import { ApiFailure } from '../api.ts';
import { useSession } from '../App.tsx';
import { ops, type ScanOutcome } from '../ops.ts';

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

  const describe = (r: Record<string, unknown>) => {
    const job = (r.job ?? null) as { name?: string; resourceGroup?: string; state?: string } | null;
    const outcome = String(r.outcome ?? r.expected ?? r.status ?? '');
    return job?.name ? `job ${job.name}${job.state ? ` (${job.state})` : ''}${outcome ? ` — ${outcome}` : ''}` : outcome || 'no job lists this drive';
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
      const r = await ops.receivePackage(session.token, { carrierName: carrier, trackingNumber: tracking, driveIds: scans.map((s) => s.driveId).reverse() });
      const outcomes = (r.drives ?? r.outcomes ?? []) as ScanOutcome[];
      setScans((list) =>
        list.map((s) => {
          const o = outcomes.find((x) => x.driveId === s.driveId);
          return o ? { ...s, outcome: String(o.outcome ?? o.status ?? ''), info: describe(o) } : s;
        }),
      );
      setDone(`Package ${tracking} recorded with ${scans.length} drive${scans.length === 1 ? '' : 's'}.`);
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
