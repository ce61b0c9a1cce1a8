/**
 * The outbound guard (issue 13, item 6), table-driven: every special IPv4/IPv6 range, every IPv6 form that
 * carries an IPv4 address, the URL spellings that reach them, and names checked at connect time.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { LookupAddress } from 'node:dns';
import { addressRefusal, classifyAddress, guardedLookup, isPublicAddress, outboundUrlProblem, type Resolver } from '../../src/util/outbound.js';

/** [address, range it classifies as, refused even with allow_private] — none of these is public. */
const REFUSED: ReadonlyArray<readonly [string, string, boolean?]> = [
  // IPv4
  ['127.0.0.1', 'loopback'],
  ['127.255.255.254', 'loopback'],
  ['0.0.0.0', 'unspecified'],
  ['0.1.2.3', 'unspecified'],
  ['10.1.2.3', 'private'],
  ['172.16.0.1', 'private'],
  ['172.31.255.255', 'private'],
  ['192.168.1.1', 'private'],
  ['169.254.1.1', 'linkLocal'],
  ['100.64.0.1', 'carrierGradeNat'],
  ['100.127.255.254', 'carrierGradeNat'],
  ['255.255.255.255', 'broadcast'],
  ['224.0.0.1', 'multicast'],
  ['239.255.255.250', 'multicast'],
  ['198.18.0.1', 'reserved'], // benchmarking (RFC 2544)
  ['198.19.255.255', 'reserved'],
  ['192.0.0.8', 'reserved'], // IETF protocol assignments
  ['192.0.2.1', 'reserved'], // documentation
  ['198.51.100.1', 'reserved'],
  ['203.0.113.7', 'reserved'],
  ['240.0.0.1', 'reserved'],
  ['192.88.99.1', 'reserved'], // 6to4 relay anycast
  // Cloud metadata: refused even with allow_private
  ['169.254.169.254', 'metadata', true],
  ['169.254.170.2', 'metadata', true],
  ['100.100.100.200', 'metadata', true],
  ['192.0.0.192', 'metadata', true],
  ['168.63.129.16', 'metadata', true],
  ['fd00:ec2::254', 'metadata', true],
  // IPv6
  ['::1', 'loopback'],
  ['::', 'unspecified'],
  ['fe80::1', 'linkLocal'],
  ['fe80::1%eth0', 'linkLocal'],
  ['fc00::1', 'uniqueLocal'],
  ['fd12:3456::1', 'uniqueLocal'],
  ['fec0::1', 'deprecatedSiteLocal'],
  ['ff02::1', 'multicast'],
  ['ff05::1:3', 'multicast'],
  ['2001:db8::1', 'reserved'], // documentation
  ['3fff::1', 'reserved'], // documentation (RFC 9637)
  ['2001:2::1', 'benchmarking'],
  ['100::1', 'discard'],
  ['4000::1', 'notGlobal'],
  ['::2', 'ipv4Compatible'],
  // IPv4-compatible (deprecated; ipaddr.js alone calls these unicast)
  ['::7f00:1', 'ipv4Compatible'],
  ['::127.0.0.1', 'ipv4Compatible'], // not IPv4-mapped, whatever ipaddr.js alone says
  ['::8.8.8.8', 'ipv4Compatible'],
  ['::a00:1', 'ipv4Compatible'],
  ['::808:808', 'ipv4Compatible'], // refused even when it carries a public address
  ['::a9fe:a9fe', 'ipv4Compatible', true],
  // IPv4-mapped and -translated: judged by the IPv4 address
  ['::ffff:127.0.0.1', 'ipv4Mapped'],
  ['::ffff:7f00:1', 'ipv4Mapped'],
  ['::ffff:10.0.0.1', 'ipv4Mapped'],
  ['::ffff:169.254.169.254', 'ipv4Mapped', true],
  ['0:0:0:0:0:ffff:c0a8:101', 'ipv4Mapped'],
  ['::ffff:0:7f00:1', 'rfc6145'],
  // NAT64: the well-known prefix judged by the IPv4 address; local-use refused outright
  ['64:ff9b::7f00:1', 'nat64'],
  ['64:ff9b::127.0.0.1', 'nat64'],
  ['64:ff9b::a00:1', 'nat64'],
  ['64:ff9b::a9fe:a9fe', 'nat64', true],
  ['64:ff9b:1::808:808', 'nat64LocalUse'],
  ['64:ff9b:1:7f00:1::', 'nat64LocalUse'],
  // 6to4 and Teredo (deprecated tunnels): refused outright
  ['2002:7f00:1::1', '6to4'],
  ['2002:a9fe:a9fe::1', '6to4', true],
  ['2002:808:808::1', '6to4'],
  ['2001:0:4136:e378:8000:63bf:3fff:fdd2', 'teredo'],
  ['2001::1', 'teredo'],
];

