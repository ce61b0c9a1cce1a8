import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import ftd, { fieldsOf } from '../../src/detectors/cisco_ftd.js';
import { finishes, fixtureLine } from './helpers.js';
import { assertLinear } from './linear.js';
import { OTHER_FORMATS, alertOf, assertOthersSniffLow, contextOf, holdsContract, junkHoldsContract, reasonOf, sniff } from './net-helpers.js';

// Records (test/fixtures/samples/cisco_ftd/): elastic_*.log are Elastic integrations' pipeline test inputs (see SOURCE.md); the others were written after "Cisco Secure Firewall Threat Defense Syslog Messages" (430001-430005, field names as
// documented for FTD 6.x/7.x), "Cisco ASA Series Syslog Messages" and the FMC intrusion syslog alert layout.

const INTRUSION = fixtureLine('cisco_ftd', 'intrusion.log', 1);

test('430001 intrusion: rule id the SID alone (no default GID, no revision), priority, dropped, user realm split, header time', () => {
  assert.equal(sniff(ftd, INTRUSION), 0.98);
  const a = alertOf(ftd, INTRUSION);
  assert.equal(a.title, 'SERVER-OTHER Apache Log4j logging remote code execution attempt');
  assert.equal(a.event_type, 'FTD-430001');
  assert.deepEqual(a.rule, { id: '58722', name: 'SERVER-OTHER Apache Log4j logging remote code execution attempt', category: 'Attempted User Privilege Gain' });
  assert.equal(a.severity, 80);
  assert.equal(a.action, 'blocked');
  assert.equal(a.time, '2024-06-15T10:01:12.000Z');
  assert.deepEqual(a.src, { ip: '192.0.2.88', port: 44810, user: 'jane.smith' });
  assert.deepEqual(a.dst, { ip: '10.30.1.15', port: 8080 });
  assert.deepEqual(a.user, { name: 'jane.smith', domain: 'ACME' });
  assert.equal(a.vendor_id, '8c1f5a3e-2b7d-11ef-9a4c-6e0b3d2f1a57:2:4712:2024-06-15T10:01:10Z:192.0.2.88:44810:1:58722:10');
});

test('430001 variants: unquoted message with commas, "Would have dropped", EventPriority only, no header', () => {
  const a = alertOf(ftd, fixtureLine('cisco_ftd', 'intrusion.log', 2));
  assert.equal(a.title, 'PROTOCOL-ICMP PING, unusual size');
  assert.equal(a.action, 'detected');
  assert.equal(a.severity, 25);
  assert.equal(a.time, '2024-01-02T03:04:05.000Z', 'FirstPacketSecond when there is no header');
  const noResult = alertOf(ftd, fixtureLine('cisco_ftd', 'intrusion.log', 3));
  assert.equal(noResult.action, 'detected');
  assert.equal(noResult.severity, 30);
  assert.equal(noResult.rule?.id, '2000');
  const preprocessor = alertOf(ftd, fixtureLine('cisco_ftd', 'intrusion.log', 3).replace('GID: 1,', 'GID: 119,'));
  assert.equal(preprocessor.rule?.id, '119:2000', 'a generator other than 1 stays in front of the SID');
});

test('430005 malware: threat name and score, SHA-256, URI, blocked; unknown threat names fall back to the file', () => {
  const a = alertOf(ftd, fixtureLine('cisco_ftd', 'file_malware.log', 1));
  assert.equal(a.title, 'Malware: Win.Ransomware.Eicar::95.sbx.tg');
  assert.deepEqual(a.malware, { name: 'Win.Ransomware.Eicar::95.sbx.tg' });
  assert.equal(a.severity, 76);
  assert.equal(a.action, 'blocked');
  assert.equal(a.time, '2019-08-14T15:09:43.000Z');
  assert.deepEqual(a.file, { name: 'eicar_com.zip', sha256: '2546dcffc5ad854d4ddc64fbf056871cd5a00f2471cb7a5bfd4ac23b6e9eedad', size: 184 });
  assert.equal(a.url, 'http://files.example.net:8000/eicar_com.zip');
  assert.equal(a.domain, 'files.example.net');
  assert.equal(a.user, undefined);
  const unknown = alertOf(ftd, fixtureLine('cisco_ftd', 'file_malware.log', 2));
  assert.equal(unknown.title, 'Malware: update.cab');
  assert.equal(unknown.action, 'detected');
  assert.equal(unknown.severity, 60);
  assert.equal(unknown.malware, undefined);
  assert.equal(unknown.time, '2021-08-25T14:55:13.000Z');
});

