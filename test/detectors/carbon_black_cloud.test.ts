import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fixtureLine, sampleLine } from './helpers.js';
import { assertClaimsNoForeignSample, autoDetectedSamples, hostileVariants, obs, propertyChecks, registry, runner } from './json-detector-helpers.js';

const cb = await runner('carbon_black_cloud');
const reg = await registry();
const analytics = sampleLine('carbon_black_cloud', 'alerts.jsonl', 1);
const watch1 = sampleLine('carbon_black_cloud', 'alerts.jsonl', 2);
const watch2 = sampleLine('carbon_black_cloud', 'alerts.jsonl', 3);

test('every sample is auto-detected as carbon_black_cloud and parses to one alert', () => {
  autoDetectedSamples(cb, 'carbon_black_cloud', 3);
});

test('sniff: no other product sample is claimed', () => {
  assertClaimsNoForeignSample(cb, 'carbon_black_cloud');
});

test('CB_ANALYTICS alert (v7): reason, severity 5/10, device, process, malware name', () => {
  const a = cb.alert(analytics);
  assert.equal(a.vendor_id, '411eedfc-8408-2f9e-59f2-a83dfaae0ec1');
  assert.equal(a.time, '2023-07-17T17:15:33.396Z'); // first_event_timestamp
  assert.equal(a.title, 'A known virus (HackTool: Powerpuff) was detected running.');
  assert.deepEqual(a.rule, { id: 'T_REP_VIRUS', name: 'T_REP_VIRUS', category: 'CB_ANALYTICS' });
  assert.equal(a.severity, 50);
  assert.deepEqual(a.vendor_severity, { value: '5', scale: 'carbon black cloud 1-10' });
  assert.equal(a.action, 'allowed'); // "sensor_action":"ALLOW"
  assert.deepEqual(a.host, { name: 'Kognos-W19-CB-3', ip: '10.0.14.120', id: '6948863', os: 'WINDOWS Windows Server 2019 x64' });
  assert.deepEqual(a.user, { name: 'Administrator', domain: 'KOGNOS-W19-CB-3' });
  assert.equal(a.process?.name, 'powerdump.ps1');
  assert.equal(a.process?.pid, 3600);
  assert.equal(a.process?.parent_name, 'powershell.exe');
  assert.ok(a.process?.command_line?.includes('Invoke-PowerDump'));
  assert.equal(a.file?.path, 'c:\\users\\administrator\\appdata\\local\\temp\\powerdump.ps1');
  assert.equal(a.file?.sha256, '3b463c94b52414cfaad61ecdac64ca84eaea1ab4be69f75834aaa7701ab5e7d0');
  assert.equal(a.file?.md5, '42a80cc2333b612b63a859f17474c9af');
  assert.equal(a.malware?.name, 'HackTool: Powerpuff');
  assert.equal(a.url, 'https://defense.conferdeploy.net/alerts?orgKey=ABCD1234&s%5Bc%5D%5Bquery_string%5D=id%3A411eedfc-8408-2f9e-59f2-a83dfaae0ec1');
  const o = obs(a);
  assert.ok(o.includes('ip:34.234.170.45:host')); // device_external_ip
  assert.ok(o.includes('email:demouser@demo.org:device'));
  assert.ok(o.includes('sha256:de96a6e69944335375dc1ac238336066889d9ffc7d73628ef4fe1b1b160ab32c:parent'));
});

test('WATCHLIST alerts: report as rule, DOMAIN\\host device name, SYSTEM process user falls back to the device user', () => {
  const a = cb.alert(watch1);
  assert.deepEqual(a.rule, { id: 'LrKOC7DtQbm4g8w0UFruQg-d1080521-e617-4e45-94e0-7a145c62c90a', name: 'Execution - AMSI - New Fileless Scheduled Task Behavior Detected', category: 'WATCHLIST' });
  assert.equal(a.host?.name, 'WW-20002'); // "device_name":"EIP\\WW-20002"
  assert.deepEqual(a.user, { name: 'Administrator', domain: 'EIP' }); // device_username; process_username is NT AUTHORITY\SYSTEM
  assert.equal(a.url, 'https://defense.conferdeploy.net/alerts?s[c][query_string]=id:1c6aba68-24cc-41e3-ad8e-4b545a587b55&orgKey=7DESJ9GN');
  const b = cb.alert(watch2);
  assert.equal(b.severity, 100);
  assert.equal(b.severity_label, 'critical');
  assert.equal(b.time, '2023-07-17T17:19:00.412Z');
  assert.deepEqual(b.user, { name: 'Test-Win11' });
  assert.equal(b.process?.parent_name, 'myscript.exe');
});

