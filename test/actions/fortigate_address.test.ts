/**
 * fortigate_address against a local stand-in for the FortiOS REST API v2 (cmdb) that keeps address objects and
 * address groups. Shapes follow Fortinet's FortiOS REST API reference (Fortinet Developer Network, "FortiOS
 * REST API" / cmdb firewall/address, firewall/address6, firewall/addrgrp and its `member` sub-table) and the
 * answers its SDK reads (fortinetdev/forti-sdk-go: `{vdom, mkey, status, http_status}`): token as
 * `Authorization: Bearer`, `vdom` as a query parameter, errors as `{"status":"error","http_status":…,"error":…}`
 * with -5 for a duplicate entry, 424 for a failed dependency (an object still referenced), 404 for a missing one.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fortigateAddress from '../../src/actions/kinds/fortigate_address.js';
import type { ActionTarget, UndoContext } from '../../src/actions/action.js';
import { undoAction } from '../../src/actions/undo.js';
import { parseConfigText } from '../../src/config/validate.js';
import type { IncidentDetail } from '../../src/model/incident.js';
import { FakeFortiGate, fail } from '../support/contracts/fortigate_address.js';
import { openTestStore } from '../support/stores.js';
import { actionRow, insertAction, seedIncident } from './fixtures.js';
import { actionCtx, fails, incidentWith as incidentWithAlerts, suiteServer, undoCtxOf, testExecutor } from './support.js';

const TOKEN = 'fgt-api-token-0123456789abcdef';
const PUBLIC = '93.184.216.34';
const OBJ = `fido-${PUBLIC}`;
const deps = { configDir: '.', publicUrl: 'http://fido.test' };

const fgt = new FakeFortiGate(TOKEN);
const suite = suiteServer(fgt.handle, async () => {
  t = suite.track(await target());
});
let t: ActionTarget;

function target(extra: Record<string, unknown> = {}): Promise<ActionTarget> {
  return fortigateAddress.create(
    { name: 'fgt', kind: 'fortigate_address', url: suite.server.url, api_token: TOKEN, group: 'fido-blocked', vdom: 'root', allow_private: true, call_timeout: '2s', ...extra },
    deps,
  );
}
const incidentWith = (src: string, dst: string): IncidentDetail => incidentWithAlerts('INC-FGT', src, dst);
const ctx = (params: Record<string, unknown> = {}, signal: AbortSignal = AbortSignal.timeout(5000)) =>
  actionCtx('fortigate_address', 'fgt', incidentWith('10.1.2.3', PUBLIC), { params, signal });
const undoCtx = (originalResult: Record<string, unknown>): UndoContext => undoCtxOf(ctx(), originalResult);


describe('config', () => {
  test('the schema and check() name the key that is wrong', async () => {
    const yaml = `
actions:
  targets:
    - { name: ok, kind: fortigate_address, url: "https://fgt.example.com", api_token: "\${env:FGT_TOKEN}", group: blocked, vdom: root }
    - { name: bad-group, kind: fortigate_address, url: "https://fgt.example.com", api_token: k, group: "../x" }
    - { name: private, kind: fortigate_address, url: "https://192.168.1.99", api_token: k, group: g }
    - { name: bad-vdom, kind: fortigate_address, url: "https://fgt.example.com", api_token: k, group: g, vdom: "a&b" }
    - { name: no-expiry, kind: fortigate_address, url: "https://fgt.example.com", api_token: k, group: g, timeout: 1h }
`;
    const { errors } = parseConfigText(yaml, { receivers: [], providers: [], actions: [fortigateAddress] });
    const keys = errors.map((e) => `${e.key}: ${e.message}`).join('\n');
    assert.doesNotMatch(keys, /targets\[0\]/);
    for (const k of ['targets[1].group', 'targets[2].url', 'targets[3].vdom', 'targets[4]']) {
      assert.match(keys, new RegExp(k.replace(/[[\].]/g, '\\$&')), keys);
    }
    await assert.rejects(target({ allow_private: false }), /actions\.targets\.fgt\.url: /);
  });
});

describe('against the REST API', () => {
  test('execute creates the object and adds it to the group; again reuses both; undo removes and deletes, twice', async () => {
    const n = suite.server.requests.length;
    const out = await t.execute(ctx());
    assert.deepEqual(out.detail, { address: PUBLIC, from: 'alerts[0].dst.ip', object: OBJ, group: 'fido-blocked', vdom: 'root', created: true, added: true });
    assert.deepEqual(fgt.addresses.get(OBJ), { name: OBJ, subnet: `${PUBLIC} 255.255.255.255`, comment: 'Fido incident INC-FGT' });
    assert.ok(fgt.groups.get('fido-blocked')!.has(OBJ));
    const [create, add] = suite.server.requests.slice(n);
    assert.equal(`${create!.method} ${create!.path}`, 'POST /api/v2/cmdb/firewall/address');
    assert.equal(`${add!.method} ${add!.path}`, 'POST /api/v2/cmdb/firewall/addrgrp/fido-blocked/member');
    assert.deepEqual(add!.json, { name: OBJ });
    for (const r of [create!, add!]) {
      assert.equal(r.headers.authorization, `Bearer ${TOKEN}`);
      assert.deepEqual([...r.query.entries()], [['vdom', 'root']], 'only the vdom in the URL');
    }

    const again = await t.execute(ctx());
    assert.equal(again.detail.created, false);
    assert.equal(again.detail.added, false);
    assert.equal(fgt.addresses.size, 1);

    assert.deepEqual((await t.undo!(undoCtx(out.detail))).detail, { address: PUBLIC, object: OBJ, group: 'fido-blocked', removed: true, deleted: true });
    assert.equal(fgt.addresses.has(OBJ), false);
    assert.deepEqual([...fgt.groups.get('fido-blocked')!], ['placeholder']);
    const last = suite.server.requests.slice(-2).map((r) => `${r.method} ${r.path}`);
    assert.deepEqual(last, [`DELETE /api/v2/cmdb/firewall/addrgrp/fido-blocked/member/${OBJ}`, `DELETE /api/v2/cmdb/firewall/address/${OBJ}`]);
    assert.deepEqual((await t.undo!(undoCtx(out.detail))).detail, { address: PUBLIC, object: OBJ, group: 'fido-blocked', removed: false, deleted: false });
  });

  test('an object of that name holding another address is not reused; one still referenced elsewhere is kept on undo', async () => {
    fgt.addresses.set('fido-8.8.4.4', { name: 'fido-8.8.4.4', subnet: '10.0.0.0 255.0.0.0' });
    await fails(t.execute(ctx({ address: '8.8.4.4' })), (e) => (assert.equal(e.retryable, false), assert.match(e.message, /exists but holds "10\.0\.0\.0 255\.0\.0\.0": not reused/)));
    assert.equal(fgt.groups.get('fido-blocked')!.has('fido-8.8.4.4'), false);
    fgt.addresses.delete('fido-8.8.4.4');

    const out = await t.execute(ctx());
    fgt.groups.set('other', new Set([OBJ]));
    const undone = await t.undo!(undoCtx(out.detail));
    assert.equal(undone.detail.removed, true);
    assert.equal(undone.detail.object_kept, 'still referenced');
    assert.ok(fgt.addresses.has(OBJ));
    fgt.groups.delete('other');
    fgt.addresses.delete(OBJ);
  });

  test('reconcile reads the group members', async () => {
    assert.deepEqual(await t.reconcile!(ctx()), { done: false });
    const out = await t.execute(ctx());
    assert.deepEqual(await t.reconcile!(ctx()), { done: true, detail: { address: PUBLIC, object: OBJ, group: 'fido-blocked' } });
    const last = suite.server.requests.at(-1)!;
    assert.equal(`${last.method} ${last.path}`, 'GET /api/v2/cmdb/firewall/addrgrp/fido-blocked');
    await t.undo!(undoCtx(out.detail));
  });

  test('IPv6 goes to address6/addrgrp6, and is refused without group6', async () => {
    const v6 = '2001:4860:4860::8888';
    await fails(t.execute(ctx({ address: v6 })), (e) => (assert.equal(e.retryable, false), assert.match(e.message, /no group6/)));
    const six = await target({ group6: 'fido-blocked6' });
    try {
      const out = await six.execute(ctx({ address: v6 }));
      assert.deepEqual(fgt.addresses.get(`fido-${v6}`), { name: `fido-${v6}`, ip6: `${v6}/128`, comment: 'Fido incident INC-FGT' });
      assert.ok(fgt.groups.get('fido-blocked6')!.has(`fido-${v6}`));
      await six.undo!(undoCtx(out.detail));
      assert.equal(fgt.addresses.has(`fido-${v6}`), false);
    } finally {
      await six.close?.();
    }
  });

  test('refusals before any request', async () => {
    const n = suite.server.requests.length;
    await fails(t.execute(ctx({ address: '10.9.9.9' })), (e) => assert.match(e.message, /not a public address \(set block_private/));
    await fails(t.execute(ctx({ address: '::1' })), (e) => assert.match(e.message, /never blocked/));
    await fails(t.execute(ctx({ address: '1.2.3.4/0' })), (e) => assert.match(e.message, /not an IP address/));
    assert.equal(suite.server.requests.length, n);
  });

  test('a refused token is permanent and not in the message; 429, 5xx retryable; 424 permanent; malformed JSON an unknown outcome', async () => {
    const bad = await target({ api_token: 'WRONG-token-abcdef' });
    try {
      await fails(bad.execute(ctx()), (e) => (assert.equal(e.retryable, false), assert.match(e.message, /401/), assert.doesNotMatch(e.message, /WRONG-token-abcdef/)));
    } finally {
      await bad.close?.();
    }
    fgt.next.push({ status: 429, headers: { 'retry-after': '12' }, body: '' });
    await fails(t.execute(ctx()), (e) => (assert.equal(e.retryable, true), assert.equal(e.retryAfterMs, 12_000)));
    fgt.next.push(fail(500, -1));
    await fails(t.execute(ctx()), (e) => (assert.equal(e.retryable, true), assert.match(e.message, /500/)));
    // A 200 whose body says error is read by its http_status.
    fgt.next.push({ json: { status: 'error', http_status: 503 } });
    await fails(t.execute(ctx()), (e) => assert.equal(e.retryable, true));
    fgt.next.push(fail(424, -651));
    await fails(t.execute(ctx()), (e) => (assert.equal(e.retryable, false), assert.match(e.message, /424/)));
    fgt.next.push({ body: '{"status":"succ' });
    await fails(t.execute(ctx()), (e) => (assert.equal(e.retryable, true), assert.equal(e.unknownOutcome, true)));
    assert.equal(fgt.addresses.size, 0);
  });

  test('an aborted signal ends a hung request: retryable, outcome unknown', async () => {
    fgt.next.push({ hang: true });
    const ac = new AbortController();
    const p = t.execute(ctx({}, ac.signal));
    setImmediate(() => ac.abort());
    await fails(p, (e) => (assert.equal(e.retryable, true), assert.equal(e.unknownOutcome, true)));
  });
});

describe('through the executor', () => {
  test('blocks, records what undo needs, and the undo row takes it back', async () => {
    const s = await openTestStore('sqlite');
    let now = 1_900_000_000_000;
    try {
      const incident = incidentWith('10.1.2.3', PUBLIC);
      await seedIncident(s.store.db, incident);
      await insertAction(s.store.db, { id: 'ACT-FGT1', incident_id: incident.id, kind: 'fortigate_address', target: 'fgt', now });
      const ex = testExecutor(s.store, 'fgt', t, () => now);
      assert.equal((await ex.runOnce()).succeeded, 1);
      assert.equal(JSON.parse((await actionRow(s.store.db, 'ACT-FGT1')).result!).object, OBJ);
      assert.ok(fgt.groups.get('fido-blocked')!.has(OBJ));
      now += 1000;
      const undo = await undoAction(s.store, 'ACT-FGT1', { actor: 'alice', why: 'false positive' }, now);
      assert.equal((await ex.runOnce()).succeeded, 1);
      assert.equal((await actionRow(s.store.db, undo.id)).state, 'succeeded');
      assert.equal(fgt.addresses.has(OBJ), false);
    } finally {
      await s.cleanup();
    }
  });
});
