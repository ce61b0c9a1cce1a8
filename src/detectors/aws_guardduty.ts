/**
 * Amazon GuardDuty findings, in the JSON of the GuardDuty API (GetFindings; "Finding" in the GuardDuty API
 * Reference), which is also what GuardDuty exports to S3 and puts in the `detail` of its EventBridge events
 * ({"source": "aws.guardduty", "detail-type": "GuardDuty Finding", "detail": {…}}, unwrapped here). A
 * GetFindings page ({"findings": [...]}) gives one alert per finding. Every finding is an alert.
 *
 *   schemaVersion, accountId, region, partition, id, arn, type ("UnauthorizedAccess:EC2/SSHBruteForce"),
 *   title, description, severity (number), createdAt, updatedAt,
 *   resource{resourceType, instanceDetails{instanceId, platform, networkInterfaces[{privateIpAddress,
 *     privateDnsName, publicIp, publicDnsName}], tags[]}, accessKeyDetails{accessKeyId, principalId,
 *     userName, userType}, eksClusterDetails{name, arn}, kubernetesDetails{kubernetesUserDetails{username}},
 *     rdsDbInstanceDetails{dbInstanceIdentifier, dbInstanceArn}, rdsDbUserDetails{user}, lambdaDetails,
 *     s3BucketDetails[], ecsClusterDetails, ebsVolumeDetails},
 *   service{action{actionType, networkConnectionAction | portProbeAction | dnsRequestAction |
 *     awsApiCallAction | kubernetesApiCallAction | rdsLoginAttemptAction}, evidence{threatIntelligenceDetails[]},
 *     count, eventFirstSeen, eventLastSeen, archived, runtimeDetails{process}, ebsVolumeScanDetails…}
 *
 *   time        service.eventFirstSeen (when the activity was first seen); for a recurrence (service.count
 *               > 1) service.eventLastSeen, the time of the latest occurrence; else createdAt
 *   title       title (else type); rule id = name = type, category = the threat purpose ("Recon")
 *   severity    1.0-3.9 Low, 4.0-6.9 Medium, 7.0-8.9 High, 9.0-10.0 Critical: ×10 on Fido's scale, which keeps
 *               the bands (8 → 80 high); vendor_severity keeps the number
 *   action      the action's `blocked` flag → blocked; else detected (GuardDuty only reports)
 *   src / dst   NETWORK_CONNECTION: remote ↔ local by connectionDirection (INBOUND: remote is src);
 *               PORT_PROBE: the first probe's remote → local port; AWS_API_CALL, KUBERNETES_API_CALL,
 *               RDS_LOGIN_ATTEMPT: the caller's remote IP as src (sourceIPs[0] as a fallback);
 *               DNS_REQUEST: no addresses; the queried name as domain and dst.host
 *   domain      dnsRequestAction.domain | awsApiCallAction.domainDetails.domain
 *   host        EC2: instanceId, the Name tag or private DNS name, private IP, platform; other resources:
 *               the resource's name (EKS cluster, RDS instance, Lambda function, ECS cluster) and ARN
 *   user        kubernetes user (KUBERNETES_API_CALL), RDS user (RDS_LOGIN_ATTEMPT), else the access key's
 *               userName (principalId as a fallback)
 *   user        (fallback) the runtime process's OS user
 *   process     runtimeDetails.process (name, executablePath, pid), runtimeDetails.context.commandLineExample
 *               as the command line; file = the runtime context's threatFilePath / scriptPath / moduleFilePath
 *               (+ moduleSha256), else the process executable + sha256, else the first malware-scan file
 *   event_type  the finding type (GuardDuty's own name for the kind of finding), as rule.id
 *   malware     the first threat name (threat intelligence list, malware scan, additionalInfo.threatName)
 *   vendor_id   "<id>:<service.count>": a finding keeps its id when it recurs and GuardDuty re-publishes it
 *               with a higher count, so a re-delivered finding dedups while a recurrence is a new alert
 *   observables public IPs of the instance, other port-probe sources, remote IPv6, every threat file hash
 */
