import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { loadDetectors, normalizeRecord, rawRecord, type NormalizeResult } from '../../src/detectors/lib/registry.js';
import fireeye from '../../src/detectors/fireeye.js';
import type { AlertDraft } from '../../src/model/alert.js';
import { fastEnough, sampleLine, sampleLines } from './helpers.js';
import { foreignSampleRecords } from './foreign-samples.js';

const registry = await loadDetectors();
const run = (text: string, hint: string | null = 'fireeye'): NormalizeResult => normalizeRecord(registry, text, hint, { receivedAt: '2026-01-01T00:00:00Z' });
function alertsOf(text: string, hint: string | null = 'fireeye'): AlertDraft[] {
  const r = run(text, hint);
  assert.ok('alerts' in r, JSON.stringify(r));
  assert.equal(r.detector, 'fireeye', 'claimed by fireeye');
  return r.alerts;
}
function alertOf(text: string, hint: string | null = 'fireeye'): AlertDraft {
  const a = alertsOf(text, hint);
  assert.equal(a.length, 1);
  return a[0]!;
}
function errorOf(text: string, hint: string | null = 'fireeye'): string {
  const r = run(text, hint);
  assert.ok('error' in r, JSON.stringify(r));
  return r.error;
}
const obs = (a: AlertDraft) => a.observables.map((o) => `${o.type}:${o.value}:${o.role}`);

// ---- NX network metadata (shared samples: elastic/integrations fireeye nx test log) ----------------------------

test('NX rawmsg samples: auto-detected as fireeye, context of the inner event type, sensor kept', () => {
  const lines = sampleLines('fireeye_nx', '.jsonl');
  assert.equal(lines.length, 4);
  const kinds: string[] = [];
  for (const l of lines) {
    const r = run(l.text, 'auto');
    assert.ok('context' in r, `${l.file}:${l.line}: ${JSON.stringify(r)}`);
    assert.equal(r.detector, 'fireeye');
    assert.equal(r.context.length, 1);
    kinds.push(r.context[0]!.kind);
    assert.deepEqual(r.context[0]!.data.sensor, { device_id: '860665216674', ip: '192.168.1.99', name: 'fireeye-7e0de1' });
  }
  assert.deepEqual(kinds, ['flow', 'tls', 'fileinfo', 'dns']);
});

test('NX rawmsg fields: times, tuples, SNI, file MD5 and DNS name come from the escaped inner JSON', () => {
  const ctx = (n: number) => {
    const r = run(sampleLine('fireeye_nx', 'nx.jsonl', n));
    assert.ok('context' in r);
    return r.context[0]!;
  };
  const flow = ctx(1);
  assert.equal(flow.time, '2020-09-22T08:34:44.993Z'); // "2020-09-22T08:34:44.993501+0000"
  assert.equal(flow.data.src_ip, '192.168.1.15');
  assert.equal(flow.data.dest_port, 123);
  assert.deepEqual(flow.observables.map((o) => o.value), ['192.168.1.15', '202.28.116.236']);
  const tls = ctx(2);
  assert.ok(tls.observables.some((o) => o.type === 'domain' && o.value === 'cloud.fireeye.com'));
  const file = ctx(3);
  assert.ok(file.observables.some((o) => o.type === 'md5' && o.value === '548d03d3e11c009da833e6e59c4adfee'));
  const dns = ctx(4);
  assert.equal(dns.time, '2020-09-23T05:02:41.077Z');
  assert.ok(dns.observables.some((o) => o.type === 'domain' && o.value === 'time-ios.apple.com'));
});

test('NX rawmsg holding an alert event is an alert; a rawmsg that is not JSON is quarantined with the reason', () => {
  const inner = { timestamp: '2021-03-01T10:00:00.000000+0000', flow_id: 1, event_type: 'alert', src_ip: '10.0.0.8', src_port: 50000, dest_ip: '198.51.100.4', dest_port: 80, proto: 'TCP', alert: { action: 'allowed', signature_id: 2100498, signature: 'GPL ATTACK_RESPONSE id check returned root', category: 'Potentially Bad Traffic', severity: 2 } };
  const a = alertOf(JSON.stringify({ rawmsg: JSON.stringify(inner), deviceid: '1', meta_sip4: '10.0.0.1' }), 'auto');
  assert.equal(a.title, 'GPL ATTACK_RESPONSE id check returned root');
  assert.equal(a.rule?.id, '2100498');
  assert.deepEqual(a.src, { ip: '10.0.0.8', port: 50000 });
  assert.match(errorOf(JSON.stringify({ rawmsg: 'not json at all', deviceid: '1', meta_sip4: '10.0.0.1' }), 'auto'), /rawmsg is not a JSON object/);
  assert.match(errorOf(JSON.stringify({ rawmsg: '{"a":1}' })), /rawmsg has no event_type/);
});

