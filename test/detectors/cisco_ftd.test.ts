import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import ftd, { fieldsOf } from '../../src/detectors/cisco_ftd.js';
import { fastEnough } from './helpers.js';
import { OTHER_FORMATS, alertOf, contextOf, holdsContract, othersExcept, reasonOf, sniff } from './net-helpers.js';

// Records written after "Cisco Secure Firewall Threat Defense Syslog Messages" (430001-430005, field names as
// documented for FTD 6.x/7.x), "Cisco ASA Series Syslog Messages" and the FMC intrusion syslog alert layout.

const INTRUSION =
  '<161>Jun 15 2024 10:01:12 ftd01 : %FTD-1-430001: EventPriority: High, DeviceUUID: 8c1f5a3e-2b7d-11ef-9a4c-6e0b3d2f1a57, InstanceID: 2, FirstPacketSecond: 2024-06-15T10:01:10Z, ConnectionID: 4712, AccessControlRuleAction: Block, SrcIP: 192.0.2.88, DstIP: 10.30.1.15, SrcPort: 44810, DstPort: 8080, Protocol: tcp, IngressInterface: outside, EgressInterface: dmz, IngressZone: OUTSIDE, EgressZone: DMZ, ACPolicy: HQ-Access-Policy, AccessControlRuleName: Inspect-DMZ, Prefilter Policy: Default Prefilter Policy, User: ACME\\jane.smith, ApplicationProtocol: HTTP, IntrusionPolicy: HQ-Inline-IPS, GID: 1, SID: 58722, Revision: 10, Message: "SERVER-OTHER Apache Log4j logging remote code execution attempt", Classification: Attempted User Privilege Gain, Priority: 1, InlineResult: Dropped, Impact: 2';

test('430001 intrusion: rule GID:SID:Revision, priority, dropped, user realm split, header time', () => {
  assert.equal(sniff(ftd, INTRUSION), 0.98);
  const a = alertOf(ftd, INTRUSION);
  assert.equal(a.title, 'SERVER-OTHER Apache Log4j logging remote code execution attempt');
  assert.deepEqual(a.rule, { id: '1:58722:10', name: 'SERVER-OTHER Apache Log4j logging remote code execution attempt', category: 'Attempted User Privilege Gain' });
  assert.equal(a.severity, 80);
  assert.equal(a.action, 'blocked');
  assert.equal(a.time, '2024-06-15T10:01:12.000Z');
  assert.deepEqual(a.src, { ip: '192.0.2.88', port: 44810, user: 'jane.smith' });
  assert.deepEqual(a.dst, { ip: '10.30.1.15', port: 8080 });
  assert.deepEqual(a.user, { name: 'jane.smith', domain: 'ACME' });
  assert.equal(a.vendor_id, '8c1f5a3e-2b7d-11ef-9a4c-6e0b3d2f1a57:2:4712:2024-06-15T10:01:10Z:192.0.2.88:44810:1:58722:10');
});

test('430001 variants: unquoted message with commas, "Would have dropped", EventPriority only, no header', () => {
  const a = alertOf(ftd, '%FTD-1-430001: Protocol: icmp, SrcIP: 10.1.1.1, DstIP: 10.2.2.2, ICMPType: 8, ICMPCode: 0, GID: 1, SID: 384, Revision: 8, Message: PROTOCOL-ICMP PING, unusual size, Classification: Misc activity, EventPriority: Low, InlineResult: Would have dropped, FirstPacketSecond: 2024-01-02T03:04:05Z');
  assert.equal(a.title, 'PROTOCOL-ICMP PING, unusual size');
  assert.equal(a.action, 'detected');
  assert.equal(a.severity, 25);
  assert.equal(a.time, '2024-01-02T03:04:05.000Z', 'FirstPacketSecond when there is no header');
  const noResult = alertOf(ftd, '2019-08-16T09:39:03Z firepower %FTD-1-430001: SrcIP: 10.1.1.1, DstIP: 10.2.2.2, GID: 1, SID: 2000, Message: X, Priority: 3');
  assert.equal(noResult.action, 'detected');
  assert.equal(noResult.severity, 30);
  assert.equal(noResult.rule?.id, '1:2000');
});

