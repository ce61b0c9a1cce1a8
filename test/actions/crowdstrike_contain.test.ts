/**
 * crowdstrike_contain against a local stand-in that speaks the Falcon API as documented: OAuth2 client
 * credentials (POST /oauth2/token → access_token, expires_in; 401 {"errors":[{code,message}]}), FQL device
 * queries (GET /devices/queries/devices/v1?filter=hostname:'X'), device entities with `status`, and
 * POST /devices/entities/devices-actions/v2?action_name=contain|lift_containment {"ids":[…]} → 202.
 * Sources: CrowdStrike Falcon API docs "Hosts" / "Network containment" (falconpy's Hosts.perform_action,
 * QueryDevicesByFilter, GetDeviceDetailsV2 and OAuth2 service class document the same shapes).
 */
import { test } from 'node:test';
import { Value } from 'typebox/value';
import assert from 'node:assert/strict';
import crowdstrike, { fqlString } from '../../src/actions/kinds/crowdstrike_contain.js';
import type { ActionContext, ActionTarget } from '../../src/actions/action.js';
import { undoAction } from '../../src/actions/undo.js';
import { falconServer, type FalconOptions } from '../support/contracts/crowdstrike_contain.js';
import { openTestStore } from '../support/stores.js';
import { actionRow, insertAction, sampleIncident, seedIncident } from './fixtures.js';
import { actionCtx, rejection, testExecutor } from './support.js';

const SECRET = 'falcon-secret-s3cr3t';
const AID = 'aid0000000000000000000000000042';

const falcon = (opts: Partial<FalconOptions> = {}) =>
  falconServer({ clientId: 'cid', secret: SECRET, devices: [[AID, 'ws-042'], ['aid-other', 'ws-043']], ...opts });

const entry = (url: string, extra: Record<string, unknown> = {}) =>
  ({ name: 'falcon', kind: 'crowdstrike_contain' as const, url, allow_private: true, client_id: 'cid', client_secret: SECRET, ...extra });

async function target(url: string, extra: Record<string, unknown> = {}): Promise<ActionTarget> {
  return crowdstrike.create(entry(url, extra), { configDir: '.', publicUrl: 'http://fido.test' });
}

const ctx = (params: Record<string, unknown> = {}, signal = new AbortController().signal, undoOf: string | null = null): ActionContext =>
  actionCtx('crowdstrike_contain', 'falcon', sampleIncident('INC-CS'), { params, signal, undoOf });

test('contains the incident host: token by form, FQL lookup, contain by id; a second call finds it contained', async () => {
  const s = await falcon();
  const t = await target(s.url);
  try {
    const out = await t.execute(ctx());
    assert.deepEqual(out.detail, { device_id: AID, hostname: 'ws-042', action_name: 'contain', state: 'containing', already: false });
    const [tok, query] = s.requests;
    const act = s.requests.find((r) => r.method === 'POST' && r.path === '/devices/entities/devices-actions/v2');
    assert.equal(tok!.path, '/oauth2/token');
    assert.equal(tok!.form.get('client_secret'), SECRET);
    assert.equal(query!.query.get('filter'), "hostname:'ws-042'");
    assert.equal(act!.query.get('action_name'), 'contain');
    assert.deepEqual(act!.json, { ids: [AID] });
    assert.equal(act!.headers.authorization, 'Bearer tok-1');
    assert.ok(s.requests.every((r) => !`${r.path}?${r.query}`.includes(SECRET)), 'the secret never in a URL');
    assert.equal(s.devices.get(AID)!.status, 'containment_pending');
    const again = await t.execute(ctx());
    assert.equal(again.detail['already'], true);
    assert.equal(again.detail['state'], 'contained');
    assert.equal(s.requests.filter((r) => r.path === '/devices/entities/devices-actions/v2').length, 1, 'contained once');
    assert.equal(s.tokens(), 1, 'the token is reused');
  } finally {
    await t.close?.();
    await s.close();
  }
});

test('a token refused mid-way is refreshed once; bad credentials are a permanent error without the secret', async () => {
  const s = await falcon({ revokeAfter: 1 });
  const t = await target(s.url);
  const bad = await target(s.url, { client_secret: 'wrong-secret-value' });
  try {
    await t.execute(ctx());
    assert.equal(s.tokens(), 2);
    const e = await rejection(bad.execute(ctx()));
    assert.equal(e.retryable, false);
    assert.match(e.message, /401/);
    assert.ok(!e.message.includes('wrong-secret-value'));
  } finally {
    await t.close?.();
    await bad.close?.();
    await s.close();
  }
});

