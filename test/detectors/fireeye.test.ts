import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isPlaceholderText } from '../../src/detectors/lib/placeholders.js';
import fc from 'fast-check';
import { rawRecord } from '../../src/detectors/lib/registry.js';
import fireeye from '../../src/detectors/fireeye.js';
import type { AlertDraft } from '../../src/model/alert.js';
import { finishes, fixtureLine, fixtureText, sampleLine, sampleLines } from './helpers.js';
import { assertLinear } from './linear.js';
import { foreignSampleRecords } from './foreign-samples.js';
import { obs, registry, runner } from './json-detector-helpers.js';

const { run, alert: alertOf, alerts: alertsOf, error: errorOf } = await runner('fireeye');
const reg = await registry();

// ---- NX network metadata (shared samples: elastic/integrations fireeye nx test log) ----------------------------

test('NX rawmsg samples: auto-detected as fireeye, context of the inner event type, sensor kept', () => {
  const lines = sampleLines('fireeye_nx', '.jsonl');
  assert.equal(lines.length, 4);
  const kinds: string[] = [];
  const types: string[] = [];
  for (const l of lines) {
    const r = run(l.text, 'auto');
    assert.ok('context' in r, `${l.file}:${l.line}: ${JSON.stringify(r)}`);
    assert.equal(r.detector, 'fireeye');
    assert.equal(r.context.length, 1);
    kinds.push(r.context[0]!.kind);
    types.push(r.context[0]!.event_type ?? '');
    assert.deepEqual(r.context[0]!.data.sensor, { device_id: '860665216674', ip: '192.168.1.99', name: 'fireeye-7e0de1' });
    // The NX appliance that saw the traffic is the reporting device.
    assert.deepEqual(r.context[0]!.device, { name: 'fireeye-7e0de1', ip: '192.168.1.99', id: '860665216674' });
  }
  assert.deepEqual(kinds, ['flow', 'tls', 'file', 'dns']);
  assert.deepEqual(types, ['flow', 'tls', 'fileinfo', 'dns']);
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
  assert.deepEqual(flow.src, { ip: '192.168.1.15', port: 52147 });
  assert.deepEqual(flow.dst, { ip: '202.28.116.236', port: 123 });
  assert.deepEqual(flow.observables.map((o) => `${o.value}:${o.role}`), ['192.168.1.15:src', '202.28.116.236:dst', 'fireeye-7e0de1:device', '192.168.1.99:device']);
  const tls = ctx(2);
  assert.ok(tls.observables.some((o) => o.type === 'domain' && o.value === 'cloud.fireeye.com'));
  assert.equal(tls.domain, 'cloud.fireeye.com');
  assert.deepEqual(tls.dst, { ip: '162.159.246.125', port: 443, host: 'cloud.fireeye.com' });
  const file = ctx(3);
  assert.ok(file.observables.some((o) => o.type === 'md5' && o.value === '548d03d3e11c009da833e6e59c4adfee'));
  assert.equal(file.file?.md5, '548d03d3e11c009da833e6e59c4adfee');
  assert.deepEqual(file.src, { ip: '192.168.1.222', port: 47220 });
  const dns = ctx(4);
  assert.equal(dns.time, '2020-09-23T05:02:41.077Z');
  assert.ok(dns.observables.some((o) => o.type === 'domain' && o.value === 'time-ios.apple.com'));
  assert.equal(dns.domain, 'time-ios.apple.com');
  assert.deepEqual(dns.dst, { ip: '8.8.8.8', port: 53 });
});

test('NX rawmsg holding an alert event is an alert; a rawmsg that is not JSON is quarantined with the reason', () => {
  const a = alertOf(fixtureLine('fireeye', 'nx_alert.jsonl', 1), 'auto');
  assert.equal(a.title, 'GPL ATTACK_RESPONSE id check returned root');
  assert.equal(a.rule?.id, '2100498');
  assert.equal(a.event_type, 'alert');
  assert.deepEqual(a.device, { ip: '10.0.0.1', id: '1' }, 'the NX sensor reported it');
  assert.deepEqual(a.src, { ip: '10.0.0.8', port: 50000 });
  assert.match(errorOf(JSON.stringify({ rawmsg: 'not json at all', deviceid: '1', meta_sip4: '10.0.0.1' }), 'auto'), /rawmsg is not a JSON object/);
  assert.match(errorOf(JSON.stringify({ rawmsg: '{"a":1}' })), /rawmsg has no event_type/);
});

// ---- JSON notifications ---------------------------------------------------------------------------------------

