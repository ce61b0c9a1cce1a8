/**
 * VMware Carbon Black App Control (formerly Bit9 Parity / Bit9 Security Platform / Carbon Black Protection;
 * the original FIDO's "bit9" detector), in the three shapes its events leave the server:
 *
 *   1. Event API JSON (GET /api/bit9platform/v1/event, "App Control API" event object): id, timestamp,
 *      receivedTimestamp, description, type (0 Server Management, 1 Session Management, 2 Computer
 *      Management, 3 Policy Management, 4 Policy Enforcement, 5 Discovery, 6 General Management,
 *      8 Internal Events), subtype (id), subtypeName, severity (App Control/syslog scale: 2 Critical,
 *      3 Error, 4 Warning, 5 Notice, 6 Info, 7 Debug), computerId, computerName ("DOMAIN\HOST"),
 *      ipAddress, userName, fileName, pathName, commandLine, processFileName, processPathName,
 *      processKey, policyName, ruleName, banName, indicatorName, fileCatalogId, param1-3…
 *   2. Syslog, Basic / Enhanced format ("App Control Events Guide": a syslog envelope, then
 *      `<Server> event: text="…" type="Policy Enforcement" subtype="Execution block (unapproved file)"
 *      hostname="CORP\WS1" username="CORP\alice" date="1/8/2015 4:23:07 PM" ip_address="10.1.1.5"
 *      process="c:\windows\explorer.exe" file_path="…" file_name="x.exe" file_hash="…" policy="…"
 *      rule_name="…" process_key="…" file_trust="…" file_threat="…" process_threat="…" …`), whose syslog
 *      severity is the event severity.
 *   3. Syslog CEF (Events Guide "App Control Event Mapping to ArcSight CEF"): header vendor Bit9 | Carbon
 *      Black | VMware Carbon Black, product Security Platform | Protection | App Control, Signature ID =
 *      subtype id, Name = subtype name, Severity = 9 - event severity; externalId = event id, cat = event
 *      type, start = event time, rt = received time, msg = description; the computer, user, file and
 *      process in dhost|shost, dst|src, duser|suser, fname, filePath, fileHash, sproc and labelled cs fields.
 * The detector's format is "text" so that it sees both the JSON and the syslog lines.
 *
 * Alert or context: an event is an alert when its subtype names a block, a ban, a malicious or risky file,
 * a threat or watchlist hit, an external (network security device) notification, a tamper, a custom-rule
 * report, an alert triggered — or when it is a Policy Enforcement / Discovery event of severity Warning or
 * worse. Everything else is a context event with the event as data and the same canonical fields as an
 * alert (host, user, file, process; device = the App Control server): console log-ins (Session Management)
 * are `auth` (the address is the client's: src; outcome from the subtype), approvals and new files (Policy
 * Enforcement, Discovery) `file`, agent and computer state (Computer Management, Internal Events) `status`,
 * server, policy and general management `audit`. event_type is the subtype name on both.
 *
 *   severity    event severity 0 Emergency / 1 Alert 95, 2 Critical 90, 3 Error 75, 4 Warning 50,
 *               5 Notice 30, 6 Info 5, 7 Debug 0; raised to 80 when file/process threat is 100
 *               (malicious) and to 55 when it is 50 (potential risk)
 *   title       description | subtypeName; rule id subtype id, name ruleName | banName | subtypeName,
 *               category the event type name
 *   action      subtype: block / ban / denied / prevent → blocked; delete / quarantine → quarantined;
 *               approved / allowed / ran / executed → allowed; else detected. A Report Only rule's event
 *               ("… would have blocked if the rule was not in Report Only mode.") is detected, not blocked
 *   host        computerName without its domain ("System" names the server: dropped), ipAddress, computerId
 *   user        userName (DOMAIN\user split)
 *   file        pathName + fileName (a path that already ends in the name is kept), else the path the
 *               description quotes ("File 'c:\x.exe' …"); hashes by length, and the description's [hash]
 *   process     processFileName | the last component of processPathName, commandLine
 *   time        timestamp (event time on the endpoint), else receivedTimestamp / the syslog date
 *   vendor_id   the event id (API id, CEF externalId), else none
 *   device      the App Control server: the syslog host, CEF dvchost (the API names none)
 */
