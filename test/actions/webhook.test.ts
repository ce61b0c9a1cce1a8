import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { lookup } from 'node:dns/promises';
import { hostname } from 'node:os';
import webhook, { isPublicAddress, signBody, verifySignature } from '../../src/actions/kinds/webhook.js';
import { retryAfterMs as parseRetryAfter } from '../../src/util/retry-after.js';
import { createActionExecutor, type ActionExecutor } from '../../src/actions/executor.js';
import { ActionError, type ActionTarget } from '../../src/actions/action.js';
import { openTestStore, tempDir, type TestStore } from '../support/stores.js';
import { actionRecord, actionRow, insertAction, sampleIncident, seedIncident, selfSignedCert, startHttp, type HttpHarness, type Responder } from './fixtures.js';
import { firstAttempt } from './support.js';

const SECRET = 'hook-secret-for-tests';
const deps = { configDir: '/nonexistent', publicUrl: 'https://fido.corp.example' };

function hook(url: string, extra: Record<string, unknown> = {}): Promise<ActionTarget> {
  return webhook.create({ name: 'hook', kind: 'webhook', url, secret: SECRET, allow_private: true, timeout: 2, ...extra }, deps);
}

describe('verifySignature', () => {
  const body = '{"a":1}';
  const ts = '1800000000';
  const now = 1800000000 * 1000;
  test('accepts its own signature within the tolerance, rejects anything else', () => {
    const sig = signBody(SECRET, ts, body);
    assert.match(sig, /^sha256=[0-9a-f]{64}$/);
    assert.equal(verifySignature(SECRET, ts, body, sig, 300, now), true);
    assert.equal(verifySignature(SECRET, ts, Buffer.from(body), sig, 300, now + 299_000), true);
    assert.equal(verifySignature(SECRET, ts, '{"a":2}', sig, 300, now), false, 'tampered body');
    assert.equal(verifySignature('other', ts, body, sig, 300, now), false, 'wrong secret');
    assert.equal(verifySignature(SECRET, '1800000001', body, sig, 300, now), false, 'timestamp is signed');
    assert.equal(verifySignature(SECRET, ts, body, sig, 300, now + 301_000), false, 'too old: replay');
    assert.equal(verifySignature(SECRET, ts, body, sig.slice(0, -2), 300, now), false, 'truncated');
    assert.equal(verifySignature(SECRET, 'x', body, sig, 300, now), false);
  });
});

describe('helpers', () => {
  test('Retry-After is read as seconds and as HTTP dates', () => {
    assert.equal(parseRetryAfter('120'), 120_000);
    assert.equal(parseRetryAfter('Wed, 21 Oct 2015 07:28:30 GMT', Date.parse('Wed, 21 Oct 2015 07:28:00 GMT')), 30_000);
    assert.equal(parseRetryAfter(undefined), undefined);
    assert.equal(parseRetryAfter('soon'), undefined);
  });
  test('isPublicAddress: only global unicast (the shared guard; every form is in test/util/outbound.test.ts)', () => {
    for (const a of ['127.0.0.1', '10.0.0.1', '192.168.1.1', '172.16.0.1', '169.254.169.254', '100.64.0.1', '0.0.0.0', '::1', 'fd00::1', 'fe80::1', '::ffff:127.0.0.1', '::7f00:1', '::a9fe:a9fe', 'nonsense']) {
      assert.equal(isPublicAddress(a), false, a);
    }
    for (const a of ['8.8.8.8', '2001:4860:4860::8888']) assert.equal(isPublicAddress(a), true, a);
  });
});