test('429 is retried after Retry-After; 5xx retried (unknown outcome on the contain call); malformed retried', async () => {
  let mode: 'ratelimit' | 'server-on-post' | 'garbage' = 'ratelimit';
  const s = await falcon({
    override: (r) => {
      if (mode === 'ratelimit' && r.path === '/devices/queries/devices/v1') return { status: 429, headers: { 'retry-after': '7' }, json: { errors: [{ code: 429, message: 'API rate limit exceeded.' }] } };
      if (mode === 'server-on-post' && r.path === '/devices/entities/devices-actions/v2') return { status: 502, body: 'bad gateway' };
      if (mode === 'garbage' && r.path === '/devices/entities/devices/v2') return { status: 200, body: '<html>' };
      return undefined;
    },
  });
  const t = await target(s.url);
  try {
    const limited = await rejection(t.execute(ctx()));
    assert.deepEqual([limited.retryable, limited.retryAfterMs], [true, 7000]);
    mode = 'server-on-post';
    const server = await rejection(t.execute(ctx()));
    assert.deepEqual([server.retryable, server.unknownOutcome], [true, true]);
    mode = 'garbage';
    const garbage = await rejection(t.execute(ctx()));
    assert.deepEqual([garbage.retryable, garbage.unknownOutcome], [true, false]);
  } finally {
    await t.close?.();
    await s.close();
  }
});

test('a hostile host name stays inside the FQL string and matches nothing; protected and missing hosts are refused', async () => {
  const s = await falcon();
  const t = await target(s.url, { protected_hosts: ['WS-042.corp.example'] });
  try {
    const hostile = "ws-043' + hostname:'ws-042";
    assert.equal(fqlString(hostile), "'ws-043\\' + hostname:\\'ws-042'");
    const e = await rejection(t.execute(ctx({ host: hostile })));
    assert.equal(e.retryable, false);
    assert.equal(s.requests.find((r) => r.path === '/devices/queries/devices/v1')!.query.get('filter'), `hostname:${fqlString(hostile)}`);
    const before = s.requests.length;
    const prot = await rejection(t.execute(ctx()));
    assert.match(prot.message, /protected/);
    assert.equal(prot.retryable, false);
    assert.equal(s.requests.length, before, 'a protected host is refused before any call');
    const noHost = crowdstrike.create(entry(s.url), { configDir: '.', publicUrl: '' });
    const c = { ...ctx(), incident: { ...sampleIncident(), host: null } };
    const none = await rejection((await noHost).execute(c));
    assert.match(none.message, /no host/);
    await (await noHost).close?.();
  } finally {
    await t.close?.();
    await s.close();
  }
});

test('reconcile: done when the device is already contained (or released, for an undo); an abort ends a hung call', async () => {
  const s = await falcon({ override: (r) => (r.query.get('filter') === "hostname:'hang'" ? { hang: true } : undefined) });
  const t = await target(s.url);
  try {
    assert.deepEqual(await t.reconcile!(ctx()), { done: false });
    assert.deepEqual(await t.reconcile!(ctx({}, undefined, 'ACT0')), { done: true, detail: { device_id: AID, hostname: 'ws-042', state: 'released' } });
    s.devices.get(AID)!.status = 'contained';
    assert.equal((await t.reconcile!(ctx())).done, true);
    const ac = new AbortController();
    const p = t.execute(ctx({ host: 'hang' }, ac.signal));
    setImmediate(() => ac.abort());
    const e = await rejection(p);
    assert.equal(e.retryable, true);
  } finally {
    await t.close?.();
    await s.close();
  }
});

test('the containment before Fido acted is checkpointed and kept across a crash; the undo releases only what Fido contained', async () => {
  const s = await falcon();
  const t = await target(s.url);
  const c = (o: { priorCheckpoint?: Record<string, unknown>; checkpoints?: Record<string, unknown>[] }) => actionCtx('crowdstrike_contain', 'falcon', sampleIncident('INC-CS'), o);
  const containCalls = () => s.requests.filter((r) => r.path === '/devices/entities/devices-actions/v2' && r.query.get('action_name') === 'contain').length;
  const releaseCalls = () => s.requests.filter((r) => r.path === '/devices/entities/devices-actions/v2' && r.query.get('action_name') === 'lift_containment').length;
  try {
    const checkpoints: Record<string, unknown>[] = [];
    const first = await t.execute(c({ checkpoints }));
    assert.deepEqual(checkpoints, [{ device_id: AID, hostname: 'ws-042', was: 'released' }], 'checkpointed before the contain request');
    assert.equal(first.detail['already'], false);
    // The executor died before the outcome was written; the next attempt finds the host containing (its own
    // doing) and records, from the checkpoint, that Fido contained it.
    const resumed = await t.execute(c({ priorCheckpoint: checkpoints[0]! }));
    assert.deepEqual([resumed.detail['already'], containCalls()], [false, 1]);
    const rec = await t.reconcile!(c({ priorCheckpoint: checkpoints[0]! }));
    assert.equal(rec.done && rec.detail['already'], false, 'reconcile carries the checkpoint on');
    // Without a checkpoint the host was contained by someone else: the undo of that result releases nothing.
    const other = await t.execute(c({}));
    assert.equal(other.detail['already'], true);
    const undoCtx = (r: Record<string, unknown>) => ({ ...ctx({}, undefined, 'ACT0'), original: ctx().action, originalResult: r });
    const kept = await t.undo!(undoCtx(other.detail));
    assert.deepEqual(kept.detail, { device_id: AID, hostname: 'ws-042', released: false, reason: 'the host was contained before Fido acted; left contained' });
    const unsure = await t.undo!(undoCtx({ ...rec.done ? rec.detail : {}, already: null }));
    assert.equal(unsure.detail['released'], false);
    assert.match(String(unsure.detail['reason']), /could not tell/);
    assert.equal(releaseCalls(), 0, 'nothing released');
    // The resumed attempt's result releases what Fido contained.
    const undone = await t.undo!(undoCtx(resumed.detail));
    assert.deepEqual([undone.detail['already'], undone.detail['state'], releaseCalls()], [false, 'releasing', 1]);
  } finally {
    await t.close?.();
    await s.close();
  }
});