import type { AlertDraft, DetectorAction, FileInfo, ProcessInfo } from '../model/alert.js';
import type { ContextKind } from '../model/context.js';
import { defineDetector, ParseError, type ContextEvent, type Detector, type ParseOutcome, type RawRecord } from './detector.js';
import { findCefStart, parseCef, type CefEvent } from './lib/cef.js';
import { parseKv } from './lib/kv.js';
import { parseSyslog } from './lib/syslog.js';
import { parseContext, receivedTime } from './lib/context.js';
import { normalizeHash } from './lib/observables.js';
import { UNKNOWN_SEVERITY, wordSeverity } from './lib/severity.js';
import { parseTimestamp, tryParseTimestamp, zonedToUtc } from './lib/time.js';
import { excerpt, trimEndChars } from './lib/text.js';
import { Reader, baseName, firstIp, joinPath, machineName, splitAccount } from './lib/record.js';
import { compact, isObject, own, toInt } from './lib/values.js';

const SCALE = 'app control event severity 0 (Emergency) - 7 (Debug)';
const TYPE_NAMES: Record<number, string> = {
  0: 'Server Management', 1: 'Session Management', 2: 'Computer Management', 3: 'Policy Management',
  4: 'Policy Enforcement', 5: 'Discovery', 6: 'General Management', 8: 'Internal Events',
};
const SEVERITY_SCORE = [95, 95, 90, 75, 50, 30, 5, 0];
const ALERT_SUBTYPE = /block|\bban|malicious|potential risk|suspicious|threat|watchlist|tamper|external notification|report (execution|write|read)|alert triggered|denied|prevent|quarantin|detected|discovered/i;
const CEF_VENDOR = /CEF:\d{1,2}(?:\.\d{1,2})?\|\s*(?:Bit9|Carbon ?Black|VMware Carbon Black|VMware|Broadcom)\s*\|\s*(?:Security Platform|Protection|App Control|Enterprise Protection|Parity|Carbon Black App Control|Carbon Black Protection)\s*\|/i;
/** "<product> Server event:" (Events Guide); "Carbon Black App Control event:" and "Cb Protection event:" as servers send it (SC4S test record). */
const SYSLOG_MARK = /(?:Bit9|Carbon ?Black(?: App Control| Protection)?|Cb Protection|App Control|Parity)(?: Server)? event:/i;

/** One App Control event, whatever shape it came in. */
interface Event {
  id?: string;
  time: string;
  description?: string;
  typeName?: string;
  subtypeId?: string;
  subtypeName?: string;
  severity?: number;
  severityText?: string;
  computer?: string;
  computerId?: string;
  ip?: string;
  user?: string;
  fileName?: string;
  filePath?: string;
  hashes: string[];
  processPath?: string;
  processName?: string;
  commandLine?: string;
  ruleName?: string;
  threat?: number;
  /** The App Control server that sent the event (syslog host, CEF dvchost). */
  server?: string;
  data: Record<string, unknown>;
}