// Reconstructed from FireEye's "extended" JSON notification as published in a public integration README
// (Web MPS, malware-object, single malware object, cnc-service list); values kept, IPs as written.
const WEB_EXTENDED = JSON.parse(fixtureLine('fireeye', 'notifications.jsonl', 1));

test('Web MPS extended JSON: every documented field lands in the alert', () => {
  const text = JSON.stringify(WEB_EXTENDED);
  assert.equal(fireeye.sniff(rawRecord(text)), 0.95);
  const a = alertOf(text, 'auto');
  assert.equal(a.title, 'malware-object: Misc.Eicar-Test-File');
  assert.equal(a.time, '2016-01-20T09:30:21.000Z');
  // No signature id in this alert: the malware name is the detection's stable name; the alert type is event_type.
  assert.deepEqual(a.rule, { id: 'Misc.Eicar-Test-File', name: 'Misc.Eicar-Test-File', category: 'malware-object' });
  assert.equal(a.event_type, 'malware-object');
  assert.deepEqual(a.device, { name: 'fireeye.foo.bar', id: '00:11:11:11:11:11' });
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
  const alerts = alertsOf(fixtureLine('fireeye', 'notifications.jsonl', 6), 'auto');
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
  const ex = JSON.parse(fixtureLine('fireeye', 'notifications.jsonl', 2));
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
  const api = fixtureLine('fireeye', 'notifications.jsonl', 3);
  const a = alertOf(api, 'auto');
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
  const ips = fixtureLine('fireeye', 'notifications.jsonl', 4);
  const a = alertOf(ips, 'auto');
  assert.equal(a.title, 'ips-event: MS08-067 NetAPI Buffer Overflow');
  assert.deepEqual(a.rule, { id: '89006415', name: 'MS08-067 NetAPI Buffer Overflow', category: 'ips-event' });
  assert.equal(a.time, '2016-02-01T10:00:00.000Z');
  assert.equal(a.action, 'blocked');
  assert.deepEqual(a.host, { ip: '10.3.3.3' }, 'the internal end is the host');
});

test('MAS concise notification: malware as an object, time from occurred', () => {
  // From a public FireEye MAS test fixture (TIE integration).
  const mas = fixtureLine('fireeye', 'notifications.jsonl', 5);
  const a = alertOf(mas, 'auto');
  assert.equal(a.title, 'malware-object: Trojan.LuminosityLink');
  assert.equal(a.time, '2017-05-09T14:30:25.000Z');
  assert.equal(a.file?.md5, '41281428cd6f503f948e931d546e340c');
  assert.equal(a.vendor_id, '00:00:00:00:00:00:146658');
  assert.deepEqual(a.device, { name: 'fireeye-000000' }, 'an all-zero appliance id names no appliance');
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
const XML = fixtureText('fireeye', 'notification_xml.whole.txt');

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
  finishes(() => run(`<alerts product="Web MPS" ${'a="1" '.repeat(100_000)}>`));
  finishes(() => run(`<alerts product="Web MPS">${'<alert>'.repeat(50)}${'x'.repeat(1_000_000)}`));
  const ok = alertOf(`<alerts xmlns="http://www.fireeye.com/alert/2011/AlertSchema"><alert name="malware-object" severity="majr"><occurred>2016-11-03T14:05:11Z</occurred><explanation><malware-detected><malware name="A&amp;B &#x41;&lt;"/></malware-detected></explanation><src><ip>10.0.0.1</ip></src></alert></alerts>`);
  assert.equal(ok.malware?.name, 'A&B A<');
});

test('text notification (the e-mail body FIDO read) becomes the same alert', () => {
  // Reconstructed from fido-original.md §3.5 (src/ip, dst, occurred, md5sum, cnc-service address, channel).
  const body = fixtureText('fireeye', 'notification_text.whole.txt');
  assert.equal(fireeye.sniff(rawRecord(body)), 0.85);
  const a = alertOf(body, 'auto');
  assertZbot(a);
  assert.equal(a.file?.md5, '44d88612fea8a8f36de82e1278abb02f');
  assert.equal(a.vendor_id, 'fireeye-nx1:4242');
});

// ---- CEF and LEEF ---------------------------------------------------------------------------------------------

// splunk/splunk-connect-for-syslog FireEye CMS test event (ev_id and host shortened, \\= as on the wire).
const CMS_CALLBACK = fixtureLine('fireeye', 'cef.log', 1);

