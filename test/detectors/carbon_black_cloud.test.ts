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
  assert.equal(a.event_type, 'CB_ANALYTICS');
  assert.equal(a.time, '2023-07-17T17:15:33.396Z'); // first_event_timestamp
  assert.equal(a.title, 'A known virus (HackTool: Powerpuff) was detected running.');
  assert.deepEqual(a.rule, { id: 'T_REP_VIRUS', name: 'T_REP_VIRUS', category: 'CB_ANALYTICS' });
  assert.equal(a.severity, 50);
  assert.deepEqual(a.vendor_severity, { value: '5', scale: 'carbon black cloud 1-10' });
  assert.equal(a.action, 'allowed'); // "sensor_action":"ALLOW"
  assert.deepEqual(a.host, { name: 'Kognos-W19-CB-3', ip: '10.0.14.120', id: '6948863', os: 'WINDOWS Windows Server 2019 x64' });
  assert.deepEqual(a.user, { name: 'demouser@demo.org', email: 'demouser@demo.org' }); // device_username: the person logged on
  assert.ok(obs(a).includes('user:Administrator:process')); // process_username
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
  assert.ok(o.includes('email:demouser@demo.org:device_user'));
  assert.ok(o.includes('sha256:de96a6e69944335375dc1ac238336066889d9ffc7d73628ef4fe1b1b160ab32c:parent'));
});

test('WATCHLIST alerts: report as rule, DOMAIN\\host device name, the device user before the SYSTEM process user', () => {
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
  const ev = cb.context(JSON.stringify({ type: 'endpoint.event.netconn', org_key: 'ORG1', device_id: 1, device_name: 'ws', device_timestamp: '2024-01-01 10:00:00.000', remote_ip: '198.51.100.2', remote_port: 443, local_ip: '10.1.1.1', local_port: 50000, netconn_inbound: false, netconn_domain: 'x.example.org' }));
  assert.equal(ev.kind, 'flow');
  assert.equal(ev.event_type, 'endpoint.event.netconn');
  assert.deepEqual(ev.src, { ip: '10.1.1.1', port: 50000 });
  assert.deepEqual(ev.dst, { ip: '198.51.100.2', port: 443 });
  assert.equal(ev.domain, 'x.example.org');
  assert.deepEqual(ev.host, { name: 'ws', id: '1' });
});

const v7 = (n: number) => fixtureLine('carbon_black_cloud', 'alerts_v7_v6.jsonl', n);
const forwarder = (file: string, n: number) => fixtureLine('carbon_black_cloud', `forwarder_${file}.jsonl`, n);

test('v7 IDS and container runtime alerts: the rule id and name of the signature, the connection, event_type', () => {
  const ids = cb.alert(v7(1));
  assert.equal(ids.event_type, 'INTRUSION_DETECTION_SYSTEM');
  assert.deepEqual(ids.rule, { id: 'B5974D4D-265E-4FAF-8F71-2F76AAD67857', name: 'CVE-2021-44228 Exploit', category: 'INTRUSION_DETECTION_SYSTEM' });
  assert.deepEqual(ids.src, { ip: '10.203.105.21', port: 49233 });
  assert.deepEqual(ids.dst, { ip: '81.2.69.142', port: 80 });
  assert.equal(ids.domain, 'google.com');
  assert.equal(ids.host?.name, 'DEV01-39X-1');
  assert.deepEqual(ids.user, { name: 'DemoMachine' }); // device_username before process_username DEV01-39X-1\\bit9qa
  assert.ok(ids.process?.command_line?.startsWith('curl  -H'));
  const k8s = cb.alert(v7(2)); // no device: a Kubernetes workload
  assert.equal(cb.run(v7(2), 'auto').detector, 'carbon_black_cloud');
  assert.equal(k8s.event_type, 'CONTAINER_RUNTIME');
  assert.deepEqual(k8s.rule, { id: 'f8b1637a-dc0c-49bb-bc28-5b48f97e6d58', name: 'Allowed public destinations', category: 'CONTAINER_RUNTIME' });
  assert.deepEqual(k8s.dst, { ip: '175.16.199.0', port: 443 });
  assert.equal(k8s.domain, 'demo.remote.domain.com');
});

test('v6 WATCHLIST and DEVICE_CONTROL alerts: title from the report, process_path as the file, the USB deny blocked', () => {
  const w = cb.alert(v7(3)); // no reason: the report name is the title
  assert.equal(w.title, 'Execution - PowerShell Downloading Behaviors Detected');
  assert.equal(w.event_type, 'WATCHLIST');
  assert.equal(w.file?.path, 'c:\\windows\\system32\\windowspowershell\\v1.0\\powershell.exe');
  assert.equal(w.file?.sha256, '908b64b1971a979c7e3e8ce4621945cba84854cb98d76367b791a6e22b5f6d53');
  assert.equal(w.host?.name, 'DESKTOP-001'); // "abc\\DESKTOP-001"
  assert.deepEqual(w.user, { name: 'test56@demo.com', domain: 'xyz', email: 'test56@demo.com' });
  const usb = cb.alert(v7(4));
  assert.equal(usb.event_type, 'DEVICE_CONTROL');
  assert.equal(usb.action, 'blocked');
  assert.equal(usb.host?.ip, '81.2.69.144');
});

