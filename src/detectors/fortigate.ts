/**
 * Fortinet FortiGate (FortiOS 5.x … 7.6) logs in the default syslog key=value format, with or without a
 * syslog header ("<189>date=… time=…", "<189>Jan  1 … host date=…", RFC 5424 in front).
 * Follows the "FortiOS Log Message Reference" (fields: date, time, tz, eventtime, logid, type, subtype,
 * eventtype, level, devname, devid, vd, srcip, dstip, …; per-subtype fields attack/attackid/severity (IPS),
 * virus/virusid/dtype (AV), hostname/url/catdesc (web filter), app/appid/appcat (application control),
 * crscore/crlevel (client reputation), remip/tunnelip/xauthuser (VPN)). FortiOS 5.0 style records whose
 * type is the UTM feature itself (type=ips, type=virus, type=webfilter, …) are read as type=utm.
 *
 * Alerts — type=utm (and anomaly), subtypes ips, anomaly, virus, webfilter, app-ctrl, dlp, waf, file-filter,
 * emailfilter, ssl, ssh, icap, voip, casb, virtual-patch, and dns when blocked/redirected or a botnet hit:
 *   title       ips/anomaly: attack; virus: virus (+ " in <file>"); webfilter: "Web filter <action>:
 *               <catdesc>"; app-ctrl: "Application control: <app>"; others: msg, logdesc, or
 *               "<type> <subtype> <eventtype>"
 *   rule        ips/anomaly: attackid/attack; virus: virusid/virus; webfilter: cat/catdesc; app-ctrl:
 *               appid/app; others: logid/logdesc; category = subtype (+ "/" eventtype)
 *   severity    severity (IPS: info|low|medium|high|critical) when given, else crlevel (client reputation
 *               low|medium|high|critical), else level (syslog words emergency … debug)
 *   action      blocked, dropped, reset, clear_session, deny, block, quarantine → blocked|quarantined;
 *               pass, passthrough, allowed, accept, exempt → allowed; monitored, detected, analytics → detected
 *   time        date+time with tz (FortiOS 6.2+); else eventtime (epoch s/ms/µs/ns); else date+time in the
 *               source's zone; else the syslog header's time
 *   src / dst   srcip/srcport/user (or unauthuser)/srcname, dstip/dstport/hostname
 *   url         webfilter and app-ctrl: scheme (https for HTTPS/SSL services or port 443) + hostname + url
 *   domain      hostname, or qname (DNS filter)
 *   file        filename, filetype, filesize, analyticscksum / filehash (hash type by length)
 *   malware     virus (AV), and botnet names (DNS filter)
 *   user        user or unauthuser ("DOMAIN\user" split); host srcname, srcmac; vendor_id: "<devid>:<incidentserialno>" else
 *               "<devid>:<logid>:<eventtime|date time>:<sessionid>"
 *   device      devname / devid: the FortiGate that wrote the log (deviceOf, as on context)
 * Context — type=traffic → flow; event subtype vpn → vpn; subtype user and admin logins → auth; wad SSL alerts →
 * tls; endpoint → other; configuration changes and rest-api → audit; other events → status; utm dns without a
 * verdict → dns. One mapping for all (contextOf): user, src/dst, assigned_ip, host, device, outcome, session_id,
 * domain, url. event_type: "type/subtype" as written. Severity scale: FortiOS level/severity/crlevel words.
 * Mapping table: docs/detectors/fortigate.md.
 */
import type { AlertDraft, DetectorAction, FileInfo, HostInfo } from '../model/alert.js';
import type { ContextKind, ContextOutcome } from '../model/context.js';
import { defineDetector, ParseError, type ContextEvent, type Detector, type ParseOutcome, type RawRecord } from './detector.js';
import { mapAction } from './lib/action.js';
import { receivedTime } from './lib/context.js';
import { copyFields, kvInt, kvPort, parseKv } from './lib/kv.js';
import { canonicalIp, makeObservable, normalizeDomain, normalizeHash } from './lib/observables.js';
import { defined, splitAccount } from './lib/record.js';
import { UNKNOWN_SEVERITY, wordSeverity } from './lib/severity.js';
import { parseSyslog } from './lib/syslog.js';
import { excerpt, trimEndChars } from './lib/text.js';
import { parseZone, tryParseTimestamp } from './lib/time.js';
import { compact, withoutEmpty } from './lib/values.js';