test('430005 malware: threat name and score, SHA-256, URI, blocked; unknown threat names fall back to the file', () => {
  const a = alertOf(ftd, 'Aug 14 2019 15:09:43 siem-ftd  %FTD-1-430005: SrcIP: 10.0.1.20, DstIP: 198.51.100.30, SrcPort: 41544, DstPort: 8000, Protocol: tcp, FileDirection: Download, FileAction: Malware Block, FileSHA256: 2546dcffc5ad854d4ddc64fbf056871cd5a00f2471cb7a5bfd4ac23b6e9eedad, SHA_Disposition: Malware, SperoDisposition: Spero detection not performed on file, ThreatName: Win.Ransomware.Eicar::95.sbx.tg, ThreatScore: 76, FileName: eicar_com.zip, FileType: ZIP, FileSize: 184, ApplicationProtocol: HTTP, Client: cURL, User: No Authentication Required, FirstPacketSecond: 2019-08-14T15:09:40Z, FilePolicy: malware-and-file-policy, FileSandboxStatus: File Size Is Too Small, URI: http://files.example.net:8000/eicar_com.zip');
  assert.equal(a.title, 'Malware: Win.Ransomware.Eicar::95.sbx.tg');
  assert.deepEqual(a.malware, { name: 'Win.Ransomware.Eicar::95.sbx.tg' });
  assert.equal(a.severity, 76);
  assert.equal(a.action, 'blocked');
  assert.equal(a.time, '2019-08-14T15:09:43.000Z');
  assert.deepEqual(a.file, { name: 'eicar_com.zip', sha256: '2546dcffc5ad854d4ddc64fbf056871cd5a00f2471cb7a5bfd4ac23b6e9eedad', size: 184 });
  assert.equal(a.url, 'http://files.example.net:8000/eicar_com.zip');
  assert.equal(a.domain, 'files.example.net');
  assert.equal(a.user, undefined);
  const unknown = alertOf(ftd, '<113>2021-08-25T14:55:13Z   %FTD-1-430005: DeviceUUID: c20ef000-c4f3-11e9-9b57-c6a90fda2892, InstanceID: 3, FirstPacketSecond: 2021-08-25T14:55:06Z, ConnectionID: 44560, SrcIP: 172.16.0.2, DstIP: 203.0.113.156, SrcPort: 65000, DstPort: 80, Protocol: tcp, FileDirection: Download, FileAction: Malware Cloud Lookup, FileSHA256: 2e05c13906b7435e80b6128c2bf86ba0644b0e6205efb96f3c14e52afd75f1c9, SHA_Disposition: Unknown, ThreatName: Invalid ID, FileName: update.cab, FileType: MSCAB, FileSize: 7179, User: Not Found, FilePolicy: FILE POLICY, URI: http://download.example.com/d/update.cab, IngressVRF: Global, EgressVRF: Global');
  assert.equal(unknown.title, 'Malware: update.cab');
  assert.equal(unknown.action, 'detected');
  assert.equal(unknown.severity, 60);
  assert.equal(unknown.malware, undefined);
  assert.equal(unknown.time, '2021-08-25T14:55:13.000Z');
});

test('430004 file event: detect action, low severity, file policy as rule', () => {
  const a = alertOf(ftd, 'Aug 14 2019 14:54:25 siem-ftd  %FTD-1-430004: SrcIP: 10.0.1.20, DstIP: 198.51.100.30, SrcPort: 41522, DstPort: 8000, Protocol: tcp, FileDirection: Download, FileAction: Detect, FileName: exploit.exe, FileType: ELF, ApplicationProtocol: HTTP, Client: cURL, User: No Authentication Required, FirstPacketSecond: 2019-08-14T14:54:24Z, FilePolicy: malware-and-file-policy, FileSandboxStatus: File Size Is Too Small, URI: http://198.51.100.30:8000/exploit.exe');
  assert.equal(a.title, 'File event: exploit.exe (ELF)');
  assert.equal(a.action, 'detected');
  assert.equal(a.severity, 30);
  assert.deepEqual(a.rule, { id: 'file:malware-and-file-policy:ELF', name: 'malware-and-file-policy', category: 'file' });
  assert.equal(a.url, 'http://198.51.100.30:8000/exploit.exe');
});

