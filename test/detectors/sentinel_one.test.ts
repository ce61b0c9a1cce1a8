import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fixtureLine, sampleLine } from './helpers.js';
import { assertClaimsNoForeignSample, autoDetectedSamples, hostileVariants, obs, propertyChecks, registry, runner } from './json-detector-helpers.js';

const s1 = await runner('sentinel_one');
const reg = await registry();
const threat1 = sampleLine('sentinel_one', 'threats.jsonl', 1);
const threat2 = sampleLine('sentinel_one', 'threats.jsonl', 2);
const alertSchema = sampleLine('sentinel_one', 'alerts.jsonl', 1);
const alertStar = sampleLine('sentinel_one', 'alerts.jsonl', 2);

test('every sample is auto-detected as sentinel_one and parses to one alert', () => {
  autoDetectedSamples(s1, 'sentinel_one', 5);
});

test('sniff: no other product sample is claimed', () => {
  assertClaimsNoForeignSample(s1, 'sentinel_one');
});

test('threat 1: Trojan, malicious, kill succeeded (quarantine undone) → blocked', () => {
  const a = s1.alert(threat1);
  assert.equal(a.vendor_id, '1234567890123456789');
  assert.equal(a.event_type, 'threat');
  assert.equal(a.time, '2022-04-06T08:45:53.968Z'); // identifiedAt
  assert.equal(a.title, 'Trojan: default.exe');
  assert.deepEqual(a.rule, { id: 'sentinelone_cloud', name: 'SentinelOne Cloud', category: 'Trojan' });
  assert.equal(a.severity, 80);
  assert.deepEqual(a.vendor_severity?.value, 'malicious');
  assert.equal(a.action, 'blocked');
  assert.deepEqual(a.host, { name: 'test-LINUX', ip: '10.0.0.1', id: '1234567890123456789', os: 'linux', mac: '00:00:5e:00:53:00' });
  assert.deepEqual(a.user, { name: 'test user' });
  assert.deepEqual(a.file, { name: 'default.exe', path: 'default.exe', sha1: 'aaf4c61ddcc5e8a2dabede0f3b482cd9aea9434d', size: 1234 });
  assert.equal(a.malware?.name, 'default.exe');
  const o = obs(a);
  assert.ok(o.includes('ip:81.2.69.143:host')); // externalIp
  assert.ok(o.includes('ip:2a02:cf40:add:4002:91f2:a9b2:e09a:6fc6:host'));
});

test('threat 2: Malware, not mitigated → detected; engines and arguments', () => {
  const a = s1.alert(threat2);
  assert.equal(a.title, 'Malware: Threats');
  assert.equal(a.action, 'detected');
  assert.deepEqual(a.rule, { id: 'pre_execution', name: 'On-Write Static AI, Documents, Scripts', category: 'Malware' });
  assert.deepEqual(a.process, { name: 'default.EXE', command_line: 'test/path/user' });
  assert.equal(a.user?.name, 'test_user');
  assert.equal(a.file?.size, 238592);
});

test('STAR alert: rule, Critical, process tree, SYSTEM user', () => {
  const a = s1.alert(alertStar);
  assert.equal(a.vendor_id, '1985998272619999973');
  assert.equal(a.time, '2024-07-03T03:44:03.003Z');
  assert.equal(a.title, 'test5');
  assert.deepEqual(a.rule, { id: '1412136126226508571', name: 'test5', category: 'STAR' });
  assert.equal(a.severity_label, 'critical');
  assert.equal(a.action, 'detected');
  assert.deepEqual(a.host, { name: 'srv-win1', id: '1834780238610855645', os: 'Windows Server 2022 Datacenter' });
  assert.deepEqual(a.user, { name: 'SYSTEM', domain: 'NT AUTHORITY' });
  assert.equal(a.process?.name, 'powershell.exe');
  assert.equal(a.process?.pid, 1252);
  assert.equal(a.process?.parent_name, 'CompatTelRunner.exe');
  assert.ok(a.process?.command_line?.startsWith('powershell.exe -ExecutionPolicy Restricted -Command $res = 0;'));
  assert.equal(a.file?.path, 'C:\\Windows\\System32\\WINDOWSPOWERSHELL\\V1.0\\powershell.exe');
  assert.equal(a.file?.sha256, '75d6634a676fb0bea5bfd8d424e2bd4f685f3885853637ea143b2671a3bb76e9');
  assert.ok(obs(a).includes('sha256:c7cb93a6afe26dd2ca48241ca12fc76f45e2726441d7119443aaeac54444dcba:parent'));
});

