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
 * Context: Firewall → "flow"; Event (VPN, SSL VPN, IPsec, authentication, admin…) → "vpn_session" when the
 * component is a VPN, "auth" for authentication, else "event"; Anti-Spam → "email"; System Health,
 * Wireless, Heartbeat, anything else → "event".
 * Severity scale: syslog words (priority / severity): Emergency 95, Alert 90, Critical 85, Error 70,
 * Warning 50, Notice 25, Information 10, Debug 0. action: log_subtype (Detect/Alert → detected, Drop/Denied/
 * Blocked → blocked, Allowed → allowed; AV "Virus" says nothing about the action → unknown).
 * Time: timestamp (with its offset), else date+time in `timezone` (BST read as +01:00 and IST as +05:30, the
 * zones these abbreviations mean on Sophos/Cyberoam devices), else the source's zone.
 */
import type { AlertDraft, DetectorAction, FileInfo } from '../model/alert.js';
import { defineDetector, ParseError, type ContextEvent, type Detector, type ParseOutcome, type RawRecord } from './detector.js';
import { mapAction } from './lib/action.js';
import { receivedTime } from './lib/context.js';
import { copyFields, kvInt, kvPort, parseKv } from './lib/kv.js';
import { canonicalIp, hostOfUrl, makeObservable, normalizeDomain, normalizeHash } from './lib/observables.js';
import { defined } from './lib/record.js';
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
    if (type === 'idp' || type === 'ips') return alerts(idpAlert(f, time));
    if (type === 'anti-virus' || type === 'antivirus') return alerts(avAlert(f, time));
    if (type === 'atp' || type === 'advanced threat protection') return alerts(atpAlert(f, time));
    if (type === 'sandbox' || type === 'sandstorm' || component === 'sandstorm') {
      if (/malicious|suspicious|denied|block|drop|virus/.test(`${subtype} ${(f.reason ?? '').toLowerCase()} ${(f.verdict ?? '').toLowerCase()}`)) return alerts(sandboxAlert(f, time));
      return context('file', f, time);
    }
    if (type === 'content filtering' || type === 'web filter' || type === 'webfilter' || type === 'application filter' || type === 'waf') {
      if (/denied|block|drop|warn|reject/.test(subtype)) return alerts(webAlert(f, time, logType));
      return context('web', f, time);
    }
    if (type === 'firewall') return context('flow', f, time);
    if (type === 'anti-spam' || type === 'antispam') return context('email', f, time);
    if (type === 'event') {
      if (/vpn|ipsec|l2tp|pptp|sslvpn|ssl vpn|remote access/.test(component)) return vpnContext(f, time);
      if (/auth|login|logon/.test(`${component} ${subtype}`)) return context('auth', f, time);
    }
    return context('event', f, time);
  },
};
export default defineDetector(sophos);

// ---- alerts ------------------------------------------------------------------------------------------------

function base(f: Fields, time: string): Omit<AlertDraft, 'title'> {
  const sev = severityOf(f);
  const user = val(f.user_name) ?? val(f.login_user) ?? val(f.user);
  const src = val(f.src_ip) ?? val(f.sourceip);
  const dst = val(f.dst_ip) ?? val(f.destinationip);
  return {
    time,
    vendor_id: vendorId(f, time),
    severity: sev.severity,
    vendor_severity: sev.vendor,
    action: actionOf(val(f.log_subtype)),
    src: compact({ ip: src, port: kvPort(f.src_port), user, host: val(f.src_host) }),
    dst: compact({ ip: dst, port: kvPort(f.dst_port) }),
    user: user ? compact({ name: userName(user), domain: userDomain(user) }) : undefined,
    observables: defined([
      makeObservable('mac', val(f.src_mac), 'src'),
      makeObservable('mac', val(f.dst_mac), 'dst'),
      makeObservable('ip', val(f.src_trans_ip), 'src_nat'),
      makeObservable('ip', val(f.dst_trans_ip), 'dst_nat'),
    ]),
  };
}

function idpAlert(f: Fields, time: string): AlertDraft {
  const b = base(f, time);
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

function avAlert(f: Fields, time: string): AlertDraft {
  const b = base(f, time);
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

function atpAlert(f: Fields, time: string): AlertDraft {
  const b = base(f, time);
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

function sandboxAlert(f: Fields, time: string): AlertDraft {
  const b = base(f, time);
  const file = fileOf(f);
  const url = val(f.url);
  return {
    ...b,
    title: `Sandstorm: ${val(f.reason) ?? val(f.log_subtype) ?? 'malicious file'}${file?.name ? ` - ${file.name}` : ''}`,
    rule: compact({ id: val(f.log_id), name: val(f.reason), category: 'sandbox' }),
    file,
    url,
    domain: hostOf(url),
  };
}

function webAlert(f: Fields, time: string, logType: string): AlertDraft {
  const b = base(f, time);
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
  const name = val(f.filename) ?? val(f.file_name);
  const path = val(f.file_path);
  const file: FileInfo = { name: name ?? path?.split(/[\\/]/).pop(), path, size: kvInt(f.filesize ?? f.file_size) };
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

function vpnContext(f: Fields, time: string): ParseOutcome {
  const user = val(f.user_name) ?? val(f.user);
  const remote = val(f.remote_ip) ?? val(f.src_ip) ?? val(f.remote_network);
  const tunnel = val(f.assigned_ip) ?? val(f.leased_ip) ?? val(f.tunnel_ip);
  const data = withoutEmpty({
    ...copyFields(f),
    user,
    public_ip: remote,
    private_ip: tunnel,
    event_id: val(f.log_subtype) ?? val(f.status),
    status: val(f.status),
    connection: val(f.connectionname) ?? val(f.connection_name),
  });
  return {
    kind: 'context',
    events: [{
      kind: 'vpn_session',
      time,
      data,
      observables: defined([makeObservable('user', user, 'user'), makeObservable('ip', canonicalIp(remote), 'src'), makeObservable('ip', tunnel, 'tunnel')]),
    }],
  };
}

function context(kind: string, f: Fields, time: string): ParseOutcome {
  const user = val(f.user_name) ?? val(f.user);
  const event: ContextEvent = {
    kind,
    time,
    data: withoutEmpty(copyFields(f)),
    observables: defined([
      makeObservable('ip', val(f.src_ip) ?? val(f.sourceip), 'src'),
      makeObservable('ip', val(f.dst_ip) ?? val(f.destinationip), 'dst'),
      makeObservable('ip', val(f.src_trans_ip), 'src_nat'),
      makeObservable('user', user, 'user'),
      makeObservable('mac', val(f.src_mac), 'src'),
      makeObservable('domain', val(f.domain) ?? val(f.domainname), 'dst'),
      makeObservable('url', val(f.url), 'url'),
    ]),
  };
  return { kind: 'context', events: [event] };
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

function userName(u: string): string {
  const bs = u.lastIndexOf('\\');
  return bs >= 0 ? u.slice(bs + 1) : u;
}

function userDomain(u: string): string | undefined {
  const bs = u.indexOf('\\');
  if (bs > 0) return u.slice(0, bs);
  const at = u.lastIndexOf('@');
  return at > 0 ? u.slice(at + 1) : undefined;
}

function hostOf(url: string | undefined): string | undefined {
  const h = hostOfUrl(url);
  return h && !canonicalIp(h) ? h : undefined;
}
