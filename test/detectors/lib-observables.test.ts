import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  canonicalIp, refang, normalizeDomain, normalizeHash, normalizeMac, normalizeEmail, normalizeUrl, normalizeHostObservable,
  finalizeAlert, finalizeContext, deriveObservables, MAX_OBSERVABLES,
} from '../../src/detectors/lib/observables.js';
import type { ContextEvent } from '../../src/model/context.js';
import { ParseError } from '../../src/detectors/detector.js';
import type { AlertDraft } from '../../src/model/alert.js';

const base = (extra: Partial<AlertDraft> = {}): AlertDraft => ({ time: '2026-01-02T03:04:05Z', title: 't', severity: 50, observables: [], ...extra });

test('canonicalIp: IPv4 and IPv6 canonical forms', () => {
  assert.equal(canonicalIp('10.1.2.3'), '10.1.2.3');
  assert.equal(canonicalIp(' 010.001.002.003 '), '10.1.2.3'); // zero-padded decimal, as devices mean it
  assert.equal(canonicalIp('FE80:0000:0000:0000:FADA:0CFF:FEDC:87F1'), 'fe80::fada:cff:fedc:87f1');
  assert.equal(canonicalIp('2001:0db8:0000:0000:0000:ff00:0042:8329'), '2001:db8::ff00:42:8329');
  assert.equal(canonicalIp('2001:db8:0:0:1:0:0:1'), '2001:db8::1:0:0:1'); // RFC 5952: first longest run
  assert.equal(canonicalIp('ff02:0000:0000:0000:0000:0000:0001:0002'), 'ff02::1:2');
  assert.equal(canonicalIp('::'), '::');
  assert.equal(canonicalIp('[2001:db8::5]'), '2001:db8::5');
  assert.equal(canonicalIp('fe80::1%eth0'), 'fe80::1');
  assert.equal(canonicalIp('10.0.0[.]1'), '10.0.0.1');
});

test('canonicalIp: every dotted quad gets the same answer from the canonical shortcut as from the full path', () => {
  // The shortcut returns canonical quads as they are; the rest (leading zeros, > 255, spaces) go the long way.
  const part = (i: number) => [String(i % 256), String(i % 300), `0${i % 100}`, String((i * 7) % 256).padStart(3, '0')][i % 4]!;
  for (let i = 0; i < 20_000; i++) {
    const q = [part(i), part(i >> 2), part(i >> 4), part(i >> 6)].join('.');
    const parts = q.split('.').map(Number);
    const expected = parts.every((n) => n <= 255) ? parts.join('.') : undefined;
    assert.equal(canonicalIp(q), expected, q);
    assert.equal(canonicalIp(` ${q}`), expected, `" ${q}"`);
  }
});

test('canonicalIp: IPv4-mapped IPv6 is unwrapped', () => {
  assert.equal(canonicalIp('::ffff:1.2.3.4'), '1.2.3.4');
  assert.equal(canonicalIp('::FFFF:0102:0304'), '1.2.3.4');
});

test('canonicalIp: garbage is rejected', () => {
  for (const bad of ['', '1.2.3', '1.2.3.256', '127.1', '0x7f000001', '1.2.3.4.5', '1.2.3.4:80', 'localhost', '::1::2', 'gggg::1', '1 .2.3.4', '12345::', null, 42, {}]) {
    assert.equal(canonicalIp(bad), undefined, String(bad));
  }
});

test('refang: common defanging forms', () => {
  assert.equal(refang('hxxp://evil[.]example/a'), 'http://evil.example/a');
  assert.equal(refang('hXXps[:]//evil(.)example'), 'https://evil.example');
  assert.equal(refang('hxxps[://]evil[dot]example'), 'https://evil.example');
  assert.equal(refang('evil{.}example'), 'evil.example');
  assert.equal(refang('bad\\.example'), 'bad.example');
  assert.equal(refang('alice[@]corp[.]example'), 'alice@corp.example');
  assert.equal(refang('fxp://files[.]example'), 'ftp://files.example');
  assert.equal(refang('plain text (with parens) stays'), 'plain text (with parens) stays');
});