import type { AlertDraft, Endpoint } from '../model/alert.js';
import { defineDetector, ParseError, type Detector, type ParseOutcome, type RawRecord } from './detector.js';
import { makeObservable } from './lib/observables.js';
import { receivedTime } from './lib/context.js';
import { UNKNOWN_SEVERITY } from './lib/severity.js';
import { parseTimestamp } from './lib/time.js';
import { Reader, baseName, defined, itemOrPageScore, mapPage, realHash, splitAccount } from './lib/record.js';
import { compact, isObject, own } from './lib/values.js';

const SCALE = 'guardduty 1.0-10.0 (Low 1-3.9, Medium 4-6.9, High 7-8.9, Critical 9-10)';

const guardduty: Detector = {
  name: 'aws_guardduty',
  description: 'Amazon GuardDuty findings JSON (API/S3 export, EventBridge envelope, GetFindings pages)',
  format: 'json',
  sniff(record: RawRecord): number {
    const single = (j: unknown) => (isFinding(j) || (isObject(j) && own(j, 'source') === 'aws.guardduty' && isObject(own(j, 'detail'))) ? 0.97 : 0);
    return itemOrPageScore(record.json, 'findings', single, 0.95, isFinding);
  },
  parse(record: RawRecord): ParseOutcome {
    const j = record.json;
    if (!isObject(j)) throw new ParseError('GuardDuty record must be a JSON object');
    if (own(j, 'source') === 'aws.guardduty' || own(j, 'detail-type') === 'GuardDuty Finding') {
      const detail = own(j, 'detail');
      if (!isObject(detail)) throw new ParseError('EventBridge event without a detail object');
      return { kind: 'alerts', alerts: [findingAlert(new Reader(detail, 'detail'))] };
    }
    if (!isFinding(j) && Array.isArray(own(j, 'findings'))) {
      return { kind: 'alerts', alerts: mapPage(own(j, 'findings') as unknown[], 'findings', (x) => findingAlert(readerOf(x))) };
    }
    return { kind: 'alerts', alerts: [findingAlert(new Reader(j))] };
  },
};
export default defineDetector(guardduty);

function readerOf(x: unknown): Reader {
  if (!isObject(x)) throw new ParseError('finding must be a JSON object');
  return new Reader(x);
}

function isFinding(j: unknown): boolean {
  if (!isObject(j)) return false;
  const arn = own(j, 'arn');
  const typed = typeof own(j, 'type') === 'string' && typeof own(j, 'accountId') === 'string';
  if (typed && typeof arn === 'string' && arn.includes(':guardduty:')) return true;
  return typed && own(j, 'schemaVersion') !== undefined && isObject(own(j, 'service')) && isObject(own(j, 'resource'));
}

function findingAlert(f: Reader): AlertDraft {
  const type = f.str('type');
  const title = f.str('title') ?? type;
  if (!title) throw new ParseError(`missing ${f.where('title')} and ${f.where('type')}`);
  const service = f.sub('service');
  const resource = f.sub('resource');
  const action = service.sub('action');
  const sev = f.num('severity');
  const count = service.int('count');
  // A recurring finding keeps its id and counts up: occurrence n > 1 happened at eventLastSeen.
  const timeKey = count !== undefined && count > 1 && service.has('eventLastSeen') ? 'eventLastSeen' : 'eventFirstSeen';
  const time = service.str(timeKey) ?? f.first('createdAt', 'updatedAt');
  const net = networkOf(action);
  const threats = threatNames(service);
  const runtime = service.sub('runtimeDetails').sub('process');
  const runtimeContext = service.sub('runtimeDetails').sub('context');
  const scanFile = scanFiles(service)[0];
  const exe = runtime.str('executablePath');
  // Runtime Monitoring names the file the threat is in (a script, a dropped binary) beside the process.
  const threatPath = runtimeContext.first('threatFilePath', 'scriptPath', 'moduleFilePath');
  return {
    vendor_id: vendorId(f.str('id') ?? f.str('arn'), count),
    event_type: type,
    time: time ? parseTimestamp(time, { field: service.has(timeKey) ? service.where(timeKey) : f.where('createdAt') }) : receivedTime(),
    title,
    rule: compact({ id: type, name: type, category: type?.split(':')[0] }),
    severity: sev !== undefined && sev >= 0 && sev <= 10 ? Math.round(sev * 10) : UNKNOWN_SEVERITY,
    vendor_severity: sev === undefined ? undefined : { value: String(sev), scale: SCALE },
    action: net.blocked ? 'blocked' : 'detected',
    src: net.src,
    dst: net.dst,
    domain: net.domain,
    host: hostOf(resource),
    user: userOf(resource, action) ?? accountOf(runtime.str('user')),
    process: compact({ name: runtime.str('name') ?? baseName(exe), pid: runtime.int('pid'), command_line: runtimeContext.str('commandLineExample') }),
    file: threatPath
      ? compact({ name: baseName(threatPath), path: threatPath, sha256: realHash(runtimeContext.str('moduleSha256'), 'sha256') })
      : exe
        ? compact({ name: baseName(exe), path: exe, sha256: realHash(runtime.str('executableSha256'), 'sha256') })
        : scanFile,
    malware: compact({ name: threats[0] }),
    observables: defined([
      ...net.extra,
      ...instanceInterfaces(resource).flatMap((n) => [makeObservable('ip', n.str('publicIp'), 'host'), ...n.objects('ipv6Addresses', 8).map((a) => makeObservable('ip', a.str('address'), 'host'))]),
      ...scanFiles(service).slice(exe || threatPath ? 0 : 1).map((s) => makeObservable('sha256', s.sha256, 'file')),
      makeObservable('sha256', threatPath ? realHash(runtime.str('executableSha256'), 'sha256') : undefined, 'process'),
    ]),
  };
}

