/**
 * parseIp's hand-written dotted-quad reader (enrich/values.ts) accepts exactly what ipaddr.js's strict
 * four-part decimal check accepts, and gives the same address: edge cases, then a seeded random sweep.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import ipaddr from 'ipaddr.js';
import { canonicalIp, parseIp } from '../../src/enrich/values.js';

const strict = (v: string) => (ipaddr.IPv4.isValidFourPartDecimal(v) ? ipaddr.IPv4.parse(v).toString() : null);
const ours = (v: string) => {
  const a = parseIp(v);
  return a && a.kind() === 'ipv4' && !v.includes(':') ? a.toString() : null;
};

test('parseIp reads a dotted quad exactly as ipaddr.js strict decimal does', () => {
  const cases = ['1.2.3.4', '0.0.0.0', '255.255.255.255', '256.1.1.1', '01.2.3.4', '1.2.3.04', '00.1.1.1', '1.2.3', '1.2.3.4.5', '1..2.3',
    '1.2.3.', '.1.2.3', '1.2.3.4a', '0x1.2.3.4', '100.200.300.1', '', '1.2.3.-4', '1.2.3.4 5', '1000.1.1.1', '9.99.199.249', '1.2.3.4\n'];
  for (const c of cases) assert.equal(ours(c.trim()), strict(c.trim()), JSON.stringify(c));
  assert.equal(canonicalIp(' 10.0.0.1 '), '10.0.0.1');
  assert.equal(canonicalIp('::ffff:10.0.0.1'), '10.0.0.1'); // IPv4-mapped IPv6 is the IPv4 address
  assert.equal(canonicalIp('2001:db8::1'), '2001:db8::1');

  let seed = 42;
  const rand = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) % n);
  const alphabet = '0123456789.0123456789.x-';
  for (let i = 0; i < 20_000; i++) {
    const s = i % 2
      ? Array.from({ length: 3 + rand(3) }, () => String(rand(320)).padStart(rand(10) === 0 ? 3 : 0, '0')).join('.')
      : Array.from({ length: 1 + rand(15) }, () => alphabet[rand(alphabet.length)]).join('');
    assert.equal(ours(s), strict(s), JSON.stringify(s));
  }
});
