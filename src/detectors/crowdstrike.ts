/**
 * CrowdStrike Falcon, as the Streaming API (Event Streams; also what the Falcon SIEM Connector writes) emits
 * it: one {"metadata": {...}, "event": {...}} object per line, `metadata.eventType` naming the event
 * (Falcon "Streaming API Event Dictionary"; field names as in the Falcon SIEM Connector guide). The bare
 * `event` object (some forwarders drop the envelope) and Alerts API v2 entities (GET
 * /alerts/entities/alerts/v2: composite_id, device{}, pattern_disposition_details…) are read too.
 *
 * Alerts (event_type = metadata.eventType, or "Alerts API/<product>"):
 *   *DetectionSummaryEvent   DetectionSummaryEvent (legacy endpoint detections), EppDetectionSummaryEvent
 *                            (its successor, any capitalisation), IdpDetectionSummaryEvent (Identity),
 *                            MobileDetectionSummaryEvent, XdrDetectionSummaryEvent, DataProtection…,
 *                            OverwatchGeneric… all share the mapping below.
 *   IncidentSummaryEvent     an incident (FineScore 0-10 → 0-100); HostID as host.id.
 *   IdentityProtectionEvent  an Identity Protection incident: IncidentType as the rule, UserName, EndpointName/Ip.
 *   CSPMIOAStreamingEvent, CSPMSearchStreamingEvent  cloud posture: PolicyId/PolicyStatement as the rule,
 *                            UserName and UserSourceIp (IOA), ResourceUrl/ReportUrl.
 *   ReconNotificationSummaryEvent  a Falcon Intelligence Recon rule match: RuleId/RuleName, RulePriority.
 *   CustomerIOCEvent         a custom IOC seen on a host: the IOC (hash, domain, IPv4/IPv6) and the process.
 *   Alerts API v2 entity     the same fields in snake_case under their API names.
 * Context (kind): AuthActivityAuditEvent → auth; FirewallMatchEvent → flow; UserActivityAuditEvent,
 *   APIActivityAuditEvent, RemoteResponseSession{Start,End}Event → audit; anything else → other.
 *   data = the event object plus eventType.
 *
 * Detection mapping:
 *   time           metadata.eventCreationTime (ms) — when Falcon raised the detection — else event
 *                  ContextTimeStamp / ProcessStartTime / StartTime, else the received time
 *   title          Name (Epp) | DetectName (legacy) | "<Tactic> via <Technique>"
 *   rule           id PatternId; name Name|DetectName; category "<Tactic> / <Technique>"
 *   severity       Severity: legacy 1-5 (1 Informational 5, 2 Low 25, 3 Medium 50, 4 High 75, 5 Critical 95);
 *                  Epp/Alerts API 10-100 taken as is; SeverityName decides the band when the two disagree.
 *   action         PatternDispositionFlags (or the bits of PatternDispositionValue): PolicyDisabled /
 *                  BlockingUnsupportedOrDisabled → detected ("would have been blocked"); QuarantineFile /
 *                  QuarantineMachine → quarantined; KillProcess / KillSubProcess / KillParent /
 *                  *Blocked / SuspendProcess / SuspendParent → blocked (unless KillActionFailed alone);
 *                  otherwise detected.
 *   host           Hostname|ComputerName, LocalIP, AgentId|SensorId, MACAddress, Platform/OS fields
 *   user           UserName | SourceAccountName (DOMAIN\user split), LogonDomain | SourceAccountDomain;
 *                  UserPrincipal | SourceAccountUpn as e-mail
 *   file           FileName + FilePath (the legacy event's FilePath is the directory), MD5String,
 *                  SHA1String, SHA256String (placeholders of all zeros dropped)
 *   process        FileName, CommandLine, pid (LocalProcessId, or ProcessId when it is an OS-sized
 *                  number: Falcon's own process ids are not OS pids), ParentImageFileName (base name)
 *   src / dst      NetworkAccesses[] (first one; ConnectionDirection 1 = inbound swaps the sides); the
 *                  other remote addresses become observables. Identity detections: src = SourceEndpoint
 *                  (HostName, IpAddress), dst.host = TargetEndpointHostName.
 *   rule category  "<Tactic> / <Technique>", else the first MitreAttack[] entry, else Tactics/Techniques (Xdr)
 *   domain         DnsRequests[].DomainName (the one that CausedDetect first); IOCType domain
 *   url            an IOCType url indicator, else FalconHostLink (the console link of the detection)
 *   vendor_id      CompositeId | DetectId | IncidentId, else customerIDString:offset (stream position)
 *   observables    IOCValue by IOCType, QuarantineFiles[] hashes, parent / grandparent hashes
 */
