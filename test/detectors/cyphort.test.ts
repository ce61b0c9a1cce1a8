import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isPlaceholderText } from '../../src/detectors/lib/placeholders.js';
import fc from 'fast-check';
import { rawRecord } from '../../src/detectors/lib/registry.js';
import cyphort from '../../src/detectors/cyphort.js';
import { finishes, fixtureLine } from './helpers.js';
import { foreignSampleRecords } from './foreign-samples.js';
import { obs, registry, runner } from './json-detector-helpers.js';

// No Cyphort sample exists in shared/samples. The records are in test/fixtures/samples/cyphort/. The JSON
// records are reconstructed from the fields FIDO read (fido-original.md §3.3 v2 positions, §3.4 v3 event_array /
// incident_details); the CEF lines are the Cyphort syslog test messages of a public Arista CloudVision connector
// (CyphortSyslogMsg.py).

const { run, alert: alertOf, alerts: alertsOf } = await runner('cyphort');
const reg = await registry();

/** A v2 row with the positions FIDO read; everything else blank. */
function row(values: Record<number, string>): string[] {
  const r = Array<string>(21).fill('');
  for (const [i, v] of Object.entries(values)) r[Number(i)] = v;
  return r;
}

const V3_EVENTS = JSON.parse(fixtureLine('cyphort', 'v3_event_array.jsonl', 1));

test('v3 event_array: one alert per event, FIDO titles, endpoint is the host, source the threat end', () => {
  const text = JSON.stringify(V3_EVENTS);
  assert.equal(cyphort.sniff(rawRecord(text)), 0.95);
  const [dl, cnc] = alertsOf(text, 'auto');
  assert.equal(dl!.title, 'Malware downloaded: TROJAN_Zbot.CY Type: TROJAN');
  assert.equal(dl!.time, '2016-05-02T10:11:12.000Z');
  // No rule id in Cyphort: the malware name is the detection's stable name; the event type is event_type.
  assert.deepEqual(dl!.rule, { id: 'TROJAN_Zbot.CY', name: 'TROJAN_Zbot.CY', category: 'TROJAN' });
  assert.equal(dl!.event_type, 'http');
  assert.equal(cnc!.event_type, 'cnc');
  assert.equal(dl!.severity, 80);
  assert.deepEqual(dl!.vendor_severity, { value: '0.8', scale: 'cyphort severity 0-1' });
  assert.deepEqual(dl!.src, { ip: '203.0.113.50', host: 'dl.evil.example' });
  assert.deepEqual(dl!.dst, { ip: '10.9.8.7', host: 'ws-77' });
  assert.deepEqual(dl!.host, { name: 'ws-77', ip: '10.9.8.7', os: 'Windows 7' });
  assert.equal(dl!.domain, 'dl.evil.example');
  assert.deepEqual(dl!.malware, { name: 'TROJAN_Zbot.CY', family: 'TROJAN' });
  assert.equal(dl!.vendor_id, '9001');
  assert.equal(cnc!.title, 'CNC Detected: TROJAN_Zbot.CY');
  assert.equal(cnc!.severity, 95);
  assert.equal(cnc!.domain, 'c2.evil.example');
});

test('a single v3 event; severity on other scales and as risk words', () => {
  const base = JSON.parse(fixtureLine('cyphort', 'v3_event.jsonl', 1));
  assert.equal(cyphort.sniff(rawRecord(JSON.stringify(base))), 0.9);
  assert.equal(alertOf(JSON.stringify({ ...base, event_severity: 7 })).severity, 70);
  assert.equal(alertOf(JSON.stringify({ ...base, event_severity: 65 })).severity, 65);
  assert.equal(alertOf(JSON.stringify({ ...base, incident_risk: 'High' })).severity, 75);
  assert.equal(alertOf(JSON.stringify(base)).severity, 40);
  assert.equal(alertOf(JSON.stringify(base)).title, 'Exploit: CVE-2015-5122');
});

