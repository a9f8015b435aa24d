/** A drive's error and verbose logs: fetched on demand, shown as sortable tables, each with a download link. */
import { useEffect, useState } from 'react';
import { driveLogSource, type DriveStatus } from '../api.ts';
import { useSession } from '../App.tsx';
import { LogTable, parseDriveLog, type ParsedLog } from '../components/LogTable.tsx';
import { href } from '../router.ts';
import { ErrorLine, message } from './feedback.tsx';

/** The file name a download should get: the server's Content-Disposition, else the URI's last segment. */
function logFileName(res: Response, uri: string, fallback: string): string {
  const cd = res.headers.get('content-disposition') ?? '';
  const m = /filename="?([^";]+)"?/i.exec(cd);
  if (m) return m[1];
  const last = uri.split(/[\\/]/).pop() ?? '';
  try {
    return decodeURIComponent(last.split('?')[0]) || fallback;
  } catch {
    return last || fallback;
  }
}

export function DriveLogs({ drive, jobApiPath }: { drive: DriveStatus; jobApiPath: string }) {
  const session = useSession();
  const [logs, setLogs] = useState<Array<{ title: string; log: ParsedLog; href: string; name: string }>>([]);
  const [error, setError] = useState<string | null>(null);
  const [open, setOpen] = useState(false);
  const uris = (
    [
      ['Error log', 'error', drive.errorLogUri],
      ['Verbose log', 'verbose', drive.verboseLogUri],
    ] as Array<[string, 'error' | 'verbose', string | undefined | null]>
  ).filter((u): u is [string, 'error' | 'verbose', string] => !!u[2]);
  useEffect(() => () => logs.forEach((l) => URL.revokeObjectURL(l.href)), [logs]);
  const load = async () => {
    setOpen(true);
    setError(null);
    try {
      const out = [];
      for (const [title, kind, uri] of uris) {
        const res = await fetch(driveLogSource(uri, jobApiPath, drive.driveId, kind), { headers: { authorization: `Bearer ${session.token}` } });
        if (!res.ok) {
          let detail = '';
          try {
            detail = ((await res.json()) as { error?: { message?: string } }).error?.message ?? '';
          } catch {
            /* not JSON */
          }
          throw new Error(`${title}: HTTP ${res.status}${detail ? ` — ${detail}` : ''}`);
        }
        const xml = await res.text();
        out.push({
          title: `${title} of drive ${drive.driveId}`,
          log: parseDriveLog(xml),
          href: URL.createObjectURL(new Blob([xml], { type: 'application/xml' })),
          name: logFileName(res, uri, `${drive.driveId}_${kind}.xml`),
        });
      }
      setLogs(out);
    } catch (e) {
      setError(message(e));
      setOpen(false);
    }
  };
  if (uris.length === 0) return <p className="muted">No logs yet (logs appear when the drive has been copied).</p>;
  return (
    <div>
      {!open && (
        <button type="button" onClick={load}>
          Show logs of {drive.driveId}
        </button>
      )}
      <ErrorLine error={error} />
      {logs.map((l) => (
        <LogTable key={l.title} title={l.title} log={l.log} downloadHref={l.href} downloadName={l.name} />
      ))}
    </div>
  );
}
