/**
 * entra_disable against a local server that speaks the documented Microsoft identity platform token endpoint
 * and Microsoft Graph v1.0, holding user state:
 * https://learn.microsoft.com/entra/identity-platform/v2-oauth2-client-creds-grant-flow (form POST to
 * /{tenant}/oauth2/v2.0/token, {access_token, expires_in}; errors {error: "invalid_client", ...}),
 * https://learn.microsoft.com/graph/api/user-get (GET /users/{id | userPrincipalName}?$select=),
 * https://learn.microsoft.com/graph/api/user-update (PATCH /users/{id} → 204),
 * https://learn.microsoft.com/graph/api/user-revokesigninsessions (POST → 200 {value: true}),
 * https://learn.microsoft.com/graph/errors ({error: {code, message}}; 401 InvalidAuthenticationToken) and
 * https://learn.microsoft.com/graph/throttling (429 with Retry-After seconds).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import entraDisable, { type EntraDisableConfig, type EntraDisableResult } from '../../src/actions/kinds/entra_disable.js';
import type { ActionContext, ActionTarget, UndoContext } from '../../src/actions/action.js';
import { undoAction } from '../../src/actions/undo.js';
import { entryProblem } from '../../src/component/instantiate.js';
import type { AnyComponent, ComponentEntry } from '../../src/component/component.js';
import { entraServer } from '../support/contracts/entra_disable.js';
import { openTestStore } from '../support/stores.js';
import { actionRow, insertAction, sampleIncident, seedIncident } from './fixtures.js';
import { actionCtx, refused, suiteServer, undoCtxOf, testExecutor } from './support.js';

const SECRET = 'entra-client-secret~XYZ123';
const TENANT = 'contoso.onmicrosoft.com';
const CLIENT = '11111111-2222-3333-4444-555555555555';

type CtxOpts = { attempts?: number; signal?: AbortSignal; incidentUser?: string | null; priorCheckpoint?: Record<string, unknown>; checkpoints?: Record<string, unknown>[] };

function ctx(user: string | undefined, opts: CtxOpts = {}): ActionContext {
  const incident = { ...sampleIncident('INC1'), user: opts.incidentUser === undefined ? 'alice' : opts.incidentUser };
  const { incidentUser: _, ...rest } = opts;
  return actionCtx('entra_disable', 'entra', incident, { params: user === undefined ? {} : { user }, ...rest, attempts: opts.attempts ?? 1 });
}

const undoCtx = (result: Record<string, unknown>): UndoContext => undoCtxOf(ctx(undefined), result, 'ACT1');

const ID = (n: number) => `0000000${n}-aaaa-bbbb-cccc-dddddddddddd`;

describe('entra_disable', () => {
  const entra = entraServer({ tenant: TENANT, client: CLIENT, secret: SECRET });
  const suite = suiteServer(entra.handler);

  async function target(over: Partial<EntraDisableConfig> = {}): Promise<ActionTarget> {
    const cfg: EntraDisableConfig = {
      name: 'entra', kind: 'entra_disable', tenant_id: TENANT, client_id: CLIENT, client_secret: SECRET,
      url: suite.server.url, token_url: `${suite.server.url}/${TENANT}/oauth2/v2.0/token`, allow_private: true, login_suffix: 'contoso.com', ...over,
    };
    const t = await entraDisable.create(cfg, { configDir: '.', publicUrl: 'http://fido.test' });
    suite.track(t);
    return t;
  }
  const since = () => {
    const n = suite.server.requests.length;
    return () => suite.server.requests.slice(n).map((r) => `${r.method} ${r.path}`);
  };

  test('schema and check errors name the key', () => {
    const base = { name: 'entra', kind: 'entra_disable', tenant_id: TENANT, client_id: CLIENT, client_secret: '${env:ENTRA_SECRET}' };
    const problem = (over: Record<string, unknown>) => entryProblem(entraDisable as unknown as AnyComponent, { ...base, ...over } as ComponentEntry, 'actions.targets.entra');
    assert.equal(problem({}), null);
    assert.match(problem({ token_url: 'http://10.0.0.5/token' }) ?? '', /^actions\.targets\.entra\.token_url: /);
    assert.match(problem({ url: 'http://127.0.0.1' }) ?? '', /^actions\.targets\.entra\.url: /);
    assert.match(problem({ tenant_id: 'a/b' }) ?? '', /tenant_id/);
    assert.match(problem({ client_secret: '' }) ?? '', /client_secret/);
  });

  test('disables and revokes sessions; undo re-enables; both directions idempotent; one token for all', async () => {
    entra.add(ID(1), 'alice@contoso.com');
    const t = await target();
    const tokens = entra.issued();
    const seen = since();
    const checkpoints: Record<string, unknown>[] = [];
    const r = (await t.execute(ctx(undefined, { checkpoints }))).detail as EntraDisableResult;
    assert.deepEqual(r, { user: 'alice', upn: 'alice@contoso.com', id: ID(1), was_enabled: true, disabled: true, sessions_revoked: true });
    assert.deepEqual(checkpoints, [{ id: ID(1), was_enabled: true }], 'the state is checkpointed before the PATCH');
    assert.equal(entra.users.get(ID(1))!.enabled, false);
    assert.equal(entra.users.get(ID(1))!.revoked, 1);
    assert.deepEqual(seen(), [`POST /${TENANT}/oauth2/v2.0/token`, 'GET /v1.0/users/alice%40contoso.com', `PATCH /v1.0/users/${ID(1)}`, `POST /v1.0/users/${ID(1)}/revokeSignInSessions`]);
    const get = suite.server.requests.find((q) => q.path === '/v1.0/users/alice%40contoso.com')!;
    assert.equal(get.query.get('$select'), 'id,userPrincipalName,accountEnabled');
    for (const q of suite.server.requests.slice(-3)) {
      assert.match(String(q.headers.authorization), /^Bearer eyJ0eXAi\.token-\d+$/);
      assert.ok(!q.path.includes(SECRET) && !q.query.toString().includes(SECRET) && !q.body.includes(SECRET));
    }
    // A retry after a crash finds it disabled: `was_enabled` comes from the earlier attempt's checkpoint.
    const again = (await t.execute(ctx(undefined, { attempts: 2, priorCheckpoint: checkpoints[0]! }))).detail as EntraDisableResult;
    assert.equal(again.was_enabled, true);
    assert.equal(again.disabled, true);
    // Without one (no earlier attempt got as far as the PATCH): disabled by someone else.
    const other = (await t.execute(ctx(undefined, { attempts: 2 }))).detail as EntraDisableResult;
    assert.equal(other.was_enabled, false);
    assert.equal(entra.issued(), tokens + 1, 'the token is kept');
    assert.deepEqual((await t.undo!(undoCtx(r))).detail, { id: ID(1), re_enabled: true });
    assert.equal(entra.users.get(ID(1))!.enabled, true);
    assert.match(String((await t.undo!(undoCtx(r))).detail.reason), /enabled: nothing to take back/);
    entra.users.get(ID(1))!.enabled = false;
    assert.equal((await t.undo!(undoCtx(again))).detail.re_enabled, true, 'the retry kept what Fido changed');
    entra.users.get(ID(1))!.enabled = false;
    assert.equal((await t.undo!(undoCtx(other))).detail.re_enabled, false);
    assert.equal((await t.undo!(undoCtx({ ...again, was_enabled: null }))).detail.re_enabled, false);
    assert.equal(entra.users.get(ID(1))!.enabled, false);
    entra.users.get(ID(1))!.enabled = true;
  });

  test('an account disabled before Fido stays disabled after the undo', async () => {
    entra.add(ID(2), 'bob@contoso.com', false);
    const t = await target();
    const r = (await t.execute(ctx('CONTOSO\\bob'))).detail as EntraDisableResult;
    assert.equal(r.was_enabled, false);
    const u = await t.undo!(undoCtx(r));
    assert.equal(u.detail.re_enabled, false);
    assert.match(String(u.detail.reason), /disabled before Fido acted/);
    assert.equal(entra.users.get(ID(2))!.enabled, false);
  });

  test('an expired token is refreshed once; a second 401 is permanent', async () => {
    entra.add(ID(3), 'carol@contoso.com');
    const t = await target({ revoke_sessions: false });
    await t.execute(ctx('nobody-yet@contoso.com')).catch(() => {});
    entra.expireAll();
    const before = entra.issued();
    const seen = since();
    await t.execute(ctx('carol'));
    assert.equal(entra.issued(), before + 1);
    assert.deepEqual(seen(), ['GET /v1.0/users/carol%40contoso.com', `POST /${TENANT}/oauth2/v2.0/token`, 'GET /v1.0/users/carol%40contoso.com', `PATCH /v1.0/users/${ID(3)}`]);
    entra.setOverride((q) => (q.path.startsWith('/v1.0/') ? { status: 401, json: { error: { code: 'InvalidAuthenticationToken', message: 'Access token validation failure.' } } } : undefined));
    try {
      const e = await refused(t.execute(ctx('carol')), /401 InvalidAuthenticationToken/, false);
      assert.ok(!/eyJ0eXAi/.test(e.message));
    } finally {
      entra.setOverride(null);
    }
  });

  test('a bad client secret is permanent and not in the message (even when echoed)', async () => {
    const t = await target({ client_secret: 'wrong-secret-998877' });
    const e = await refused(t.execute(ctx('carol')), /token request refused \(invalid_client\)/, false);
    assert.ok(!e.message.includes('wrong-secret-998877'));
  });

  test('refusals and hostile names: protected, nobody, not found, a path that would move', async () => {
    entra.add(ID(4), 'admin@contoso.com');
    const t = await target({ protected_users: ['admin'] });
    const seen = since();
    await refused(t.execute(ctx('CONTOSO\\Admin')), /protected \(protected_users: admin\)/, false);
    await refused(t.execute(ctx(undefined, { incidentUser: null })), /no user to act on/, false);
    await refused(t.execute(ctx('../admin@contoso.com')), /404 Request_ResourceNotFound/, false);
    await refused(t.execute(ctx('..')), /404/, false);
    const bare = await target({ login_suffix: undefined });
    await refused(bare.execute(ctx('..')), /not a user name/, false);
    await refused(bare.execute(ctx('%2e%2e')), /404/, false);
    assert.deepEqual(seen().filter((x) => !x.includes('/oauth2/')), ['GET /v1.0/users/Admin%40contoso.com', 'GET /v1.0/users/..%2Fadmin%40contoso.com', 'GET /v1.0/users/..%40contoso.com', 'GET /v1.0/users/%252e%252e']);
    assert.equal(entra.users.get(ID(4))!.enabled, true);
  });

  test('429 with Retry-After; 5xx retried; a hung PATCH is an unknown outcome; reconcile', async () => {
    entra.add(ID(5), 'dave@contoso.com');
    const t = await target({ revoke_sessions: false });
    try {
      entra.setOverride((q) => (q.path.startsWith('/v1.0/') ? { status: 429, headers: { 'retry-after': '7' }, json: { error: { code: 'TooManyRequests', message: 'Too many requests' } } } : undefined));
      const rl = await refused(t.execute(ctx('dave')), /429 TooManyRequests/, true);
      assert.equal(rl.retryAfterMs, 7000);
      entra.setOverride((q) => (q.path.startsWith('/v1.0/') ? { status: 503, json: { error: { code: 'serviceNotAvailable', message: 'busy' } } } : undefined));
      await refused(t.execute(ctx('dave')), /503 serviceNotAvailable/, true);
      entra.setOverride((q) => (q.method === 'PATCH' ? { hang: true } : undefined));
      const ac = new AbortController();
      const call = t.execute(ctx('dave', { signal: ac.signal }));
      while (!suite.server.requests.some((q) => q.method === 'PATCH' && q.path === `/v1.0/users/${ID(5)}`)) await new Promise((r) => setTimeout(r, 5));
      ac.abort();
      assert.equal((await refused(call, /no answer before the call's time limit/, true)).unknownOutcome, true);
      entra.setOverride(null);
      assert.equal((await t.reconcile!(ctx('dave'))).done, false, 'still enabled: not done');
      entra.users.get(ID(5))!.enabled = false;
      const rec = await t.reconcile!(ctx('dave'));
      assert.equal(rec.done && rec.detail.was_enabled, null, 'no checkpoint: cannot tell');
      const kept = await t.reconcile!(ctx('dave', { priorCheckpoint: { id: ID(5), was_enabled: true } }));
      assert.deepEqual(kept.done && [kept.detail.was_enabled, kept.detail.disabled], [true, true], 'the checkpoint is carried into the result');
    } finally {
      entra.setOverride(null);
    }
  });

  test('through the executor: the action disables, its undo row re-enables', async () => {
    entra.add(ID(8), 'hank@contoso.com');
    const st = await openTestStore('sqlite');
    const t = await target();
    try {
      const now = Date.now();
      const incident = { ...sampleIncident('INC-E1'), user: 'hank@contoso.com' };
      await seedIncident(st.store.db, incident);
      await insertAction(st.store.db, { id: 'ACT-E1', incident_id: incident.id, kind: 'entra_disable', target: 'entra', now });
      const ex = testExecutor(st.store, 'entra', t, Date.now);
      assert.equal((await ex.runOnce()).succeeded, 1);
      const done = await actionRow(st.store.db, 'ACT-E1');
      assert.deepEqual(JSON.parse(done.result!), { user: 'hank@contoso.com', upn: 'hank@contoso.com', id: ID(8), was_enabled: true, disabled: true, sessions_revoked: true });
      assert.equal(entra.users.get(ID(8))!.enabled, false);
      const u = await undoAction(st.store, 'ACT-E1', { actor: 'analyst', why: 'false positive' });
      assert.equal((await ex.runOnce()).succeeded, 1);
      const row = await actionRow(st.store.db, u.id);
      assert.equal(row.state, 'succeeded');
      assert.deepEqual(JSON.parse(row.result!), { id: ID(8), re_enabled: true });
      assert.equal(entra.users.get(ID(8))!.enabled, true);
    } finally {
      await st.cleanup();
    }
  });
});