const appControl: Detector = {
  name: 'cb_app_control',
  description: 'Carbon Black App Control (Bit9) events: Event API JSON, Basic/Enhanced syslog key="value", syslog CEF',
  format: 'text',
  sniff(record: RawRecord): number {
    const j = record.json;
    if (j !== undefined) return isApiEvent(j) ? 0.95 : 0;
    const head = record.text.slice(0, 4096);
    if (CEF_VENDOR.test(head)) return 0.95;
    if (SYSLOG_MARK.test(head) && /\bsubtype="/.test(head)) return 0.95;
    return 0;
  },
  parse(record: RawRecord): ParseOutcome {
    let ev: Event;
    if (record.json !== undefined) {
      if (!isObject(record.json)) throw new ParseError('App Control event must be a JSON object');
      ev = fromApi(new Reader(record.json));
    } else {
      const text = trimEndChars(record.text, '\r\n');
      if (findCefStart(text) >= 0) ev = fromCef(parseCef(text));
      else if (/\bsubtype="/.test(text.slice(0, 65536))) ev = fromSyslog(text);
      else throw new ParseError(`not an App Control event (no CEF header, no subtype="…"; starts: ${excerpt(text.trim())})`);
    }
    return isAlert(ev) ? { kind: 'alerts', alerts: [alertOf(ev)] } : { kind: 'context', events: [contextOf(ev)] };
  },
};
export default defineDetector(appControl);

function isApiEvent(j: unknown): boolean {
  if (!isObject(j)) return false;
  return typeof own(j, 'subtypeName') === 'string' && (own(j, 'computerName') !== undefined || own(j, 'computerId') !== undefined) && own(j, 'subtype') !== undefined;
}

// ---- the three shapes ---------------------------------------------------------------------------------------

function fromApi(r: Reader): Event {
  if (!r.has('subtypeName') && !r.has('subtype')) throw new ParseError('missing subtypeName and subtype');
  const type = r.raw('type');
  const typeNum = toInt(type);
  const time = r.first('timestamp', 'receivedTimestamp', 'dateCreated');
  const sev = toInt(r.raw('severity'));
  return {
    id: r.str('id'),
    time: time ? parseTimestamp(time, { field: 'timestamp' }) : receivedTime(),
    description: r.str('description'),
    typeName: typeNum !== undefined ? (TYPE_NAMES[typeNum] ?? `type ${typeNum}`) : r.str('type'),
    subtypeId: r.str('subtype'),
    subtypeName: r.str('subtypeName'),
    severity: sev,
    severityText: r.str('severity'),
    computer: r.str('computerName'),
    computerId: r.str('computerId'),
    ip: r.str('ipAddress'),
    user: r.str('userName'),
    fileName: r.str('fileName'),
    filePath: r.str('pathName'),
    hashes: [r.str('sha256'), r.str('md5'), r.str('sha1'), r.str('fileHash'), r.str('hash')].filter((x): x is string => x !== undefined),
    processPath: r.str('processPathName'),
    processName: r.str('processFileName'),
    commandLine: r.str('commandLine'),
    ruleName: r.first('ruleName', 'banName', 'indicatorName'),
    threat: toInt(r.raw('fileThreat')) ?? toInt(r.raw('threat')),
    data: { ...r.obj },
  };
}

function fromSyslog(text: string): Event {
  const { fields: f, prefix } = parseKv(text);
  const envelope = prefix ? parseSyslog(prefix) : undefined;
  if (f.subtype === undefined) throw new ParseError('syslog event without subtype="…"');
  const time = usDate(f.date) ?? tryParseTimestamp(f.date) ?? envelope?.timestamp ?? receivedTime();
  const threat = Math.max(toInt(f.file_threat) ?? -1, toInt(f.process_threat) ?? -1);
  return {
    id: f.event_id ?? f.id,
    time,
    description: f.text,
    typeName: f.type,
    subtypeId: f.subtype_id,
    subtypeName: f.subtype,
    severity: envelope?.severity,
    computer: f.hostname,
    ip: f.ip_address,
    user: f.username,
    fileName: f.file_name,
    filePath: f.file_path,
    hashes: [f.file_hash, f.sha256, f.md5].filter((x): x is string => x !== undefined),
    processPath: f.process,
    commandLine: f.command_line,
    ruleName: f.rule_name || f.banned_name || undefined,
    threat: threat >= 0 ? threat : undefined,
    server: envelope?.hostname,
    data: { ...f },
  };
}

function fromCef(ev: CefEvent): Event {
  const x = ev.extension;
  const label = (re: RegExp) => Object.entries(ev.labels).find(([k]) => re.test(k))?.[1];
  const header = /^\d{1,2}$/.test(ev.severity.trim()) ? Number(ev.severity) : undefined;
  const device = toInt(x.deviceSeverity);
  // Header severity is 9 - event severity; an ArcSight connector may rewrite it as a word (then deviceSeverity is the original).
  const severity = header !== undefined && header >= 2 && header <= 9 ? 9 - header : device !== undefined && device >= 0 && device <= 7 ? device : undefined;
  const timeText = x.start ?? x.rt ?? x.end;
  const sproc = x.sproc && /[\\/.]/.test(x.sproc) ? x.sproc : undefined;
  return {
    id: x.externalId,
    time: timeText ? parseTimestamp(timeText, { field: x.start ? 'start' : 'rt' }) : (ev.envelope?.timestamp ?? receivedTime()),
    description: x.msg,
    typeName: x.cat,
    subtypeId: ev.signatureId,
    subtypeName: ev.name,
    severity,
    severityText: severity === undefined ? ev.severity : undefined,
    computer: x.dhost ?? x.shost ?? label(/computer/i),
    ip: x.dst ?? x.src ?? label(/ip ?address/i),
    user: x.duser ?? x.suser ?? label(/user/i),
    fileName: x.fname,
    filePath: x.filePath,
    hashes: [x.fileHash, label(/sha-?256|hash/i)].filter((v): v is string => v !== undefined),
    processPath: label(/process/i) ?? sproc,
    commandLine: label(/command/i),
    ruleName: label(/rule/i),
    threat: toInt(label(/threat/i)),
    server: x.dvchost ?? ev.envelope?.hostname,
    data: { ...x, cef_name: ev.name, cef_signature_id: ev.signatureId, cef_severity: ev.severity },
  };
}

/** "1/8/2015 4:23:07 PM" (the syslog date field) in the parse context's zone. */
function usDate(v: string | undefined): string | undefined {
  // Trimmed first, so that no two runs of white space meet at the end (that regex took quadratic time).
  const t = v?.trim();
  const m = t && t.length <= 64 ? /^(\d{1,2})\/(\d{1,2})\/(\d{4})\s+(\d{1,2}):(\d{2})(?::(\d{2}))?(?:\s*([AP]M))?$/i.exec(t) : null;
  if (!m) return undefined;
  let hour = Number(m[4]);
  const ampm = m[7]?.toUpperCase();
  if (ampm && (hour < 1 || hour > 12)) return undefined;
  if (ampm === 'PM' && hour < 12) hour += 12;
  if (ampm === 'AM' && hour === 12) hour = 0;
  const wall = { year: Number(m[3]), month: Number(m[1]), day: Number(m[2]), hour, minute: Number(m[5]), second: m[6] ? Number(m[6]) : 0, ms: 0 };
  if (wall.month < 1 || wall.month > 12 || wall.day < 1 || wall.day > 31 || hour > 23 || wall.minute > 59 || wall.second > 59) return undefined;
  const ms = zonedToUtc(wall, parseContext().timeZone);
  return Number.isFinite(ms) ? new Date(ms).toISOString() : undefined;
}

// ---- classification and mapping ------------------------------------------------------------------------------

function isAlert(ev: Event): boolean {
  if (ev.subtypeName && ALERT_SUBTYPE.test(ev.subtypeName) && !/^(file|certificate|publisher) (approval|ban) (created|deleted|modified)|approval request|ban (created|deleted|modified)/i.test(ev.subtypeName)) return true;
  const enforcement = /policy enforcement|discovery/i.test(ev.typeName ?? '');
  return enforcement && ev.severity !== undefined && ev.severity <= 4;
}

function severityOf(ev: Event): number {
  let s = ev.severity !== undefined && ev.severity >= 0 && ev.severity <= 7 ? SEVERITY_SCORE[ev.severity]! : (wordSeverity(ev.severityText) ?? UNKNOWN_SEVERITY);
  if (ev.threat !== undefined && ev.threat >= 100) s = Math.max(s, 80);
  else if (ev.threat !== undefined && ev.threat >= 50) s = Math.max(s, 55);
  return s;
}

function actionOf(subtype: string | undefined, description?: string): DetectorAction {
  // A rule in Report Only mode reports the block it would have made: "… would have blocked if the rule was not in Report Only mode."
  if (/\bwould have (?:been )?blocked\b|\bReport Only mode\b/i.test(description ?? '')) return 'detected';
  const s = subtype ?? '';
  if (/block|\bban|denied|prevent|restricted/i.test(s)) return 'blocked';
  if (/delet|quarantin/i.test(s)) return 'quarantined';
  if (/approved|allowed|\bran\b|executed|granted/i.test(s)) return 'allowed';
  return 'detected';
}

/** The event's hashes, then the one its description names in brackets: "File 'c:\x.exe' [3b46…] was blocked…". */
function hashesOf(ev: Event) {
  const out: { md5?: string; sha1?: string; sha256?: string } = {};
  const bracketed = /\[([0-9a-fA-F]{32,64})\]/.exec(ev.description ?? '')?.[1];
  for (const v of bracketed ? [...ev.hashes, bracketed] : ev.hashes) {
    const h = normalizeHash(v);
    if (h && out[h.type] === undefined && !/^(.)\1*$/.test(h.value)) out[h.type] = h.value;
  }
  return out;
}

/**
 * pathName + fileName (a path that already ends in the name is kept), hashes by length. Events without the
 * file fields (approvals, most CEF and syslog events) name the file in the description: "File 'c:\x.exe'
 * [hash] was approved…", "Malicious file 'c:\x.exe' [hash] detected…".
 */
function fileOf(ev: Event): FileInfo | undefined {
  const described = /^(?:[A-Za-z]{1,20} )?file '([^']{1,1024})'/i.exec(ev.description ?? '')?.[1];
  const path = ev.filePath && ev.fileName ? joinPath(ev.filePath, ev.fileName) : (ev.filePath ?? ev.fileName ?? described);
  return compact({ name: ev.fileName ?? baseName(path), path, ...hashesOf(ev) });
}