test('normalizeDomain: lower case, trailing dot, IDN to punycode; not IPs or single labels', () => {
  assert.equal(normalizeDomain('Evil.Example.'), 'evil.example');
  assert.equal(normalizeDomain('Bücher.example'), 'xn--bcher-kva.example');
  assert.equal(normalizeDomain('evil[.]example'), 'evil.example');
  assert.equal(normalizeDomain('_dmarc.example.com'), '_dmarc.example.com');
  for (const bad of ['1.2.3.4', 'localhost', '*.example.com', 'a b.com', '-a.com', 'a..com', '', 'x'.repeat(64) + '.com', 'host.123']) {
    assert.equal(normalizeDomain(bad), undefined, bad);
  }
});

test('normalizeHostObservable: NetBIOS names are kept, lower-cased', () => {
  assert.equal(normalizeHostObservable('WS-042'), 'ws-042');
  assert.equal(normalizeHostObservable('WS-042$'), 'ws-042$');
  assert.equal(normalizeHostObservable('bad host'), undefined);
});

test('normalizeHash: lower-case hex of the right length', () => {
  assert.deepEqual(normalizeHash('BC8BBE52F041FD17318F08A0F73762CE'), { type: 'md5', value: 'bc8bbe52f041fd17318f08a0f73762ce' });
  assert.deepEqual(normalizeHash('313573490192c685e9e53abef25453ed0d5e2aee'), { type: 'sha1', value: '313573490192c685e9e53abef25453ed0d5e2aee' });
  assert.equal(normalizeHash('f610428ebddf6f8cf9e39322e672583c45fcdcf885efad0ab48fd53a3dfc2c4b', 'sha256')?.type, 'sha256');
  assert.equal(normalizeHash('bc8bbe52f041fd17318f08a0f73762ce', 'sha1'), undefined); // md5 length given as sha1
  assert.equal(normalizeHash('zz8bbe52f041fd17318f08a0f73762ce'), undefined);
  assert.equal(normalizeHash('abc'), undefined);
});

test('normalizeMac: colon, dash, Cisco dot and bare forms', () => {
  for (const m of ['00:50:56:F5:7F:47', '00-50-56-f5-7f-47', '0050.56f5.7f47', '005056F57F47']) assert.equal(normalizeMac(m), '00:50:56:f5:7f:47', m);
  assert.equal(normalizeMac('00:50:56:f5:7f'), undefined);
  assert.equal(normalizeMac('00:50-56:f5:7f:47'), undefined);
});

test('normalizeEmail and normalizeUrl', () => {
  assert.equal(normalizeEmail('Alice <Alice@Corp.Example>'), 'alice@corp.example');
  assert.equal(normalizeEmail('bob[@]evil[.]example'), 'bob@evil.example');
  assert.equal(normalizeEmail('not an address'), undefined);
  assert.equal(normalizeUrl('HXXP://Evil.Example:8080/Path?Q=1'), 'http://evil.example:8080/Path?Q=1');
  assert.equal(normalizeUrl('evil.example/payload.exe'), 'http://evil.example/payload.exe');
  assert.equal(normalizeUrl('http://[2001:DB8::1]/x'), 'http://[2001:db8::1]/x');
  assert.equal(normalizeUrl('http://xn--bcher-kva.example/a b'), 'http://xn--bcher-kva.example/a%20b');
  assert.equal(normalizeUrl('/just/a/path'), undefined);
  assert.equal(normalizeUrl('http://bad host/'), undefined);
});

test('finalizeAlert: trims, strips control characters, bounds sizes', () => {
  const a = finalizeAlert(base({
    title: '  Evil\u0000 thing\u001b[31m\r\nsecond line\tx  ',
    process: { command_line: 'x'.repeat(100_000), name: 'cmd\u0007.exe' },
    rule: { name: 'y'.repeat(10_000) },
  }));
  assert.equal(a.title, 'Evil thing[31m\nsecond line\tx');
  assert.equal(a.process?.command_line?.length, 65536);
  assert.equal(a.process?.name, 'cmd.exe');
  assert.equal(a.rule?.name?.length, 4096);
});

test('finalizeAlert: ports, IPs, hashes, action and severity', () => {
  const a = finalizeAlert(base({
    severity: 93.6,
    src: { ip: '::ffff:10.0.0.1', port: '443' as unknown as number },
    dst: { ip: 'not-an-ip', port: 70000 },
    file: { md5: 'XYZ', sha256: 'F610428EBDDF6F8CF9E39322E672583C45FCDCF885EFAD0AB48FD53A3DFC2C4B', size: -1 },
    action: 'exploded' as never,
  }));
  assert.deepEqual(a.src, { ip: '10.0.0.1', port: 443 });
  assert.equal(a.dst, undefined); // nothing valid was left
  assert.deepEqual(a.file, { sha256: 'f610428ebddf6f8cf9e39322e672583c45fcdcf885efad0ab48fd53a3dfc2c4b' });
  assert.equal(a.severity, 94);
  assert.equal(a.severity_label, 'critical');
  assert.equal(a.action, 'unknown');
});

