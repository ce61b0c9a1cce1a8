/**
 * Sophos Central, as its SIEM integration API returns records (developer.sophos.com "SIEM Integration"
 * v1: GET /siem/v1/alerts and /siem/v1/events; the same JSON Sophos-Central-SIEM-Integration writes) and,
 * for alerts, the Common API (GET /common/v1/alerts: raisedAt, category, product, managedAgent, person).
 *
 *   alerts  id, created_at, when, severity (low|medium|high), type ("Event::Endpoint::Threat::Detected"…),
 *           description, threat, location (the computer), source ("DOMAIN\user"), customer_id,
 *           event_service_event_id, data{endpoint_id, endpoint_platform, endpoint_type, source_info{ip},
 *           core_remedy_items{items[{descriptor, type, result}]}, ips_threat{remote_ip, remote_port,
 *           local_port, executable_path, executable_name, executable_pid, raw_data}, hmpa_exploit{process_name,
 *           process_path, process_pid, type}, threat_id…}
 *   events  id, when, created_at, severity, type, name (the message), group (MALWARE, PUA,
 *           RUNTIME_DETECTIONS, APPLICATION_CONTROL, WEB, UPDATING, POLICY…), location, source, endpoint_id,
 *           endpoint_type, source_info{ip}, threat, appSha256, core_remedy_items…
 * Every alerts-API record is an alert. An events-API record is an alert when it reports a threat or an
 * enforcement (group MALWARE, PUA, RUNTIME_DETECTIONS, APPLICATION_CONTROL, DATA_LOSS_PREVENTION,
 * DEVICE_CONTROL, or a type naming a threat, detection, exploit, block, violation, isolation, tamper…) or
 * has severity high; the rest (updates, registrations, compliance, service state…) become context of
 * kind "endpoint" with the record as data.
 *
 *   time        when (the event's time), else created_at / raisedAt
 *   title       description | name | the type's last segment
 *   rule        id type; name the type's last segment ("PuaCleanupFailed"); category group | category |
 *               the middle segment ("Threat")
 *   severity    low 25, medium 50, high 75, critical 95; else 40
 *   action      from the type's last segment: …CleanupFailed / …CleanupRequired / Detected → detected;
 *               CleanedUp / Cleaned / Quarantined / Isolated → quarantined; Blocked / Prevented / Denied /
 *               Violation → blocked; Allowed → allowed; else detected
 *   host        location (name), endpoint_id, source_info.ip, endpoint_platform
 *   user        source ("DOMAIN\user", "\user", "n/a" ignored), or person.name
 *   file        a file remedy item's path (else the quoted path in the description), appSha256 / the
 *               SHA-256 in ips_threat.raw_data
 *   process     hmpa_exploit process (name, path, pid), else ips_threat executable
 *   src / dst   ips_threat: the endpoint (source_info.ip / raw_data "Local IP", local_port) → the remote
 *               side (remote_ip, remote_port); the direction of the attack is not in the record
 *   malware     threat
 *   vendor_id   id | event_service_event_id
 */
import type { AlertDraft, DetectorAction } from '../model/alert.js';
import { defineDetector, ParseError, type ContextEvent, type Detector, type ParseOutcome, type RawRecord } from './detector.js';
import { makeObservable } from './lib/observables.js';
import { receivedTime } from './lib/context.js';
import { UNKNOWN_SEVERITY, wordSeverity } from './lib/severity.js';
import { parseTimestamp, tryParseTimestamp } from './lib/time.js';
import { Reader, baseName, defined, firstIp, labelledHash, realHash, splitAccount } from './lib/record.js';
import { compact, isObject, own } from './lib/values.js';