function processOf(ev: Event): ProcessInfo | undefined {
  return compact({ name: ev.processName ?? baseName(ev.processPath), command_line: ev.commandLine });
}

function alertOf(ev: Event): AlertDraft {
  const title = ev.description ?? ev.subtypeName;
  if (!title) throw new ParseError('event has neither description nor subtype name');
  const user = splitAccount(ev.user);
  return {
    vendor_id: ev.id,
    event_type: ev.subtypeName ?? ev.subtypeId,
    time: ev.time,
    title,
    rule: compact({ id: ev.subtypeId, name: ev.ruleName ?? ev.subtypeName, category: ev.typeName }),
    severity: severityOf(ev),
    vendor_severity: ev.severity !== undefined ? { value: String(ev.severity), scale: SCALE } : ev.severityText ? { value: ev.severityText, scale: SCALE } : undefined,
    action: actionOf(ev.subtypeName, ev.description),
    host: compact({ name: computerOf(ev), ip: firstIp(ev.ip), id: ev.computerId }),
    device: ev.server ? { name: ev.server } : undefined,
    user: user ? compact({ name: user.name, domain: user.domain, email: user.email }) : undefined,
    file: fileOf(ev),
    process: processOf(ev),
    observables: [],
  };
}

/** The App Control server that logged the event ("System" is how events name the server, not a computer). */
function computerOf(ev: Event): string | undefined {
  const name = machineName(ev.computer);
  return name && !/^system$/i.test(name) ? name : undefined;
}

