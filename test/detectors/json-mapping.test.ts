import { test } from 'node:test';
import assert from 'node:assert/strict';
import { jsonMappingDetector } from '../../src/detectors/lib/json-mapping.js';
import { loadDetectors, normalizeRecord, rawRecord } from '../../src/detectors/lib/registry.js';
import type { JsonMapping } from '../../src/config/schema.js';

const acme: JsonMapping = {
  name: 'acme-edr',
  description: 'Acme EDR detections (JSON webhook)',
  match: { product: 'Acme EDR', 'meta.version': 2 },
  fields: {
    title: 'detection.name',
    time: 'detection.created_at',
    vendor_id: 'detection.id',
    severity: 'detection.level',
    action: 'detection.outcome',
    'rule.id': 'detection.rule_id',
    'src.ip': 'net.remote_ip',
    'src.port': 'net.remote_port',
    'host.name': 'device.hostname',
    'user.name': 'device.users[0]',
    'file.sha256': 'detection.file.sha256',
    'email.to': 'notify',
    url: 'detection.url',
  },
  severity: { map: { Low: 25, High: 75, Critical: 95 } },
};

const record = {
  product: 'Acme EDR',
  meta: { version: 2 },
  detection: {
    id: 'det-7', name: 'Credential dumping', created_at: '2026-03-04T05:06:07Z', level: 'HIGH', outcome: 'Quarantined', rule_id: 42,
    file: { sha256: 'F610428EBDDF6F8CF9E39322E672583C45FCDCF885EFAD0AB48FD53A3DFC2C4B' }, url: 'hxxp://evil[.]example/x',
  },
  net: { remote_ip: '203.0.113.7', remote_port: '4444' },
  device: { hostname: 'WS-042', users: ['alice', 'bob'] },
  notify: 'soc@corp.example',
};

test('a mapping builds alerts from dotted paths', async () => {
  const reg = await loadDetectors({ jsonMappings: [acme] });
  const r = normalizeRecord(reg, JSON.stringify(record), 'auto');
  assert.ok('alerts' in r, JSON.stringify(r));
  assert.equal(r.detector, 'acme-edr');
  const a = r.alerts[0]!;
  assert.equal(a.title, 'Credential dumping');
  assert.equal(a.time, '2026-03-04T05:06:07.000Z');
  assert.equal(a.vendor_id, 'det-7');
  assert.equal(a.severity, 75);
  assert.deepEqual(a.vendor_severity, { value: 'HIGH', scale: 'acme-edr words' });
  assert.equal(a.action, 'quarantined');
  assert.deepEqual(a.rule, { id: '42' });
  assert.deepEqual(a.src, { ip: '203.0.113.7', port: 4444 });
  assert.deepEqual(a.host, { name: 'WS-042' });
  assert.deepEqual(a.user, { name: 'alice' });
  assert.equal(a.file?.sha256, 'f610428ebddf6f8cf9e39322e672583c45fcdcf885efad0ab48fd53a3dfc2c4b');
  assert.deepEqual(a.email, { to: ['soc@corp.example'] });
  assert.equal(a.url, 'http://evil.example/x');
});

test('sniffing: every match pair must hold', () => {
  const d = jsonMappingDetector(acme);
  assert.equal(d.sniff(rawRecord(JSON.stringify(record))), 0.95);
  assert.equal(d.sniff(rawRecord(JSON.stringify({ ...record, meta: { version: 3 } }))), 0);
  assert.equal(d.sniff(rawRecord(JSON.stringify({ ...record, product: 'Other' }))), 0);
  assert.equal(d.sniff(rawRecord('not json')), 0);
  const loose = jsonMappingDetector({ name: 'loose', fields: { title: 'msg', time: 'ts' } });
  assert.equal(loose.sniff(rawRecord('{"msg":"m","ts":"2026-01-01T00:00:00Z"}')), 0.5);
  assert.equal(loose.sniff(rawRecord('{"msg":"m"}')), 0);
});

