/** Record a secure destruction, and the printable destruction / chain-of-custody certificate of a drive. */
import { useEffect, useState, type FormEvent } from 'react';
import { useSession } from '../App.tsx';
import { formatTime } from '../format.ts';
import { ops } from '../ops.ts';
import { href } from '../router.ts';

export function Destruction() {
  const session = useSession();
  const [driveId, setDriveId] = useState('');
  const [method, setMethod] = useState('Shredded (NIST 800-88 Destroy)');
  const [by, setBy] = useState('');
  const [error, setError] = useState<string | null>(null);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setError(null);
    try {
      const id = driveId.trim();
      const held = (await ops.heldDrives(session.token)).value.find((h) => h.driveId === id && !h.resolvedAt);
      if (held) await ops.recordHeldDestruction(session.token, Number(held.id), { method, destroyedBy: by });
      else {
        const found = (await ops.lookupDrive(session.token, id)).jobs[0];
        if (!found) throw new Error(`No job and no held drive has the id ${id}.`);
        await ops.recordDestruction(session.token, found.id, id, { method, destroyedBy: by });
      }
      window.location.hash = href.certificate(driveId.trim());
    } catch (err) {
      setError((err as Error).message);
    }
  };
  return (
    <section aria-labelledby="destroy-title">
      <h1 id="destroy-title" tabIndex={-1}>Secure destruction</h1>
      <form className="form card" onSubmit={submit}>
        <label>Drive id<input name="driveId" required value={driveId} onChange={(e) => setDriveId(e.target.value)} /></label>
        <label>Method<input name="method" required value={method} onChange={(e) => setMethod(e.target.value)} /></label>
        <label>Destroyed by<input name="destroyedBy" required value={by} onChange={(e) => setBy(e.target.value)} /></label>
        {error && <p className="error" role="alert"><span aria-hidden="true">⚠ </span>{error}</p>}
        <button type="submit" className="danger">Record destruction</button>
      </form>
      <form className="form card" onSubmit={(e) => { e.preventDefault(); window.location.hash = href.certificate(driveId.trim()); }}>
        <p>Or open the custody certificate of the drive id above.</p>
        <button type="submit" disabled={!driveId.trim()}>Open certificate</button>
      </form>
    </section>
  );
}

export function Certificate({ driveId }: { driveId: string }) {
  const session = useSession();
  const [data, setData] = useState<Awaited<ReturnType<typeof ops.custody>> | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    ops.custody(session.token, driveId).then(setData, (e: Error) => setError(e.message));
  }, [session, driveId]);
  const cert = data ? (data.certificates[data.certificates.length - 1] ?? {}) as Record<string, unknown> : null;
  const custody = (data?.chainOfCustody ?? []) as Array<Record<string, unknown>>;
  const destruction = cert && cert.destroyedAt ? cert : null;
  return (
    <article className="certificate" aria-labelledby="cert-title">
      <h1 id="cert-title" tabIndex={-1}>Chain-of-custody certificate — drive <span className="mono">{driveId}</span></h1>
      {error && <p className="error" role="alert"><span aria-hidden="true">⚠ </span>{error}</p>}
      {cert && (
        <>
          <dl className="facts">
            <div><dt>Drive</dt><dd className="mono">{driveId}</dd></div>
            <div><dt>Job</dt><dd>{String((cert.job as Record<string, unknown> | undefined)?.name ?? custody.find((c) => c.jobName)?.jobName ?? '—')}</dd></div>
            <div><dt>Certificate id</dt><dd className="mono">{String(cert.id ?? cert.certificateId ?? '—')}</dd></div>
            {destruction && <div><dt>Destroyed</dt><dd>{formatTime(String(destruction.destroyedAt ?? destruction.at ?? ''))} by {String(destruction.destroyedBy ?? '')} — {String(destruction.method ?? '')}</dd></div>}
          </dl>
          <table>
            <caption>Custody, oldest first</caption>
            <thead><tr><th scope="col">When</th><th scope="col">What</th><th scope="col">Who</th><th scope="col">Detail</th></tr></thead>
            <tbody>
              {custody.map((c, i) => (
                <tr key={i}>
                  <td>{formatTime(String(c.at ?? ''))}</td>
                  <td>{String(c.kind ?? c.event ?? '')}</td>
                  <td>{String(c.actorId ?? c.actor ?? '—')}</td>
                  <td>{c.detail ? JSON.stringify(c.detail) : ''}</td>
                </tr>
              ))}
            </tbody>
          </table>
          {typeof cert.statement === 'string' && <p>{cert.statement}</p>}
          <p className="signature">Signature: ______________________ Date: ____________</p>
          <button type="button" className="no-print" onClick={() => window.print()}>Print certificate</button>
        </>
      )}
    </article>
  );
}
