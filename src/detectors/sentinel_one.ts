/**
 * SentinelOne Singularity, as its Management API (v2.1) returns records:
 *
 *   - threats (GET /web/api/v2.1/threats): threatInfo{threatId, threatName, classification, confidenceLevel,
 *     filePath, sha1, sha256, md5, fileSize, mitigationStatus, processUser, originatorProcess,
 *     maliciousProcessArguments, detectionEngines[], identifiedAt, createdAt, …}, agentRealtimeInfo{…},
 *     agentDetectionInfo{…}, indicators[], mitigationStatus[] (per action: kill, quarantine, remediate,
 *     rollback, network_quarantine, unquarantine…, with its status); the flat v2.0 threat
 *     (agentComputerName, fileContentHash, rank…) is read with the same mapping;
 *   - alerts (GET /web/api/v2.1/cloud-detection/alerts, STAR / custom detection rules): alertInfo{…},
 *     ruleInfo{name, severity, s1ql, treatAsThreat…}, sourceProcessInfo, sourceParentProcessInfo,
 *     targetProcessInfo, agentDetectionInfo, agentRealtimeInfo, containerInfo, kubernetesInfo;
 *   - activities (GET /web/api/v2.1/activities): activityType (a number), primaryDescription, createdAt,
 *     agentId, threatId, userId, data{username, computerName, ipAddress, filePath, fileContentHash…}: what
 *     management users, the cloud and agents did. Context of kind audit, event_type "activity/<activityType>";
 *   - agents (GET /web/api/v2.1/agents): computerName, networkInterfaces[{inet, physical}], lastIpToMgmt,
 *     externalIp, lastLoggedInUserName, osName, uuid: the machine's inventory. Context of kind status,
 *     event_type "agent";
 *   - a list page ({"data": [...], "pagination": {...}}): one alert (or context event) per element.
 * Threats and cloud-detection alerts are alerts. Field mapping: docs/detectors/sentinel_one.md.
 *
 * Threats (event_type "threat"):
 *   title        "<classification>: <threatName>"
 *   rule         id the first detection engine key, name the engine titles, category classification
 *   severity     confidenceLevel: malicious 80 (90 for ransomware), suspicious 55, n/a or absent 40; the
 *                v2.0 rank 1-10 ×10 when there is no confidenceLevel
 *   action       mitigationStatus[] successful actions: quarantine / remediate / rollback /
 *                network_quarantine (not since undone by unquarantine) → quarantined, kill → blocked; else
 *                threatInfo.mitigationStatus: mitigated → quarantined, blocked → blocked,
 *                marked_as_benign → allowed, not_mitigated / active / suspicious → detected
 *   host         agentRealtimeInfo.agentComputerName, agentDetectionInfo.agentIpV4 (first of the list),
 *                agentId|agentUuid, agentOsName, the first network interface's MAC
 *   user         processUser (DOMAIN\user split), else the last logged-in user / UPN
 *   file         filePath (name = its last component), md5, sha1, sha256, fileSize
 *   process      originatorProcess, maliciousProcessArguments
 *   malware      threatName
 *   time         identifiedAt, else createdAt; vendor_id threatId, else id
 * Alerts (event_type "alert/<alertInfo.eventType>", e.g. alert/PROCESSCREATION):
 *   title/rule   ruleInfo.name; rule.id ruleInfo.id; category alertInfo.source (STAR…) or eventType
 *   severity     ruleInfo.severity Low 25, Medium 50, High 75, Critical 95
 *   action       detected (a detection rule reports; mitigation shows up as a threat)
 *   src / dst    alertInfo.srcIp:srcPort → dstIp:dstPort; host.ip srcMachineIp
 *   process      sourceProcessInfo name, commandline, pid; parent = sourceParentProcessInfo.name (the
 *                target process, tgtProc*, goes to observables and data)
 *   file         the target file when the alert has one (tgtFilePath, tgtFileHash*), else the source
 *                process image (filePath, fileHashMd5/Sha1/Sha256)
 *   user         sourceProcessInfo.user (a person first over SYSTEM), else loginsUserName/loginAccountDomain
 *   domain       alertInfo.dnsRequest; observables: tiIndicatorValue, module sha1, every process hash
 *   time         alertInfo.createdAt, else reportedAt; vendor_id alertInfo.alertId
 * Activities: user data.username (a management user, else none), host data.computerName + agentId, src.ip
 *   data.ipAddress (console sign-ins), file data.filePath | fileDisplayName with data.fileContentHash (SHA-1),
 *   time createdAt; the record stays in data.
 */
