import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fixtureLine, sampleLine } from './helpers.js';
import { assertClaimsNoForeignSample, autoDetectedSamples, hostileVariants, obs, propertyChecks, registry, runner, sniffOf } from './json-detector-helpers.js';

const cs = await runner('crowdstrike');
const reg = await registry();
const legacy = sampleLine('crowdstrike', 'detection_summary.jsonl', 1);
const eppOds = sampleLine('crowdstrike', 'epp_detection_summary.jsonl', 1);
const eppLinux = sampleLine('crowdstrike', 'epp_detection_summary.jsonl', 2);
const eppWindows = sampleLine('crowdstrike', 'epp_detection_summary.jsonl', 3);

test('every sample is auto-detected as crowdstrike and parses to one alert', () => {
  for (const { line } of autoDetectedSamples(cs, 'crowdstrike', 4)) assert.ok(sniffOf(cs.detector, line.text) >= 0.9);
});

test('sniff: no other product sample is claimed', () => {
  assertClaimsNoForeignSample(cs, 'crowdstrike');
});

test('DetectionSummaryEvent (legacy): fields, severity 2 Low, NetworkAccesses, would-have-blocked', () => {
  const a = cs.alert(legacy);
  assert.equal(a.vendor_id, 'detect::id::test'); // "DetectId":"detect::id::test"
  assert.equal(a.time, '2023-06-15T16:06:52.400Z'); // "eventCreationTime":1686845212400
  assert.equal(a.title, 'NGAV');
  assert.deepEqual(a.rule, { id: '5728', name: 'NGAV', category: 'Malware / PUP' });
  assert.equal(a.severity_label, 'low');
  assert.deepEqual(a.vendor_severity?.value, '2 (Low)');
  // PatternDispositionValue 2304 = ProcessBlocked + PolicyDisabled: "would have been blocked".
  assert.equal(a.action, 'detected');
  assert.deepEqual(a.host, { name: 'ELASTICHOST', ip: '89.160.20.112', id: 'sensorid123', mac: '1c:2d:b3:4a:56:7e' });
  assert.deepEqual(a.user, { name: 'ELASTICUSER' });
  assert.equal(a.file?.name, 'TESTFILE.exe');
  assert.equal(a.file?.path, '\\Device\\HarddiskVolume3\\Users\\ELASTICUSER\\Software\\TESTSOFTWARE\\TESTFILE.exe');
  assert.equal(a.file?.sha256, '0b2cde5b355bda69aeb15159fa98b5554053f0936259a53c6dfb0934389238a2');
  assert.equal(a.file?.md5, '49f30e09200e7b59edc5ef32fbd0442c');
  assert.equal(a.file?.sha1, '7e54a24d4df5b7fe4a75d7ce1c027705c368666b');
  assert.equal(a.process?.command_line, '"C:\\Users\\TESTUSER\\SOFTWARE\\TESTSOFTWARE\\FILE.exe" -Embedding');
  assert.equal(a.process?.pid, 123123);
  assert.deepEqual(a.src, { ip: '10.0.0.1', port: 53517 });
  assert.deepEqual(a.dst, { ip: '67.43.156.1', port: 443 });
  assert.equal(a.url, 'https://falcon.crowdstrike.com/activity/detections/detail/REFERENCE?_cid=CID');
  assert.ok(obs(a).includes('sha256:0b2cde5b355bda69aeb15159fa98b5554053f0936259a53c6dfb0934389238a2:ioc'));
});

test('EppDetectionSummaryEvent, on-demand scan: no process, severity 70 without a name', () => {
  const a = cs.alert(eppOds);
  assert.equal(a.vendor_id, '7da61e27e34f4b8394081896af72e2c7'); // CompositeId
  assert.equal(a.title, 'OnDemandScanfiletest');
  assert.equal(a.severity, 70);
  assert.equal(a.severity_label, 'high');
  assert.equal(a.file?.path, 'D:\\RECYCLER\\testpath\\testfile.vmx');
  assert.equal(a.file?.name, 'testfile.vmx');
  assert.equal(a.file?.sha256, '774f50830a645392a94338815913e281096f1594ce5f4d992cf3f167fde509a1');
  assert.equal(a.process, undefined);
  assert.deepEqual(a.host, { name: 'FRHOSTNAME', ip: '81.2.69.144', id: '1122025ec596478d830520000000000', mac: '88:44:66:77:11:22' });
  assert.equal(a.rule?.category, 'Machine Learning / Sensor-based ML');
});

