import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fixtureLine, sampleLine } from './helpers.js';
import { assertClaimsNoForeignSample, autoDetectedSamples, hostileVariants, obs, propertyChecks, registry, runner } from './json-detector-helpers.js';

const sc = await runner('sophos_central');
const reg = await registry();
const alert1 = sampleLine('sophos_central', 'alerts.jsonl', 1);
const alert2 = sampleLine('sophos_central', 'alerts.jsonl', 2);

test('every sample is auto-detected as sophos_central and parses to one alert', () => {
  autoDetectedSamples(sc, 'sophos_central', 2);
});

test('sniff: no other product sample is claimed', () => {
  assertClaimsNoForeignSample(sc, 'sophos_central');
});

test('PUA cleanup-failed alert: host, user, threat, file from the description, IPS details', () => {
  const a = sc.alert(alert1);
  assert.equal(a.vendor_id, '8bbd989a-6cab-407f-a586-c5064b94f76a');
  assert.equal(a.time, '2022-11-24T07:07:48.000Z'); // "when"
  assert.equal(a.title, "Manual PUA cleanup required: 'PUAqsw3kby31j' at 'C:\\Program Files (x86)\\Trojan Horse\\bin\\eicar.com'");
  assert.deepEqual(a.rule, { id: 'Event::Endpoint::Threat::PuaCleanupFailed', name: 'PuaCleanupFailed', category: 'Threat' });
  assert.equal(a.severity, 50);
  assert.deepEqual(a.vendor_severity, { value: 'medium', scale: 'sophos central low|medium|high' });
  assert.equal(a.action, 'detected'); // cleanup failed: the threat is still there
  assert.deepEqual(a.host, { name: 'Lightning-rvda5c291x', ip: '67.43.156.0', id: '0320820b-84b4-41ea-95fd-5893fb17e420', os: 'windows' });
  assert.deepEqual(a.user, { name: 'User Name' }); // "source":"\\User Name"
  assert.equal(a.malware?.name, 'PUAqsw3kby31j');
  assert.equal(a.file?.path, 'C:\\Program Files (x86)\\Trojan Horse\\bin\\eicar.com');
  assert.equal(a.file?.name, 'eicar.com');
  assert.equal(a.event_type, 'Event::Endpoint::Threat::PuaCleanupFailed');
  assert.deepEqual(a.dst, { ip: '81.2.69.142', port: 789 });
  // The endpoint's address as Sophos reports it (source_info), with the local port of the IPS connection.
  assert.deepEqual(a.src, { ip: '67.43.156.0', port: 123 });
  assert.ok(obs(a).includes('ip:81.2.69.142:src')); // raw_data's "Local IP" stays an indicator
  assert.deepEqual(a.process, { name: 'Bad Program', pid: 2468 });
  const o = obs(a);
  assert.ok(o.includes('sha256:19648ce85f07f4dec80c4b37266c31a1025dab5318dff5c1ab1f65a7e7886b3c:process'));
  assert.ok(o.includes('mac:00:00:5e:00:53:00:src'));
  assert.deepEqual(sc.alert(alert2).user, { name: 'User Name' }); // "source":"User Name"
});

test('events API: threat events are alerts, routine events context; actions from the type', () => {
  const ev = (type: string, extra: Record<string, unknown> = {}) =>
    JSON.stringify({ id: 'e1', when: '2024-04-23T16:22:10.159Z', created_at: '2024-04-23T16:22:10.170Z', severity: 'low', type, location: 'WS-5', endpoint_id: 'ep-5', endpoint_type: 'computer', customer_id: 'c', source: 'CORP\\hank', source_info: { ip: '10.0.0.9' }, name: `event ${type}`, group: 'UNCATEGORIZED', ...extra });
  const routine = sc.context(ev('Event::Endpoint::UpdateRebootRequired', { group: 'UPDATING', source: 'n/a' }));
  assert.equal(routine.kind, 'status');
  assert.equal(routine.event_type, 'Event::Endpoint::UpdateRebootRequired');
  assert.equal(routine.time, '2024-04-23T16:22:10.159Z');
  assert.deepEqual(routine.host, { name: 'WS-5', ip: '10.0.0.9', id: 'ep-5' });
  assert.equal(routine.user, undefined); // "n/a"
  assert.deepEqual(routine.device, { id: 'c' });
  assert.equal(routine.data.group, 'UPDATING');
  const cleaned = sc.alert(ev('Event::Endpoint::Threat::CleanedUp', { group: 'MALWARE', threat: 'Mal/Generic-S', name: "Malware cleaned up: 'Mal/Generic-S' at 'C:\\Users\\hank\\a.exe'" }));
  assert.equal(cleaned.action, 'quarantined');
  assert.deepEqual(cleaned.user, { name: 'hank', domain: 'CORP' });
  assert.equal(cleaned.file?.path, 'C:\\Users\\hank\\a.exe');
  assert.equal(cleaned.host?.ip, '10.0.0.9');
  assert.equal(sc.alert(ev('Event::Endpoint::WebFilteringBlocked', { group: 'WEB' })).action, 'blocked');
  assert.equal(sc.alert(ev('Event::Endpoint::Application::Blocked', { group: 'APPLICATION_CONTROL' })).action, 'blocked');
  assert.equal(sc.alert(ev('Event::Endpoint::Threat::Detected', { severity: 'high', group: 'MALWARE' })).severity, 75);
  assert.equal(sc.alert(ev('Event::Endpoint::HmpaExploitPrevented', { group: 'RUNTIME_DETECTIONS', severity: 'high' })).action, 'blocked');
  assert.equal(sc.context(ev('Event::Endpoint::Registered', { group: 'PROTECTION' })).kind, 'status');
  assert.equal(sc.context(ev('Event::Endpoint::UserLoggedIn', { group: 'PROTECTION' })).kind, 'auth');
  assert.equal(sc.context(ev('Event::ADSync::GroupsAdded', { group: 'ADSYNC' })).kind, 'audit');
});