import type { AlertDraft, DetectorAction } from '../model/alert.js';
import { defineDetector, ParseError, type ContextEvent, type Detector, type ParseOutcome, type RawRecord } from './detector.js';
import { makeObservable } from './lib/observables.js';
import { receivedTime } from './lib/context.js';
import { UNKNOWN_SEVERITY, wordSeverity } from './lib/severity.js';
import { parseTimestamp } from './lib/time.js';
import { Reader, baseName, defined, firstIp, ipList, itemOrPageScore, mapPageOf, personFirst, realHash, splitAccount } from './lib/record.js';
import { compact, isObject, own } from './lib/values.js';

const THREAT_SCALE = 'sentinelone confidenceLevel malicious|suspicious|n/a (v2.0: rank 1-10)';
const RULE_SCALE = 'sentinelone rule severity Low|Medium|High|Critical';

const sentinelOne: Detector = {
  name: 'sentinel_one',
  description: 'SentinelOne Management API JSON: threats (threatInfo, agent info, mitigation) and cloud-detection alerts (STAR rules)',
  format: 'json',
  sniff(record: RawRecord): number {
    return Math.max(itemOrPageScore(record.json, 'data', kindScore, 0.93), itemOrPageScore(record.json, 'data', (x) => (isActivity(x) || isAgent(x) ? 0.9 : 0), 0.88));
  },
  parse(record: RawRecord): ParseOutcome {
    const j = record.json;
    if (!isObject(j)) throw new ParseError('SentinelOne record must be a JSON object');
    const inventory = contextOf(j);
    if (inventory) return { kind: 'context', events: [inventory] };
    const events = mapPageOf(j, 'data', (x) => isActivity(x) || isAgent(x), (x) => contextOf(x)!);
    if (events) return { kind: 'context', events };
    const isItem = (x: unknown) => kindOf(x) !== undefined;
    const page = mapPageOf(j, 'data', isItem, (x) => alertOf(x));
    if (page) return { kind: 'alerts', alerts: page };
    if (!isItem(j)) throw new ParseError('not a SentinelOne threat (threatInfo + agent info) or alert (alertInfo + ruleInfo)');
    return { kind: 'alerts', alerts: [alertOf(j)] };
  },
};
export default defineDetector(sentinelOne);

type Kind = 'threat' | 'alert' | 'flat';

function kindOf(j: unknown): Kind | undefined {
  if (!isObject(j)) return undefined;
  if (isObject(own(j, 'alertInfo')) && isObject(own(j, 'ruleInfo'))) return 'alert';
  if (isObject(own(j, 'threatInfo')) && (isObject(own(j, 'agentRealtimeInfo')) || isObject(own(j, 'agentDetectionInfo')))) return 'threat';
  if (typeof own(j, 'agentComputerName') === 'string' && (own(j, 'fileContentHash') !== undefined || own(j, 'classification') !== undefined) && own(j, 'threatName') !== undefined) return 'flat';
  return undefined;
}

function kindScore(j: unknown): number {
  const k = kindOf(j);
  return k === 'flat' ? 0.85 : k ? 0.96 : 0;
}

function alertOf(v: unknown): AlertDraft {
  if (!isObject(v)) throw new ParseError('element must be a JSON object');
  const r = new Reader(v);
  const k = kindOf(v);
  if (k === 'alert') return ruleAlert(r);
  if (k === 'threat') return threatAlert(r, r.sub('threatInfo'));
  if (k === 'flat') return threatAlert(r, r);
  throw new ParseError('not a SentinelOne threat or alert');
}

// ---- threats ------------------------------------------------------------------------------------------------