test('430004 file event: detect action, low severity, file policy as rule', () => {
  const a = alertOf(ftd, fixtureLine('cisco_ftd', 'file_malware.log', 3));
  assert.equal(a.title, 'File event: exploit.exe (ELF)');
  assert.equal(a.action, 'detected');
  assert.equal(a.severity, 30);
  assert.deepEqual(a.rule, { id: 'file:malware-and-file-policy:ELF', name: 'malware-and-file-policy', category: 'file' });
  assert.equal(a.url, 'http://198.51.100.30:8000/exploit.exe');
});

test('430002/430003: plain connections are flow context; Security Intelligence hits are alerts', () => {
  const [flow] = contextOf(ftd, fixtureLine('cisco_ftd', 'connection.log', 1));
  assert.equal(flow!.kind, 'flow');
  assert.equal(flow!.event_type, 'FTD-430003');
  assert.deepEqual(flow!.src, { ip: '10.20.30.40', port: 51514, user: 'jdoe' });
  assert.deepEqual(flow!.dst, { ip: '93.184.216.34', port: 443 });
  assert.deepEqual(flow!.user, { name: 'jdoe', domain: 'corp' });
  assert.deepEqual(flow!.device, { name: 'ftd01', id: '8c1f5a3e-2b7d-11ef-9a4c-6e0b3d2f1a57' });
  assert.equal(flow!.session_id, '4711');
  assert.deepEqual(flow!.rule, { name: 'Allow-Outbound-Web', category: 'Allow' }, 'the access control rule that matched');
  assert.equal(flow!.start, '2024-06-15T10:00:28.000Z');
  assert.equal(flow!.data.event, 'connection-end');
  assert.equal(flow!.data['Prefilter Policy'], 'Unknown');
  assert.equal(flow!.data.ResponderBytes, '9271');
  const si = alertOf(ftd, fixtureLine('cisco_ftd', 'connection.log', 2));
  assert.equal(si.title, 'Security Intelligence: Malware (destination address)');
  assert.equal(si.action, 'detected');
  assert.equal(si.severity, 70);
  assert.equal(si.domain, 'bad-malwaresite.example');
  const dns = alertOf(ftd, fixtureLine('cisco_ftd', 'connection.log', 3));
  assert.equal(dns.action, 'blocked');
  assert.equal(dns.domain, 'cnc.evil.example');
});

test('JSON body after the message id is read like Key: Value', () => {
  const a = alertOf(ftd, fixtureLine('cisco_ftd', 'intrusion.log', 4));
  assert.equal(a.rule?.id, '2100498');
  assert.equal(a.severity, 55);
  assert.equal(a.action, 'blocked');
});

test('SFIMS classic FMC intrusion alert: bracketed fields, device, event time', () => {
  const line = fixtureLine('cisco_ftd', 'sfims.log', 1);
  assert.equal(sniff(ftd, line), 0.9);
  const a = alertOf(ftd, line);
  assert.equal(a.title, 'Custom Rule');
  assert.equal(a.time, '2018-03-12T12:00:21.000Z');
  assert.equal(a.rule?.category, 'Potential Corporate Policy Violation');
  assert.deepEqual(a.src, { ip: '192.168.1.10', port: 54352 });
  assert.deepEqual(a.dst, { ip: '192.168.2.10', port: 80 });
  assert.equal(a.rule?.id, '1000000');
  assert.equal(a.event_type, 'SFIMS');
  assert.match(a.vendor_id!, /^FTD1\|/);
});

