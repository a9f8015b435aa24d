/**
 * One job: what state it is in and why, what will happen next and when, the lifecycle diagram with the path taken,
 * every drive's progress and logs, the full history, and the actions the caller's role allows.
 */
import { useCallback, useEffect, useMemo, useState } from 'react';
import { JobState } from '../../../src/domain/states.ts';
import { DeadlineKind } from '../../../src/domain/timers.ts';
import { call, followSse, jobPath, normalizeEvent, withVersion, type DriveStatus, type JobEvent, type JobResponse } from '../api.ts';
import { canWrite, isOperator, useSession } from '../App.tsx';
import { DriveProgress, type DriveProgressData } from '../components/DriveProgress.tsx';
import { JobNotices, revealDetails } from '../components/JobNotices.tsx';
import { LifecycleDiagram } from '../components/LifecycleDiagram.tsx';
import { StateBadge } from '../components/StateBadge.tsx';
import { formatTime, relative } from '../format.ts';
import { driveLifecycle, jobLifecycle } from '../lifecycle.ts';
import { href } from '../router.ts';
import { DriveLogs } from './DriveLogs.tsx';
import { CustomerActions, FIX_ADDRESS_ID, OperatorDriveActions, OperatorJobActions, canFixReturnAddress } from './JobActions.tsx';
import { ErrorLine, message } from './feedback.tsx';

interface Deadline {
  kind: string;
  at: string;
  description: string;
  /** When the customer is warned before it happens (some deadlines). */
  warningAt?: string;
}

/** What each timer does, for people ("deleted in 9 days unless shipping info is added"). */
const DEADLINE_TEXT: Record<string, string> = {
  [DeadlineKind.DeleteCreating]: 'This job will be deleted {when} unless shipping information is added (any update restarts the wait).',
  [DeadlineKind.ShippingAlert]: 'If the package has not arrived {when}, operators are alerted and the drives are marked never received.',
  [DeadlineKind.CloseUnanswered]: 'This job will be closed {when} unless the package arrives or you answer the operators.',
  [DeadlineKind.DeleteFinished]: 'This job and its history will be deleted {when}.',
};

/** The customer's "fix the return address" form, which the return address notice opens. */

const ext = (job: JobResponse) => ((job.properties as Record<string, unknown>).sneakernet ?? {}) as Record<string, unknown>;

/** Every pending deadline; the API sends `dueAt` (older servers: `at`, or a single `pendingDeadline`). */
export function deadlinesOf(job: JobResponse): Deadline[] {
  const p = job.properties as Record<string, unknown>;
  const x = ext(job);
  const raw = x.pendingDeadlines ?? p.pendingDeadlines ?? (x.pendingDeadline ? [x.pendingDeadline] : []);
  if (!Array.isArray(raw)) return [];
  return (raw as Array<Record<string, unknown> | null>)
    .map((d) => {
      const at = d && (d.dueAt ?? d.at);
      if (!d || typeof at !== 'string') return null;
      const kind = String(d.kind ?? '');
      const description = DEADLINE_TEXT[kind] ?? (typeof d.description === 'string' ? d.description : kind);
      return { kind, at, description, ...(typeof d.warningAt === 'string' ? { warningAt: d.warningAt } : {}) };
    })
    .filter((d): d is Deadline => d !== null);
}

function progressOf(d: DriveStatus, job: JobResponse): DriveProgressData {
  const extras = (ext(job).drives ?? []) as Array<Record<string, unknown>>;
  const x = (extras.find((e) => e.driveId === d.driveId) ?? d.progress ?? {}) as Record<string, unknown>;
  const n = (k: string) => {
    const v = d[k] ?? x[k];
    return typeof v === 'number' ? v : v === undefined || v === null ? undefined : Number(v);
  };
  return {
    driveId: d.driveId,
    state: d.state,
    percentComplete: d.percentComplete ?? 0,
    bytesTotal: n('bytesTotal'),
    bytesSucceeded: d.bytesSucceeded ?? n('bytesSucceeded'),
    objectsTotal: n('objectsTotal'),
    objectsSucceeded: n('objectsSucceeded'),
    objectsFailed: n('objectsFailed'),
    phase: (d.phase ?? x.phase ?? d.copyStatus ?? null) as string | null,
    rateBps: n('rateBps') ?? n('bytesPerSecond'),
  };
}