test('missing title or time is a ParseError naming the path', async () => {
  const reg = await loadDetectors({ jsonMappings: [acme] });
  const noTitle = structuredClone(record) as { detection: Record<string, unknown> };
  delete noTitle.detection.name;
  assert.deepEqual(normalizeRecord(reg, JSON.stringify(noTitle), 'acme-edr'), { error: 'missing title: nothing at "detection.name"', detector: 'acme-edr' });
  const noTime = structuredClone(record) as { detection: Record<string, unknown> };
  noTime.detection.created_at = null;
  assert.deepEqual(normalizeRecord(reg, JSON.stringify(noTime), 'acme-edr'), { error: 'missing time: nothing at "detection.created_at"', detector: 'acme-edr' });
  const badTime = structuredClone(record) as { detection: Record<string, unknown> };
  badTime.detection.created_at = 'last tuesday';
  assert.match((normalizeRecord(reg, JSON.stringify(badTime), 'acme-edr') as { error: string }).error, /^detection\.created_at: unrecognised timestamp/);
});

test('severity: numeric scale, inverted scale, 0-100 and words without config', () => {
  const sev = (severity: JsonMapping['severity'], level: unknown) => {
    const d = jsonMappingDetector({ name: 's', fields: { title: 't', time: 'ts', severity: 'lvl' }, severity });
    const out = d.parse(rawRecord(JSON.stringify({ t: 'x', ts: '2026-01-01T00:00:00Z', lvl: level })));
    return out.kind === 'alerts' ? out.alerts[0]!.severity : -1;
  };
  assert.equal(sev({ scale: 10 }, 7), 70);
  assert.equal(sev({ scale: 3, invert: true }, 1), 100);
  assert.equal(sev({ scale: 3, invert: true }, '3'), 33);
  assert.equal(sev({ scale: 10 }, 42), 40); // off the scale: unknown
  assert.equal(sev(undefined, 88), 88);
  assert.equal(sev(undefined, 'critical'), 95);
  assert.equal(sev(undefined, 'weird'), 40);
});

test('a mapping without a time field uses the received time', async () => {
  const reg = await loadDetectors({ jsonMappings: [{ name: 'notime', fields: { title: 'msg' } }] });
  const r = normalizeRecord(reg, '{"msg":"hi"}', 'notime', { receivedAt: '2026-02-02T02:02:02Z' });
  assert.ok('alerts' in r);
  assert.equal(r.alerts[0]!.time, '2026-02-02T02:02:02.000Z');
});

test('configuration mistakes are reported when the detector is built', () => {
  assert.throws(() => jsonMappingDetector({ name: 'x', fields: { title: 'a', 'src.mac': 'b' } }), /fields\.src\.mac is not an alert field/);
  assert.throws(() => jsonMappingDetector({ name: 'x', fields: { title: 'a', 'toString': 'b' } }), /fields\.toString is not an alert field/);
  assert.throws(() => jsonMappingDetector({ name: 'x', fields: { time: 'a' } }), /fields\.title is required/);
  assert.throws(() => jsonMappingDetector({ name: 'x', fields: { title: 'a.__proto__.b' } }), /fields\.title: invalid path .*not allowed/);
  assert.throws(() => jsonMappingDetector({ name: 'x', fields: { title: 'a' }, match: { 'constructor.name': 'Object' } }), /match: invalid path/);
});

test('hostile records: prototype keys and wrong types do not leak or throw', async () => {
  const reg = await loadDetectors({ jsonMappings: [{ name: 'm', fields: { title: 'a.b', time: 'ts', 'src.port': 'p', 'host.name': 'h' } }] });
  const r = normalizeRecord(reg, '{"__proto__":{"a":{"b":"polluted"}},"a":{"b":["first",{"x":1}]},"ts":1767225600,"p":{"x":1},"h":{"deep":true}}', 'm');
  assert.ok('alerts' in r, JSON.stringify(r));
  assert.equal(r.alerts[0]!.title, 'first');
  assert.equal(r.alerts[0]!.time, '2026-01-01T00:00:00.000Z');
  assert.equal(r.alerts[0]!.src, undefined);
  assert.equal(r.alerts[0]!.host, undefined);
  assert.equal(({} as Record<string, unknown>).a, undefined);
});