test('API-schema alert: network fields, target file', () => {
  const a = s1.alert(alertSchema);
  assert.deepEqual(a.src, { ip: '81.2.69.142', port: 1234 });
  assert.deepEqual(a.dst, { ip: '81.2.69.144', port: 1234 });
  assert.equal(a.host?.ip, '81.2.69.192'); // srcMachineIp
  assert.equal(a.severity_label, 'low');
  assert.equal(a.file?.sha256, '2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824'); // tgtFileHashSha256
  assert.equal(a.process?.pid, 12345);
});

test('mitigation actions: quarantine → quarantined, later unquarantine → not; overall statuses', () => {
  const base = JSON.parse(threat2) as Record<string, unknown>;
  const withMitigation = (list: unknown[], status?: string) => {
    const t = structuredClone(base);
    t.mitigationStatus = list;
    if (status) (t.threatInfo as Record<string, unknown>).mitigationStatus = status;
    return s1.alert(JSON.stringify(t)).action;
  };
  assert.equal(withMitigation([{ action: 'quarantine', status: 'success' }, { action: 'kill', status: 'success' }]), 'quarantined');
  assert.equal(withMitigation([{ action: 'network_quarantine', status: 'success' }]), 'quarantined');
  assert.equal(withMitigation([{ action: 'quarantine', status: 'failed' }]), 'detected');
  assert.equal(withMitigation([], 'mitigated'), 'quarantined');
  assert.equal(withMitigation([], 'marked_as_benign'), 'allowed');
  const sus = structuredClone(base);
  (sus.threatInfo as Record<string, unknown>).confidenceLevel = 'suspicious';
  assert.equal(s1.alert(JSON.stringify(sus)).severity, 55);
});

test('flat v2.0 threats and {"data": [...]} pages', () => {
  const flat = s1.alert(fixtureLine('sentinel_one', 'threats_v2_flat.jsonl', 1));
  assert.equal(flat.severity, 90);
  assert.equal(flat.action, 'quarantined');
  assert.deepEqual(flat.host, { name: 'LAPTOP-1', ip: '10.1.1.1', id: '99', os: 'windows' });
  assert.deepEqual(flat.user, { name: 'ann', domain: 'CORP' });
  assert.equal(flat.file?.name, 'evil.exe');
  assert.equal(flat.file?.sha1, '9f86d081884c7d659a2feaa0c55ad015a3bf4f1b');
  const page = s1.alerts(JSON.stringify({ data: [JSON.parse(threat1), JSON.parse(alertStar)], pagination: { nextCursor: null, totalItems: 2 } }));
  assert.equal(page.length, 2);
  assert.match(s1.error('{"data":[],"pagination":{"totalItems":0}}'), /empty/);
});

test('event_type: "threat", and "alert/<alertInfo.eventType>" for cloud-detection alerts', () => {
  assert.equal(s1.alert(alertStar).event_type, 'alert/PROCESSCREATION');
  assert.equal(s1.alert(fixtureLine('sentinel_one', 'threats_v2_flat.jsonl', 1)).event_type, 'threat');
});

test('activities: audit context with the management user, the console sign-in address, the agent host and the file', () => {
  const act = (n: number) => fixtureLine('sentinel_one', 'activities.jsonl', n);
  const login = s1.context(act(1));
  assert.equal(s1.run(act(1), 'auto').detector, 'sentinel_one');
  assert.equal(login.kind, 'audit');
  assert.equal(login.event_type, 'activity/1234');
  assert.equal(login.time, '2022-04-18T05:14:09.240Z');
  assert.deepEqual(login.user, { name: 'API' });
  assert.deepEqual(login.src, { ip: '81.2.69.144' });
  assert.equal(login.data.primaryDescription, 'The management user API logged in to the management console with IP Address 81.2.69.144');
  const kill = s1.context(act(2));
  assert.deepEqual(kill.host, { name: 'user-test', id: '1234567890123456789' });
  assert.deepEqual(kill.file, { name: 'default.exe', path: '/test/path/default.exe', sha1: 'aaf4c61ddcc5e8a2dabede0f3b482cd9aea9434d' });
  const blacklist = s1.context(act(3)); // "username":"unknown" is no user
  assert.equal(blacklist.user, undefined);
  assert.equal(blacklist.file?.sha1, 'aaf4c61ddcc5e8a2dabede0f3b482cd9aea9434d');
  const page = s1.run(JSON.stringify({ data: [JSON.parse(act(1)), JSON.parse(act(2))], pagination: { totalItems: 2 } }), 'auto');
  assert.ok('context' in page && page.context.length === 2);
});