export function JobDetail({ resourceGroup, name }: { resourceGroup: string; name: string }) {
  const session = useSession();
  const path = jobPath(session.subscriptionId, resourceGroup, name);
  const [job, setJob] = useState<JobResponse | null>(null);
  const [events, setEvents] = useState<JobEvent[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [live, setLive] = useState(false);

  const refresh = useCallback(async () => {
    try {
      setJob(await call<JobResponse>(session.token, 'GET', withVersion(path)));
      setError(null);
    } catch (e) {
      setError(message(e));
    }
  }, [session, path]);

  useEffect(() => {
    void refresh();
    let pending: ReturnType<typeof setTimeout> | null = null;
    const stop = followSse(
      session.token,
      withVersion(`${path}/events`),
      (m) => {
        if (!m.data) return;
        try {
          const raw = JSON.parse(m.data) as Record<string, unknown>;
          const ev = normalizeEvent(raw, Number(m.id ?? 0));
          setEvents((list) => (list.some((e) => e.id === ev.id) ? list : [...list, ev].sort((a, b) => a.id - b.id)));
        } catch {
          /* a keep-alive or a message that is not an event */
        }
        pending ??= setTimeout(() => {
          pending = null;
          void refresh();
        }, 300);
      },
      setLive,
    );
    // Progress bars move without state changes; poll gently while something is copying.
    const poll = setInterval(() => void refresh(), 5000);
    return () => {
      stop();
      clearInterval(poll);
      if (pending) clearTimeout(pending);
    };
  }, [session, path, refresh]);

  const jobHistory = useMemo(() => {
    const seq = events.filter((e) => !e.driveId && e.toState).map((e) => e.toState);
    return seq;
  }, [events]);

  if (error && !job) {
    return (
      <section>
        <h1 tabIndex={-1}>{name}</h1>
        <ErrorLine error={error} />
        <a href={href.jobs()}>← All jobs</a>
      </section>
    );
  }
  if (!job) return <p role="status">Loading {name}…</p>;
  const p = job.properties;
  const state = p.state ?? JobState.Creating;
  const drives = p.driveList ?? [];
  const deadlines = deadlinesOf(job);
  const reason = (ext(job).stateReason ?? p.stateReason ?? null) as { code?: string; message?: string } | string | null;
  const reasonText = typeof reason === 'string' ? reason : reason?.message;
  const ref = { subscriptionId: session.subscriptionId, resourceGroup, name };

  return (
    <article aria-labelledby="job-title" className="job">
      <p className="crumbs">
        <a href={href.jobs()}>← All jobs</a>
      </p>
      <div className="page-head">
        <h1 id="job-title" tabIndex={-1}>
          {job.name}
        </h1>
        <StateBadge state={state} />
        <span className={`live ${live ? 'on' : 'off'}`} role="status">
          <span aria-hidden="true">{live ? '●' : '○'}</span> {live ? 'Live' : 'Connecting…'}
        </span>
      </div>
      <ErrorLine error={error} />
      <JobNotices
        job={job}
        onFixAddress={canWrite(session) && canFixReturnAddress(state) ? () => revealDetails(FIX_ADDRESS_ID) : undefined}
        fixControls={FIX_ADDRESS_ID}
      />
      <dl className="facts">
        <div><dt>Type</dt><dd>{p.jobType}</dd></div>
        <div><dt>State</dt><dd data-testid="job-state">{state}</dd></div>
        <div><dt>Why</dt><dd>{reasonText || '—'}</dd></div>
        <div><dt>Done</dt><dd>{p.percentComplete ?? 0}%</dd></div>
        <div><dt>Resource group</dt><dd>{resourceGroup}</dd></div>
        <div><dt>Location</dt><dd>{job.location}</dd></div>
        <div><dt>Cancel requested</dt><dd>{p.cancelRequested ? 'yes' : 'no'}</dd></div>
        <div><dt>Storage account</dt><dd className="mono wrap">{p.storageAccountId ?? '—'}</dd></div>
      </dl>

      <section aria-labelledby="deadlines-title" className="card">
        <h2 id="deadlines-title">What happens next</h2>
        {deadlines.length === 0 ? (
          <p className="muted">No pending deadline.</p>
        ) : (
          <ul className="deadlines">
            {deadlines.map((d) => (
              <li key={`${d.kind}-${d.at}`} data-testid="deadline">
                <span aria-hidden="true">◷ </span>
                {d.description.includes('{when}') ? (
                  <>
                    {d.description.split('{when}')[0]}
                    <strong>{relative(new Date(d.at))}</strong> ({formatTime(d.at)}){d.description.split('{when}')[1]}
                  </>
                ) : (
                  <>
                    <strong>{relative(new Date(d.at))}</strong> ({formatTime(d.at)}): {d.description}
                  </>
                )}
                {d.warningAt && Date.parse(d.warningAt) > Date.now() && (
                  <span className="muted"> You will be reminded {relative(new Date(d.warningAt))}.</span>
                )}
              </li>
            ))}
          </ul>
        )}
        {p.shippingInformation && (
          <p>
            Ship drives to: {Object.entries(p.shippingInformation).filter(([k]) => k !== 'additionalInformation').map(([, v]) => v).filter(Boolean).join(', ')}
          </p>
        )}
      </section>

      <div className="two-col">
        <section aria-labelledby="diagram-title" className="card">
          <h2 id="diagram-title">Lifecycle</h2>
          <LifecycleDiagram title={`Lifecycle of job ${job.name}`} lifecycle={jobLifecycle()} current={state} history={jobHistory} />
        </section>
        <section aria-labelledby="actions-title" className="card">
          <h2 id="actions-title">Actions</h2>
          {canWrite(session) && <CustomerActions job={job} path={path} onDone={refresh} />}
          {isOperator(session) && <OperatorJobActions job={job} jobRef={ref} onDone={refresh} />}
          {!canWrite(session) && !isOperator(session) && <p className="muted">This token can only read.</p>}
        </section>
      </div>

      <section aria-labelledby="drives-title" className="card">
        <h2 id="drives-title">Drives ({drives.length})</h2>
        {drives.length === 0 && <p className="muted">No drives listed.</p>}
        <ul className="drives">
          {drives.map((d) => (
            <li key={d.driveId} className="drive" data-drive={d.driveId}>
              <div className="drive-head">
                <h3 className="mono">{d.driveId}</h3>
                <StateBadge state={d.state} />
              </div>
              <DriveProgress drive={progressOf(d, job)} />
              <details>
                <summary>Drive lifecycle</summary>
                <LifecycleDiagram
                  title={`Lifecycle of drive ${d.driveId}`}
                  lifecycle={driveLifecycle()}
                  current={d.state}
                  history={events.filter((e) => e.driveId === d.driveId).map((e) => e.toState)}
                  maxWidth={460}
                />
              </details>
              <DriveLogs drive={d} jobApiPath={path} />
              {isOperator(session) && <OperatorDriveActions jobRef={ref} drive={d} onDone={refresh} />}
            </li>
          ))}
        </ul>
      </section>

      <section aria-labelledby="timeline-title" className="card">
        <h2 id="timeline-title">Timeline</h2>
        {events.length === 0 ? (
          <p className="muted">{live ? 'No events yet.' : 'Loading history…'}</p>
        ) : (
          <div className="table-wrap">
            <table className="timeline" data-testid="timeline">
              <caption className="sr-only">Every event of the job, oldest first</caption>
              <thead>
                <tr>
                  <th scope="col">When</th>
                  <th scope="col">What</th>
                  <th scope="col">Change</th>
                  <th scope="col">Who</th>
                  <th scope="col">Why</th>
                </tr>
              </thead>
              <tbody>
                {events.map((e) => (
                  <tr key={e.id}>
                    <td><time dateTime={e.at}>{formatTime(e.at)}</time></td>
                    <td>{e.driveId ? <>drive <span className="mono">{e.driveId}</span>: {e.event}</> : e.event}</td>
                    <td>{e.fromState ?? '—'} → {e.toState ?? '—'}</td>
                    <td>{e.actor}{e.actorId ? ` (${e.actorId})` : ''}</td>
                    <td>{e.message || e.reasonCode}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </section>
    </article>
  );
}
