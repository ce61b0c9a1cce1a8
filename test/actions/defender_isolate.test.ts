/**
 * defender_isolate against a local stand-in that speaks the Microsoft Defender for Endpoint API as documented on
 * Microsoft Learn: "List machines API" (GET /api/machines, OData $filter on computerDnsName / lastIpAddress),
 * "Isolate machine API" (POST /api/machines/{id}/isolate {"Comment","IsolationType"} → 201 MachineAction),
 * "Release device from isolation API" (POST …/unisolate {"Comment"}), "List MachineActions API"
 * (https://learn.microsoft.com/en-us/defender-endpoint/api/get-machineactions-collection: $filter on machineId,
 * type, status; 100 calls/min, 1500/h), and the Entra ID client-credentials token endpoint
 * (POST /{tenant}/oauth2/v2.0/token, scope https://api.securitycenter.microsoft.com/.default). Errors:
 * {"error":{"code","message"}}; token errors {"error","error_description"}.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import defender, { machineFilter, odataString, stateOfActions } from '../../src/actions/kinds/defender_isolate.js';
import type { ActionContext, ActionTarget } from '../../src/actions/action.js';
import { undoAction } from '../../src/actions/undo.js';
import { mdeServer, type MdeOptions } from '../support/contracts/defender_isolate.js';
import { openTestStore } from '../support/stores.js';
import { actionRow, insertAction, sampleIncident, seedIncident } from './fixtures.js';
import { actionCtx, rejection, testExecutor } from './support.js';

const SECRET = 'mde~client~secret~value';
const MID = '1e5bc9d7e413ddd7902c2932e418702b84d0cc07';
const mde = (opts: Partial<MdeOptions> = {}) =>
  mdeServer({ tenant: 'tenant-1', clientId: 'app-id', secret: SECRET, machines: [[MID, 'ws-042.corp.example', '10.1.2.3'], ['other', 'ws-043.corp.example', '10.1.2.4']], ...opts });

const entry = (url: string, extra: Record<string, unknown> = {}) => ({
  name: 'mde',
  kind: 'defender_isolate' as const,
  url,
  token_url: `${url}/tenant-1/oauth2/v2.0/token`,
  allow_private: true,
  tenant_id: 'tenant-1',
  client_id: 'app-id',
  client_secret: SECRET,
  ...extra,
});
const target = (url: string, extra: Record<string, unknown> = {}): Promise<ActionTarget> => defender.create(entry(url, extra), { configDir: '.', publicUrl: '' });

const ctx = (params: Record<string, unknown> = {}, undoOf: string | null = null): ActionContext =>
  actionCtx('defender_isolate', 'mde', sampleIncident('INC-MDE'), { params, undoOf });

test('isolates the incident host (short name → its FQDN) with a client-credentials token; again: already isolated', async () => {
  const s = await mde();
  const t = await target(s.url);
  try {
    const out = await t.execute(ctx());
    assert.deepEqual(out.detail, { device_id: MID, hostname: 'ws-042.corp.example', machine_action_id: 'ma-1', state: 'containing', already: false });
    const post = s.requests.find((r) => r.method === 'POST' && r.path.endsWith('/isolate'))!;
    assert.equal(post.path, `/api/machines/${MID}/isolate`);
    assert.deepEqual(post.json, { Comment: 'Fido incident INC-MDE (INC-MDE:ACT1:mde)', IsolationType: 'Full' });
    assert.equal(post.headers.authorization, 'Bearer mde-tok-1');
    assert.ok(s.requests.every((r) => !r.query.toString().includes(SECRET)));
    const again = await t.execute(ctx());
    // Still pending in Defender: counts as isolated, no second request.
    assert.deepEqual([again.detail['already'], again.detail['state']], [true, 'containing']);
    assert.equal(s.actions.length, 1);
  } finally {
    await t.close?.();
    await s.close();
  }
});

test('an expired token is refreshed once; a refused client secret is final and not in the message', async () => {
  const s = await mde({ revokeAfter: 2 });
  const t = await target(s.url);
  const bad = await target(s.url, { client_secret: 'wrong~secret~value' });
  try {
    await t.execute(ctx());
    assert.equal(s.tokens(), 2);
    const e = await rejection(bad.execute(ctx()));
    assert.equal(e.retryable, false);
    assert.match(e.message, /invalid_client/);
    assert.ok(!e.message.includes('wrong~secret~value'));
  } finally {
    await t.close?.();
    await bad.close?.();
    await s.close();
  }
});

test('429 with Retry-After, 5xx on isolate (unknown outcome), a malformed machine list', async () => {
  let mode = '';
  const s = await mde({
    override: (r) => {
      if (mode === '429' && r.path === '/api/machines') return { status: 429, headers: { 'retry-after': '12' }, json: { error: { code: 'TooManyRequests', message: 'Rate limit is exceeded' } } };
      if (mode === '500' && r.path.endsWith('/isolate')) return { status: 500, json: { error: { code: 'InternalServerError', message: 'oops' } } };
      if (mode === 'garbage' && r.path === '/api/machines') return { json: { value: 'x' } };
      return undefined;
    },
  });
  const t = await target(s.url);
  try {
    mode = '429';
    const limited = await rejection(t.execute(ctx()));
    assert.deepEqual([limited.retryable, limited.retryAfterMs], [true, 12_000]);
    mode = '500';
    const server = await rejection(t.execute(ctx()));
    assert.deepEqual([server.retryable, server.unknownOutcome], [true, true]);
    mode = 'garbage';
    assert.equal((await rejection(t.execute(ctx()))).retryable, true);
  } finally {
    await t.close?.();
    await s.close();
  }
});

test("a hostile name stays one OData literal (quotes doubled) and matches nothing; protected hosts refused", async () => {
  assert.equal(odataString("a'b"), "'a''b'");
  assert.equal(machineFilter({ value: '10.1.2.3', ip: true }), "lastIpAddress eq '10.1.2.3'");
  const s = await mde();
  const t = await target(s.url, { protected_hosts: ['ws-043'] });
  try {
    const hostile = "x' or computerDnsName ne '";
    const e = await rejection(t.execute(ctx({ host: hostile })));
    assert.equal(e.retryable, false);
    assert.equal(s.requests.find((r) => r.path === '/api/machines')!.query.get('$filter'), machineFilter({ value: hostile, ip: false }));
    // Found by address, the machine's own name is checked against the protected list.
    const prot = await rejection(t.execute(ctx({ host: '10.1.2.4' })));
    assert.match(prot.message, /ws-043\.corp\.example is protected/);
    assert.equal(s.actions.length, 0);
  } finally {
    await t.close?.();
    await s.close();
  }
});

test('state from the latest live Isolate/Unisolate action; reconcile says done when already isolated', async () => {
  const a = (type: string, status: string, at: string) => ({ type, status, creationDateTimeUtc: at });
  assert.equal(stateOfActions([]), 'released');
  assert.equal(stateOfActions([a('Isolate', 'Succeeded', '2026-01-01'), a('Unisolate', 'Failed', '2026-01-02')]), 'contained');
  assert.equal(stateOfActions([a('Isolate', 'Succeeded', '2026-01-01'), a('Unisolate', 'InProgress', '2026-01-02'), a('RunAntiVirusScan', 'Pending', '2026-01-03')]), 'releasing');
  const s = await mde();
  const t = await target(s.url);
  try {
    assert.deepEqual(await t.reconcile!(ctx()), { done: false });
    assert.equal((await t.reconcile!(ctx({}, 'ACT0'))).done, true);
    s.actions.push({ id: 'ma-x', machineId: MID, type: 'Isolate', status: 'Succeeded', creationDateTimeUtc: '2026-12-07T09:00:00Z' });
    assert.deepEqual(await t.reconcile!(ctx()), { done: true, detail: { device_id: MID, hostname: 'ws-042.corp.example', state: 'contained', already: null } });
  } finally {
    await t.close?.();
    await s.close();
  }
});

test('a 400 for an isolation someone else just requested is success when the machine is now isolated', async () => {
  let s: Awaited<ReturnType<typeof mde>> | undefined;
  let portal = true;
  s = await mde({
    override: (r) => {
      if (!r.path.endsWith('/isolate')) return undefined;
      // The analyst clicked "Isolate" in the portal a moment before Fido's call.
      if (portal) s!.actions.push({ id: 'ma-portal', machineId: MID, type: 'Isolate', status: 'Pending', creationDateTimeUtc: '2026-12-07T11:00:00Z' });
      return { status: 400, json: { error: { code: 'ActiveRequestAlreadyExists', message: 'Action is already in progress' } } };
    },
  });
  const t = await target(s.url);
  try {
    const out = await t.execute(ctx());
    assert.deepEqual([out.detail['already'], out.detail['state']], [true, 'containing']);
    s.actions.length = 0;
    portal = false;
    const e = await rejection(t.execute(ctx()));
    assert.equal(e.retryable, false, 'a 400 with the machine still not isolated is final');
    assert.match(e.message, /ActiveRequestAlreadyExists/);
  } finally {
    await t.close?.();
    await s.close();
  }
});

test('through the executor: isolated, then the undo row releases the recorded machine', async () => {
  const s = await mde();
  const t = await target(s.url);
  const store = await openTestStore('sqlite');
  try {
    const incident = sampleIncident('INC-MDEX');
    await seedIncident(store.store.db, incident);
    const now = Date.now();
    await insertAction(store.store.db, { id: 'ACT-MDE', incident_id: incident.id, kind: 'defender_isolate', target: 'mde', now });
    const ex = testExecutor(store.store, 'mde', t, () => now);
    assert.equal((await ex.runOnce()).succeeded, 1);
    assert.equal((JSON.parse((await actionRow(store.store.db, 'ACT-MDE')).result!) as { device_id: string }).device_id, MID);
    await undoAction(store.store, 'ACT-MDE', { actor: 'alice', why: 'false positive' }, now);
    assert.equal((await ex.runOnce()).succeeded, 1);
    assert.deepEqual(s.actions.map((a) => a.type), ['Isolate', 'Unisolate']);
  } finally {
    await t.close?.();
    await s.close();
    await store.cleanup();
  }
});

test('config: url and token_url must pass the outbound guard', () => {
  const problems = defender.check!({ ...entry('http://127.0.0.1:1'), allow_private: false });
  assert.deepEqual(problems.map((p) => p.key), ['url', 'token_url']);
  assert.deepEqual(defender.check!({ ...entry('https://api.securitycenter.microsoft.com'), token_url: undefined }), []);
});