import type { AlertDraft, DetectorAction, Endpoint } from '../model/alert.js';
import type { ContextKind, ContextOutcome } from '../model/context.js';
import type { Observable } from '../model/observable.js';
import { defineDetector, ParseError, type ContextEvent, type Detector, type ParseOutcome, type RawRecord } from './detector.js';
import { makeObservable } from './lib/observables.js';
import { receivedTime } from './lib/context.js';
import { UNKNOWN_SEVERITY, wordSeverity } from './lib/severity.js';
import { tryParseTimestamp, parseTimestamp } from './lib/time.js';
import { severityLabel } from '../model/alert.js';
import { Reader, baseName, defined, firstIp, joinPath, realHash, splitAccount, type Account } from './lib/record.js';
import { compact, isObject, own } from './lib/values.js';

const SCALE = 'crowdstrike Severity 1-5 (DetectionSummaryEvent) or 10-100 (Epp/Alerts API), SeverityName Informational|Low|Medium|High|Critical';

const CONTEXT_KINDS: Record<string, ContextKind> = {
  authactivityauditevent: 'auth',
  firewallmatchevent: 'flow',
  useractivityauditevent: 'audit',
  apiactivityauditevent: 'audit',
  remoteresponsesessionstartevent: 'audit',
  remoteresponsesessionendevent: 'audit',
};

// Streaming API event types that are alerts but not *DetectionSummaryEvent.
const OTHER_ALERTS: Record<string, (meta: Reader, e: Reader, type: string) => AlertDraft> = {
  incidentsummaryevent: (meta, e) => incidentAlert(meta, e),
  identityprotectionevent: (meta, e, type) => identityIncidentAlert(meta, e, type),
  cspmioastreamingevent: (meta, e, type) => cspmAlert(meta, e, type),
  cspmsearchstreamingevent: (meta, e, type) => cspmAlert(meta, e, type),
  reconnotificationsummaryevent: (meta, e, type) => reconAlert(meta, e, type),
  customeriocevent: (meta, e, type) => customerIocAlert(meta, e, type),
};

// Fields only a Falcon detection event carries: enough of them on a bare event object means CrowdStrike.
const DETECTION_MARKERS = ['FalconHostLink', 'PatternDispositionValue', 'PatternDispositionFlags', 'DetectId', 'CompositeId', 'SensorId', 'AgentId', 'IOCType'];

const crowdstrike: Detector = {
  name: 'crowdstrike',
  description: 'CrowdStrike Falcon Streaming API (*DetectionSummaryEvent, incidents, CSPM, Recon, custom IOC; audit and firewall events as context) and Alerts API v2 JSON',
  format: 'json',
  sniff(record: RawRecord): number {
    const j = record.json;
    if (!isObject(j)) return 0;
    const meta = own(j, 'metadata');
    if (isObject(meta) && typeof own(meta, 'eventType') === 'string' && isObject(own(j, 'event'))) {
      return typeof own(meta, 'customerIDString') === 'string' || typeof own(meta, 'offset') === 'number' ? 0.97 : 0.85;
    }
    if (isAlertsApiEntity(j)) return 0.93;
    const markers = DETECTION_MARKERS.filter((k) => own(j, k) !== undefined).length;
    if (markers >= 2 && (typeof own(j, 'Hostname') === 'string' || typeof own(j, 'ComputerName') === 'string')) return 0.85;
    return 0;
  },
  parse(record: RawRecord): ParseOutcome {
    const j = record.json;
    if (!isObject(j)) throw new ParseError('CrowdStrike record must be a JSON object');
    const root = new Reader(j);
    if (isObject(own(j, 'metadata')) || isObject(own(j, 'event'))) {
      const meta = root.sub('metadata');
      const event = root.object('event');
      if (!event) throw new ParseError('missing event object (Streaming API records are {"metadata": …, "event": …})');
      const type = meta.str('eventType');
      if (!type) throw new ParseError('missing metadata.eventType');
      const lower = type.toLowerCase();
      if (lower.endsWith('detectionsummaryevent')) return { kind: 'alerts', alerts: [detectionAlert(streamingDetection(meta, event, type))] };
      const other = OTHER_ALERTS[lower];
      if (other) return { kind: 'alerts', alerts: [other(meta, event, type)] };
      return { kind: 'context', events: [contextEvent(meta, event, type)] };
    }
    if (isAlertsApiEntity(j)) return { kind: 'alerts', alerts: [detectionAlert(alertsApiDetection(root))] };
    // A bare Streaming API event object (envelope dropped by a forwarder).
    if (!DETECTION_MARKERS.some((k) => own(j, k) !== undefined) && !root.first('Name', 'DetectName')) {
      throw new ParseError('not a CrowdStrike record: expected {"metadata": {"eventType": …}, "event": {…}}, an Alerts API entity (composite_id, device) or a detection event');
    }
    return { kind: 'alerts', alerts: [detectionAlert(streamingDetection(new Reader({}, 'metadata'), root, 'DetectionSummaryEvent'))] };
  },
};
export default defineDetector(crowdstrike);

