import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import sophos from '../../src/detectors/sophos_xg.js';
import { fastEnough } from './helpers.js';
import { OTHER_FORMATS, alertOf, contextOf, holdsContract, othersExcept, reasonOf, sniff } from './net-helpers.js';

// Records written after the Sophos Firewall (SFOS) syslog guide: log_id / log_type / log_component / log_subtype,
// SFOS ≤ 18.0 (date, time, timezone, priority) and 18.5+ (timestamp with offset, severity, log_version).

const IDP_OLD =
  'device="SFW" date=2018-05-23 time=16:20:34 timezone="BST" device_name="XG750" device_id=SFDemo-f64dd6be log_id=020703406001 log_type="IDP" log_component="Anomaly" log_subtype="Detect" priority=Warning idp_policy_id=1 fw_rule_id=2 user_name="" signature_id=26022 signature_msg="FILE-PDF EmbeddedFile contained within a PDF" classification="A Network Trojan was detected" rule_priority=1 src_ip=10.0.0.168 src_country_code=R1 dst_ip=10.1.1.234 dst_country_code=R1 protocol="TCP" src_port=28938 dst_port=25 platform="Windows" category="Malware Communication" target="Server"';

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
  const line = '<30>Dec 15 09:12:44 sophos device_name="SFW" timestamp="2022-12-15T09:12:44+0530" device_model="XGS2100" device_serial_id="X21000ABCDEF12" log_id="020804407002" log_type="IDP" log_component="Signatures" log_subtype="Drop" log_version=1 severity="Warning" fw_rule_id="7" fw_rule_name="LAN to WAN" ips_policy_id=3 user_name="corp\\\\frank" signature_id=58722 signature_msg="SERVER-OTHER Apache Log4j logging remote code execution attempt" classification="Attempted User Privilege Gain" rule_priority=1 src_ip="203.0.113.66" src_country="NLD" dst_ip="10.8.0.20" dst_country="R1" protocol="TCP" src_port=40123 dst_port=8080 platform="Linux" category="Server-Other" target="Server"';
  const a = alertOf(sophos, line);
  assert.equal(a.time, '2022-12-15T03:42:44.000Z');
  assert.equal(a.action, 'blocked');
  assert.deepEqual(a.user, { name: 'frank', domain: 'corp' });
  assert.equal(a.src?.user, 'corp\\frank');
  assert.match(a.vendor_id!, /^X21000ABCDEF12:020804407002:/);
});

test('anti-virus (web and SMTP): virus name, URL, domain, file, e-mail', () => {
  const web = alertOf(sophos, 'device="SFW" date=2016-12-02 time=18:48:18 timezone="GMT" device_name="SFVUNL" device_id=C01001K234RXPA1 log_id=034806208001 log_type="Anti-Virus" log_component="HTTPS" log_subtype="Virus" priority=Critical fw_rule_id=2 user_name="rich" iap=13 virus="EICAR-AV-Test" url="https://secure.eicar.org/eicar.com" domainname="secure.eicar.org" src_ip=192.168.73.220 src_country_code=R1 dst_ip=203.0.113.61 dst_country_code=DEU protocol="TCP" src_port=51499 dst_port=443 sent_bytes=0 recv_bytes=353');
  assert.equal(web.title, 'EICAR-AV-Test');
  assert.deepEqual(web.malware, { name: 'EICAR-AV-Test' });
  assert.equal(web.url, 'https://secure.eicar.org/eicar.com');
  assert.equal(web.domain, 'secure.eicar.org');
  assert.equal(web.severity, 85);
  assert.equal(web.time, '2016-12-02T18:48:18.000Z');
  assert.deepEqual(web.user, { name: 'rich' });
  const smtp = alertOf(sophos, 'device="SFW" date=2017-01-31 time=18:00:00 timezone="IST" device_name="CR750iNG" device_id=C44313350024 log_id=031106210001 log_type="Anti-Virus" log_component="SMTP" log_subtype="Virus" priority=Critical user_name="" mailid="<abc@mail.example>" from_email_address="attacker@evil.example" to_email_address="victim@corp.example" email_subject="Invoice" virus="Troj/DocDl-ABC" filename="invoice.doc" src_ip=203.0.113.8 dst_ip=10.0.0.25 protocol="TCP" src_port=42000 dst_port=25');
  assert.equal(smtp.title, 'Troj/DocDl-ABC in invoice.doc');
  assert.deepEqual(smtp.email, { from: 'attacker@evil.example', to: ['victim@corp.example'], subject: 'Invoice' });
  assert.equal(smtp.time, '2017-01-31T12:30:00.000Z', 'IST on Sophos devices is +05:30');
});