const PUBLIC: readonly string[] = [
  '8.8.8.8',
  '1.1.1.1',
  '93.184.216.34',
  '2001:4860:4860::8888',
  '2606:4700:4700::1111',
  '2a00:1450:4001:80b::200e',
  '::ffff:8.8.8.8', // IPv4-mapped: the IPv4 address itself
  '64:ff9b::808:808', // NAT64 (DNS64 networks): the IPv4 address behind it
];

test('every special range and every IPv6 form carrying one is refused; allow_private lifts all but metadata', () => {
  for (const [address, range, always = false] of REFUSED) {
    const c = classifyAddress(address);
    assert.ok(c, `${address} is an address`);
    assert.equal(c.public, false, address);
    assert.equal(c.range, range, address);
    assert.equal(isPublicAddress(address), false, address);
    assert.ok(addressRefusal(address, false), address);
    assert.equal(addressRefusal(address, true) !== null, always, `${address} with allow_private`);
  }
});

test('global unicast is allowed, in every form that reaches it', () => {
  for (const address of PUBLIC) {
    assert.equal(isPublicAddress(address), true, address);
    assert.equal(addressRefusal(address, false), null, address);
  }
});

test('forms that carry an IPv4 address name it', () => {
  const by = (a: string) => classifyAddress(a)!;
  assert.deepEqual([by('::7f00:1').embedded, by('::7f00:1').embeddedRange], ['127.0.0.1', 'loopback']);
  assert.deepEqual([by('::a9fe:a9fe').embedded, by('::a9fe:a9fe').embeddedRange], ['169.254.169.254', 'metadata']);
  assert.equal(by('::ffff:127.0.0.1').embedded, '127.0.0.1');
  assert.equal(by('64:ff9b::a00:1').embedded, '10.0.0.1');
  assert.equal(by('2002:a9fe:a9fe::1').embedded, '169.254.169.254');
  assert.equal(by('2001:0:4136:e378:8000:63bf:3fff:fdd2').embedded, '192.0.2.45'); // Teredo client, inverted
  assert.match(addressRefusal('::7f00:1', false)!.what, /^IPv4-compatible \(deprecated\) form of 127\.0\.0\.1 \(loopback\)$/);
});

test('not an address: no verdict (names are checked when they resolve)', () => {
  for (const t of ['localhost', 'example.com', '', '1.2.3.4.5', '::g']) {
    assert.equal(classifyAddress(t), null, t);
    assert.equal(isPublicAddress(t), false, t);
    assert.equal(addressRefusal(t, false), null, t);
  }
});

/** [URL, problem (regexp) without allow_private, problem with allow_private (null: accepted)] */
const URLS: ReadonlyArray<readonly [string, RegExp | null, RegExp | null]> = [
  ['https://hooks.example.com/fido', null, null],
  ['http://8.8.8.8:8080/x', null, null],
  ['http://[64:ff9b::808:808]/x', null, null],
  ['http://127.0.0.1:9/x', /^127\.0\.0\.1 is not a public address \(loopback\); set allow_private: true/, null],
  ['http://127.1/x', /^127\.0\.0\.1 is not a public address/, null],
  ['http://0x7f.1/x', /^127\.0\.0\.1 is not a public address/, null],
  ['http://2130706433/x', /^127\.0\.0\.1 is not a public address/, null],
  ['http://017700000001/x', /^127\.0\.0\.1 is not a public address/, null],
  ['http://[::1]/x', /^::1 is not a public address \(loopback\)/, null],
  ['http://[::7f00:1]/x', /^::7f00:1 is not a public address \(IPv4-compatible \(deprecated\) form of 127\.0\.0\.1 \(loopback\)\)/, null],
  ['http://[::127.0.0.1]/x', /IPv4-compatible/, null],
  ['http://[::ffff:127.0.0.1]/x', /IPv4-mapped form of 127\.0\.0\.1 \(loopback\)/, null],
  ['http://[64:ff9b::7f00:1]/x', /NAT64 form of 127\.0\.0\.1/, null],
  ['http://[2002:7f00:1::]/x', /6to4/, null],
  ['http://[fe80::1%25eth0]/x', /not a valid URL/, /not a valid URL/], // URLs cannot carry a zone
  ['http://[fe80::1]/x', /link-local/, null],
  ['http://10.0.0.5/x', /private/, null],
  ['http://100.64.1.1/x', /carrier-grade NAT/, null],
  ['http://localhost:8080/x', /^localhost is a loopback name/, null],
  ['http://LocalHost./x', /is a loopback name/, null],
  ['http://api.localhost/x', /is a loopback name/, null],
  ['http://169.254.169.254/latest/meta-data/', /cloud metadata address .*refused even with allow_private/, /cloud metadata/],
  ['http://[::a9fe:a9fe]/x', /cloud metadata/, /cloud metadata/],
  ['http://[::ffff:169.254.169.254]/x', /cloud metadata/, /cloud metadata/],
  ['http://[fd00:ec2::254]/x', /cloud metadata/, /cloud metadata/],
  ['ftp://example.com/x', /only http and https/, /only http and https/],
  ['https://user:pw@example.com/x', /credentials in the URL/, /credentials in the URL/],
  ['not a url', /not a valid URL/, /not a valid URL/],
];