function isAlertsApiEntity(j: Record<string, unknown>): boolean {
  // Identity (product "idp") alerts carry no device object: their pattern_id / product stand in for it.
  const shaped = isObject(own(j, 'device')) || own(j, 'pattern_id') !== undefined || typeof own(j, 'product') === 'string';
  return typeof own(j, 'composite_id') === 'string' && shaped && (own(j, 'falcon_host_link') !== undefined || own(j, 'agent_id') !== undefined || own(j, 'cid') !== undefined);
}

// ---- one shape for both sources -----------------------------------------------------------------------------

interface Detection {
  eventType: string;
  time: string;
  vendorId?: string;
  title: string;
  ruleId?: string;
  ruleName?: string;
  tactic?: string;
  technique?: string;
  severity?: number;
  severityName?: string;
  flags: Set<string>;
  dispositionText?: string;
  host: { name?: string; ip?: string; id?: string; os?: string; mac?: string };
  userName?: string;
  userDomain?: string;
  userEmail?: string;
  fileName?: string;
  filePath?: string;
  md5?: string;
  sha1?: string;
  sha256?: string;
  commandLine?: string;
  /** Whether FileName names a running process (not a file found by a scan). */
  isProcess: boolean;
  pid?: number;
  parentName?: string;
  link?: string;
  iocType?: string;
  iocValue?: string;
  network: Reader[];
  /** Where the product names the two ends itself (identity detections: the source and target endpoint). */
  src?: Endpoint;
  dst?: Endpoint;
  /** The product's own word for what it did (DataProtection ResponseAction), when it has one. */
  response?: string;
  dns: Reader[];
  extraHashes: Array<{ type: 'md5' | 'sha1' | 'sha256'; value: string | undefined }>;
  malware?: string;
}

// PatternDispositionValue bits (Falcon SIEM Connector guide), in flag-name form.
const DISPOSITION_BITS: Array<[number, string]> = [
  [1, 'indicator'], [2, 'detect'], [4, 'inddetmask'], [8, 'sensoronly'], [16, 'killprocess'], [32, 'killsubprocess'],
  [64, 'quarantinemachine'], [128, 'quarantinefile'], [256, 'policydisabled'], [512, 'killparent'], [1024, 'operationblocked'],
  [2048, 'processblocked'], [4096, 'registryoperationblocked'], [8192, 'criticalprocessdisabled'], [16384, 'bootupsafeguardenabled'],
  [32768, 'fsoperationblocked'], [65536, 'handleoperationdowngraded'], [131072, 'killactionfailed'],
  [262144, 'blockingunsupportedordisabled'], [524288, 'suspendprocess'], [1048576, 'suspendparent'],
];

function dispositionFlags(flagsObj: Reader | undefined, value: number | undefined): Set<string> {
  const set = new Set<string>();
  if (flagsObj) {
    for (const [k, v] of Object.entries(flagsObj.obj)) if (v === true) set.add(k.toLowerCase().replace(/_/g, ''));
  } else if (value !== undefined && value >= 0) {
    for (const [bit, name] of DISPOSITION_BITS) if (Math.floor(value / bit) % 2 === 1) set.add(name);
  }
  return set;
}

function userFields(account: Account | undefined): Pick<Detection, 'userName' | 'userDomain' | 'userEmail'> {
  return { userName: account?.name, userDomain: account?.domain, userEmail: account?.email };
}

/** Both APIs name the file and, separately, the directory that holds it (or the whole path). */
function fileFields(name: string | undefined, path: string | undefined): Pick<Detection, 'fileName' | 'filePath'> {
  return { fileName: name ?? baseName(path), filePath: path && name ? joinPath(path, name) : path };
}

/** Xdr detections list several tactics and hosts comma-separated: the first stands for them. */
function firstListed(value: string | undefined): string | undefined {
  return value?.split(',')[0]?.trim() || undefined;
}

