/**
 * Sophos endpoint anti-virus, on-premises generation: Sophos Enterprise Console (SEC) events as the
 * Sophos Reporting Log Writer writes them, and the local Sophos Anti-Virus log lines of Windows and
 * UNIX/Linux endpoints. This is what Netflix FIDO's `antivirus` detector (vendor Sophos) read from
 * DefaultThreats.log (fido-original.md §3.9). Sophos Central (JSON) and Sophos XG/SFOS firewalls are
 * other detectors (sophos_central, sophos_xg); they are not claimed here.
 *
 * Sources: fido-original.md §3.9 (the "INFO:" line split on InsertedAt=, EventTime=, ActionTaken=,
 * UserName=, Status=, ThreatType=, ThreatName=, FullFilePath=, ComputerName=, ComputerIPAddress=; its
 * filters ThreatType "Viruses/spyware", ActionTaken None / Partially Cleaned, scanner not "Web browser")
 * and §5.3 (its severity matrix over action × status × trojan); the Reporting Log Writer's key=value;
 * layout as public SIEM parsers read it (ExabeamLabs Sophos Endpoint Protection parsers: EventID,
 * EventTime, ThreatType, ThreatName, FullFilePath, UserName, ComputerName, ComputerDomain,
 * ComputerIPAddress, Status; the events view: EventType Virus / Application control / Device control …
 * with Name, Action, SubType, ReportingName, BlockedSite, Category, ReferringURL; a Splunk eventgen line
 * with quoted values); Sophos Anti-Virus user manuals for the local log messages ("File "…" belongs to
 * virus/spyware '…'", "Virus/spyware '…' has been detected in "…"", savscan ">>> Virus '…' found in
 * file …"). No sample file exists here: the tests' lines are reconstructed from these.
 *
 * Accepted lines:
 *   SEC / Log Writer  [prefix: "2013-01-30 14:05:45,406 INFO:" or a syslog header] Key=Value; Key=Value; …
 *                     values bare or double-quoted, keys in any order.
 *   SAV local log     [YYYYMMDD HHMMSS | ISO time | syslog header] one of the detection messages above.
 * Alerts: threat records (ThreatName / ThreatType), events of type Virus, Web, Tamper protection, Data
 * control, suspicious behaviour/exploit, and every SAV detection message.
 *   title       "<threat> (<threat type>)" or "<event type>: <name>"
 *   rule        id = name = threat name; category = threat type (or event type / subtype)
 *   severity    Sophos writes none: threat type sets a base (viruses/spyware 70, suspicious 60, PUA 30,
 *               controlled application 20), a Troj/ name adds 10, a threat still present (action None or
 *               partially cleaned, status not cleanable / cleanup failed / restart required) adds 15, a
 *               removed one (cleaned, deleted, quarantined, blocked) takes 20 off; EICAR test files are 10.
 *               vendor_severity records what it was computed from (scale "sophos threat type/action").
 *   action      ActionTaken / Action: None / partially cleaned → detected, cleaned up / deleted / blocked →
 *               blocked, moved / quarantined → quarantined
 *   host        ComputerName, ComputerIPAddress; user UserName "DOMAIN\user" → name + domain
 *   file        FullFilePath (path, name); malware name = threat, family = the part between "/" and the
 *               variant ("Troj/Agent-ABC" → Agent); url / domain from BlockedSite; vendor_id EventID
 * Context: the other event types, which record policy enforcement rather than threats; event_type is the
 * EventType as written, kind process (Application control), file (Device control naming a file), status
 * (patch, update, compliance), else other; host, user, the controlled application as process, the file.
 * event_type on alerts: ThreatType ("Viruses/spyware") or EventType ("Virus", "Web"); SAV lines "SAV/<type>".
 */
import type { AlertDraft, DetectorAction } from '../model/alert.js';
import type { ContextKind } from '../model/context.js';
import { defineDetector, ParseError, type ContextEvent, type Detector, type ParseOutcome, type RawRecord } from './detector.js';
import { mapAction } from './lib/action.js';
import { receivedTime } from './lib/context.js';
import { LooseFields, baseName } from './lib/fieldmap.js';
import { hostOfUrl, makeObservable, normalizeDomain, normalizeUrl } from './lib/observables.js';
import { defined, splitAccount } from './lib/record.js';
import { parseSyslog } from './lib/syslog.js';
import { excerpt, LINE_BREAKS, trimEndChars } from './lib/text.js';
import { parseTimestamp, tryParseTimestamp } from './lib/time.js';
import { compact, isObject } from './lib/values.js';

