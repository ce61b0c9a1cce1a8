import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { rawRecord } from '../../src/detectors/lib/registry.js';
import protectwise from '../../src/detectors/protectwise.js';
import { finishes, fixtureLine } from './helpers.js';
import { foreignSampleRecords } from './foreign-samples.js';
import { obs, runner } from './json-detector-helpers.js';

// No ProtectWise sample exists in shared/samples. The records (test/fixtures/samples/protectwise/) are
// reconstructed from the fields FIDO read (fido-original.md §3.8) and those the Splunk SOAR and Cortex XSOAR
// ProtectWise integrations read (connectionInfo, fileReputation.hashes, idsEvent.description, netflow id.*,
// startedAt/observedAt).

const { run, alerts: alertsOf } = await runner('protectwise');

const EVENT = JSON.parse(fixtureLine('protectwise', 'event.jsonl', 1));

test('event detail: one alert per observation, IDS signature as rule, reputations as indicators', () => {
  const text = JSON.stringify(EVENT);
  assert.equal(protectwise.sniff(rawRecord(text)), 0.9);
  const [a, b] = alertsOf(text, 'auto');
  assert.equal(a!.title, 'Command and control traffic to known Zeus server');
  assert.equal(a!.time, '2016-05-02T10:11:13.000Z'); // occurredAt 1462183873000
  // gid 1 is the rules engine: the sid alone (docs/model.md, rule.id).
  assert.deepEqual(a!.rule, { id: '2012345', name: 'ET TROJAN Zeus C2 Beacon', category: 'A Network Trojan was detected' });
  assert.equal(a!.event_type, 'Ids');
  assert.deepEqual(a!.device, { id: '7' });
  assert.equal(a!.severity, 82);
  assert.deepEqual(a!.vendor_severity, { value: '82', scale: 'protectwise threatScore 0-100' });
  assert.equal(a!.action, 'detected');
  assert.deepEqual(a!.src, { ip: '10.2.2.2', port: 49152 });
  assert.deepEqual(a!.dst, { ip: '203.0.113.9', port: 443 });
  assert.deepEqual(a!.host, { ip: '10.2.2.2' });
  assert.equal(a!.url, 'http://c2.evil.example/gate.php');
  assert.equal(a!.domain, 'c2.evil.example');
  assert.equal(a!.vendor_id, 'ev-3f9a:ob-1');
  assert.ok(obs(a!).includes('ip:203.0.113.9:reputation'));
  // Second observation: inbound download, the internal end is dst (FIDO's "10." orientation).
  assert.deepEqual(b!.src, { ip: '198.51.100.20', port: 80 });
  assert.deepEqual(b!.host, { ip: '10.2.2.2' });
  assert.deepEqual(b!.file, { name: 'update.exe', md5: '44d88612fea8a8f36de82e1278abb02f', sha1: '3395856ce81f2b7382dee72602f798b642f14140', sha256: '275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f' });
  assert.deepEqual(b!.rule, { id: 'Zeus', name: 'Command and control traffic to known Zeus server', category: 'Zeus' });
  assert.equal(b!.event_type, 'FileReputation');
  assert.ok(obs(b!).includes('mac:00:50:56:aa:bb:cc:src'));
});

test('event list: events without observations are one alert each, netflow gives the addresses', () => {
  const summary = { ...EVENT, id: 'ev-2', observations: undefined, threatScore: undefined, threatLevel: 'MEDIUM' };
  const text = JSON.stringify({ count: 2, events: [{ ...EVENT, observations: undefined }, summary] });
  assert.equal(protectwise.sniff(rawRecord(text)), 0.95);
  const [a, b] = alertsOf(text, 'auto');
  assert.equal(a!.time, '2016-05-02T10:11:12.000Z'); // startedAt
  assert.deepEqual(a!.src, { ip: '10.2.2.2', port: 49152 });
  assert.equal(a!.vendor_id, 'ev-3f9a');
  assert.equal(a!.event_type, 'IdsEvent', 'an event without observations is known by its type');
  assert.equal(b!.severity, 50);
  assert.deepEqual(b!.vendor_severity, { value: 'MEDIUM', scale: 'protectwise threatLevel LOW|MEDIUM|HIGH' });
});