function streamingDetection(meta: Reader, e: Reader, eventType: string): Detection {
  const mitre = e.objects('MitreAttack', 16)[0];
  const tactic = e.str('Tactic') ?? mitre?.str('Tactic') ?? firstListed(e.str('Tactics'));
  const technique = e.str('Technique') ?? mitre?.str('Technique') ?? firstListed(e.str('Techniques'));
  const name = e.first('Name', 'DetectName', 'DisplayName');
  // Mobile detections name the offending app's package file; DataProtection the egressed file (Filename).
  const app = e.objects('MobileAppsDetails', 16)[0];
  const fileName = e.first('FileName', 'Filename');
  const filePath = e.str('FilePath') ?? app?.str('ImageFileName');
  const account = splitAccount(e.first('UserName', 'SourceAccountName', 'UserPrincipal'), e.first('LogonDomain', 'SourceAccountDomain'));
  const upn = e.first('UserPrincipal', 'SourceAccountUpn');
  return {
    eventType,
    time: streamingTime(meta, e),
    vendorId: e.first('CompositeId', 'DetectId') ?? positionId(meta, eventType),
    title: name ?? (tactic && technique ? `${tactic} via ${technique}` : (e.first('DetectDescription', 'Description') ?? `CrowdStrike ${eventType}`)),
    // Mobile and OverWatch detections have no PatternId: their Name/DetectName is the stable name.
    ruleId: e.str('PatternId') ?? name,
    ruleName: name,
    tactic,
    technique,
    severity: e.num('Severity'),
    severityName: e.str('SeverityName'),
    flags: dispositionFlags(e.object('PatternDispositionFlags'), e.num('PatternDispositionValue')),
    dispositionText: e.str('PatternDispositionDescription'),
    host: {
      name: e.first('Hostname', 'ComputerName', 'SourceEndpointHostName') ?? firstListed(e.str('HostNames')),
      ip: firstIp(e.loose('LocalIP')) ?? firstIp(e.loose('LocalIPv6')) ?? firstIp(e.loose('SourceEndpointIpAddress')) ?? firstIp(e.loose('IPv4Addresses')),
      id: e.first('AgentId', 'SensorId', 'SourceEndpointSensorId', 'AgentIdString'),
      os: e.first('Platform', 'PlatformName', 'OSVersion', 'OsVersion'),
      mac: e.str('MACAddress'),
    },
    ...userFields(account),
    userEmail: account?.email ?? splitAccount(upn)?.email,
    ...fileFields(fileName, filePath),
    md5: e.str('MD5String'),
    sha1: e.str('SHA1String'),
    sha256: e.first('SHA256String', 'ContentSha'),
    commandLine: e.str('CommandLine'),
    isProcess: e.has('CommandLine') || e.has('ProcessId') || e.has('ProcessStartTime'),
    pid: osPid(e.num('LocalProcessId')) ?? osPid(e.num('ProcessId')),
    parentName: baseName(e.first('ParentImageFileName', 'ParentImageFilePath')),
    link: e.str('FalconHostLink'),
    iocType: e.str('IOCType'),
    iocValue: e.str('IOCValue'),
    network: e.objects('NetworkAccesses', 64),
    ...identityEnds(e.str('SourceEndpointHostName'), e.loose('SourceEndpointIpAddress'), e.str('TargetEndpointHostName')),
    response: e.str('ResponseAction'),
    dns: e.objects('DnsRequests', 64),
    extraHashes: [
      ...e.objects('QuarantineFiles', 64).map((q) => ({ type: 'sha256' as const, value: q.str('SHA256HashData') })),
      { type: 'md5', value: e.str('ParentMD5String') },
      { type: 'sha256', value: e.str('ParentSHA256String') },
      { type: 'sha256', value: e.str('GrandparentSHA256String') },
    ],
  };
}

