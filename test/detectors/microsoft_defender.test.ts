import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fixtureLine, sampleLine } from './helpers.js';
import { assertClaimsNoForeignSample, autoDetectedSamples, hostileVariants, obs, propertyChecks, registry, runner } from './json-detector-helpers.js';

const md = await runner('microsoft_defender');
const reg = await registry();
const graph = sampleLine('microsoft_defender', 'graph_security_alert_v2.jsonl', 1);
const mde1 = sampleLine('microsoft_defender', 'mde_alerts.jsonl', 1);
const mde2 = sampleLine('microsoft_defender', 'mde_alerts.jsonl', 2);

test('every sample is auto-detected as microsoft_defender and parses to one alert', () => {
  autoDetectedSamples(md, 'microsoft_defender', 3);
});

test('sniff: no other product sample is claimed', () => {
  assertClaimsNoForeignSample(md, 'microsoft_defender');
});

test('Graph alerts_v2: device, file, process evidence', () => {
  const a = md.alert(graph);
  assert.equal(a.vendor_id, 'da637551227677560813_-961444813');
  assert.equal(a.title, 'Suspicious execution of hidden file');
  assert.equal(a.time, '2021-04-26T07:45:50.116Z'); // firstActivityDateTime
  assert.deepEqual(a.rule, { id: 'e0da400f-affd-43ef-b1d5-afc2eb6f2756', name: 'Suspicious execution of hidden file', category: 'DefenseEvasion' });
  assert.equal(a.severity_label, 'low');
  assert.deepEqual(a.vendor_severity, { value: 'low', scale: 'defender Informational|Low|Medium|High (UnSpecified)' });
  assert.equal(a.action, 'detected');
  assert.deepEqual(a.host, { name: 'tempDns', ip: '1.1.1.1', id: '73e7e2de709dff64ef64b1d0c30e67fab63279db', os: 'Windows10' });
  assert.deepEqual(a.file, {
    name: 'MsSense.exe', path: 'C:\\Program Files\\temp\\MsSense.exe', size: 6136392,
    sha1: '5f1e8acedc065031aad553b710838eb366cfee9a', sha256: '8963a19fb992ad9a76576c5638fd68292cffb9aaac29eb8285f9abf6196a7dec',
  });
  assert.deepEqual(a.process, { name: 'MsSense.exe', command_line: '"MsSense.exe"', pid: 4780, parent_name: 'services.exe' });
  assert.deepEqual(a.user, { name: 'SYSTEM', domain: 'NT AUTHORITY' });
  assert.equal(a.url, 'https://security.microsoft.com/alerts/da637551227677560813_-961444813?tid=b3c1b5fc-828c-45fa-a1e1-10d74f6d6e9c');
});

test('MDE alert with a User evidence object: relatedUser, machine', () => {
  const a = md.alert(mde1);
  assert.equal(a.vendor_id, 'da637291048912199236_1126926584');
  assert.equal(a.title, 'Suspicious process injection observed');
  assert.equal(a.time, '2020-06-30T09:04:56.849Z'); // firstEventTime
  assert.equal(a.severity, 50);
  assert.equal(a.rule?.category, 'DefenseEvasion');
  assert.deepEqual(a.host, { name: 'testserver4', id: '53425a964f417c11f6277d5bf9489f0d' });
  assert.deepEqual(a.user, { name: 'administrator1', domain: 'TestServer4' });
  assert.equal(a.file, undefined);
});

test('MDE antivirus alert with a File evidence object: Informational, threat from the title', () => {
  const a = md.alert(mde2);
  assert.equal(a.title, "'Mountsi' malware was detected");
  assert.equal(a.severity_label, 'info');
  assert.equal(a.rule?.category, 'Malware');
  assert.equal(a.malware?.name, 'Mountsi');
  assert.equal(a.file?.name, 'amsistream-1D89ECED25A52AB98B76FF619B7BA07A');
  assert.equal(a.file?.sha1, 'ffb1670c6c6a9c5b4c5cea8b6b8e68d62e7ff281');
  assert.equal(a.file?.sha256, 'fd46705c4f67a8ef16e76259ca6d6253241e51a1f8952223145f92aa1907d356');
  assert.equal(a.user, undefined); // "relatedUser":null
  assert.equal(a.host?.id, 't4563234bc5a964f417c11f6277d5bf9489f0d');
});

