import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import ftd, { fieldsOf } from '../../src/detectors/cisco_ftd.js';
import { finishes, fixtureLine } from './helpers.js';
import { assertLinear } from './linear.js';
import { OTHER_FORMATS, alertOf, assertOthersSniffLow, contextOf, holdsContract, junkHoldsContract, reasonOf, sniff } from './net-helpers.js';

// Records (test/fixtures/samples/cisco_ftd/) written after "Cisco Secure Firewall Threat Defense Syslog Messages" (430001-430005, field names as
// documented for FTD 6.x/7.x), "Cisco ASA Series Syslog Messages" and the FMC intrusion syslog alert layout.

const INTRUSION = fixtureLine('cisco_ftd', 'intrusion.log', 1);

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
  const a = alertOf(ftd, fixtureLine('cisco_ftd', 'intrusion.log', 2));
  assert.equal(a.title, 'PROTOCOL-ICMP PING, unusual size');
  assert.equal(a.action, 'detected');
  assert.equal(a.severity, 25);
  assert.equal(a.time, '2024-01-02T03:04:05.000Z', 'FirstPacketSecond when there is no header');
  const noResult = alertOf(ftd, fixtureLine('cisco_ftd', 'intrusion.log', 3));
  assert.equal(noResult.action, 'detected');
  assert.equal(noResult.severity, 30);
  assert.equal(noResult.rule?.id, '1:2000');
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
  assert.equal(flow!.data.event, 'connection-end');
  assert.equal(flow!.data['Prefilter Policy'], 'Unknown');
  assert.equal(flow!.data.ResponderBytes, '9271');
  assert.ok(flow!.observables.some((o) => o.type === 'user' && o.value === 'jdoe'));
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
  assert.equal(a.rule?.id, '1:2100498:7');
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
  assert.match(a.vendor_id!, /^FTD1\|/);
});

test('ASA messages: 106023/106100/302013 flows as context, IDS and threat detection as alerts, others as events', () => {
  const [deny] = contextOf(ftd, OTHER_FORMATS.asa!);
  assert.equal(deny!.kind, 'flow');
  assert.equal(deny!.data.src, '185.220.101.44');
  assert.equal(deny!.data.dport, '3389');
  assert.equal(deny!.data.acl, 'outside_access_in');
  const [acl] = contextOf(ftd, fixtureLine('cisco_ftd', 'asa.log', 1));
  assert.equal(acl!.data.action, 'denied');
  assert.equal(acl!.data.dst, '10.0.0.5');
  const [built] = contextOf(ftd, fixtureLine('cisco_ftd', 'asa.log', 2));
  assert.equal(built!.data.action, 'built');
  assert.equal(built!.data.src, '198.51.100.7');
  const ids = alertOf(ftd, fixtureLine('cisco_ftd', 'asa.log', 3));
  assert.equal(ids.title, 'IDS 2000: ICMP echo reply');
  assert.deepEqual(ids.src, { ip: '203.0.113.9' });
  assert.equal(ids.severity, 50);
  const td = alertOf(ftd, fixtureLine('cisco_ftd', 'asa.log', 4));
  assert.equal(td.title, 'Threat detection: Scanning drop rate-1 exceeded');
  const [other] = contextOf(ftd, fixtureLine('cisco_ftd', 'asa.log', 5));
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
      assert.equal(a.rule?.id, `1:${sid}:2`);
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
