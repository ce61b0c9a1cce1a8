/**
 * CrowdStrike Falcon, as the Streaming API (Event Streams; also what the Falcon SIEM Connector writes) emits
 * it: one {"metadata": {...}, "event": {...}} object per line, `metadata.eventType` naming the event
 * (Falcon "Streaming API Event Dictionary"; field names as in the Falcon SIEM Connector guide). The bare
 * `event` object (some forwarders drop the envelope) and Alerts API v2 entities (GET
 * /alerts/entities/alerts/v2: composite_id, device{}, pattern_disposition_details…) are read too.
 *
 * Alerts:
 *   *DetectionSummaryEvent   DetectionSummaryEvent (legacy endpoint detections), EppDetectionSummaryEvent
 *                            (its successor, any capitalisation), IdpDetectionSummaryEvent (Identity),
 *                            MobileDetectionSummaryEvent… all share the mapping below.
 *   IncidentSummaryEvent     an incident (FineScore 0-10 → 0-100).
 *   Alerts API v2 entity     the same fields in snake_case under their API names.
 * Context (kind): AuthActivityAuditEvent → auth; UserActivityAuditEvent, RemoteResponseSession*Event and any
 *   other eventType → audit; FirewallMatchEvent → firewall. data = the event object plus eventType.
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
 *   user           UserName (DOMAIN\user split), LogonDomain; UserPrincipal as e-mail
 *   file           FileName + FilePath (the legacy event's FilePath is the directory), MD5String,
 *                  SHA1String, SHA256String (placeholders of all zeros dropped)
 *   process        FileName, CommandLine, pid (LocalProcessId, or ProcessId when it is an OS-sized
 *                  number: Falcon's own process ids are not OS pids), ParentImageFileName (base name)
 *   src / dst      NetworkAccesses[] (first one; ConnectionDirection 1 = inbound swaps the sides); the
 *                  other remote addresses become observables
 *   domain         DnsRequests[].DomainName (the one that CausedDetect first); IOCType domain
 *   url            an IOCType url indicator, else FalconHostLink (the console link of the detection)
 *   vendor_id      CompositeId | DetectId | IncidentId, else customerIDString:offset (stream position)
 *   observables    IOCValue by IOCType, QuarantineFiles[] hashes, parent / grandparent hashes
 */
import type { AlertDraft, DetectorAction } from '../model/alert.js';
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

const CONTEXT_KINDS: Record<string, string> = {
  authactivityauditevent: 'auth',
  firewallmatchevent: 'firewall',
};

// Fields only a Falcon detection event carries: enough of them on a bare event object means CrowdStrike.
const DETECTION_MARKERS = ['FalconHostLink', 'PatternDispositionValue', 'PatternDispositionFlags', 'DetectId', 'CompositeId', 'SensorId', 'AgentId', 'IOCType'];

