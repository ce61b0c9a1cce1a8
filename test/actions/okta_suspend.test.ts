/**
 * okta_suspend against a local server that speaks Okta's documented Users API and holds user state:
 * https://developer.okta.com/docs/api/openapi/okta-management/management/tag/UserLifecycle (suspend /
 * unsuspend: only from ACTIVE / SUSPENDED, else 400 E0000001), .../tag/User (GET /api/v1/users/{id|login},
 * DELETE /api/v1/users/{id}/sessions → 204), https://developer.okta.com/docs/reference/error-codes/
 * ({errorCode, errorSummary}; E0000011 invalid token, E0000007 not found, E0000047 rate limit) and
 * https://developer.okta.com/docs/reference/rl-best-practices/ (429 with X-Rate-Limit-Reset, epoch seconds).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import oktaSuspend, { type OktaSuspendConfig, type OktaSuspendResult } from '../../src/actions/kinds/okta_suspend.js';
import type { ActionContext, ActionTarget, UndoContext } from '../../src/actions/action.js';
import { undoAction } from '../../src/actions/undo.js';
import { entryProblem } from '../../src/component/instantiate.js';
import type { AnyComponent, ComponentEntry } from '../../src/component/component.js';
import { oktaServer } from '../support/contracts/okta_suspend.js';
import { openTestStore } from '../support/stores.js';
import { actionRow, insertAction, sampleIncident, seedIncident } from './fixtures.js';
import { actionCtx, refused, suiteServer, undoCtxOf, testExecutor } from './support.js';

const TOKEN = 'okta-token-00SECRETxyz';

type CtxOpts = { attempts?: number; signal?: AbortSignal; incidentUser?: string | null; priorCheckpoint?: Record<string, unknown>; checkpoints?: Record<string, unknown>[] };

function ctx(user: string | undefined, opts: CtxOpts = {}): ActionContext {
  const incident = { ...sampleIncident('INC1'), user: opts.incidentUser === undefined ? 'alice' : opts.incidentUser };
  const { incidentUser: _, ...rest } = opts;
  return actionCtx('okta_suspend', 'okta', incident, { params: user === undefined ? {} : { user }, ...rest, attempts: opts.attempts ?? 1 });
}

const undoCtx = (result: Record<string, unknown>): UndoContext => undoCtxOf(ctx(undefined), result, 'ACT1');

describe('okta_suspend', () => {
  const okta = oktaServer(TOKEN);
  const suite = suiteServer(okta.handler);

  async function target(over: Partial<OktaSuspendConfig> = {}): Promise<ActionTarget> {
    const t = await oktaSuspend.create({ name: 'okta', kind: 'okta_suspend', url: suite.server.url, api_token: TOKEN, allow_private: true, login_suffix: 'corp.example', ...over }, { configDir: '.', publicUrl: 'http://fido.test' });
    suite.track(t);
    return t;
  }
  const since = () => {
    const n = suite.server.requests.length;
    return () => suite.server.requests.slice(n).map((r) => `${r.method} ${r.path}`);
  };

  test('schema and check errors name the key', () => {
    const base = { name: 'okta', kind: 'okta_suspend', url: 'https://corp.okta.com', api_token: '${env:OKTA}' };
    const problem = (over: Record<string, unknown>) => entryProblem(oktaSuspend as unknown as AnyComponent, { ...base, ...over } as ComponentEntry, 'actions.targets.okta');
    assert.equal(problem({}), null);
    assert.match(problem({ url: 'http://127.0.0.1:8080' }) ?? '', /^actions\.targets\.okta\.url: /);
    assert.match(problem({ api_token: '' }) ?? '', /api_token/);
    assert.match(problem({ login_suffix: 'a/b' }) ?? '', /login_suffix/);
    assert.match(problem({ extra: 1 }) ?? '', /actions\.targets\.okta/);
  });

  test('suspends and revokes sessions; undo unsuspends; both directions idempotent', async () => {
    okta.add('00u1alice', 'alice@corp.example');
    const t = await target();
    const seen = since();
    const checkpoints: Record<string, unknown>[] = [];
    const r = (await t.execute(ctx(undefined, { checkpoints }))).detail as OktaSuspendResult;
    assert.deepEqual(r, { user: 'alice', login: 'alice@corp.example', id: '00u1alice', was: 'ACTIVE', suspended: true, sessions_revoked: true });
    assert.deepEqual(checkpoints, [{ id: '00u1alice', was: 'ACTIVE' }], 'the status is checkpointed before the suspend');
    assert.equal(okta.users.get('00u1alice')!.status, 'SUSPENDED');
    assert.equal(okta.users.get('00u1alice')!.sessions, 0);
    assert.deepEqual(seen(), ['GET /api/v1/users/alice%40corp.example', 'POST /api/v1/users/00u1alice/lifecycle/suspend', 'DELETE /api/v1/users/00u1alice/sessions']);
    for (const q of suite.server.requests) {
      assert.equal(q.headers.authorization, `SSWS ${TOKEN}`);
      assert.ok(!q.path.includes(TOKEN) && !q.query.toString().includes(TOKEN));
    }
    // A retry after a crash finds it suspended: no second suspend, and `was` comes from the checkpoint.
    const seen2 = since();
    const again = (await t.execute(ctx(undefined, { attempts: 2, priorCheckpoint: checkpoints[0]! }))).detail as OktaSuspendResult;
    assert.equal(again.was, 'ACTIVE');
    assert.equal(again.suspended, true);
    assert.ok(!seen2().some((x) => x.includes('lifecycle')));
    // Without a checkpoint (no earlier attempt got as far as suspending): suspended by someone else.
    const other = (await t.execute(ctx(undefined, { attempts: 2 }))).detail as OktaSuspendResult;
    assert.equal(other.was, 'SUSPENDED');
    // Undo with the first result: ACTIVE; undo again: nothing to take back.
    const u = await t.undo!(undoCtx(r));
    assert.deepEqual(u.detail, { id: '00u1alice', unsuspended: true });
    assert.equal(okta.users.get('00u1alice')!.status, 'ACTIVE');
    const u2 = await t.undo!(undoCtx(r));
    assert.equal(u2.detail.unsuspended, false);
    assert.match(String(u2.detail.reason), /ACTIVE: nothing to take back/);
    // Undo with the retry's result (the checkpoint's ACTIVE) unsuspends what Fido suspended; a result without
    // the state before (was null) or with someone else's suspension leaves the user suspended.
    okta.users.get('00u1alice')!.status = 'SUSPENDED';
    assert.equal((await t.undo!(undoCtx(again))).detail.unsuspended, true);
    assert.equal(okta.users.get('00u1alice')!.status, 'ACTIVE');
    okta.users.get('00u1alice')!.status = 'SUSPENDED';
    assert.equal((await t.undo!(undoCtx({ ...again, was: null }))).detail.unsuspended, false);
    assert.equal((await t.undo!(undoCtx(other))).detail.unsuspended, false);
    assert.equal(okta.users.get('00u1alice')!.status, 'SUSPENDED');
  });

  test('a user suspended before Fido stays suspended after the undo', async () => {
    okta.add('00u2bob', 'bob@corp.example', 'SUSPENDED');
    const t = await target();
    const seen = since();
    const r = (await t.execute(ctx('CORP\\bob'))).detail as OktaSuspendResult;
    assert.equal(r.was, 'SUSPENDED');
    assert.equal(r.suspended, false);
    assert.deepEqual(seen(), ['GET /api/v1/users/bob%40corp.example', 'DELETE /api/v1/users/00u2bob/sessions']);
    const u = await t.undo!(undoCtx(r));
    assert.equal(u.detail.unsuspended, false);
    assert.match(String(u.detail.reason), /was SUSPENDED before Fido acted/);
    assert.equal(okta.users.get('00u2bob')!.status, 'SUSPENDED');
  });

  test('a 400 on suspend (someone suspended it meanwhile) is settled by the status; revoke_sessions: false sends no DELETE', async () => {
    okta.add('00u3carol', 'carol@corp.example');
    okta.setOverride((q) => {
      if (q.path.endsWith('/lifecycle/suspend')) {
        okta.users.get('00u3carol')!.status = 'SUSPENDED';
        return { status: 400, json: { errorCode: 'E0000001', errorSummary: 'Api validation failed: Cannot suspend a user that is not active' } };
      }
      return undefined;
    });
    try {
      const t = await target({ revoke_sessions: false });
      const seen = since();
      const r = (await t.execute(ctx('carol'))).detail as OktaSuspendResult;
      assert.equal(r.sessions_revoked, false);
      assert.deepEqual(seen(), ['GET /api/v1/users/carol%40corp.example', 'POST /api/v1/users/00u3carol/lifecycle/suspend', 'GET /api/v1/users/00u3carol']);
    } finally {
      okta.setOverride(null);
    }
  });

  test('refusals: nobody named, protected users, a status that cannot be suspended, unknown user', async () => {
    okta.add('00u4root', 'root@corp.example');
    okta.add('00u5gone', 'gone@corp.example', 'DEPROVISIONED');
    const t = await target({ protected_users: ['ROOT'] });
    await refused(t.execute(ctx(undefined, { incidentUser: null })), /no user to act on/, false);
    await refused(t.execute(ctx('root@corp.example')), /protected \(protected_users: ROOT\)/, false);
    await refused(t.execute(ctx('gone')), /status DEPROVISIONED/, false);
    await refused(t.execute(ctx('nobody@corp.example')), /404 E0000007/, false);
    assert.equal(okta.users.get('00u4root')!.status, 'ACTIVE');
  });

  test('hostile user names are percent-encoded and never change the path', async () => {
    const t = await target({ login_suffix: undefined });
    const seen = since();
    await refused(t.execute(ctx('../admin')), /404/, false);
    await refused(t.execute(ctx('a/b?x=1#frag')), /404/, false);
    await refused(t.execute(ctx('..')), /not a user name/, false);
    assert.deepEqual(seen(), ['GET /api/v1/users/..%2Fadmin', 'GET /api/v1/users/a%2Fb%3Fx%3D1%23frag']);
  });

  test('errors: bad token permanent without the token; 429 at X-Rate-Limit-Reset; 5xx retried; a hung write is an unknown outcome', async () => {
    okta.add('00u6dave', 'dave@corp.example');
    const bad = await target({ api_token: 'wrong-token-abcdef' });
    const e = await refused(bad.execute(ctx('dave')), /401 E0000011: Invalid token provided/, false);
    assert.ok(!e.message.includes('wrong-token-abcdef'));
    const t = await target();
    const reset = Math.floor(Date.now() / 1000) + 30;
    okta.setOverride(() => ({ status: 429, headers: { 'x-rate-limit-limit': '600', 'x-rate-limit-remaining': '0', 'x-rate-limit-reset': String(reset) }, json: { errorCode: 'E0000047', errorSummary: 'API call exceeded rate limit due to too many requests.' } }));
    try {
      const rl = await refused(t.execute(ctx('dave')), /429 E0000047/, true);
      assert.ok(rl.retryAfterMs! > 25_000 && rl.retryAfterMs! <= 31_000, String(rl.retryAfterMs));
      okta.setOverride(() => ({ status: 503, body: 'busy' }));
      await refused(t.execute(ctx('dave')), /503/, true);
      okta.setOverride((q) => (q.path.endsWith('/lifecycle/suspend') ? { hang: true } : undefined));
      const ac = new AbortController();
      const call = t.execute(ctx('dave', { signal: ac.signal }));
      while (!suite.server.requests.some((q) => q.path === '/api/v1/users/00u6dave/lifecycle/suspend')) await new Promise((r) => setTimeout(r, 5));
      ac.abort();
      const hung = await refused(call, /no answer before the call's time limit/, true);
      assert.equal(hung.unknownOutcome, true);
      okta.setOverride(() => ({ status: 200, body: '<html>' }));
      await refused(t.execute(ctx('dave')), /not JSON/, true);
    } finally {
      okta.setOverride(null);
    }
  });

  test('reconcile: an undo is done when the user is ACTIVE; without revocation the action is done when SUSPENDED', async () => {
    okta.add('00u7erin', 'erin@corp.example', 'SUSPENDED');
    const t = await target({ revoke_sessions: false });
    const r = await t.reconcile!(ctx('erin'));
    assert.equal(r.done, true);
    assert.equal(r.done && r.detail.was, null, 'no checkpoint: cannot tell');
    const kept = await t.reconcile!(ctx('erin', { priorCheckpoint: { id: '00u7erin', was: 'ACTIVE' } }));
    assert.deepEqual(kept.done && [kept.detail.was, kept.detail.suspended], ['ACTIVE', true], 'the checkpoint is carried into the result');
    // The undo row names the incident's user (alice).
    okta.users.get('00u1alice')!.status = 'SUSPENDED';
    assert.equal((await t.reconcile!(undoCtx({}))).done, false);
    okta.users.get('00u1alice')!.status = 'ACTIVE';
    assert.deepEqual(await t.reconcile!(undoCtx({})), { done: true, detail: { id: '00u1alice', unsuspended: true } });
  });

  test('through the executor: the action suspends, its undo row unsuspends', async () => {
    okta.add('00u8hank', 'hank@corp.example');
    const st = await openTestStore('sqlite');
    const t = await target();
    try {
      const now = Date.now();
      const incident = { ...sampleIncident('INC-O1'), user: 'hank' };
      await seedIncident(st.store.db, incident);
      await insertAction(st.store.db, { id: 'ACT-O1', incident_id: incident.id, kind: 'okta_suspend', target: 'okta', now });
      const ex = testExecutor(st.store, 'okta', t, Date.now);
      assert.equal((await ex.runOnce()).succeeded, 1);
      const done = await actionRow(st.store.db, 'ACT-O1');
      assert.deepEqual(JSON.parse(done.result!), { user: 'hank', login: 'hank@corp.example', id: '00u8hank', was: 'ACTIVE', suspended: true, sessions_revoked: true });
      assert.equal(okta.users.get('00u8hank')!.status, 'SUSPENDED');
      const u = await undoAction(st.store, 'ACT-O1', { actor: 'analyst', why: 'false positive' });
      assert.equal((await ex.runOnce()).succeeded, 1);
      const row = await actionRow(st.store.db, u.id);
      assert.equal(row.state, 'succeeded');
      assert.deepEqual(JSON.parse(row.result!), { id: '00u8hank', unsuspended: true });
      assert.equal(okta.users.get('00u8hank')!.status, 'ACTIVE');
    } finally {
      await st.cleanup();
    }
  });
});