// ---- JSON notifications ---------------------------------------------------------------------------------------

// Reconstructed from FireEye's "extended" JSON notification as published in a public integration README
// (Web MPS, malware-object, single malware object, cnc-service list); values kept, IPs as written.
const WEB_EXTENDED = {
  msg: 'extended', product: 'Web MPS', version: '7.7.0.123456', appliance: 'fireeye.foo.bar', 'appliance-id': '00:11:11:11:11:11',
  alert: [{
    src: { ip: '10.1.2.3', host: 'internalclient.intra.net', vlan: '0', mac: '00:24:aa:aa:aa:aa' },
    severity: 'minr',
    'alert-url': 'https://fireeye.foo.bar/event_stream/events_for_bot?ma_id=12345678',
    explanation: {
      'malware-detected': { malware: { profile: 'win7x64-sp1', 'http-header': 'POST http://malicious.com', name: 'Misc.Eicar-Test-File', md5sum: '44d88612fea8a8f36de82e1278abb02f', 'executed-at': '2016-01-19T08:30:21Z', application: 'Windows Explorer', type: 'exe', original: 'driver.exe', stype: '24' } },
      protocol: '', analysis: 'binary',
      'cnc-services': { 'cnc-service': [{ protocol: 'tcp', port: '4143', channel: '\\\\026\\\\003\\\\001', address: '198.50.234.211' }, { protocol: 'tcp', port: '9943', channel: '\\\\026\\\\003\\\\001', address: '80.96.150.201' }] },
      anomaly: '98816',
    },
    occurred: '2016-01-20 09:30:21+00', id: '12345678', action: 'notified', interface: { mode: 'tap' },
    dst: { ip: '10.1.2.4', mac: '00:24:bb:bb:bb:bb' }, name: 'malware-object',
  }],
};

test('Web MPS extended JSON: every documented field lands in the alert', () => {
  const text = JSON.stringify(WEB_EXTENDED);
  assert.equal(fireeye.sniff(rawRecord(text)), 0.95);
  const a = alertOf(text, 'auto');
  assert.equal(a.title, 'malware-object: Misc.Eicar-Test-File');
  assert.equal(a.time, '2016-01-20T09:30:21.000Z');
  assert.deepEqual(a.rule, { id: 'malware-object', name: 'Misc.Eicar-Test-File', category: 'malware-object' });
  assert.equal(a.severity, 35);
  assert.deepEqual(a.vendor_severity, { value: 'minr', scale: 'fireeye crit|majr|minr' });
  assert.equal(a.action, 'detected');
  assert.deepEqual(a.src, { ip: '10.1.2.3', host: 'internalclient.intra.net' });
  assert.deepEqual(a.dst, { ip: '10.1.2.4' });
  assert.deepEqual(a.host, { name: 'internalclient.intra.net', ip: '10.1.2.3', mac: '00:24:aa:aa:aa:aa' });
  assert.deepEqual(a.file, { name: 'driver.exe', md5: '44d88612fea8a8f36de82e1278abb02f' });
  assert.deepEqual(a.malware, { name: 'Misc.Eicar-Test-File' });
  assert.equal(a.vendor_id, '00:11:11:11:11:11:12345678');
  for (const o of ['ip:198.50.234.211:cnc', 'ip:80.96.150.201:cnc', 'mac:00:24:bb:bb:bb:bb:dst', 'md5:44d88612fea8a8f36de82e1278abb02f:file']) assert.ok(obs(a).includes(o), o);
});

test('the alerts wrapper and alert arrays give one alert per entry; a callback fills dst from its C&C service', () => {
  const callback = {
    id: '777', uuid: '5b1e2c44-0a4f-4b8e-9a7e-111111111111', name: 'malware-callback', severity: 'majr', occurred: '2017-02-03T04:05:06Z', action: 'blocked',
    src: { ip: '192.168.5.20', port: '51515', mac: '00:50:56:00:00:01' },
    explanation: { 'malware-detected': { malware: [{ name: 'Trojan.Zbot', sid: '89046625' }] }, 'cnc-services': { 'cnc-service': { address: 'c2.evil.example', port: '8080', protocol: 'tcp', channel: 'GET /gate.php?id=1 HTTP/1.1::~~Host: c2.evil.example::~~User-Agent: x::~~::~~' } } },
  };
  const alerts = alertsOf(JSON.stringify({ alerts: { alert: [WEB_EXTENDED.alert[0], callback] }, msg: 'normal', product: 'Web MPS' }), 'auto');
  assert.equal(alerts.length, 2);
  const cb = alerts[1]!;
  assert.equal(cb.title, 'malware-callback: Trojan.Zbot');
  assert.equal(cb.rule?.id, '89046625');
  assert.equal(cb.severity, 75);
  assert.equal(cb.action, 'blocked');
  assert.equal(cb.vendor_id, '5b1e2c44-0a4f-4b8e-9a7e-111111111111');
  assert.deepEqual(cb.src, { ip: '192.168.5.20', port: 51515 });
  assert.deepEqual(cb.dst, { port: 8080, host: 'c2.evil.example' });
  assert.equal(cb.url, 'http://c2.evil.example:8080/gate.php?id=1');
  assert.equal(cb.domain, 'c2.evil.example');
  assert.ok(obs(cb).includes('domain:c2.evil.example:cnc'));
});