test('MDE evidence array: process, IP, URL, blocked status; several files', () => {
  const a = md.alert(JSON.stringify({
    id: 'da1_2', title: "'Emotet' malware was prevented", severity: 'High', category: 'Malware', detectionSource: 'WindowsDefenderAv',
    alertCreationTime: '2024-02-01T10:00:00Z', machineId: 'm1', computerDnsName: 'ws7.corp.example', threatFamilyName: 'Emotet',
    relatedUser: null, mitreTechniques: ['T1204'],
    evidence: [
      { entityType: 'Process', fileName: 'winword.exe', filePath: 'C:\\Program Files\\Office', processId: 912, processCommandLine: 'winword.exe /n x.doc', sha1: '1a2b'.repeat(10), sha256: '2c3d'.repeat(16), parentProcessFileName: 'explorer.exe', accountName: 'carol', domainName: 'CORP', userPrincipalName: 'carol@corp.example', detectionStatus: 'Prevented' },
      { entityType: 'File', fileName: 'payload.dll', filePath: 'C:\\Users\\carol\\AppData', sha1: '3e4f'.repeat(10), sha256: '4a5b'.repeat(16), detectionStatus: 'Blocked' },
      { entityType: 'Ip', ipAddress: '198.51.100.23' },
      { entityType: 'Url', url: 'hxxp://bad.example.net/x.php' },
    ],
  }));
  assert.equal(a.severity, 75);
  assert.equal(a.action, 'blocked');
  assert.equal(a.malware?.name, 'Emotet');
  assert.equal(a.file?.name, 'payload.dll'); // the File evidence, not the process image
  assert.equal(a.file?.path, 'C:\\Users\\carol\\AppData\\payload.dll');
  assert.equal(a.file?.sha1, '3e4f'.repeat(10));
  assert.equal(a.file?.sha256, '4a5b'.repeat(16));
  assert.deepEqual(a.process, { name: 'winword.exe', command_line: 'winword.exe /n x.doc', pid: 912, parent_name: 'explorer.exe' });
  assert.deepEqual(a.user, { name: 'carol', domain: 'CORP', email: 'carol@corp.example' });
  assert.deepEqual(a.dst, { ip: '198.51.100.23' });
  assert.equal(a.url, 'http://bad.example.net/x.php');
  assert.equal(a.domain, 'bad.example.net');
  assert.ok(obs(a).includes(`sha256:${'2c3d'.repeat(16)}:file`));
  assert.ok(obs(a).includes(`sha256:${'4a5b'.repeat(16)}:file`));
});

test('Graph evidence kinds: user, ip roles, mailbox, analyzed message, remediation', () => {
  const a = md.alert(JSON.stringify({
    '@odata.type': '#microsoft.graph.security.alert', id: 'fa1', providerAlertId: 'p1', serviceSource: 'microsoftDefenderForOffice365',
    title: 'Email messages containing malicious URL removed after delivery', severity: 'informational', category: 'InitialAccess',
    createdDateTime: '2024-03-03T03:03:03Z', threatDisplayName: 'Phish',
    evidence: [
      { '@odata.type': '#microsoft.graph.security.userEvidence', roles: [], userAccount: { accountName: 'dave', domainName: 'CORP', userPrincipalName: 'dave@corp.example' } },
      { '@odata.type': '#microsoft.graph.security.ipEvidence', roles: ['attacker'], ipAddress: '203.0.113.66' },
      { '@odata.type': '#microsoft.graph.security.analyzedMessageEvidence', remediationStatus: 'remediated', p1Sender: { emailAddress: 'x@phish.example' }, recipientEmailAddress: 'dave@corp.example', subject: 'Invoice', senderIp: '203.0.113.66', urls: ['https://phish.example/login'] },
    ],
  }));
  assert.equal(a.time, '2024-03-03T03:03:03.000Z'); // no firstActivityDateTime: createdDateTime
  assert.equal(a.severity_label, 'info');
  assert.equal(a.action, 'quarantined');
  assert.deepEqual(a.user, { name: 'dave', domain: 'CORP', email: 'dave@corp.example' });
  assert.deepEqual(a.src, { ip: '203.0.113.66' });
  assert.deepEqual(a.email, { from: 'x@phish.example', to: ['dave@corp.example'], subject: 'Invoice' });
  assert.equal(a.malware?.name, 'Phish');
  assert.ok(obs(a).includes('url:https://phish.example/login:email'));
});

