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
 * has severity high; the rest (updates, registrations, compliance, service state, users created…) become
 * context events: kind auth (sign-ons), status (updates, services, health, registration), audit (users,
 * groups, policies changed), else other; event_type the type; the endpoint, user, IPS connection, process and
 * file as for alerts (below); device.id the tenant (customer_id); the record as data.
 * The events API spells the IPS section ips_threat_data{localPort, remoteIp, remotePort, executablePath,
 * executablePid, rawData} and adds amsi_threat_data{processName, processPath, parentProcessPath}.
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
 *   process     hmpa_exploit process (name, path, pid) for exploit types, else the AMSI process, else the
 *               ips_threat executable
 *   src / dst   ips_threat: the endpoint (source_info.ip, else raw_data "Local IP"; local_port) → the remote
 *               side (remote_ip, remote_port); the direction of the attack is not in the record
 *   event_type  type
 *   malware     threat
 *   vendor_id   id | event_service_event_id
 */
import type { AlertDraft, DetectorAction } from '../model/alert.js';
import type { ContextKind } from '../model/context.js';
import { defineDetector, ParseError, type ContextEvent, type Detector, type ParseOutcome, type RawRecord } from './detector.js';
import { makeObservable } from './lib/observables.js';
import { receivedTime } from './lib/context.js';
import { UNKNOWN_SEVERITY, wordSeverity } from './lib/severity.js';
import { parseTimestamp, tryParseTimestamp } from './lib/time.js';
import { Reader, baseName, defined, firstIp, labelledHash, realHash, splitAccount } from './lib/record.js';
import { compact, isObject, own, toInt } from './lib/values.js';

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


/**
 * The IPS detection of a record: the alerts API nests it as data.ips_threat (snake_case), the events API as
 * ips_threat_data (camelCase). Both carry the same facts, and raw_data repeats them as "Label: value" lines.
 */
interface Ips {
  remoteIp?: string;
  remotePort?: number;
  localIp?: string;
  localPort?: number;
  execPath?: string;
  execName?: string;
  execPid?: number;
  localMac?: string;
  remoteMac?: string;
  rawData?: string;
}

/** raw_data's "Label:   value" lines (at most 64) by label; lines without a colon ("Message  …") are skipped. */
function rawFields(rawData: string | undefined): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of (rawData ?? '').split('\n', 64)) {
    const colon = line.indexOf(':');
    const value = line.slice(colon + 1).trim();
    if (colon > 0 && value !== '' && !out.has(line.slice(0, colon).trim())) out.set(line.slice(0, colon).trim(), value);
  }
  return out;
}

function ipsOf(r: Reader): Ips {
  const snake = r.sub('data').sub('ips_threat');
  const camel = r.sub('ips_threat_data');
  const pick = (a: string, b: string) => snake.loose(a) ?? camel.loose(b);
  const rawData = pick('raw_data', 'rawData');
  const raw = rawFields(rawData);
  const rawLine = (label: string) => raw.get(label);
  return {
    remoteIp: firstIp(pick('remote_ip', 'remoteIp') ?? rawLine('Remote IP')),
    remotePort: toInt(pick('remote_port', 'remotePort') ?? rawLine('Remote Port')),
    localIp: firstIp(rawLine('Local IP')),
    localPort: toInt(pick('local_port', 'localPort') ?? rawLine('Local Port')),
    execPath: pick('executable_path', 'executablePath') ?? rawLine('Executable'),
    execName: pick('executable_name', 'executableName'),
    execPid: toInt(pick('executable_pid', 'executablePid')) ?? toInt(rawLine('PID')),
    localMac: rawLine('Local MAC'),
    remoteMac: rawLine('Remote MAC'),
    rawData,
  };
}

/** What every record says about the endpoint, the user and the IPS connection: shared by alerts and context. */
function common(r: Reader) {
  const data = r.sub('data');
  const agent = r.sub('managedAgent');
  const ips = ipsOf(r);
  const hostIp = firstIp(r.sub('source_info').loose('ip') ?? data.sub('source_info').loose('ip'));
  // The endpoint is one end of an IPS detection: Sophos reports its address (source_info) and the remote
  // side; which end started the attack is not in the record, so the endpoint is src as in Elastic's mapping.
  const net = ips.remoteIp
    ? { src: compact({ ip: hostIp ?? ips.localIp, port: ips.localPort }), dst: compact({ ip: ips.remoteIp, port: ips.remotePort }) }
    : { src: undefined, dst: undefined };
  const remedy = [...data.sub('core_remedy_items').objects('items', 32), ...r.sub('core_remedy_items').objects('items', 32)];
  const remedyFile = remedy.find((i) => (i.loose('type') ?? '').toLowerCase() === 'file')?.str('descriptor');
  const filePath = quotedPath(r.first('description', 'name')) ?? remedyFile;
  const user = userOf(r);
  return {
    ips,
    remedy,
    filePath,
    ...net,
    host: compact({
      name: r.str('location') ?? agent.str('name'),
      id: r.str('endpoint_id') ?? data.str('endpoint_id') ?? agent.str('id'),
      ip: hostIp,
      os: data.str('endpoint_platform') ?? r.str('endpoint_platform'),
    }),
    user: user ? compact({ name: user.name, domain: user.domain, email: user.email }) : undefined,
    observables: [
      makeObservable('ip', ips.localIp, 'src'),
      makeObservable('mac', ips.localMac, 'src'),
      makeObservable('mac', ips.remoteMac, 'dst'),
      ...remedy.filter((i) => i.str('descriptor') !== filePath).slice(0, 16).map((i) => makeObservable('sha256', realHash(i.str('sha256'), 'sha256'), 'file')),
    ],
  };
}