function alertsApiDetection(a: Reader): Detection {
  const device = a.sub('device');
  const parent = a.sub('parent_details');
  const tactic = a.str('tactic');
  const technique = a.str('technique');
  const name = a.first('display_name', 'name');
  const account = splitAccount(a.first('user_name', 'source_account_name', 'user_principal'), a.first('logon_domain', 'source_account_domain'));
  const product = a.str('product');
  const fileName = a.str('filename');
  const filePath = a.str('filepath');
  const time = a.first('timestamp', 'created_timestamp', 'context_timestamp');
  return {
    eventType: product ? `Alerts API/${product}` : 'Alerts API',
    time: time ? parseTimestamp(time, { field: 'timestamp' }) : receivedTime(),
    vendorId: a.str('composite_id'),
    title: name ?? (tactic && technique ? `${tactic} via ${technique}` : (a.str('description') ?? 'CrowdStrike alert')),
    ruleId: a.str('pattern_id'),
    ruleName: name,
    tactic,
    technique,
    severity: a.num('severity'),
    severityName: a.str('severity_name'),
    flags: dispositionFlags(a.object('pattern_disposition_details'), a.num('pattern_disposition')),
    dispositionText: a.str('pattern_disposition_description'),
    host: {
      name: device.str('hostname') ?? a.str('source_endpoint_host_name'),
      ip: firstIp(device.loose('local_ip')) ?? firstIp(a.loose('source_endpoint_ip_address')),
      id: device.str('device_id') ?? a.str('agent_id'),
      os: device.first('platform_name', 'os_version') ?? a.str('platform'),
      mac: device.str('mac_address'),
    },
    ...userFields(account),
    userEmail: account?.email ?? splitAccount(a.first('user_principal', 'source_account_upn'))?.email,
    ...fileFields(fileName, filePath),
    md5: a.str('md5'),
    sha1: a.str('sha1'),
    sha256: a.str('sha256'),
    commandLine: a.str('cmdline'),
    isProcess: a.has('cmdline') || a.has('process_id') || a.has('local_process_id'),
    pid: osPid(a.num('local_process_id')),
    parentName: baseName(parent.first('filename', 'filepath')),
    link: a.str('falcon_host_link'),
    iocType: a.str('ioc_type'),
    iocValue: a.str('ioc_value'),
    network: a.objects('network_accesses', 64),
    ...identityEnds(a.str('source_endpoint_host_name'), a.loose('source_endpoint_ip_address'), a.str('target_endpoint_host_name')),
    dns: a.objects('dns_requests', 64),
    extraHashes: [
      { type: 'md5', value: parent.str('md5') },
      { type: 'sha256', value: parent.str('sha256') },
      ...a.objects('quarantined_files', 64).map((q) => ({ type: 'sha256' as const, value: q.str('sha256') })),
    ],
  };
}

/** Identity detections: the endpoint a sign-on came from, and the one it went to. */
function identityEnds(srcHost: string | undefined, srcIp: string | undefined, dstHost: string | undefined): Pick<Detection, 'src' | 'dst'> {
  return { src: compact({ host: srcHost, ip: firstIp(srcIp) }), dst: compact({ host: dstHost }) };
}

/** Falcon's ProcessId is its own 64-bit id; only numbers that fit an OS pid are one. */
function osPid(n: number | undefined): number | undefined {
  return n !== undefined && Number.isInteger(n) && n > 0 && n <= 0xffffffff ? n : undefined;
}

function streamingTime(meta: Reader, e: Reader): string {
  const created = meta.raw('eventCreationTime');
  if (created !== undefined && created !== null) return parseTimestamp(created, { field: 'metadata.eventCreationTime' });
  for (const key of ['ContextTimeStamp', 'ProcessStartTime', 'StartTime', 'Timestamp']) {
    const t = tryParseTimestamp(e.raw(key));
    if (t) return t;
  }
  return receivedTime();
}

function positionId(meta: Reader, eventType: string): string | undefined {
  const cid = meta.str('customerIDString');
  const offset = meta.str('offset');
  return cid && offset ? `${cid}:${eventType}:${offset}` : undefined;
}

// ---- the alert ----------------------------------------------------------------------------------------------

function detectionAlert(d: Detection): AlertDraft {
  const { severity, vendor } = severityOf(d.severity, d.severityName);
  const net = networkOf(d.network);
  const dnsNames = d.dns
    .slice()
    .sort((a, b) => Number(b.bool('CausedDetect') ?? false) - Number(a.bool('CausedDetect') ?? false))
    .map((r) => r.first('DomainName', 'domain_name'));
  const ioc = iocObservable(d.iocType, d.iocValue);
  const iocDomain = ioc?.type === 'domain' ? ioc.value : undefined;
  return {
    vendor_id: d.vendorId,
    event_type: d.eventType,
    time: d.time,
    title: d.title,
    rule: compact({ id: d.ruleId, name: d.ruleName, category: d.tactic && d.technique ? `${d.tactic} / ${d.technique}` : (d.tactic ?? d.technique) }),
    severity,
    vendor_severity: vendor,
    action: d.response ? responseAction(d.response) : actionOf(d.flags, d.dispositionText),
    src: net.src ?? d.src,
    dst: net.dst ?? d.dst,
    host: compact(d.host),
    user: compact({ name: d.userName, domain: d.userDomain, email: d.userEmail }),
    file: compact({ name: d.fileName, path: d.filePath, md5: realHash(d.md5, 'md5'), sha1: realHash(d.sha1, 'sha1'), sha256: realHash(d.sha256, 'sha256') }),
    process: d.isProcess ? compact({ name: d.fileName, command_line: d.commandLine, pid: d.pid, parent_name: d.parentName }) : undefined,
    url: (ioc?.type === 'url' ? ioc.value : undefined) ?? d.link,
    domain: dnsNames.find((n) => n !== undefined) ?? iocDomain,
    observables: defined<Observable>([
      ioc,
      ...net.extra,
      ...dnsNames.slice(1).map((n) => makeObservable('domain', n, 'dns')),
      ...d.extraHashes.map((h) => makeObservable(h.type, realHash(h.value, h.type), 'file')),
    ]),
  };
}