test('EppDetectionSummaryEvent, Linux: placeholder SHA1 dropped, parent, Falcon process id not a pid', () => {
  const a = cs.alert(eppLinux);
  assert.equal(a.title, 'Known Malware');
  assert.equal(a.severity, 70);
  assert.equal(a.vendor_severity?.value, '70 (High)');
  assert.equal(a.action, 'detected'); // 272 = KillProcess + PolicyDisabled: would have been killed
  assert.equal(a.file?.path, '/usr/bin/git');
  assert.equal(a.file?.sha1, undefined); // "SHA1String":"0000000000000000000000000000000000000000"
  assert.equal(a.file?.md5, '675853ca01ec441df7a015b91a7e1272');
  assert.deepEqual(a.process, { name: 'git', command_line: 'git clone https://github.com/redcanaryco/atomic-red-team.git', parent_name: 'bash' });
  assert.deepEqual(a.user, { name: 'azureuser' });
  assert.equal(a.host?.name, 'linux-vm');
  assert.equal(a.host?.ip, '172.17.0.1');
  assert.equal(a.vendor_id, '44be50f58ccfcfcfcfcfcfcfcffc:ind:c8d1292a8a904216aa25ab728f4b45fd:11111111111-2222-3333333');
});

test('EppDetectionSummaryEvent, Windows: LogonDomain, all-zero hashes dropped, Low 30', () => {
  const a = cs.alert(eppWindows);
  assert.equal(a.time, '2025-03-21T19:07:20.000Z'); // eventCreationTime 1742584040000
  assert.equal(a.title, 'Suspicious Activity');
  assert.equal(a.severity, 30);
  assert.equal(a.severity_label, 'low');
  assert.deepEqual(a.user, { name: 'Administrator', domain: 'CISO-DUMMY-CSDEV' });
  assert.equal(a.file?.md5, undefined);
  assert.equal(a.file?.sha256, undefined);
  assert.equal(a.file?.path, '\\Device\\HarddiskVolume4\\Windows\\System32\\choice.exe');
  assert.equal(a.process?.parent_name, 'cmd.exe');
  assert.equal(a.process?.pid, undefined); // 43185188660 is Falcon's id, not an OS pid
  assert.ok(!a.observables.some((o) => /^0+$/.test(o.value)));
});

const wrap = (event: Record<string, unknown>, eventType = 'EppDetectionSummaryEvent') =>
  JSON.stringify({ metadata: { customerIDString: 'c1', offset: 7, eventType, eventCreationTime: 1700000000000, version: '1.0' }, event });

test('PatternDisposition: flags and bare values map to blocked / quarantined / detected', () => {
  const base = { Hostname: 'h1', Name: 'x', Severity: 50, SeverityName: 'Medium', CompositeId: 'id1' };
  const action = (extra: Record<string, unknown>) => cs.alert(wrap({ ...base, ...extra })).action;
  assert.equal(action({ PatternDispositionValue: 16 }), 'blocked'); // KillProcess
  assert.equal(action({ PatternDispositionValue: 2048 }), 'blocked'); // ProcessBlocked
  assert.equal(action({ PatternDispositionValue: 128 + 16 }), 'quarantined'); // QuarantineFile
  assert.equal(action({ PatternDispositionValue: 64 }), 'quarantined'); // QuarantineMachine (network containment)
  assert.equal(action({ PatternDispositionValue: 2048 + 256 }), 'detected'); // PolicyDisabled
  assert.equal(action({ PatternDispositionValue: 0 }), 'detected');
  assert.equal(action({ PatternDispositionFlags: { KillProcess: true, QuarantineFile: false } }), 'blocked');
  assert.equal(action({ PatternDispositionDescription: 'Prevention, process killed.' }), 'blocked');
  assert.equal(action({ PatternDispositionDescription: 'Detection, process would have been killed if related prevention policy setting was enabled.' }), 'detected');
  assert.equal(action({}), 'detected');
});

