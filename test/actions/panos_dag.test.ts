/**
 * panos_dag against a local stand-in for the PAN-OS XML API that keeps the registered IP-tag mappings.
 * Shapes follow Palo Alto Networks' PAN-OS XML API documentation ("Use the API to register and unregister
 * IP-tag mappings", type=user-id with a <uid-message>; "API key" in the X-PAN-KEY header; `show object
 * registered-ip` as type=op): answers are `<response status="success|error">`, errors carry <msg>/<line>,
 * a User-ID answer for an entry already (or not) registered is status="error" with a per-entry message, and
 * a refused key is a 403 with `<response status = 'error' code = '403'>…Invalid Credential…`.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import panosDag, { uidMessage } from '../../src/actions/kinds/panos_dag.js';
import type { ActionTarget, UndoContext } from '../../src/actions/action.js';
import { undoAction } from '../../src/actions/undo.js';
import { parseConfigText } from '../../src/config/validate.js';
import { parseXml } from '../../src/util/xml.js';
import type { IncidentDetail } from '../../src/model/incident.js';
import { FakePanos } from '../support/contracts/panos_dag.js';
import { openTestStore } from '../support/stores.js';
import { actionRow, insertAction, seedIncident } from './fixtures.js';
import { actionCtx, fails, incidentWith as incidentWithAlerts, suiteServer, undoCtxOf, testExecutor } from './support.js';

const KEY = 'LUFRPT1-test-panos-key-0123456789';
const PUBLIC = '93.184.216.34';
const deps = { configDir: '.', publicUrl: 'http://fido.test' };

const fw = new FakePanos(KEY);
const suite = suiteServer(fw.handle, async () => {
  t = suite.track(await target());
});
let t: ActionTarget;

function target(extra: Record<string, unknown> = {}): Promise<ActionTarget> {
  return panosDag.create({ name: 'pa', kind: 'panos_dag', url: suite.server.url, api_key: KEY, tag: 'fido-block', allow_private: true, call_timeout: '2s', ...extra }, deps);
}

const incidentWith = (src: string, dst: string): IncidentDetail => incidentWithAlerts('INC-PAN', src, dst);
const ctx = (params: Record<string, unknown> = {}, signal: AbortSignal = AbortSignal.timeout(5000)) =>
  actionCtx('panos_dag', 'pa', incidentWith('10.1.2.3', PUBLIC), { params, signal });
const undoCtx = (originalResult: Record<string, unknown>): UndoContext => undoCtxOf(ctx(), originalResult);


describe('config', () => {
  test('the schema and check() name the key that is wrong', async () => {
    const yaml = `
actions:
  targets:
    - { name: ok, kind: panos_dag, url: "https://fw1.example.com", api_key: "\${env:PANOS_KEY}", tag: fido-block }
    - { name: bad-tag, kind: panos_dag, url: "https://fw1.example.com", api_key: k, tag: "a<b>" }
    - { name: private, kind: panos_dag, url: "https://10.0.0.1", api_key: k, tag: t }
    - { name: bad-cidr, kind: panos_dag, url: "https://fw1.example.com", api_key: k, tag: t, never_block: ["10.0.0.0/33"] }
    - { name: no-key, kind: panos_dag, url: "https://fw1.example.com", tag: t }
`;
    const { errors } = parseConfigText(yaml, { receivers: [], providers: [], actions: [panosDag] });
    const keys = errors.map((e) => `${e.key}: ${e.message}`).join('\n');
    assert.doesNotMatch(keys, /targets\[0\]/);
    for (const k of ['targets[1].tag', 'targets[2].url', 'targets[3].never_block[0]', 'targets[4]']) {
      assert.match(keys, new RegExp(k.replace(/[[\].]/g, '\\$&')), keys);
    }
    assert.match(keys, /targets\[4\].*api_key/);
    await assert.rejects(target({ allow_private: false }), /actions\.targets\.pa\.url: /);
  });

  test('the XML built is escaped and well-formed', () => {
    const xml = uidMessage('register', '1.2.3.4', 'a&b"<c>', 60);
    const root = parseXml(xml);
    assert.ok(root);
    assert.match(xml, /<member timeout="60">a&amp;b&quot;&lt;c&gt;<\/member>/);
    assert.equal(parseXml('<a>x & y</a>'), null, 'a bare & is not XML');
    assert.equal(parseXml('<!DOCTYPE a [<!ENTITY x "y">]><a>&x;</a>'), null, 'no DTDs');
    assert.equal(parseXml('<a><b></a>'), null);
  });
});

describe('against the XML API', () => {
  test('execute registers the tag with a timeout, the key only in the header; again is harmless; undo unregisters, twice', async () => {
    const before = suite.server.requests.length;
    const out = await t.execute(ctx());
    assert.deepEqual(out.detail, { address: PUBLIC, from: 'alerts[0].dst.ip', tag: 'fido-block', timeout_s: 3600 });
    assert.equal(fw.registered.get(PUBLIC)?.get('fido-block'), '3600');
    const req = suite.server.requests[before]!;
    assert.equal(req.method, 'POST');
    assert.equal(req.path, '/api/');
    assert.equal(req.query.get('type'), 'user-id');
    assert.equal(req.headers['x-pan-key'], KEY);
    assert.doesNotMatch(`${req.path}?${req.query.toString()}`, new RegExp(KEY));
    assert.deepEqual([...req.query.keys()], ['type'], 'nothing else in the URL');
    assert.match(req.form.get('cmd')!, /<entry ip="93\.184\.216\.34" persistent="1">/);

    const again = await t.execute(ctx());
    assert.equal(again.detail.already, true);
    assert.equal(fw.registered.get(PUBLIC)?.size, 1);

    assert.deepEqual((await t.undo!(undoCtx(out.detail))).detail, { address: PUBLIC, tag: 'fido-block', removed: true });
    assert.equal(fw.registered.get(PUBLIC)?.size, 0);
    assert.deepEqual((await t.undo!(undoCtx(out.detail))).detail, { address: PUBLIC, tag: 'fido-block', removed: false });
  });

  test('params.timeout and the rule\'s for: bound the tag timeout', async () => {
    const c = ctx({ address: '8.8.4.4', timeout: '10m' });
    c.action.undo_after_ms = 120_000;
    const out = await t.execute(c);
    assert.equal(out.detail.timeout_s, 120);
    assert.equal(fw.registered.get('8.8.4.4')?.get('fido-block'), '120');
    await t.undo!(undoCtx(out.detail));
  });

  test('reconcile asks the firewall which tags the address has', async () => {
    assert.deepEqual(await t.reconcile!(ctx()), { done: false });
    await t.execute(ctx());
    assert.deepEqual(await t.reconcile!(ctx()), { done: true, detail: { address: PUBLIC, tag: 'fido-block' } });
    const last = suite.server.requests.at(-1)!;
    assert.equal(last.query.get('type'), 'op');
    assert.match(last.form.get('cmd')!, /<registered-ip><ip>93\.184\.216\.34<\/ip><\/registered-ip>/);
    await t.undo!(undoCtx({ address: PUBLIC, tag: 'fido-block' }));
  });

  test('refusals before any request: nothing to block, loopback, private, never_block', async () => {
    const n = suite.server.requests.length;
    const strict = await target({ never_block: ['1.1.1.0/24'] });
    try {
      const c = ctx();
      c.incident = incidentWith('10.1.2.3', '10.9.9.9');
      await fails(t.execute(c), (e) => (assert.equal(e.retryable, false), assert.match(e.message, /nothing to block/)));
      await fails(t.execute(ctx({ address: '127.0.0.1' })), (e) => (assert.equal(e.retryable, false), assert.match(e.message, /never blocked/)));
      await fails(t.execute(ctx({ address: '1.2.3.4"/><x' })), (e) => assert.match(e.message, /not an IP address/));
      await fails(strict.execute(ctx({ address: '1.1.1.9' })), (e) => assert.match(e.message, /never_block 1\.1\.1\.0\/24/));
      assert.equal(suite.server.requests.length, n);
      // allow_private is about the url; blocking a private address takes block_private.
      await fails(t.execute(ctx({ address: '10.9.9.9' })), (e) => assert.match(e.message, /not a public address \(set block_private/));
      assert.equal(suite.server.requests.length, n);
    } finally {
      await strict.close?.();
    }
  });

  test('a refused key is permanent and the message does not carry it', async () => {
    const bad = await target({ api_key: 'WRONG-key-value-123' });
    try {
      await fails(bad.execute(ctx()), (e) => {
        assert.equal(e.retryable, false);
        assert.match(e.message, /403.*Invalid Credential/);
        assert.doesNotMatch(e.message, /WRONG-key-value-123/);
      });
    } finally {
      await bad.close?.();
    }
  });

  test('429 and 5xx are retryable (429 with its Retry-After), status="error" is permanent, a malformed answer is retryable with an unknown outcome', async () => {
    fw.next.push({ status: 429, headers: { 'retry-after': '30' }, body: 'slow down' });
    await fails(t.execute(ctx()), (e) => (assert.equal(e.retryable, true), assert.equal(e.retryAfterMs, 30_000)));
    fw.next.push({ status: 503, body: 'maintenance' });
    await fails(t.execute(ctx()), (e) => (assert.equal(e.retryable, true), assert.match(e.message, /503/)));
    fw.next.push({ body: '<response status="error"><msg><line>vsys vsys9 does not exist</line></msg></response>' });
    await fails(t.execute(ctx()), (e) => (assert.equal(e.retryable, false), assert.match(e.message, /vsys vsys9 does not exist/)));
    fw.next.push({ body: '<response status="success"><result>' });
    await fails(t.execute(ctx()), (e) => (assert.equal(e.retryable, true), assert.equal(e.unknownOutcome, true), assert.match(e.message, /not a PAN-OS <response>/)));
    fw.next.push({ body: 'not xml at all' });
    await fails(t.execute(ctx()), (e) => assert.equal(e.unknownOutcome, true));
    assert.equal(fw.registered.get(PUBLIC)?.size ?? 0, 0);
  });

  test('an aborted signal ends a hung request: retryable, outcome unknown', async () => {
    fw.next.push({ hang: true });
    const ac = new AbortController();
    const p = t.execute(ctx({}, ac.signal));
    setImmediate(() => ac.abort());
    await fails(p, (e) => (assert.equal(e.retryable, true), assert.equal(e.unknownOutcome, true)));
  });
});

describe('through the executor', () => {
  test('blocks, records what undo needs, and the undo row unregisters the tag', async () => {
    const s = await openTestStore('sqlite');
    let now = 1_900_000_000_000;
    try {
      const incident = incidentWith('10.1.2.3', PUBLIC);
      await seedIncident(s.store.db, incident);
      await insertAction(s.store.db, { id: 'ACT-PAN1', incident_id: incident.id, kind: 'panos_dag', target: 'pa', now });
      const ex = testExecutor(s.store, 'pa', t, () => now);
      assert.equal((await ex.runOnce()).succeeded, 1);
      const row = await actionRow(s.store.db, 'ACT-PAN1');
      assert.equal(JSON.parse(row.result!).address, PUBLIC);
      assert.ok(fw.registered.get(PUBLIC)?.has('fido-block'));
      now += 1000;
      const undo = await undoAction(s.store, 'ACT-PAN1', { actor: 'alice', why: 'false positive' }, now);
      assert.equal((await ex.runOnce()).succeeded, 1);
      assert.equal((await actionRow(s.store.db, undo.id)).state, 'succeeded');
      assert.equal(fw.registered.get(PUBLIC)?.has('fido-block'), false);
    } finally {
      await s.cleanup();
    }
  });
});