interface Net {
  src?: Endpoint;
  dst?: Endpoint;
  domain?: string;
  blocked: boolean;
  extra: Array<ReturnType<typeof makeObservable>>;
}

function remoteIp(details: Reader | undefined): string | undefined {
  return details?.first('ipAddressV4', 'ipAddressV6');
}

function networkOf(action: Reader): Net {
  const type = (action.str('actionType') ?? '').toUpperCase();
  const extra: Net['extra'] = [];
  const conn = action.object('networkConnectionAction');
  if (conn && (type === 'NETWORK_CONNECTION' || !type)) {
    const remote = compact({ ip: remoteIp(conn.object('remoteIpDetails')), port: conn.sub('remotePortDetails').int('port') });
    const local = compact({ ip: remoteIp(conn.object('localIpDetails')), port: conn.sub('localPortDetails').int('port') });
    const inbound = (conn.str('connectionDirection') ?? '').toUpperCase() === 'INBOUND';
    return { src: inbound ? remote : local, dst: inbound ? local : remote, blocked: conn.bool('blocked') === true, extra };
  }
  const probe = action.object('portProbeAction');
  if (probe) {
    const details = probe.objects('portProbeDetails', 64);
    const first = details[0];
    for (const d of details.slice(1)) extra.push(makeObservable('ip', remoteIp(d.object('remoteIpDetails')), 'src'));
    return {
      src: first ? compact({ ip: remoteIp(first.object('remoteIpDetails')) }) : undefined,
      dst: first ? compact({ ip: remoteIp(first.object('localIpDetails')), port: first.sub('localPortDetails').int('port') }) : undefined,
      blocked: probe.bool('blocked') === true,
      extra,
    };
  }
  const dns = action.object('dnsRequestAction');
  if (dns) {
    // The queried name is where the instance tried to go; as dst.host it survives when it is a single label
    // (which `domain`, a registrable-style name, does not hold).
    const name = dns.first('domain', 'domainWithSuffix');
    return { domain: name, dst: compact({ host: name }), blocked: dns.bool('blocked') === true, extra };
  }
  const api = action.object('awsApiCallAction');
  if (api) {
    return { src: compact({ ip: remoteIp(api.object('remoteIpDetails')) }), domain: api.sub('domainDetails').str('domain'), blocked: false, extra };
  }
  const k8s = action.object('kubernetesApiCallAction');
  if (k8s) {
    const sources = k8s.strings('sourceIPs', 16);
    for (const ip of sources.slice(1)) extra.push(makeObservable('ip', ip, 'src'));
    return { src: compact({ ip: remoteIp(k8s.object('remoteIpDetails')) ?? sources[0] }), blocked: false, extra };
  }
  const rds = action.object('rdsLoginAttemptAction');
  if (rds) return { src: compact({ ip: remoteIp(rds.object('remoteIpDetails')) }), blocked: false, extra };
  return { blocked: false, extra };
}

