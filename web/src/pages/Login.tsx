/** Sign-in: name and password (POST /session), or the single sign-on link when the server offers it. */
import { useEffect, useState } from 'preact/hooks';
import { ApiError, errorText, get, request, type Session, type SessionMethods } from '../api.ts';
import { useTitle } from '../ui.tsx';

export function LoginPage({ onSignedIn }: { onSignedIn: (s: Session) => void }) {
  useTitle('Sign in');
  const [methods, setMethods] = useState<SessionMethods | null>(null);
  const [name, setName] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    get<SessionMethods>('/session/methods')
      .then(setMethods)
      .catch(() => setMethods({ password: true, oidc: null }));
    // A single sign-on that failed comes back with ?sso_error=<why> (src/web/oidc-routes.ts).
    const err = new URLSearchParams(location.search).get('sso_error');
    if (err) setError(`Single sign-on failed: ${err.slice(0, 200)}`);
  }, []);

  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const r = await request<Session>('/session', { method: 'POST', body: { name, password }, quiet401: true });
      setPassword('');
      onSignedIn(r.data);
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) setError('Wrong name or password.');
      else if (err instanceof ApiError && err.status === 429)
        setError(`Too many failed attempts: sign-in is locked${err.retryAfter ? ` for ${err.retryAfter} s` : ' for a while'}. ${err.message}`);
      else setError(errorText(err));
    } finally {
      setBusy(false);
    }
  };

  const passwordOn = methods?.password !== false;
  return (
    <section class="card login" aria-labelledby="login-h">
      <h1 id="login-h">Sign in to Fido</h1>
      {error ? (
        <p class="error" role="alert" data-testid="login-error">
          {error}
        </p>
      ) : null}
      {passwordOn ? (
        <form onSubmit={submit} class="stack">
          <label for="login-name">Name</label>
          <input id="login-name" name="name" autoComplete="username" required value={name} onInput={(e) => setName(e.currentTarget.value)} />
          <label for="login-password">Password</label>
          <input
            id="login-password"
            name="password"
            type="password"
            autoComplete="current-password"
            required
            value={password}
            onInput={(e) => setPassword(e.currentTarget.value)}
          />
          <button type="submit" class="primary" disabled={busy}>
            {busy ? 'Signing in…' : 'Sign in'}
          </button>
        </form>
      ) : null}
      {methods?.oidc ? (
        <p class="sso">
          {passwordOn ? <span class="muted">or </span> : null}
          {/* A full page load: the server answers with a redirect to the identity provider. */}
          <a class="button" href={methods.oidc.url}>
            Sign in with SSO{methods.oidc.label ? ` (${methods.oidc.label})` : ''}
          </a>
        </p>
      ) : null}
    </section>
  );
}