test('URLs: every spelling of a refused address is refused up front, the same with and without allow_private as the table says', () => {
  for (const [url, without, withAllow] of URLS) {
    const a = outboundUrlProblem(url, { allowPrivate: false });
    const b = outboundUrlProblem(url, { allowPrivate: true });
    if (without) assert.match(a ?? '(accepted)', without, url);
    else assert.equal(a, null, url);
    if (withAllow) assert.match(b ?? '(accepted)', withAllow, `${url} with allow_private`);
    else assert.equal(b, null, `${url} with allow_private`);
  }
});

function fakeResolver(answers: Record<string, string[]>): Resolver {
  return (hostname, _options, callback) => {
    const list = answers[hostname];
    if (!list) return callback(Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' }), []);
    callback(null, list.map((address): LookupAddress => ({ address, family: address.includes(':') ? 6 : 4 })));
  };
}

function lookupWith(allowPrivate: boolean, resolver: Resolver | undefined, host: string, all: boolean): Promise<{ err: (Error & { code?: string }) | null; address: unknown }> {
  const lookup = guardedLookup(allowPrivate, resolver);
  return new Promise((resolve) => lookup(host, { all }, (err, address) => resolve({ err, address })));
}

test('connect time: every address a name resolves to must pass (DNS rebinding, mixed answers)', async () => {
  const dns = fakeResolver({
    'hooks.example.com': ['93.184.216.34', '2606:2800:220:1:248:1893:25c8:1946'],
    'rebind.example.com': ['93.184.216.34', '127.0.0.1'],
    'compat.example.com': ['::7f00:1'],
    'mapped.example.com': ['::ffff:10.0.0.1'],
    'meta.example.com': ['::ffff:169.254.169.254'],
    'nat64.example.com': ['64:ff9b::808:808'],
    'internal.example.com': ['10.0.0.7'],
  });
  let r = await lookupWith(false, dns, 'hooks.example.com', false);
  assert.deepEqual([r.err, r.address], [null, '93.184.216.34']);
  r = await lookupWith(false, dns, 'hooks.example.com', true);
  assert.equal((r.address as LookupAddress[]).length, 2);
  assert.equal((await lookupWith(false, dns, 'nat64.example.com', false)).err, null);
  for (const [host, why] of [
    ['rebind.example.com', /rebind\.example\.com resolves to 127\.0\.0\.1, which is not a public address \(loopback\); set allow_private: true on the target/],
    ['compat.example.com', /IPv4-compatible \(deprecated\) form of 127\.0\.0\.1/],
    ['mapped.example.com', /IPv4-mapped form of 10\.0\.0\.1 \(private\)/],
    ['meta.example.com', /cloud metadata/],
    ['internal.example.com', /not a public address \(private\)/],
  ] as const) {
    const { err } = await lookupWith(false, dns, host, true);
    assert.equal(err?.code, 'EFIDO_PRIVATE_ADDRESS', host);
    assert.match(err!.message, why, host);
  }
  // allow_private: private answers pass, metadata never does.
  assert.equal((await lookupWith(true, dns, 'internal.example.com', false)).err, null);
  assert.equal((await lookupWith(true, dns, 'meta.example.com', false)).err?.code, 'EFIDO_PRIVATE_ADDRESS');
  // Resolver errors pass through unchanged.
  assert.equal((await lookupWith(false, dns, 'nowhere.example.com', false)).err?.code, 'ENOTFOUND');
  // The system resolver: localhost resolves locally, to loopback.
  assert.equal((await lookupWith(false, undefined, 'localhost', true)).err?.code, 'EFIDO_PRIVATE_ADDRESS');
});
