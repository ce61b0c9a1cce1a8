/**
 * sentinelone_isolate against a local stand-in that speaks the SentinelOne management API v2.1 as documented
 * (console /api-doc, "Agents" and "Agent Actions"; the same shapes in the generated S1MgmtApi client
 * docs/AgentActionsApi.md and vendor connectors): `Authorization: ApiToken <token>`, GET /web/api/v2.1/agents
 * ?computerName=X → {"data":[{id, computerName, networkStatus, networkInterfaces:[{inet:[…]}]}]},
 * POST /web/api/v2.1/agents/actions/disconnect|connect {"filter":{"ids":[…]}} → {"data":{"affected":n}},
 * errors {"errors":[{"code","detail","title"}]}.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import sentinelone from '../../src/actions/kinds/sentinelone_isolate.js';
import type { ActionContext, ActionTarget } from '../../src/actions/action.js';
import { undoAction } from '../../src/actions/undo.js';
import type { ContractReply, ContractRequest } from '../support/contract.js';
import { s1Server } from '../support/contracts/sentinelone_isolate.js';
import { openTestStore } from '../support/stores.js';
import { actionRow, insertAction, sampleIncident, seedIncident } from './fixtures.js';
import { actionCtx, rejection, testExecutor } from './support.js';

const TOKEN = 'eyS1-api-token-value';
const ID = '1234567890123456789';

const s1 = (override?: (r: ContractRequest) => ContractReply | undefined) =>
  s1Server({ token: TOKEN, agents: [[ID, 'ws-042', '10.1.2.3'], ['99', 'ws-0420', '10.1.2.30']], ...(override ? { override } : {}) });

const entry = (url: string, extra: Record<string, unknown> = {}) => ({ name: 's1', kind: 'sentinelone_isolate' as const, url, allow_private: true, api_token: TOKEN, ...extra });
const target = (url: string, extra: Record<string, unknown> = {}): Promise<ActionTarget> => sentinelone.create(entry(url, extra), { configDir: '.', publicUrl: '' });

const ctx = (params: Record<string, unknown> = {}, undoOf: string | null = null): ActionContext =>
  actionCtx('sentinelone_isolate', 's1', sampleIncident('INC-S1'), { params, undoOf });

test('disconnects the incident host by computerName with the ApiToken header; again: already disconnected', async () => {
  const s = await s1();
  const t = await target(s.url);
  try {
    const out = await t.execute(ctx());
    assert.deepEqual(out.detail, { device_id: ID, hostname: 'ws-042', affected: 1, state: 'containing', already: false });
    assert.equal(s.requests[0]!.query.get('computerName'), 'ws-042');
    const post = s.requests.find((r) => r.method === 'POST')!;
    assert.equal(post.path, '/web/api/v2.1/agents/actions/disconnect');
    assert.deepEqual(post.json, { filter: { ids: [ID] } });
    assert.ok(s.requests.every((r) => !r.query.toString().includes(TOKEN)));
    const again = await t.execute(ctx());
    assert.deepEqual([again.detail['already'], again.detail['state']], [true, 'contained']);
    assert.equal(s.requests.filter((r) => r.method === 'POST').length, 1);
  } finally {
    await t.close?.();
    await s.close();
  }
});

test('an address finds the agent that carries exactly that address, not a longer one containing it', async () => {
  const s = await s1();
  const t = await target(s.url);
  try {
    const out = await t.execute(ctx({ host: '10.1.2.3' }));
    assert.equal(out.detail['device_id'], ID);
    assert.equal(s.requests[0]!.query.get('networkInterfaceInet__contains'), '10.1.2.3');
  } finally {
    await t.close?.();
    await s.close();
  }
});

test('errors: a refused token is final without the token; 429 waits Retry-After; 5xx after the POST is an unknown outcome; malformed', async () => {
  let mode = '';
  const s = await s1((r) => {
    if (mode === '429') return { status: 429, headers: { 'retry-after': '30' }, json: { errors: [{ code: 4290010, detail: 'Too many requests' }] } };
    if (mode === '503' && r.method === 'POST') return { status: 503, json: { errors: [{ code: 5030010, detail: 'Service unavailable' }] } };
    if (mode === 'garbage') return { json: { data: 'nope' } };
    return undefined;
  });
  const bad = await target(s.url, { api_token: 'not-the-right-token' });
  const t = await target(s.url);
  try {
    const auth = await rejection(bad.execute(ctx()));
    assert.equal(auth.retryable, false);
    assert.ok(!auth.message.includes('not-the-right-token'), auth.message);
    mode = '429';
    const limited = await rejection(t.execute(ctx()));
    assert.deepEqual([limited.retryable, limited.retryAfterMs], [true, 30_000]);
    mode = '503';
    const server = await rejection(t.execute(ctx()));
    assert.deepEqual([server.retryable, server.unknownOutcome], [true, true]);
    mode = 'garbage';
    assert.equal((await rejection(t.execute(ctx()))).retryable, true);
  } finally {
    await bad.close?.();
    await t.close?.();
    await s.close();
  }
});

test('hostile names go as one query value and match nothing; a protected host is refused; ambiguity is refused', async () => {
  const s = await s1();
  const t = await target(s.url, { protected_hosts: ['ws-042'] });
  try {
    const hostile = 'ws-0420&computerName=ws-042';
    const e = await rejection(t.execute(ctx({ host: hostile })));
    assert.equal(e.retryable, false);
    assert.deepEqual(s.requests[0]!.query.getAll('computerName'), [hostile]);
    const prot = await rejection(t.execute(ctx()));
    assert.match(prot.message, /protected/);
    assert.equal(s.requests.length, 1);
    s.agents.push({ id: '77', computerName: 'WS-0420', networkStatus: 'connected', networkInterfaces: [] });
    const amb = await rejection(t.execute(ctx({ host: 'ws-0420' })));
    assert.match(amb.message, /ambiguous/);
    assert.equal(s.requests.filter((r) => r.method === 'POST').length, 0);
  } finally {
    await t.close?.();
    await s.close();
  }
});

test('reconcile: done when already disconnected; for an undo, done when connected', async () => {
  const s = await s1();
  const t = await target(s.url);
  try {
    assert.deepEqual(await t.reconcile!(ctx()), { done: false });
    assert.equal((await t.reconcile!(ctx({}, 'ACT0'))).done, true);
    s.agents[0]!.networkStatus = 'disconnected';
    assert.deepEqual(await t.reconcile!(ctx()), { done: true, detail: { device_id: ID, hostname: 'ws-042', state: 'contained', already: null } });
  } finally {
    await t.close?.();
    await s.close();
  }
});

test('through the executor: disconnected, then the undo row reconnects the recorded agent', async () => {
  const s = await s1();
  const t = await target(s.url);
  const store = await openTestStore('sqlite');
  try {
    const incident = sampleIncident('INC-S1X');
    await seedIncident(store.store.db, incident);
    const now = Date.now();
    await insertAction(store.store.db, { id: 'ACT-S1', incident_id: incident.id, kind: 'sentinelone_isolate', target: 's1', now });
    const ex = testExecutor(store.store, 's1', t, () => now);
    assert.equal((await ex.runOnce()).succeeded, 1);
    assert.equal((JSON.parse((await actionRow(store.store.db, 'ACT-S1')).result!) as { device_id: string }).device_id, ID);
    await undoAction(store.store, 'ACT-S1', { actor: 'alice', why: 'false positive' }, now);
    assert.equal((await ex.runOnce()).succeeded, 1);
    assert.equal(s.requests.filter((r) => r.path.endsWith('/actions/connect')).length, 1);
    assert.equal(s.agents[0]!.networkStatus, 'connecting');
  } finally {
    await t.close?.();
    await s.close();
    await store.cleanup();
  }
});

test('config: url is required and must pass the outbound guard', () => {
  assert.equal(sentinelone.check!({ ...entry('http://127.0.0.1:1'), allow_private: false })[0]?.key, 'url');
  assert.deepEqual(sentinelone.check!(entry('https://example.sentinelone.net')), []);
});