test('events API context record: user, IPS connection, AMSI process, endpoint and tenant in canonical fields', () => {
  const e = sc.context(fixtureLine('sophos_central', 'siem_events.jsonl', 1), 'auto');
  assert.equal(e.kind, 'audit');
  assert.equal(e.event_type, 'Event::Endpoint::UserAutoCreated');
  assert.equal(e.time, '2022-11-24T07:06:40.883Z');
  assert.deepEqual(e.user, { name: 'Lightning', domain: 'Lightning-wmknq52avx' });
  // ips_threat_data (camelCase, the events API's spelling): the endpoint → the remote side.
  assert.deepEqual(e.src, { ip: '81.2.69.192', port: 123 });
  assert.deepEqual(e.dst, { ip: '81.2.69.192', port: 789 });
  assert.deepEqual(e.host, { name: 'Lightning-rvda5c291x', ip: '81.2.69.192', id: '0320820b-84b4-41ea-95fd-5893fb17e420' });
  assert.deepEqual(e.device, { id: 'd1271b33-4e24-4cc3-951a-badc38976ca3' });
  assert.deepEqual(e.process, { name: 'Bad Process', parent_name: 'someFile.exe' });
  assert.deepEqual(e.file, { name: 'foo.dll', path: 'C:\\foo.dll', sha256: '18ac3e7343f016890c510e93f935261169d9e3f565436429830faf0934f4f8e4' });
  assert.equal(e.data.origin, 'BLOCKLISTED'); // the product's object is kept
  assert.ok(obs(e).includes('mac:00:00:5e:00:53:00:dst'));
});

test('events API update event (Event::Endpoint::UpdateSuccess): status context; source_info 0.0.0.0 is no address', () => {
  const e = sc.context(fixtureLine('sophos_central', 'siem_events_update.jsonl', 1), 'auto');
  assert.equal(e.kind, 'status');
  assert.equal(e.event_type, 'Event::Endpoint::UpdateSuccess');
  assert.equal(e.time, '2023-05-09T07:53:04.064Z');
  assert.deepEqual(e.host, { name: 'LOCATION-14', id: '5fd28512-c652-0000-8866-f5050af5831b' });
  assert.deepEqual(e.user, { name: 'Test User' });
  assert.deepEqual(e.device, { id: '123123-1d95-4dc3-b1c4-a20987949d18' });
  assert.equal(e.src, undefined);
  assert.ok(!JSON.stringify(e.observables).includes('0.0.0.0'));
});

test('alerts API record with a domain account: user split, hmpa process only for exploit types', () => {
  const a = sc.alert(fixtureLine('sophos_central', 'siem_alerts.jsonl', 1), 'auto');
  assert.deepEqual(a.user, { name: 'User', domain: 'Domain' });
  assert.deepEqual(a.src, { ip: '67.43.156.0', port: 123 });
  assert.deepEqual(a.dst, { ip: '81.2.69.142', port: 789 });
  assert.equal(a.host?.name, 'Lightning-rvda5c291x');
  assert.deepEqual(a.process, { name: 'Bad Program', pid: 2468 }); // a PUA cleanup: the IPS executable
  const exploit = JSON.parse(fixtureLine('sophos_central', 'siem_alerts.jsonl', 1)) as Record<string, unknown>;
  exploit.type = 'Event::Endpoint::HmpaCryptoGuardDetection';
  assert.deepEqual(sc.alert(JSON.stringify(exploit)).process, { name: 'Lightning:Notepad++', pid: 135510845 });
});

test('Common API alert (raisedAt, managedAgent, person)', () => {
  const a = sc.alert(fixtureLine('sophos_central', 'common_api_alerts.jsonl', 1));
  assert.equal(a.time, '2024-06-01T12:00:00.000Z');
  assert.deepEqual(a.host, { name: 'LAPTOP-9', id: 'agent-1' });
  assert.deepEqual(a.user, { name: 'ivy', domain: 'CORP' });
  assert.equal(a.rule?.category, 'malware');
  assert.equal(a.severity_label, 'high');
});

test('malformed records are rejected with a reason', () => {
  const base = JSON.parse(alert1) as Record<string, unknown>;
  assert.match(sc.error(JSON.stringify({ ...base, when: 'yesterday' })), /when/);
  assert.match(sc.error(JSON.stringify({ ...base, type: 'Alert::Something' })), /Event::/);
  assert.match(sc.error(JSON.stringify({ ...base, type: null })), /missing type/);
  assert.match(sc.error(JSON.stringify({ ...base, data: [] })), /data/);
});

test('hostile values never crash or hang the detector', () => {
  assert.ok(hostileVariants('sophos_central', reg, [alert1]) > 1000);
});

test('property: arbitrary JSON and mutated samples only ever raise ParseError', () => {
  propertyChecks(sc.detector, [alert1, alert2]);
});