function alertOf(r: Reader, type: string): AlertDraft {
  const c = common(r);
  const title = r.first('description', 'name') ?? lastSegment(type);
  const sev = r.str('severity');
  const time = r.first('when', 'created_at', 'raisedAt');
  const rawHash = labelledHash(c.ips.rawData, 'sha256');
  return {
    vendor_id: r.first('id', 'event_service_event_id'),
    event_type: type,
    time: time ? parseTimestamp(time, { field: 'when' }) : receivedTime(),
    title,
    rule: compact({ id: type, name: lastSegment(type), category: r.first('group', 'category') ?? type.split('::')[2] }),
    severity: wordSeverity(sev) ?? UNKNOWN_SEVERITY,
    vendor_severity: sev ? { value: sev, scale: SCALE } : undefined,
    action: actionOf(type),
    src: c.src,
    dst: c.dst,
    host: c.host,
    user: c.user,
    file: compact({ name: baseName(c.filePath), path: c.filePath, sha256: realHash(r.str('appSha256'), 'sha256') ?? (c.ips.execPath ? undefined : rawHash) }),
    process: processOf(r, type, c.ips),
    malware: compact({ name: r.str('threat') }),
    observables: defined([makeObservable('sha256', c.ips.execPath ? rawHash : undefined, 'process'), ...c.observables]),
  };
}

/**
 * The process involved: the exploit-prevention process for HitmanPro.Alert / exploit alerts, the AMSI
 * (script) process, else the IPS executable, else whichever exists.
 */
function processOf(r: Reader, type: string, ips: Ips): AlertDraft['process'] {
  const hmpa = r.sub('data').sub('hmpa_exploit');
  const amsi = r.sub('amsi_threat_data');
  const fromHmpa = compact({ name: hmpa.str('process_name') ?? baseName(hmpa.str('process_path')), pid: toInt(hmpa.loose('process_pid')) });
  const fromAmsi = compact({ name: amsi.str('processName') ?? baseName(amsi.str('processPath')), parent_name: baseName(amsi.str('parentProcessPath')) });
  const fromIps = compact({ name: ips.execName ?? baseName(ips.execPath), pid: ips.execPid });
  return /hmpa|exploit|cryptoguard|wipeguard/i.test(type) ? (fromHmpa ?? fromAmsi ?? fromIps) : (fromAmsi ?? fromIps ?? fromHmpa);
}

function userOf(r: Reader) {
  const source = r.str('source');
  if (source && !/^(n\/a|unknown|-)$/i.test(source.trim())) return splitAccount(source);
  const person = r.sub('person').str('name');
  return splitAccount(person);
}

/** The kind of a routine event, from its type ("Event::Endpoint::UpdateSuccess" → status). */
function kindOf(type: string): ContextKind {
  if (/logon|login|loggedin|signin|authentica/i.test(type)) return 'auth';
  if (/update|service|compliant|health|protection|tamper|registered|unregistered|licen|outofdate|reboot|scan|sav(dis|en)abled|heartbeat|isolation/i.test(type)) return 'status';
  if (/created|deleted|added|removed|policy|admin|adsync|setting|changed|assigned|enrol/i.test(type)) return 'audit';
  return 'other';
}

function contextOf(r: Reader, type: string): ContextEvent {
  const c = common(r);
  const time = tryParseTimestamp(r.raw('when')) ?? tryParseTimestamp(r.raw('created_at')) ?? receivedTime();
  return {
    kind: kindOf(type),
    event_type: type,
    time,
    user: c.user,
    src: c.src,
    dst: c.dst,
    host: c.host,
    // The reporting "device" is the Sophos Central tenant the endpoint belongs to.
    device: compact({ id: r.str('customer_id') }),
    file: compact({ name: baseName(c.filePath), path: c.filePath, sha256: realHash(r.str('appSha256'), 'sha256') }),
    process: processOf(r, type, c.ips),
    data: { ...r.obj },
    observables: defined(c.observables),
  };
}