describe('webhook target config', () => {
  test('only http(s), no credentials in the URL, no private addresses unless allowed', async () => {
    await assert.rejects(hook('ftp://example.com/x'), /only http and https/);
    await assert.rejects(hook('file:///etc/passwd'), /only http and https/);
    await assert.rejects(hook('https://user:pw@example.com/x'), /credentials in the URL/);
    await assert.rejects(hook('http://127.0.0.1:9/x', { allow_private: false }), /not a public address/);
    await assert.rejects(hook('http://[::1]:9/x', { allow_private: false }), /not a public address/);
    await assert.rejects(hook('http://169.254.169.254/latest', { allow_private: false }), /cloud metadata/);
    // IPv4-compatible and -mapped spellings of loopback and metadata.
    await assert.rejects(hook('http://[::7f00:1]:9/x', { allow_private: false }), /actions\.targets\.hook\.url: ::7f00:1 is not a public address \(IPv4-compatible/);
    await assert.rejects(hook('http://[::ffff:127.0.0.1]:9/x', { allow_private: false }), /IPv4-mapped form of 127\.0\.0\.1/);
    await assert.rejects(hook('http://localhost:9/x', { allow_private: false }), /localhost is a loopback name/);
    // Metadata stays out of reach with allow_private too.
    await assert.rejects(hook('http://[::a9fe:a9fe]/latest'), /cloud metadata address .*refused even with allow_private/);
    await assert.rejects(hook('http://169.254.169.254/latest'), /cloud metadata/);
    await assert.rejects(hook('https://example.com/x', { headers: { 'X-Fido-Signature': 'forged' } }), /set by Fido/);
    await assert.rejects(hook('https://example.com/x', { headers: { 'Idempotency-Key': 'x' } }), /set by Fido/);
  });

  test('a host name that resolves to a private address is refused at connect time, for good', async (t0) => {
    // A name that is not a loopback name but resolves locally: this machine's own (names are otherwise
    // checked with a stand-in resolver in test/util/outbound.test.ts).
    const name = hostname();
    const addresses = await lookup(name, { all: true }).catch(() => []);
    if (addresses.length === 0 || addresses.some((a) => isPublicAddress(a.address))) {
      t0.skip(`${name} does not resolve to non-public addresses only`);
      return;
    }
    const srv = await startHttp();
    try {
      const port = new URL(srv.url).port;
      const t = await hook(`http://${name}:${port}/hook`, { allow_private: false });
      const incident = sampleIncident();
      await assert.rejects(
        t.execute({ action: actionRecord(incident.id, 'webhook', 'hook'), incident, idempotencyKey: 'k', signal: AbortSignal.timeout(5000), ...firstAttempt }),
        (e: unknown) => e instanceof ActionError && !e.retryable && /not a public address/.test(e.message),
      );
      assert.equal(srv.received.length, 0);
      await t.close?.();
    } finally {
      await srv.close();
    }
  });
});

describe('webhook over https', () => {
  test('verifies the receiver certificate; a private CA is trusted only through tls_ca_file', async () => {
    const dir = tempDir('fido-hook-tls-');
    const cert = selfSignedCert(dir);
    const got: string[] = [];
    const srv = createHttpsServer({ key: cert.key, cert: cert.cert }, (req, res) => {
      got.push(String(req.headers['idempotency-key']));
      req.resume();
      req.on('end', () => res.writeHead(200).end('ok'));
    });
    await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
    const url = `https://127.0.0.1:${(srv.address() as AddressInfo).port}/hook`;
    const incident = sampleIncident();
    const call = (tg: ActionTarget, key: string) =>
      tg.execute({ action: actionRecord(incident.id, 'webhook', 'hook'), incident, idempotencyKey: key, signal: AbortSignal.timeout(5000), ...firstAttempt });
    const untrusting = await hook(url);
    const trusting = await webhook.create(
      { name: 'hook', kind: 'webhook', url, secret: SECRET, allow_private: true, tls_ca_file: 'server.crt' },
      { ...deps, configDir: dir },
    );
    try {
      await assert.rejects(call(untrusting, 'k1'), (e: unknown) => e instanceof ActionError && /certificate/i.test(e.message));
      assert.deepEqual(got, [], 'nothing reached the receiver');
      assert.equal((await call(trusting, 'k2')).detail.status, 200);
      assert.deepEqual(got, ['k2']);
    } finally {
      await untrusting.close?.();
      await trusting.close?.();
      srv.closeAllConnections();
      await new Promise<void>((resolve) => srv.close(() => resolve()));
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('webhook through the executor', () => {
  let t: TestStore;
  let clock = 1_800_000_000_000;
  let n = 0;
  const open: Array<{ close(): Promise<void> }> = [];

  before(async () => {
    t = await openTestStore('sqlite');
  });
  after(async () => {
    await Promise.all(open.map((o) => o.close()));
    await t.cleanup();
  });

  /** A receiver, a target and an executor with a fake clock and random() = 0.5; one pending action queued. */
  async function setup(respond: Responder): Promise<{ srv: HttpHarness; ex: ActionExecutor; id: string; key: string }> {
    const srv = await startHttp(respond);
    const target = await hook(srv.url);
    open.push(srv, { close: async () => target.close?.() });
    const ex = createActionExecutor({
      store: t.store,
      targets: new Map([['hook', target]]),
      maxAttempts: 4,
      backoffBaseMs: 10_000,
      backoffMaxMs: 600_000,
      leaseMs: 60_000,
      owner: 'test',
      now: () => clock,
      random: () => 0.5,
    });
    const incident = sampleIncident(`INC-W${++n}`);
    await seedIncident(t.store.db, incident);
    const id = `ACT-W${n}`;
    await insertAction(t.store.db, { id, incident_id: incident.id, kind: 'webhook', target: 'hook', now: clock });
    return { srv, ex, id, key: (await actionRow(t.store.db, id)).idempotency_key };
  }

  test('signed body {incident, decision, action, sent_at} that verifies at the receiver', async () => {
    const { srv, ex, id, key } = await setup(() => ({ status: 204 }));
    await ex.runOnce();
    assert.equal((await actionRow(t.store.db, id)).state, 'succeeded');
    const r = srv.received[0]!;
    assert.equal(r.headers['content-type'], 'application/json');
    assert.equal(r.headers['idempotency-key'], key);
    const ts = String(r.headers['x-fido-timestamp']);
    assert.equal(verifySignature(SECRET, ts, r.body, String(r.headers['x-fido-signature'])), true);
    const doc = JSON.parse(r.body) as Record<string, any>;
    assert.deepEqual(Object.keys(doc).sort(), ['action', 'decision', 'incident', 'sent_at']);
    assert.equal(doc.incident.id, `INC-W${n}`);
    assert.equal(doc.incident.url, `https://fido.corp.example/api/v1/incidents/INC-W${n}`);
    assert.equal(doc.incident.score.total, 85);
    assert.equal(doc.incident.alerts.length, 2);
    assert.equal(doc.incident.alerts[0].raw, undefined, 'raw alert text is not sent');
    assert.equal(doc.decision.rule, 'notify-high');
    assert.equal(doc.action.id, id);
    assert.equal(doc.action.idempotency_key, key);
  });

  test('500 then 200: retried after the backoff with the same Idempotency-Key', async () => {
    const { srv, ex, id, key } = await setup((_r, i) => (i === 0 ? { status: 500, body: 'database down' } : { status: 200, body: '{"ok":true}' }));
    const s1 = await ex.runOnce();
    assert.equal(s1.retried, 1);
    let row = await actionRow(t.store.db, id);
    assert.equal(row.state, 'pending');
    assert.match(row.last_error ?? '', /500: database down/);
    assert.equal(row.next_attempt_at, clock + 5_000, 'full jitter: 0.5 × base·2^0');

    assert.equal((await ex.runOnce()).claimed, 0, 'not before the backoff');
    clock += 5_000;
    assert.equal((await ex.runOnce()).succeeded, 1);
    row = await actionRow(t.store.db, id);
    assert.equal(row.state, 'succeeded');
    assert.equal(row.attempts, 2);
    assert.deepEqual(JSON.parse(row.result!), { status: 200, response: '{"ok":true}' });
    assert.deepEqual(srv.received.map((r) => r.headers['idempotency-key']), [key, key]);
  });

  test('429 with Retry-After: waits at least that long', async () => {
    const { srv, ex, id } = await setup((_r, i) => (i === 0 ? { status: 429, headers: { 'retry-after': '120' } } : { status: 200 }));
    await ex.runOnce();
    const row = await actionRow(t.store.db, id);
    assert.equal(row.next_attempt_at, clock + 120_000, 'Retry-After beats the 5 s jittered backoff');
    clock += 119_999;
    assert.equal((await ex.runOnce()).claimed, 0);
    clock += 1;
    assert.equal((await ex.runOnce()).succeeded, 1);
    assert.equal(srv.received.length, 2);
  });

  test('400 goes dead at once and keeps the error', async () => {
    const { srv, ex, id } = await setup(() => ({ status: 400, body: 'field "incident" is required' }));
    assert.equal((await ex.runOnce()).dead, 1);
    const row = await actionRow(t.store.db, id);
    assert.equal(row.state, 'dead');
    assert.equal(row.attempts, 1);
    assert.equal(row.last_error, 'webhook answered 400: field "incident" is required');
    clock += 3_600_000;
    await ex.runOnce();
    assert.equal(srv.received.length, 1, 'never tried again');
  });

  test('a redirect is refused, not followed', async () => {
    const elsewhere = await startHttp();
    open.push(elsewhere);
    const { srv, ex, id } = await setup(() => ({ status: 302, headers: { location: elsewhere.url } }));
    await ex.runOnce();
    const row = await actionRow(t.store.db, id);
    assert.equal(row.state, 'dead');
    assert.match(row.last_error ?? '', /302 redirect to http:\/\/127\.0\.0\.1:\d+\/hook; redirects are refused/);
    assert.equal(srv.received.length, 1);
    assert.equal(elsewhere.received.length, 0);
  });

  test('connection refused and no answer within the timeout are retryable', async () => {
    const incident = sampleIncident();
    const call = (tg: ActionTarget) =>
      tg.execute({ action: actionRecord(incident.id, 'webhook', 'hook'), incident, idempotencyKey: 'k', signal: AbortSignal.timeout(5000), ...firstAttempt });
    const refused = await hook('http://127.0.0.1:9/hook'); // discard port, nothing listens
    await assert.rejects(call(refused), (e: unknown) => e instanceof ActionError && e.retryable && /ECONNREFUSED/.test(e.message));
    await refused.close?.();

    const silent = createServer(() => {}); // accepts, never answers
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const slow = await hook(`http://127.0.0.1:${(silent.address() as AddressInfo).port}/hook`, { timeout: '300ms' });
    // The server never answers: only the target's timeout can end the call.
    await assert.rejects(call(slow), (e: unknown) => e instanceof ActionError && e.retryable && /timeout/i.test(e.message));
    await slow.close?.();
    silent.closeAllConnections();
    await new Promise<void>((resolve) => silent.close(() => resolve()));
  });
});