test('ATP: threat name with the unquoted space SFOS writes, event GUID as vendor id', () => {
  const a = alertOf(sophos, 'device="SFW" date=2017-01-31 time=18:44:31 timezone="IST" device_name="CR750iNG-XP" device_id=C44313350024-P29PUA log_id=086304418010 log_type="ATP" log_component="Firewall" log_subtype="Drop" priority=Warning user_name="gaurav" protocol="TCP" src_port=22623 dst_port=80 sourceip=10.198.47.71 destinationip=203.0.113.12 url=203.0.113.12 threatname=C2 /Generic-A eventid=C366ACFB-7A6F-4870-B359-A6CFDA8C85F7 eventtype="Standard" login_user="" process_user="" ep_uuid= execution_path=""');
  assert.equal(a.title, 'ATP: C2/Generic-A');
  assert.equal(a.vendor_id, 'C366ACFB-7A6F-4870-B359-A6CFDA8C85F7');
  assert.equal(a.action, 'blocked');
  assert.deepEqual(a.src, { ip: '10.198.47.71', port: 22623, user: 'gaurav' });
  assert.deepEqual(a.dst, { ip: '203.0.113.12', port: 80 });
  assert.equal(a.url, undefined, 'an address is not a URL');
  const dom = alertOf(sophos, 'device="SFW" date=2018-06-05 time=08:49:00 timezone="BST" device_name="XG310" device_id=C30006T22TGR89B log_id=086320518009 log_type="ATP" log_component="Web" log_subtype="Alert" priority=Notice user_name="" sourceip=10.198.32.89 destinationip=203.0.113.193 url=http://cnc.evil.example/gate.php threatname=Mal/Generic-S eventid=C7E26E6F-0097-4EA2-89DE-C31C40636CB2 ep_uuid=1f2e3d4c-aaaa-bbbb-cccc-0123456789ab execution_path="C:\\Users\\bob\\AppData\\x.exe"');
  assert.equal(dom.domain, 'cnc.evil.example');
  assert.equal(dom.url, 'http://cnc.evil.example/gate.php');
  assert.equal(dom.action, 'detected');
  assert.equal(dom.host?.id, '1f2e3d4c-aaaa-bbbb-cccc-0123456789ab');
  assert.equal(dom.process?.name, 'x.exe');
});

test('web filter: denied content filtering is an alert, allowed is web context; sandbox verdicts', () => {
  const denied = alertOf(sophos, 'Nov 16 00:28:48 sophos device_name="SFW" timestamp="2021-11-15T18:28:48-0600" device_model="SFVH" device_serial_id="C01001BQC8TFFFF" log_id=050902616002 log_type="Content Filtering" log_component="HTTP" log_subtype="Denied" log_version=1 severity="Information" fw_rule_id="12" web_policy_id=12 http_category="Malware" http_category_type="Objectionable" url="http://malware.example.net/a.exe" src_ip="192.168.2.32" dst_ip="203.0.113.15" protocol="TCP" src_port=44740 dst_port=80 domain="malware.example.net" user_name="kim"');
  assert.equal(denied.title, 'Web filter Denied: Malware');
  assert.equal(denied.action, 'blocked');
  assert.equal(denied.domain, 'malware.example.net');
  assert.equal(denied.time, '2021-11-16T00:28:48.000Z');
  const [allowed] = contextOf(sophos, 'Nov 16 00:28:51 sophos device_name="SFW" timestamp="2021-11-15T18:28:51-0600" log_id=050901616001 log_type="Content Filtering" log_component="HTTP" log_subtype="Allowed" log_version=1 severity="Information" url="https://www.example.com" src_ip="192.168.2.111" dst_ip="203.0.113.156" domain="www.example.com"');
  assert.equal(allowed!.kind, 'web');
  const app = alertOf(sophos, 'Nov 16 00:28:48 sophos device_name="SFW" timestamp="2021-11-15T18:28:48-0600" log_id=054402617051 log_type="Content Filtering" log_component="Application" log_subtype="Denied" log_version=1 severity="Information" app_name="Torrent Clients P2P" app_risk=5 app_category="P2P" src_ip="192.168.2.32" dst_ip="192.168.1.15" protocol="UDP" src_port=44740 dst_port=22083');
  assert.equal(app.title, 'Web filter Denied: application Torrent Clients P2P');
  const sandbox = alertOf(sophos, 'device="SFW" date=2018-06-06 time=10:00:00 timezone="GMT" device_name="XG" device_id=C1 log_id=138701617001 log_type="Sandbox" log_component="Web" log_subtype="Denied" priority=Information user_name="lee" src_ip=10.0.0.5 filename="doc.pdf" filetype="application/pdf" filesize=18000 sha1sum="3395856ce81f2b7382dee72602f798b642f14140" source="Sandstorm" reason="Malicious" destination="" url="http://files.example.org/doc.pdf"');
  assert.equal(sandbox.title, 'Sandstorm: Malicious - doc.pdf');
  assert.equal(sandbox.file?.sha1, '3395856ce81f2b7382dee72602f798b642f14140');
  const [clean] = contextOf(sophos, 'device="SFW" date=2018-06-06 time=10:00:00 timezone="GMT" log_id=138701617002 log_type="Sandbox" log_component="Web" log_subtype="Allowed" priority=Information filename="ok.pdf" reason="Clean"');
  assert.equal(clean!.kind, 'file');
});