test('finalizeAlert: missing title or bad time is a ParseError', () => {
  assert.throws(() => finalizeAlert(base({ title: ' \u0000 ' })), ParseError);
  assert.throws(() => finalizeAlert(base({ time: 'yesterday' })), ParseError);
  assert.throws(() => finalizeAlert(base({ time: '' })), /no time/);
});

test('finalizeAlert: keeps only pinned fields (no prototype tricks, no extras)', () => {
  const hostile = JSON.parse('{"time":"2026-01-02T03:04:05Z","title":"t","severity":1,"observables":[],"__proto__":{"admin":true},"extra":1}') as AlertDraft;
  const a = finalizeAlert(hostile) as unknown as Record<string, unknown>;
  assert.equal(Object.getPrototypeOf(a), Object.prototype);
  assert.equal(a.admin, undefined);
  assert.equal(Object.hasOwn(a, 'extra'), false);
  assert.equal(Object.hasOwn(a, '__proto__'), false);
});

test('observables: derived from fields, normalised, deduplicated by (type, value, role)', () => {
  const a = finalizeAlert(base({
    src: { ip: '10.1.2.3', host: 'WS-042', user: 'alice' },
    dst: { ip: '2001:DB8::7', host: 'Evil.Example' },
    host: { name: 'WS-042', ip: '10.1.2.3', mac: '00-50-56-F5-7F-47' },
    user: { name: 'alice', email: 'Alice@Corp.Example' },
    file: { md5: 'BC8BBE52F041FD17318F08A0F73762CE' },
    url: 'hxxp://evil[.]example/payload.exe',
    domain: 'EVIL.example',
    email: { from: 'Mallory <m@evil.example>', to: ['alice@corp.example', 'ALICE@corp.example'] },
    observables: [
      { type: 'ip', value: '010.001.002.003', role: 'src' }, // duplicate of src ip once normalised
      { type: 'sha256', value: 'nope', role: 'file' }, // invalid: dropped
      { type: 'host', value: '192.0.2.1', role: 'process' }, // an IP given as host becomes an ip
    ],
  }));
  const got = a.observables.map((o) => `${o.type}:${o.value}:${o.role}`);
  assert.equal(new Set(got).size, got.length);
  assert.deepEqual(got.sort(), [
    'ip:10.1.2.3:src', 'host:ws-042:src', 'user:alice:src',
    'ip:2001:db8::7:dst', 'host:evil.example:dst', 'domain:evil.example:dst',
    'host:ws-042:host', 'ip:10.1.2.3:host', 'mac:00:50:56:f5:7f:47:host',
    'user:alice:user', 'email:alice@corp.example:user',
    'md5:bc8bbe52f041fd17318f08a0f73762ce:file',
    'url:http://evil.example/payload.exe:url', 'domain:evil.example:url',
    'email:m@evil.example:email', 'email:alice@corp.example:email',
    'ip:192.0.2.1:process',
  ].sort());
  assert.equal(a.url, 'http://evil.example/payload.exe');
  assert.equal(a.domain, 'evil.example');
});

test('observables: internal names are hosts, not intel domains; count is capped', () => {
  const obs = deriveObservables(base({ dst: { host: 'fileserver.corp.local' } }));
  assert.deepEqual(obs.map((o) => o.type), ['host']);
  // A src/dst host under a public suffix is also looked up as a domain.
  assert.deepEqual(deriveObservables(base({ dst: { host: 'Update.Evil.com' } })).map((o) => `${o.type}:${o.value}`), ['host:update.evil.com', 'domain:update.evil.com']);
  const many = Array.from({ length: 5000 }, (_, i) => ({ type: 'ip' as const, value: `10.0.${i >> 8}.${i & 255}`, role: 'src' }));
  assert.equal(finalizeAlert(base({ observables: many })).observables.length, MAX_OBSERVABLES);
});

test('finalizeAlert is idempotent (a redone batch gives the same alert)', () => {
  const once = finalizeAlert(base({
    title: ' x\u0000 ', src: { ip: '::ffff:10.0.0.1', port: 80, host: 'A.Example.com' }, url: 'hxxp://b[.]example.com/p',
    observables: [{ type: 'md5', value: 'BC8BBE52F041FD17318F08A0F73762CE', role: 'process' }],
  }));
  assert.deepEqual(finalizeAlert(once), once);
});

