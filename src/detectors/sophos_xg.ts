/**
 * Sophos Firewall (XG Firewall / SFOS 16 … 20) syslog in its key=value format, with or without a syslog header.
 * Follows Sophos' "Sophos Firewall log file details / syslog guide" (log_id, log_type, log_component,
 * log_subtype, priority/severity, …). Two generations are read:
 *   - SFOS ≤ 18.0: device="SFW" date=YYYY-MM-DD time=hh:mm:ss timezone="BST" device_name device_id log_id
 *     log_type log_component log_subtype priority=<syslog word> …; ATP uses sourceip/destinationip.
 *   - SFOS 18.5+: device_name timestamp="2021-11-15T18:25:00-0600" device_model device_serial_id log_id
 *     log_type … log_version=1 severity="Information" src_ip dst_ip …
 *
 * Alerts:
 *   IDP                     title signature_msg; rule signature_id / classification (category); severity
 *                           from rule_priority (Snort-style 1 high … 4+ low: 80/55/30/15), else priority
 *   Anti-Virus              title "<virus>" (+ " in <file>"); malware.name virus; url, domainname, file
 *   ATP / Advanced Threat   title "ATP: <threatname>"; url or destination; vendor_id eventid (a GUID)
 *   Protection
 *   Sandbox (Sandstorm)     when the verdict is malicious/suspicious or the file was blocked
 *   Content Filtering / Web Filter — only Denied/Blocked/Warned verdicts (web filter blocks): title
 *                           "Web filter <subtype>: <category>"; Allowed content-filter logs are context "web"
 *   WAF                     blocked requests
 *   every alert             device: the syslog header's host, else device_name; id device_serial_id / device_id
 *                           (deviceOf, as on context)
 * Context: Firewall → flow; allowed web → http; clean sandbox → file; Anti-Spam → email; Event: VPN components →
 * vpn, authentication → auth, admin/GUI/CLI → audit, DHCP → dhcp; anything else → status. One mapping for all
 * (context): user, src/dst, assigned_ip, host, device, outcome, session_id, domain, url, file.
 * event_type: "log_type/log_component" as written. Mapping table: docs/detectors/sophos_xg.md.
 * Severity scale: syslog words (priority / severity): Emergency 95, Alert 90, Critical 85, Error 70,
 * Warning 50, Notice 25, Information 10, Debug 0. action: log_subtype (Detect/Alert → detected, Drop/Denied/
 * Blocked → blocked, Allowed → allowed; AV "Virus" says nothing about the action → unknown).
 * Time: timestamp (with its offset), else date+time in `timezone` (BST read as +01:00 and IST as +05:30, the
 * zones these abbreviations mean on Sophos/Cyberoam devices), else the source's zone.
 */
import type { AlertDraft, DetectorAction, FileInfo, HostInfo } from '../model/alert.js';
import type { ContextKind, ContextOutcome } from '../model/context.js';
import { defineDetector, ParseError, type ContextEvent, type Detector, type ParseOutcome, type RawRecord } from './detector.js';
import { mapAction } from './lib/action.js';
import { receivedTime } from './lib/context.js';
import { copyFields, kvInt, kvPort, parseKv } from './lib/kv.js';
import { canonicalIp, hostOfUrl, makeObservable, normalizeDomain, normalizeHash } from './lib/observables.js';
import { defined, splitAccount } from './lib/record.js';
import { UNKNOWN_SEVERITY } from './lib/severity.js';
import { parseSyslog } from './lib/syslog.js';
import { excerpt, trimEndChars } from './lib/text.js';
import { parseZone, tryParseTimestamp } from './lib/time.js';
import { compact, withoutEmpty } from './lib/values.js';

type Fields = Record<string, string>;
const MAX_LINE = 65536;

const LEVELS: Record<string, number> = {
  emergency: 95, alert: 90, critical: 85, error: 70, warning: 50, notice: 25, information: 10, informational: 10, info: 10, debug: 0,
};
const SCALE = 'sophos syslog level emergency|alert|critical|error|warning|notice|information|debug';
// Abbreviations lib/time.ts rightly refuses in general, with the meaning they have on Sophos devices.
const SOPHOS_ZONES: Record<string, string> = { BST: '+01:00', IST: '+05:30' };

