import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isPlaceholderText } from '../../src/detectors/lib/placeholders.js';
import fc from 'fast-check';
import { rawRecord } from '../../src/detectors/lib/registry.js';
import lastline from '../../src/detectors/lastline.js';
import { finishes, fixtureLine } from './helpers.js';
import { foreignSampleRecords } from './foreign-samples.js';
import { obs, registry, runner } from './json-detector-helpers.js';

// No Lastline sample exists in shared/samples. The records (test/fixtures/samples/lastline/) are reconstructed
// from public documentation: the CEF detection line is the Trellix ESM "Lastline Enterprise log format" sample
// (IPs moved into documentation/private ranges), the appliance-status line the FortiSIEM Lastline sample, the
// LEEF lines follow the field names of the ExabeamLabs Lastline LEEF parsers, the JSON form the same names in
// snake_case.

const { run, alert: alertOf } = await runner('lastline');
const reg = await registry();

const CEF_SIGNATURE = fixtureLine('lastline', 'cef.log', 1);
const CEF_STATUS = fixtureLine('lastline', 'cef.log', 2);
const LEEF_EMAIL = fixtureLine('lastline', 'leef.log', 1);
const LEEF_DNS = fixtureLine('lastline', 'leef.log', 2);

test('CEF signature-match: impact is the severity, cat gives threat class and threat', () => {
  const a = alertOf(CEF_SIGNATURE, 'auto');
  assert.equal(a.title, 'IDS Signature Match: drive-by/Fiesta EK');
  assert.equal(a.time, '2017-05-20T13:16:16.000Z');
  assert.equal(a.event_type, 'signature-match');
  // No rule id in Lastline: the detection's stable name (class/threat) is the id, never the event id.
  assert.deepEqual(a.rule, { id: 'drive-by/Fiesta EK', name: 'drive-by/Fiesta EK', category: 'drive-by' });
  assert.equal(a.severity, 45);
  assert.deepEqual(a.vendor_severity, { value: '45', scale: 'lastline impact 0-100' });
  assert.equal(a.action, 'detected');
  assert.deepEqual(a.src, { ip: '10.0.0.20' });
  assert.deepEqual(a.dst, { ip: '203.0.113.10', port: 80 });
  assert.deepEqual(a.host, { ip: '10.0.0.20' });
  assert.equal(a.url, 'http://example.com/asp9gg3/0040e4c25360c1ec435c460d570f5a0602080b040704580704010742550607;5061531');
  assert.equal(a.domain, 'example.com');
  assert.deepEqual(a.malware, { name: 'Fiesta EK', family: 'drive-by' });
  assert.equal(a.vendor_id, '74444');
  assert.deepEqual(a.device, { id: '3888888888:688888888' });
});

test('Lastline CEF wins over the generic cef detector', () => {
  const found = reg.detect(rawRecord(CEF_SIGNATURE));
  assert.ok('detector' in found && found.detector.name === 'lastline');
  assert.equal(lastline.sniff(rawRecord(CEF_SIGNATURE)), 0.95);
});

test('appliance-status is context, not an alert', () => {
  const r = run(CEF_STATUS, 'auto');
  assert.ok('context' in r, JSON.stringify(r));
  assert.equal(r.detector, 'lastline');
  const e = r.context[0]!;
  assert.equal(e.kind, 'status');
  assert.equal(e.event_type, 'appliance-status');
  assert.equal(e.time, '2018-08-13T14:48:37.000Z'); // CEST = +02:00
  // The sensor reporting its own state is the device.
  assert.deepEqual(e.device, { name: 'sensor1.corp.example', ip: '10.31.61.152', id: '76b80c7ac11a4d37bc6b29e66726b01d' });
  assert.equal(e.host, undefined);
  assert.equal(e.data.cat, 'Online');
  assert.equal(e.data.deviceType, 'SENSOR');
  assert.ok(e.observables.some((o) => o.type === 'ip' && o.value === '10.31.61.152' && o.role === 'device'));
});