function instanceInterfaces(resource: Reader): Reader[] {
  return resource.sub('instanceDetails').objects('networkInterfaces', 16);
}

function hostOf(resource: Reader): AlertDraft['host'] {
  const inst = resource.object('instanceDetails');
  if (inst && inst.has('instanceId')) {
    const nics = instanceInterfaces(resource);
    const nameTag = inst.objects('tags', 64).find((t) => (t.loose('key') ?? t.loose('Key')) === 'Name');
    return compact({
      id: inst.str('instanceId'),
      name: nameTag?.str('value') ?? nameTag?.str('Value') ?? nics[0]?.str('privateDnsName'),
      ip: nics[0]?.str('privateIpAddress') ?? nics[0]?.objects('privateIpAddresses', 4)[0]?.str('privateIpAddress'),
      os: inst.str('platform'),
    });
  }
  const eks = resource.object('eksClusterDetails');
  if (eks) return compact({ name: eks.str('name'), id: eks.str('arn') });
  const rds = resource.object('rdsDbInstanceDetails');
  if (rds) return compact({ name: rds.str('dbInstanceIdentifier'), id: rds.str('dbInstanceArn') });
  const lambda = resource.object('lambdaDetails');
  if (lambda) return compact({ name: lambda.str('functionName'), id: lambda.str('functionArn') });
  const ecs = resource.object('ecsClusterDetails');
  if (ecs) return compact({ name: ecs.str('name'), id: ecs.str('arn') });
  return undefined;
}

function userOf(resource: Reader, action: Reader): AlertDraft['user'] {
  const type = (action.str('actionType') ?? '').toUpperCase();
  const k8s = resource.sub('kubernetesDetails').sub('kubernetesUserDetails').str('username');
  const rds = resource.sub('rdsDbUserDetails').str('user');
  const key = resource.sub('accessKeyDetails');
  const iam = key.str('userName') ?? key.str('principalId');
  const chosen = type === 'KUBERNETES_API_CALL' ? (k8s ?? iam) : type === 'RDS_LOGIN_ATTEMPT' ? (rds ?? iam) : (iam ?? k8s ?? rds);
  return accountOf(chosen);
}

function accountOf(name: string | undefined): AlertDraft['user'] {
  const acc = splitAccount(name);
  return acc ? compact({ name: acc.name, domain: acc.domain, email: acc.email }) : undefined;
}

/** The finding id, with the occurrence count when there is one: a re-delivery dedups, a recurrence is new. */
function vendorId(id: string | undefined, count: number | undefined): string | undefined {
  if (id === undefined) return undefined;
  return count !== undefined && count > 0 ? `${id}:${count}` : id;
}

function threatNames(service: Reader): string[] {
  const names: string[] = [];
  for (const t of service.sub('evidence').objects('threatIntelligenceDetails', 16)) names.push(...t.strings('threatNames', 8));
  for (const t of service.sub('ebsVolumeScanDetails').sub('scanDetections').sub('threatDetectedByName').objects('threatNames', 16)) {
    const n = t.str('name');
    if (n) names.push(n);
  }
  const additional = service.sub('additionalInfo').loose('threatName');
  if (additional) names.push(additional);
  return names;
}

function scanFiles(service: Reader): Array<{ name?: string; path?: string; sha256?: string }> {
  const out: Array<{ name?: string; path?: string; sha256?: string }> = [];
  for (const t of service.sub('ebsVolumeScanDetails').sub('scanDetections').sub('threatDetectedByName').objects('threatNames', 16)) {
    for (const p of t.objects('filePaths', 16)) {
      const path = p.first('filePath');
      const name = p.str('fileName') ?? baseName(path);
      const file = compact({ name, path: path && name && !path.endsWith(name) ? `${path.replace(/\/$/, '')}/${name}` : path, sha256: realHash(p.str('hash'), 'sha256') });
      if (file) out.push(file);
    }
  }
  return out;
}
