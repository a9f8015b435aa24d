/**
 * One job: what state it is in and why, what will happen next and when, the lifecycle diagram with the path taken,
 * every drive's progress and logs, the full history, and the actions the caller's role allows.
 */
import { useCallback, useEffect, useMemo, useState, type FormEvent } from 'react';
import { JobState, DriveState } from '../../../src/domain/states.ts';
import { DeadlineKind } from '../../../src/domain/timers.ts';
import { UNFAULT_JOB_TARGETS, UNFAULT_DRIVE_TARGETS, FAULTABLE_JOB_STATES } from '../../../src/domain/transitions.ts';
import { ApiFailure, call, driveLogSource, followSse, jobPath, normalizeEvent, withVersion, type DriveStatus, type JobEvent, type JobResponse } from '../api.ts';
import { canWrite, isOperator, useSession } from '../App.tsx';
import { DriveProgress, type DriveProgressData } from '../components/DriveProgress.tsx';
import { JobNotices, revealDetails } from '../components/JobNotices.tsx';
import { LifecycleDiagram } from '../components/LifecycleDiagram.tsx';
import { LogTable, parseDriveLog, type ParsedLog } from '../components/LogTable.tsx';
import { StateBadge } from '../components/StateBadge.tsx';
import { formatTime, relative } from '../format.ts';
import { driveLifecycle, jobLifecycle } from '../lifecycle.ts';
import { ops } from '../ops.ts';
import { href } from '../router.ts';
import { AddressFields, emptyAddress, type Address } from './AddressFields.tsx';

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
const FIX_ADDRESS_ID = 'fix-return-address';
const canFixReturnAddress = (state: string) => (FAULTABLE_JOB_STATES as string[]).includes(state) && state !== JobState.Creating;

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

function ErrorLine({ error }: { error: string | null }) {
  return error ? (
    <p className="error" role="alert">
      <span aria-hidden="true">⚠ </span>
      {error}
    </p>
  ) : null;
}
const message = (e: unknown) => (e instanceof ApiFailure ? `${e.message}${e.target ? ` (field: ${e.target})` : ''}` : e instanceof Error ? e.message : String(e));

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