test('observation records and the observations list; 0.0.0.0 is no address', () => {
  const o = { ...EVENT.observations[0]!, flowId: { ip: { srcIp: '0.0.0.0', dstIp: '203.0.113.9', srcPort: 1, dstPort: 2 } }, threatScore: 30 };
  assert.equal(protectwise.sniff(rawRecord(JSON.stringify(o))), 0.85);
  const [a] = alertsOf(JSON.stringify(o), 'auto');
  assert.equal(a!.title, 'ET TROJAN Zeus C2 Beacon');
  assert.deepEqual(a!.src, { port: 1 });
  assert.equal(a!.severity, 30);
  assert.equal(a!.vendor_id, 'ob-1');
  const list = alertsOf(JSON.stringify({ observations: [o, { ...o, id: 'ob-9', data: {}, killChainStage: 'Recon' }] }), 'auto');
  assert.equal(list.length, 2);
  assert.equal(list[1]!.title, 'Recon observation from Ids');
  // A generator other than 1 prefixes the sid.
  const gid3 = { ...o, data: { idsEvent: { ...o.data.idsEvent, generatorId: 3 } } };
  assert.equal(alertsOf(JSON.stringify(gid3))[0]!.rule?.id, '3:2012345');
});

test('bad times and empty lists are refused with a reason', () => {
  const r = run(JSON.stringify({ ...EVENT, observations: [{ ...EVENT.observations[0], occurredAt: 'yesterday' }] }));
  assert.ok('error' in r && /unrecognised time "yesterday"/.test(r.error), JSON.stringify(r));
  const e = run(JSON.stringify({ events: [] }));
  assert.ok('error' in e);
  const n = run('not json');
  assert.ok('error' in n && /expects JSON/.test(n.error), JSON.stringify(n));
});

test('sniff stays below the threshold for other products', () => {
  for (const { where, record } of foreignSampleRecords()) assert.ok(protectwise.sniff(record) < 0.5, where);
  for (const text of ['{"id":1,"message":"x"}', '{"events":[{"id":1}]}', '{"occurredAt":1}']) assert.ok(protectwise.sniff(rawRecord(text)) < 0.5, text);
});

test('truncated records and pathological input neither throw nor hang', () => {
  const text = JSON.stringify(EVENT);
  for (let cut = 0; cut < text.length; cut += 9) {
    const r = run(text.slice(0, cut), 'auto');
    assert.ok('error' in r || 'alerts' in r || 'context' in r);
  }
  finishes(() => run(JSON.stringify({ ...EVENT, observations: Array.from({ length: 20_000 }, () => EVENT.observations[0]) })));
  assert.equal(alertsOf(JSON.stringify({ ...EVENT, observations: Array.from({ length: 1500 }, () => EVENT.observations[0]) })).length, 1000);
});

test('property: arbitrary input never makes the detector throw; generated observations round-trip', () => {
  const anyValue = fc.oneof(fc.string(), fc.integer(), fc.double(), fc.boolean(), fc.constant(null), fc.array(fc.string(), { maxLength: 3 }), fc.dictionary(fc.string(), fc.string(), { maxKeys: 3 }));
  fc.assert(fc.property(fc.oneof(
    fc.json({ maxDepth: 4 }),
    fc.record({ id: anyValue, message: fc.string(), killChainStage: anyValue, threatScore: anyValue, startedAt: anyValue, observations: fc.oneof(anyValue, fc.array(fc.record({ id: anyValue, occurredAt: anyValue, flowId: anyValue, connectionInfo: anyValue, data: anyValue }), { maxLength: 3 })), netflows: anyValue }).map((o) => JSON.stringify(o)),
  ), (text) => {
    protectwise.sniff(rawRecord(text));
    const r = run(text);
    assert.ok('error' in r || 'alerts' in r || 'context' in r);
  }), { numRuns: 800 });
  fc.assert(fc.property(fc.ipV4(), fc.integer({ min: 1, max: 65535 }), fc.integer({ min: 0, max: 100 }), fc.integer({ min: 1_000_000_000_000, max: 2_000_000_000_000 }), (dst, dport, score, at) => {
    const [a] = alertsOf(JSON.stringify({ id: 'o', occurredAt: at, sensorId: 1, killChainStage: 'Exploit', threatScore: score, connectionInfo: { srcIp: '10.0.0.1', dstIp: dst, dstPort: dport } }), 'auto');
    assert.equal(a!.time, new Date(at).toISOString());
    assert.equal(a!.severity, score);
    assert.equal(a!.dst?.port, dport);
    assert.equal(a!.host?.ip, '10.0.0.1');
  }), { numRuns: 300 });
});