const SCALE = 'sophos threat type/action (computed; Sophos writes no severity)';

// Keys that open a Log Writer record; at least two of them (or one threat key) must be present.
const KNOWN_KEYS = ['InsertedAt', 'EventID', 'EventTime', 'ActionTaken', 'UserName', 'Status', 'ThreatType', 'ThreatName', 'FullFilePath', 'ScanType', 'ComputerName', 'ComputerDomain', 'ComputerIPAddress', 'EventType', 'Action', 'ReportingName', 'SubType', 'Name'];

// SAV local log messages, with named groups: type, name, and the file quoted (qfile) or bare (file).
interface SavMatch {
  groups: Record<string, string | undefined>;
  /** Where the message starts and ends in the record. */
  index: number;
  end: number;
}

const SAVSCAN = />>>\s*(?<type>Virus|Threat|Adware or PUA|Application)\s+'(?<name>[^'\r\n]{1,256})'\s+found in file\s+/i;

const SAV_PATTERNS: Array<(text: string) => SavMatch | undefined> = [
  // savscan first: its "found in file" path may hold spaces, which the generic message cannot allow. The path
  // is the rest of the record (one line, at most 2048 characters, trailing white space dropped), checked
  // here: as a lazy run before \s*$ it took quadratic time on a long blank run.
  (text) => {
    const m = SAVSCAN.exec(text);
    if (!m) return undefined;
    const start = m.index + m[0].length;
    const file = text.slice(start).trimEnd();
    if (file === '' || file.length > 2048 || /[\r\n]/.test(file)) return undefined;
    return { groups: { ...m.groups, file }, index: m.index, end: text.length };
  },
  regexMatcher(/File\s+"(?<qfile>[^"\r\n]{1,2048})"\s+belongs to\s+(?<type>virus\/spyware|virus|spyware|adware or PUA|suspicious file|malware|threat)\s+'(?<name>[^'\r\n]{1,256})'/i),
  regexMatcher(/(?<type>Virus\/spyware|Virus|Spyware|Adware or PUA|Suspicious behaviou?r|Suspicious file|Malicious behaviou?r|Threat|Malware|Exploit)\s+'(?<name>[^'\r\n]{1,256})'\s+(?:has been\s+)?(?:detected|found)(?:\s+in\s+(?:file\s+)?(?:"(?<qfile>[^"\r\n]{1,2048})"|(?<file>[^\s"]{1,2048})))?/i),
];

function regexMatcher(re: RegExp): (text: string) => SavMatch | undefined {
  return (text) => {
    const m = re.exec(text);
    return m ? { groups: { ...m.groups }, index: m.index, end: m.index + m[0].length } : undefined;
  };
}

const sophosAv: Detector = {
  name: 'sophos_av',
  description: 'Sophos Enterprise Console / Reporting Log Writer threat lines and Sophos Anti-Virus local log detections',
  format: 'text',
  sniff(record: RawRecord): number {
    if (record.json !== undefined) return 0;
    const text = record.text.slice(0, 8192);
    const kv = logWriterKeys(text);
    if (kv.threat && kv.count >= 3) return 0.92;
    if (kv.event && kv.count >= 3 && /ComputerName\s?=|ComputerIPAddress\s?=/.test(text)) return 0.9;
    if (SAV_PATTERNS.some((match) => match(text) !== undefined)) return 0.85;
    return 0;
  },
  parse(record: RawRecord): ParseOutcome {
    if (isObject(record.json) || Array.isArray(record.json)) throw new ParseError('Sophos anti-virus records are text lines, not JSON');
    const text = trimEndChars(record.text, '\r\n');
    const kv = logWriterKeys(text);
    if (kv.first && kv.count >= 2) {
      const at = kv.first.index! + kv.first[0].indexOf(kv.first[1]!);
      return fromLogWriter(text.slice(0, at), parseFields(text.slice(at)));
    }
    for (const match of SAV_PATTERNS) {
      const m = match(text);
      if (m) return { kind: 'alerts', alerts: [fromSavLine(text, m)] };
    }
    throw new ParseError(`not a Sophos anti-virus line (no Log Writer Key=Value; fields or SAV detection message; starts: ${excerpt(text.trim())})`);
  },
};
export default defineDetector(sophosAv);