type Fields = Record<string, string>;

const TYPES = new Set(['traffic', 'utm', 'event', 'anomaly']);
// FortiOS 5.0 and earlier: the UTM feature was the type.
const LEGACY_UTM = new Set(['ips', 'virus', 'webfilter', 'app-ctrl', 'dlp', 'emailfilter', 'spamfilter', 'waf', 'dns', 'ssl', 'ssh', 'voip', 'netscan', 'file-filter', 'icap', 'casb', 'virtual-patch']);
const MAX_LINE = 65536;

const fortigate: Detector = {
  name: 'fortigate',
  description: 'Fortinet FortiGate (FortiOS) key=value syslog: UTM (IPS, AV, web filter, app control, DLP…) as alerts; traffic, VPN and event logs as context',
  format: 'text',
  sniff(record: RawRecord): number {
    if (record.json !== undefined) return 0;
    const head = record.text.slice(0, 4096);
    // Cheap pre-check before the key=value scan: FortiOS always writes logid= and type=.
    if (!/(?:^|[\s>])logid="?\d{10}"?(?:\s|$)/.test(head) || !/(?:^|[\s>])type="?[a-z-]+"?(?:\s|$)/.test(head)) return 0;
    const f = parseKv(head).fields;
    if (f.log_type !== undefined || f.log_component !== undefined) return 0; // Sophos XG
    const type = (f.type ?? '').toLowerCase();
    if (!TYPES.has(type) && !LEGACY_UTM.has(type)) return 0.3;
    let score = 0.8;
    if (f.subtype !== undefined) score += 0.05;
    if (f.devid !== undefined || f.devname !== undefined || f.vd !== undefined) score += 0.1;
    if (/^F[GWAK]/i.test(f.devid ?? '')) score += 0.04;
    return Math.min(score, 0.99);
  },
  parse(record: RawRecord): ParseOutcome {
    const text = record.text.length > MAX_LINE ? record.text.slice(0, MAX_LINE) : record.text;
    const { fields: f, prefix } = parseKv(trimEndChars(text, '\r\n'));
    if (f.logid === undefined || f.type === undefined) {
      throw new ParseError(`not a FortiOS log: ${f.logid === undefined ? 'logid' : 'type'} is missing (starts: ${excerpt(text.trim(), 60)})`);
    }
    let type = f.type.toLowerCase();
    let subtype = (f.subtype ?? '').toLowerCase();
    if (LEGACY_UTM.has(type)) {
      subtype = subtype && LEGACY_UTM.has(subtype) ? subtype : type;
      type = 'utm';
    }
    const time = timeOf(f, prefix);
    // The product's own name of the record type, as written: traffic/forward, utm/ips, event/vpn (5.0: virus/infected).
    const eventType = [f.type, f.subtype].map(val).filter(Boolean).join('/').toLowerCase();
    if (type === 'utm' || type === 'anomaly') {
      if (subtype === 'dns' && !dnsVerdict(f)) return { kind: 'context', events: [contextOf('dns', f, time, eventType)] };
      return { kind: 'alerts', alerts: [utmAlert(f, subtype, time, eventType)] };
    }
    if (type === 'traffic') return { kind: 'context', events: [contextOf('flow', f, time, eventType)] };
    if (type === 'event') return { kind: 'context', events: [contextOf(eventKind(f, subtype), f, time, eventType)] };
    throw new ParseError(`FortiOS log type "${excerpt(f.type, 32)}" is not one this detector knows (traffic, utm, event)`);
  },
};
export default defineDetector(fortigate);

// ---- alerts ------------------------------------------------------------------------------------------------