function threatAlert(root: Reader, t: Reader): AlertDraft {
  const realtime = root.sub('agentRealtimeInfo');
  const detection = root.sub('agentDetectionInfo');
  const name = t.first('threatName', 'fileDisplayName') ?? baseName(t.str('filePath'));
  const classification = t.str('classification');
  if (!name && !classification) throw new ParseError('missing threatInfo.threatName');
  const title = `${classification ?? 'Threat'}: ${name ?? 'unnamed'}`;
  const engines = t.objects('detectionEngines', 16);
  const engineTitles = engines.map((e) => e.str('title')).filter((x): x is string => x !== undefined);
  const confidence = t.str('confidenceLevel');
  const rank = t.num('rank');
  const time = t.first('identifiedAt', 'createdAt', 'createdDate') ?? root.first('createdAt', 'createdDate');
  const iface = realtime.objects('networkInterfaces', 16)[0];
  const processUser = splitAccount(t.first('processUser', 'username'));
  const lastUser = splitAccount(detection.first('agentLastLoggedInUserName', 'agentLastLoggedInUpn') ?? detection.str('agentLastLoggedInUserMail'));
  const user = personFirst(processUser, lastUser);
  const path = t.str('filePath');
  const hostIps = [...ipList(detection.loose('agentIpV4') ?? root.loose('agentIp')), ...ipList(iface?.raw('inet'))];
  return {
    vendor_id: t.first('threatId') ?? root.str('id'),
    event_type: 'threat',
    time: time ? parseTimestamp(time, { field: 'threatInfo.identifiedAt' }) : receivedTime(),
    title,
    rule: compact({
      id: engines[0]?.str('key') ?? t.strings('engines')[0],
      name: engineTitles.length ? engineTitles.join(', ') : t.strings('engines').join(', ') || undefined,
      category: classification,
    }),
    severity: threatSeverity(confidence, rank, classification),
    vendor_severity: confidence ? { value: confidence, scale: THREAT_SCALE } : rank !== undefined ? { value: String(rank), scale: THREAT_SCALE } : undefined,
    action: threatAction(root, t),
    host: compact({
      name: realtime.str('agentComputerName') ?? root.first('agentComputerName') ?? detection.str('agentComputerName'),
      ip: hostIps[0],
      id: realtime.str('agentId') ?? root.str('agentId') ?? detection.str('agentUuid') ?? realtime.str('agentUuid'),
      os: realtime.first('agentOsName', 'agentOsType') ?? detection.str('agentOsName') ?? root.str('agentOsType'),
      mac: iface?.str('physical'),
    }),
    user: user ? compact({ name: user.name, domain: user.domain ?? (user === processUser ? undefined : detection.str('agentDomain')), email: user.email }) : undefined,
    file: compact({
      name: baseName(path),
      path,
      md5: realHash(t.str('md5'), 'md5'),
      sha1: realHash(t.first('sha1', 'fileContentHash'), 'sha1'),
      sha256: realHash(t.first('sha256', 'fileSha256'), 'sha256'),
      size: t.int('fileSize'),
    }),
    process: compact({ name: t.str('originatorProcess'), command_line: t.str('maliciousProcessArguments') }),
    malware: compact({ name }),
    observables: defined([
      makeObservable('ip', detection.str('externalIp'), 'host'),
      ...ipList(detection.loose('agentIpV6')).map((ip) => makeObservable('ip', ip, 'host')),
      ...hostIps.slice(1).map((ip) => makeObservable('ip', ip, 'host')),
      makeObservable('email', detection.str('agentLastLoggedInUserMail'), 'user'),
    ]),
  };
}

function threatSeverity(confidence: string | undefined, rank: number | undefined, classification: string | undefined): number {
  const c = confidence?.toLowerCase();
  if (c === 'malicious') return /ransom/i.test(classification ?? '') ? 90 : 80;
  if (c === 'suspicious') return 55;
  if (rank !== undefined && rank >= 0 && rank <= 10 && !c) return Math.round(rank * 10);
  return UNKNOWN_SEVERITY;
}

function threatAction(root: Reader, t: Reader): DetectorAction {
  const done = new Set<string>();
  // v2.1: an array of actions at the top level; v2.0: a status string.
  const actions = Array.isArray(root.raw('mitigationStatus')) ? root.objects('mitigationStatus', 64) : [];
  for (const m of actions) {
    const status = (m.loose('status') ?? '').toLowerCase();
    const action = (m.loose('action') ?? '').toLowerCase();
    if (action && (status === 'success' || status === 'succeeded' || status === 'completed')) done.add(action);
  }
  const contained = ['quarantine', 'remediate', 'rollback', 'network_quarantine', 'disconnect_from_network'].some((a) => done.has(a));
  if (contained && !done.has('unquarantine') && !done.has('reconnect_to_network')) return 'quarantined';
  if (done.has('kill')) return 'blocked';
  const overall = (t.loose('mitigationStatus') ?? root.loose('mitigationStatus') ?? '').toLowerCase();
  if (overall === 'mitigated') return 'quarantined';
  if (overall === 'blocked') return 'blocked';
  if (overall === 'marked_as_benign') return 'allowed';
  return 'detected';
}