test('list pages give one alert per element; an empty page is an error', () => {
  const list = md.alerts(JSON.stringify({ '@odata.context': 'x', value: [JSON.parse(mde1), JSON.parse(mde2)] }));
  assert.deepEqual(list.map((a) => a.vendor_id), ['da637291048912199236_1126926584', 'da637291063515066999_-2102938302']);
  assert.match(md.error('{"value":[]}'), /empty/);
});

test('legacy SIEM API record', () => {
  const a = md.alert(fixtureLine('microsoft_defender', 'siem_api.jsonl', 1));
  assert.equal(a.vendor_id, 'da1');
  assert.equal(a.severity, 50);
  assert.deepEqual(a.user, { name: 'eve', domain: 'CORP' });
  assert.equal(a.file?.path, 'C:\\tmp\\ps.exe');
});

test('event_type names the API and detection source; rule.id is the detectorId, else the title', () => {
  assert.equal(md.alert(graph).event_type, 'alerts_v2/antivirus');
  assert.equal(md.alert(graph).rule?.id, 'e0da400f-affd-43ef-b1d5-afc2eb6f2756');
  const mde = md.alert(mde1);
  assert.equal(mde.event_type, 'alert/WindowsDefenderAtp');
  assert.equal(mde.rule?.id, 'Suspicious process injection observed'); // no detectorId in this record
  assert.equal(md.alert(fixtureLine('microsoft_defender', 'siem_api.jsonl', 1)).event_type, 'siem');
});

test('MDE evidence: a File evidence path, a Process evidence command line', () => {
  const file = md.alert(fixtureLine('microsoft_defender', 'mde_alerts_file_process.jsonl', 1));
  assert.equal(file.file?.path, 'C:\\Windows\\Temp\\sb-sim-temp-ikyxqi\\sb_10554_bs_h4qpk5\\SB.xsl');
  assert.equal(file.event_type, 'alert/WindowsDefenderAv');
  const proc = md.alert(fixtureLine('microsoft_defender', 'mde_alerts_file_process.jsonl', 2));
  assert.deepEqual(proc.process, { name: 'notepad.exe', command_line: '"notepad.exe"', pid: 4104 });
  assert.equal(proc.file?.sha256, 'a92056d772260b39a876d01552496b2f8b4610a0b1e084952fe1176784e2ce77');
  assert.deepEqual(proc.user, { name: 'administrator1', domain: 'TestServer4' });
});

test('M365 Defender incidents API: one alert per alert, host from devices, entities as evidence', () => {
  const first = md.alert(fixtureLine('microsoft_defender', 'm365_incidents_api.jsonl', 1));
  assert.equal(first.vendor_id, 'da637291063515066999_-2102938302'); // alertId
  assert.equal(first.event_type, 'incident/WindowsDefenderAv');
  assert.equal(first.time, '2020-06-30T09:31:22.572Z'); // firstActivity
  assert.deepEqual(first.host, { name: 'TestServer4', id: '75a63a39f9bc5a964f417c11f6277d5bf9489f0d' }); // osPlatform "Other" dropped
  assert.equal(first.file?.sha1, 'ffb1670c6c6a9c5b4c5cea8b6b8e68d62e7ff281');
  const withPath = md.alert(fixtureLine('microsoft_defender', 'm365_incidents_api.jsonl', 2));
  assert.equal(withPath.file?.path, 'C:\\Windows\\Temp\\sb-sim-temp-ikyxqi\\sb_10554_bs_h4qpk5\\SB.xsl');
  assert.equal(md.alert(fixtureLine('microsoft_defender', 'm365_incidents_api.jsonl', 3)).process?.pid, 6720);
  const two = JSON.parse(fixtureLine('microsoft_defender', 'm365_incidents_api.jsonl', 1)) as Record<string, unknown>;
  const inner = two.alerts as Record<string, unknown>;
  two.alerts = [inner, { ...inner, alertId: 'second' }];
  assert.deepEqual(md.alerts(JSON.stringify(two)).map((a) => a.vendor_id), ['da637291063515066999_-2102938302', 'second']);
  two.alerts = [];
  const bare = md.alert(JSON.stringify(two));
  assert.equal(bare.vendor_id, 'incident:12');
  assert.equal(bare.severity_label, 'low');
});