test('Data Forwarder watchlist hits: alerts with process_hash [md5, sha256], process_path, parent_path', () => {
  const a = cb.alert(forwarder('watchlist_hits', 2));
  assert.equal(cb.run(forwarder('watchlist_hits', 2), 'auto').detector, 'carbon_black_cloud');
  assert.equal(a.event_type, 'watchlist.hit');
  assert.equal(a.title, 'Discovery - System Service Discovery Detected');
  assert.deepEqual(a.rule, { id: 'CFnKBKLTv6hUkBGFobRdg-565571', name: 'Discovery - System Service Discovery Detected', category: 'watchlist.hit' });
  assert.deepEqual(a.file, { name: 'sc.exe', path: 'c:\\windows\\syswow64\\sc.exe', md5: 'd9d7684b8431a0d10d0e76fe9f5ffec8', sha256: '4fe6d9eb8109fb79ff645138de7cff37906867aade589bd68afa503a9ab3cfb2' });
  assert.deepEqual(a.process, { name: 'sc.exe', command_line: 'sc  query aella_conf', pid: 7516, parent_name: 'cmd.exe' });
  assert.deepEqual(a.host, { name: 'DESKTOP-002', ip: '10.33.4.214', id: '2', os: 'WINDOWS' });
  assert.equal(a.time, '2022-02-10T23:54:32.449Z');
  assert.ok(obs(a).includes('md5:d0fce3afa6aa1d58ce9fa336cc2b675b:parent'));
  assert.ok(a.vendor_id?.startsWith('CFnKBKLTv6hUkBGFobRdg-565571:'));
  const linux = cb.alert(forwarder('watchlist_hits', 1)); // "process_hash":["",""]: no hash
  assert.deepEqual(linux.file, { name: 'rm', path: '/usr/bin/rm' });
  assert.deepEqual(linux.user, { name: 'root' });
});

test('Data Forwarder endpoint events: each kind with its canonical fields and the Go-format device time', () => {
  const ev = (n: number) => cb.context(forwarder('endpoint_events', n));
  const regmod = ev(1);
  assert.equal(regmod.kind, 'other');
  assert.equal(regmod.time, '2022-02-10T11:50:51.686Z'); // "2022-02-10 11:50:51.686294 +0000 UTC"
  assert.equal(regmod.host?.name, 'DESKTOP-001'); // "xxx\\DESKTOP-001"
  assert.equal(regmod.process?.name, 'sophoshealth.exe');
  const mod = ev(2);
  assert.equal(mod.kind, 'file');
  assert.deepEqual(mod.file, { name: 'dnsapi.dll', path: 'c:\\windows\\system32\\dnsapi.dll', md5: '2f9444b55cdc2c66cd692d6088091ef4', sha256: 'cad38c9348fca41ffd0c2e4d66a1ff5b7ea16db4928b464aa69b1c166dab039f' });
  const start = ev(3); // the child started, its parent the record's process
  assert.equal(start.kind, 'process');
  assert.deepEqual(start.process, { name: 'arp.exe', command_line: '"arp.exe" /a', pid: 780, parent_name: 'windowsazureguestagent.exe' });
  assert.equal(start.file?.md5, '70cc03d968b1e7446d30af1037c228bf');
  const filemod = ev(4);
  assert.equal(filemod.kind, 'file');
  assert.equal(filemod.file?.path, 'c:\\programdata\\carbonblack\\logs\\scanhost.log');
  assert.deepEqual(filemod.user, { name: 'SYSTEM', domain: 'NT AUTHORITY' });
  const net = ev(5); // netconn_inbound: the remote end is the source
  assert.equal(net.kind, 'flow');
  assert.deepEqual(net.src, { ip: '67.43.156.14', port: 9001 });
  assert.deepEqual(net.dst, { ip: '127.0.0.1', port: 9716 });
  const cross = ev(6);
  assert.equal(cross.kind, 'process');
  assert.ok(obs(cross).includes('sha256:9e9c7696859b94b1c33a532fa4d5c648226cf3361121dd899e502b8949fb11a6:target'));
});

test('legacy SIEM notifications: THREAT and POLICY_ACTION', () => {
  const threatText = fixtureLine('carbon_black_cloud', 'siem_notifications.jsonl', 1);
  const device = (JSON.parse(threatText) as { deviceInfo: unknown }).deviceInfo;
  const threat = cb.alert(threatText);
  assert.equal(threat.vendor_id, 'ABC');
  assert.equal(threat.event_type, 'THREAT');
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
  assert.match(cb.error(JSON.stringify({ ...base, reason: null, type: null, reason_code: null })), /reason/);
});

test('hostile values never crash or hang the detector', () => {
  assert.ok(hostileVariants('carbon_black_cloud', reg, [analytics, watch1]) > 1000);
});

test('property: arbitrary JSON and mutated samples only ever raise ParseError', () => {
  propertyChecks(cb.detector, [analytics, watch1, watch2, forwarder('watchlist_hits', 2), forwarder('endpoint_events', 3)]);
});