// One pattern for every key, built from constants only so that the ReDoS test can fold and check it.
const ANY_KEY = new RegExp(`(?:^|[\\s:;>"])(${KNOWN_KEYS.join('|')})\\s?=`, 'g');

/** The Log Writer keys of a text: how many distinct, which kinds, and the first (where the fields start). */
function logWriterKeys(text: string): { count: number; threat: boolean; event: boolean; first: RegExpMatchArray | undefined } {
  const seen = new Set<string>();
  let first: RegExpMatchArray | undefined;
  for (const m of text.matchAll(ANY_KEY)) {
    first ??= m;
    seen.add(m[1]!);
    if (seen.size === KNOWN_KEYS.length) break;
  }
  return { count: seen.size, threat: seen.has('ThreatName') || seen.has('ThreatType'), event: seen.has('EventType'), first };
}

/**
 * "Key=Value; Key=Value" with values bare (may hold spaces, backslashes) or double-quoted. A ";" ends a
 * value only when another Key= follows, so "a;b" inside a value survives.
 */
function parseFields(s: string): LooseFields {
  const out = Object.create(null) as Record<string, string>;
  const parts = s.split(/;\s*(?=[A-Za-z][A-Za-z0-9_]{0,40}\s?=)/);
  for (const part of parts.slice(0, 256)) {
    const eq = part.indexOf('=');
    if (eq <= 0) continue;
    const key = part.slice(0, eq).trim();
    let value = part.slice(eq + 1).trim().replace(/;\s*$/, '');
    if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1).replace(/\\"/g, '"');
    if (!(key in out)) out[key] = value;
  }
  return new LooseFields(out);
}

// ---- Log Writer records ------------------------------------------------------------------------------------

const ALERT_EVENT_TYPES = /virus|malware|spyware|threat|web|tamper|exploit|suspicious|behavio|ransom|data control|intrusion/i;

function fromLogWriter(prefix: string, f: LooseFields): ParseOutcome {
  const threatName = f.get('ThreatName');
  const threatType = f.get('ThreatType');
  const eventType = f.get('EventType');
  if (!threatName && !threatType && eventType && !ALERT_EVENT_TYPES.test(eventType)) return { kind: 'context', events: [policyEvent(prefix, eventType, f)] };
  if (!threatName && !threatType && !eventType) throw new ParseError('Sophos Log Writer line has neither ThreatName/ThreatType nor EventType');
  const name = threatName ?? f.get('Name', 'EventName');
  const category = threatType ?? [eventType, f.get('SubType')].filter(Boolean).join(' / ');
  const actionWord = f.get('ActionTaken', 'Action');
  const status = f.get('Status');
  const path = f.get('FullFilePath', 'FilePath', 'Path');
  const site = f.get('BlockedSite', 'URL', 'Url');
  const { url, domain } = siteOf(site);
  const user = userOf(f.get('UserName', 'User'));
  const title = threatName ? `${threatName}${threatType ? ` (${threatType})` : ''}` : `${eventType}: ${name ?? site ?? 'event'}`;
  return {
    kind: 'alerts',
    alerts: [
      {
        vendor_id: f.get('EventID'),
        event_type: threatType ?? eventType,
        time: timeOf(f, prefix),
        title,
        rule: compact({ id: name ?? eventType, name: name ?? eventType, category: category || undefined }),
        severity: severityOf(category, name, actionWord, status),
        vendor_severity: vendorSeverity(category, actionWord, status),
        action: actionOf(actionWord, status),
        host: compact({ name: f.get('ComputerName'), ip: f.get('ComputerIPAddress') }),
        user,
        file: compact({ name: baseName(path) ?? f.get('FileName'), path }),
        process: compact({ name: baseName(f.get('ProcessName', 'Process')) }),
        url,
        domain,
        malware: name && (threatName || /virus|malware|spyware/i.test(eventType ?? '')) ? compact({ name, family: familyOf(name) }) : undefined,
        observables: defined([makeObservable('url', f.get('ReferringURL'), 'referer')]),
      },
    ],
  };
}