test('ASA messages: 106023/106100/302013 flows as context, IDS and threat detection as alerts, AAA as auth', () => {
  const [deny] = contextOf(ftd, OTHER_FORMATS.asa!);
  assert.equal(deny!.kind, 'flow');
  assert.equal(deny!.data.src, '185.220.101.44');
  assert.equal(deny!.data.dport, '3389');
  assert.equal(deny!.data.acl, 'outside_access_in');
  assert.deepEqual(deny!.src, { ip: '185.220.101.44', port: deny!.src?.port });
  assert.equal(deny!.dst?.port, 3389);
  assert.equal(deny!.outcome, 'failure');
  const [acl] = contextOf(ftd, fixtureLine('cisco_ftd', 'asa.log', 1));
  assert.deepEqual(acl!.src, { ip: '198.51.100.7', port: 40112 });
  assert.deepEqual(acl!.dst, { ip: '10.0.0.5', port: 22 });
  assert.deepEqual(acl!.device, { name: 'asa1' });
  assert.equal(acl!.event_type, 'ASA-106100');
  assert.equal(acl!.data.action, 'denied');
  assert.equal(acl!.data.dst, '10.0.0.5');
  const [built] = contextOf(ftd, fixtureLine('cisco_ftd', 'asa.log', 2));
  assert.equal(built!.data.action, 'built');
  assert.equal(built!.data.src, '198.51.100.7');
  assert.equal(built!.session_id, '4477');
  assert.deepEqual(built!.dst, { ip: '10.0.0.5', port: 443 });
  const ids = alertOf(ftd, fixtureLine('cisco_ftd', 'asa.log', 3));
  assert.equal(ids.title, 'IDS 2000: ICMP echo reply');
  assert.deepEqual(ids.src, { ip: '203.0.113.9' });
  assert.equal(ids.severity, 50);
  const td = alertOf(ftd, fixtureLine('cisco_ftd', 'asa.log', 4));
  assert.equal(td.title, 'Threat detection: Scanning drop rate-1 exceeded');
  const [aaa] = contextOf(ftd, fixtureLine('cisco_ftd', 'asa.log', 5));
  assert.equal(aaa!.kind, 'auth');
  assert.equal(aaa!.event_type, 'ASA-113004');
  assert.deepEqual(aaa!.user, { name: 'alice' });
  assert.deepEqual(aaa!.dst, { ip: '10.0.0.10' });
  assert.equal(aaa!.outcome, 'success');
  assert.equal(aaa!.data.message_id, '113004');
});

test('Elastic pipeline records: connection events carry the 5-tuple, user, DNS query, URL and device', () => {
  const at = (n: number) => contextOf(ftd, fixtureLine('cisco_ftd', 'elastic_connection.log', n))[0]!;
  const dns = at(1), http = at(2), monitor = at(3);
  assert.equal(dns.domain, 'eu-central-1.ec2.archive.ubuntu.com');
  assert.deepEqual(dns.dst, { ip: '81.2.69.144', port: 53 });
  assert.deepEqual(dns.device, { name: 'firepower' });
  assert.equal(dns.user, undefined, '"No Authentication Required" is not a user');
  assert.equal(http.url, 'http://eu-central-1.ec2.archive.ubuntu.com/ubuntu/pool/main/m/manpages/manpages-dev_4.15-1_all.deb');
  assert.deepEqual(monitor.user, { name: 'user1', domain: 'Default-AD' });
  assert.deepEqual(monitor.device, { id: '48a00000-8e53-11ec-9a0c-d396ffaa0000' });
  assert.equal(monitor.session_id, '48101');
  const si = alertOf(ftd, fixtureLine('cisco_ftd', 'elastic_security_intelligence.log', 1));
  assert.equal(si.event_type, 'NGIPS-430003');
  assert.equal(si.url, 'http://bad-malwaresite-grr.info/favicon.ico');
});

