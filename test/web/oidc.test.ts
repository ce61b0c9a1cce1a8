/**
 * OIDC single sign-on against a real provider (oidc-provider over HTTPS with a private CA): the browser's path
 * walked with manual redirects and a cookie jar, Fido's side a real API and store.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createUser } from '../../src/web/accounts.js';
import {
  authorizeAt,
  browse,
  CookieJar,
  finishAt,
  sessionUser,
  signInWithSso,
  startFido,
  startOidcProvider,
  type FidoHarness,
  type OidcProviderHarness,
  type SsoResult,
} from '../support/oidc-provider.js';
import { DIALECTS } from '../support/stores.js';
import type { DialectName } from '../../src/store/dialect.js';

let provider: OidcProviderHarness;
before(async () => {
  provider = await startOidcProvider();
});
after(async () => {
  await provider?.close();
});

const ROLES = { 'soc-responders': 'responder', 'soc-all': 'viewer', 'soc-admins': 'admin' } as const;

async function withFido(overrides: Parameters<typeof startFido>[1], fn: (fido: FidoHarness) => Promise<void>, dialect: DialectName = 'sqlite'): Promise<void> {
  const fido = await startFido(provider, { roles: { ...ROLES }, ...overrides }, dialect);
  try {
    await fn(fido);
  } finally {
    await fido.close();
  }
}

function assertSignedIn(r: SsoResult, what: string): string {
  assert.equal(r.status, 302, `${what}: the callback redirects`);
  assert.equal(r.location?.pathname, '/', `${what}: to the app, not to ${r.location?.toString()}`);
  assert.ok(r.session, `${what}: a fido_session cookie is set`);
  return r.session;
}

function assertRefused(r: SsoResult, what: string): string {
  assert.equal(r.status, 302, `${what}: the callback redirects`);
  assert.equal(r.location?.pathname, '/login', `${what}: to the sign-in page, not to ${r.location?.toString()}`);
  const reason = r.location?.searchParams.get('sso_error');
  assert.ok(reason, `${what}: with a reason in sso_error`);
  assert.equal(r.session, undefined, `${what}: no session cookie`);
  return reason;
}

const usersOf = (fido: FidoHarness) => fido.t.store.db.selectFrom('users').selectAll().orderBy('name').execute();

for (const dialect of DIALECTS) {
  test(`${dialect}: a mapped user gets the highest mapped role; the next sign-in reuses the account and applies a role change`, async () => {
    provider.accounts.set('alice', { preferred_username: 'alice', groups: ['soc-all', 'soc-responders', 'marketing'] });
    await withFido({}, async (fido) => {
      const jar = new CookieJar();
      const seen = provider.requests.length;
      const first = await signInWithSso(fido, provider, 'alice', jar);
      assert.deepEqual(first.pages, ['login', 'consent'], 'the provider asked for a login, then consent');
      const s1 = assertSignedIn(first, 'first sign-in');
      assert.deepEqual((await sessionUser(fido, s1)).user, { name: 'alice', role: 'responder', via: 'oidc' }, 'responder beats viewer');
      // This provider puts profile claims (groups) in userinfo only: Fido must have asked for them.
      const requests = provider.requests.slice(seen);
      assert.ok(requests.includes('GET /me'), `Fido read the userinfo endpoint (requests: ${requests.join(', ')})`);

      let users = await usersOf(fido);
      assert.equal(users.length, 1, 'one account made at the first sign-in');
      assert.equal(users[0]!.oidc_subject, `${provider.issuer}#alice`, 'bound to the issuer and subject');
      assert.equal(users[0]!.password_hash, null, 'an SSO account has no password');
      assert.ok(users[0]!.last_login_at !== null, 'the first sign-in is recorded as a sign-in');

      // The provider now maps alice to viewer only; the same browser (the provider remembers her) signs in again.
      provider.accounts.set('alice', { preferred_username: 'alice', groups: ['soc-all'] });
      const second = await signInWithSso(fido, provider, 'alice', jar);
      assert.deepEqual(second.pages, [], 'no login or consent the second time: the role came from fresh claims, not a login');
      const s2 = assertSignedIn(second, 'second sign-in');
      assert.notEqual(s2, s1, 'a new session');
      assert.deepEqual((await sessionUser(fido, s2)).user, { name: 'alice', role: 'viewer', via: 'oidc' }, 'the lowered role applies');
      assert.equal((await sessionUser(fido, s1)).user?.role, 'viewer', 'the older session of that account is lowered too');
      users = await usersOf(fido);
      assert.equal(users.length, 1, 'the same account, not a second one');
      assert.equal(users[0]!.role, 'viewer', 'the stored role follows the provider');

      // The provider drops her from every mapped group: she is refused, and the sessions she has end.
      provider.accounts.set('alice', { preferred_username: 'alice', groups: ['marketing'] });
      assertRefused(await signInWithSso(fido, provider, 'alice', jar), 'no mapped group any more');
      assert.equal((await sessionUser(fido, s2)).user, undefined, 'her open session ended with the refusal');
      provider.accounts.set('alice', { preferred_username: 'alice', groups: ['soc-all'] });
      assertSignedIn(await signInWithSso(fido, provider, 'alice', jar), 'mapped again');

      // A disabled account stays out, whatever the provider says.
      await fido.t.store.db.updateTable('users').set({ disabled_at: Date.now() }).where('oidc_subject', '=', `${provider.issuer}#alice`).execute();
      const reason = assertRefused(await signInWithSso(fido, provider, 'alice', jar), 'disabled account');
      assert.match(reason, /disabled/, 'the reason says the account is disabled');
    }, dialect);
  });
}

test('the ID token may carry the claims itself: no userinfo request is needed', async () => {
  const direct = await startOidcProvider({ claimsInIdToken: true, accounts: { dora: { preferred_username: 'dora', groups: ['soc-admins'] } } });
  const fido = await startFido(direct, { roles: { ...ROLES } });
  try {
    const s = assertSignedIn(await signInWithSso(fido, direct, 'dora'), 'claims in the ID token');
    assert.deepEqual((await sessionUser(fido, s)).user, { name: 'dora', role: 'admin', via: 'oidc' }, 'admin from the ID token groups');
    assert.ok(!direct.requests.includes('GET /me'), `no userinfo request (requests: ${direct.requests.join(', ')})`);
  } finally {
    await fido.close();
    await direct.close();
  }
});

test('a user no group maps is refused with default_role none, and gets viewer with default_role viewer', async () => {
  provider.accounts.set('bob', { preferred_username: 'bob', groups: ['marketing'] });
  provider.accounts.set('carol', { preferred_username: 'carol' });
  await withFido({}, async (fido) => {
    const reason = assertRefused(await signInWithSso(fido, provider, 'bob'), 'unmapped group, default none');
    assert.match(reason, /no Fido role/, 'the reason says no role is mapped');
    assertRefused(await signInWithSso(fido, provider, 'carol'), 'no groups claim at all, default none');
    assert.equal((await usersOf(fido)).length, 0, 'no account is made for a refused person');
  });
  await withFido({ default_role: 'viewer' }, async (fido) => {
    const s = assertSignedIn(await signInWithSso(fido, provider, 'bob'), 'unmapped group, default viewer');
    assert.deepEqual((await sessionUser(fido, s)).user, { name: 'bob', role: 'viewer', via: 'oidc' }, 'the default role');
  });
});

test('roles_claim may name a nested claim (realm_access.roles); a person who cancels at the provider gets no session', async () => {
  provider.accounts.set('hank', { preferred_username: 'hank', realm_access: { roles: ['fido-analyst', 'offline_access'] } });
  await withFido({ roles_claim: 'realm_access.roles', roles: { 'fido-analyst': 'analyst' } }, async (fido) => {
    const s = assertSignedIn(await signInWithSso(fido, provider, 'hank'), 'nested roles claim');
    assert.deepEqual((await sessionUser(fido, s)).user, { name: 'hank', role: 'analyst', via: 'oidc' }, 'the role from realm_access.roles');

    const jar = new CookieJar();
    const cancelled = await authorizeAt(fido, provider, jar, 'hank', { cancel: true });
    assert.equal(cancelled.callback.searchParams.get('error'), 'access_denied', 'the provider answers access_denied');
    assertRefused(await finishAt(fido, provider, jar, cancelled.callback), 'cancelled at the provider');
  });
});

test('a callback with a wrong state, without the pending cookie, or with a replayed or foreign code starts no session', async () => {
  provider.accounts.set('erin', { preferred_username: 'erin', groups: ['soc-responders'] });
  provider.accounts.set('mallory', { preferred_username: 'mallory', groups: ['soc-admins'] });
  await withFido({}, async (fido) => {
    const host = new URL(fido.origin).host;

    // A state that is not the one this browser began with.
    const jar1 = new CookieJar();
    const a = await authorizeAt(fido, provider, jar1, 'erin');
    const forged = new URL(a.callback);
    forged.searchParams.set('state', 'not-the-state-that-was-sent');
    assertRefused(await finishAt(fido, provider, jar1, forged), 'wrong state');
    // The pending sign-in is spent by that attempt: the genuine answer arriving after it is refused too.
    assertRefused(await finishAt(fido, provider, jar1, a.callback), 'the genuine callback after a failed one');

    // No pending-sign-in cookie (another browser, or it expired).
    const jar2 = new CookieJar();
    const b = await authorizeAt(fido, provider, jar2, 'erin');
    assert.ok(jar2.get(host, 'fido_oidc'), 'the login route set the pending cookie');
    jar2.delete(host, 'fido_oidc');
    assertRefused(await finishAt(fido, provider, jar2, b.callback), 'no fido_oidc cookie');

    // The same code twice, even with the pending cookie put back: the provider takes a code once.
    const jar3 = new CookieJar();
    const c = await authorizeAt(fido, provider, jar3, 'erin');
    const pending = jar3.get(host, 'fido_oidc')!;
    assertSignedIn(await finishAt(fido, provider, jar3, c.callback), 'first use of the code');
    assert.equal(jar3.get(host, 'fido_oidc'), undefined, 'the callback clears the pending cookie');
    jar3.set(host, 'fido_oidc', pending, '/auth/oidc');
    assertRefused(await finishAt(fido, provider, jar3, c.callback), 'the code replayed');

    // Login CSRF: mallory's code delivered to the victim's browser, even with the victim's state (as if leaked):
    // the code is bound to mallory's PKCE challenge and nonce.
    const victim = new CookieJar();
    const begun = await browse(victim, provider.ca, new URL('/auth/oidc/login', fido.origin));
    const victimState = begun.location?.searchParams.get('state');
    assert.ok(victimState, 'the authorization request carries a state');
    const m = await authorizeAt(fido, provider, new CookieJar(), 'mallory');
    const injected = new URL(m.callback);
    injected.searchParams.set('state', victimState);
    assertRefused(await finishAt(fido, provider, victim, injected), "mallory's code in the victim's browser");

    const users = await usersOf(fido);
    assert.deepEqual(users.map((u) => u.name), ['erin'], 'only the one genuine sign-in made an account');
  });
});

test("without ca_file the provider's private certificate is refused: back to the sign-in page, Fido still serves", async () => {
  await withFido({ ca_file: undefined }, async (fido) => {
    const before = provider.requests.length;
    const jar = new CookieJar();
    const start = await browse(jar, provider.ca, new URL('/auth/oidc/login', fido.origin));
    assert.equal(start.status, 302, `the login route redirects (got ${start.status}: ${start.body})`);
    assert.equal(start.location?.origin, fido.origin, 'to Fido itself, not to the provider');
    assert.equal(start.location?.pathname, '/login', 'to the sign-in page');
    assert.ok(start.location?.searchParams.get('sso_error'), 'with a reason');
    assert.equal(jar.get(new URL(fido.origin).host, 'fido_oidc'), undefined, 'no pending sign-in');
    assert.equal(provider.requests.length, before, 'no HTTP request reached the provider (the TLS handshake failed first)');
    // Tried again at the next sign-in (and refused again), not cached as a failure forever nor crashing.
    const again = await browse(jar, provider.ca, new URL('/auth/oidc/login', fido.origin));
    assert.equal(again.location?.pathname, '/login', 'the second attempt is refused the same way');
    const methods = await fetch(new URL('/api/v1/session/methods', fido.origin));
    assert.equal(methods.status, 200, 'Fido still answers');
  });
});

test('a provider down at start and at the first sign-in: back to the sign-in page, and the next sign-in works once it is up', async () => {
  provider.accounts.set('gina', { preferred_username: 'gina', groups: ['soc-responders'] });
  provider.unavailable = true;
  try {
    await withFido({}, async (fido) => {
      const jar = new CookieJar();
      const start = await browse(jar, provider.ca, new URL('/auth/oidc/login', fido.origin));
      assert.equal(start.status, 302, `the login route redirects (got ${start.status}: ${start.body})`);
      assert.equal(start.location?.origin, fido.origin, 'to Fido itself');
      assert.equal(start.location?.pathname, '/login', 'to the sign-in page');
      assert.match(start.location?.searchParams.get('sso_error') ?? '', /cannot be reached/, 'saying the provider cannot be reached');
      // Back up: the failed discovery was not kept.
      provider.unavailable = false;
      const s = assertSignedIn(await signInWithSso(fido, provider, 'gina', jar), 'after the provider is back');
      assert.deepEqual((await sessionUser(fido, s)).user, { name: 'gina', role: 'responder', via: 'oidc' }, 'signed in');
    });
  } finally {
    provider.unavailable = false;
  }
});

for (const dialect of DIALECTS) {
  test(`${dialect}: a local account with the SSO user's name is not taken over: the SSO account gets a suffixed name`, async () => {
    provider.accounts.set('frank-sso', { preferred_username: 'frank', groups: ['soc-responders'] });
    await withFido({}, async (fido) => {
      const local = await createUser(fido.t.store.db, { name: 'frank', role: 'admin', password: 'a long local password' });
      const s = assertSignedIn(await signInWithSso(fido, provider, 'frank-sso'), 'SSO frank');
      assert.deepEqual((await sessionUser(fido, s)).user, { name: 'frank-2', role: 'responder', via: 'oidc' }, 'a suffixed account with the mapped role');
      const users = await usersOf(fido);
      const localRow = users.find((u) => u.id === local.id);
      assert.ok(localRow, 'the local account is still there');
      assert.equal(localRow.name, 'frank', 'its name unchanged');
      assert.equal(localRow.role, 'admin', 'its role unchanged');
      assert.equal(localRow.oidc_subject, null, 'not bound to the provider subject');
      assert.ok(localRow.password_hash, 'its password kept');
      const sso = users.find((u) => u.oidc_subject === `${provider.issuer}#frank-sso`);
      assert.equal(sso?.name, 'frank-2', 'the SSO subject has its own account');

      // A name that differs only in case does not stand beside the local one either.
      provider.accounts.set('frank-other', { preferred_username: 'FRANK', groups: ['soc-all'] });
      const s2 = assertSignedIn(await signInWithSso(fido, provider, 'frank-other'), 'SSO FRANK');
      assert.equal((await sessionUser(fido, s2)).user?.name, 'FRANK-3', 'FRANK and FRANK-2 are taken in all but case');
    }, dialect);
  });
}