const crowdstrike: Detector = {
  name: 'crowdstrike',
  description: 'CrowdStrike Falcon Streaming API (DetectionSummaryEvent, EppDetectionSummaryEvent, IncidentSummaryEvent, audit events) and Alerts API v2 JSON',
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
      if (lower === 'incidentsummaryevent') return { kind: 'alerts', alerts: [incidentAlert(meta, event)] };
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
  return typeof own(j, 'composite_id') === 'string' && isObject(own(j, 'device')) && (own(j, 'falcon_host_link') !== undefined || own(j, 'agent_id') !== undefined || own(j, 'cid') !== undefined);
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

function streamingDetection(meta: Reader, e: Reader, eventType: string): Detection {
  const tactic = e.str('Tactic');
  const technique = e.str('Technique');
  const name = e.first('Name', 'DetectName', 'DisplayName');
  const fileName = e.str('FileName');
  const filePath = e.str('FilePath');
  const account = splitAccount(e.first('UserName', 'SourceAccountName', 'UserPrincipal'), e.first('LogonDomain', 'SourceAccountDomain'));
  return {
    eventType,
    time: streamingTime(meta, e),
    vendorId: e.first('CompositeId', 'DetectId') ?? positionId(meta, eventType),
    title: name ?? (tactic && technique ? `${tactic} via ${technique}` : (e.first('DetectDescription', 'Description') ?? `CrowdStrike ${eventType}`)),
    ruleId: e.str('PatternId'),
    ruleName: name,
    tactic,
    technique,
    severity: e.num('Severity'),
    severityName: e.str('SeverityName'),
    flags: dispositionFlags(e.object('PatternDispositionFlags'), e.num('PatternDispositionValue')),
    dispositionText: e.str('PatternDispositionDescription'),
    host: {
      name: e.first('Hostname', 'ComputerName', 'SourceEndpointHostName'),
      ip: firstIp(e.loose('LocalIP')) ?? firstIp(e.loose('LocalIPv6')) ?? firstIp(e.loose('SourceEndpointIpAddress')),
      id: e.first('AgentId', 'SensorId', 'SourceEndpointSensorId'),
      os: e.first('Platform', 'PlatformName', 'OSVersion', 'OsVersion'),
      mac: e.str('MACAddress'),
    },
    ...userFields(account),
    userEmail: account?.email ?? splitAccount(e.str('UserPrincipal'))?.email,
    ...fileFields(fileName, filePath),
    md5: e.str('MD5String'),
    sha1: e.str('SHA1String'),
    sha256: e.str('SHA256String'),
    commandLine: e.str('CommandLine'),
    isProcess: e.has('CommandLine') || e.has('ProcessId') || e.has('ProcessStartTime'),
    pid: osPid(e.num('LocalProcessId')) ?? osPid(e.num('ProcessId')),
    parentName: baseName(e.first('ParentImageFileName', 'ParentImageFilePath')),
    link: e.str('FalconHostLink'),
    iocType: e.str('IOCType'),
    iocValue: e.str('IOCValue'),
    network: e.objects('NetworkAccesses', 64),
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
  const account = splitAccount(a.first('user_name', 'user_principal'), a.str('logon_domain'));
  const fileName = a.str('filename');
  const filePath = a.str('filepath');
  const time = a.first('timestamp', 'created_timestamp', 'context_timestamp');
  return {
    eventType: 'Alerts API',
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
      name: device.str('hostname'),
      ip: firstIp(device.loose('local_ip')),
      id: device.str('device_id') ?? a.str('agent_id'),
      os: device.first('platform_name', 'os_version'),
      mac: device.str('mac_address'),
    },
    ...userFields(account),
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
    dns: a.objects('dns_requests', 64),
    extraHashes: [
      { type: 'md5', value: parent.str('md5') },
      { type: 'sha256', value: parent.str('sha256') },
      ...a.objects('quarantined_files', 64).map((q) => ({ type: 'sha256' as const, value: q.str('sha256') })),
    ],
  };
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
    time: d.time,
    title: d.title,
    rule: compact({ id: d.ruleId, name: d.ruleName, category: d.tactic && d.technique ? `${d.tactic} / ${d.technique}` : (d.tactic ?? d.technique) }),
    severity,
    vendor_severity: vendor,
    action: actionOf(d.flags, d.dispositionText),
    src: net.src,
    dst: net.dst,
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
    vendor_id: e.str('IncidentId') ?? positionId(meta, 'IncidentSummaryEvent'),
    time,
    title: `CrowdStrike incident${state ? ` (${state})` : ''}`,
    rule: { name: 'Falcon incident', category: 'incident' },
    severity: score,
    vendor_severity: fine === undefined ? undefined : { value: String(fine), scale: 'crowdstrike incident FineScore 0-10' },
    action: 'detected',
    url: e.str('FalconHostLink'),
    observables: [],
  };
}

function contextEvent(meta: Reader, e: Reader, type: string): ContextEvent {
  const kind = CONTEXT_KINDS[type.toLowerCase()] ?? 'audit';
  const time = tryParseTimestamp(meta.raw('eventCreationTime')) ?? tryParseTimestamp(e.raw('UTCTimestamp')) ?? tryParseTimestamp(e.raw('Timestamp')) ?? receivedTime();
  const account = splitAccount(e.first('UserId', 'UserName'));
  return {
    kind,
    time,
    data: { eventType: type, ...e.obj },
    observables: defined([
      makeObservable('user', account?.name, 'user'),
      makeObservable('email', account?.email, 'user'),
      makeObservable('ip', e.first('UserIp', 'RemoteIP', 'LocalAddress'), 'src'),
      makeObservable('host', e.first('Hostname', 'ComputerName'), 'host'),
    ]),
  };
}