function policyEvent(prefix: string, eventType: string, f: LooseFields): ContextEvent {
  const user = userOf(f.get('UserName'));
  const path = f.get('FullFilePath', 'FilePath', 'Path');
  const data = compact({
    event_id: f.get('EventID'),
    event_type: eventType,
    name: f.get('Name', 'EventName'),
    subtype: f.get('SubType'),
    action: f.get('Action', 'ActionTaken'),
    computer: f.get('ComputerName'),
    domain: f.get('ComputerDomain'),
    ip: f.get('ComputerIPAddress'),
    user: user?.name,
    reporting_name: f.get('ReportingName'),
  }) ?? {};
  return {
    kind: contextKind(eventType, f),
    event_type: eventType,
    time: timeOf(f, prefix),
    user,
    host: compact({ name: f.get('ComputerName'), ip: f.get('ComputerIPAddress') }),
    // Application control names the controlled application, not a file: it is the process the policy stopped.
    process: /application/i.test(eventType) ? compact({ name: f.get('Name', 'EventName') }) : undefined,
    file: compact({ name: baseName(path) ?? f.get('FileName'), path }),
    data,
    observables: [],
  };
}

/** The context kind of a Log Writer event type that reports policy enforcement rather than a threat. */
function contextKind(eventType: string, f: LooseFields): ContextKind {
  if (/patch|update|complian|health|status/i.test(eventType)) return 'status';
  if (/application/i.test(eventType)) return 'process';
  // A device-control event is about a file only when it names one; the firewall's events name no connection.
  if (/device/i.test(eventType) && f.get('FullFilePath', 'FilePath', 'Path')) return 'file';
  return 'other';
}

function timeOf(f: LooseFields, prefix: string): string {
  const event = f.get('EventTime', 'DetectedTime', 'Time');
  if (event) return parseTimestamp(event, { field: 'EventTime' });
  const inserted = tryParseTimestamp(f.get('InsertedAt', 'ReceivedTime'));
  if (inserted) return inserted;
  return prefixTime(prefix) ?? receivedTime();
}

/** The time in a line's prefix: "2013-01-30 14:05:45,406 INFO:", "20130412 101442", or a syslog header. */
function prefixTime(prefix: string): string | undefined {
  const p = prefix.trim();
  if (p === '') return undefined;
  const compactDate = /^(\d{4})(\d{2})(\d{2})\s+(\d{2})(\d{2})(\d{2})\b/.exec(p);
  if (compactDate) return tryParseTimestamp(`${compactDate[1]}-${compactDate[2]}-${compactDate[3]} ${compactDate[4]}:${compactDate[5]}:${compactDate[6]}`);
  const iso = /^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(?:[.,]\d{1,6})?(?:Z|[+-]\d{2}:?\d{2})?/.exec(p);
  if (iso) return tryParseTimestamp(iso[0]);
  return parseSyslog(p)?.timestamp;
}

// ---- SAV local log lines --------------------------------------------------------------------------------------

function fromSavLine(text: string, m: SavMatch): AlertDraft {
  const g = m.groups;
  const name = (g.name ?? '').trim();
  const type = g.type ? normalizeType(g.type) : undefined;
  // A bare path ends the sentence: "… detected in /tmp/evil.sh." loses the full stop, not the extension.
  const path = g.qfile?.trim() || (g.file === undefined ? undefined : trimEndChars(g.file.trim(), '.,;')) || undefined;
  const after = text.slice(m.end);
  const actionWord = /cleanup unavailable|could not be cleaned|not cleanable/i.test(after) ? 'none' : /(moved|quarantin|deleted|cleaned up|removed|blocked|access (?:was )?denied)/i.exec(after)?.[1];
  const syslog = parseSyslog(text);
  return {
    event_type: `SAV/${type ?? 'detection'}`,
    time: prefixTime(text.slice(0, m.index)) ?? syslog?.timestamp ?? receivedTime(),
    title: `${name}${type ? ` (${type})` : ''}`,
    rule: compact({ id: name, name, category: type }),
    severity: severityOf(type, name, actionWord, undefined),
    vendor_severity: vendorSeverity(type, actionWord, undefined),
    action: actionWord ? actionOf(actionWord, undefined) : 'detected',
    host: syslog?.hostname && syslog.format === 'rfc3164' ? { name: syslog.hostname } : undefined,
    file: compact({ name: baseName(path), path }),
    malware: compact({ name, family: familyOf(name) }),
    observables: [],
  };
}