test('audit notifications are audit context events: the acting user, where they came from, the appliance', () => {
  const line = CEF_STATUS.replace('|appliance-status|Appliance Status|', '|audit-login|Audit|').replace('cat=Online', 'suser=admin@corp.example src=192.0.2.44 outcome=Success');
  const r = run(line, 'auto');
  assert.ok('context' in r, JSON.stringify(r));
  const e = r.context[0]!;
  assert.equal(e.kind, 'audit');
  assert.equal(e.event_type, 'audit-login');
  assert.deepEqual(e.user, { name: 'admin@corp.example', email: 'admin@corp.example' });
  assert.deepEqual(e.src, { ip: '192.0.2.44', user: 'admin@corp.example' });
  assert.equal(e.outcome, 'success');
  assert.deepEqual(e.device, { name: 'sensor1.corp.example', ip: '10.31.61.152', id: '76b80c7ac11a4d37bc6b29e66726b01d' });
});

test('LEEF email-attachment: sender, recipient, subject, attachment', () => {
  const a = alertOf(LEEF_EMAIL, 'auto');
  assert.equal(a.title, 'Suspicious Email Attachment: malware/Emotet');
  assert.equal(a.time, '2019-05-21T08:59:58.000Z');
  assert.equal(a.severity, 80);
  assert.deepEqual(a.email, { from: 'billing@evil.example', to: ['alice@corp.example'], subject: 'Invoice 4411' });
  assert.deepEqual(a.user, { name: 'alice@corp.example', email: 'alice@corp.example' });
  assert.deepEqual(a.file, { name: 'invoice.doc', md5: '44d88612fea8a8f36de82e1278abb02f' });
  assert.deepEqual(a.malware, { name: 'Emotet', family: 'malware' });
  assert.equal(a.vendor_id, '99887');
  assert.ok(obs(a).includes('email:billing@evil.example:email'));
});

test('LEEF dns-resolution: ports, queried host as domain, internal host; LEEF sev used when there is no impact', () => {
  const a = alertOf(LEEF_DNS, 'auto');
  assert.equal(a.event_type, 'dns-resolution');
  assert.equal(a.rule?.id, 'command&control/Emotet C2');
  assert.deepEqual(a.src, { ip: '192.168.10.5', port: 53211 });
  assert.deepEqual(a.dst, { ip: '192.168.1.1', port: 53, host: 'c2.evil.example' });
  assert.equal(a.domain, 'c2.evil.example');
  assert.deepEqual(a.host, { ip: '192.168.10.5' });
  assert.equal(a.severity, 70);
  const noImpact = alertOf(LEEF_DNS.replace('\timpact=70', ''));
  assert.equal(noImpact.severity, 50);
  assert.deepEqual(noImpact.vendor_severity, { value: '5', scale: 'lastline sev 0-10' });
  const spaced = alertOf(LEEF_DNS.replace(/\t/g, ' '));
  assert.equal(spaced.domain, 'c2.evil.example', 'LEEF 1.0 written with spaces is read too');
});

test('JSON detection events use the same mapping (snake_case names)', () => {
  const j = JSON.parse(fixtureLine('lastline', 'detection.jsonl', 1));
  const text = JSON.stringify(j);
  assert.equal(lastline.sniff(rawRecord(text)), 0.95);
  const a = alertOf(text, 'auto');
  assert.equal(a.title, 'Lastline detection: command&control/Cobalt Strike');
  assert.equal(a.time, '2019-05-21T09:10:11.000Z');
  assert.equal(a.severity, 90);
  assert.deepEqual(a.src, { ip: '10.1.1.5' });
  assert.deepEqual(a.dst, { ip: '198.51.100.9', port: 443, host: 'beacon.evil.example' });
  assert.equal(a.domain, 'beacon.evil.example');
  assert.deepEqual(a.malware, { name: 'Cobalt Strike', family: 'command&control' });
  assert.equal(a.vendor_id, 'ev-77');
  assert.equal(a.event_type, 'detection');
  assert.equal(alertOf(JSON.stringify({ ...j, event_type: 'command-and-control' })).event_type, 'command-and-control');
  const nested = alertOf(JSON.stringify({ event: { ...j, src_ip: undefined }, source: { src_ip: '10.1.1.9' } }));
  assert.equal(nested.src?.ip, '10.1.1.9', 'one level of nesting is read');
});