test('severity: legacy 1-5 scale, names decide the band, unknown is 40', () => {
  const sev = (s: unknown, n?: string) => cs.alert(wrap({ Hostname: 'h', Name: 'x', Severity: s, SeverityName: n, CompositeId: 'c' })).severity;
  assert.equal(sev(5, 'Critical'), 95);
  assert.equal(sev(4), 75);
  assert.equal(sev(1, 'Informational'), 5);
  assert.equal(sev(90, 'Critical'), 90);
  assert.equal(sev(10, 'Informational'), 5); // 10 would be "low"; the name says informational
  assert.equal(sev(undefined, 'High'), 75);
  assert.equal(sev(undefined), 40);
  assert.equal(sev(500), 40);
});

test('network, DNS and IOC details; inbound connections swap sides', () => {
  const a = cs.alert(
    wrap(
      {
        ComputerName: 'ws1', DetectName: 'C2', Severity: 4, DetectId: 'ldt:1:2', IOCType: 'domain', IOCValue: 'Evil.Example.com',
        NetworkAccesses: [
          { RemoteAddress: '198.51.100.7', RemotePort: 4444, LocalAddress: '10.0.0.5', LocalPort: 50000, ConnectionDirection: 1 },
          { RemoteAddress: '203.0.113.9', RemotePort: 443, LocalAddress: '10.0.0.5', LocalPort: 50001, ConnectionDirection: 0 },
        ],
        DnsRequests: [{ DomainName: 'benign.example.org', CausedDetect: false }, { DomainName: 'c2.example.net', CausedDetect: true }],
        QuarantineFiles: [{ ImageFileName: 'x.exe', SHA256HashData: 'AB'.repeat(32), State: 'quarantined' }],
      },
      'DetectionSummaryEvent',
    ),
  );
  assert.deepEqual(a.src, { ip: '198.51.100.7', port: 4444 });
  assert.deepEqual(a.dst, { ip: '10.0.0.5', port: 50000 });
  assert.equal(a.domain, 'c2.example.net');
  const o = obs(a);
  assert.ok(o.includes('ip:203.0.113.9:remote'));
  assert.ok(o.includes('domain:benign.example.org:dns'));
  assert.ok(o.includes('domain:evil.example.com:ioc'));
  assert.ok(o.includes(`sha256:${'ab'.repeat(32)}:file`));
});

const stream = (line: number) => fixtureLine('crowdstrike', 'event_stream.jsonl', line);

test('event_type is the Streaming API eventType on every alert and context event', () => {
  assert.equal(cs.alert(legacy).event_type, 'DetectionSummaryEvent');
  assert.equal(cs.alert(eppOds).event_type, 'EPPDetectionSummaryEvent'); // as the record spells it
  assert.equal(cs.alert(stream(9)).event_type, 'IncidentSummaryEvent');
  assert.equal(cs.context(stream(6)).event_type, 'ScheduledReportNotificationEvent');
  assert.equal(cs.context(stream(6)).kind, 'other');
  assert.equal(cs.alert(fixtureLine('crowdstrike', 'alerts_api_idp.jsonl', 1)).event_type, 'Alerts API/idp');
});

test('FirewallMatchEvent: a flow context event; inbound puts the remote end on src; RuleAction 2 is a refusal', () => {
  const f = cs.context(stream(1));
  assert.equal(f.kind, 'flow');
  assert.deepEqual(f.src, { ip: '81.2.69.142', port: 53452 }); // RemoteAddress/RemotePort, ConnectionDirection "1"
  assert.deepEqual(f.dst, { ip: '81.2.69.142', port: 445 });
  assert.deepEqual(f.host, { name: 'INPUNEDITCLP229', id: '6734ff444f4456', os: 'windows' });
  assert.equal(f.outcome, 'failure');
  assert.deepEqual(f.process, { name: 'System', command_line: 'System', pid: 11111111 });
  assert.equal(f.rule?.name, 'InboundSMBBlock&LogPrivate');
  assert.ok(f.rule?.id, 'the firewall rule id');
  const outbound = JSON.parse(stream(1)) as { event: Record<string, unknown> };
  outbound.event.ConnectionDirection = '0';
  outbound.event.RuleAction = '1';
  const o = cs.context(JSON.stringify(outbound));
  assert.deepEqual(o.src, { ip: '81.2.69.142', port: 445 });
  assert.equal(o.outcome, 'success');
});