test('EX (Email MPS) JSON: sender, recipient, subject, attachment hashes', () => {
  // Reconstructed from FireEye EX alert notification fields (src.smtp-mail-from, dst.smtp-to, smtp-message).
  const ex = {
    msg: 'extended', product: 'Email MPS', appliance: 'fireeye-ex1', 'appliance-id': '002590AABBCC',
    alert: {
      id: '5511', uuid: 'e2b1a0c3-0000-4000-8000-000000005511', name: 'malware-object', severity: 'crit', product: 'Email MPS', occurred: '2019-04-02T08:15:30Z', action: 'blocked',
      src: { 'smtp-mail-from': 'invoice@evil.example' }, dst: { 'smtp-to': 'alice@corp.example' },
      'smtp-message': { subject: 'Overdue invoice 4411', id: '<abc@evil.example>' },
      explanation: { 'malware-detected': { malware: [{ name: 'Trojan.Emotet', md5sum: 'D41D8CD98F00B204E9800998ECF8427E', sha256: 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855', original: 'invoice_4411.doc', type: 'doc' }, { name: 'Trojan.Emotet', md5sum: '44d88612fea8a8f36de82e1278abb02f', original: 'stage2.exe' }] } },
    },
  };
  const a = alertOf(JSON.stringify(ex), 'auto');
  assert.equal(a.title, 'malware-object: Trojan.Emotet');
  assert.equal(a.severity, 90);
  assert.equal(a.severity_label, 'critical');
  assert.deepEqual(a.email, { from: 'invoice@evil.example', to: ['alice@corp.example'], subject: 'Overdue invoice 4411' });
  assert.deepEqual(a.user, { name: 'alice@corp.example', email: 'alice@corp.example' });
  assert.deepEqual(a.file, { name: 'invoice_4411.doc', md5: 'd41d8cd98f00b204e9800998ecf8427e', sha256: 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855' });
  assert.equal(a.src, undefined);
  assert.ok(obs(a).includes('md5:44d88612fea8a8f36de82e1278abb02f:file'), 'second attachment hash kept');
  assert.ok(obs(a).includes('email:invoice@evil.example:email'));
});

test('Web Services API camelCase JSON (malwareDetected, md5Sum, cncServices, applianceId) maps the same way', () => {
  // Shape of demisto/content FireEyeNX get_alerts_response.json with real values.
  const api = {
    alert: [{
      explanation: { malwareDetected: { malware: [{ url: 'http://dl.evil.example/a.exe', name: 'Trojan.Agent', md5Sum: '44d88612fea8a8f36de82e1278abb02f', sha256: 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855', original: 'a.exe', sid: '123' }] }, cncServices: { cncService: [{ address: '203.0.113.77', channel: '', port: 443, protocol: 'TCP' }] } },
      src: { ip: '10.0.0.5', mac: '00:11:22:33:44:55', port: 50123 }, alertUrl: 'https://nx/event_stream/events_for_bot?ev_id=9', action: 'notified',
      occurred: '2020-06-01 12:00:00 +0000', dst: { mac: '66:77:88:99:aa:bb', port: 80, ip: '203.0.113.77' }, applianceId: 'APP1', id: 9, name: 'MALWARE_OBJECT', severity: 'MAJR', uuid: 'uuid-9', product: 'WEB_MPS', vlan: 0,
    }],
    appliance: 'wMPS', version: 'wMPS (wMPS) 9.0.0.916432', msg: 'extended', alertsCount: 1,
  };
  const a = alertOf(JSON.stringify(api), 'auto');
  assert.equal(a.title, 'malware-object: Trojan.Agent');
  assert.equal(a.time, '2020-06-01T12:00:00.000Z');
  assert.equal(a.severity, 75);
  assert.equal(a.vendor_id, 'uuid-9');
  assert.equal(a.url, 'http://dl.evil.example/a.exe');
  assert.equal(a.domain, 'dl.evil.example');
  assert.deepEqual(a.dst, { ip: '203.0.113.77', port: 80 });
  assert.equal(a.host?.ip, '10.0.0.5');
  assert.equal(a.file?.sha256, 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
});

test('NX ips-event: the matched signature names the alert and the rule', () => {
  // Reconstructed: FireEye NX IPS notifications explain with ips-detected (sig-id, sig-name, cve-id, attack-time).
  const ips = { msg: 'extended', product: 'Web MPS', alert: { id: '31', name: 'ips-event', severity: 'majr', action: 'blocked', src: { ip: '203.0.113.44', port: '4444' }, dst: { ip: '10.3.3.3', port: '445' }, explanation: { 'ips-detected': { 'sig-id': '89006415', 'sig-name': 'MS08-067 NetAPI Buffer Overflow', 'cve-id': 'CVE-2008-4250', 'attack-time': '2016-02-01T10:00:00Z', 'match-count': '1' } } } };
  const a = alertOf(JSON.stringify(ips), 'auto');
  assert.equal(a.title, 'ips-event: MS08-067 NetAPI Buffer Overflow');
  assert.deepEqual(a.rule, { id: '89006415', name: 'MS08-067 NetAPI Buffer Overflow', category: 'ips-event' });
  assert.equal(a.time, '2016-02-01T10:00:00.000Z');
  assert.equal(a.action, 'blocked');
  assert.deepEqual(a.host, { ip: '10.3.3.3' }, 'the internal end is the host');
});

test('MAS concise notification: malware as an object, time from occurred', () => {
  // From a public FireEye MAS test fixture (TIE integration).
  const mas = { product: 'MAS', 'appliance-id': '00:00:00:00:00:00', appliance: 'fireeye-000000', alert: { src: { url: '/data/ma/share/winxp-sp3/src/41281428cd6f503f948e931d546e340c.exe' }, severity: 'majr', 'alert-url': 'https://fireeye-85f7be/malware_analysis/analyses?maid=146658', explanation: { 'malware-detected': { malware: { 'executed-at': '2017-05-09T14:30:25Z', md5sum: '41281428cd6f503f948e931d546e340c', type: 'exe', name: 'Trojan.LuminosityLink' } } }, occurred: '2017-05-09T14:30:25Z', action: 'notified', id: '146658', name: 'malware-object' }, version: '7.7.5.577562', msg: 'concise' };
  const a = alertOf(JSON.stringify(mas), 'auto');
  assert.equal(a.title, 'malware-object: Trojan.LuminosityLink');
  assert.equal(a.time, '2017-05-09T14:30:25.000Z');
  assert.equal(a.file?.md5, '41281428cd6f503f948e931d546e340c');
  assert.equal(a.vendor_id, '00:00:00:00:00:00:146658');
});

test('alert time: occurred, else attackTime, else the malware times; nothing usable is an error naming the value', () => {
  const alert = (occurred: unknown, executed?: string) => JSON.stringify({ msg: 'concise', alert: { name: 'malware-object', occurred, explanation: { 'malware-detected': { malware: { name: 'X', 'executed-at': executed } } } } });
  assert.match(errorOf(alert('1999-00-00 00:00:00 +0000')), /unrecognised alert time \(occurred: "1999-00-00/);
  assert.equal(alertOf(alert('1999-00-00 00:00:00 +0000', '2017-05-09T14:30:25Z')).time, '2017-05-09T14:30:25.000Z');
  assert.equal(alertOf(alert(undefined, '2017-05-09T14:30:25Z')).time, '2017-05-09T14:30:25.000Z');
  assert.equal(alertOf(alert(undefined)).time, '2026-01-01T00:00:00.000Z', 'no time at all: received time');
  assert.match(errorOf(JSON.stringify({ msg: 'extended', product: 'Web MPS' })), /no alert/);
});

// ---- XML and text notifications --------------------------------------------------------------------------------

// Reconstructed from the FireEye 2011 AlertSchema (namespace, alert attributes, explanation/src/dst elements).
const XML = `<?xml version="1.0" encoding="UTF-8"?>
<alerts xmlns="http://www.fireeye.com/alert/2011/AlertSchema" appliance="fireeye-nx1" appliance-id="00:25:90:AA:BB:CC" msg="normal" product="Web MPS" version="7.9.1.123456">
  <alert id="4242" name="malware-callback" product="Web MPS" severity="majr" uuid="1b3c9f0e-7d1a-4c55-9a11-2f0c3e5d7a90">
    <explanation protocol="tcp" analysis="content">
      <malware-detected><malware name="Trojan.Zbot" sid="33334444" stype="bot-command"/></malware-detected>
      <cnc-services><cnc-service address="evil-c2.example" port="8080" protocol="tcp"><channel>POST /gate.php HTTP/1.1::~~Host: evil-c2.example::~~</channel></cnc-service></cnc-services>
    </explanation>
    <src><ip>10.10.10.21</ip><mac>00:0c:29:aa:bb:cc</mac><port>51234</port><host>ws-21.corp.example</host></src>
    <dst><ip>198.51.100.23</ip><mac>00:1b:17:00:01:13</mac><port>8080</port></dst>
    <occurred>2016-11-03T14:05:11Z</occurred>
    <action>notified</action>
    <interface mode="tap" label="A">pether3</interface>
    <alert-url>https://fireeye-nx1/event_stream/events_for_bot?ev_id=4242&amp;x=1</alert-url>
  </alert>
</alerts>`;

function assertZbot(a: AlertDraft): void {
  assert.equal(a.title, 'malware-callback: Trojan.Zbot');
  assert.equal(a.time, '2016-11-03T14:05:11.000Z');
  assert.deepEqual(a.rule, { id: '33334444', name: 'Trojan.Zbot', category: 'malware-callback' });
  assert.equal(a.severity, 75);
  assert.deepEqual(a.src, { ip: '10.10.10.21', port: 51234, host: 'ws-21.corp.example' });
  assert.deepEqual(a.dst, { ip: '198.51.100.23', port: 8080 });
  assert.deepEqual(a.host, { name: 'ws-21.corp.example', ip: '10.10.10.21', mac: '00:0c:29:aa:bb:cc' });
  assert.equal(a.url, 'http://evil-c2.example:8080/gate.php');
  assert.equal(a.domain, 'evil-c2.example');
}

test('XML notification (multi-line body and one line) maps like the JSON', () => {
  for (const text of [XML, XML.replace(/\n\s*/g, '')]) {
    assert.equal(fireeye.sniff(rawRecord(text)), 0.9);
    const a = alertOf(text, 'auto');
    assertZbot(a);
    assert.equal(a.vendor_id, '1b3c9f0e-7d1a-4c55-9a11-2f0c3e5d7a90');
  }
});

test('hostile XML: DTDs and entities refused, malformed and deep documents quarantined quickly', () => {
  const laughs = `<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]><alerts xmlns="http://www.fireeye.com/alert/2011/AlertSchema"><alert name="&lol2;"/></alerts>`;
  assert.match(errorOf(laughs), /DOCTYPE/);
  assert.match(errorOf(`<alerts xmlns="http://www.fireeye.com/alert/2011/AlertSchema"><alert name="x">`), /never closed/);
  assert.match(errorOf(`<alerts xmlns="http://www.fireeye.com/alert/2011/AlertSchema"><alert></alerts>`), /closes/);
  assert.match(errorOf(`<alerts product="Web MPS">${'<a>'.repeat(200)}${'</a>'.repeat(200)}</alerts>`), /deeper than/);
  fastEnough(3000, () => run(`<alerts product="Web MPS" ${'a="1" '.repeat(100_000)}>`));
  fastEnough(3000, () => run(`<alerts product="Web MPS">${'<alert>'.repeat(50)}${'x'.repeat(1_000_000)}`));
  const ok = alertOf(`<alerts xmlns="http://www.fireeye.com/alert/2011/AlertSchema"><alert name="malware-object" severity="majr"><occurred>2016-11-03T14:05:11Z</occurred><explanation><malware-detected><malware name="A&amp;B &#x41;&lt;"/></malware-detected></explanation><src><ip>10.0.0.1</ip></src></alert></alerts>`);
  assert.equal(ok.malware?.name, 'A&B A<');
});

test('text notification (the e-mail body FIDO read) becomes the same alert', () => {
  // Reconstructed from fido-original.md §3.5 (src/ip, dst, occurred, md5sum, cnc-service address, channel).
  const body = [
    'Subject: malware-callback detected: Trojan.Zbot',
    'alert-url: https://fireeye-nx1/event_stream/events_for_bot?ev_id=4242',
    'product: Web MPS',
    'appliance: fireeye-nx1',
    'msg: normal',
    'alert: (id:4242, name:malware-callback)',
    '  severity: majr',
    '  occurred: 2016-11-03 14:05:11+00',
    '  action: notified',
    '  src:',
    '    ip: 10.10.10.21',
    '    mac: 00:0c:29:aa:bb:cc',
    '    port: 51234',
    '    host: ws-21.corp.example',
    '  dst:',
    '    ip: 198.51.100.23',
    '    port: 8080',
    '  explanation:',
    '    malware-detected:',
    '      malware: (name:Trojan.Zbot, sid:33334444)',
    '        md5sum: 44d88612fea8a8f36de82e1278abb02f',
    '    cnc-services:',
    '      cnc-service: (address:evil-c2.example, port:8080, protocol:tcp)',
    '        channel: POST /gate.php HTTP/1.1::~~Host: evil-c2.example::~~',
    '',
  ].join('\n');
  assert.equal(fireeye.sniff(rawRecord(body)), 0.85);
  const a = alertOf(body, 'auto');
  assertZbot(a);
  assert.equal(a.file?.md5, '44d88612fea8a8f36de82e1278abb02f');
  assert.equal(a.vendor_id, 'fireeye-nx1:4242');
});

// ---- CEF and LEEF ---------------------------------------------------------------------------------------------

// splunk/splunk-connect-for-syslog FireEye CMS test event (ev_id and host shortened, \\= as on the wire).
const CMS_CALLBACK = '<164>fenotify-1590500.warning: CEF:0|FireEye|CMS|9.0.1.923211|MC|malware-callback|7|requestClientApplication=Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:84.0) Gecko/20100101 Firefox/84.0 cn2Label=sid cn2=11111112 cs5Label=cncHost cs5=172.65.203.203 spt=10400 smac=00:1c:7f:3f:a4:4a cn1Label=vlan cn1=0 cs4Label=link cs4=https://cm.example.com/event_stream/events_for_bot?ev_id\\=1590500 rt=Jan 25 2021 20:37:54 UTC proto=tcp dst=172.65.203.203 externalId=1590500 dmac=7c:ad:4f:10:06:83 dvchost=hrccnx01 cs6Label=channel cs6=GET /appliance-test/alert.html HTTP/1.1::~~Host: fedeploycheck.fireeye.com::~~User-Agent: Mozilla/5.0::~~::~~ src=162.18.29.1 cn3Label=cncPort cn3=80 dpt=80 request=hxxp://fedeploycheck.fireeye.com/appliance-test/alert.html dvc=10.246.129.27 requestMethod=GET act=notified cs1Label=sname cs1=FETestEvent devicePayloadId=71de5c6d-5faa-4d60-b145-4d060f734023 start=Jan 25 2021 20:37:54 UTC';

test('CEF from CMS: fireeye wins over the generic cef detector and maps the labelled fields', () => {
  const found = registry.detect(rawRecord(CMS_CALLBACK));
  assert.ok('detector' in found && found.detector.name === 'fireeye');
  const a = alertOf(CMS_CALLBACK, 'auto');
  assert.equal(a.title, 'malware-callback: FETestEvent');
  assert.equal(a.time, '2021-01-25T20:37:54.000Z');
  assert.deepEqual(a.rule, { id: '11111112', name: 'FETestEvent', category: 'malware-callback' });
  assert.equal(a.severity, 70);
  assert.deepEqual(a.vendor_severity, { value: '7', scale: 'fireeye cef/leef 0-10' });
  assert.equal(a.action, 'detected');
  assert.deepEqual(a.src, { ip: '162.18.29.1', port: 10400 });
  assert.deepEqual(a.dst, { ip: '172.65.203.203', port: 80 });
  assert.equal(a.url, 'http://fedeploycheck.fireeye.com/appliance-test/alert.html');
  assert.equal(a.domain, 'fedeploycheck.fireeye.com');
  assert.deepEqual(a.malware, { name: 'FETestEvent' });
  assert.equal(a.vendor_id, '71de5c6d-5faa-4d60-b145-4d060f734023');
  for (const o of ['ip:172.65.203.203:cnc', 'mac:00:1c:7f:3f:a4:4a:src', 'mac:7c:ad:4f:10:06:83:dst']) assert.ok(obs(a).includes(o), o);
});

test('CEF domain-match (shost, C&C host name) and EX malware-object (recipient, attachment, flexString sname)', () => {
  // Apache Metron / araqne FireEye test lines.
  const dm = alertOf('<164>Mar 19 05:24:39 10.220.15.15 fenotify-851983.alert: CEF:0|FireEye|CMS|7.2.1.244420|DM|domain-match|1|rt=Feb 09 2015 12:28:26 UTC dvc=10.201.78.57 cn3Label=cncPort cn3=53 cn2Label=sid cn2=80494706 shost=dev001srv02.example.com proto=udp cs5Label=cncHost cs5=mfdclk001.org dvchost=DEVFEYE1 spt=54527 dvc=10.100.25.16 smac=00:00:0c:07:ac:00 cn1Label=vlan cn1=0 externalId=851983 cs4Label=link cs4=https://DEVCMS01.example.com/event_stream/events_for_bot?ev_id\\=851983 dmac=00:1d:a2:af:32:a1 cs1Label=sname cs1=Trojan.Generic.DNS', 'auto');
  assert.equal(dm.title, 'domain-match: Trojan.Generic.DNS');
  assert.equal(dm.time, '2015-02-09T12:28:26.000Z');
  assert.equal(dm.severity, 10);
  assert.deepEqual(dm.src, { port: 54527, host: 'dev001srv02.example.com' });
  assert.deepEqual(dm.dst, { port: 53, host: 'mfdclk001.org' });
  assert.equal(dm.domain, 'mfdclk001.org');
  assert.equal(dm.vendor_id, '851983');
  const ex = alertOf('<161>fenotify-1315069887.alert: CEF:0|FireEye|CMS|7.7.1.439492|MO|malware-object|4|rt=Mar 30 2016 09:55:01 UTC fileHash=481e959d8a7cbeaf67a30eff7e989c5a filePath=/3qZjLW6xPpz5C8dn-files_doc_5D6D7B.zip dvchost=SERVER003 cs4Label=link cs4=https://server0003/emps/eanalysis?e_id\\=129555927&type\\=attch suser=sender@evil.example duser=RickUser72@hotmail.com cn1Label=vlan cn1=0 externalId=1377069887 dvc=101.4.103.75 act=notified msg=5d777dfe-e4b9-4700-99e1-477ee8eab15b@msn.com flexString1Label=sname flexString1=Archive', 'auto');
  assert.equal(ex.title, 'malware-object: Archive');
  assert.deepEqual(ex.email, { from: 'sender@evil.example', to: ['rickuser72@hotmail.com'] });
  assert.deepEqual(ex.file, { name: '3qZjLW6xPpz5C8dn-files_doc_5D6D7B.zip', path: '/3qZjLW6xPpz5C8dn-files_doc_5D6D7B.zip', md5: '481e959d8a7cbeaf67a30eff7e989c5a' });
  assert.equal(ex.user?.email, 'rickuser72@hotmail.com');
});

test('LEEF with "^" between attributes (FireEye MPS) maps callback, C&C channel URL and MACs', () => {
  // araqne FireeyeLogParserTest line.
  const leef = 'fenotify-42053.alert: LEEF:1.0|FireEye|MPS|7.0.0.138133|malware-callback|src=110.222.210.197^sname=Trojan.Msidebar.C^dstMAC=10:04:96:6d:71:5c^proto=tcp^dvchost=Bora-FireEye^dst=151.72.69.29^vlan=4093^srcPort=60545^dvc=151.200.99.22^cncHost=151.72.69.29^externalId=42053^devTime=Mar 18 2014 10:03:29 Z^sid=89046625^cncPort=80^link=https://Bora-FireEye./event_stream/events_for_bot?ev_id\\=42053^dstPort=80^cncChannel=GET /AppTag/TagCnt_xe2.asp HTTP/1.1::~~Host: ad.syndiapi.com::~~Accept: text/html, */*::~~Accept-Encoding: identity::~~User-Agent: Mozilla/3.0 (compatible; Indy Library)::~~::~~^srcMAC=10:04:96:52:de:96^';
  const a = alertOf(leef, 'auto');
  assert.equal(a.title, 'malware-callback: Trojan.Msidebar.C');
  assert.equal(a.time, '2014-03-18T10:03:29.000Z');
  assert.equal(a.rule?.id, '89046625');
  assert.deepEqual(a.src, { ip: '110.222.210.197', port: 60545 });
  assert.deepEqual(a.dst, { ip: '151.72.69.29', port: 80 });
  assert.equal(a.url, 'http://ad.syndiapi.com/AppTag/TagCnt_xe2.asp');
  assert.equal(a.vendor_id, '42053');
  assert.ok(obs(a).includes('mac:10:04:96:52:de:96:src'));
});

test('CEF/LEEF of other vendors is refused when forced, and the generic cef detector keeps them', () => {
  assert.match(errorOf('CEF:0|Trend Micro|Deep Security Agent|1|2|N|3|src=10.0.0.1'), /not FireEye/);
  const r = run('CEF:0|Trend Micro|Deep Security Agent|1|2|N|3|src=10.0.0.1', 'auto');
  assert.ok(!('error' in r) && r.detector !== 'fireeye');
});

// ---- sniffing and robustness ---------------------------------------------------------------------------------

test('sniff stays below the threshold for every other product sample', () => {
  for (const { where, record } of foreignSampleRecords('fireeye_nx')) assert.ok(fireeye.sniff(record) < 0.5, where);
  for (const text of ['', 'hello', '{"alert":"x"}', '{"alert":{"name":"x","severity":"high"},"product":"Acme IDS"}', '{"alert":{"signature":"x"},"event_type":"alert","timestamp":"2020-01-01T00:00:00Z"}', '[1,2]', '<html><body>alert</body></html>', 'occurred: yesterday']) {
    assert.ok(fireeye.sniff(rawRecord(text)) < 0.5, text);
  }
  assert.equal(fireeye.sniff(rawRecord('{"alert":{"name":"malware-object"},"product":"Email MPS"}')), 0.7);
});

test('truncated records and pathological input neither throw nor hang', () => {
  for (const line of [CMS_CALLBACK, JSON.stringify(WEB_EXTENDED), XML, sampleLine('fireeye_nx', 'nx.jsonl', 3)]) {
    for (let cut = 0; cut < line.length; cut += 11) {
      const r = run(line.slice(0, cut), 'auto');
      assert.ok('error' in r || 'alerts' in r || 'context' in r);
      run(line.slice(0, cut));
    }
  }
  fastEnough(3000, () => run(`CEF:0|FireEye|MPS|1|MC|malware-callback|7|cs6Label=channel cs6=${'GET / HTTP/1.1::~~'.repeat(50_000)}`));
  fastEnough(3000, () => run(`LEEF:1.0|FireEye|MPS|1|x|${'a=b^'.repeat(200_000)}`));
  fastEnough(3000, () => run(`occurred: 1\n${'  src:\n'.repeat(100_000)}alert (id:1, name:x)`));
  fastEnough(3000, () => run(JSON.stringify({ msg: 'extended', alert: Array.from({ length: 5000 }, () => WEB_EXTENDED.alert[0]) })));
  const many = alertsOf(JSON.stringify({ msg: 'extended', alert: Array.from({ length: 700 }, () => WEB_EXTENDED.alert[0]) }));
  assert.equal(many.length, 500, 'alerts per record are capped');
  const proto = alertOf(JSON.stringify(WEB_EXTENDED).replace('"alert":[{', '"alert":[{"__proto__":{"name":"polluted"},'));
  assert.equal(proto.rule?.category, 'malware-object');
  assert.equal(({} as Record<string, unknown>).name, undefined);
});

test('property: arbitrary text and JSON never make the detector throw', () => {
  fc.assert(fc.property(fc.string({ maxLength: 300 }), (s) => {
    for (const t of [s, `CEF:0|FireEye|MPS|${s}`, `LEEF:1.0|FireEye|MPS|1|${s}`, `<alerts product="Web MPS">${s}`, `occurred: x\nalert (id:1, name:y)\n${s}`]) {
      fireeye.sniff(rawRecord(t));
      const r = run(t);
      assert.ok('error' in r || 'alerts' in r || 'context' in r);
    }
  }), { numRuns: 300 });
  const anyValue = fc.oneof(fc.string(), fc.integer(), fc.boolean(), fc.constant(null), fc.array(fc.string(), { maxLength: 3 }), fc.dictionary(fc.string(), fc.string(), { maxKeys: 3 }));
  const alertish = fc.record({
    name: anyValue, occurred: fc.oneof(anyValue, fc.constant('2020-01-01T00:00:00Z')), severity: anyValue, id: anyValue, uuid: anyValue, action: anyValue,
    src: fc.oneof(anyValue, fc.record({ ip: anyValue, port: anyValue, host: anyValue, mac: anyValue, 'smtp-mail-from': anyValue })),
    dst: fc.oneof(anyValue, fc.record({ ip: anyValue, port: anyValue, 'smtp-to': anyValue })),
    explanation: fc.oneof(anyValue, fc.record({ 'malware-detected': fc.oneof(anyValue, fc.record({ malware: fc.oneof(anyValue, fc.array(fc.record({ name: anyValue, md5sum: anyValue, url: anyValue, original: anyValue }), { maxLength: 3 })) })), 'cnc-services': fc.oneof(anyValue, fc.record({ 'cnc-service': fc.oneof(anyValue, fc.array(fc.record({ address: anyValue, port: anyValue, channel: anyValue }), { maxLength: 3 })) })) })),
  });
  fc.assert(fc.property(fc.oneof(alertish.map((a) => ({ msg: 'extended', alert: a })), fc.json({ maxDepth: 4 }).map((j) => ({ rawmsg: j }))), (rec) => {
    const r = run(JSON.stringify(rec), 'auto');
    assert.ok('error' in r || 'alerts' in r || 'context' in r);
  }), { numRuns: 500 });
});

test('property: generated CEF callbacks round-trip malware, addresses, ports and alert id', () => {
  const name = fc.stringMatching(/^[A-Za-z][A-Za-z0-9._-]{0,40}$/);
  fc.assert(fc.property(fc.ipV4(), fc.ipV4(), fc.integer({ min: 1, max: 65535 }), fc.integer({ min: 1, max: 65535 }), name, fc.integer({ min: 1, max: 9_999_999 }), fc.integer({ min: 0, max: 10 }), (src, dst, spt, dpt, sname, id, sev) => {
    const line = `<164>fenotify-${id}.alert: CEF:0|FireEye|MPS|8.0|MC|malware-callback|${sev}|rt=Jan 25 2021 20:37:54 UTC src=${src} spt=${spt} dst=${dst} dpt=${dpt} cs1Label=sname cs1=${sname} externalId=${id} act=blocked`;
    const a = alertOf(line, 'auto');
    assert.equal(a.malware?.name, sname);
    assert.equal(a.src?.ip, src.split('.').map(Number).join('.'));
    assert.equal(a.dst?.port, dpt);
    assert.equal(a.src?.port, spt);
    assert.equal(a.vendor_id, String(id));
    assert.equal(a.severity, sev * 10);
    assert.equal(a.action, 'blocked');
  }), { numRuns: 300 });
});