// ---- alerts (cloud detection) ---------------------------------------------------------------------------------

function ruleAlert(root: Reader): AlertDraft {
  const info = root.sub('alertInfo');
  const rule = root.sub('ruleInfo');
  const src = root.sub('sourceProcessInfo');
  const parent = root.sub('sourceParentProcessInfo');
  const target = root.sub('targetProcessInfo');
  const agent = root.sub('agentDetectionInfo');
  const realtime = root.sub('agentRealtimeInfo');
  const title = rule.str('name') ?? info.first('indicatorName', 'eventType');
  if (!title) throw new ParseError('missing ruleInfo.name');
  const sev = rule.str('severity');
  const time = info.first('createdAt', 'reportedAt', 'updatedAt');
  const procUser = splitAccount(src.first('user', 'realUser', 'effectiveUser', 'loginUser'));
  const loginUser = splitAccount(info.str('loginsUserName'), info.str('loginAccountDomain'));
  const user = personFirst(loginUser, procUser);
  const targetPath = target.str('tgtFilePath');
  const targetFile = targetPath || target.str('tgtFileHashSha256') || target.str('tgtFileHashSha1')
    ? compact({ name: baseName(targetPath), path: targetPath, sha1: realHash(target.str('tgtFileHashSha1'), 'sha1'), sha256: realHash(target.str('tgtFileHashSha256'), 'sha256') })
    : undefined;
  const srcPath = src.str('filePath');
  const sourceFile = compact({
    name: baseName(srcPath) ?? src.str('name'),
    path: srcPath,
    md5: realHash(src.str('fileHashMd5'), 'md5'),
    sha1: realHash(src.str('fileHashSha1'), 'sha1'),
    sha256: realHash(src.str('fileHashSha256'), 'sha256'),
  });
  const eventType = info.str('eventType');
  return {
    vendor_id: info.str('alertId') ?? root.str('id'),
    event_type: eventType ? `alert/${eventType}` : 'alert',
    time: time ? parseTimestamp(time, { field: 'alertInfo.createdAt' }) : receivedTime(),
    title,
    rule: compact({ id: rule.str('id'), name: rule.str('name'), category: info.first('source', 'eventType') }),
    severity: wordSeverity(sev) ?? UNKNOWN_SEVERITY,
    vendor_severity: sev ? { value: sev, scale: RULE_SCALE } : undefined,
    action: 'detected',
    src: compact({ ip: info.str('srcIp'), port: info.int('srcPort') }),
    dst: compact({ ip: info.str('dstIp'), port: info.int('dstPort') }),
    host: compact({
      name: agent.str('name') ?? realtime.str('name'),
      ip: firstIp(info.loose('srcMachineIp')),
      id: realtime.str('id') ?? agent.str('uuid') ?? realtime.str('uuid'),
      os: agent.first('osName', 'osFamily') ?? realtime.str('os'),
    }),
    user: user ? compact({ name: user.name, domain: user.domain, email: user.email }) : undefined,
    file: targetFile ?? sourceFile,
    process: compact({ name: src.str('name') ?? baseName(srcPath), command_line: src.str('commandline'), pid: src.int('pid'), parent_name: parent.str('name') ?? baseName(parent.str('filePath')) }),
    domain: info.str('dnsRequest'),
    observables: defined([
      indicator(info.str('tiIndicatorType'), info.str('tiIndicatorValue')),
      makeObservable('sha1', realHash(info.str('moduleSha1'), 'sha1'), 'module'),
      makeObservable('md5', realHash(src.str('fileHashMd5'), 'md5'), 'process'),
      makeObservable('sha1', realHash(src.str('fileHashSha1'), 'sha1'), 'process'),
      makeObservable('sha256', realHash(src.str('fileHashSha256'), 'sha256'), 'process'),
      makeObservable('md5', realHash(parent.str('fileHashMd5'), 'md5'), 'parent'),
      makeObservable('sha1', realHash(parent.str('fileHashSha1'), 'sha1'), 'parent'),
      makeObservable('sha256', realHash(parent.str('fileHashSha256'), 'sha256'), 'parent'),
      makeObservable('sha1', realHash(target.str('tgtFileHashSha1'), 'sha1'), 'file'),
      makeObservable('sha256', realHash(target.str('tgtFileHashSha256'), 'sha256'), 'file'),
      makeObservable('user', procUser?.name, 'process'),
      makeObservable('ip', info.str('srcMachineIp'), 'host'),
    ]),
  };
}