test('audit events: user, source address and outcome in canonical fields; remote response sessions', () => {
  const auth = cs.context(stream(4));
  assert.equal(auth.kind, 'auth');
  assert.deepEqual(auth.user, { name: 'admin.rose@example.com', email: 'admin.rose@example.com' });
  assert.deepEqual(auth.src, { ip: '81.2.69.144' });
  assert.equal(auth.outcome, 'success');
  assert.equal(auth.data.OperationName, 'saml2Assert');
  const activity = cs.context(stream(5));
  assert.equal(activity.kind, 'audit');
  assert.deepEqual(activity.src, { ip: '81.2.69.144' });
  const api = cs.context(fixtureLine('crowdstrike', 'api_activity_audit.jsonl', 1));
  assert.equal(api.kind, 'audit');
  assert.deepEqual(api.src, { ip: '198.51.100.20' }); // SourceIp
  assert.equal(api.outcome, 'failure'); // "Success":false
  const start = cs.context(stream(7));
  assert.equal(start.session_id, '1111-fffff-4bb4-99c1-74c13cfc3e5a');
  assert.deepEqual(start.host, { name: 'UKCHUDL00206', id: 'fffffffff33333' });
  assert.equal(start.start, '2023-11-02T13:41:34.000Z');
  const end = cs.context(fixtureLine('crowdstrike', 'remote_response_session.jsonl', 2));
  assert.equal(end.event_type, 'RemoteResponseSessionEndEvent');
  assert.equal(end.end, '2020-02-27T19:12:52.000Z');
  assert.equal(end.session_id, '12345a1bc2d34fghi56jk7890lmno12p');
});

test('IncidentSummaryEvent: IncidentID and HostID', () => {
  const inc = cs.alert(stream(9));
  assert.equal(inc.vendor_id, 'inc:654a735066d640939aaaaaaaaaaaaaaaaaaaaaaaf47349032acd86820223e');
  assert.equal(inc.severity, 61); // FineScore 6.1
  assert.equal(inc.host?.id, '4345454534534545');
  const old = cs.alert(wrap({ IncidentId: 'inc:1:2', FineScore: 7.5, State: 'open', IncidentStartTime: 1700000000, UserId: 'first.last@company.example' }, 'IncidentSummaryEvent'));
  assert.equal(old.vendor_id, 'inc:1:2');
  assert.deepEqual(old.user, { name: 'first.last@company.example', email: 'first.last@company.example' }, 'UserId: the account the incident is about');
  const platform = cs.alert(wrap({ IncidentId: 'inc:1:3', FineScore: 1, UserId: 'Crowdstrike' }, 'IncidentSummaryEvent'));
  assert.equal(platform.user, undefined, 'the platform itself is no account');
  assert.equal(old.time, '2023-11-14T22:13:20.000Z');
});

test('IdpDetectionSummaryEvent: source account and endpoint, PatternId as the rule id (not the DetectId)', () => {
  const a = cs.alert(stream(2));
  assert.deepEqual(a.user, { name: 'abc.service', domain: 'NA.AAA.ABC.com', email: 'admin.service@example.com' });
  assert.deepEqual(a.src, { ip: '81.2.69.142', host: 'nope122.na.net.ABC.com' });
  assert.equal(a.host?.name, 'nope122.na.net.ABC.com');
  assert.equal(a.rule?.id, '51135');
  assert.equal(a.vendor_id, 'abcabcabc22222:ind:abcabcabc22222:5E8D397E-79C1-AAAA-9715-EEEEEE2222');
});