test('config: the url must pass the outbound guard; unknown keys are refused by the schema', () => {
  const problems = crowdstrike.check!({ ...entry('http://127.0.0.1:1'), allow_private: false });
  assert.equal(problems[0]?.key, 'url');
  assert.deepEqual(crowdstrike.check!(entry('https://api.crowdstrike.com')), []);
  assert.equal(Value.Check(crowdstrike.schema, entry('https://api.crowdstrike.com')), true);
  assert.equal(Value.Check(crowdstrike.schema, { ...entry('https://x.test'), protect: ['a'] }), false, 'an unknown key');
  assert.equal(Value.Check(crowdstrike.schema, { ...entry('https://x.test'), client_secret: undefined }), false, 'a missing secret');
});

test('through the executor: contained, then the undo row lifts containment of the recorded device', async () => {
  const s = await falcon();
  const t = await target(s.url);
  const store = await openTestStore('sqlite');
  try {
    const incident = sampleIncident('INC-CSX');
    await seedIncident(store.store.db, incident);
    const now = Date.now();
    await insertAction(store.store.db, { id: 'ACT-CS1', incident_id: incident.id, kind: 'crowdstrike_contain', target: 'falcon', now });
    const ex = testExecutor(store.store, 'falcon', t, () => now);
    assert.equal((await ex.runOnce()).succeeded, 1);
    const row = await actionRow(store.store.db, 'ACT-CS1');
    assert.equal((JSON.parse(row.result!) as { device_id: string }).device_id, AID);
    await undoAction(store.store, 'ACT-CS1', { actor: 'alice', why: 'false positive' }, now);
    assert.equal((await ex.runOnce()).succeeded, 1);
    const lift = s.requests.filter((r) => r.query.get('action_name') === 'lift_containment');
    assert.equal(lift.length, 1);
    assert.deepEqual(lift[0]!.json, { ids: [AID] });
    assert.equal(s.devices.get(AID)!.status, 'lift_containment_pending');
  } finally {
    await t.close?.();
    await s.close();
    await store.cleanup();
  }
});

test('config validation of the three EDR kinds names the bad key', async () => {
  const { actionKinds } = await import('../../src/actions/registry.js');
  const { parseConfigText } = await import('../../src/config/validate.js');
  const yaml = `
actions:
  targets:
    - { name: falcon, kind: crowdstrike_contain, client_id: "\${env:F_ID}", client_secret: "\${env:F_SECRET}", protected_hosts: [dc01] }
    - { name: s1, kind: sentinelone_isolate, url: "https://example.sentinelone.net", api_token: "\${env:S1}" }
    - { name: mde, kind: defender_isolate, tenant_id: t, client_id: "\${env:M_ID}", client_secret: "\${env:M_SECRET}", isolation_type: Selective }
    - { name: bad-falcon, kind: crowdstrike_contain, client_id: x }
    - { name: bad-s1, kind: sentinelone_isolate, api_token: x, isolate_all: true }
    - { name: bad-mde, kind: defender_isolate, tenant_id: t, client_id: x, client_secret: y, isolation_type: Partial }
    - { name: private-falcon, kind: crowdstrike_contain, client_id: x, client_secret: y, url: "http://10.0.0.1/" }
`;
  const { errors } = parseConfigText(yaml, { receivers: [], providers: [], actions: actionKinds });
  const keys = errors.map((e) => `${e.key}: ${e.message}`);
  assert.ok(!keys.some((k) => /targets\[[012]\]/.test(k)), keys.join('\n'));
  for (const want of ['actions.targets[3].client_secret', 'actions.targets[6].url', 'actions.targets[4].url', 'actions.targets[4].isolate_all', 'actions.targets[5].isolation_type']) {
    assert.ok(keys.some((k) => k.startsWith(want)), `${want} in:\n${keys.join('\n')}`);
  }
});
