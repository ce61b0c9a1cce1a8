import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { auth, testApi, type TestApi } from '../support/api.js';
import { addressMatcher, canonicalAddress, failedAuthKey } from '../../src/api/client-address.js';
import { registry } from '../../src/metrics.js';

// Issue 13 item 9: failed-token attempts are limited per client address, with 429 + Retry-After, and counted.
const BAD = { authorization: 'Bearer not-a-token-0123456789' };

function get(api: TestApi, remoteAddress: string, headers: Record<string, string> = {}, url = '/api/v1/incidents') {
  return api.app.inject({ method: 'GET', url, remoteAddress, headers });
}

async function counter(name: string, labels: Record<string, string> = {}): Promise<number> {
  const m = (await registry.getSingleMetric(name)?.get())?.values ?? [];
  return m.filter((v) => Object.entries(labels).every(([k, l]) => v.labels[k] === l)).reduce((s, v) => s + v.value, 0);
}

test('failed tokens: 429 per address once past the limit, a valid token included, other addresses unaffected', async () => {
  const api = await testApi('sqlite', { failedAuth: { limit: 3, windowMs: 1500 } });
  try {
    const invalid0 = await counter('fido_auth_failures_total', { reason: 'invalid' });
    const limited0 = await counter('fido_auth_rate_limited_total');
    for (let i = 0; i < 3; i++) assert.equal((await get(api, '10.0.0.1', BAD)).statusCode, 401);

    const r = await get(api, '10.0.0.1', BAD);
    assert.equal(r.statusCode, 429);
    const wait = Number(r.headers['retry-after']);
    assert.ok(wait >= 1 && wait <= 2, `Retry-After ${r.headers['retry-after']}`);
    assert.deepEqual(r.json(), { error: 'too_many_failed_attempts', message: `too many failed token attempts from this address; retry after ${wait}s` });
    // While limited, the address learns nothing about its tokens: a valid one is refused the same way.
    const valid = await get(api, '10.0.0.1', auth('admin'));
    assert.equal(valid.statusCode, 429);
    assert.ok(Number(valid.headers['retry-after']) >= 1);
    // Everyone else is unaffected; health needs no token and is not limited.
    assert.equal((await get(api, '10.0.0.2', auth('viewer'))).statusCode, 200);
    assert.equal((await get(api, '10.0.0.2', BAD)).statusCode, 401, 'another address has its own budget');
    assert.equal((await get(api, '10.0.0.1', {}, '/healthz')).statusCode, 200);

    assert.equal((await counter('fido_auth_failures_total', { reason: 'invalid' })) - invalid0, 4, 'each 401 with a token is counted');
    assert.equal((await counter('fido_auth_rate_limited_total')) - limited0, 2, 'each 429 is counted');
    const text = (await get(api, '10.0.0.2', auth('viewer'), '/api/v1/metrics')).body;
    assert.match(text, /^fido_auth_failures_total\{reason="invalid"\} \d+$/m);
    assert.match(text, /^fido_auth_rate_limited_total \d+$/m);

    // The window ends: the address may try again.
    await sleep(1600);
    assert.equal((await get(api, '10.0.0.1', auth('viewer'))).statusCode, 200);
  } finally {
    await api.close();
  }
});

test('failed tokens: a request without a token is refused but not counted against its address', async () => {
  const api = await testApi('sqlite', { failedAuth: { limit: 2, windowMs: 60_000 } });
  try {
    const missing0 = await counter('fido_auth_failures_total', { reason: 'missing' });
    for (let i = 0; i < 5; i++) assert.equal((await get(api, '10.0.1.1')).statusCode, 401);
    assert.equal((await counter('fido_auth_failures_total', { reason: 'missing' })) - missing0, 5);
    assert.equal((await get(api, '10.0.1.1', auth('viewer'))).statusCode, 200);
    // A success does not clear failures: a valid token interleaved with guesses does not buy more guesses.
    assert.equal((await get(api, '10.0.1.1', BAD)).statusCode, 401);
    assert.equal((await get(api, '10.0.1.1', auth('viewer'))).statusCode, 200);
    assert.equal((await get(api, '10.0.1.1', BAD)).statusCode, 401);
    assert.equal((await get(api, '10.0.1.1', auth('viewer'))).statusCode, 429);
  } finally {
    await api.close();
  }
});