test('IdentityProtectionEvent is an alert: IncidentType as the rule, DOMAIN\\user split, EndpointName', () => {
  const a = cs.alert(stream(3));
  assert.equal(a.vendor_id, '7a79b2de-4e10-41fb-818f-2bdf53c1625a');
  assert.deepEqual(a.rule, { id: 'Unusuallogintoanendpoint', name: 'Unusuallogintoanendpoint', category: 'Detections' });
  assert.deepEqual(a.user, { name: 'abc.service', domain: 'NA.NET.ABC.com' });
  assert.equal(a.host?.name, 'itreg1d3wp8vh3.eu.net.ABC.com');
  assert.equal(a.host?.ip, undefined); // "EndpointIp":""
  assert.equal(a.severity_label, 'low');
  assert.equal(a.time, '2023-11-02T11:09:00.000Z'); // StartTime (ms)
});

test('Mobile, Xdr, DataProtection and OverWatch detections', () => {
  const mobile = cs.alert(fixtureLine('crowdstrike', 'mobile_detection_summary.jsonl', 1));
  assert.equal(mobile.host?.name, 'TESTComputer');
  assert.deepEqual(mobile.user, { name: 'TestUSER' });
  assert.equal(mobile.file?.path, '/data/app/com.facebook.katana-djFExxxxxxxxxrkg==/base.apk'); // MobileAppsDetails[0].ImageFileName
  assert.equal(mobile.rule?.id, 'AppSideloadDetected'); // no PatternId: the stable detection name
  const xdr = cs.alert(fixtureLine('crowdstrike', 'xdr_detection_summary.jsonl', 1));
  assert.equal(xdr.host?.name, 'XDR-WIN10');
  assert.equal(xdr.host?.ip, '192.168.0.21'); // first of IPv4Addresses
  assert.deepEqual(xdr.rule, { id: '100011', name: 'Metasploit and brute force login attempt', category: 'Initial Access / Spearphishing Attachment' });
  const dp = cs.alert(fixtureLine('crowdstrike', 'data_protection_detection_summary.jsonl', 2));
  assert.equal(dp.action, 'blocked'); // ResponseAction
  assert.equal(dp.file?.name, 'sensitive_123.txt'); // Filename
  assert.equal(dp.file?.sha256, '21cdfbea0d48077b93b4c4cccb23b7aadfea6f4e7fbb1237fdfd0caebf6efd08'); // ContentSha
  assert.equal(dp.host?.name, 'DESKTOP-OM905R2');
  assert.deepEqual(dp.user, { name: 'Bob' });
  const ow = cs.alert(fixtureLine('crowdstrike', 'overwatch_generic_detection_summary.jsonl', 1));
  assert.equal(ow.rule?.category, 'Falcon Overwatch / Malicious Activity'); // MitreAttack[0]
  assert.equal(ow.rule?.id, 'OverwatchDetection');
});

test('CSPM, Recon and customer IOC events are alerts with their own rule fields', () => {
  const ioa = cs.alert(fixtureLine('crowdstrike', 'cspm_ioa_streaming.jsonl', 1));
  assert.deepEqual(ioa.rule, { id: '249', name: 'EC2 instance manually deleted by IAM user', category: 'Impact / Data Destruction' });
  assert.deepEqual(ioa.src, { ip: '81.2.69.144' }); // UserSourceIp
  assert.deepEqual(ioa.user, { name: 'cs_internal_service_acct' });
  assert.equal(ioa.severity_label, 'high'); // SeverityName High decides over Severity 1
  const search = cs.alert(fixtureLine('crowdstrike', 'cspm_search_streaming.jsonl', 1));
  assert.equal(search.rule?.id, '26');
  assert.equal(search.host?.id, 'i-0108fce80eXXXXXXX');
  const recon = cs.alert(fixtureLine('crowdstrike', 'recon_notification_summary.jsonl', 1));
  assert.deepEqual(recon.rule, { id: '123543-0cb1-4806-9ccd-a543123', name: 'TestRuleName', category: 'TestRuleTopic' });
  assert.equal(recon.severity_label, 'high'); // RulePriority
  const hash = cs.alert(fixtureLine('crowdstrike', 'customer_ioc_event.jsonl', 1));
  assert.equal(hash.rule?.id, '2f0eaaf91fc7a5c70d1f4be9b18a1cf5');
  assert.equal(hash.file?.path, '\\Device\\HarddiskVolume3\\Windows\\System32\\Notepad.exe');
  assert.equal(hash.process?.command_line, '"C:\\Windows\\system32\\Notepad.exe"');
  assert.equal(hash.host?.name, 'DESKTOP-AAAAAAA');
  assert.equal(cs.alert(fixtureLine('crowdstrike', 'customer_ioc_event.jsonl', 2)).domain, 'acme.corp');
  assert.deepEqual(cs.alert(fixtureLine('crowdstrike', 'customer_ioc_event.jsonl', 3)).dst, { ip: '203.0.113.5' });
});

