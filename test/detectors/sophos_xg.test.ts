import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import sophos from '../../src/detectors/sophos_xg.js';
import { finishes, fixtureLine } from './helpers.js';
import { OTHER_FORMATS, alertOf, assertOthersSniffLow, contextOf, holdsContract, junkHoldsContract, reasonOf, sniff } from './net-helpers.js';

// Records (test/fixtures/samples/sophos_xg/): elastic_*.log are Elastic integrations' pipeline test inputs (see SOURCE.md); the others were written after the Sophos Firewall (SFOS) syslog guide: log_id / log_type / log_component / log_subtype,
// SFOS ≤ 18.0 (date, time, timezone, priority) and 18.5+ (timestamp with offset, severity, log_version).

const IDP_OLD = fixtureLine('sophos_xg', 'idp.log', 1);

test('IDP (SFOS 17/18.0): signature, classification, rule priority severity, BST zone, detect action', () => {
  assert.ok(sniff(sophos, IDP_OLD) >= 0.9);
  const a = alertOf(sophos, IDP_OLD);
  assert.equal(a.title, 'FILE-PDF EmbeddedFile contained within a PDF');
  assert.deepEqual(a.rule, { id: '26022', name: 'FILE-PDF EmbeddedFile contained within a PDF', category: 'A Network Trojan was detected' });
  assert.equal(a.severity, 80);
  assert.deepEqual(a.vendor_severity, { value: '1', scale: 'sophos idp rule_priority 1 (high) - 5 (low)' });
  assert.equal(a.action, 'detected');
  assert.equal(a.time, '2018-05-23T15:20:34.000Z');
  assert.deepEqual(a.src, { ip: '10.0.0.168', port: 28938 });
  assert.deepEqual(a.dst, { ip: '10.1.1.234', port: 25 });
  const drop = alertOf(sophos, IDP_OLD.replace('log_subtype="Detect"', 'log_subtype="Drop"').replace('rule_priority=1', 'rule_priority=3'));
  assert.equal(drop.action, 'blocked');
  assert.equal(drop.severity, 30);
});

test('IDP (SFOS 18.5+/19): ISO timestamp with offset, syslog header, severity word', () => {
  const line = fixtureLine('sophos_xg', 'idp.log', 2);
  const a = alertOf(sophos, line);
  assert.equal(a.time, '2022-12-15T03:42:44.000Z');
  assert.equal(a.action, 'blocked');
  assert.deepEqual(a.user, { name: 'frank', domain: 'corp' });
  assert.equal(a.src?.user, 'frank', 'the account without its domain prefix');
  assert.equal(a.event_type, 'IDP/Signatures');
  assert.match(a.vendor_id!, /^X21000ABCDEF12:020804407002:/);
});

test('anti-virus (web and SMTP): virus name, URL, domain, file, e-mail', () => {
  const web = alertOf(sophos, fixtureLine('sophos_xg', 'anti_virus.log', 1));
  assert.equal(web.title, 'EICAR-AV-Test');
  assert.deepEqual(web.malware, { name: 'EICAR-AV-Test' });
  assert.equal(web.url, 'https://secure.eicar.org/eicar.com');
  assert.equal(web.domain, 'secure.eicar.org');
  assert.equal(web.severity, 85);
  assert.equal(web.time, '2016-12-02T18:48:18.000Z');
  assert.deepEqual(web.user, { name: 'rich' });
  const smtp = alertOf(sophos, fixtureLine('sophos_xg', 'anti_virus.log', 2));
  assert.equal(smtp.title, 'Troj/DocDl-ABC in invoice.doc');
  assert.deepEqual(smtp.email, { from: 'attacker@evil.example', to: ['victim@corp.example'], subject: 'Invoice' });
  assert.equal(smtp.time, '2017-01-31T12:30:00.000Z', 'IST on Sophos devices is +05:30');
});

test('ATP: threat name with the unquoted space SFOS writes, event GUID as vendor id', () => {
  const a = alertOf(sophos, fixtureLine('sophos_xg', 'atp.log', 1));
  assert.equal(a.title, 'ATP: C2/Generic-A');
  assert.equal(a.vendor_id, 'C366ACFB-7A6F-4870-B359-A6CFDA8C85F7');
  assert.equal(a.action, 'blocked');
  assert.deepEqual(a.src, { ip: '10.198.47.71', port: 22623, user: 'gaurav' });
  assert.deepEqual(a.dst, { ip: '203.0.113.12', port: 80 });
  assert.equal(a.url, undefined, 'an address is not a URL');
  const dom = alertOf(sophos, fixtureLine('sophos_xg', 'atp.log', 2));
  assert.equal(dom.domain, 'cnc.evil.example');
  assert.equal(dom.url, 'http://cnc.evil.example/gate.php');
  assert.equal(dom.action, 'detected');
  assert.equal(dom.host?.id, '1f2e3d4c-aaaa-bbbb-cccc-0123456789ab');
  assert.equal(dom.process?.name, 'x.exe');
});

