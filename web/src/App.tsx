import { createContext, useContext, useEffect, useRef, useState, type FormEvent } from 'react';
import { ApiFailure, call, loadSession, saveSession, type Session } from './api.ts';
import { href, useRoute, type Route } from './router.ts';
import { JobsList } from './views/JobsList.tsx';
import { JobDetail } from './views/JobDetail.tsx';
import { CreateJob } from './views/CreateJob.tsx';
import { ReceivePackage } from './views/ReceivePackage.tsx';
import { Tasks } from './views/Tasks.tsx';
import { Transfers } from './views/Transfers.tsx';
import { Destruction, Certificate } from './views/Destruction.tsx';
import { Webhooks } from './views/Webhooks.tsx';

const SessionContext = createContext<Session | null>(null);
export const useSession = () => {
  const s = useContext(SessionContext);
  if (!s) throw new Error('no session');
  return s;
};
export const isOperator = (s: Session) => s.admin || s.role === 'operator';
export const canWrite = (s: Session) => s.admin || s.role === 'owner';

function SignIn({ onSignIn }: { onSignIn: (s: Session) => void }) {
  const [token, setToken] = useState('');
  const [subscription, setSubscription] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const who = await call<{ role: string; subscriptionId: string | null; admin: boolean }>(token.trim(), 'GET', '/console/api/whoami');
      const sub = who.subscriptionId ?? subscription.trim();
      if (!sub) {
        setError('This token works for every subscription: enter the subscription to work in.');
        return;
      }
      onSignIn({ token: token.trim(), subscriptionId: sub, role: who.role, admin: who.admin });
    } catch (err) {
      setError(err instanceof ApiFailure ? `${err.message} (${err.code})` : 'The server did not answer.');
    } finally {
      setBusy(false);
    }
  };
  return (
    <main className="signin" id="main">
      <h1>
        <span aria-hidden="true">⇄ </span>sneakernet console
      </h1>
      <p>Sign in with an access token. It is kept in this tab only (session storage) and sent in a header, never in a link.</p>
      <form onSubmit={submit} className="card form" aria-describedby={error ? 'signin-error' : undefined}>
        <label>
          Access token
          <input type="password" name="token" autoComplete="off" required value={token} onChange={(e) => setToken(e.target.value)} autoFocus />
        </label>
        <label>
          Subscription (only for admin tokens)
          <input name="subscription" value={subscription} onChange={(e) => setSubscription(e.target.value)} placeholder="e.g. 00000000-0000-0000-0000-000000000001" />
        </label>
        {error && (
          <p className="error" role="alert" id="signin-error">
            <span aria-hidden="true">⚠ </span>
            {error}
          </p>
        )}
        <button type="submit" disabled={busy}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
    </main>
  );
}

function NavLink({ to, route, match, children }: { to: string; route: Route; match: Route['view'][]; children: React.ReactNode }) {
  const active = match.includes(route.view);
  return (
    <a href={to} aria-current={active ? 'page' : undefined} className={active ? 'active' : undefined}>
      {children}
    </a>
  );
}

function Shell({ session, onSignOut }: { session: Session; onSignOut: () => void }) {
  const route = useRoute();
  const mainRef = useRef<HTMLElement>(null);
  // On navigation, move focus to the new page's heading (screen readers announce it), unless the page already put
  // focus on one of its own controls (the receive page's scan field).
  useEffect(() => {
    const main = mainRef.current;
    if (main && !main.contains(document.activeElement)) main.querySelector<HTMLElement>('h1, h2')?.focus({ preventScroll: true });
  }, [route]);
  const op = isOperator(session);
  return (
    <>
      <a className="skip" href="#main" onClick={(e) => { e.preventDefault(); mainRef.current?.focus(); }}>
        Skip to content
      </a>
      <header className="top">
        <a className="brand" href={href.jobs()}>
          <span aria-hidden="true">⇄</span> sneakernet
        </a>
        <nav aria-label="Main">
          <NavLink to={href.jobs()} route={route} match={['jobs', 'job']}>Jobs</NavLink>
          {canWrite(session) && <NavLink to={href.newJob()} route={route} match={['new']}>New job</NavLink>}
          {canWrite(session) && <NavLink to={href.webhooks()} route={route} match={['webhooks']}>Webhooks</NavLink>}
          {op && <NavLink to={href.receive()} route={route} match={['receive']}>Receive</NavLink>}
          {op && <NavLink to={href.tasks()} route={route} match={['tasks']}>Tasks</NavLink>}
          {op && <NavLink to={href.transfers()} route={route} match={['transfers']}>Transfers</NavLink>}
          {op && <NavLink to={href.destruction()} route={route} match={['destruction', 'certificate']}>Destruction</NavLink>}
        </nav>
        <div className="who">
          <span title="subscription">{session.subscriptionId}</span> · <span>{session.admin ? 'admin' : session.role}</span>
          <button type="button" className="link" onClick={onSignOut}>Sign out</button>
        </div>
      </header>
      <main id="main" ref={mainRef} tabIndex={-1}>
        <SessionContext.Provider value={session}>
          {route.view === 'jobs' && <JobsList />}
          {route.view === 'new' && <CreateJob />}
          {route.view === 'job' && <JobDetail resourceGroup={route.resourceGroup} name={route.name} key={`${route.resourceGroup}/${route.name}`} />}
          {route.view === 'receive' && <ReceivePackage />}
          {route.view === 'tasks' && <Tasks />}
          {route.view === 'transfers' && <Transfers />}
          {route.view === 'destruction' && <Destruction />}
          {route.view === 'certificate' && <Certificate driveId={route.driveId} />}
          {route.view === 'webhooks' && <Webhooks />}
        </SessionContext.Provider>
      </main>
    </>
  );
}

export function App() {
  const [session, setSession] = useState<Session | null>(() => loadSession());
  if (!session) {
    return (
      <SignIn
        onSignIn={(s) => {
          saveSession(s);
          setSession(s);
        }}
      />
    );
  }
  return (
    <Shell
      session={session}
      onSignOut={() => {
        saveSession(null);
        setSession(null);
      }}
    />
  );
}
