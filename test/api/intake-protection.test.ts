/**
 * Intake protection per source (issue 19, item 6): source tokens, webhook HMAC over the raw bytes (with a
 * timestamp against replays), client addresses, a rate limit and a body limit. Through the real API, intake
 * writer and SQLite store; the configuration checks through the real validator.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { auth, testApi, TOKENS } from '../support/api.js';
import type { SourceConfig } from '../../src/config/schema.js';
import { parseConfigText } from '../../src/config/validate.js';
import { configKinds } from '../../src/config/load.js';
import { TokenBucket } from '../../src/intake/protection.js';

const SECRET = 'webhook-secret-Zq81-do-not-echo';
const HOOK_TOKEN = 'hook-token-for-source-a-0123';
const OTHER_TOKEN = 'hook-token-for-source-b-0123';
// A text line with bytes that are never UTF-8: the signature must be over these bytes, not a decoding.
const LATIN1 = Buffer.concat([Buffer.from('CEF:0|Acme|IDS|1.0|100|Bad thing|7|src=10.0.0.5 msg=caf'), Buffer.from([0xe9, 0xff, 0xfe]), Buffer.from('\n')]);
const JSON_BODY = Buffer.from('{"event_type":"alert","src_ip":"10.0.0.5"}');

const sign = (body: Buffer, secret = SECRET, ts?: string) => {
  const mac = createHmac('sha256', secret);
  if (ts !== undefined) mac.update(`${ts}.`);
  return mac.update(body).digest('hex');
};

const SOURCES: SourceConfig[] = [
  { name: 'tok', detector: 'auto', intake: { tokens: [HOOK_TOKEN] } },
  { name: 'other', detector: 'auto', intake: { tokens: [OTHER_TOKEN] } },
  { name: 'open', detector: 'auto' },
  { name: 'hook', detector: 'auto', intake: { hmac: { secret: SECRET } } },
  { name: 'gh', detector: 'auto', intake: { hmac: { secret: SECRET, header: 'X-Hub-Signature-256' } } },
  { name: 'slack', detector: 'auto', intake: { hmac: { secret: SECRET, timestamp_header: 'X-Request-Timestamp', max_skew: '5m' } } },
  { name: 'lan', detector: 'auto', intake: { allow: ['10.1.0.0/16', '192.0.2.7'] } },
  { name: 'slow', detector: 'auto', intake: { rate_limit: { per_second: 0.01, burst: 2 } } },
  { name: 'small', detector: 'auto', intake: { max_body_bytes: 64 } },
];

type Answer = { statusCode: number; body: string; headers: Record<string, unknown>; json(): unknown };

async function withApi(fn: (post: (source: string, headers: Record<string, string>, body?: Buffer, remoteAddress?: string) => Promise<Answer>) => Promise<void>) {
  const api = await testApi('sqlite', { sources: SOURCES, allowUndeclared: false });
  const post = (source: string, headers: Record<string, string>, body: Buffer = JSON_BODY, remoteAddress?: string) =>
    api.app.inject({
      method: 'POST',
      url: `/api/v1/alerts/${source}`,
      headers: { 'content-type': body === LATIN1 ? 'text/plain' : 'application/json', ...headers },
      payload: body,
      ...(remoteAddress ? { remoteAddress } : {}),
    }) as Promise<Answer>;
  try {
    await fn(post);
  } finally {
    await api.close();
  }
}

const bodyOf = (r: Answer) => r.json() as { error: string; message: string };
const noSecrets = (r: Answer) => {
  for (const s of [SECRET, HOOK_TOKEN, OTHER_TOKEN, TOKENS.analyst, TOKENS.admin]) assert.ok(!r.body.includes(s), `the answer must not echo a secret: ${r.body}`);
};

test('tokens: only the listed tokens post to the source, and they post nowhere else', async () => {
  await withApi(async (post) => {
    const own = await post('tok', { authorization: `Bearer ${HOOK_TOKEN}` });
    assert.equal(own.statusCode, 202, own.body);

    const analyst = await post('tok', auth('analyst'));
    assert.equal(analyst.statusCode, 403, analyst.body);
    assert.match(bodyOf(analyst).message, /source "tok" takes only its own intake tokens/);
    noSecrets(analyst);

    const foreign = await post('tok', { authorization: `Bearer ${OTHER_TOKEN}` });
    assert.equal(foreign.statusCode, 403, foreign.body);
    assert.match(bodyOf(foreign).message, /intake token of another source; it may not post to source "tok"/);
    noSecrets(foreign);

    // A source token is not an API token: not for a source without a list either, nor for reading.
    const elsewhere = await post('open', { authorization: `Bearer ${HOOK_TOKEN}` });
    assert.equal(elsewhere.statusCode, 403, elsewhere.body);
    assert.match(bodyOf(elsewhere).message, /source "open"/);

    const unknown = await post('tok', { authorization: 'Bearer no-such-token-0123456789' });
    assert.equal(unknown.statusCode, 401, unknown.body);
    const none = await post('tok', {});
    assert.equal(none.statusCode, 401, none.body);

    // Without a list, analyst as before; a viewer is not enough.
    assert.equal((await post('open', auth('analyst'))).statusCode, 202);
    const viewer = await post('open', auth('viewer'));
    assert.equal(viewer.statusCode, 403, viewer.body);
    assert.match(bodyOf(viewer).message, /analyst role/);
  });
});

test('hmac: a webhook signature over bytes that are not UTF-8 is accepted without a token; unsigned and forged are 401', async () => {
  await withApi(async (post) => {
    const ok = await post('hook', { 'x-signature': sign(LATIN1) }, LATIN1);
    assert.equal(ok.statusCode, 202, ok.body);
    assert.equal((ok.json() as { accepted: number }).accepted, 1);

    // GitHub style: "sha256=" prefix, its own header name.
    const gh = await post('gh', { 'x-hub-signature-256': `sha256=${sign(LATIN1)}` }, LATIN1);
    assert.equal(gh.statusCode, 202, gh.body);

    // The signature of the same text decoded as UTF-8 and re-encoded is another one: bytes, not text.
    const decoded = Buffer.from(LATIN1.toString('utf8'), 'utf8');
    assert.ok(!decoded.equals(LATIN1), 'the body is not valid UTF-8');
    const viaText = await post('hook', { 'x-signature': sign(decoded) }, LATIN1);
    assert.equal(viaText.statusCode, 401, viaText.body);
    assert.match(bodyOf(viaText).message, /source "hook" takes signed requests only: the X-Signature signature does not match the body/);

    const unsigned = await post('hook', {}, LATIN1);
    assert.equal(unsigned.statusCode, 401, unsigned.body);
    assert.match(bodyOf(unsigned).message, /no signature in the X-Signature header/);

    // A token does not replace the signature.
    const tokenOnly = await post('hook', auth('analyst'), LATIN1);
    assert.equal(tokenOnly.statusCode, 401, tokenOnly.body);

    const wrongKey = await post('hook', { 'x-signature': sign(LATIN1, 'another-secret') }, LATIN1);
    assert.equal(wrongKey.statusCode, 401, wrongKey.body);
    const notHex = await post('hook', { 'x-signature': 'sha256=xyz' }, LATIN1);
    assert.equal(notHex.statusCode, 401, notHex.body);
    assert.match(bodyOf(notHex).message, /not a hex HMAC-SHA256/);
    for (const r of [ok, viaText, unsigned, tokenOnly, wrongKey, notHex]) noSecrets(r);
    for (const r of [viaText, wrongKey]) assert.ok(!r.body.includes(sign(LATIN1)), 'the expected signature is never told');
  });
});

test('hmac: forged signatures count as failed attempts of the address; a signed request may not choose the detector', async () => {
  const api = await testApi('sqlite', { sources: SOURCES, allowUndeclared: false, failedAuth: { limit: 2, windowMs: 60_000 } });
  const post = (headers: Record<string, string>, url = '/api/v1/alerts/hook') =>
    api.app.inject({ method: 'POST', url, headers: { 'content-type': 'application/json', ...headers }, payload: JSON_BODY });
  try {
    const override = await post({ 'x-signature': sign(JSON_BODY) }, '/api/v1/alerts/hook?detector=suricata');
    assert.equal(override.statusCode, 403, override.body);
    assert.match((override.json() as { message: string }).message, /needs the admin role/);
    for (let i = 0; i < 2; i++) assert.equal((await post({ 'x-signature': sign(JSON_BODY, 'guessed-secret') })).statusCode, 401);
    const locked = await post({ 'x-signature': sign(JSON_BODY) });
    assert.equal(locked.statusCode, 429, `the address is held off, even with a good signature now: ${locked.body}`);
    assert.ok(Number(locked.headers['retry-after']) >= 1, 'Retry-After is given');
  } finally {
    await api.close();
  }
});

test('hmac with a timestamp: signed with it is accepted, an old timestamp is refused as a replay', async () => {
  await withApi(async (post) => {
    const now = String(Math.floor(Date.now() / 1000));
    const ok = await post('slack', { 'x-signature': sign(JSON_BODY, SECRET, now), 'x-request-timestamp': now });
    assert.equal(ok.statusCode, 202, ok.body);

    // The body signature alone (without the timestamp in it) does not do.
    const bodyOnly = await post('slack', { 'x-signature': sign(JSON_BODY), 'x-request-timestamp': now });
    assert.equal(bodyOnly.statusCode, 401, bodyOnly.body);

    // A captured request replayed an hour later: its signature is right, its timestamp too old.
    const old = String(Math.floor(Date.now() / 1000) - 3600);
    const replay = await post('slack', { 'x-signature': sign(JSON_BODY, SECRET, old), 'x-request-timestamp': old });
    assert.equal(replay.statusCode, 401, replay.body);
    const m = /timestamp in X-Request-Timestamp is (\d+)s from this server's clock, more than 300s/.exec(bodyOf(replay).message);
    assert.ok(m && Number(m[1]) >= 3600 && Number(m[1]) < 3700, `the message says how old: ${replay.body}`);
    noSecrets(replay);

    const missing = await post('slack', { 'x-signature': sign(JSON_BODY, SECRET, now) });
    assert.equal(missing.statusCode, 401, missing.body);
    assert.match(bodyOf(missing).message, /no timestamp in the X-Request-Timestamp header/);
  });
});

test('allow: only the listed client addresses post', async () => {
  await withApi(async (post) => {
    assert.equal((await post('lan', auth('analyst'), JSON_BODY, '10.1.2.3')).statusCode, 202);
    assert.equal((await post('lan', auth('analyst'), JSON_BODY, '192.0.2.7')).statusCode, 202);
    const outside = await post('lan', auth('analyst'), JSON_BODY, '203.0.113.9');
    assert.equal(outside.statusCode, 403, outside.body);
    assert.match(bodyOf(outside).message, /source "lan" does not take intake from this client address/);
    // Refused whatever the token: even an invalid one is not looked at.
    const outsideNoToken = await post('lan', {}, JSON_BODY, '203.0.113.9');
    assert.equal(outsideNoToken.statusCode, 403, outsideNoToken.body);
  });
});

test('allow: behind a trusted proxy the forwarded client address is the one judged', async () => {
  const api = await testApi('sqlite', { sources: SOURCES, allowUndeclared: false, server: { trust_proxy: ['127.0.0.1'] } });
  try {
    const post = (forwarded: string) =>
      api.app.inject({ method: 'POST', url: '/api/v1/alerts/lan', headers: { ...auth('analyst'), 'content-type': 'application/json', 'x-forwarded-for': forwarded }, payload: JSON_BODY });
    assert.equal((await post('10.1.9.9')).statusCode, 202, 'a client in the range, through the proxy');
    const outside = await post('203.0.113.9');
    assert.equal(outside.statusCode, 403, outside.body);
    // The proxy itself is not in the range: without trust_proxy every request here would have been refused.
  } finally {
    await api.close();
  }
});

test('rate_limit: past the burst the source answers 429 with Retry-After; other sources are not affected', async () => {
  await withApi(async (post) => {
    // Refused requests do not use the budget up: a stranger cannot starve the source.
    for (let i = 0; i < 4; i++) assert.equal((await post('slow', {})).statusCode, 401);
    const statuses: number[] = [];
    let retryAfter = 0;
    for (let i = 0; i < 6; i++) {
      const r = await post('slow', auth('analyst'));
      statuses.push(r.statusCode);
      if (r.statusCode === 429) {
        retryAfter = Number(r.headers['retry-after']);
        assert.match(bodyOf(r).message, /source "slow" takes at most 0\.01 requests a second \(burst 2/);
        assert.equal(bodyOf(r).error, 'rate_limited', 'its own code, not the backlog\'s');
      }
    }
    assert.ok(statuses.filter((s) => s === 202).length >= 2, `the burst is taken: ${statuses.join(',')}`);
    assert.ok(statuses.filter((s) => s === 429).length >= 1, `at least one 429: ${statuses.join(',')}`);
    assert.ok(retryAfter >= 1, `Retry-After is at least 1s: ${retryAfter}`);
    assert.deepEqual(statuses.slice(0, 2), [202, 202], 'the unauthenticated requests before took none of the burst');
    assert.equal((await post('open', auth('analyst'))).statusCode, 202, 'another source has its own budget');
  });
});

test('rate_limit: the bucket refills at per_second and holds at most burst (no clock: times are given)', () => {
  const b = new TokenBucket(2, 3);
  assert.deepEqual([b.take(0), b.take(0), b.take(0)], [0, 0, 0], 'the burst');
  assert.equal(b.take(0), 1, 'empty: one token in half a second, rounded up to 1s');
  assert.equal(b.take(500), 0, 'refilled after 0.5s at 2/s');
  assert.equal(b.take(10_000), 0);
  assert.deepEqual([b.take(10_000), b.take(10_000), b.take(10_000)], [0, 0, 1], 'never more than burst banked');
  const slow = new TokenBucket(0.1, 1);
  slow.take(0);
  assert.equal(slow.take(0), 10, 'Retry-After says when a token will be there');
});

test('max_body_bytes: a body over the source limit is 413 naming the limit', async () => {
  await withApi(async (post) => {
    assert.equal((await post('small', auth('analyst'))).statusCode, 202);
    const big = Buffer.from(JSON.stringify({ event_type: 'alert', pad: 'x'.repeat(100) }));
    const r = await post('small', auth('analyst'), big);
    assert.equal(r.statusCode, 413, r.body);
    assert.match(bodyOf(r).message, /larger than 64 bytes, the limit of source "small"/);
    // Other sources keep the server's limit.
    assert.equal((await post('open', auth('analyst'), big)).statusCode, 202);
  });
});

test('configuration: secrets must be references, ranges must parse, the body limit stays under the server one', () => {
  const errs = parseConfigText(
    [
      'server:',
      '  max_body_bytes: 2048',
      'sources:',
      '  - name: a',
      '    intake:',
      '      tokens: ["${env:HOOK_TOKEN}", "plain-token-in-the-file"]',
      '      hmac: { secret: "literal-secret-value" }',
      '      allow: ["10.0.0.0/8", "not-a-range"]',
      '      max_body_bytes: 4096',
      '  - name: b',
      '    intake:',
      '      hmac: { secret: "${env:HOOK_SECRET}", algorithm: md5, max_skew: 0s }',
      '      rate_limit: { per_second: 0 }',
      '      colour: blue',
    ].join('\n'),
    configKinds,
  ).errors;
  const by = (key: string) => errs.find((e) => e.key === key);
  assert.match(by('sources[0].intake.tokens[1]')?.message ?? '', /must be a secret reference/, JSON.stringify(errs));
  assert.equal(by('sources[0].intake.tokens[0]'), undefined, 'a reference is fine');
  assert.match(by('sources[0].intake.hmac.secret')?.message ?? '', /must be a secret reference/, JSON.stringify(errs));
  assert.match(by('sources[0].intake.allow[1]')?.message ?? '', /not an IP address or CIDR range/, JSON.stringify(errs));
  assert.match(by('sources[0].intake.max_body_bytes')?.message ?? '', /above server\.max_body_bytes \(2048\)/, JSON.stringify(errs));
  assert.ok(by('sources[1].intake.hmac.algorithm'), `an unknown algorithm is refused: ${JSON.stringify(errs)}`);
  assert.match(by('sources[1].intake.hmac.max_skew')?.message ?? '', /above zero/, JSON.stringify(errs));
  assert.ok(by('sources[1].intake.rate_limit.per_second'), `a zero rate is refused: ${JSON.stringify(errs)}`);
  assert.match(by('sources[1].intake.colour')?.message ?? '', /unknown key/, JSON.stringify(errs));
  for (const e of errs) assert.ok(!e.message.includes('literal-secret-value') && !e.message.includes('plain-token-in-the-file'), `no secret in ${e.message}`);
  assert.deepEqual(
    parseConfigText('sources:\n  - name: a\n    intake:\n      tokens: ["${env:T}"]\n      hmac: { secret: "${file:/run/secrets/hook}", timestamp_header: X-Ts }\n      allow: [10.0.0.0/8]\n      rate_limit: { per_second: 5, burst: 10 }\n      max_body_bytes: 1024\n', configKinds).errors,
    [],
  );
});