test('agents: status context with the machine, its interface address and MAC, and its public addresses', () => {
  const text = fixtureLine('sentinel_one', 'agents.jsonl', 1);
  assert.equal(s1.run(text, 'auto').detector, 'sentinel_one');
  const agent = s1.context(text);
  assert.equal(agent.kind, 'status');
  assert.equal(agent.event_type, 'agent');
  assert.equal(agent.time, '2022-04-07T08:31:47.481Z'); // updatedAt
  assert.deepEqual(agent.host, { name: 'user-test', ip: '81.2.69.144', id: '13491234512345', os: 'Linux Server', mac: '00:00:5e:00:53:00' });
  assert.equal(agent.user, undefined); // "lastLoggedInUserName":"", "osUsername":null
  assert.ok(obs(agent).includes('ip:81.2.69.143:host')); // externalIp
  assert.ok(obs(agent).includes('ip:81.2.69.145:host')); // lastIpToMgmt
});

test('malformed records are rejected with a reason', () => {
  const t = JSON.parse(threat1) as Record<string, Record<string, unknown>>;
  t.threatInfo!.identifiedAt = 'not a date';
  assert.match(s1.error(JSON.stringify(t)), /identifiedAt/);
  assert.match(s1.error('{"threatInfo":{},"agentRealtimeInfo":{}}'), /threatName/);
  assert.match(s1.error('{"alertInfo":{},"ruleInfo":{}}'), /ruleInfo\.name/);
  assert.match(s1.error('{"alertInfo":{"srcPort":"http"},"ruleInfo":{"name":"r"}}'), /srcPort/);
  assert.match(s1.error('{"hello":"world"}'), /not a SentinelOne/);
});

test('hostile values never crash or hang the detector', () => {
  assert.ok(hostileVariants('sentinel_one', reg, [threat1, alertStar]) > 1000);
});

test('property: arbitrary JSON and mutated samples only ever raise ParseError', () => {
  propertyChecks(s1.detector, [threat1, threat2, alertSchema, alertStar]);
});

test('real Elastic records in samples/: v2.1 threats and a STAR cloud-detection alert', () => {
  const threat = (n: number) => fixtureLine('sentinel_one', 'threats_v21.jsonl', n);
  const trojan = s1.alert(threat(1));
  assert.equal(s1.run(threat(1), 'auto').detector, 'sentinel_one');
  assert.equal(trojan.event_type, 'threat');
  assert.equal(trojan.action, 'blocked'); // kill succeeded; unquarantine is no containment
  assert.deepEqual(trojan.host, { name: 'test-LINUX', ip: '10.0.0.1', id: '1234567890123456789', os: 'linux', mac: '00:00:5e:00:53:00' });
  const downloader = s1.alert(threat(2));
  assert.equal(downloader.title, 'Downloader: Threats');
  assert.equal(downloader.rule?.category, 'Downloader');
  assert.equal(downloader.action, 'detected'); // not_mitigated, no mitigation actions
  assert.deepEqual(downloader.file, { name: 'user', path: 'test/path/user', sha1: 'aaf4c61ddcc5e8a2dabede0f3b482cd9aea9434d', size: 238592 });
  const text = fixtureLine('sentinel_one', 'cloud_detection_alerts.jsonl', 1);
  assert.equal(s1.run(text, 'auto').detector, 'sentinel_one');
  const a = s1.alert(text);
  assert.equal(a.vendor_id, '1985998274037674753');
  assert.equal(a.event_type, 'alert/PROCESSCREATION');
  assert.equal(a.time, '2024-07-03T03:44:03.004Z');
  assert.deepEqual(a.rule, { id: '1412136126226508571', name: 'test5', category: 'STAR' });
  assert.equal(a.severity, 95);
  assert.deepEqual(a.process, { name: 'powershell.exe', command_line: "powershell.exe -ExecutionPolicy Restricted -Command Write-Host 'Final result: 1';", pid: 4912, parent_name: 'CompatTelRunner.exe' });
  assert.deepEqual(a.user, { name: 'SYSTEM', domain: 'NT AUTHORITY' });
  assert.equal(a.file?.sha256, '75d6634a676fb0bea5bfd8d424e2bd4f685f3885853637ea143b2671a3bb76e9');
});