test('firewall → flow, VPN events → vpn_session, authentication → auth, anti-spam → email, others → event', () => {
  const [flow] = contextOf(sophos, 'Nov 16 00:25:01 sophos device_name="SFW" timestamp="2021-11-15T18:25:01-0600" device_model="SFVH" device_serial_id="C01001BQC8TFFFF" log_id="010102600002" log_type="Firewall" log_component="Firewall Rule" log_subtype="Denied" log_version=1 severity="Information" fw_rule_id="12" src_mac="00:26:37:ee:47:20" src_ip="192.168.2.111" dst_ip="203.0.113.156" protocol="UDP" src_port=61709 dst_port=443 src_trans_ip="198.51.100.2"');
  assert.equal(flow!.kind, 'flow');
  assert.ok(flow!.observables.some((o) => o.type === 'mac' && o.value === '00:26:37:ee:47:20'));
  assert.ok(flow!.observables.some((o) => o.role === 'src_nat'));
  const [vpn] = contextOf(sophos, 'device_name="SFW" timestamp="2023-03-01T08:00:00+0100" log_id="062910617701" log_type="Event" log_component="SSL VPN" log_subtype="System" severity="Information" status="Successful" user_name="nina" user_group="vpn" src_ip="198.51.100.44" assigned_ip="10.81.234.5" message="User nina connected to SSL VPN"');
  assert.equal(vpn!.kind, 'vpn_session');
  assert.equal(vpn!.data.user, 'nina');
  assert.equal(vpn!.data.public_ip, '198.51.100.44');
  assert.equal(vpn!.data.private_ip, '10.81.234.5');
  const [auth] = contextOf(sophos, 'device="SFW" date=2020-01-01 time=00:00:00 timezone="GMT" log_id=062910617703 log_type="Event" log_component="Firewall Authentication" log_subtype="Authentication" priority=Information status="Failed" user_name="omar" src_ip=10.0.0.9 message="User omar failed to login"');
  assert.equal(auth!.kind, 'auth');
  const [spam] = contextOf(sophos, 'device="SFW" date=2020-01-01 time=00:00:00 timezone="GMT" log_id=041106210001 log_type="Anti-Spam" log_component="SMTP" log_subtype="Spam" priority=Information from_email_address="x@spam.example" to_email_address="y@corp.example"');
  assert.equal(spam!.kind, 'email');
  const [health] = contextOf(sophos, 'device="SFW" date=2020-01-01 time=00:00:00 timezone="GMT" log_id=127926600001 log_type="System Health" log_component="CPU" log_subtype="Usage" priority=Information users="0" system="1" idle="99"');
  assert.equal(health!.kind, 'event');
});

test('sniff: SFOS high; FortiOS and other key=value formats low', () => {
  assert.ok(sniff(sophos, OTHER_FORMATS.sophos_xg!) >= 0.9);
  for (const [name, text] of othersExcept('sophos_xg')) assert.ok(sniff(sophos, text) < 0.5, `${name} sniffed ${sniff(sophos, text)}`);
});

test('malformed and hostile records', () => {
  assert.match(reasonOf(sophos, 'device="SFW" log_id=1'), /log_type is missing/);
  assert.match(reasonOf(sophos, 'log_type="IDP" date=2020-13-45 time=25:61:00'), /not a valid time/);
  assert.match(reasonOf(sophos, 'log_type="IDP" timestamp="yesterday"'), /not a valid time/);
  const big = 'A'.repeat(1 << 20);
  fastEnough(2000, () => holdsContract(sophos, `${IDP_OLD} signature_msg="${big}"`));
  fastEnough(2000, () => holdsContract(sophos, `log_type="IDP" ${'word '.repeat(200000)}`));
  fastEnough(2000, () => holdsContract(sophos, `log_type="IDP" k=${'x '.repeat(200000)}`));
  fastEnough(2000, () => holdsContract(sophos, `log_type="IDP" signature_msg="${'\\'.repeat(100001)}`));
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
  fc.assert(
    fc.property(fc.string({ maxLength: 300 }), fc.integer({ min: 0, max: IDP_OLD.length }), (junk, at) => {
      holdsContract(sophos, junk);
      holdsContract(sophos, IDP_OLD.slice(0, at) + junk + IDP_OLD.slice(at));
    }),
    { numRuns: 300 },
  );
});