function utmAlert(f: Fields, subtype: string, time: string, eventType: string): AlertDraft {
  const sev = severityOf(f);
  const scheme = /https|ssl|tls/i.test(f.service ?? '') || f.dstport === '443' ? 'https' : 'http';
  const hostname = val(f.hostname);
  const url = webUrl(scheme, hostname, val(f.url));
  const account = splitAccount(val(f.user) ?? val(f.unauthuser));
  const virus = val(f.virus);
  const botnet = val(f.botnetdomain) ?? val(f.botnetip);
  return {
    vendor_id: vendorId(f, time),
    event_type: eventType,
    time,
    title: titleOf(f, subtype),
    rule: ruleOf(f, subtype),
    severity: sev.severity,
    vendor_severity: sev.vendor,
    action: actionOf(f.action ?? f.utmaction),
    src: compact({ ip: val(f.srcip), port: kvPort(f.srcport), user: account?.name, host: val(f.srcname) }),
    dst: compact({ ip: val(f.dstip), port: kvPort(f.dstport), host: hostname && !canonicalIp(hostname) ? hostname : undefined }),
    user: account ? compact({ name: account.name, domain: account.domain, email: account.email }) : undefined,
    // The client machine the detection is about, where FortiOS names it (srcname, or the FortiClient's host).
    host: compact({ name: val(f.srcname) ?? val(f.fctsrcname), mac: val(f.srcmac) }),
    // The FortiGate that saw it, as on context events.
    device: deviceOf(f),
    url,
    domain: normalizeDomain(hostname) ?? normalizeDomain(val(f.qname)) ?? normalizeDomain(val(f.botnetdomain)),
    file: fileOf(f),
    malware: virus || botnet ? compact({ name: virus ?? botnet }) : undefined,
    email: subtype === 'emailfilter' ? compact({ from: val(f.from) ?? val(f.sender), to: val(f.to) ? [f.to!] : val(f.recipient) ? [f.recipient!] : undefined, subject: val(f.subject) }) : undefined,
    observables: defined([
      makeObservable('ip', val(f.transip), 'src_nat'),
      makeObservable('mac', val(f.srcmac), 'src'),
      makeObservable('ip', canonicalIp(val(f.botnetip)), 'dst'),
    ]),
  };
}

function titleOf(f: Fields, subtype: string): string {
  switch (subtype) {
    case 'ips':
    case 'anomaly':
      return val(f.attack) ?? val(f.msg) ?? `FortiGate ${subtype} ${f.attackid ?? ''}`.trim();
    case 'virus': {
      const v = val(f.virus);
      const file = val(f.filename);
      return v ? `${v}${file ? ` in ${file}` : ''}` : (val(f.msg) ?? 'FortiGate antivirus detection');
    }
    case 'webfilter':
      return `Web filter ${f.action ?? 'event'}: ${val(f.catdesc) ?? val(f.msg) ?? 'uncategorised'}`;
    case 'app-ctrl':
      return `Application control: ${val(f.app) ?? val(f.msg) ?? f.appid ?? 'unknown application'}`;
    default:
      return val(f.msg) ?? val(f.logdesc) ?? `FortiGate ${f.type ?? 'utm'} ${subtype} ${f.eventtype ?? ''}`.trim();
  }
}

function ruleOf(f: Fields, subtype: string): AlertDraft['rule'] {
  const category = [subtype, val(f.eventtype)].filter(Boolean).join('/') || undefined;
  switch (subtype) {
    case 'ips':
    case 'anomaly':
      return compact({ id: val(f.attackid) ?? val(f.logid), name: val(f.attack), category });
    case 'virus':
      return compact({ id: val(f.virusid) ?? val(f.logid), name: val(f.virus), category: [category, val(f.dtype)].filter(Boolean).join(' ') || undefined });
    case 'webfilter':
      return compact({ id: val(f.cat) ? `webfilter:${f.cat}` : val(f.logid), name: val(f.catdesc), category });
    case 'app-ctrl':
      return compact({ id: val(f.appid) ? `app:${f.appid}` : val(f.logid), name: val(f.app), category: val(f.appcat) ?? category });
    default:
      return compact({ id: val(f.logid), name: val(f.logdesc) ?? val(f.msg), category });
  }
}

const LEVELS: Record<string, number> = {
  emergency: 95, alert: 90, critical: 85, error: 70, warning: 50, notice: 25, information: 10, informational: 10, info: 10, debug: 0,
};

function severityOf(f: Fields): { severity: number; vendor?: AlertDraft['vendor_severity'] } {
  const s = val(f.severity);
  const fromSev = wordSeverity(s);
  if (s && fromSev !== undefined) return { severity: fromSev, vendor: { value: s, scale: 'fortios severity info|low|medium|high|critical' } };
  const cr = val(f.crlevel);
  const fromCr = wordSeverity(cr);
  if (cr && fromCr !== undefined) return { severity: fromCr, vendor: { value: cr, scale: 'fortios crlevel low|medium|high|critical' } };
  const level = val(f.level)?.toLowerCase();
  if (level && Object.hasOwn(LEVELS, level)) return { severity: LEVELS[level]!, vendor: { value: f.level!, scale: 'fortios level emergency|alert|critical|error|warning|notice|information|debug' } };
  return { severity: UNKNOWN_SEVERITY };
}