test('Elastic pipeline records: ASA/FTD messages state user, client, server, peers and the two ends', () => {
  const at = (n: number) => contextOf(ftd, fixtureLine('cisco_ftd', 'elastic_asa_messages.log', n))[0]!;
  const sa = at(1), rejected = at(2), icmp = at(3), nat = at(4);
  assert.equal(sa.kind, 'vpn');
  assert.deepEqual([sa.src?.ip, sa.dst?.ip], ['192.168.0.139', '192.168.0.38']);
  assert.deepEqual(sa.device, { name: 'hosty' });
  assert.equal(rejected.kind, 'auth');
  assert.deepEqual(rejected.user, { name: 'scan' });
  assert.equal(rejected.src?.ip, '192.168.0.139');
  assert.equal(rejected.dst?.ip, '192.168.0.38');
  assert.equal(rejected.outcome, 'failure');
  const masked = contextOf(ftd, '<166>%FTD-6-113005: AAA user authentication Rejected : reason = AAA failure : server = 192.168.0.38 : user = ***** : user IP = 192.168.0.139')[0]!;
  assert.equal(masked.user, undefined, 'a masked user name is no user');
  assert.deepEqual(icmp.src, { ip: '192.168.2.2', user: 'myUser1234' });
  assert.deepEqual(icmp.user, { name: 'myUser1234', domain: 'LOCAL' });
  assert.deepEqual(icmp.dst, { ip: '192.168.2.3' });
  assert.deepEqual(nat.src, { ip: '192.168.2.50', port: 556, user: 'charlie' });
  assert.equal(nat.dst, undefined, '10.0.0.555 is no address');
});

test('Elastic pipeline records: marker variants, connections with user names, ICMP, spoof, URL filtering', () => {
  const at = (n: number) => contextOf(ftd, fixtureLine('cisco_ftd', 'elastic_sample.log', n))[0]!;
  const session = at(1);
  assert.deepEqual([session.kind, session.event_type], ['flow', 'FTD-106100'], '"%FTD-session-5-106100" is read');
  assert.equal(session.device, undefined, 'the zone after the time ("EDT") is not a device name');
  const users = at(2);
  assert.deepEqual([users.src, users.dst, users.session_id], [{ ip: '192.168.2.222', port: 53 }, { ip: '10.123.1.35', port: 52925 }, '666']);
  const icmp = at(3);
  assert.deepEqual([icmp.src?.ip, icmp.dst?.ip, icmp.dst?.port], ['172.24.177.29', '192.168.132.46', 17233]);
  const spoof = at(4);
  assert.deepEqual([spoof.src, spoof.dst, spoof.user], [{ ip: '0.0.0.0' }, { ip: '192.168.99.47' }, undefined], '"(0.0.0.0)" is the (spoofed) address, not a user; the gate drops 0.0.0.0');
  const accessed = at(5);
  assert.deepEqual([accessed.kind, accessed.src?.ip, accessed.dst?.ip], ['http', '10.30.30.30', '192.168.2.1']);
  const denied = at(6);
  assert.deepEqual([denied.url, denied.src?.ip, denied.dst?.ip, denied.outcome], ['http://www.example.net/images/favicon.ico', '10.69.6.39', '192.168.0.19', 'failure']);
  const aaa = at(8);
  assert.deepEqual([aaa.kind, aaa.event_type, aaa.user?.name, aaa.dst?.ip, aaa.device?.name], ['auth', 'FDT-113004', 'sample-user', '192.168.0.8', 'sac-firewall']);
  const webvpn = at(9);
  assert.deepEqual([webvpn.kind, webvpn.src?.ip, webvpn.outcome, webvpn.user], ['vpn', '192.168.0.8', 'failure', undefined]);
});