test('Graph incident: its Graph alerts are read with their evidence', () => {
  const a = md.alert(fixtureLine('microsoft_defender', 'graph_incident.jsonl', 1));
  assert.equal(a.vendor_id, 'da637551227677560813_-961444813');
  assert.equal(a.event_type, 'alerts_v2/antivirus');
  assert.equal(a.host?.name, 'tempDns');
  assert.equal(a.file?.path, 'C:\\Program Files\\temp\\MsSense.exe');
  assert.equal(a.process?.command_line, '"MsSense.exe"');
});

test('Advanced Hunting streaming events are context: logon, file and device events', () => {
  const line = (n: number) => fixtureLine('microsoft_defender', 'advanced_hunting_device.jsonl', n);
  const logon = md.context(line(3));
  assert.equal(logon.kind, 'auth');
  assert.equal(logon.event_type, 'DeviceLogonEvents');
  assert.equal(logon.outcome, 'failure'); // ActionType LogonFailed
  assert.deepEqual(logon.src, { ip: '67.43.156.1' }); // RemotePort 0 is no port
  assert.deepEqual(logon.user, { name: 'administrator' });
  assert.deepEqual(logon.host, { name: 'testmachine6', id: '999b6fd7c532534ba50b3232fa992c38a273d4fb' });
  assert.equal(logon.time, '2022-11-09T17:47:28.816Z');
  assert.equal(logon.data.LogonType, 'Network');
  const file = md.context(line(2));
  assert.equal(file.kind, 'file');
  assert.equal(file.file?.path, 'C:\\Windows\\System32\\VMAgentDisabler.dll');
  assert.equal(file.file?.sha256, 'add683a6910abbbf0e28b557fad0ba998166394932ae2aca069d9aa19ea8fe88');
  assert.deepEqual(file.process, { name: 'WaAppAgent.exe', command_line: 'WaAppAgent.exe', pid: 5692, parent_name: 'services.exe' });
  const other = md.context(line(1));
  assert.equal(other.kind, 'other');
  assert.equal(other.file, undefined); // FileSize alone
  assert.deepEqual(other.user, { name: 'administrator1', domain: 'testmachine5' });
  const proc = md.context(JSON.stringify({ category: 'AdvancedHunting-DeviceProcessEvents', properties: { Timestamp: '2024-01-01T00:00:00Z', DeviceName: 'ws1', FileName: 'powershell.exe', FolderPath: 'C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe', ProcessCommandLine: 'powershell -enc AAAA', ProcessId: 42, InitiatingProcessFileName: 'cmd.exe', AccountName: 'alice', AccountDomain: 'CORP' } }));
  assert.equal(proc.kind, 'process');
  assert.deepEqual(proc.process, { name: 'powershell.exe', command_line: 'powershell -enc AAAA', pid: 42, parent_name: 'cmd.exe' });
  assert.deepEqual(proc.user, { name: 'alice', domain: 'CORP' });
  const net = md.context(JSON.stringify({ category: 'AdvancedHunting-DeviceNetworkEvents', properties: { Timestamp: '2024-01-01T00:00:00Z', ActionType: 'ConnectionSuccess', LocalIP: '10.0.0.5', LocalPort: 50000, RemoteIP: '198.51.100.9', RemotePort: 443, RemoteUrl: 'https://c2.example.net/x' } }));
  assert.equal(net.kind, 'flow');
  assert.deepEqual(net.src, { ip: '10.0.0.5', port: 50000 });
  assert.deepEqual(net.dst, { ip: '198.51.100.9', port: 443 });
  assert.equal(net.outcome, 'success');
  assert.equal(net.url, 'https://c2.example.net/x');
});