function severityOf(n: number | undefined, name: string | undefined): { severity: number; vendor: AlertDraft['vendor_severity'] } {
  const word = wordSeverity(name);
  let score: number | undefined;
  if (n !== undefined && Number.isInteger(n) && n >= 1 && n <= 5) score = [5, 25, 50, 75, 95][n - 1];
  else if (n !== undefined && n > 5 && n <= 100) score = n;
  if (score !== undefined && word !== undefined && severityLabel(score) !== severityLabel(word)) score = word;
  score ??= word ?? UNKNOWN_SEVERITY;
  const value = n !== undefined ? (name ? `${n} (${name})` : String(n)) : name;
  return { severity: score, vendor: value === undefined ? undefined : { value, scale: SCALE } };
}

/** DataProtection's ResponseAction: blocked, allowed, … */
function responseAction(word: string): DetectorAction {
  const w = word.toLowerCase();
  if (w.includes('block') || w.includes('prevent')) return 'blocked';
  if (w.includes('allow')) return 'allowed';
  return 'detected';
}

function actionOf(flags: Set<string>, text: string | undefined): DetectorAction {
  if (flags.size === 0 && text) {
    if (/would have been|not enabled|disabled/i.test(text)) return 'detected';
    if (/quarantin/i.test(text)) return 'quarantined';
    if (/\b(killed|blocked|prevented|suspended)\b/i.test(text)) return 'blocked';
    return 'detected';
  }
  if (flags.has('policydisabled') || flags.has('blockingunsupportedordisabled')) return 'detected';
  if (flags.has('quarantinefile') || flags.has('quarantinemachine')) return 'quarantined';
  const blocking = ['killprocess', 'killsubprocess', 'killparent', 'operationblocked', 'processblocked', 'registryoperationblocked', 'fsoperationblocked', 'suspendprocess', 'suspendparent', 'handleoperationdowngraded'];
  if (blocking.some((f) => flags.has(f))) return 'blocked';
  return 'detected';
}

function networkOf(list: Reader[]): { src?: AlertDraft['src']; dst?: AlertDraft['dst']; extra: Array<Observable | undefined> } {
  const first = list[0];
  const extra: Array<Observable | undefined> = [];
  for (const n of list.slice(1)) extra.push(makeObservable('ip', n.first('RemoteAddress', 'remote_address'), 'remote'));
  if (!first) return { extra };
  const local = { ip: first.first('LocalAddress', 'local_address'), port: portOf(first, 'LocalPort', 'local_port') };
  const remote = { ip: first.first('RemoteAddress', 'remote_address'), port: portOf(first, 'RemotePort', 'remote_port') };
  const inbound = first.loose('ConnectionDirection') === '1' || first.loose('connection_direction') === '1';
  return inbound ? { src: compact(remote), dst: compact(local), extra } : { src: compact(local), dst: compact(remote), extra };
}

function portOf(r: Reader, ...keys: string[]): number | undefined {
  for (const k of keys) {
    const n = r.int(k);
    if (n !== undefined) return n;
  }
  return undefined;
}

/** IOCType (hash_sha256, hash_md5, domain, ipv4, ipv6, url…) and IOCValue as an observable. */
function iocObservable(type: string | undefined, value: string | undefined): Observable | undefined {
  if (!type || !value) return undefined;
  const t = type.toLowerCase();
  if (t.includes('sha256')) return makeObservable('sha256', realHash(value, 'sha256'), 'ioc');
  if (t.includes('sha1')) return makeObservable('sha1', realHash(value, 'sha1'), 'ioc');
  if (t.includes('md5')) return makeObservable('md5', realHash(value, 'md5'), 'ioc');
  if (t.includes('domain')) return makeObservable('domain', value, 'ioc');
  if (t.includes('ip')) return makeObservable('ip', value, 'ioc');
  if (t.includes('url')) return makeObservable('url', value, 'ioc');
  return undefined;
}