test('every alert type carries the reporting firewall as device (header host, DeviceUUID), never as host or an indicator', () => {
  // Every alert checked here: its device is neither an indicator (no role "device") nor looked up under its name.
  const deviceOf = (line: string) => {
    const a = alertOf(ftd, line);
    const name = a.device?.name?.toLowerCase();
    assert.ok(!a.observables.some((o) => o.role === 'device' || (name !== undefined && o.value === name)), `${a.title}: the device is not an indicator`);
    return a.device;
  };
  // 430001 intrusion: header host and DeviceUUID, as on the connection context of the same firewall
  const intrusion = alertOf(ftd, INTRUSION);
  assert.deepEqual(intrusion.device, { name: 'ftd01', id: '8c1f5a3e-2b7d-11ef-9a4c-6e0b3d2f1a57' });
  assert.deepEqual(intrusion.device, contextOf(ftd, fixtureLine('cisco_ftd', 'connection.log', 1))[0]!.device);
  assert.equal(intrusion.host, undefined, 'the firewall is not the host the detection is about');
  assert.ok(!intrusion.observables.some((o) => o.value === 'ftd01' || o.role === 'device'), 'the device is not an indicator');
  assert.equal(deviceOf(fixtureLine('cisco_ftd', 'intrusion.log', 2)), undefined, 'no header, no DeviceUUID: no device');
  // 430005 malware and 430004 file events
  assert.deepEqual(deviceOf(fixtureLine('cisco_ftd', 'file_malware.log', 1)), { name: 'siem-ftd' });
  assert.deepEqual(deviceOf(fixtureLine('cisco_ftd', 'file_malware.log', 2)), { id: 'c20ef000-c4f3-11e9-9b57-c6a90fda2892' });
  assert.deepEqual(deviceOf(fixtureLine('cisco_ftd', 'file_malware.log', 3)), { name: 'siem-ftd' });
  // 430002/430003 Security Intelligence alerts
  assert.deepEqual(deviceOf(fixtureLine('cisco_ftd', 'connection.log', 2)), { name: 'CISCO-SENSOR-3D', id: '1c8ff662-08f3-11e4-85c0-bc960372972f' });
  // SFIMS: the sensor the FMC names ('From "FTD1"'), not the FMC in the header (fmc01)
  assert.deepEqual(deviceOf(fixtureLine('cisco_ftd', 'sfims.log', 1)), { name: 'FTD1' });
  const unnamed = fixtureLine('cisco_ftd', 'sfims.log', 1).replace('From "FTD1" at Mon Mar 12 12:00:21 2018 UTC ', '');
  assert.deepEqual(deviceOf(unnamed), { name: 'fmc01' }, 'without a From sensor, the header host');
  // ASA IDS, threat detection and botnet traffic filter alerts: the header host
  assert.deepEqual(deviceOf(fixtureLine('cisco_ftd', 'asa.log', 3)), { name: 'asa1' });
  assert.deepEqual(deviceOf(fixtureLine('cisco_ftd', 'asa.log', 4)), { name: 'asa1' });
  const botnet = alertOf(ftd, '<164>Jan  5 10:00:00 asa2 %ASA-4-338002: Dynamic Filter monitored blacklisted TCP traffic from inside:10.0.0.5/51000 (10.0.0.5/51000) to outside:203.0.113.66/80 (203.0.113.66/80), destination 203.0.113.66 resolved from dynamic list: bad.example.com');
  assert.equal(botnet.rule?.category, 'botnet-filter');
  assert.deepEqual(botnet.device, { name: 'asa2' });
});

test('Key: Value reader: two-word keys, quoted values with commas, repeated keys keep the first', () => {
  const f = fieldsOf('A: 1, Prefilter Policy: X, Message: "a, b: c", B: 2, A: 3');
  assert.equal(f.A, '1');
  assert.equal(f['Prefilter Policy'], 'X');
  assert.equal(f.Message, 'a, b: c');
  assert.equal(f.B, '2');
});

test('sniff: FTD/ASA/SFIMS high; other formats low', () => {
  assert.ok(sniff(ftd, OTHER_FORMATS.ftd!) >= 0.9);
  assert.ok(sniff(ftd, OTHER_FORMATS.asa!) >= 0.9);
  assertOthersSniffLow(ftd, 'ftd', 'asa');
});