test('unknown event types stay context of kind other, with their name', () => {
  // "UserId":"Crowdstrike" is the platform acting on its own (Elastic test-falcon-sample.log), not an account.
  assert.equal(cs.context(wrap({ UserId: 'Crowdstrike', UserIp: '', OperationName: 'quarantined_file_update' }, 'UserActivityAuditEvent')).user, undefined);
  const c = cs.context(wrap({ Foo: 'bar' }, 'SomeFutureEvent'));
  assert.equal(c.kind, 'other');
  assert.equal(c.event_type, 'SomeFutureEvent');
});

test('Alerts API v2 entity and a bare event object are read too', () => {
  const api = cs.alert(fixtureLine('crowdstrike', 'alerts_api.jsonl', 1));
  assert.equal(api.vendor_id, 'cid:ind:aid:1-2-3');
  assert.equal(api.time, '2024-05-01T09:59:59.000Z');
  assert.equal(api.severity_label, 'critical');
  assert.equal(api.action, 'blocked');
  assert.deepEqual(api.user, { name: 'bob', domain: 'CORP' });
  assert.deepEqual(api.host, { name: 'WS-9', ip: '10.9.9.9', id: 'aid', os: 'Windows', mac: 'aa:bb:cc:dd:ee:ff' });
  assert.deepEqual(api.process, { name: 'procdump.exe', command_line: 'procdump.exe -ma lsass.exe', pid: 4242, parent_name: 'cmd.exe' });
  const idp = cs.alert(fixtureLine('crowdstrike', 'alerts_api_idp.jsonl', 1));
  assert.deepEqual(idp.src, { ip: '81.2.69.144', host: 'ABDC454.net.example.com' });
  assert.deepEqual(idp.dst, { host: 'GH787.net.example.com' });
  assert.deepEqual(idp.user, { name: 'admin.abcdef', domain: 'NET.example.com', email: 'admin.abcdef@example.com' });
  assert.equal(idp.rule?.id, '51143');
  const bare = cs.alert(JSON.stringify((JSON.parse(legacy) as { event: unknown }).event));
  assert.equal(bare.title, 'NGAV');
  assert.equal(bare.host?.name, 'ELASTICHOST');
});

test('malformed records are rejected with a reason', () => {
  assert.match(cs.error('{"metadata":{"eventType":"DetectionSummaryEvent"}}'), /event/);
  assert.match(cs.error('{"metadata":{},"event":{}}'), /metadata\.eventType/);
  assert.match(cs.error(wrap({ Severity: 'high' })), /Severity/);
  assert.match(cs.error(JSON.stringify({ metadata: { eventType: 'EppDetectionSummaryEvent', eventCreationTime: 'yesterday' }, event: { Name: 'x' } })), /eventCreationTime/);
  assert.match(cs.error(wrap({ NetworkAccesses: 'nope', Name: 'x' })), /NetworkAccesses/);
  assert.match(cs.error('[1,2]'), /object/);
  assert.match(cs.error('{}'), /not a CrowdStrike record/);
  assert.match(cs.error('{"hello":"world"}'), /not a CrowdStrike record/);
});

test('hostile values never crash or hang the detector', () => {
  const n = hostileVariants('crowdstrike', reg, [legacy, eppLinux]);
  assert.ok(n > 1000);
});

test('property: arbitrary JSON and mutated samples only ever raise ParseError', () => {
  propertyChecks(cs.detector, [legacy, eppOds, eppLinux, eppWindows]);
});