/**
 * What a non-alert event is, by its App Control event type: console log-ins (Session Management) are
 * sign-ons; approvals, new and changed files (Policy Enforcement, Discovery) are files seen on disk; agent
 * and computer state (Computer Management, Internal Events) is health; server, policy and general
 * management are administrative changes.
 */
function contextKind(typeName: string | undefined): ContextKind {
  const t = typeName ?? '';
  if (/session/i.test(t)) return 'auth';
  if (/policy enforcement|discovery/i.test(t)) return 'file';
  if (/computer management|internal/i.test(t)) return 'status';
  if (/management/i.test(t)) return 'audit';
  return 'other';
}

function outcomeOf(subtype: string | undefined): ContextEvent['outcome'] {
  if (/fail|denied|invalid|locked/i.test(subtype ?? '')) return 'failure';
  return /log ?in|log ?on/i.test(subtype ?? '') ? 'success' : undefined;
}

function contextOf(ev: Event): ContextEvent {
  const user = splitAccount(ev.user);
  const kind = contextKind(ev.typeName);
  const ip = firstIp(ev.ip);
  const computer = computerOf(ev);
  return {
    kind,
    event_type: ev.subtypeName ?? ev.subtypeId,
    time: ev.time,
    user: user ? compact({ name: user.name, domain: user.domain, email: user.email }) : undefined,
    // A console log-in's address is the client the user came from; any other event's is the computer's.
    src: kind === 'auth' ? compact({ ip, user: user?.name }) : undefined,
    host: kind === 'auth' ? compact({ name: computer, id: ev.computerId }) : compact({ name: computer, ip, id: ev.computerId }),
    device: ev.server ? compact({ name: ev.server }) : undefined,
    outcome: kind === 'auth' ? outcomeOf(ev.subtypeName) : undefined,
    file: fileOf(ev),
    process: processOf(ev),
    data: ev.data,
    observables: [],
  };
}