test('failed tokens: IPv6 counts per /64, IPv4-mapped as IPv4; a trusted proxy names the client, others cannot', async () => {
  const api = await testApi('sqlite', { failedAuth: { limit: 2, windowMs: 60_000 }, server: { trust_proxy: ['10.9.9.0/24'] } });
  try {
    // One /64: every address in it draws on one budget.
    assert.equal((await get(api, '2001:db8:1:2::1', BAD)).statusCode, 401);
    assert.equal((await get(api, '2001:db8:1:2:ffff::9', BAD)).statusCode, 401);
    assert.equal((await get(api, '2001:db8:1:2::abcd', auth('viewer'))).statusCode, 429);
    assert.equal((await get(api, '2001:db8:1:3::1', auth('viewer'))).statusCode, 200, 'the next /64 is another client');
    // ::ffff:10.0.2.1 is 10.0.2.1.
    assert.equal((await get(api, '::ffff:10.0.2.1', BAD)).statusCode, 401);
    assert.equal((await get(api, '10.0.2.1', BAD)).statusCode, 401);
    assert.equal((await get(api, '::ffff:10.0.2.1', auth('viewer'))).statusCode, 429);

    // Behind a trusted proxy the limit is per client that the proxy names, not per proxy.
    const viaProxy = (client: string, headers: Record<string, string>) => get(api, '10.9.9.5', { ...headers, 'x-forwarded-for': client });
    assert.equal((await viaProxy('198.51.100.1', BAD)).statusCode, 401);
    assert.equal((await viaProxy('198.51.100.1', BAD)).statusCode, 401);
    assert.equal((await viaProxy('198.51.100.1', auth('viewer'))).statusCode, 429);
    assert.equal((await viaProxy('198.51.100.2', auth('viewer'))).statusCode, 200, 'another client behind the same proxy');
    // A client that is not a trusted proxy cannot escape its limit by naming other addresses.
    for (const spoof of ['203.0.113.1', '203.0.113.2']) {
      assert.equal((await get(api, '10.0.3.1', { ...BAD, 'x-forwarded-for': spoof })).statusCode, 401);
    }
    assert.equal((await get(api, '10.0.3.1', { ...auth('viewer'), 'x-forwarded-for': '203.0.113.3' })).statusCode, 429);
  } finally {
    await api.close();
  }
});

test('client address helpers', () => {
  assert.equal(canonicalAddress('::ffff:192.0.2.1'), '192.0.2.1');
  assert.equal(canonicalAddress('2001:DB8::1'), '2001:db8::1');
  assert.equal(canonicalAddress(undefined), 'unknown');
  assert.equal(failedAuthKey('2001:db8:a:b:1:2:3:4'), '2001:db8:a:b::/64');
  assert.equal(failedAuthKey('::ffff:192.0.2.1'), '192.0.2.1');
  const trusted = addressMatcher(['10.0.0.0/8', '192.0.2.7', '2001:db8::/32', '::ffff:172.16.0.0/108']);
  for (const a of ['10.1.2.3', '::ffff:10.1.2.3', '192.0.2.7', '2001:db8:5::1', '172.16.3.4', '172.31.255.255']) assert.equal(trusted(a), true, a);
  for (const a of ['11.0.0.1', '192.0.2.8', '2001:db9::1', '172.32.0.1', undefined, 'garbage']) assert.equal(trusted(a), false, String(a));
  assert.throws(() => addressMatcher(['10.0.0.0/8', 'proxy.corp']), /server\.trust_proxy\[1\]: "proxy\.corp" is not an IP address or CIDR range/);
});