test('v3 incident_details: one alert per download and per infection, FIDO fields', () => {
  const text = fixtureLine('cyphort', 'v3_incident_details.jsonl', 1);
  assert.equal(cyphort.sniff(rawRecord(text)), 0.95);
  const [dl, inf] = alertsOf(text, 'auto');
  assert.equal(dl!.title, 'Malware downloaded: TROJAN_Zbot.CY');
  assert.equal(dl!.url, 'http://dl.evil.example/payload.exe');
  assert.equal(dl!.file?.md5, '44d88612fea8a8f36de82e1278abb02f');
  assert.equal(dl!.domain, 'dl.evil.example');
  assert.equal(dl!.vendor_id, '555');
  assert.equal(dl!.time, '2016-05-02T10:20:00.000Z', 'entries without a time take the incident time');
  assert.deepEqual(dl!.host, { name: 'ws-77', ip: '10.9.8.7' });
  assert.equal(inf!.title, 'Infection (C&C) detected: c2.evil.example, 198.51.100.66');
  assert.equal(inf!.vendor_id, '777');
  assert.equal(inf!.domain, 'c2.evil.example');
  assert.ok(obs(inf!).includes('ip:198.51.100.66:cnc'));
  assert.ok(obs(inf!).includes('domain:c2.evil.example:cnc'));
  const bare = alertOf(JSON.stringify({ incident_id: 9, has_exploit: true, has_download: false, has_data_theft: true }));
  assert.equal(bare.title, 'Cyphort incident 9: exploit, data theft');
});

test('v2 positional arrays: one alert per row, positions as FIDO read them, IPv4 0.0.0.0 dropped', () => {
  const v2 = {
    correlations_array: [row({ 1: 'c-1', 2: '2016-05-02 10:11:12', 4: '10.1.1.9', 6: 'windows', 7: '44d88612fea8a8f36de82e1278abb02f', 11: 'evil.example', 12: 'http://evil.example/a.exe', 14: 'pe32', 16: '198.51.100.7', 19: 'TROJAN_Foo.CY' })],
    downloads_array: [row({ 0: 'd-1', 2: '1462183872', 4: '10.1.1.9', 16: '198.51.100.7', 20: 'TROJAN_Bar.CY' })],
    infections_array: [row({ 1: 'i-1', 2: '2016-05-02T10:11:12Z', 4: '10.1.1.9', 16: '0.0.0.0' })],
  };
  const [c, d, i] = alertsOf(JSON.stringify(v2), 'auto');
  assert.equal(c!.title, 'Infection and download: TROJAN_Foo.CY');
  assert.equal(c!.severity, 80);
  assert.deepEqual(c!.src, { ip: '198.51.100.7', host: 'evil.example' });
  assert.deepEqual(c!.dst, { ip: '10.1.1.9' });
  assert.deepEqual(c!.host, { ip: '10.1.1.9', os: 'windows' });
  assert.equal(c!.file?.md5, '44d88612fea8a8f36de82e1278abb02f');
  assert.equal(c!.url, 'http://evil.example/a.exe');
  assert.equal(c!.vendor_id, 'correlations:c-1');
  assert.equal(d!.title, 'Malware download detected: TROJAN_Bar.CY');
  assert.equal(d!.time, '2016-05-02T10:11:12.000Z');
  assert.equal(d!.vendor_id, 'downloads:d-1');
  assert.equal(i!.title, 'C&C external communication detected');
  assert.deepEqual(i!.src, { ip: '10.1.1.9' });
  assert.equal(i!.dst, undefined);
  assert.equal(i!.severity, 75);
});

test('bare rows and malformed API records are refused with a reason', () => {
  const bare = run(JSON.stringify(row({ 1: 'x' })));
  assert.ok('error' in bare && /cannot be classified/.test(bare.error), JSON.stringify(bare));
  const notArray = run(JSON.stringify({ downloads_array: 'x' }));
  assert.ok('error' in notArray && /downloads_array is not an array/.test(notArray.error));
  const badRow = run(JSON.stringify({ downloads_array: [{ a: 1 }] }));
  assert.ok('error' in badRow && /not a positional array/.test(badRow.error));
  const badTime = run(JSON.stringify({ event_id: 1, event_type: 'cnc', endpoint_ip: '10.0.0.1', last_activity_time: 'soon' }));
  assert.ok('error' in badTime && /last_activity_time: unrecognised timestamp "soon"/.test(badTime.error), JSON.stringify(badTime));
});