test('CEF from CMS: fireeye wins over the generic cef detector and maps the labelled fields', () => {
  const found = reg.detect(rawRecord(CMS_CALLBACK));
  assert.ok('detector' in found && found.detector.name === 'fireeye');
  const a = alertOf(CMS_CALLBACK, 'auto');
  assert.deepEqual(a.device, { name: 'hrccnx01', ip: '10.246.129.27' }, 'dvchost/dvc: the appliance, not the host');
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
  const dm = alertOf(fixtureLine('fireeye', 'cef.log', 2), 'auto');
  assert.equal(dm.title, 'domain-match: Trojan.Generic.DNS');
  assert.equal(dm.time, '2015-02-09T12:28:26.000Z');
  assert.equal(dm.severity, 10);
  assert.deepEqual(dm.src, { port: 54527, host: 'dev001srv02.example.com' });
  assert.deepEqual(dm.dst, { port: 53, host: 'mfdclk001.org' });
  assert.equal(dm.domain, 'mfdclk001.org');
  assert.equal(dm.vendor_id, '851983');
  assert.equal(dm.event_type, 'domain-match');
  assert.equal(dm.rule?.id, '80494706', 'the sid (cn2Label=sid), not the alert type');
  const ex = alertOf(fixtureLine('fireeye', 'cef.log', 3), 'auto');
  assert.equal(ex.title, 'malware-object: Archive');
  assert.deepEqual(ex.email, { from: 'sender@evil.example', to: ['rickuser72@hotmail.com'] });
  assert.deepEqual(ex.file, { name: '3qZjLW6xPpz5C8dn-files_doc_5D6D7B.zip', path: '/3qZjLW6xPpz5C8dn-files_doc_5D6D7B.zip', md5: '481e959d8a7cbeaf67a30eff7e989c5a' });
  assert.equal(ex.user?.email, 'rickuser72@hotmail.com');
});

test('LEEF with "^" between attributes (FireEye MPS) maps callback, C&C channel URL and MACs', () => {
  // araqne FireeyeLogParserTest line.
  const leef = fixtureLine('fireeye', 'leef.log', 1);
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
  finishes(() => run(`CEF:0|FireEye|MPS|1|MC|malware-callback|7|cs6Label=channel cs6=${'GET / HTTP/1.1::~~'.repeat(50_000)}`));
  finishes(() => run(`LEEF:1.0|FireEye|MPS|1|x|${'a=b^'.repeat(200_000)}`));
  finishes(() => run(`occurred: 1\n${'  src:\n'.repeat(100_000)}alert (id:1, name:x)`));
  finishes(() => run(JSON.stringify({ msg: 'extended', alert: Array.from({ length: 5000 }, () => WEB_EXTENDED.alert[0]) })));
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
  const name = fc.stringMatching(/^[A-Za-z][A-Za-z0-9._-]{0,40}$/).filter((w) => !isPlaceholderText(w)); // "NA", "none": the gate drops placeholders
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

test('issue 13: text notifications with long blank runs take linear time, also through auto-detection', async () => {
  const text = fixtureText('fireeye', 'notification_text.whole.txt');
  const at = (marker: string, blank: (n: number) => string) => (n: number) => text.replace(marker, `${marker}${blank(n)}`);
  const cases: Array<[string, (n: number) => string]> = [
    ['blank lines before "occurred"', at('  action: notified\n', (n) => '\n'.repeat(n))],
    ['lines of spaces between the blocks', at('    port: 51234\n', (n) => '   \n'.repeat(n / 4))],
    ['spaces after a key and its colon', (n) => text.replace('  src:\n', `  src${' '.repeat(n)}:\n`)],
    ['spaces after "alert (id:…)"', (n) => text.replace('alert: (id:4242, name:malware-callback)', `alert (id:4242, name:malware-callback)${' '.repeat(n)}x`)],
    ['spaces inside "alert: (id"', (n) => text.replace('alert: (id:', `alert${' '.repeat(n)}: (id:`)],
    ['blank lines before the subject', (n) => `${'\n'.repeat(n)}${text.replace('alert: (id:4242, name:malware-callback)', 'alert: (id:4242)')}`],
  ];
  for (const [name, make] of cases) {
    await assertLinear(`fireeye text notification, ${name}`, make, (t) => run(t));
    await assertLinear(`auto-detection of a fireeye text notification, ${name}`, make, (t) => run(t, 'auto'));
    assert.equal(alertOf(make(1024), 'auto').time, '2016-11-03T14:05:11.000Z', `${name}: still read as a notification`);
  }
  // Any multi-line record is offered to this detector's sniff on auto-detection.
  for (const blank of ['\n', ' \n', '\r\n\t']) {
    await assertLinear(`auto-detection of a multi-line record of ${JSON.stringify(blank)}`, (n) => `hello\n${blank.repeat(n / blank.length)}occurred: x`, (t) => run(t, 'auto'));
  }
});