function indicator(type: string | undefined, value: string | undefined) {
  if (!value) return undefined;
  const t = (type ?? '').toLowerCase();
  if (t.includes('sha256')) return makeObservable('sha256', value, 'ioc');
  if (t.includes('sha1')) return makeObservable('sha1', value, 'ioc');
  if (t.includes('md5')) return makeObservable('md5', value, 'ioc');
  if (t.includes('url')) return makeObservable('url', value, 'ioc');
  if (t.includes('ip')) return makeObservable('ip', value, 'ioc');
  if (t.includes('dns') || t.includes('domain')) return makeObservable('domain', value, 'ioc');
  return makeObservable('ip', value, 'ioc') ?? makeObservable('domain', value, 'ioc') ?? makeObservable('sha256', value, 'ioc');
}

// ---- activities and agents (context) ------------------------------------------------------------------------

function contextOf(j: unknown): ContextEvent | undefined {
  if (!isObject(j)) return undefined;
  if (isActivity(j)) return activityOf(new Reader(j));
  if (isAgent(j)) return agentOf(new Reader(j));
  return undefined;
}

function isAgent(j: unknown): boolean {
  return isObject(j) && typeof own(j, 'computerName') === 'string' && typeof own(j, 'uuid') === 'string' && own(j, 'agentVersion') !== undefined && (Array.isArray(own(j, 'networkInterfaces')) || own(j, 'lastIpToMgmt') !== undefined);
}

/** An agent (GET /agents): which machine, with which addresses, and who last logged on to it. */
function agentOf(r: Reader): ContextEvent {
  const iface = r.objects('networkInterfaces', 16)[0];
  const user = splitAccount(r.str('lastLoggedInUserName') ?? r.loose('osUsername'), r.str('domain'));
  const time = r.first('updatedAt', 'lastActiveDate', 'createdAt');
  return {
    kind: 'status',
    event_type: 'agent',
    time: time ? parseTimestamp(time, { field: 'updatedAt' }) : receivedTime(),
    host: compact({ name: r.str('computerName'), ip: ipList(iface?.raw('inet'))[0] ?? r.str('lastIpToMgmt'), id: r.first('id', 'uuid'), os: r.first('osName', 'osType'), mac: iface?.str('physical') }),
    user: user ? compact({ name: user.name, domain: user.domain, email: user.email }) : undefined,
    data: { ...r.obj },
    observables: defined([
      makeObservable('ip', r.str('externalIp'), 'host'),
      makeObservable('ip', r.str('lastIpToMgmt'), 'host'),
      ...ipList(iface?.raw('inet6')).map((ip) => makeObservable('ip', ip, 'host')),
    ]),
  };
}

function isActivity(j: unknown): boolean {
  return isObject(j) && typeof own(j, 'activityType') === 'number' && typeof own(j, 'primaryDescription') === 'string' && own(j, 'createdAt') !== undefined;
}

/** An activity: an audit record of what a management user, the cloud or an agent did. */
function activityOf(r: Reader): ContextEvent {
  const data = r.sub('data');
  const user = splitAccount(data.loose('username'));
  const path = data.str('filePath');
  const time = r.str('createdAt');
  return {
    kind: 'audit',
    event_type: `activity/${r.loose('activityType') ?? 'unknown'}`,
    time: time ? parseTimestamp(time, { field: 'createdAt' }) : receivedTime(),
    user: user ? compact({ name: user.name, domain: user.domain, email: user.email }) : undefined,
    src: compact({ ip: data.loose('ipAddress') }),
    host: compact({ name: data.loose('computerName'), id: r.loose('agentId') }),
    file: compact({ name: data.loose('fileDisplayName') ?? baseName(path), path, sha1: realHash(data.loose('fileContentHash') ?? r.loose('hash'), 'sha1') }),
    data: { ...r.obj },
    observables: defined([makeObservable('ip', data.loose('externalIp'), 'host')]),
  };
}