const SCALE = 'sophos central low|medium|high';
const ALERT_GROUPS = new Set(['MALWARE', 'PUA', 'RUNTIME_DETECTIONS', 'APPLICATION_CONTROL', 'DATA_LOSS_PREVENTION', 'DEVICE_CONTROL', 'INTRUSION_PREVENTION', 'ENDPOINT_FIREWALL']);
const ALERT_TYPE = /threat|malware|pua|exploit|hmpa|coredetection|ransom|intrusion|ips|isolat|tamper|savdetected|detected|blocked|prevented|denied|violation|suspicious|malicious|cleanup|cleaned|quarantin/i;

const sophos: Detector = {
  name: 'sophos_central',
  description: 'Sophos Central SIEM integration API JSON (alerts and events; Common API alerts); routine events as context',
  format: 'json',
  sniff(record: RawRecord): number {
    const j = record.json;
    if (!isObject(j)) return 0;
    const type = own(j, 'type');
    if (typeof type !== 'string' || !/^Event::[A-Za-z]+::/.test(type)) return 0;
    const has = (k: string) => own(j, k) !== undefined;
    if (has('location') || has('endpoint_id') || has('customer_id') || has('data') || has('raisedAt') || has('managedAgent')) return 0.96;
    return 0.8;
  },
  parse(record: RawRecord): ParseOutcome {
    const j = record.json;
    if (!isObject(j)) throw new ParseError('Sophos Central record must be a JSON object');
    const r = new Reader(j);
    const type = r.req('type');
    if (!/^Event::/.test(type)) throw new ParseError(`type "${type.slice(0, 64)}" is not a Sophos Central event type (Event::…)`);
    return isAlert(r, type) ? { kind: 'alerts', alerts: [alertOf(r, type)] } : { kind: 'context', events: [contextOf(r, type)] };
  },
};
export default defineDetector(sophos);

function isAlert(r: Reader, type: string): boolean {
  // The alerts APIs: a description and a data section (SIEM alerts), or raisedAt (Common API).
  if (r.has('data') || r.has('raisedAt') || (r.has('description') && !r.has('name'))) return true;
  const group = (r.loose('group') ?? '').toUpperCase();
  if (ALERT_GROUPS.has(group)) return true;
  if (/^(high|critical)$/i.test(r.loose('severity') ?? '')) return true;
  return ALERT_TYPE.test(lastSegment(type)) || /::Threat::/i.test(type);
}

function lastSegment(type: string): string {
  return type.slice(type.lastIndexOf('::') + 2) || type;
}

function actionOf(type: string): DetectorAction {
  const last = lastSegment(type);
  if (/fail|required|manual|detected|alertedonly|reportonly/i.test(last)) return 'detected';
  if (/clean|quarantin|isolat|remov|restor/i.test(last)) return 'quarantined';
  if (/block|prevent|den(y|ied)|violation|terminat|stopped/i.test(last)) return 'blocked';
  if (/allow/i.test(last)) return 'allowed';
  return 'detected';
}

/** "C:\…\eicar.com" from "Manual PUA cleanup required: 'X' at 'C:\…\eicar.com'". */
function quotedPath(text: string | undefined): string | undefined {
  if (!text) return undefined;
  return / at '([^']{3,1024})'/.exec(text)?.[1];
}