test('malformed and hostile records', () => {
  assert.match(reasonOf(ftd, 'hello'), /no %FTD-n-nnnnnn/);
  assert.match(reasonOf(ftd, '%FTD-1-430001: SrcIP: 1.2.3.4'), /neither SID nor Message/);
  assert.match(reasonOf(ftd, 'x SFIMS: nothing here'), /without an intrusion rule/);
  const big = 'A'.repeat(1 << 20);
  finishes(() => holdsContract(ftd, `${INTRUSION}, Extra: ${big}`));
  finishes(() => holdsContract(ftd, `%FTD-1-430001: ${'K: v, '.repeat(100000)}`));
  finishes(() => holdsContract(ftd, `%FTD-1-430001: Message: "${'"'.repeat(100000)}`));
  finishes(() => holdsContract(ftd, `%ASA-4-106023: Deny tcp src ${'a:'.repeat(50000)}1.2.3.4/5`));
  finishes(() => holdsContract(ftd, `%ASA-4-106001: Inbound TCP connection denied from 1.2.3.4/5 to 6.7.8.9/10 ${'x'.repeat(200000)}`));
  const evil = alertOf(ftd, INTRUSION.replace('Message: "SERVER-OTHER Apache Log4j logging remote code execution attempt"', 'Message: "<svg onload=alert(1)>\u0000\r\nInjected: yes"'));
  assert.equal(evil.title, '<svg onload=alert(1)>\nInjected: yes');
});

test('property: generated 430001 events map back; junk and mutations hold the contract', () => {
  const ipv4 = fc.tuple(fc.integer({ min: 1, max: 223 }), fc.nat(255), fc.nat(255), fc.integer({ min: 1, max: 254 })).map((p) => p.join('.'));
  const msg = fc.stringMatching(/^[A-Z][A-Za-z0-9 ._-]{0,60}$/).map((s) => s.trim());
  fc.assert(
    fc.property(ipv4, ipv4, fc.integer({ min: 1, max: 65535 }), fc.integer({ min: 1, max: 9999999 }), msg, fc.integer({ min: 1, max: 4 }), (src, dst, port, sid, m, prio) => {
      const a = alertOf(ftd, `<161>Jun 15 2024 10:01:12 ftd01 : %FTD-1-430001: SrcIP: ${src}, DstIP: ${dst}, SrcPort: ${port}, DstPort: 443, GID: 1, SID: ${sid}, Revision: 2, Message: ${m}, Classification: Misc, Priority: ${prio}`);
      assert.equal(a.src?.ip, src);
      assert.equal(a.dst?.ip, dst);
      assert.equal(a.src?.port, port);
      assert.equal(a.rule?.id, String(sid));
      assert.equal(a.title, m);
      assert.equal(a.severity, [80, 55, 30, 15][prio - 1]);
    }),
    { numRuns: 150 },
  );
  junkHoldsContract(ftd, INTRUSION);
});

test('issue 13: an envelope with a long run of blanks takes linear time (it took cubic time: seconds at 2 KiB)', async () => {
  // The %FTD marker is looked for in the first 2 KiB, so that is where the envelope can grow: 120 to 1920.
  const sizes = [120, 480, 1920];
  const [header, body] = INTRUSION.split(' : ') as [string, string];
  for (const [name, blank] of [['spaces', ' '], ['tabs and spaces', '\t '], ['blanks around a colon', ' : ']] as const) {
    const make = (n: number) => `${header}${blank.repeat(n / blank.length)}x : ${body}`;
    await assertLinear(`cisco_ftd envelope, ${name}`, make, (text) => holdsContract(ftd, text), { sizes });
    assert.ok(alertOf(ftd, make(1920)).title.startsWith('SERVER-OTHER Apache Log4j'), name);
  }
  const spaced = alertOf(ftd, `${header}${' '.repeat(1800)}: ${body}`);
  assert.equal(spaced.time, '2024-06-15T10:01:12.000Z', 'the envelope is still read');
});