test('Juniper ATP Appliance (JATP) CEF as in its syslog guide: the same mapping, "Unknown" is no category', () => {
  const cnc = fixtureLine('cyphort', 'jatp_cef.log', 1);
  const found = reg.detect(rawRecord(cnc));
  assert.ok('detector' in found && found.detector.name === 'cyphort');
  const a = alertOf(cnc, 'auto');
  assert.equal(a.event_type, 'cnc');
  assert.deepEqual(a.rule, { id: 'TROJAN_Vertexbot.CY', name: 'TROJAN_Vertexbot.CY', category: 'cnc' });
  assert.equal(a.malware?.family, undefined);
  assert.deepEqual(a.src, { ip: '31.170.165.131' });
  assert.deepEqual(a.host, { ip: '10.1.1.48' });
  assert.equal(a.time, '2016-02-24T02:17:25.638Z');
  assert.deepEqual(a.device, { name: 'tap54.eng.JATP.net' }, 'the appliance that sent it');
  const email = alertOf(fixtureLine('cyphort', 'jatp_cef.log', 2), 'auto');
  assert.equal(email.event_type, 'email');
  assert.deepEqual(email.file, { name: 'abc.bin', sha1: 'd93216633bf6f86bc3076530b6e9ca6443fc75b5' });
  // Host names, the victim's account and e-mail addresses, when the appliance writes them.
  const named = alertOf(`${fixtureLine('cyphort', 'jatp_cef.log', 2)} dst_hostname=ws-12 src_hostname=mx.evil.example dst_username=CORP\\\\bob src_email_id=spam@evil.example dst_email_id=bob@corp.example`);
  assert.equal(named.host?.name, 'ws-12');
  assert.equal(named.src?.host, 'mx.evil.example');
  assert.deepEqual(named.user, { name: 'bob', domain: 'CORP' });
  assert.deepEqual(named.email, { from: 'spam@evil.example', to: ['bob@corp.example'] });
});

test('Cortex CEF: type from the signature id, malware from the name, SHA-1 file hash, C&C servers', () => {
  const cnc = fixtureLine('cyphort', 'cef.log', 1);
  const found = reg.detect(rawRecord(cnc));
  assert.ok('detector' in found && found.detector.name === 'cyphort');
  const a = alertOf(cnc, 'auto');
  assert.equal(a.title, 'CNC Detected: TROJAN_Zemot.CY');
  assert.equal(a.time, '2015-02-23T17:36:39.841Z');
  assert.deepEqual(a.rule, { id: 'TROJAN_Zemot.CY', name: 'TROJAN_Zemot.CY', category: 'Trojan_DataTheft' });
  assert.equal(a.event_type, 'cnc');
  assert.equal(a.severity, 70);
  assert.deepEqual(a.src, { ip: '50.154.149.189' });
  assert.deepEqual(a.dst, { ip: '192.168.1.10' });
  assert.deepEqual(a.host, { ip: '192.168.1.10' });
  assert.equal(a.vendor_id, '995:123');
  assert.ok(obs(a).includes('ip:50.154.149.189:cnc'));
  const email = alertOf(fixtureLine('cyphort', 'cef.log', 2));
  assert.deepEqual(email.file, { name: 'abc.bin', sha1: 'd93216633bf6f86bc3076530b6e9ca6443fc75b5' });
  const exploit = alertOf(fixtureLine('cyphort', 'cef.log', 3));
  assert.equal(exploit.url, 'http://64.202.116.151/nzrems2/1');
  assert.ok(obs(exploit).includes('url:http://forums.example.com/content.php:referer'));
  const leef = alertOf(fixtureLine('cyphort', 'leef.log', 1), 'auto');
  assert.equal(leef.severity, 100);
  assert.equal(leef.title, 'Malware downloaded: unknown malware');
});