function incidentAlert(meta: Reader, e: Reader): AlertDraft {
  const fine = e.num('FineScore');
  const score = fine === undefined ? UNKNOWN_SEVERITY : fine <= 10 ? fine * 10 : Math.min(fine, 100);
  const start = e.raw('IncidentStartTime');
  const time = start !== undefined && start !== null ? parseTimestamp(start, { field: 'event.IncidentStartTime' }) : streamingTime(meta, e);
  const state = e.str('State');
  return {
    vendor_id: e.first('IncidentId', 'IncidentID') ?? positionId(meta, 'IncidentSummaryEvent'),
    event_type: 'IncidentSummaryEvent',
    time,
    title: `CrowdStrike incident${state ? ` (${state})` : ''}`,
    rule: { name: 'Falcon incident', category: 'incident' },
    severity: score,
    vendor_severity: fine === undefined ? undefined : { value: String(fine), scale: 'crowdstrike incident FineScore 0-10' },
    action: 'detected',
    host: compact({ id: e.first('HostID', 'HostId') }),
    // The account the incident is about (a UPN), unless it is the platform's own.
    user: accountOf(actorOf(e.str('UserId'))),
    url: e.str('FalconHostLink'),
    observables: [],
  };
}

/** The record's own time field (epoch s/ms or text), else the stream's. */
function eventTime(meta: Reader, e: Reader, key: string): string {
  return tryParseTimestamp(e.raw(key)) ?? streamingTime(meta, e);
}

function accountOf(value: string | undefined): AlertDraft['user'] {
  const a = splitAccount(value);
  return a ? compact({ name: a.name, domain: a.domain, email: a.email }) : undefined;
}

/** IdentityProtectionEvent: an Identity Protection incident (IncidentType names what was seen). */
function identityIncidentAlert(meta: Reader, e: Reader, type: string): AlertDraft {
  const kind = e.str('IncidentType');
  const { severity, vendor } = severityOf(e.num('Severity'), e.str('SeverityName'));
  return {
    vendor_id: e.str('IdentityProtectionIncidentId') ?? positionId(meta, type),
    event_type: type,
    time: eventTime(meta, e, 'StartTime'),
    title: e.first('IncidentDescription', 'IncidentType') ?? `CrowdStrike ${type}`,
    rule: compact({ id: kind, name: kind, category: e.str('Category') }),
    severity,
    vendor_severity: vendor,
    action: 'detected',
    host: compact({ name: e.str('EndpointName'), ip: firstIp(e.loose('EndpointIp')) }),
    user: accountOf(e.str('UserName')),
    url: e.str('FalconHostLink'),
    observables: [],
  };
}

/** CSPM IOA (a cloud API call that matched a policy) and CSPM search (a misconfigured resource). */
function cspmAlert(meta: Reader, e: Reader, type: string): AlertDraft {
  const statement = e.str('PolicyStatement');
  const tactic = e.str('Tactic');
  const technique = e.str('Technique');
  const { severity, vendor } = severityOf(e.num('Severity'), e.str('SeverityName'));
  return {
    vendor_id: positionId(meta, type),
    event_type: type,
    time: eventTime(meta, e, 'EventCreatedTimestamp'),
    title: statement ?? `CrowdStrike ${type}`,
    rule: compact({ id: e.str('PolicyId'), name: statement, category: tactic && technique ? `${tactic} / ${technique}` : (e.str('CloudService') ?? tactic) }),
    severity,
    vendor_severity: vendor,
    action: 'detected',
    src: compact({ ip: firstIp(e.loose('UserSourceIp')) }),
    host: compact({ id: e.str('ResourceId'), name: e.str('ResourceName') }),
    user: accountOf(e.str('UserName')),
    url: e.first('ResourceUrl', 'ReportUrl'),
    observables: [],
  };
}

/** Falcon Intelligence Recon: a monitoring rule matched an item (a post, a leak) outside the network. */
function reconAlert(meta: Reader, e: Reader, type: string): AlertDraft {
  const name = e.str('RuleName');
  const priority = e.str('RulePriority');
  const score = wordSeverity(priority) ?? UNKNOWN_SEVERITY;
  return {
    vendor_id: e.str('NotificationId') ?? positionId(meta, type),
    event_type: type,
    time: eventTime(meta, e, 'MatchedTimestamp'),
    title: name ? `Recon rule matched: ${name}` : `CrowdStrike ${type}`,
    rule: compact({ id: e.str('RuleId'), name, category: e.str('RuleTopic') }),
    severity: score,
    vendor_severity: priority ? { value: priority, scale: 'crowdstrike Recon RulePriority low|medium|high' } : undefined,
    action: 'detected',
    observables: [],
  };
}