test('web filter: denied content filtering is an alert, allowed is web context; sandbox verdicts', () => {
  const denied = alertOf(sophos, fixtureLine('sophos_xg', 'content_filtering.log', 1));
  assert.equal(denied.title, 'Web filter Denied: Malware');
  assert.equal(denied.action, 'blocked');
  assert.equal(denied.domain, 'malware.example.net');
  assert.equal(denied.time, '2021-11-16T00:28:48.000Z');
  const [allowed] = contextOf(sophos, fixtureLine('sophos_xg', 'content_filtering.log', 2));
  assert.equal(allowed!.kind, 'http');
  assert.equal(allowed!.event_type, 'Content Filtering/HTTP');
  assert.equal(allowed!.url, 'https://www.example.com');
  assert.equal(allowed!.domain, 'www.example.com');
  assert.equal(allowed!.outcome, 'success');
  assert.deepEqual(allowed!.device, { name: 'sophos' }, 'the syslog header names the firewall');
  const app = alertOf(sophos, fixtureLine('sophos_xg', 'content_filtering.log', 3));
  assert.equal(app.title, 'Web filter Denied: application Torrent Clients P2P');
  const sandbox = alertOf(sophos, fixtureLine('sophos_xg', 'sandbox.log', 1));
  assert.equal(sandbox.title, 'Sandstorm: Malicious - doc.pdf');
  assert.equal(sandbox.file?.sha1, '3395856ce81f2b7382dee72602f798b642f14140');
  const [clean] = contextOf(sophos, fixtureLine('sophos_xg', 'sandbox.log', 2));
  assert.equal(clean!.kind, 'file');
  assert.equal(clean!.file?.name, 'ok.pdf');
});

test('Elastic pipeline records: ATP firewall, Sandstorm verdicts, FTP anti-virus, DHCP lease', () => {
  const atp = alertOf(sophos, fixtureLine('sophos_xg', 'elastic_atp.log', 1));
  assert.deepEqual([atp.event_type, atp.src?.ip, atp.dst?.ip, atp.rule?.name], ['ATP/Firewall', '10.198.32.89', '81.2.69.193', 'C2/Generic-A']);
  assert.equal(atp.user, undefined, 'user_name="" is no user');
  const [cloudClean] = contextOf(sophos, fixtureLine('sophos_xg', 'elastic_sandstorm.log', 1));
  assert.equal(cloudClean!.kind, 'file');
  assert.deepEqual(cloudClean!.file, { name: 'test7.exe', sha1: '7769b038037bc8e5c6373e92f99aa2324eee827c', size: 871700 });
  assert.deepEqual(cloudClean!.user, { name: 'rich' });
  assert.equal(cloudClean!.domain, 'floater.baldrys.ca', 'source: the server the file came from');
  assert.deepEqual(cloudClean!.device, { name: 'SFVUNL', id: 'C01001K234RXPA1' });
  const bad = alertOf(sophos, fixtureLine('sophos_xg', 'elastic_sandstorm.log', 2));
  assert.equal(bad.domain, 'ta-web-static.qa.astaro.de');
  assert.equal(bad.file?.sha1, 'dd0bf29e56e4433e7dcffbe35f4003b1f251ce9d');
  const ftp = alertOf(sophos, fixtureLine('sophos_xg', 'elastic_anti_virus_ftp.log', 1));
  assert.deepEqual([ftp.file?.name, ftp.file?.path], ['ta_test_file_1ta-cl1-46', '/var/www//home/ftp-user/ta_test_file_1ta-cl1-46']);
  const [clean] = contextOf(sophos, fixtureLine('sophos_xg', 'elastic_anti_virus_ftp.log', 1).replace('log_subtype="Virus"', 'log_subtype="Allowed"').replace('virus="EICAR-AV-Test"', 'virus=""'));
  assert.equal(clean!.kind, 'file', 'a scanned transfer without a finding is not an alert');
  assert.equal(clean!.file?.path, '/var/www//home/ftp-user/ta_test_file_1ta-cl1-46');
  const [dhcp] = contextOf(sophos, fixtureLine('sophos_xg', 'elastic_dhcp.log', 1));
  assert.equal(dhcp!.kind, 'dhcp');
  assert.equal(dhcp!.assigned_ip, '192.168.2.131');
  assert.deepEqual(dhcp!.host, { mac: '00:11:d9:a0:19:11', name: 'TIVO-846001190AE52F2' });
  assert.deepEqual(dhcp!.device, { name: 'sophos', id: 'C01001BQC8TFFFF' });
});