test('sniff stays below the threshold for other products', () => {
  for (const { where, record } of foreignSampleRecords()) assert.ok(cyphort.sniff(record) < 0.5, where);
  for (const text of ['{"event_id":1}', '{"event_type":"http","event_id":1}', '[["a","b"]]', 'CEF:0|Juniper|SRX|1|x|y|5|']) assert.ok(cyphort.sniff(rawRecord(text)) < 0.5, text);
});

test('truncated records and pathological input neither throw nor hang', () => {
  const text = JSON.stringify(V3_EVENTS);
  for (let cut = 0; cut < text.length; cut += 9) {
    const r = run(text.slice(0, cut), 'auto');
    assert.ok('error' in r || 'alerts' in r || 'context' in r);
  }
  finishes(() => run(JSON.stringify({ downloads_array: Array.from({ length: 20_000 }, () => row({ 0: 'x', 2: '2016-05-02 10:11:12' })) })));
  finishes(() => run(JSON.stringify({ infection_array: [{ infection_id: 1, cnc_servers: 'a.example,'.repeat(100_000) }], has_download: false, has_infection: true })));
  finishes(() => run(`CEF:0|Cyphort|Cortex|1|cnc|x|5|cncServers=${'1.2.3.4;'.repeat(100_000)}`));
  assert.equal(alertsOf(JSON.stringify({ downloads_array: Array.from({ length: 1500 }, () => row({ 0: 'x', 2: '2016-05-02 10:11:12' })) })).length, 1000, 'rows per record are capped');
});

test('property: arbitrary input never makes the detector throw; generated v3 events round-trip', () => {
  const anyValue = fc.oneof(fc.string(), fc.integer(), fc.double(), fc.boolean(), fc.constant(null), fc.array(fc.string(), { maxLength: 3 }), fc.dictionary(fc.string(), fc.string(), { maxKeys: 3 }));
  fc.assert(fc.property(fc.oneof(
    fc.json({ maxDepth: 3 }),
    fc.record({ event_id: anyValue, event_type: fc.string(), endpoint_ip: anyValue, source_ip: anyValue, last_activity_time: anyValue, event_severity: anyValue, event_name: anyValue }).map((o) => JSON.stringify(o)),
    fc.record({ downloads_array: fc.oneof(anyValue, fc.array(fc.array(anyValue, { maxLength: 22 }), { maxLength: 3 })) }).map((o) => JSON.stringify(o)),
    fc.record({ has_download: anyValue, has_infection: anyValue, download_array: anyValue, infection_array: anyValue }).map((o) => JSON.stringify(o)),
    fc.string({ maxLength: 200 }).map((s) => `CEF:0|Cyphort|Cortex|1|${s}`),
  ), (text) => {
    cyphort.sniff(rawRecord(text));
    const r = run(text);
    assert.ok('error' in r || 'alerts' in r || 'context' in r);
  }), { numRuns: 800 });
  const name = fc.stringMatching(/^[A-Z][A-Za-z0-9_.]{0,30}$/).filter((w) => !isPlaceholderText(w)); // "NA", "none": the gate drops placeholders
  fc.assert(fc.property(fc.integer({ min: 1, max: 1e9 }), fc.constantFrom('http', 'cnc', 'email', 'exploit'), name, fc.ipV4(), fc.integer({ min: 0, max: 100 }), (id, type, malware, src, sev) => {
    const a = alertOf(JSON.stringify({ event_id: id, event_type: type, event_name: malware, event_severity: sev / 100, last_activity_time: '2016-05-02 10:11:12', endpoint_ip: '10.0.0.5', source_ip: src }), 'auto');
    assert.equal(a.vendor_id, String(id));
    assert.equal(a.malware?.name, malware);
    assert.equal(a.rule?.id, malware);
    assert.equal(a.event_type, type);
    assert.equal(a.severity, sev);
    assert.equal(a.host?.ip, '10.0.0.5');
  }), { numRuns: 300 });
});
