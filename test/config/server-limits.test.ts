import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfigText } from '../../src/config/validate.js';
import { configKinds } from '../../src/config/load.js';
import { openFileLimit, resolveHttpLimits } from '../../src/api/limits.js';

const errorsOf = (text: string) => parseConfigText(text, configKinds).errors.map((e) => [e.key, e.line, e.message]);

test('server timeouts, connection limits, proxies and the failed-token limit: valid settings pass', () => {
  const text = [
    'server:',
    '  headers_timeout: 10s',
    '  request_timeout: 1m',
    '  keep_alive_timeout: 5s',
    '  idle_timeout: 30',
    '  max_connections: 2000',
    '  max_connections_per_address: 0',
    '  trust_proxy: [10.0.0.5, 192.168.0.0/16, "2001:db8::/32"]',
    'auth:',
    '  failed_attempts: { limit: 5, window: 10m }',
  ].join('\n');
  assert.deepEqual(errorsOf(text), []);
  assert.deepEqual(errorsOf('auth:\n  failed_attempts: { limit: 0, window: 0s }\n'), [], 'limit 0 turns it off; the window does not matter then');
});

test('server timeouts, connection limits, proxies and the failed-token limit: mistakes name the key and line', () => {
  assert.deepEqual(errorsOf('server:\n  headers_timeout: 2m\n  request_timeout: 1m\n'), [
    ['server.headers_timeout', 2, 'server.headers_timeout must not be longer than server.request_timeout'],
  ]);
  assert.deepEqual(errorsOf('server:\n  request_timeout: 5s\n'), [
    ['server.request_timeout', 2, 'server.headers_timeout must not be longer than server.request_timeout'],
  ], 'the default headers_timeout (20s) is longer');
  assert.deepEqual(errorsOf('server:\n  idle_timeout: 0s\n'), [['server.idle_timeout', 2, 'must be above zero']]);
  assert.deepEqual(errorsOf('server:\n  trust_proxy: [10.0.0.1, proxy.corp]\n'), [
    ['server.trust_proxy[1]', 2, '"proxy.corp" is not an IP address or CIDR range'],
  ]);
  assert.deepEqual(errorsOf('auth:\n  failed_attempts:\n    window: 0s\n'), [
    ['auth.failed_attempts.window', 3, 'must be above zero (limit: 0 turns the limit off)'],
  ]);
  const shape = errorsOf('server:\n  max_connections: 0\n  max_connections_per_address: -1\n  keep_alive_timeout: soon\n  idle_timeout: 0\nauth:\n  failed_attempts: { tries: 3 }\n');
  assert.deepEqual(
    shape.map(([k, l]) => `${k}:${l}`).sort(),
    ['auth.failed_attempts.tries:7', 'server.idle_timeout:5', 'server.keep_alive_timeout:4', 'server.max_connections:2', 'server.max_connections_per_address:3'],
    'shape errors from the schema, each once',
  );
});

test('connection limits default from the open-file limit, leaving a quarter of it to the rest of the process', () => {
  assert.ok(openFileLimit() >= 256, 'the open-file limit of this process is read');
  const small = resolveHttpLimits({}, 1024).limits;
  assert.equal(small.maxConnections, 691); // 0.9 × 768
  assert.equal(small.shedCapacity, 70);
  assert.ok(small.maxConnections + small.shedCapacity <= 768);
  assert.equal(small.maxConnectionsPerAddress, 256);
  assert.deepEqual(
    [small.headersTimeoutMs, small.requestTimeoutMs, small.keepAliveTimeoutMs, small.idleTimeoutMs, small.checkIntervalMs, small.retryAfterSeconds],
    [20_000, 120_000, 72_000, 60_000, 1000, 5],
  );
  const big = resolveHttpLimits({}, 20_000);
  assert.equal(big.limits.maxConnections, 13_500);
  assert.deepEqual(big.warnings, []);
  // Set past what the descriptors allow: start warns (a machine with a larger limit may run the same file).
  const over = resolveHttpLimits({ max_connections: 1000 }, 1024);
  assert.equal(over.limits.maxConnections, 1000);
  assert.match(over.warnings[0]!, /server\.max_connections 1000 \(\+ 100 being shed\) is past 75% of the open-file limit 1024/);
  // A per-address limit above the total is the total.
  assert.equal(resolveHttpLimits({ max_connections: 100, max_connections_per_address: 500 }, 20_000).limits.maxConnectionsPerAddress, 100);
  assert.throws(() => resolveHttpLimits({ headers_timeout: '3s', request_timeout: '2s' }, 1024), /server\.headers_timeout: must not be longer than server\.request_timeout/);
});