test('430002/430003: plain connections are flow context; Security Intelligence hits are alerts', () => {
  const [flow] = contextOf(ftd, '<166>Jun 15 2024 10:00:30 ftd01 : %FTD-6-430003: DeviceUUID: 8c1f5a3e-2b7d-11ef-9a4c-6e0b3d2f1a57, InstanceID: 1, FirstPacketSecond: 2024-06-15T10:00:28Z, ConnectionID: 4711, AccessControlRuleAction: Allow, SrcIP: 10.20.30.40, DstIP: 93.184.216.34, SrcPort: 51514, DstPort: 443, Protocol: tcp, IngressInterface: inside, EgressInterface: outside, ACPolicy: Corp-ACP, AccessControlRuleName: Allow-Outbound-Web, Prefilter Policy: Unknown, User: corp\\jdoe, Client: SSL client, ApplicationProtocol: HTTPS, WebApplication: Example, InitiatorBytes: 1834, ResponderBytes: 9271, NAPPolicy: Balanced Security and Connectivity');
  assert.equal(flow!.kind, 'flow');
  assert.equal(flow!.data.event, 'connection-end');
  assert.equal(flow!.data['Prefilter Policy'], 'Unknown');
  assert.equal(flow!.data.ResponderBytes, '9271');
  assert.ok(flow!.observables.some((o) => o.type === 'user' && o.value === 'jdoe'));
  const si = alertOf(ftd, '2020-03-01T01:02:36Z CISCO-SENSOR-3D Alerts %NGIPS-0-430003: DeviceUUID: 1c8ff662-08f3-11e4-85c0-bc960372972f, AccessControlRuleAction: Allow, AccessControlRuleReason: IP Monitor, SrcIP: 10.2.3.4, DstIP: 203.0.113.144, SrcPort: 65090, DstPort: 80, Protocol: tcp, UserAgent: Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/80.0.3987.87 Safari/537.36, Client: Chrome, SecIntMatchingIP: Destination, IPReputationSICategory: Malware, HTTPReferer: http://ref.example/mk?c=1, ReferencedHost: bad-malwaresite.example, URL: http://bad-malwaresite.example/favicon.ico');
  assert.equal(si.title, 'Security Intelligence: Malware (destination address)');
  assert.equal(si.action, 'detected');
  assert.equal(si.severity, 70);
  assert.equal(si.domain, 'bad-malwaresite.example');
  const dns = alertOf(ftd, '%FTD-1-430002: SrcIP: 10.2.3.4, DstIP: 10.0.0.53, SrcPort: 5353, DstPort: 53, Protocol: udp, AccessControlRuleAction: Block, DNSQuery: cnc.evil.example, DNSSICategory: DNS CnC, FirstPacketSecond: 2024-01-01T00:00:00Z');
  assert.equal(dns.action, 'blocked');
  assert.equal(dns.domain, 'cnc.evil.example');
});

test('JSON body after the message id is read like Key: Value', () => {
  const a = alertOf(ftd, '2026-02-09T17:35:19Z FTD1  %FTD-1-430001: {"SrcIP":"10.9.9.9","DstIP":"10.8.8.8","GID":1,"SID":2100498,"Revision":7,"Message":"INDICATOR-COMPROMISE id check returned root","Priority":2,"InlineResult":"Blocked"}');
  assert.equal(a.rule?.id, '1:2100498:7');
  assert.equal(a.severity, 55);
  assert.equal(a.action, 'blocked');
});

test('SFIMS classic FMC intrusion alert: bracketed fields, device, event time', () => {
  const line = 'Mar 12 12:00:22 fmc01 SFIMS: [Primary Detection Engine (a357b2f2-1111-2222-3333-444455556666)][Policy1] Alert message: [1:1000000:1] "Custom Rule" [Impact: Unknown] From "FTD1" at Mon Mar 12 12:00:21 2018 UTC [Classification: Potential Corporate Policy Violation] [Priority: 1] {TCP} 192.168.1.10:54352->192.168.2.10:80';
  assert.equal(sniff(ftd, line), 0.9);
  const a = alertOf(ftd, line);
  assert.equal(a.title, 'Custom Rule');
  assert.equal(a.time, '2018-03-12T12:00:21.000Z');
  assert.equal(a.rule?.category, 'Potential Corporate Policy Violation');
  assert.deepEqual(a.src, { ip: '192.168.1.10', port: 54352 });
  assert.deepEqual(a.dst, { ip: '192.168.2.10', port: 80 });
  assert.match(a.vendor_id!, /^FTD1\|/);
});