test('sensor actions and run state', () => {
  const base = JSON.parse(analytics) as Record<string, unknown>;
  const act = (extra: Record<string, unknown>) => cb.alert(JSON.stringify({ ...base, ...extra })).action;
  assert.equal(act({ sensor_action: 'DENY', policy_applied: 'APPLIED' }), 'blocked');
  assert.equal(act({ sensor_action: 'TERMINATE', policy_applied: 'APPLIED' }), 'blocked');
  assert.equal(act({ run_state: 'DID_NOT_RUN', sensor_action: null }), 'blocked');
  assert.equal(act({ sensor_action: null, policy_applied: 'NOT_APPLIED' }), 'detected');
});

test('v6 field names, network fields, {"results": [...]} pages, endpoint events as context', () => {
  const v6 = cb.alert(JSON.stringify({
    id: 'A1B2', legacy_alert_id: 'XYZ', org_key: 'ORG1', create_time: '2021-02-03T04:05:06.000Z', first_event_time: '2021-02-03T04:00:00.000Z',
    type: 'CB_ANALYTICS', category: 'THREAT', severity: 8, reason: 'The application chrome.exe connected to a known malware site', reason_code: 'R_MALWARE_SITE',
    device_id: 42, device_name: 'laptop-7', device_username: 'frank@corp.example', device_os: 'MAC', threat_cause_actor_name: 'chrome.exe',
    threat_cause_actor_sha256: '9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08', netconn_remote_ip: '203.0.113.77', netconn_remote_port: 443, netconn_remote_domain: 'malware.example.com',
  }));
  assert.equal(v6.time, '2021-02-03T04:00:00.000Z');
  assert.equal(v6.severity, 80);
  assert.deepEqual(v6.user, { name: 'frank@corp.example', email: 'frank@corp.example' });
  assert.equal(v6.file?.sha256, '9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08');
  assert.deepEqual(v6.dst, { ip: '203.0.113.77', port: 443 });
  assert.equal(v6.domain, 'malware.example.com');
  const page = cb.alerts(JSON.stringify({ num_found: 2, num_available: 2, results: [JSON.parse(watch1), JSON.parse(watch2)] }));
  assert.equal(page.length, 2);
  const ev = cb.context(JSON.stringify({ type: 'endpoint.event.netconn', org_key: 'ORG1', device_id: 1, device_name: 'ws', device_timestamp: '2024-01-01 10:00:00.000', remote_ip: '198.51.100.2', netconn_domain: 'x.example.org' }));
  assert.equal(ev.kind, 'endpoint');
  assert.ok(ev.observables.some((o) => o.type === 'ip' && o.value === '198.51.100.2'));
});

test('legacy SIEM notifications: THREAT and POLICY_ACTION', () => {
  const threatText = fixtureLine('carbon_black_cloud', 'siem_notifications.jsonl', 1);
  const device = (JSON.parse(threatText) as { deviceInfo: unknown }).deviceInfo;
  const threat = cb.alert(threatText);
  assert.equal(threat.vendor_id, 'ABC');
  assert.equal(threat.time, '2017-09-19T21:11:10.113Z');
  assert.equal(threat.severity, 70);
  assert.deepEqual(threat.host, { name: 'LAP-3', ip: '10.5.5.5', id: '123', os: 'WINDOWS' });
  assert.deepEqual(threat.user, { name: 'jane@corp.example', email: 'jane@corp.example' });
  assert.equal(threat.file?.sha256, '4ab2c4932e01ab8460bd8bff5afb0c76e9e238c10ce47515be40c49f652d0282');
  assert.ok(obs(threat).includes('sha256:a6f593d2c6a34da0ee4205cbd1139c3e107f1a6ba63ce0fa064eca40620b9314:file'));
  const policy = cb.alert(fixtureLine('carbon_black_cloud', 'siem_notifications.jsonl', 2));
  assert.equal(policy.action, 'blocked');
  assert.equal(policy.vendor_id, 'e2');
  assert.equal(cb.run(JSON.stringify({ type: 'THREAT', deviceInfo: device, threatInfo: {} }), 'auto').detector, 'carbon_black_cloud');
});

test('malformed records are rejected with a reason', () => {
  const base = JSON.parse(analytics) as Record<string, unknown>;
  assert.match(cb.error(JSON.stringify({ ...base, first_event_timestamp: 'later' })), /first_event_timestamp/);
  assert.match(cb.error(JSON.stringify({ ...base, severity: 'high' })), /severity/);
  assert.match(cb.error(JSON.stringify({ ...base, watchlists: 'x' })), /watchlists/);
  assert.match(cb.error(JSON.stringify({ ...base, reason: null, type: null })), /reason/);
});

test('hostile values never crash or hang the detector', () => {
  assert.ok(hostileVariants('carbon_black_cloud', reg, [analytics, watch1]) > 1000);
});

test('property: arbitrary JSON and mutated samples only ever raise ParseError', () => {
  propertyChecks(cb.detector, [analytics, watch1, watch2]);
});