test('Advanced Hunting email tables: sender, recipient, subject, sending address and URLs are mapped', () => {
  const line = (n: number) => fixtureLine('microsoft_defender', 'advanced_hunting_email.jsonl', n);
  const attach = md.context(line(1));
  assert.equal(attach.kind, 'email');
  assert.equal(attach.event_type, 'EmailAttachmentInfo');
  assert.deepEqual(attach.email, { from: 'test@testmsftalerts.onmicrosoft.com', to: ['user@testmsftalerts.onmicrosoft.com'] });
  assert.equal(attach.file?.sha256, '67ff7e5e56d160f3343b712e018f7aea4ac6c544f8c73d9b6509550fbd512345');
  const ev = md.context(line(2));
  assert.equal(ev.event_type, 'EmailEvents');
  assert.equal(ev.email?.subject, 'test shared "Test URL Click Document " with you.');
  assert.deepEqual(ev.email?.to, ['user@testmsftalerts.onmicrosoft.com']);
  assert.deepEqual(ev.src, { ip: '81.2.69.144' }); // SenderIPv4
  const url = md.context(line(3));
  assert.equal(url.event_type, 'EmailUrlInfo');
  assert.equal(url.kind, 'other'); // a URL of a message, no sender or recipient
  assert.equal(url.url, 'http://myusername:mypassword@www.example.com:80/foo.gif?key1=val1&key2=val2#fragment');
  assert.deepEqual(md.context(line(4)).email, { to: ['user@testmsftalerts.onmicrosoft.com'] }); // EmailPostDeliveryEvents
  const click = md.context(line(5));
  assert.equal(click.kind, 'other');
  assert.equal(click.event_type, 'UrlClickEvents');
  assert.equal(click.url, 'https://southcentralusr-notifyp.svc.ms/api/v2/tracking/method/View?mi=Kn90pV0CpEaOPMa_SixTuQ');
  assert.equal(click.user, undefined); // AccountUpn ""
});

test('Advanced Hunting identity and cloud-app tables: IPAddress:Port is the source, Destination* the server', () => {
  const line = (n: number) => fixtureLine('microsoft_defender', 'advanced_hunting_identity_app.jsonl', n);
  const logon = md.context(line(1));
  assert.equal(logon.kind, 'auth');
  assert.equal(logon.event_type, 'IdentityLogonEvents');
  assert.equal(logon.outcome, 'success');
  assert.deepEqual(logon.src, { ip: '89.160.20.112' }); // Port "" is no port
  assert.deepEqual(logon.user, { name: 'administrator1' });
  const cloud = md.context(line(4));
  assert.equal(cloud.event_type, 'CloudAppEvents');
  assert.deepEqual(cloud.src, { ip: '81.2.69.142' }); // the actor's address, not a destination
  assert.equal(cloud.dst, undefined);
  const samr = md.context(line(5));
  assert.equal(samr.event_type, 'IdentityQueryEvents');
  assert.deepEqual(samr.src, { ip: '10.180.101.20', port: 58210 });
  assert.deepEqual(samr.dst, { ip: '10.180.100.81', port: 445, host: 'd2win02r.d300b.cenlar.com' });
  assert.deepEqual(samr.host, { name: 'd2wxa1303r.d300b.cenlar.com' });
  const info = md.context(line(7));
  assert.equal(info.event_type, 'IdentityInfo');
  assert.deepEqual(info.user, { name: 'jdoe', domain: 'ad.contoso.com', email: 'jdoe@contoso.com' });
});