function DriveLogs({ drive, jobApiPath }: { drive: DriveStatus; jobApiPath: string }) {
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

function CustomerActions({ job, path, onDone }: { job: JobResponse; path: string; onDone: () => void }) {
  const session = useSession();
  const p = job.properties;
  const state = p.state ?? JobState.Creating;
  const [carrier, setCarrier] = useState('FedEx');
  const [tracking, setTracking] = useState('');
  const [count, setCount] = useState(String(p.driveList?.length ?? 1));
  const [shipDate, setShipDate] = useState(new Date().toISOString().slice(0, 10));
  const [address, setAddress] = useState<Address>(() => ({ ...emptyAddress, ...(p.returnAddress ?? {}) }));
  const [error, setError] = useState<string | null>(null);
  const [note, setNote] = useState<string | null>(null);
  const patch = async (properties: Record<string, unknown>, done: string) => {
    setError(null);
    setNote(null);
    try {
      await call(session.token, 'PATCH', withVersion(path), { properties });
      setNote(done);
      onDone();
    } catch (e) {
      setError(message(e));
    }
  };
  const ship = (e: FormEvent) => {
    e.preventDefault();
    void patch(
      {
        deliveryPackage: { carrierName: carrier, trackingNumber: tracking, driveCount: Number(count), shipDate },
        ...(p.returnAddress ? {} : { returnAddress: address }),
        state: JobState.Shipping,
      },
      'Shipping information saved.',
    );
  };
  return (
    <div className="actions">
      <ErrorLine error={error} />
      {note && <p role="status" className="ok"><span aria-hidden="true">✓ </span>{note}</p>}
      {state === JobState.Creating && (
        <form onSubmit={ship} className="form" aria-labelledby="ship-title">
          <h3 id="ship-title">Add shipping information</h3>
          <div className="row">
            <label>Carrier<input name="carrierName" required value={carrier} onChange={(e) => setCarrier(e.target.value)} /></label>
            <label>Tracking number<input name="trackingNumber" required value={tracking} onChange={(e) => setTracking(e.target.value)} /></label>
          </div>
          <div className="row">
            <label>Drives in the package<input name="driveCount" type="number" min={0} value={count} onChange={(e) => setCount(e.target.value)} /></label>
            <label>Ship date<input name="shipDate" type="date" value={shipDate} onChange={(e) => setShipDate(e.target.value)} /></label>
          </div>
          {!p.returnAddress && (
            <fieldset>
              <legend>Return address</legend>
              <AddressFields value={address} onChange={setAddress} />
            </fieldset>
          )}
          <button type="submit">Mark as shipped</button>
        </form>
      )}
      {canFixReturnAddress(state) && (
        <details id={FIX_ADDRESS_ID}>
          <summary>Fix the return address</summary>
          <form
            className="form"
            onSubmit={(e) => {
              e.preventDefault();
              void patch({ returnAddress: address }, 'Return address updated.');
            }}
          >
            <AddressFields value={address} onChange={setAddress} />
            <button type="submit">Save return address</button>
          </form>
        </details>
      )}
      {!p.cancelRequested && (FAULTABLE_JOB_STATES as string[]).includes(state) && (
        <button
          type="button"
          className="danger"
          onClick={() => {
            if (window.confirm(`Cancel job ${job.name}? Drives not yet copying are skipped and shipped back.`)) void patch({ cancelRequested: true }, 'Cancellation requested.');
          }}
        >
          <span aria-hidden="true">✕ </span>Cancel job
        </button>
      )}
      <p>
        <a href={href.webhooks()}>Manage webhooks</a>
      </p>
    </div>
  );
}

function OperatorJobActions({ job, jobRef, onDone }: { job: JobResponse; jobRef: { subscriptionId: string; resourceGroup: string; name: string }; onDone: () => void }) {
  const session = useSession();
  const state = job.properties.state ?? '';
  const [reason, setReason] = useState('');
  const [target, setTarget] = useState<string>(UNFAULT_JOB_TARGETS[0]);
  const [carrier, setCarrier] = useState('FedEx');
  const [tracking, setTracking] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [note, setNote] = useState<string | null>(null);
  const run = async (f: () => Promise<unknown>, done: string) => {
    setError(null);
    setNote(null);
    try {
      await f();
      setNote(done);
      onDone();
    } catch (e) {
      setError(message(e));
    }
  };
  return (
    <div className="actions operator" aria-label="Operator actions">
      <h3>Operator</h3>
      <ErrorLine error={error} />
      {note && <p role="status" className="ok"><span aria-hidden="true">✓ </span>{note}</p>}
      {state === JobState.Packaging && (
        <form
          className="form"
          onSubmit={(e) => {
            e.preventDefault();
            void run(
              () => ops.shipBack(session.token, jobRef, { carrierName: carrier, trackingNumber: tracking, driveCount: job.properties.driveList?.length ?? 0, shipDate: new Date().toISOString().slice(0, 10) }),
              'Return shipment recorded.',
            );
          }}
        >
          <h4>Ship back</h4>
          <div className="row">
            <label>Return carrier<input name="returnCarrier" required value={carrier} onChange={(e) => setCarrier(e.target.value)} /></label>
            <label>Return tracking number<input name="returnTracking" required value={tracking} onChange={(e) => setTracking(e.target.value)} /></label>
          </div>
          <button type="submit">Record return shipment</button>
        </form>
      )}
      <label>
        Reason (for fault or unfault)
        <input name="faultReason" value={reason} onChange={(e) => setReason(e.target.value)} />
      </label>
      {(FAULTABLE_JOB_STATES as string[]).includes(state) && (
        <button type="button" className="danger" disabled={!reason} onClick={() => void run(() => ops.faultJob(session.token, jobRef, reason), 'Job faulted.')}>
          <span aria-hidden="true">⚠ </span>Fault job
        </button>
      )}
      {state === JobState.Faulted && (
        <div className="row">
          <label>
            Continue in
            <select value={target} onChange={(e) => setTarget(e.target.value)} name="unfaultTarget">
              {UNFAULT_JOB_TARGETS.map((s) => (
                <option key={s} value={s}>{s}</option>
              ))}
            </select>
          </label>
          <button type="button" disabled={!reason} onClick={() => void run(() => ops.unfaultJob(session.token, jobRef, target, reason), `Job continues in ${target}.`)}>
            Unfault job
          </button>
        </div>
      )}
    </div>
  );
}

function OperatorDriveActions({ jobRef, drive, onDone }: { jobRef: { subscriptionId: string; resourceGroup: string; name: string }; drive: DriveStatus; onDone: () => void }) {
  const session = useSession();
  const [reason, setReason] = useState('');
  const [target, setTarget] = useState<string>(UNFAULT_DRIVE_TARGETS[0]);
  const [error, setError] = useState<string | null>(null);
  const run = async (f: () => Promise<unknown>) => {
    setError(null);
    try {
      await f();
      onDone();
    } catch (e) {
      setError(message(e));
    }
  };
  return (
    <details className="operator">
      <summary>Operator: drive {drive.driveId}</summary>
      <ErrorLine error={error} />
      <div className="row">
        <label>
          Reason
          <input value={reason} onChange={(e) => setReason(e.target.value)} name={`reason-${drive.driveId}`} />
        </label>
        {drive.state === DriveState.Faulted ? (
          <>
            <label>
              Continue in
              <select value={target} onChange={(e) => setTarget(e.target.value)}>
                {UNFAULT_DRIVE_TARGETS.map((s) => (
                  <option key={s} value={s}>{s}</option>
                ))}
              </select>
            </label>
            <button type="button" disabled={!reason} onClick={() => void run(() => ops.unfaultDrive(session.token, jobRef, drive.driveId, target, reason))}>
              Unfault drive
            </button>
          </>
        ) : (
          <button type="button" className="danger" disabled={!reason} onClick={() => void run(() => ops.faultDrive(session.token, jobRef, drive.driveId, reason))}>
            Fault drive
          </button>
        )}
      </div>
      <a href={href.certificate(drive.driveId)}>Custody certificate</a>
    </details>
  );
}
