/**
 * Signing in to the web app (issue 18 item 1): argon2id passwords, the session cookie's attributes, CSRF on
 * every unsafe request it signs, lockout, roles as in the API, sign-out, sessions that end, and the served app
 * under its Content-Security-Policy. Real stores of both dialects, requests through app.inject.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { testApi, auth, type TestApi } from '../support/api.js';
import { DIALECTS } from '../support/stores.js';
import { sampleIncident, seedIncident } from '../actions/fixtures.js';
import { createUser, updateUser, verifySignIn } from '../../src/web/accounts.js';
import { createSession, findSession, DEFAULT_SESSIONS } from '../../src/web/sessions.js';
import { DEFAULT_WEB } from '../../src/web/settings.js';
import { ulid } from '../../src/util/ulid.js';

const PASSWORD = 'correct horse battery staple';
const json = { 'content-type': 'application/json' };

interface Signed {
  cookie: string;
  csrf: string;
}

async function signIn(api: TestApi, name: string, password = PASSWORD): Promise<Signed> {
  const r = await api.app.inject({ method: 'POST', url: '/api/v1/session', headers: json, payload: { name, password } });
  assert.equal(r.statusCode, 200, `sign-in of ${name}: ${r.body}`);
  const set = r.cookies.find((c) => c.name === 'fido_session');
  assert.ok(set, 'the session cookie is set');
  return { cookie: `fido_session=${set.value}`, csrf: r.json().csrf_token };
}

for (const dialect of DIALECTS) {
  test(`${dialect}: a password sign-in sets an HttpOnly, Secure, SameSite cookie and the session reads the API`, async () => {
    const api = await testApi(dialect);
    try {
      await createUser(api.t.store.db, { name: 'ana', role: 'analyst', password: PASSWORD });
      const row = await api.t.store.db.selectFrom('users').select('password_hash').where('name', '=', 'ana').executeTakeFirstOrThrow();
      assert.match(row.password_hash ?? '', /^\$argon2id\$/, 'stored as an argon2id hash');
      assert.ok(!(row.password_hash ?? '').includes(PASSWORD), 'never the password itself');

      const r = await api.app.inject({ method: 'POST', url: '/api/v1/session', headers: json, payload: { name: 'ana', password: PASSWORD } });
      assert.equal(r.statusCode, 200, r.body);
      const c = r.cookies.find((x) => x.name === 'fido_session');
      assert.ok(c, 'cookie set');
      assert.equal(c.httpOnly, true, 'HttpOnly');
      assert.equal(c.secure, true, 'Secure');
      assert.equal(c.sameSite, 'Lax', 'SameSite');
      assert.equal(c.path, '/', 'path');
      const body = r.json();
      assert.deepEqual(body.user, { name: 'ana', role: 'analyst', via: 'password' });
      assert.ok(body.csrf_token.length >= 24, 'a CSRF token comes with the session');
      // The store keeps the cookie's hash, not the cookie.
      const stored = await api.t.store.db.selectFrom('sessions').select('id_hash').execute();
      assert.equal(stored.length, 1, 'one session');
      assert.notEqual(stored[0]!.id_hash, c.value, 'stored by hash');

      const cookie = `fido_session=${c.value}`;
      const me = await api.app.inject({ method: 'GET', url: '/api/v1/session', headers: { cookie } });
      assert.equal(me.statusCode, 200, me.body);
      assert.equal(me.json().csrf_token, body.csrf_token, 'the same token on reading the session');
      const list = await api.app.inject({ method: 'GET', url: '/api/v1/incidents', headers: { cookie } });
      assert.equal(list.statusCode, 200, 'the cookie signs in API reads');
      // A bearer token is not a web session.
      const asToken = await api.app.inject({ method: 'GET', url: '/api/v1/session', headers: auth('admin') });
      assert.equal(asToken.statusCode, 401, 'GET /session is about the cookie');
    } finally {
      await api.close();
    }
  });

  test(`${dialect}: an unsafe request by cookie needs the session's CSRF token; roles hold as for tokens`, async () => {
    const api = await testApi(dialect);
    try {
      await createUser(api.t.store.db, { name: 'ana', role: 'analyst', password: PASSWORD });
      await createUser(api.t.store.db, { name: 'vic', role: 'viewer', password: PASSWORD });
      const id = ulid();
      await seedIncident(api.t.store.db, sampleIncident(id));
      const ana = await signIn(api, 'ana');
      const patch = (s: Signed, headers: Record<string, string>) =>
        api.app.inject({ method: 'PATCH', url: `/api/v1/incidents/${id}`, headers: { ...json, cookie: s.cookie, ...headers }, payload: { assignee: 'ana' } });

      const none = await patch(ana, {});
      assert.equal(none.statusCode, 403, 'no token: refused');
      assert.match(none.json().message, /CSRF/, 'the answer says what is missing');
      assert.equal((await patch(ana, { 'x-csrf-token': `${ana.csrf}x` })).statusCode, 403, 'a wrong token: refused');
      const vic = await signIn(api, 'vic');
      assert.equal((await patch(ana, { 'x-csrf-token': vic.csrf })).statusCode, 403, "another session's token: refused");
      const ok = await patch(ana, { 'x-csrf-token': ana.csrf });
      assert.equal(ok.statusCode, 200, ok.body);
      assert.equal(ok.json().assignee, 'ana', 'the change is made');

      const byViewer = await patch(vic, { 'x-csrf-token': vic.csrf });
      assert.equal(byViewer.statusCode, 403, 'a viewer cannot change an incident');
      assert.match(byViewer.json().message, /analyst role; vic has viewer/, 'says which role is needed and which the person has');
    } finally {
      await api.close();
    }
  });

  test(`${dialect}: wrong passwords lock the account; unknown names answer as wrong passwords; unlock lifts it`, async () => {
    const api = await testApi(dialect, { web: { ...DEFAULT_WEB, lockout: { attempts: 3, durationMs: 60_000 } }, failedAuth: { limit: 0, windowMs: 60_000 } });
    try {
      await createUser(api.t.store.db, { name: 'ana', role: 'analyst', password: PASSWORD });
      const attempt = (name: string, password: string) => api.app.inject({ method: 'POST', url: '/api/v1/session', headers: json, payload: { name, password } });
      const unknown = await attempt('nobody', PASSWORD);
      const wrong = await attempt('ana', 'not the password at all');
      assert.equal(unknown.statusCode, 401, 'unknown name');
      assert.equal(wrong.statusCode, 401, 'wrong password');
      assert.equal(unknown.json().message, wrong.json().message, 'the same words for both');
      assert.equal(unknown.cookies.length, 0, 'no cookie');
      await attempt('ana', 'not the password either');
      const third = await attempt('ana', 'still not it at all');
      assert.equal(third.statusCode, 429, 'the third wrong password locks');
      assert.ok(Number(third.headers['retry-after']) > 0, 'with Retry-After');
      const right = await attempt('ana', PASSWORD);
      assert.equal(right.statusCode, 429, 'the right password is refused while locked');
      assert.match(right.json().message, /locked/, 'and the answer says why');
      assert.equal(await updateUser(api.t.store.db, 'ana', { unlock: true }), true, 'unlocked');
      assert.equal((await attempt('ana', PASSWORD)).statusCode, 200, 'the right password works again');
      // The lock ends by itself at its time.
      const db = api.t.store.db;
      for (let i = 0; i < 3; i++) await verifySignIn(db, 'ana', 'wrong wrong wrong', { attempts: 3, durationMs: 1000 }, 1_000_000);
      const during = await verifySignIn(db, 'ana', PASSWORD, { attempts: 3, durationMs: 1000 }, 1_000_500);
      assert.equal(during.ok, false, 'locked during its time');
      const after = await verifySignIn(db, 'ana', PASSWORD, { attempts: 3, durationMs: 1000 }, 1_001_001);
      assert.equal(after.ok, true, 'not after');
    } finally {
      await api.close();
    }
  });

  test(`${dialect}: sign-out, a disabled account, a new role, an expired or idle session all end the session`, async () => {
    const api = await testApi(dialect);
    try {
      const db = api.t.store.db;
      await createUser(db, { name: 'ana', role: 'analyst', password: PASSWORD });
      const read = (s: Signed) => api.app.inject({ method: 'GET', url: '/api/v1/incidents', headers: { cookie: s.cookie } });

      const a = await signIn(api, 'ana');
      const noCsrf = await api.app.inject({ method: 'DELETE', url: '/api/v1/session', headers: { cookie: a.cookie } });
      assert.equal(noCsrf.statusCode, 403, 'sign-out needs the CSRF token too');
      const out = await api.app.inject({ method: 'DELETE', url: '/api/v1/session', headers: { cookie: a.cookie, 'x-csrf-token': a.csrf } });
      assert.equal(out.statusCode, 204, out.body);
      const after = await read(a);
      assert.equal(after.statusCode, 401, 'signed out');
      assert.match(after.json().message, /session has ended/, 'and says so');

      const b = await signIn(api, 'ana');
      await updateUser(db, 'ana', { role: 'viewer' });
      assert.equal((await read(b)).statusCode, 401, 'a new role ends the session (the next one has the new role)');
      const c = await signIn(api, 'ana');
      await updateUser(db, 'ana', { disabled: true });
      assert.equal((await read(c)).statusCode, 401, 'disabled');
      assert.equal((await api.app.inject({ method: 'POST', url: '/api/v1/session', headers: json, payload: { name: 'ana', password: PASSWORD } })).statusCode, 401, 'and cannot sign in');

      // Lifetimes, on the clock the functions are given.
      const user = { id: 'u1', name: 'x', role: 'viewer' as const, via: 'password' as const };
      await db.insertInto('users').values({ id: 'u1', name: 'x', role: 'viewer', password_hash: null, oidc_subject: null, created_at: 0, disabled_at: null, failed_count: 0, locked_until: null, last_login_at: null }).execute();
      const settings = { ...DEFAULT_SESSIONS, ttlMs: 10_000, idleMs: 4_000 };
      const t0 = 5_000_000;
      const { cookieValue } = await createSession(db, user, settings, t0);
      assert.ok(await findSession(db, cookieValue, settings, t0 + 3_000), 'alive when used within the idle time');
      assert.ok(await findSession(db, cookieValue, settings, t0 + 6_500), 'each use moves the idle deadline');
      assert.equal(await findSession(db, cookieValue, settings, t0 + 10_001), null, 'gone at its absolute lifetime');
      const second = await createSession(db, user, settings, t0);
      assert.equal(await findSession(db, second.cookieValue, settings, t0 + 4_001), null, 'gone when idle too long');
      assert.equal(await findSession(db, 'not-a-session-value-at-all-1234', settings, t0), null, 'unknown value');
    } finally {
      await api.close();
    }
  });
}

test('the web app is served under a strict Content-Security-Policy; client routes answer its page; API 404s stay', async () => {
  const root = mkdtempSync(join(tmpdir(), 'fido-web-'));
  mkdirSync(join(root, 'assets'));
  writeFileSync(join(root, 'index.html'), '<!doctype html><title>Fido</title><script type="module" src="/assets/app-abc123.js"></script>');
  writeFileSync(join(root, 'assets', 'app-abc123.js'), 'console.log("fido")');
  const api = await testApi('sqlite', { webRoot: `${root}/` });
  try {
    for (const url of ['/', '/login', '/overview', '/config', '/incidents', '/incidents/01ABC', '/somewhere/else?x=1']) {
      const r = await api.app.inject({ method: 'GET', url });
      assert.equal(r.statusCode, 200, `${url}: ${r.body}`);
      assert.match(r.body, /<title>Fido<\/title>/, `${url} answers the app's page`);
      const csp = String(r.headers['content-security-policy']);
      for (const d of ["default-src 'self'", "script-src 'self'", "style-src 'self'", "object-src 'none'", "frame-ancestors 'none'", "base-uri 'none'"]) {
        assert.ok(csp.includes(d), `${url}: CSP has ${d} (${csp})`);
      }
      assert.ok(!csp.includes('unsafe-inline') && !csp.includes('unsafe-eval'), 'nothing inline or evaluated');
      assert.equal(r.headers['x-content-type-options'], 'nosniff', 'nosniff');
    }
    const asset = await api.app.inject({ method: 'GET', url: '/assets/app-abc123.js' });
    assert.equal(asset.statusCode, 200, 'assets are served');
    assert.match(String(asset.headers['cache-control']), /immutable/, 'hashed assets are cached');
    for (const url of ['/assets/../../etc/passwd', '/..%2f..%2fetc%2fpasswd', '/assets/..%2f..%2f..%2fetc%2fpasswd']) {
      const r = await api.app.inject({ method: 'GET', url });
      assert.ok(!r.body.includes('root:'), `${url}: no file outside the app`);
      assert.ok(r.statusCode === 404 || r.body.includes('<title>Fido</title>'), `${url}: a 404 or the app's own page (${r.statusCode})`);
    }
    for (const url of ['/api/v1/nothing-here', '/api', '/auth/nothing', '/assets/missing-file.js', '/favicon.ico']) {
      const r = await api.app.inject({ method: 'GET', url });
      assert.equal(r.statusCode, 404, `${url}: still a 404`);
      assert.equal(r.json().error, 'not_found', `${url}: the API's 404`);
    }
    const api2 = await testApi('sqlite', { webRoot: join(root, 'missing/') });
    try {
      const r = await api2.app.inject({ method: 'GET', url: '/' });
      assert.equal(r.statusCode, 503, 'an installation without the built app says so');
      assert.match(r.body, /npm run build:web/, 'and how to build it');
    } finally {
      await api2.close();
    }
  } finally {
    await api.close();
    rmSync(root, { recursive: true, force: true });
  }
});