test('ASA messages: 106023/106100/302013 flows as context, IDS and threat detection as alerts, others as events', () => {
  const [deny] = contextOf(ftd, OTHER_FORMATS.asa!);
  assert.equal(deny!.kind, 'flow');
  assert.equal(deny!.data.src, '185.220.101.44');
  assert.equal(deny!.data.dport, '3389');
  assert.equal(deny!.data.acl, 'outside_access_in');
  const [acl] = contextOf(ftd, '<166>Jan  5 10:00:00 asa1 %ASA-6-106100: access-list outside_in denied tcp outside/198.51.100.7(40112) -> inside/10.0.0.5(22) hit-cnt 1 first hit [0x91f4a1c3, 0x0]');
  assert.equal(acl!.data.action, 'denied');
  assert.equal(acl!.data.dst, '10.0.0.5');
  const [built] = contextOf(ftd, '<166>Jan  5 10:00:00 ftd1 %FTD-6-302013: Built inbound TCP connection 4477 for outside:198.51.100.7/40112 (198.51.100.7/40112) to inside:10.0.0.5/443 (203.0.113.5/443)');
  assert.equal(built!.data.action, 'built');
  assert.equal(built!.data.src, '198.51.100.7');
  const ids = alertOf(ftd, '<164>Jan  5 10:00:00 asa1 %ASA-4-400010: IDS:2000 ICMP echo reply from 203.0.113.9 to 10.0.0.5 on interface outside');
  assert.equal(ids.title, 'IDS 2000: ICMP echo reply');
  assert.deepEqual(ids.src, { ip: '203.0.113.9' });
  assert.equal(ids.severity, 50);
  const td = alertOf(ftd, '<164>Jan  5 10:00:00 asa1 %ASA-4-733100: [ Scanning] drop rate-1 exceeded. Current burst rate is 10 per second, max configured rate is 10; Current average rate is 5 per second, max configured rate is 5; Cumulative total count is 3011');
  assert.equal(td.title, 'Threat detection: Scanning drop rate-1 exceeded');
  const [other] = contextOf(ftd, '<166>Jan  5 10:00:00 asa1 %ASA-6-113004: AAA user authentication Successful : server = 10.0.0.10 : user = alice');
  assert.equal(other!.kind, 'event');
  assert.equal(other!.data.message_id, '113004');
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
  for (const [name, text] of othersExcept('ftd', 'asa')) assert.ok(sniff(ftd, text) < 0.5, `${name} sniffed ${sniff(ftd, text)}`);
});

test('malformed and hostile records', () => {
  assert.match(reasonOf(ftd, 'hello'), /no %FTD-n-nnnnnn/);
  assert.match(reasonOf(ftd, '%FTD-1-430001: SrcIP: 1.2.3.4'), /neither SID nor Message/);
  assert.match(reasonOf(ftd, 'x SFIMS: nothing here'), /without an intrusion rule/);
  const big = 'A'.repeat(1 << 20);
  fastEnough(2000, () => holdsContract(ftd, `${INTRUSION}, Extra: ${big}`));
  fastEnough(2000, () => holdsContract(ftd, `%FTD-1-430001: ${'K: v, '.repeat(100000)}`));
  fastEnough(2000, () => holdsContract(ftd, `%FTD-1-430001: Message: "${'"'.repeat(100000)}`));
  fastEnough(2000, () => holdsContract(ftd, `%ASA-4-106023: Deny tcp src ${'a:'.repeat(50000)}1.2.3.4/5`));
  fastEnough(2000, () => holdsContract(ftd, `%ASA-4-106001: Inbound TCP connection denied from 1.2.3.4/5 to 6.7.8.9/10 ${'x'.repeat(200000)}`));
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
      assert.equal(a.rule?.id, `1:${sid}:2`);
      assert.equal(a.title, m);
      assert.equal(a.severity, [80, 55, 30, 15][prio - 1]);
    }),
    { numRuns: 150 },
  );
  fc.assert(
    fc.property(fc.string({ maxLength: 300 }), fc.integer({ min: 0, max: INTRUSION.length }), (junk, at) => {
      holdsContract(ftd, junk);
      holdsContract(ftd, INTRUSION.slice(0, at) + junk + INTRUSION.slice(at));
    }),
    { numRuns: 300 },
  );
});