function normalizeType(t: string): string {
  const s = t.trim().toLowerCase();
  if (s.startsWith('virus') || s === 'spyware') return 'Viruses/spyware';
  if (s.startsWith('adware')) return 'Adware or PUA';
  if (s.startsWith('suspicious behav') || s.startsWith('malicious behav')) return 'Suspicious behavior';
  if (s.startsWith('suspicious file')) return 'Suspicious file';
  return t.trim();
}

// ---- shared -------------------------------------------------------------------------------------------------

function severityOf(type: string | undefined, name: string | undefined, action: string | undefined, status: string | undefined): number {
  if (name && /eicar/i.test(name)) return 10;
  const t = (type ?? '').toLowerCase();
  let s = /virus|spyware|malware|troj|ransom/.test(t) ? 70 : /suspicious|behavio|hips|exploit|tamper/.test(t) ? 60 : /adware|pua|potentially/.test(t) ? 30 : /control|application/.test(t) ? 20 : 55;
  if (name && /^troj\//i.test(name)) s += 10;
  const a = (action ?? '').toLowerCase();
  const st = (status ?? '').toLowerCase();
  if (/^none$|partial|not cleanable|cleanup failed|restart required|unavailable/.test(a) || /not cleanable|cleanup failed|restart required|cleanable/.test(st)) s += 15;
  else if (/clean|delet|quarantin|block|moved|removed|denied/.test(a) || /cleaned|deleted|quarantined|removed/.test(st)) s -= 20;
  return Math.max(5, Math.min(95, s));
}

function vendorSeverity(type: string | undefined, action: string | undefined, status: string | undefined): AlertDraft['vendor_severity'] {
  const value = [type, action && `action ${action}`, status && `status ${status}`].filter(Boolean).join('; ');
  return value ? { value, scale: SCALE } : undefined;
}

function actionOf(action: string | undefined, status: string | undefined): DetectorAction | undefined {
  const a = action?.trim().toLowerCase();
  if (!a) return status ? 'detected' : undefined;
  if (a === 'none' || a.includes('partial') || a.includes('unavailable')) return 'detected';
  if (/moved|quarantin|isolat/.test(a)) return 'quarantined';
  return mapAction(action);
}

function userOf(v: string | undefined): AlertDraft['user'] {
  const account = splitAccount(v);
  return account && compact({ name: account.name, domain: account.domain, email: account.email });
}

/** "Troj/Agent-ABC" → "Agent", "Mal/Generic-S" → "Generic"; names without Sophos' type prefix: none. */
function familyOf(name: string): string | undefined {
  const m = /^[A-Za-z]{2,8}\/([A-Za-z0-9_.]+?)(?:-[A-Za-z0-9]+)?$/.exec(name.trim());
  return m ? m[1] : undefined;
}

function siteOf(site: string | undefined): { url?: string; domain?: string } {
  if (!site) return {};
  const url = normalizeUrl(site) ? site : undefined;
  const host = url ? hostOfUrl(url) : beforePortOrPath(site);
  return { url, domain: host && normalizeDomain(host) ? host : undefined };
}

/** "host:port/path" → "host": what /[:/].*$/ removed (from the first ":" or "/" of the last line), in one pass. */
function beforePortOrPath(site: string): string {
  const lastLine = Math.max(...[...LINE_BREAKS].map((c) => site.lastIndexOf(c))) + 1;
  const tail = site.slice(lastLine);
  const cut = tail.search(/[:/]/);
  return cut < 0 ? site : site.slice(0, lastLine + cut);
}