test('malformed times are errors that name the value; records without event or threat are refused', () => {
  const r = run(LEEF_DNS.replace('devTime=Jun 02 2019 10:00:00 UTC', 'devTime=someday'));
  assert.ok('error' in r && /event time: unrecognised timestamp "someday"/.test(r.error), JSON.stringify(r));
  const e = run('LEEF:1.0|Lastline|Enterprise|8||src=10.0.0.1');
  assert.ok('error' in e && /names no event and no threat/.test(e.error), JSON.stringify(e));
  const h = run('LEEF:1.0|Lastline|Enterprise|8|\tsrc=10.0.0.1');
  assert.ok('error' in h && /lacks a field/.test(h.error), JSON.stringify(h));
  const v = run('LEEF:1.0|Other|Enterprise|8|x|src=1.1.1.1');
  assert.ok('error' in v && /not Lastline/.test(v.error));
});

test('sniff stays below the threshold for other products', () => {
  for (const { where, record } of foreignSampleRecords()) assert.ok(lastline.sniff(record) < 0.5, where);
  for (const text of ['CEF:0|VMware|NSX|4.1|x|y|5|', '{"impact":5}', '{"threat":"x","impact":"5"}', 'lastline']) assert.ok(lastline.sniff(rawRecord(text)) < 0.5, text);
});

test('truncated records and pathological input neither throw nor hang', () => {
  for (const line of [CEF_SIGNATURE, LEEF_EMAIL, CEF_STATUS]) {
    for (let cut = 0; cut < line.length; cut += 7) {
      const r = run(line.slice(0, cut), 'auto');
      assert.ok('error' in r || 'alerts' in r || 'context' in r);
      run(line.slice(0, cut));
    }
  }
  finishes(() => run(`LEEF:1.0|Lastline|Enterprise|1|x|${'cat=a\t'.repeat(200_000)}`));
  finishes(() => run(`CEF:0|Lastline|Enterprise|1|x|y|5|cat=${'/'.repeat(1_000_000)}`));
  finishes(() => run(JSON.stringify(Object.fromEntries(Array.from({ length: 50_000 }, (_, i) => [`k${i}`, { impact: i }])))));
});

test('property: arbitrary input never makes the detector throw; generated LEEF detections round-trip', () => {
  fc.assert(fc.property(fc.string({ maxLength: 300 }), (s) => {
    for (const t of [s, `LEEF:1.0|Lastline|Enterprise|1|${s}`, `CEF:0|Lastline|Enterprise|1|${s}`, `{"impact":1,"threat_class":${JSON.stringify(s)}}`]) {
      lastline.sniff(rawRecord(t));
      const r = run(t);
      assert.ok('error' in r || 'alerts' in r || 'context' in r);
    }
  }), { numRuns: 300 });
  fc.assert(fc.property(fc.json({ maxDepth: 3 }), (j) => {
    const r = run(j);
    assert.ok('error' in r || 'alerts' in r || 'context' in r);
  }), { numRuns: 300 });
  const word = fc.stringMatching(/^[A-Za-z][A-Za-z0-9 ._-]{0,30}[A-Za-z0-9]$/).filter((w) => !isPlaceholderText(w)); // "NA", "none": the gate drops placeholders
  fc.assert(fc.property(word, word, fc.integer({ min: 0, max: 100 }), fc.ipV4(), fc.integer({ min: 1, max: 65535 }), fc.integer({ min: 1, max: 1e9 }), (cls, threat, impact, dst, dpt, id) => {
    const line = `LEEF:1.0|Lastline|Enterprise|8|signature-match|devTime=Jun 02 2019 10:00:00 UTC\tcat=${cls}/${threat}\timpact=${impact}\tsrc=10.9.9.9\tdst=${dst}\tdstPort=${dpt}\texternalId=${id}`;
    const a = alertOf(line, 'auto');
    assert.equal(a.severity, impact);
    assert.equal(a.rule?.category, cls);
    assert.equal(a.malware?.name, threat);
    assert.equal(a.dst?.port, dpt);
    assert.equal(a.vendor_id, String(id));
  }), { numRuns: 300 });
});