function actionOf(a: string | undefined): DetectorAction | undefined {
  const v = val(a)?.toLowerCase();
  if (!v) return undefined;
  if (/^(monitored|detected|analytics|log-only|logged)$/.test(v)) return 'detected';
  if (/^(pass|passthrough|allowed|allow|accept|exempt|permit|continue)$/.test(v)) return 'allowed';
  if (/quarantin|ban/.test(v)) return 'quarantined';
  if (/^(blocked|block|dropped|drop|reset|clear_session|deny|denied|reject|redirect|close|timeout-block|oversize|blocked-cert|block-cert-invalid)/.test(v)) return 'blocked';
  return mapAction(v);
}

function dnsVerdict(f: Fields): boolean {
  const action = (f.action ?? '').toLowerCase();
  return /block|redirect|deny/.test(action) || f.botnetdomain !== undefined || f.botnetip !== undefined || /botnet|malicious|phishing/i.test(`${f.catdesc ?? ''} ${f.msg ?? ''}`);
}

function fileOf(f: Fields): FileInfo | undefined {
  const file: FileInfo = { name: val(f.filename), size: kvPort(f.filesize) ?? kvInt(f.filesize) };
  for (const key of ['analyticscksum', 'filehash', 'checksum', 'sha256', 'sha1', 'md5']) {
    const h = normalizeHash(f[key]);
    if (h && file[h.type] === undefined) file[h.type] = h.value;
  }
  return compact(file);
}

function webUrl(scheme: string, host: string | undefined, path: string | undefined): string | undefined {
  if (!path) return undefined;
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(path)) return path;
  if (!host) return undefined;
  const h = host.includes(':') && canonicalIp(host) ? `[${host}]` : host;
  return `${scheme}://${h}${path.startsWith('/') ? path : `/${path}`}`;
}

function vendorId(f: Fields, time: string): string {
  const dev = val(f.devid) ?? val(f.devname) ?? '';
  if (val(f.incidentserialno) && f.incidentserialno !== '0') return `${dev}:${f.incidentserialno}`;
  return `${dev}:${f.logid}:${val(f.eventtime) ?? time}:${val(f.sessionid) ?? ''}`;
}

// ---- context -----------------------------------------------------------------------------------------------

/** What an event log is about: its kind from the subtype, and for system logs from what was done. */
function eventKind(f: Fields, subtype: string): ContextKind {
  if (subtype === 'vpn') return 'vpn';
  if (subtype === 'user') return 'auth';
  const what = `${f.logdesc ?? ''} ${f.action ?? ''}`;
  if (/login|logon|logout|logoff|auth/i.test(what)) return 'auth';
  if (subtype === 'wad' && /ssl|tls|cert/i.test(what + (f.msg ?? ''))) return 'tls';
  if (subtype === 'endpoint') return 'other'; // FortiClient registrations: which user's machine had which address
  if (val(f.cfgpath) || subtype === 'rest-api' || /^(add|edit|delete|move|set|unset)$/i.test(f.action ?? '')) return 'audit';
  return 'status';
}

/**
 * One context event from any FortiOS log: the same field names mean the same thing across log types
 * (srcip/dstip, user, devname/devid, sessionid), so one mapping serves traffic, DNS and event logs.
 *   user        xauthuser (IPsec XAuth), else user, else unauthuser; "N/A" dropped by the gate
 *   src / dst   srcip:srcport (else remip:remport for VPN, else the address in ui "ssh(1.2.3.4)"),
 *               dstip:dstport (else locip:locport); srcname → src.host, hostname → dst.host
 *   assigned_ip tunnelip / assignip (VPN)     host     endpoint logs: name / ip / fctuid; else srcname
 *   device      devname / devid               outcome  status success|failure (or result OK/ERROR)
 *   session_id  sessionid, else tunnelid (VPN)   domain / url: qname or hostname; url when absolute or with hostname
 */