test('placeholders are not facts: "none" names, all-zero hashes and unspecified addresses are dropped, in fields and indicators', () => {
  const a = finalizeAlert(
    base({
      user: { name: 'No Authentication Required', domain: 'N/A' },
      host: { name: '-', id: 'unknown', ip: '0.0.0.0' },
      src: { ip: '::', host: '(null)', user: 'none' },
      dst: { ip: '203.0.113.9', port: 443 },
      file: { name: 'a.exe', md5: '00000000000000000000000000000000', sha256: '0'.repeat(64) },
      malware: { name: 'Unknown' },
    }),
  );
  assert.equal(a.user, undefined);
  assert.equal(a.host, undefined);
  assert.equal(a.src, undefined);
  assert.deepEqual(a.file, { name: 'a.exe' });
  assert.equal(a.malware, undefined);
  assert.deepEqual(a.observables, [{ type: 'ip', value: '203.0.113.9', role: 'dst' }]);
  // A real zero-free hash and a real name pass.
  assert.equal(finalizeAlert(base({ file: { md5: 'd41d8cd98f00b204e9800998ecf8427e' } })).file?.md5, 'd41d8cd98f00b204e9800998ecf8427e');
});

test('host names hold names: an address written as the host name goes to the ip beside it', () => {
  const a = finalizeAlert(base({ host: { name: '10.0.0.5' }, src: { host: '198.51.100.7', ip: '198.51.100.8' }, dst: { host: 'db01.corp.example' } }));
  assert.deepEqual(a.host, { ip: '10.0.0.5' });
  assert.deepEqual(a.src, { ip: '198.51.100.8' }, 'the ip field wins; the address in the name field is not a name');
  assert.deepEqual(a.dst, { host: 'db01.corp.example' });
});

test('finalizeContext: canonical fields cleaned as for alerts; kind from the list, the product\'s name kept; derived indicators', () => {
  const raw = {
    kind: 'vpn',
    event_type: 'gateway-auth',
    time: '2026-03-01T10:00:00+01:00',
    user: { name: 'alice', domain: 'CORP' },
    src: { ip: '198.51.100.20', port: 4501 },
    assigned_ip: '10.8.0.14',
    host: { name: 'LAPTOP-7' },
    device: { name: 'gp-gw1', ip: '192.0.2.1' },
    outcome: 'success',
    session_id: ' 12345 ',
    start: '2026-03-01T09:59:00Z',
    end: 'not a time',
    data: { portal: 'corp' },
    observables: [],
  } as ContextEvent;
  const e = finalizeContext(raw, '2026-03-01T12:00:00.000Z');
  assert.equal(e.kind, 'vpn');
  assert.equal(e.event_type, 'gateway-auth');
  assert.equal(e.time, '2026-03-01T09:00:00.000Z');
  assert.equal(e.session_id, '12345');
  assert.equal(e.start, '2026-03-01T09:59:00.000Z');
  assert.equal(e.end, undefined);
  assert.deepEqual(e.data, { portal: 'corp' });
  const has = (type: string, value: string, role: string) => e.observables.some((o) => o.type === type && o.value === value && o.role === role);
  assert.ok(has('ip', '10.8.0.14', 'assigned'));
  assert.ok(has('ip', '192.0.2.1', 'device'));
  assert.ok(has('host', 'gp-gw1', 'device'));
  assert.ok(has('ip', '198.51.100.20', 'src'));
  assert.ok(has('user', 'alice', 'user'));
  assert.ok(has('host', 'laptop-7', 'host'));

  const odd = finalizeContext({ kind: 'vpn_session' as ContextEvent['kind'], time: 'garbage', outcome: 'maybe' as ContextEvent['outcome'], assigned_ip: '0.0.0.0', data: [] as unknown as Record<string, unknown>, observables: [] }, '2026-03-01T12:00:00.000Z');
  assert.equal(odd.kind, 'other');
  assert.equal(odd.event_type, 'vpn_session', 'an unknown kind is kept as the event type');
  assert.equal(odd.time, '2026-03-01T12:00:00.000Z', 'an invalid time falls back to the receipt');
  assert.equal(odd.outcome, undefined);
  assert.equal(odd.assigned_ip, undefined);
  assert.deepEqual(odd.data, {});
  assert.deepEqual(odd.observables, []);
});