/** CustomerIOCEvent: an indicator from the customer's own IOC list seen on a host, with the process that touched it. */
function customerIocAlert(meta: Reader, e: Reader, type: string): AlertDraft {
  const md5 = realHash(e.str('MD5String'), 'md5');
  const sha256 = realHash(e.str('SHA256String'), 'sha256');
  const domain = e.str('DomainName');
  const ip = firstIp(e.loose('IPv4')) ?? firstIp(e.loose('IPv6'));
  const [iocType, ioc] = sha256 ? ['sha256', sha256] : md5 ? ['md5', md5] : domain ? ['domain', domain] : ip ? ['ip', ip] : [undefined, undefined];
  const fileName = e.str('FileName');
  const file = fileFields(fileName, e.str('FilePath'));
  const commandLine = e.str('CommandLine');
  return {
    vendor_id: positionId(meta, type),
    event_type: type,
    time: eventTime(meta, e, 'ProcessStartTime'),
    title: ioc ? `Custom IOC seen: ${ioc}` : 'Custom IOC seen',
    // The IOC is the rule: the same indicator gives the same id on every host.
    rule: compact({ id: ioc, name: 'Custom IOC', category: iocType }),
    severity: UNKNOWN_SEVERITY,
    action: 'detected',
    host: compact({ name: e.str('ComputerName'), id: e.first('AgentIdString', 'DeviceId', 'AgentId') }),
    file: compact({ name: file.fileName, path: file.filePath, md5, sha256 }),
    process: commandLine || fileName ? compact({ name: fileName ?? baseName(commandLine), command_line: commandLine, pid: osPid(e.num('LocalProcessId')) }) : undefined,
    domain,
    dst: compact({ ip }),
    observables: [],
  };
}

// ---- context ------------------------------------------------------------------------------------------------

function contextEvent(meta: Reader, e: Reader, type: string): ContextEvent {
  const lower = type.toLowerCase();
  const kind = CONTEXT_KINDS[lower] ?? 'other';
  const time = tryParseTimestamp(meta.raw('eventCreationTime')) ?? tryParseTimestamp(e.raw('UTCTimestamp')) ?? tryParseTimestamp(e.raw('Timestamp')) ?? receivedTime();
  const base: ContextEvent = {
    kind,
    event_type: type,
    time,
    user: accountOf(actorOf(e.first('UserId', 'UserName', 'UserID'))),
    src: compact({ ip: firstIp(e.loose('UserIp')) ?? firstIp(e.loose('SourceIp')) }),
    outcome: outcomeOf(e.bool('Success')),
    data: { eventType: type, ...e.obj },
    observables: [],
  };
  if (lower === 'firewallmatchevent') return { ...base, ...firewallFlow(e) };
  if (lower.startsWith('remoteresponsesession')) {
    return {
      ...base,
      host: compact({ name: e.first('HostnameField', 'Hostname'), id: e.first('AgentIdString', 'AgentId') }),
      session_id: e.str('SessionId'),
      start: tryParseTimestamp(e.raw('StartTimestamp')),
      end: tryParseTimestamp(e.raw('EndTimestamp')),
    };
  }
  return base;
}

/** "Crowdstrike" as UserId marks an action of the platform itself (automatic quarantine…): no account. */
function actorOf(id: string | undefined): string | undefined {
  return id && id.trim().toLowerCase() !== 'crowdstrike' ? id : undefined;
}

function outcomeOf(success: boolean | undefined): ContextOutcome | undefined {
  return success === undefined ? undefined : success ? 'success' : 'failure';
}

/**
 * FirewallMatchEvent: a host firewall rule matched a connection. ConnectionDirection 1 is inbound (the remote
 * end is the source); RuleAction 1 allows, 2 blocks. PID is Falcon's process id, kept only when OS-sized.
 * The rule (RuleId, RuleName, RuleGroupName, PolicyName) stays in data: a context event has no rule.
 */
function firewallFlow(e: Reader): Partial<ContextEvent> {
  const local = compact({ ip: firstIp(e.loose('LocalAddress')), port: portOf(e, 'LocalPort') });
  const remote = compact({ ip: firstIp(e.loose('RemoteAddress')), port: portOf(e, 'RemotePort') });
  const inbound = e.loose('ConnectionDirection') === '1';
  const action = e.loose('RuleAction');
  const image = e.str('ImageFileName');
  return {
    src: inbound ? remote : local,
    dst: inbound ? local : remote,
    host: compact({ name: e.first('HostName', 'Hostname'), id: e.first('DeviceId', 'AgentId'), os: e.str('Platform') }),
    outcome: action === '2' ? 'failure' : action === '1' ? 'success' : undefined,
    process: compact({ name: baseName(image), command_line: e.str('CommandLine'), pid: osPid(e.num('PID')) }),
    rule: compact({ id: e.loose('RuleId'), name: e.str('RuleName'), category: e.str('RuleGroupName') }),
  };
}