test('firewall → flow, VPN events → vpn, authentication → auth, anti-spam → email, system health → status', () => {
  const [flow] = contextOf(sophos, fixtureLine('sophos_xg', 'events.log', 1));
  assert.equal(flow!.kind, 'flow');
  assert.equal(flow!.event_type, 'Firewall/Firewall Rule');
  assert.deepEqual(flow!.src, { ip: '192.168.2.111', port: 61709 });
  assert.deepEqual(flow!.dst, { ip: '203.0.113.156', port: 443 });
  assert.deepEqual(flow!.host, { mac: '00:26:37:ee:47:20' });
  assert.deepEqual(flow!.device, { name: 'sophos', id: 'C01001BQC8TFFFF' });
  assert.equal(flow!.outcome, 'failure');
  assert.ok(flow!.observables.some((o) => o.role === 'src_nat'));
  const [vpn] = contextOf(sophos, fixtureLine('sophos_xg', 'events.log', 2));
  assert.equal(vpn!.kind, 'vpn');
  assert.equal(vpn!.event_type, 'Event/SSL VPN');
  assert.deepEqual(vpn!.user, { name: 'nina' });
  assert.equal(vpn!.src?.ip, '198.51.100.44');
  assert.equal(vpn!.assigned_ip, '10.81.234.5');
  assert.equal(vpn!.outcome, 'success');
  assert.deepEqual(vpn!.device, { name: 'SFW' }, 'device_name when there is no syslog header');
  const [auth] = contextOf(sophos, fixtureLine('sophos_xg', 'events.log', 3));
  assert.equal(auth!.kind, 'auth');
  assert.deepEqual(auth!.user, { name: 'omar' });
  assert.equal(auth!.src?.ip, '10.0.0.9');
  assert.equal(auth!.outcome, 'failure');
  const [spam] = contextOf(sophos, fixtureLine('sophos_xg', 'events.log', 4));
  assert.equal(spam!.kind, 'email');
  assert.deepEqual(spam!.email, { from: 'x@spam.example', to: ['y@corp.example'] }, 'sender and recipients in the canonical email');
  const [health] = contextOf(sophos, fixtureLine('sophos_xg', 'events.log', 5));
  assert.equal(health!.kind, 'status');
  assert.equal(health!.event_type, 'System Health/CPU');
});

