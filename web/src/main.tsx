/** Fido's web app: the session, the shell (header, nav, main) and the routes. */
import 'uplot/dist/uPlot.min.css';
import './style.css';
import { render, type ComponentChildren } from 'preact';
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, errorText, request, setCsrf, setUnauthorizedHandler, type Session } from './api.ts';
import { Link, match, navigate, useLocation } from './router.tsx';
import { onLiveState, startLive, stopLive, liveState, type LiveState } from './events.ts';
import { ErrorBox, SessionContext, words } from './ui.tsx';
import { LoginPage } from './pages/Login.tsx';
import { QueuePage } from './pages/Queue.tsx';
import { IncidentPage } from './pages/Incident.tsx';
import { OverviewPage } from './pages/Overview.tsx';
import { ConfigPage } from './pages/Config.tsx';

const LIVE_TEXT: Record<LiveState, string> = { off: 'Not live', connecting: 'Connecting…', live: 'Live', reconnecting: 'Reconnecting…' };

function LiveStatus() {
  const [state, setState] = useState<LiveState>(liveState());
  useEffect(() => {
    setState(liveState()); // it may have changed between the render and this effect
    return onLiveState(setState);
  }, []);
  return (
    <span class={`live live-${state}`} data-testid="live-status" data-state={state} role="status" aria-live="polite">
      <span class="live-dot" aria-hidden="true" />
      {LIVE_TEXT[state]}
    </span>
  );
}

function Shell({ session, onSignOut, children, path }: { session: Session; onSignOut: () => void; children: ComponentChildren; path: string }) {
  const nav = [
    { href: '/', label: 'Queue', current: path === '/' || path.startsWith('/incidents/') },
    { href: '/overview', label: 'Overview', current: path === '/overview' },
    { href: '/config', label: 'Configuration', current: path === '/config' },
  ];
  return (
    <>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="top">
        <Link href="/" class="brand">
          Fido
        </Link>
        <nav aria-label="Main">
          <ul>
            {nav.map((n) => (
              <li key={n.href}>
                <Link href={n.href} aria-current={n.current ? 'page' : undefined}>
                  {n.label}
                </Link>
              </li>
            ))}
          </ul>
        </nav>
        <div class="who">
          <LiveStatus />
          <span data-testid="current-user">
            {session.user.name} <span class="badge role">{words(session.user.role)}</span>
          </span>
          <button type="button" onClick={onSignOut}>
            Sign out
          </button>
        </div>
      </header>
      <main id="main" tabIndex={-1}>
        {children}
      </main>
    </>
  );
}

function App() {
  const { path, search } = useLocation();
  const [session, setSession] = useState<Session | null>(null);
  const [checked, setChecked] = useState(false);
  const [fatal, setFatal] = useState<string | null>(null);

  const signedIn = useCallback((s: Session) => {
    setCsrf(s.csrf_token);
    setSession(s);
    startLive();
  }, []);

  /** The session is gone: back to sign-in, coming back here after it (unless the user signed out). */
  const signedOut = useCallback((explicit = false) => {
    setCsrf(null);
    setSession(null);
    stopLive();
    const here = location.pathname + location.search;
    if (location.pathname !== '/login') navigate(explicit || here === '/' ? '/login' : `/login?next=${encodeURIComponent(here)}`, true);
  }, []);

  const probe = useCallback(() => {
    setFatal(null);
    request<Session>('/session', { quiet401: true })
      .then((r) => signedIn(r.data))
      .catch((e: unknown) => {
        if (e instanceof ApiError && e.status === 401) signedOut();
        else setFatal(`The session could not be checked: ${errorText(e)}`);
      })
      .finally(() => setChecked(true));
  }, [signedIn, signedOut]);

  useEffect(() => {
    // Any request answered 401 later (the session expired): back to sign-in.
    setUnauthorizedHandler(() => signedOut());
    probe();
    return () => setUnauthorizedHandler(null);
  }, [probe, signedOut]);

  // A signed-in user who opens /login goes on.
  useEffect(() => {
    if (session && path === '/login') navigate(nextOf(search), true);
    if (checked && !session && !fatal && path !== '/login') signedOut();
  }, [session, path, search, checked, fatal, signedOut]);

  // A new page moves the focus to its content, as a page load would (screen readers announce it); the first
  // page and a change of query string alone (filters) do not.
  const lastPath = useRef(path);
  useEffect(() => {
    if (lastPath.current === path) return;
    lastPath.current = path;
    document.getElementById('main')?.focus({ preventScroll: true });
  }, [path]);

  const signOut = async () => {
    try {
      await request('/session', { method: 'DELETE', quiet401: true });
    } catch (e) {
      if (!(e instanceof ApiError && e.status === 401)) {
        setFatal(`Sign-out failed: ${errorText(e)}`);
        return;
      }
    }
    signedOut(true);
  };

  if (!checked) {
    return (
      <main id="main" class="center">
        <p role="status">Loading Fido…</p>
      </main>
    );
  }
  if (path === '/login' || !session) {
    return (
      <main id="main" class="center">
        <ErrorBox error={fatal} onRetry={probe} />
        {path === '/login' ? <LoginPage onSignedIn={signedIn} /> : null}
      </main>
    );
  }

  let page: ComponentChildren;
  let m: Record<string, string> | null;
  if (path === '/' || path === '') page = <QueuePage />;
  else if ((m = match('/incidents/:id', path))) page = <IncidentPage key={m.id} id={m.id!} />;
  else if (path === '/overview') page = <OverviewPage />;
  else if (path === '/config') page = <ConfigPage />;
  else
    page = (
      <section class="card">
        <h1>Not found</h1>
        <p>
          There is no page at <code>{path}</code>. <Link href="/">Go to the queue</Link>.
        </p>
      </section>
    );

  return (
    <SessionContext.Provider value={session}>
      <Shell session={session} onSignOut={() => void signOut()} path={path}>
        <ErrorBox error={fatal} />
        {page}
      </Shell>
    </SessionContext.Provider>
  );
}

const ROUTES = ['/', '/incidents/:id', '/overview', '/config'];

/** Where to go after sign-in: the ?next= page when it is one of the app's (same origin only), else the queue. */
function nextOf(search: string): string {
  const next = new URLSearchParams(search).get('next');
  if (!next || !next.startsWith('/') || next.startsWith('//')) return '/';
  const path = next.split(/[?#]/)[0]!;
  return ROUTES.some((r) => match(r, path)) ? next : '/';
}

render(<App />, document.getElementById('app')!);
