/** Drives copying right now, with throughput. */
import { useEffect, useState } from 'react';
import { call, type ConsoleJobsPage } from '../api.ts';
import { useSession } from '../App.tsx';
import { DriveProgress } from '../components/DriveProgress.tsx';
import { DriveState, JobState } from '../../../src/domain/states.ts';
import { ops } from '../ops.ts';
import { href } from '../router.ts';

const TOP = 25;

export function Transfers() {
  const session = useSession();
  const [rows, setRows] = useState<Array<Record<string, unknown>> | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    const load = async () => {
      try {
        // Jobs in Transferring, most recently changed first (copying jobs change with every progress report), so a
        // long tail of old Transferring jobs cannot hide the ones copying now.
        const jobs = (await call<ConsoleJobsPage>(session.token, 'GET', `/console/api/jobs?state=${JobState.Transferring}&top=${TOP}`)).value;
        const details = await Promise.all(jobs.map((j) => ops.job(session.token, j.id)));
        setRows(
          details.flatMap((d) =>
            d.drives
              .filter((x) => x.state === DriveState.Transferring)
              .map((x) => ({ ...x, jobName: d.name, resourceGroup: d.resourceGroup })),
          ),
        );
        setError(null);
      } catch (e) {
        setError((e as Error).message);
      }
    };
    void load();
    const t = setInterval(load, 2000);
    return () => clearInterval(t);
  }, [session]);
  const total = (rows ?? []).reduce((s, r) => s + Number(r.rateBps ?? 0), 0);
  return (
    <section aria-labelledby="transfers-title">
      <h1 id="transfers-title" tabIndex={-1}>Transfers in flight</h1>
      {error && <p className="error" role="alert"><span aria-hidden="true">⚠ </span>{error}</p>}
      {rows && <p role="status">{rows.length} drive{rows.length === 1 ? '' : 's'} copying · total {(total / 1e6).toFixed(1)} MB/s</p>}
      <ul className="drives">
        {(rows ?? []).map((r) => (
          <li key={`${r.jobName}-${r.driveId}`} className="drive">
            <p>
              Job {r.resourceGroup ? <a href={href.job(String(r.resourceGroup), String(r.jobName))}>{String(r.jobName)}</a> : String(r.jobName ?? '')}
              {r.leaseOwner ? <span className="muted"> · worker {String(r.leaseOwner)}</span> : null}
            </p>
            <DriveProgress
              drive={{
                driveId: String(r.driveId),
                state: String(r.state ?? ''),
                percentComplete: Number(r.percentComplete ?? 0),
                bytesTotal: Number(r.bytesTotal ?? 0),
                bytesSucceeded: Number(r.bytesSucceeded ?? 0),
                objectsTotal: Number(r.objectsTotal ?? 0),
                objectsSucceeded: Number(r.objectsSucceeded ?? 0),
                objectsFailed: Number(r.objectsFailed ?? 0),
                phase: (r.phase as string) ?? null,
                rateBps: Number(r.rateBps ?? 0),
              }}
            />
          </li>
        ))}
      </ul>
    </section>
  );
}
