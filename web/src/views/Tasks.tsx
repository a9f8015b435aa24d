/** The operators' queue: what must be done, by when; closable with a note. */
import { useCallback, useEffect, useState } from 'react';
import { useSession } from '../App.tsx';
import { formatTime, relative } from '../format.ts';
import { ops } from '../ops.ts';
import { href } from '../router.ts';

export function Tasks() {
  const session = useSession();
  const [status, setStatus] = useState('open');
  const [tasks, setTasks] = useState<Array<Record<string, unknown>> | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [notes, setNotes] = useState<Record<string, string>>({});
  const load = useCallback(() => {
    ops.tasks(session.token, status).then((r) => { setTasks(r.value ?? []); setError(null); }, (e: Error) => setError(e.message));
  }, [session, status]);
  useEffect(() => {
    load();
    const t = setInterval(load, 5000);
    return () => clearInterval(t);
  }, [load]);
  return (
    <section aria-labelledby="tasks-title">
      <h1 id="tasks-title" tabIndex={-1}>Operator tasks</h1>
      <label>
        Show
        <select value={status} onChange={(e) => setStatus(e.target.value)}>
          <option value="open">Open tasks</option>
          <option value="closed">Closed tasks</option>
          <option value="all">All tasks</option>
        </select>
      </label>
      {error && <p className="error" role="alert"><span aria-hidden="true">⚠ </span>{error}</p>}
      {tasks && tasks.length === 0 && <p role="status">Nothing to do.</p>}
      {tasks && tasks.length > 0 && (
        <div className="table-wrap">
          <table>
            <caption className="sr-only">Operator tasks</caption>
            <thead><tr><th scope="col">Due</th><th scope="col">Task</th><th scope="col">Kind</th><th scope="col">Job</th><th scope="col">Close</th></tr></thead>
            <tbody>
              {tasks.map((t) => {
                const id = String(t.id);
                const due = t.dueAt as string | undefined;
                const overdue = due && new Date(due) < new Date();
                return (
                  <tr key={id}>
                    <td>{due ? <><time dateTime={due}>{formatTime(due)}</time><br /><span className={overdue ? 'error-text' : 'muted'}>{overdue ? '⚠ overdue ' : ''}{relative(new Date(due))}</span></> : '—'}</td>
                    <td>{String(t.title ?? '')}</td>
                    <td>{String(t.kind ?? '')}</td>
                    <td>{t.jobName ? (t.resourceGroup ? <a href={href.job(String(t.resourceGroup), String(t.jobName))}>{String(t.jobName)}</a> : String(t.jobName)) : '—'}</td>
                    <td>
                      {t.status !== 'closed' && (
                        <form onSubmit={(e) => { e.preventDefault(); void ops.closeTask(session.token, id, notes[id] ?? '').then(load, (err: Error) => setError(err.message)); }}>
                          <label className="sr-only" htmlFor={`note-${id}`}>Note for task {id}</label>
                          <input id={`note-${id}`} value={notes[id] ?? ''} onChange={(e) => setNotes({ ...notes, [id]: e.target.value })} placeholder="note" />
                          <button type="submit">Close</button>
                        </form>
                      )}
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
