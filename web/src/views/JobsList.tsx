/**
 * Jobs, most recently changed first. Filtering, search and paging happen on the server (keyset cursor), so the
 * page costs the same with ten jobs or ten thousand; a change stream refreshes the page as jobs move.
 */
import { useEffect, useLayoutEffect, useRef, useState } from 'react';
import { JOB_STATES, JOB_TYPES } from '../../../src/domain/states.ts';
import { call, followSse, type ConsoleJobsPage } from '../api.ts';
import { useSession } from '../App.tsx';
import { StateBadge } from '../components/StateBadge.tsx';
import { formatTime, relative } from '../format.ts';
import { href } from '../router.ts';

const PAGE = 50;

export function JobsList() {
  const session = useSession();
  const [state, setState] = useState('');
  const [type, setType] = useState('');
  const [search, setSearch] = useState('');
  const [query, setQuery] = useState('');
  const [cursors, setCursors] = useState<Array<string | null>>([null]);
  const [page, setPage] = useState<ConsoleJobsPage | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [live, setLive] = useState(false);
  const [tick, setTick] = useState(0);
  const marked = useRef(false);
  const cursor = cursors[cursors.length - 1];

  useEffect(() => {
    const t = setTimeout(() => setQuery(search.trim()), 250);
    return () => clearTimeout(t);
  }, [search]);
  useEffect(() => setCursors([null]), [state, type, query]);

  useEffect(() => {
    let cancelled = false;
    const params = new URLSearchParams({ top: String(PAGE), subscriptionId: session.subscriptionId });
    if (state) params.set('state', state);
    if (type) params.set('type', type);
    if (query) params.set('q', query);
    if (cursor) params.set('cursor', cursor);
    call<ConsoleJobsPage>(session.token, 'GET', `/console/api/jobs?${params}`)
      .then((p) => {
        if (!cancelled) {
          setPage(p);
          setError(null);
        }
      })
      .catch((e: Error) => !cancelled && setError(e.message));
    return () => {
      cancelled = true;
    };
  }, [session, state, type, query, cursor, tick]);

  // Live: any committed change in the subscription refreshes the page (at most every 500 ms).
  useEffect(() => {
    let pending: ReturnType<typeof setTimeout> | null = null;
    const stop = followSse(
      session.token,
      '/console/api/changes',
      () => {
        pending ??= setTimeout(() => {
          pending = null;
          setTick((n) => n + 1);
        }, 500);
      },
      setLive,
    );
    return () => {
      stop();
      if (pending) clearTimeout(pending);
    };
  }, [session]);

  useLayoutEffect(() => {
    if (page && !marked.current) {
      marked.current = true;
      performance.mark('jobs-list-rendered');
    }
  }, [page]);

  const first = (cursors.length - 1) * PAGE;
  return (
    <section aria-labelledby="jobs-title">
      <div className="page-head">
        <h1 id="jobs-title" tabIndex={-1}>Jobs</h1>
        <span className={`live ${live ? 'on' : 'off'}`} role="status">
          <span aria-hidden="true">{live ? '●' : '○'}</span> {live ? 'Live updates on' : 'Reconnecting…'}
        </span>
      </div>
      <form className="filters" role="search" onSubmit={(e) => e.preventDefault()}>
        <label>
          State
          <select value={state} onChange={(e) => setState(e.target.value)} name="state">
            <option value="">Any state</option>
            {JOB_STATES.map((s) => (
              <option key={s} value={s}>{s}</option>
            ))}
          </select>
        </label>
        <label>
          Type
          <select value={type} onChange={(e) => setType(e.target.value)} name="type">
            <option value="">Import and export</option>
            {JOB_TYPES.map((t) => (
              <option key={t} value={t}>{t}</option>
            ))}
          </select>
        </label>
        <label className="grow">
          Search by name
          <input type="search" value={search} onChange={(e) => setSearch(e.target.value)} name="q" placeholder="job name contains…" />
        </label>
      </form>
      {error && <p className="error" role="alert"><span aria-hidden="true">⚠ </span>{error}</p>}
      {!page && !error && <p role="status">Loading jobs…</p>}
      {page && (
        <>
          <p className="count" role="status" data-testid="jobs-count">
            {page.total === 0 ? 'No jobs match.' : `Showing ${first + 1}–${first + page.value.length} of ${page.total.toLocaleString('en-US')} jobs, most recently changed first`}
          </p>
          <div className="table-wrap">
            <table className="jobs" data-testid="jobs-table">
              <caption className="sr-only">Jobs, most recently changed first</caption>
              <thead>
                <tr>
                  <th scope="col">Name</th>
                  <th scope="col">Type</th>
                  <th scope="col">State</th>
                  <th scope="col" className="num">Done</th>
                  <th scope="col" className="hide-narrow">Resource group</th>
                  <th scope="col" className="hide-narrow">Last change</th>
                  <th scope="col" className="hide-narrow">Next deadline</th>
                </tr>
              </thead>
              <tbody>
                {page.value.map((j) => (
                  <tr key={j.id} data-job={j.name}>
                    <td>
                      <a href={href.job(j.resourceGroup, j.name)}>{j.name}</a>
                      {j.cancelRequested && <span className="tag">cancel requested</span>}
                    </td>
                    <td>{j.jobType}</td>
                    <td><StateBadge state={j.state} /></td>
                    <td className="num">{j.percentComplete}%</td>
                    <td className="hide-narrow">{j.resourceGroup}</td>
                    <td className="hide-narrow"><time dateTime={j.updatedAt}>{formatTime(j.updatedAt)}</time></td>
                    <td className="hide-narrow">{j.deadlineAt ? <time dateTime={j.deadlineAt} title={j.deadlineKind ?? ''}>{relative(new Date(j.deadlineAt))}</time> : '—'}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <nav className="pager" aria-label="Pages">
            <button type="button" disabled={cursors.length <= 1} onClick={() => setCursors((c) => c.slice(0, -1))}>
              ← Newer
            </button>
            <button type="button" disabled={!page.nextCursor} onClick={() => page.nextCursor && setCursors((c) => [...c, page.nextCursor])}>
              Older →
            </button>
          </nav>
        </>
      )}
    </section>
  );
}