function contextOf(kind: ContextKind, f: Fields, time: string, eventType: string): ContextEvent {
  const user = [f.xauthuser, f.user, f.unauthuser].map(val).find((u) => u && u !== 'N/A');
  const account = splitAccount(user);
  const uiIp = /\(([0-9A-Fa-f:.]{2,45})\)\s*$/.exec(f.ui ?? '')?.[1];
  const vpn = kind === 'vpn';
  const hostname = val(f.hostname);
  const endpoint = f.subtype === 'endpoint';
  return {
    kind,
    event_type: eventType,
    time,
    user: account ? compact({ name: account.name, domain: account.domain, email: account.email }) : undefined,
    src: compact({ ip: val(f.srcip) ?? (vpn ? val(f.remip) : undefined) ?? uiIp, port: kvPort(f.srcport) ?? (vpn ? kvPort(f.remport) : undefined), host: val(f.srcname) }),
    dst: compact({ ip: val(f.dstip) ?? (vpn ? val(f.locip) : undefined), port: kvPort(f.dstport) ?? (vpn ? kvPort(f.locport) : undefined), host: hostname && !canonicalIp(hostname) ? hostname : undefined }),
    assigned_ip: vpn ? [f.tunnelip, f.assignip].map(val).find((v) => v && v !== 'N/A' && v !== '0.0.0.0') : undefined,
    host: endpoint ? compact({ name: val(f.name), ip: val(f.ip), id: val(f.fctuid) }) : compact({ name: val(f.srcname), mac: val(f.srcmac) }),
    device: deviceOf(f),
    outcome: outcomeOf(f),
    session_id: [f.sessionid, f.session_id, vpn ? f.tunnelid : undefined].map(val).find((v) => v && v !== '0'),
    domain: normalizeDomain(val(f.qname)) ?? normalizeDomain(hostname),
    url: webUrl(/https|ssl|tls/i.test(f.service ?? '') || f.dstport === '443' ? 'https' : 'http', hostname, val(f.url)),
    data: withoutEmpty(copyFields(f)),
    observables: defined([makeObservable('ip', val(f.transip), 'src_nat'), makeObservable('mac', val(f.srcmac), 'src')]),
  };
}

/** The FortiGate that wrote the log, on alerts and context alike: devname (a host name), devid (its serial number). */
function deviceOf(f: Fields): HostInfo | undefined {
  return compact({ name: val(f.devname), id: val(f.devid) });
}

function outcomeOf(f: Fields): ContextOutcome | undefined {
  const v = (val(f.status) ?? val(f.result) ?? '').toLowerCase();
  const action = (f.action ?? '').toLowerCase();
  if (/^(success|succeeded|ok|up|logon|negotiate success)$/.test(v)) return 'success';
  if (/^(fail|failed|failure|error|negotiate_error|denied|deny)$/.test(v) || /fail/.test(action)) return 'failure';
  // a traffic log's action is the policy verdict: the connection was refused
  if (f.type === 'traffic' && /^(deny|blocked|block|drop)$/.test(action)) return 'failure';
  return undefined;
}

// ---- time --------------------------------------------------------------------------------------------------

function timeOf(f: Fields, prefix: string): string {
  const date = val(f.date);
  const clock = val(f.time);
  const tz = val(f.tz);
  if (date && clock && tz && parseZone(tz.replace(/^"|"$/g, ''))) {
    const t = tryParseTimestamp(`${date} ${clock} ${tz}`);
    if (t) return t;
  }
  const epoch = val(f.eventtime);
  if (epoch && /^\d{9,20}$/.test(epoch)) {
    const t = tryParseTimestamp(epoch);
    if (t) return t;
  }
  if (date && clock) {
    const t = tryParseTimestamp(`${date} ${clock}`);
    if (t) return t;
    throw new ParseError(`date/time "${excerpt(`${date} ${clock}`, 40)}" is not a valid time`);
  }
  const env = prefix ? parseSyslog(prefix) : undefined;
  return env?.timestamp ?? receivedTime();
}

// ---- helpers -----------------------------------------------------------------------------------------------

function val(v: string | undefined): string | undefined {
  if (v === undefined) return undefined;
  const t = v.trim();
  return t === '' || t === 'N/A' || t === '"' ? undefined : t;
}
