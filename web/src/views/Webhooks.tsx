/** Webhook subscriptions of the caller's subscription: list, add, delete. */
import { useCallback, useEffect, useState, type FormEvent } from 'react';
import { call, withVersion } from '../api.ts';
import { useSession } from '../App.tsx';

export function Webhooks() {
  const session = useSession();
  const base = `/subscriptions/${encodeURIComponent(session.subscriptionId)}/providers/Microsoft.ImportExport/webhooks`;
  const [hooks, setHooks] = useState<Array<Record<string, unknown>> | null>(null);
  const [url, setUrl] = useState('');
  const [secret, setSecret] = useState('');
  const [error, setError] = useState<string | null>(null);
  const load = useCallback(() => {
    call<{ value: Array<Record<string, unknown>> }>(session.token, 'GET', withVersion(base)).then((r) => setHooks(r.value ?? []), (e: Error) => setError(e.message));
  }, [session, base]);
  useEffect(load, [load]);
  const add = async (e: FormEvent) => {
    e.preventDefault();
    setError(null);
    try {
      await call(session.token, 'POST', withVersion(base), { url, secret: secret || undefined });
      setUrl('');
      setSecret('');
      load();
    } catch (err) {
      setError((err as Error).message);
    }
  };
  return (
    <section aria-labelledby="hooks-title">
      <h1 id="hooks-title" tabIndex={-1}>Webhooks</h1>
      {error && <p className="error" role="alert"><span aria-hidden="true">⚠ </span>{error}</p>}
      <form className="form card" onSubmit={add}>
        <label>Receiver URL<input type="url" name="url" required value={url} onChange={(e) => setUrl(e.target.value)} /></label>
        <label>Signing secret (optional; HMAC-SHA256)<input name="secret" value={secret} onChange={(e) => setSecret(e.target.value)} autoComplete="off" /></label>
        <button type="submit">Add webhook</button>
      </form>
      <ul>
        {(hooks ?? []).map((h) => (
          <li key={String(h.id)}>
            <span className="mono">{String(h.url)}</span>{' '}
            <button type="button" className="link" onClick={() => void call(session.token, 'DELETE', withVersion(`${base}/${encodeURIComponent(String(h.id))}`)).then(load, (e: Error) => setError(e.message))}>
              Delete
            </button>
          </li>
        ))}
      </ul>
    </section>
  );
}
