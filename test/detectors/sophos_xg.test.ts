import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import sophos from '../../src/detectors/sophos_xg.js';
import { finishes, fixtureLine } from './helpers.js';
import { OTHER_FORMATS, alertOf, assertOthersSniffLow, contextOf, holdsContract, junkHoldsContract, reasonOf, sniff } from './net-helpers.js';

// Records (test/fixtures/samples/sophos_xg/) written after the Sophos Firewall (SFOS) syslog guide: log_id / log_type / log_component / log_subtype,
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
  assert.equal(a.src?.user, 'corp\\frank');
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
  assert.equal(allowed!.kind, 'web');
  const app = alertOf(sophos, fixtureLine('sophos_xg', 'content_filtering.log', 3));
  assert.equal(app.title, 'Web filter Denied: application Torrent Clients P2P');
  const sandbox = alertOf(sophos, fixtureLine('sophos_xg', 'sandbox.log', 1));
  assert.equal(sandbox.title, 'Sandstorm: Malicious - doc.pdf');
  assert.equal(sandbox.file?.sha1, '3395856ce81f2b7382dee72602f798b642f14140');
  const [clean] = contextOf(sophos, fixtureLine('sophos_xg', 'sandbox.log', 2));
  assert.equal(clean!.kind, 'file');
});

test('firewall → flow, VPN events → vpn_session, authentication → auth, anti-spam → email, others → event', () => {
  const [flow] = contextOf(sophos, fixtureLine('sophos_xg', 'events.log', 1));
  assert.equal(flow!.kind, 'flow');
  assert.ok(flow!.observables.some((o) => o.type === 'mac' && o.value === '00:26:37:ee:47:20'));
  assert.ok(flow!.observables.some((o) => o.role === 'src_nat'));
  const [vpn] = contextOf(sophos, fixtureLine('sophos_xg', 'events.log', 2));
  assert.equal(vpn!.kind, 'vpn_session');
  assert.equal(vpn!.data.user, 'nina');
  assert.equal(vpn!.data.public_ip, '198.51.100.44');
  assert.equal(vpn!.data.private_ip, '10.81.234.5');
  const [auth] = contextOf(sophos, fixtureLine('sophos_xg', 'events.log', 3));
  assert.equal(auth!.kind, 'auth');
  const [spam] = contextOf(sophos, fixtureLine('sophos_xg', 'events.log', 4));
  assert.equal(spam!.kind, 'email');
  const [health] = contextOf(sophos, fixtureLine('sophos_xg', 'events.log', 5));
  assert.equal(health!.kind, 'event');
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