test('every alert type carries the reporting firewall as device (header host, else device_name; serial as id), as context does', () => {
  const deviceOf = (line: string) => alertOf(sophos, line).device;
  // IDP: device_name and device_id without a header; the syslog header's host and device_serial_id with one
  const idp = alertOf(sophos, IDP_OLD);
  assert.deepEqual(idp.device, { name: 'XG750', id: 'SFDemo-f64dd6be' });
  assert.equal(idp.host, undefined, 'the firewall is not the host the detection is about');
  assert.ok(!idp.observables.some((o) => o.value === 'XG750' || o.role === 'device'), 'the device is not an indicator');
  assert.deepEqual(deviceOf(fixtureLine('sophos_xg', 'idp.log', 2)), { name: 'sophos', id: 'X21000ABCDEF12' });
  // Anti-Virus
  assert.deepEqual(deviceOf(fixtureLine('sophos_xg', 'anti_virus.log', 1)), { name: 'SFVUNL', id: 'C01001K234RXPA1' });
  // ATP: the device beside the endpoint the detection is about (host.id ep_uuid)
  assert.deepEqual(deviceOf(fixtureLine('sophos_xg', 'atp.log', 1)), { name: 'CR750iNG-XP', id: 'C44313350024-P29PUA' });
  const atpWeb = alertOf(sophos, fixtureLine('sophos_xg', 'atp.log', 2));
  assert.deepEqual([atpWeb.device, atpWeb.host], [{ name: 'XG310', id: 'C30006T22TGR89B' }, { id: '1f2e3d4c-aaaa-bbbb-cccc-0123456789ab' }]);
  // Sandbox (Sandstorm): the same mapping as the clean verdict's file context
  assert.deepEqual(deviceOf(fixtureLine('sophos_xg', 'elastic_sandstorm.log', 2)), { name: 'SG650', id: 'SFDemo-058196d' });
  assert.deepEqual(deviceOf(fixtureLine('sophos_xg', 'sandbox.log', 1)), { name: 'XG', id: 'C1' });
  // Content Filtering blocks: the header host, as on the allowed request's http context
  const denied = alertOf(sophos, fixtureLine('sophos_xg', 'content_filtering.log', 1));
  assert.deepEqual(denied.device, { name: 'sophos', id: 'C01001BQC8TFFFF' });
  assert.deepEqual(deviceOf(fixtureLine('sophos_xg', 'content_filtering.log', 3)), contextOf(sophos, fixtureLine('sophos_xg', 'content_filtering.log', 2))[0]!.device);
  // WAF
  const waf = alertOf(sophos, 'device="SFW" date=2020-02-02 time=10:00:00 timezone="GMT" device_name="XG430" device_id=C43000ABC log_id=075000617001 log_type="WAF" log_component="Web Application Firewall" log_subtype="Denied" priority=Notice src_ip=198.51.100.9 dst_ip=10.0.0.80 url="https://shop.example.com/login"');
  assert.equal(waf.title.startsWith('WAF Denied'), true);
  assert.deepEqual(waf.device, { name: 'XG430', id: 'C43000ABC' });
});

test('sniff: SFOS high; FortiOS and other key=value formats low', () => {
  assert.ok(sniff(sophos, OTHER_FORMATS.sophos_xg!) >= 0.9);
  assertOthersSniffLow(sophos, 'sophos_xg');
});

test('malformed and hostile records', () => {
  assert.match(reasonOf(sophos, 'device="SFW" log_id=1'), /log_type is missing/);
  assert.match(reasonOf(sophos, 'log_type="IDP" date=2020-13-45 time=25:61:00'), /not a valid time/);
  assert.match(reasonOf(sophos, 'log_type="IDP" timestamp="yesterday"'), /not a valid time/);
  const big = 'A'.repeat(1 << 20);
  finishes(() => holdsContract(sophos, `${IDP_OLD} signature_msg="${big}"`));
  finishes(() => holdsContract(sophos, `log_type="IDP" ${'word '.repeat(200000)}`));
  finishes(() => holdsContract(sophos, `log_type="IDP" k=${'x '.repeat(200000)}`));
  finishes(() => holdsContract(sophos, `log_type="IDP" signature_msg="${'\\'.repeat(100001)}`));
  const evil = alertOf(sophos, IDP_OLD.replace('signature_msg="FILE-PDF EmbeddedFile contained within a PDF"', 'signature_msg="<img src=x onerror=alert(1)>\u0007\u001b]0;pwn\u0007"'));
  assert.equal(evil.title, '<img src=x onerror=alert(1)>]0;pwn');
});

test('property: generated IDP records map back; junk and mutations hold the contract', () => {
  const ipv4 = fc.tuple(fc.integer({ min: 1, max: 223 }), fc.nat(255), fc.nat(255), fc.integer({ min: 1, max: 254 })).map((p) => p.join('.'));
  const msg = fc.stringMatching(/^[A-Z][A-Za-z0-9 .-]{0,50}$/).map((s) => s.trim()).filter((s) => s !== '');
  fc.assert(
    fc.property(ipv4, ipv4, msg, fc.integer({ min: 1, max: 9999999 }), fc.integer({ min: 1, max: 4 }), (src, dst, m, sid, prio) => {
      const a = alertOf(sophos, `device="SFW" date=2020-02-02 time=10:00:00 timezone="GMT" log_id=020703406001 log_type="IDP" log_component="Signatures" log_subtype="Detect" priority=Warning signature_id=${sid} signature_msg="${m}" rule_priority=${prio} src_ip=${src} dst_ip=${dst}`);
      assert.equal(a.title, m);
      assert.equal(a.rule?.id, String(sid));
      assert.equal(a.src?.ip, src);
      assert.equal(a.dst?.ip, dst);
      assert.equal(a.severity, [80, 55, 30, 15][prio - 1]);
    }),
    { numRuns: 150 },
  );
  junkHoldsContract(sophos, IDP_OLD);
});