const sophos: Detector = {
  name: 'sophos_xg',
  description: 'Sophos XG Firewall / SFOS key=value syslog: IDP, anti-virus, ATP, sandbox, web filter blocks as alerts; firewall and event logs as context',
  format: 'text',
  sniff(record: RawRecord): number {
    if (record.json !== undefined) return 0;
    const head = record.text.slice(0, 4096);
    if (!/(?:^|\s)log_type="?[A-Za-z]/.test(head)) return 0;
    const f = parseKv(head).fields;
    if (f.log_type === undefined) return 0;
    if (f.logid !== undefined && f.type !== undefined) return 0; // FortiOS
    let score = 0.6;
    if (f.log_id !== undefined && /^\d{12}$/.test(f.log_id)) score += 0.2;
    if (f.log_component !== undefined) score += 0.1;
    if (f.device === 'SFW' || f.device_name !== undefined || f.device_serial_id !== undefined || f.device_id !== undefined) score += 0.08;
    return Math.min(score, 0.98);
  },
  parse(record: RawRecord): ParseOutcome {
    const text = record.text.length > MAX_LINE ? record.text.slice(0, MAX_LINE) : record.text;
    const line = trimEndChars(text, '\r\n');
    const { fields: f, prefix } = parseKv(line);
    joinBareContinuations(line, f);
    const logType = val(f.log_type);
    if (!logType) throw new ParseError(`not a Sophos Firewall log: log_type is missing (starts: ${excerpt(text.trim(), 60)})`);
    const time = timeOf(f, prefix);
    const type = logType.toLowerCase();
    const subtype = (val(f.log_subtype) ?? '').toLowerCase();
    const component = (val(f.log_component) ?? '').toLowerCase();
    // The product's own name of the record type: log_type and log_component ("Firewall/Firewall Rule", "IDP/Signatures").
    const eventType = [logType, val(f.log_component)].filter(Boolean).join('/');
    const header = prefix ? parseSyslog(prefix)?.hostname : undefined;
    const ctx = (kind: ContextKind) => context(kind, f, time, eventType, header);
    const alert = (make: (f: Fields, b: Omit<AlertDraft, 'title'>) => AlertDraft) => alerts(make(f, base(f, time, eventType, header)));
    if (type === 'idp' || type === 'ips') return alert(idpAlert);
    if (type === 'anti-virus' || type === 'antivirus') {
      // a scanned transfer without a finding ("Allowed", virus="") is a file seen on the wire, not a detection
      if (!val(f.virus) && !val(f.malware) && /^(allowed|clean)$/.test(subtype)) return ctx('file');
      return alert(avAlert);
    }
    if (type === 'atp' || type === 'advanced threat protection') return alert(atpAlert);
    if (type === 'sandbox' || type === 'sandstorm' || component === 'sandstorm') {
      if (/malicious|suspicious|denied|block|drop|virus/.test(`${subtype} ${(f.reason ?? '').toLowerCase()} ${(f.verdict ?? '').toLowerCase()}`)) return alert(sandboxAlert);
      return ctx('file');
    }
    if (type === 'content filtering' || type === 'web filter' || type === 'webfilter' || type === 'application filter' || type === 'waf') {
      if (/denied|block|drop|warn|reject/.test(subtype)) return alert((g, b) => webAlert(g, b, logType));
      return ctx(val(f.url) || val(f.domain) ? 'http' : 'flow');
    }
    if (type === 'firewall') return ctx('flow');
    if (type === 'anti-spam' || type === 'antispam') return ctx('email');
    if (type === 'event') {
      if (/vpn|ipsec|l2tp|pptp|sslvpn|ssl vpn|remote access/.test(component)) return ctx('vpn');
      if (/auth|login|logon/.test(`${component} ${subtype}`)) return ctx('auth');
      if (/admin|gui|cli|console|api/.test(`${component} ${subtype}`)) return ctx('audit');
      if (/dhcp/.test(component)) return ctx('dhcp');
    }
    return ctx('status');
  },
};
export default defineDetector(sophos);

// ---- alerts ------------------------------------------------------------------------------------------------

/** What every alert carries: time, severity, action, the two ends, the user and the reporting firewall. */
function base(f: Fields, time: string, eventType: string, header: string | undefined): Omit<AlertDraft, 'title'> {
  const sev = severityOf(f);
  const user = accountOf(f);
  const src = val(f.src_ip) ?? val(f.sourceip);
  const dst = val(f.dst_ip) ?? val(f.destinationip);
  return {
    time,
    event_type: eventType,
    vendor_id: vendorId(f, time),
    severity: sev.severity,
    vendor_severity: sev.vendor,
    action: actionOf(val(f.log_subtype)),
    src: compact({ ip: src, port: kvPort(f.src_port), user: user?.name, host: val(f.src_host) }),
    dst: compact({ ip: dst, port: kvPort(f.dst_port) }),
    user,
    device: deviceOf(f, header),
    observables: defined([
      makeObservable('mac', val(f.src_mac), 'src'),
      makeObservable('mac', val(f.dst_mac), 'dst'),
      makeObservable('ip', val(f.src_trans_ip), 'src_nat'),
      makeObservable('ip', val(f.dst_trans_ip), 'dst_nat'),
    ]),
  };
}

function idpAlert(f: Fields, b: Omit<AlertDraft, 'title'>): AlertDraft {
  const rp = val(f.rule_priority);
  const n = rp && /^\d{1,3}$/.test(rp) ? Number(rp) : undefined;
  const bySnortPriority = n === undefined || n < 1 ? undefined : n === 1 ? 80 : n === 2 ? 55 : n === 3 ? 30 : 15;
  const msg = val(f.signature_msg) ?? val(f.message) ?? `IPS signature ${f.signature_id ?? ''}`.trim();
  return {
    ...b,
    title: msg,
    rule: compact({ id: val(f.signature_id), name: val(f.signature_msg), category: val(f.classification) ?? val(f.category) }),
    severity: bySnortPriority ?? b.severity,
    vendor_severity: bySnortPriority !== undefined ? { value: rp!, scale: 'sophos idp rule_priority 1 (high) - 5 (low)' } : b.vendor_severity,
  };
}

function avAlert(f: Fields, b: Omit<AlertDraft, 'title'>): AlertDraft {
  const virus = val(f.virus) ?? val(f.malware) ?? val(f.threatname);
  const file = fileOf(f);
  const url = val(f.url);
  return {
    ...b,
    title: `${virus ?? 'Malware detected'}${file?.name ? ` in ${file.name}` : ''}`,
    rule: compact({ id: val(f.log_id), name: virus, category: `anti-virus${val(f.log_component) ? `/${f.log_component}` : ''}` }),
    malware: virus ? { name: virus } : undefined,
    url,
    domain: normalizeDomain(val(f.domainname) ?? val(f.domain)) ?? hostOf(url),
    file,
    email: emailOf(f),
  };
}

function atpAlert(f: Fields, b: Omit<AlertDraft, 'title'>): AlertDraft {
  // White space before a "/" goes ("Troj /Agent" → "Troj/Agent"); each run is looked at once (/\s+\//g rescanned
  // a long run from each of its characters).
  const threat = val(f.threatname)?.replace(/\s+/g, (ws: string, at: number, s: string) => (s[at + ws.length] === '/' ? '' : ws));
  const url = val(f.url);
  const urlIsIp = url !== undefined && canonicalIp(url) !== undefined;
  return {
    ...b,
    vendor_id: val(f.eventid) ?? b.vendor_id,
    title: `ATP: ${threat ?? 'advanced threat detected'}`,
    rule: compact({ id: threat ?? val(f.log_id), name: threat, category: 'atp' }),
    malware: threat ? { name: threat } : undefined,
    url: urlIsIp ? undefined : url,
    domain: urlIsIp ? undefined : (normalizeDomain(url) ?? hostOf(url)),
    process: compact({ name: val(f.execution_path)?.split(/[\\/]/).pop(), command_line: undefined }),
    host: compact({ id: val(f.ep_uuid) }),
  };
}

function sandboxAlert(f: Fields, b: Omit<AlertDraft, 'title'>): AlertDraft {
  const file = fileOf(f);
  const url = val(f.url);
  return {
    ...b,
    title: `Sandstorm: ${val(f.reason) ?? val(f.log_subtype) ?? 'malicious file'}${file?.name ? ` - ${file.name}` : ''}`,
    rule: compact({ id: val(f.log_id), name: val(f.reason), category: 'sandbox' }),
    file,
    url,
    // source: the web server the file came from
    domain: hostOf(url) ?? normalizeDomain(val(f.source)),
  };
}

function webAlert(f: Fields, b: Omit<AlertDraft, 'title'>, logType: string): AlertDraft {
  const category = val(f.http_category) ?? val(f.category) ?? val(f.app_category) ?? val(f.app_name);
  const url = val(f.url);
  const subtype = val(f.log_subtype) ?? 'Denied';
  const what = val(f.app_name) && !val(f.url) ? `application ${f.app_name}` : (category ?? 'uncategorised');
  return {
    ...b,
    title: `${logType === 'WAF' ? 'WAF' : 'Web filter'} ${subtype}: ${what}`,
    rule: compact({ id: val(f.log_id), name: category, category: `${logType}${val(f.log_component) ? `/${f.log_component}` : ''}` }),
    url,
    domain: normalizeDomain(val(f.domain) ?? val(f.domainname)) ?? hostOf(url),
  };
}

function severityOf(f: Fields): { severity: number; vendor?: AlertDraft['vendor_severity'] } {
  const word = val(f.priority) ?? val(f.severity);
  const key = word?.toLowerCase();
  if (word && key && Object.hasOwn(LEVELS, key)) return { severity: LEVELS[key]!, vendor: { value: word, scale: SCALE } };
  return { severity: UNKNOWN_SEVERITY, vendor: word ? { value: word, scale: SCALE } : undefined };
}

function actionOf(subtype: string | undefined): DetectorAction | undefined {
  const v = subtype?.toLowerCase();
  if (!v) return undefined;
  if (v === 'detect' || v === 'alert' || v === 'detected') return 'detected';
  if (v === 'virus' || v === 'infected') return 'unknown';
  if (/^(drop|denied|deny|blocked|block|reject|reset|warn)/.test(v)) return 'blocked';
  if (/^(allowed|allow|accept|pass)/.test(v)) return 'allowed';
  return mapAction(v);
}

function fileOf(f: Fields): FileInfo | undefined {
  // FTP anti-virus logs write the file's path in filename and the server-side path in file_path.
  const name = val(f.filename) ?? val(f.file_name);
  const path = val(f.file_path) ?? (name && /[\\/]/.test(name) ? name : undefined);
  const file: FileInfo = { name: (name ?? path)?.split(/[\\/]/).pop() || undefined, path, size: kvInt(f.filesize ?? f.file_size) };
  for (const key of ['sha256', 'sha1sum', 'sha1', 'md5', 'checksum', 'file_hash']) {
    const h = normalizeHash(f[key]);
    if (h && file[h.type] === undefined) file[h.type] = h.value;
  }
  return compact(file);
}

function emailOf(f: Fields): AlertDraft['email'] {
  const from = val(f.from_email_address) ?? val(f.sender);
  const to = val(f.to_email_address) ?? val(f.recipient);
  if (!from && !to) return undefined;
  return compact({ from, to: to ? to.split(/[,;]\s*/) : undefined, subject: val(f.email_subject) ?? val(f.subject) });
}

function vendorId(f: Fields, time: string): string {
  const dev = val(f.device_serial_id) ?? val(f.device_id) ?? val(f.device_name) ?? '';
  return [dev, val(f.log_id) ?? '', time, val(f.con_id) ?? '', val(f.src_ip) ?? val(f.sourceip) ?? '', val(f.src_port) ?? '', val(f.signature_id) ?? ''].join(':');
}

// ---- context -----------------------------------------------------------------------------------------------

/**
 * One context event from any SFOS log: the field names are shared across log types, so one mapping serves
 * firewall, web, anti-spam, sandbox and event logs.
 *   user        user_name (else user); "DOMAIN\\user" split     src / dst  src_ip:src_port, dst_ip:dst_port
 *   src (VPN)   remote_ip, else src_ip (the client's public address); assigned_ip assigned_ip / leased_ip
 *   assigned_ip (DHCP) reported_ip, the leased address; host reported_host (the DHCP client's name), src_mac
 *   device      the syslog header's host, else device_name; id device_serial_id / device_id
 *   outcome     status Successful/Failed, log_subtype Allowed/Denied on firewall and web logs
 *   session_id  con_id                     domain / url  domain (or domainname), url
 *   file        filename, file hashes (sandbox)
 *   email       from_email_address / sender, to_email_address / recipient, subject (anti-spam)
 */
function context(kind: ContextKind, f: Fields, time: string, eventType: string, header: string | undefined): ParseOutcome {
  const account = accountOf(f);
  const vpn = kind === 'vpn';
  const url = val(f.url);
  const event: ContextEvent = {
    kind,
    event_type: eventType,
    time,
    user: account,
    src: compact({ ip: (vpn ? val(f.remote_ip) : undefined) ?? val(f.src_ip) ?? val(f.sourceip), port: kvPort(f.src_port), user: account?.name }),
    dst: compact({ ip: val(f.dst_ip) ?? val(f.destinationip), port: kvPort(f.dst_port) }),
    assigned_ip: vpn ? (val(f.assigned_ip) ?? val(f.leased_ip) ?? val(f.tunnel_ip)) : kind === 'dhcp' ? val(f.reported_ip) : undefined,
    host: compact({ mac: val(f.src_mac), name: val(f.reported_host) ?? val(f.src_host) ?? val(f.client_host) }),
    device: deviceOf(f, header),
    outcome: outcomeOf(f),
    session_id: val(f.con_id),
    domain: normalizeDomain(val(f.domain) ?? val(f.domainname) ?? val(f.dstdomain) ?? val(f.source)) ?? hostOf(url),
    url,
    file: kind === 'file' ? fileOf(f) : undefined,
    email: kind === 'email' ? emailOf(f) : undefined,
    data: withoutEmpty(copyFields(f)),
    observables: defined([makeObservable('ip', val(f.src_trans_ip), 'src_nat'), makeObservable('ip', val(f.dst_trans_ip), 'dst_nat')]),
  };
  return { kind: 'context', events: [event] };
}

/**
 * The firewall that wrote the log, on alerts (base) and context alike: the syslog header's host name, else
 * device_name; its serial number as id.
 */
function deviceOf(f: Fields, header: string | undefined): HostInfo | undefined {
  return compact({ name: header ?? val(f.device_name), id: val(f.device_serial_id) ?? val(f.device_id) });
}

function outcomeOf(f: Fields): ContextOutcome | undefined {
  const v = `${val(f.status) ?? ''} ${val(f.log_subtype) ?? ''}`.toLowerCase();
  if (/success|allowed|\bconnected|established|logged in/.test(v)) return 'success';
  if (/fail|denied|block|reject|drop/.test(v)) return 'failure';
  return undefined;
}

function accountOf(f: Fields): AlertDraft['user'] {
  const a = splitAccount(val(f.user_name) ?? val(f.login_user) ?? val(f.user));
  return a ? compact({ name: a.name, domain: a.domain, email: a.email }) : undefined;
}

function alerts(a: AlertDraft): ParseOutcome {
  return { kind: 'alerts', alerts: [a] };
}

// ---- time --------------------------------------------------------------------------------------------------

function timeOf(f: Fields, prefix: string): string {
  const ts = val(f.timestamp);
  if (ts) {
    const t = tryParseTimestamp(ts);
    if (t) return t;
  }
  const date = val(f.date);
  const clock = val(f.time);
  if (date && clock) {
    const tzRaw = val(f.timezone);
    const zone = tzRaw ? (SOPHOS_ZONES[tzRaw.toUpperCase()] ?? (parseZone(tzRaw) ? tzRaw : undefined)) : undefined;
    const t = tryParseTimestamp(`${date} ${clock}`, { timeZone: zone });
    if (t) return t;
    throw new ParseError(`date/time "${excerpt(`${date} ${clock}`, 40)}" is not a valid time`);
  }
  if (ts) throw new ParseError(`timestamp "${excerpt(ts, 40)}" is not a valid time`);
  const env = prefix ? parseSyslog(prefix) : undefined;
  return env?.timestamp ?? receivedTime();
}

/**
 * SFOS writes some values unquoted even when they hold spaces ("threatname=C2 /Generic-A",
 * "device_id=C44313350024- P29PUA"); lib/kv.ts (rightly, in general) ends a bare value at the first space
 * and skips the stray words. Here words that are not key=value and follow a bare value are joined back to it.
 * One linear scan.
 */
function joinBareContinuations(text: string, f: Fields): void {
  const n = text.length;
  let i = 0;
  let lastKey: string | undefined;
  let bare = false;
  let started = false;
  const extra: Record<string, string> = Object.create(null) as Record<string, string>;
  while (i < n) {
    while (i < n && (text[i] === ' ' || text[i] === '\t')) i++;
    if (i >= n) break;
    const key = /^[A-Za-z0-9_.\-]{1,64}=/.exec(text.slice(i, i + 66));
    if (key) {
      started = true;
      lastKey = key[0].slice(0, -1);
      i += key[0].length;
      const q = text[i];
      if (q === '"' || q === "'") {
        bare = false;
        i++;
        while (i < n && text[i] !== q) i += text[i] === '\\' ? 2 : 1;
        i++;
      } else {
        bare = true;
        while (i < n && text[i] !== ' ' && text[i] !== '\t') i++;
      }
      continue;
    }
    const start = i;
    while (i < n && text[i] !== ' ' && text[i] !== '\t') i++;
    if (started && bare && lastKey !== undefined && !text.slice(start, i).includes('"')) {
      extra[lastKey] = `${extra[lastKey] ?? ''} ${text.slice(start, i)}`;
    }
  }
  for (const [k, v] of Object.entries(extra)) if (f[k] !== undefined && f[k]!.length + v.length <= 4096) f[k] = f[k] + v;
}

// ---- helpers -----------------------------------------------------------------------------------------------

function val(v: string | undefined): string | undefined {
  if (v === undefined) return undefined;
  const t = v.trim();
  return t === '' || t === 'N/A' || t === '-' ? undefined : t;
}

function hostOf(url: string | undefined): string | undefined {
  const h = hostOfUrl(url);
  return h && !canonicalIp(h) ? h : undefined;
}