test('Advanced Hunting device tables from Elastic tests: certificate, image load, device info, network info, process, network', () => {
  const line = (n: number) => fixtureLine('microsoft_defender', 'advanced_hunting_device_more.jsonl', n);
  const cert = md.context(line(1));
  assert.equal(cert.event_type, 'DeviceFileCertificateInfo');
  assert.deepEqual(cert.file, { sha1: '1bc5066ddf693fc034d6514618854e26a84fd0d1' });
  const image = md.context(line(2));
  assert.equal(image.kind, 'file');
  assert.equal(image.file?.name, 'System.Management.ni.dll');
  assert.equal(image.process?.name, 'waappagent.exe');
  assert.equal(md.context(line(3)).kind, 'status'); // DeviceInfo
  const netInfo = md.context(line(4));
  assert.equal(netInfo.event_type, 'DeviceNetworkInfo');
  assert.equal(netInfo.host?.mac, '00:0d:3a:9e:c7:81'); // MacAddress 000D3A9EC781
  const proc = md.context(line(5));
  assert.equal(proc.kind, 'process');
  assert.deepEqual(proc.process, { name: 'smartscreen.exe', command_line: 'smartscreen.exe -Embedding', pid: 6412, parent_name: 'svchost.exe' });
  assert.deepEqual(proc.user, { name: 'administrator1', domain: 'testmachine6' }); // the person, not the initiating SYSTEM
  assert.equal(proc.file?.sha256, '8011a5f4ac65d85cbe593bdad886449e3807d950b234e77c675a0f7ca3b7c781');
  const net = md.context(line(6));
  assert.equal(net.kind, 'flow');
  assert.equal(net.outcome, 'failure'); // ConnectionFailed
  assert.deepEqual(net.src, { ip: '89.160.20.112', port: 50258 });
  assert.deepEqual(net.dst, { ip: '175.16.199.0', port: 80, host: 'subdomain.domain.tld' }); // RemoteUrl without a scheme
  assert.equal(net.domain, 'subdomain.domain.tld');
  assert.equal(net.url, undefined);
});

test('Advanced Hunting AlertEvidence / AlertInfo rows stay context; AlertInfo names its detection as rule', () => {
  const evidence = md.context(fixtureLine('microsoft_defender', 'advanced_hunting_alert.jsonl', 1));
  assert.equal(evidence.kind, 'other');
  assert.equal(evidence.event_type, 'AlertEvidence');
  assert.equal(evidence.file?.sha256, 'bd914e55d55a31b7bdc95fa617f9925ff3eba703afd7a8b70cea18dcae512345');
  assert.deepEqual(evidence.host, { name: 'TestMachine1', id: '08f8d2adebd88b1b7e509fcca55a665831912345' });
  const info = md.context(fixtureLine('microsoft_defender', 'advanced_hunting_alert.jsonl', 2));
  assert.equal(info.kind, 'other');
  assert.equal(info.event_type, 'AlertInfo');
  assert.deepEqual(info.rule, { name: 'Anomalous silent process exit monitor registration', category: 'Persistence' });
});

test('Graph incident without alerts: one alert of its own', () => {
  const a = md.alert(fixtureLine('microsoft_defender', 'graph_incident_no_alerts.jsonl', 1));
  assert.equal(a.vendor_id, 'incident:29');
  assert.equal(a.event_type, 'incidents');
  assert.equal(a.title, 'Multi-stage incident involving Execution & Command and control on one endpoint');
  assert.equal(a.severity_label, 'high');
  assert.equal(a.time, '2026-01-22T12:09:23.143Z');
  assert.equal(md.alert(fixtureLine('microsoft_defender', 'graph_incident_no_alerts.jsonl', 2)).severity_label, 'medium');
});

test('malformed records are rejected with a reason', () => {
  assert.match(md.error(JSON.stringify({ ...JSON.parse(mde1), firstEventTime: 'soon' })), /firstEventTime/);
  assert.match(md.error(JSON.stringify({ ...JSON.parse(graph), evidence: 'x' })), /evidence/);
  assert.match(md.error(JSON.stringify({ ...JSON.parse(mde1), title: { a: 1 } })), /title/);
});

test('hostile values never crash or hang the detector', () => {
  assert.ok(hostileVariants('microsoft_defender', reg, [graph, mde2]) > 1000);
});

test('property: arbitrary JSON and mutated samples only ever raise ParseError', () => {
  propertyChecks(md.detector, [graph, mde1, mde2]);
});