function alertOf(r: Reader, type: string): AlertDraft {
  const data = r.sub('data');
  const ips = data.sub('ips_threat');
  const hmpa = data.sub('hmpa_exploit');
  const sourceInfo = r.object('source_info') ?? data.sub('source_info');
  const agent = r.sub('managedAgent');
  const title = r.first('description', 'name') ?? lastSegment(type);
  const sev = r.str('severity');
  const time = r.first('when', 'created_at', 'raisedAt');
  const rawData = ips.str('raw_data');
  const remedy = [...data.sub('core_remedy_items').objects('items', 32), ...r.sub('core_remedy_items').objects('items', 32)];
  const remedyFile = remedy.find((i) => (i.loose('type') ?? '').toLowerCase() === 'file')?.str('descriptor');
  const filePath = quotedPath(r.first('description', 'name')) ?? remedyFile;
  const user = userOf(r);
  const hostIp = firstIp(sourceInfo.loose('ip'));
  const localIp = firstIp(/Local IP:\s*(\S+)/.exec(rawData ?? '')?.[1]) ?? hostIp;
  const remoteIp = ips.str('remote_ip');
  const execPath = ips.str('executable_path');
  return {
    vendor_id: r.first('id', 'event_service_event_id'),
    time: time ? parseTimestamp(time, { field: 'when' }) : receivedTime(),
    title,
    rule: compact({ id: type, name: lastSegment(type), category: r.first('group', 'category') ?? type.split('::')[2] }),
    severity: wordSeverity(sev) ?? UNKNOWN_SEVERITY,
    vendor_severity: sev ? { value: sev, scale: SCALE } : undefined,
    action: actionOf(type),
    src: remoteIp ? compact({ ip: localIp, port: ips.int('local_port') }) : undefined,
    dst: remoteIp ? compact({ ip: remoteIp, port: ips.int('remote_port') }) : undefined,
    host: compact({
      name: r.str('location') ?? agent.str('name'),
      id: r.str('endpoint_id') ?? data.str('endpoint_id') ?? agent.str('id'),
      ip: hostIp,
      os: data.str('endpoint_platform') ?? r.str('endpoint_platform'),
    }),
    user: user ? compact({ name: user.name, domain: user.domain, email: user.email }) : undefined,
    file: compact({ name: baseName(filePath), path: filePath, sha256: realHash(r.str('appSha256'), 'sha256') ?? (execPath ? undefined : labelledHash(rawData, 'sha256')) }),
    process: processOf(type, ips, hmpa),
    malware: compact({ name: r.str('threat') }),
    observables: defined([
      makeObservable('sha256', execPath ? labelledHash(rawData, 'sha256') : undefined, 'process'),
      makeObservable('mac', /Local MAC:\s*(\S+)/.exec(rawData ?? '')?.[1], 'src'),
      makeObservable('mac', /Remote MAC:\s*(\S+)/.exec(rawData ?? '')?.[1], 'dst'),
      ...remedy.filter((i) => i.str('descriptor') !== filePath).slice(0, 16).map((i) => makeObservable('sha256', realHash(i.str('sha256'), 'sha256'), 'file')),
    ]),
  };
}

/** The exploit-prevention process for HitmanPro.Alert / exploit alerts, else the IPS executable, else whichever exists. */
function processOf(type: string, ips: Reader, hmpa: Reader): AlertDraft['process'] {
  const fromHmpa = compact({ name: hmpa.str('process_name') ?? baseName(hmpa.str('process_path')), pid: hmpa.int('process_pid') });
  const fromIps = compact({ name: ips.str('executable_name') ?? baseName(ips.str('executable_path')), pid: ips.int('executable_pid') });
  return /hmpa|exploit|cryptoguard|wipeguard/i.test(type) ? (fromHmpa ?? fromIps) : (fromIps ?? fromHmpa);
}

function userOf(r: Reader) {
  const source = r.str('source');
  if (source && !/^(n\/a|unknown|-)$/i.test(source.trim())) return splitAccount(source);
  const person = r.sub('person').str('name');
  return splitAccount(person);
}

function contextOf(r: Reader, type: string): ContextEvent {
  const time = tryParseTimestamp(r.raw('when')) ?? tryParseTimestamp(r.raw('created_at')) ?? receivedTime();
  const user = userOf(r);
  return {
    kind: 'endpoint',
    time,
    data: { ...r.obj },
    observables: defined([
      makeObservable('host', r.str('location'), 'host'),
      makeObservable('ip', firstIp(r.sub('source_info').loose('ip')), 'host'),
      makeObservable('user', user?.name, 'user'),
      makeObservable('sha256', realHash(r.str('appSha256'), 'sha256'), 'file'),
    ]),
  };
}
