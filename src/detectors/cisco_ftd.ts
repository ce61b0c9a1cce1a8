/**
 * Cisco Secure Firewall Threat Defense (FTD, formerly Firepower) and Firepower Management Center syslog,
 * with Sourcefire / FMC classic intrusion alerts and ASA-style messages. Follows Cisco's "Cisco Secure
 * Firewall Threat Defense Syslog Messages" (430001 intrusion, 430002 connection start, 430003 connection end,
 * 430004 file, 430005 file malware; fields "Key: Value" separated by ", ") and "Cisco ASA Series Syslog
 * Messages" (106023 and friends), and the FMC "Syslog alerting for intrusion events" layout.
 *
 *   [header] %FTD-<level>-<id>: Key: Value, Key: Value, …       (also %NGIPS-, %ASA-, %FPR-; a JSON object
 *                                                                  after the id is read the same way)
 *   [header] SFIMS: [Primary Detection Engine (uuid)][policy] Alert message: [gid:sid:rev] "msg" [Impact: …]
 *            From "device" at <time> [Classification: …] [Priority: n] {PROTO} a:p->b:p
 *
 * Alerts:
 *   430001 intrusion  title Message; rule id the SID ("GID:SID" when GID ≠ 1, never the revision; name Message,
 *                     category Classification);
 *                     severity Priority (Snort 1 high … 4 low → 80/55/30/15), else EventPriority
 *                     (High/Medium/Low → 75/50/25); action InlineResult (Blocked/Dropped → blocked,
 *                     "Would have blocked/dropped" → detected; none → detected)
 *   430004 file       title "File event: <FileName> (<FileType>)"; severity 30, 50 when the file action
 *                     blocked it, 80 when SHA_Disposition is Malware; action FileAction
 *   430005 malware    title "Malware: <ThreatName>" (or the file name when the name is Unknown/Invalid ID);
 *                     severity ThreatScore (0-100) when given, else 80 for Malware disposition, 60 otherwise;
 *                     malware.name ThreatName; file FileName/FileSHA256/FileSize; url URI
 *   430002/430003 with a Security Intelligence verdict (IPReputationSICategory, DNSSICategory,
 *                     URLSICategory) → alert "Security Intelligence: <category>" (severity 70; action from
 *                     AccessControlRuleAction, "… Monitor" reasons → detected)
 *   SFIMS classic     as 430001 from the bracketed fields
 *   ASA 4000nn (IDS signatures), 733100/733101 (threat detection), 338xxx (botnet traffic filter) → alerts
 *                     with the ASA level as severity (0 emergency 95 … 4 warning 50 … 7 debug 0)
 *   every alert       device: the syslog header host (SFIMS: the sensor in 'From "…"', else the header host) and
 *                     DeviceUUID, as on context (deviceOf); never host, which is what the detection is about
 * Context: 430002/430003 without SI → flow (5-tuple, user, ConnectionID, First/LastPacketSecond, DNS query,
 * URL, device = header host + DeviceUUID); ASA 106001/106006/106007/106014/106015/106023/106100 (denies, ACL
 * hits) and 302013-302016/302020/302021 (connections) → flow with the 5-tuple; other ASA messages → auth, vpn,
 * audit, dhcp or other by message id, with the user, client, server and tunnel address their text states.
 * event_type: "<family>-<id>" (FTD-430001, ASA-106023), "SFIMS". Mapping table: docs/detectors/cisco_ftd.md.
 * Time: the syslog header's (its zone, else the source's), else FirstPacketSecond, else reception.
 * vendor_id: DeviceUUID (or header host) : InstanceID : ConnectionID : FirstPacketSecond : rule/sha.
 * User: "User" unless "No Authentication Required", "Not Found", "Unknown"; "realm\user" is split.
 */
import type { AlertDraft, DetectorAction, Endpoint, HostInfo } from '../model/alert.js';
import type { ContextKind, ContextOutcome } from '../model/context.js';
import type { Observable } from '../model/observable.js';
import { defineDetector, ParseError, type ContextEvent, type Detector, type ParseOutcome, type RawRecord } from './detector.js';
import { mapAction } from './lib/action.js';
import { receivedTime } from './lib/context.js';
import { copyFields, kvInt } from './lib/kv.js';
import { canonicalIp, hostOfUrl, makeObservable, normalizeDomain } from './lib/observables.js';
import { defined, splitAccount } from './lib/record.js';
import { UNKNOWN_SEVERITY, wordSeverity } from './lib/severity.js';
import { parseSnortAlertBody, snortPrioritySeverity, snortRuleId } from './lib/snort-alert.js';
import { parseSyslog, type SyslogMessage } from './lib/syslog.js';
import { excerpt, trimEndChars } from './lib/text.js';
import { tryParseTimestamp } from './lib/time.js';
import { compact, withoutEmpty } from './lib/values.js';

type Fields = Record<string, string>;

// Also as real senders write it: "%FTD-session-5-106100", "%FTD<Up>-4-…", "%FTD--6-…", and the "%FDT-" typo.
const MARKER = /%(FTD|ASA|NGIPS|FPR|FWSM|PIX|SFIMS|FDT)(?:-[A-Za-z]{1,16}|<[A-Za-z]{1,16}>)?-{1,2}(\d)-(\d{6})(?:\s*:\s?|\s)/;
const MAX_TEXT = 65536;
const ASA_LEVEL = [95, 90, 85, 70, 50, 25, 10, 0];
const ASA_SCALE = 'cisco syslog level 0 (emergency) - 7 (debug)';
// "*****": the ASA masks a user name it will not log (113005 with a rejected name).
const NO_USER = /^(?:no authentication required|not found|unknown|none|n\/a|-|\*+)$/i;

const ftd: Detector = {
  name: 'cisco_ftd',
  description: 'Cisco FTD / Firepower / FMC syslog (430001 intrusion, 430004/430005 file & malware, SFIMS alerts), ASA-style messages as context',
  format: 'text',
  sniff(record: RawRecord): number {
    if (record.json !== undefined) return 0;
    const head = record.text.slice(0, 2048);
    const m = MARKER.exec(head);
    if (m) {
      if (m[1] === 'ASA' || m[1] === 'PIX' || m[1] === 'FWSM') return 0.9;
      return /^43000[1-5]$/.test(m[3]!) ? 0.98 : 0.92;
    }
    if (/(?:^|\s)SFIMS:/.test(head) && /\[\d{1,10}:\d{1,12}:\d{1,10}\]/.test(head)) return 0.9;
    return 0;
  },
  parse(record: RawRecord): ParseOutcome {
    const text = trimEndChars(record.text.length > MAX_TEXT ? record.text.slice(0, MAX_TEXT) : record.text, '\r\n');
    const m = MARKER.exec(text.slice(0, 2048));
    if (!m) {
      if (/(?:^|\s)SFIMS:/.test(text.slice(0, 2048))) return alerts({ ...sfimsAlert(text), event_type: 'SFIMS' });
      throw new ParseError(`not a Cisco FTD/ASA message: no %FTD-n-nnnnnn / %ASA-n-nnnnnn found (starts: ${excerpt(text.trim(), 60)})`);
    }
    const envelope = envelopeOf(text.slice(0, m.index));
    const level = Number(m[2]);
    const id = m[3]!;
    const body = text.slice(m.index + m[0].length).trim();
    // The product's own name of the record type: the message id with its family ("FTD-430001", "ASA-106023").
    const eventType = `${m[1]!}-${id}`;
    if (/^43000[1-5]$/.test(id)) {
      const f = fieldsOf(body);
      const time = timeOf(envelope, f.FirstPacketSecond);
      if (id === '430001') return alerts({ ...intrusionAlert(f, time, envelope, m[1]!), event_type: eventType });
      if (id === '430004' || id === '430005') return alerts({ ...fileAlert(f, time, envelope, id), event_type: eventType });
      const si = siCategory(f);
      if (si) return alerts({ ...siAlert(f, time, envelope, si), event_type: eventType });
      return { kind: 'context', events: [connectionContext(f, time, id, envelope, eventType)] };
    }
    return asaMessage(m[1]!, level, id, body, timeOf(envelope, undefined), envelope);
  },
};
export default defineDetector(ftd);

// ---- Key: Value ----------------------------------------------------------------------------------------

const KEY = /(?:^|,\s?)([A-Za-z][A-Za-z0-9_]{0,40}(?: [A-Za-z][A-Za-z0-9_]{0,40})?):(?: |$)/g;

/** "Key: Value, Key: Value" (values may hold commas; a value in double quotes may hold anything) or JSON. */
export function fieldsOf(body: string): Fields {
  const out = Object.create(null) as Fields;
  if (body.startsWith('{')) {
    try {
      const j = JSON.parse(body) as unknown;
      if (j && typeof j === 'object' && !Array.isArray(j)) {
        for (const [k, v] of Object.entries(j as Record<string, unknown>).slice(0, 512)) {
          if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') out[k] = String(v);
        }
        return out;
      }
    } catch {
      // not JSON after all: read it as Key: Value text
    }
  }
  // A quoted value ends at the first '"' followed by ',' or the end. Values start ever further right, so one
  // search result serves every later value that starts before it (a search per key was quadratic).
  let found = { from: -1, close: -1 };
  const closingQuote = (from: number): number => {
    if (found.from >= 0 && from >= found.from && (found.close < 0 || from <= found.close)) return found.close;
    let close = body.indexOf('"', from);
    while (close >= 0 && close + 1 < body.length && body[close + 1] !== ',') close = body.indexOf('"', close + 1);
    found = { from, close };
    return close;
  };
  KEY.lastIndex = 0;
  let m = KEY.exec(body);
  let count = 0;
  while (m && count++ < 512) {
    const key = m[1]!;
    const start = m.index + m[0].length;
    let value: string;
    let resume: number;
    if (body[start] === '"') {
      const close = closingQuote(start + 1);
      if (close >= 0) {
        value = body.slice(start + 1, close);
        resume = close + 1;
        KEY.lastIndex = resume;
        m = KEY.exec(body);
        if (!(key in out)) out[key] = value;
        continue;
      }
    }
    KEY.lastIndex = start;
    const next = KEY.exec(body);
    const end = next ? next.index : body.length;
    value = body.slice(start, end).trim();
    if (!(key in out)) out[key] = value;
    m = next;
  }
  return out;
}

// ---- alerts ----------------------------------------------------------------------------------------------

function intrusionAlert(f: Fields, time: string, env: SyslogMessage | undefined, family: string): AlertDraft {
  const gid = kvInt(f.GID) ?? 1;
  const sid = kvInt(f.SID) ?? kvInt(f.SigID) ?? kvInt(f.SignatureID);
  const rev = kvInt(f.Revision) ?? kvInt(f.Rev);
  const message = val(f.Message) ?? val(f.SignatureMessage) ?? val(f.Signature);
  if (sid === undefined && !message) throw new ParseError('430001 intrusion event has neither SID nor Message');
  const ruleId = sid === undefined ? undefined : snortRuleId(gid, sid);
  const prio = kvInt(f.Priority) ?? kvInt(f.PriorityID);
  const bySnort = snortPrioritySeverity(prio);
  const ep = val(f.EventPriority);
  const byEp = wordSeverity(ep);
  const user = userOf(f.User);
  return {
    vendor_id: vendorId(f, env, sid === undefined ? undefined : `${gid}:${sid}:${rev ?? ''}`),
    time,
    title: message ?? `${family} intrusion event ${ruleId}`,
    rule: compact({ id: ruleId, name: message, category: val(f.Classification) }),
    severity: bySnort ?? byEp ?? UNKNOWN_SEVERITY,
    vendor_severity: bySnort !== undefined ? { value: String(prio), scale: 'snort priority 1 (high) - 4 (low)' } : ep ? { value: ep, scale: 'fmc event priority low|medium|high' } : undefined,
    action: inlineAction(val(f.InlineResult) ?? val(f.IntrusionAction)),
    ...endpoints(f, user?.name),
    user: user ? compact({ name: user.name, domain: user.domain }) : undefined,
    device: deviceOf(env, f),
    url: val(f.URL) ?? val(f.URI),
    domain: hostDomain(val(f.URL) ?? val(f.URI)),
    observables: natObservables(f),
  };
}

function fileAlert(f: Fields, time: string, env: SyslogMessage | undefined, id: string): AlertDraft {
  const malware = id === '430005';
  const name = val(f.FileName);
  const threat = val(f.ThreatName);
  const knownThreat = threat && !/^(?:unknown|invalid id|none|n\/a)$/i.test(threat) ? threat : undefined;
  const disposition = val(f.SHA_Disposition) ?? val(f.Disposition);
  const fileAction = val(f.FileAction);
  const score = kvInt(f.ThreatScore);
  let severity: number;
  if (malware) severity = score !== undefined && score <= 100 ? Math.max(score, /malware/i.test(disposition ?? '') ? 70 : 0) : /malware/i.test(disposition ?? '') ? 80 : 60;
  else severity = /malware/i.test(disposition ?? '') ? 80 : /block/i.test(fileAction ?? '') ? 50 : 30;
  const uri = val(f.URI) ?? val(f.URL);
  const user = userOf(f.User);
  return {
    vendor_id: vendorId(f, env, val(f.FileSHA256) ?? name),
    time,
    title: malware ? `Malware: ${knownThreat ?? name ?? 'unknown file'}` : `File event: ${name ?? 'unnamed file'}${val(f.FileType) ? ` (${f.FileType})` : ''}`,
    rule: compact({ id: malware ? (knownThreat ? `malware:${knownThreat}` : '430005') : `file:${val(f.FilePolicy) ?? 'policy'}:${val(f.FileType) ?? 'any'}`, name: malware ? knownThreat ?? val(f.FilePolicy) : val(f.FilePolicy), category: malware ? 'malware' : 'file' }),
    severity,
    vendor_severity: malware && score !== undefined ? { value: String(score), scale: 'amp threat score 0-100' } : disposition ? { value: disposition, scale: 'amp disposition clean|unknown|malware|unavailable|custom detection' } : undefined,
    action: fileActionOf(fileAction),
    ...endpoints(f, user?.name),
    user: user ? compact({ name: user.name, domain: user.domain }) : undefined,
    device: deviceOf(env, f),
    file: compact({ name, sha256: val(f.FileSHA256), size: kvInt(f.FileSize) }),
    malware: knownThreat ? { name: knownThreat } : undefined,
    url: uri,
    domain: hostDomain(uri),
    observables: natObservables(f),
  };
}

function siCategory(f: Fields): string | undefined {
  for (const k of ['IPReputationSICategory', 'DNSSICategory', 'URLSICategory']) {
    const v = val(f[k]);
    if (v && !/^(?:none|n\/a)$/i.test(v)) return v;
  }
  return undefined;
}

function siAlert(f: Fields, time: string, env: SyslogMessage | undefined, category: string): AlertDraft {
  const user = userOf(f.User);
  const url = val(f.URL);
  const reason = val(f.AccessControlRuleReason) ?? '';
  const action = /monitor/i.test(reason) ? 'detected' : ruleAction(val(f.AccessControlRuleAction));
  const matching = val(f.SecIntMatchingIP);
  return {
    vendor_id: vendorId(f, env, `si:${category}`),
    time,
    title: `Security Intelligence: ${category}${matching ? ` (${matching.toLowerCase()} address)` : ''}`,
    rule: { id: `si:${category}`, name: category, category: 'security-intelligence' },
    severity: 70,
    vendor_severity: val(f.EventPriority) ? { value: f.EventPriority!, scale: 'fmc event priority low|medium|high' } : undefined,
    action,
    ...endpoints(f, user?.name),
    user: user ? compact({ name: user.name, domain: user.domain }) : undefined,
    device: deviceOf(env, f),
    url,
    domain: normalizeDomain(val(f.DNSQuery)) ?? hostDomain(url) ?? normalizeDomain(val(f.ReferencedHost)),
    observables: natObservables(f),
  };
}

function sfimsAlert(text: string): AlertDraft {
  const body = parseSnortAlertBody(text);
  if (!body) throw new ParseError(`SFIMS message without an intrusion rule [gid:sid:rev] (starts: ${excerpt(text.trim(), 60)})`);
  const env = envelopeOf(text.slice(0, text.indexOf('SFIMS')));
  const at = body.at ? tryParseTimestamp(body.at.replace(/\s+/g, ' ').replace(/ (\d{4}) ([A-Za-z]{2,5})$/, ' $2 $1')) : undefined;
  const time = at ?? env?.timestamp ?? receivedTime();
  const ruleId = snortRuleId(body.gid, body.sid);
  const sev = snortPrioritySeverity(body.priority);
  return {
    vendor_id: [body.device ?? env?.hostname ?? '', time, `${body.gid}:${body.sid}:${body.rev}`, body.src ?? '', body.sport ?? '', body.dst ?? '', body.dport ?? ''].join('|'),
    time,
    title: body.msg || `Intrusion event ${ruleId}`,
    rule: compact({ id: ruleId, name: body.msg || undefined, category: body.classification }),
    severity: sev ?? UNKNOWN_SEVERITY,
    vendor_severity: body.priority !== undefined ? { value: String(body.priority), scale: 'snort priority 1 (high) - 4 (low)' } : undefined,
    action: body.action ? inlineAction(body.action) : 'detected',
    src: compact({ ip: body.src, port: body.sport }),
    dst: compact({ ip: body.dst, port: body.dport }),
    // the sensor the FMC names ('From "FTD1"'); the syslog header is the FMC that relayed it
    device: deviceOf(env, undefined, body.device),
    observables: [],
  };
}

// ---- context -----------------------------------------------------------------------------------------------

/**
 * 430002/430003 connection events: src/dst (Initiator/Responder), user, ConnectionID as session,
 * FirstPacketSecond (and LastPacketSecond) as start/end, the DNS query or referenced host as domain, URL.
 */
function connectionContext(f: Fields, time: string, id: string, env: SyslogMessage | undefined, eventType: string): ContextEvent {
  const data: Record<string, unknown> = { message_id: id, event: id === '430002' ? 'connection-start' : 'connection-end', ...copyFields(f) };
  const user = userOf(f.User);
  const url = val(f.URL);
  const referenced = val(f.ReferencedHost);
  return {
    kind: 'flow',
    event_type: eventType,
    time,
    user: user ? compact(user) : undefined,
    ...endpoints(f, user?.name),
    device: deviceOf(env, f),
    outcome: /block|reset|deny/i.test(val(f.AccessControlRuleAction) ?? '') ? 'failure' : undefined,
    session_id: val(f.ConnectionID),
    // The access control rule that matched the connection.
    rule: compact({ name: val(f.AccessControlRuleName), category: val(f.AccessControlRuleAction) }),
    start: firstPacket(f.FirstPacketSecond),
    end: firstPacket(f.LastPacketSecond),
    domain: normalizeDomain(val(f.DNSQuery)) ?? hostDomain(url) ?? normalizeDomain(referenced?.replace(/:\d{1,5}$/, '')),
    url: url && hostOfUrl(url) ? url : undefined,
    data,
    observables: natObservables(f),
  };
}

function firstPacket(v: string | undefined): string | undefined {
  const t = val(v);
  return t ? tryParseTimestamp(t) : undefined;
}

/**
 * The reporting firewall, on alerts and context alike: the syslog header's host name (or the sensor an SFIMS
 * alert names, `sensor`), and the FMC-managed device's UUID.
 */
function deviceOf(env: SyslogMessage | undefined, f?: Fields, sensor?: string): HostInfo | undefined {
  // "Apr 15 2014 09:34:34 EDT: %FTD…": the header's last word is the time's zone, not a host
  const name = val(sensor) ?? (env?.hostname && !ZONE_WORD.test(env.hostname) ? env.hostname : undefined);
  return compact({ name, id: f ? val(f.DeviceUUID) : undefined });
}

const ZONE_WORD = /^(?:UTC|GMT|Z|[ECMPA][SD]T|CES?T|BST|IST|JST|AEST)$/;

// ASA "ifc:ip/port" (with an optional "(mapped/port)" after it, and an optional "[user]" prefix)
const ADDR = String.raw`(?:(\S{1,64}?):)?([0-9A-Fa-f:.]{2,45})\/(\d{1,5})`;
const ASA_FLOW: Array<[RegExp, (m: RegExpExecArray) => Record<string, string | undefined>]> = [
  // 106023 Deny tcp src outside:1.2.3.4/5 dst inside:10.1.1.1/80 by access-group "acl" [0x0, 0x0]
  [new RegExp(String.raw`^Deny (\S{1,16}) src ${ADDR} dst ${ADDR}(?: \(type (\d+), code (\d+)\))? by access-group "([^"]{0,128})"`),
    (m) => ({ action: 'deny', proto: m[1], src_if: m[2], src: m[3], sport: m[4], dst_if: m[5], dst: m[6], dport: m[7], acl: m[10] })],
  // 106100 access-list acl denied tcp outside/1.2.3.4(5) -> inside/10.1.1.1(80) hit-cnt 1 …
  [/^access-list (\S{1,128}) (permitted|denied|est-allowed) (\S{1,16}) (\S{1,64}?)\/([0-9A-Fa-f:.]{2,45})\((\d{1,5})\)(?:\(\S{0,64}\))? -> (\S{1,64}?)\/([0-9A-Fa-f:.]{2,45})\((\d{1,5})\)/,
    (m) => ({ acl: m[1], action: m[2], proto: m[3], src_if: m[4], src: m[5], sport: m[6], dst_if: m[7], dst: m[8], dport: m[9] })],
  // 106001/106006/106007/106015: Inbound TCP connection denied from 1.2.3.4/5 to 10.1.1.1/80 flags SYN on interface outside
  [/^(?:Inbound|Deny inbound|Deny|Deny outbound)? ?(?:\(No xlate\) )?(\S{1,16})? ?(?:connection )?(?:denied )?from ([0-9A-Fa-f:.]{2,45})\/(\d{1,5}) to ([0-9A-Fa-f:.]{2,45})\/(\d{1,5})(?:.*? on interface (\S{1,64}))?/,
    (m) => ({ action: 'deny', proto: m[1], src: m[2], sport: m[3], dst: m[4], dport: m[5], src_if: m[6] })],
  // 302013/302015 Built inbound TCP connection 123 for outside:1.2.3.4/5 (1.2.3.4/5) to inside:10.1.1.1/80 (…)
  // (a user name may follow either address: "… for outside:1.2.3.4/53 user1 to inside:…")
  [new RegExp(String.raw`^(Built|Teardown) (?:(inbound|outbound) )?(\S{1,16}) connection (\d{1,20}) (?:for|from) ${ADDR}(?: \([^)]{0,128}\))?(?:\([^)]{0,128}\))?(?: [^\s()]{1,64}(?= to ))? to ${ADDR}`),
    (m) => ({ action: m[1]!.toLowerCase(), direction: m[2], proto: m[3], connection: m[4], src_if: m[5], src: m[6], sport: m[7], dst_if: m[8], dst: m[9], dport: m[10] })],
  // 302020/302021 Built inbound ICMP connection for faddr 1.2.3.4/0 gaddr 5.6.7.8/0 laddr 10.1.1.1/0: the foreign
  // side starts an inbound connection, the local side an outbound one
  [/^(Built|Teardown) (?:(inbound|outbound) )?(\S{1,16}) connection for faddr ([0-9A-Fa-f:.]{2,45})\/(\d{1,5}) gaddr \S{1,64} laddr ([0-9A-Fa-f:.]{2,45})\/(\d{1,5})/,
    (m) => (m[2] === 'outbound'
      ? { action: m[1]!.toLowerCase(), direction: m[2], proto: m[3], src: m[6], sport: m[7], dst: m[4], dport: m[5] }
      : { action: m[1]!.toLowerCase(), direction: m[2], proto: m[3], src: m[4], sport: m[5], dst: m[6], dport: m[7] })],
];

/** ASA message ids by what they are about: AAA and management sign-ons, VPN sessions, commands run, URL filtering. */
function asaKind(id: string): ContextKind {
  if (/^11300[0-9]$|^1130(?:1[0-9]|2[0-9])$|^6051\d\d$|^60500[45]$|^6111\d\d$|^109\d{3}$/.test(id)) return 'auth';
  if (/^113039$|^722\d{3}$|^716\d{3}$|^751\d{3}$|^7520\d\d$|^602\d{3}$|^713\d{3}$|^7370\d\d$/.test(id)) return 'vpn';
  if (/^1110\d\d$|^502\d{3}$|^505\d{3}$/.test(id)) return 'audit';
  if (/^6040\d\d$/.test(id)) return 'dhcp';
  if (/^3040\d\d$/.test(id)) return 'http';
  return 'other';
}

function asaMessage(family: string, level: number, id: string, body: string, time: string, env: SyslogMessage | undefined): ParseOutcome {
  const n = Number(id);
  const eventType = `${family}-${id}`;
  const isFlowId = /^1060(?:01|06|07|14|15|23)$|^106100$|^3020(?:13|14|15|16|20|21)$/.test(id);
  if (isFlowId) {
    for (const [re, pick] of ASA_FLOW) {
      const m = re.exec(body.slice(0, 2048));
      if (!m) continue;
      const facts = pick(m);
      const data = withoutEmpty({ message_id: id, family, level, ...facts, message: body.slice(0, 4096) });
      const event: ContextEvent = {
        kind: 'flow',
        event_type: eventType,
        time,
        src: compact({ ip: facts.src, port: kvInt(facts.sport) }),
        dst: compact({ ip: facts.dst, port: kvInt(facts.dport) }),
        device: deviceOf(env),
        outcome: /deny|denied/.test(facts.action ?? '') ? 'failure' : undefined,
        session_id: facts.connection,
        data,
        observables: [],
      };
      return { kind: 'context', events: [event] };
    }
  }
  const ids = n >= 400000 && n <= 400099;
  const threat = id === '733100' || id === '733101' || id === '733102' || id === '733104' || id === '733105';
  const botnet = /^3380\d\d$/.test(id) && /black|grey|gray|malware|botnet/i.test(body);
  if (ids || threat || botnet) return { kind: 'alerts', alerts: [{ ...asaAlert(family, level, id, body, time, env, ids ? 'ids' : threat ? 'threat-detection' : 'botnet-filter'), event_type: eventType }] };
  return { kind: 'context', events: [asaContext(asaKind(id), eventType, family, level, id, body, time, env)] };
}

/**
 * Any other ASA/FTD message: the facts its text states in the few shapes Cisco uses across messages —
 * "user = bob", "User <bob>", 'for user "bob"', "Uname: bob" (the account); "user IP = a", "IP <a>",
 * "from a/port" (the client); "server = a"; "IPv4 Address <a> assigned" (the tunnel address);
 * "src ifc:a/port(user) dst ifc:b/port" (the two ends). Outcome from Rejected/denied/failed vs.
 * Successful/permitted/succeeded/ACCEPT.
 */
function asaContext(kind: ContextKind, eventType: string, family: string, level: number, id: string, body: string, time: string, env: SyslogMessage | undefined): ContextEvent {
  const text = body.slice(0, 2048);
  const ends = srcDst(text, id);
  // Unbounded repeats of one negated class: recheck proves them linear (bounded ones time its checker out).
  const userText = [/\buser = ([^:]+)/i, /\bUser <([^<>]+)>/, /\bfor user "([^"]+)"/, /\bUname: (\S+)/, /\bUser '([^']+)'/]
    .map((re) => re.exec(text)?.[1]?.trimEnd().slice(0, 256))
    .find((u) => u !== undefined && u !== '') ?? ends.user;
  const user = userOf(userText);
  const clientIp = [/\buser IP = ([0-9A-Fa-f:.]{2,45})/, /\bIP <([0-9A-Fa-f:.]{2,45})>/, /\bIP address: ([0-9A-Fa-f:.]{2,45})/, /\bfrom (?:IP )?([0-9A-Fa-f:.]{2,45})/]
    .map((re) => re.exec(text)?.[1])
    .find((ip) => ip !== undefined && canonicalIp(ip) !== undefined);
  const outcome: ContextOutcome | undefined = /\b(?:Rejected|denied|failed|failure|REJECT)\b/i.test(text) ? 'failure'
    : /\b(?:Successful|permitted|succeeded|ACCEPT|started|assigned|established)\b/i.test(text) ? 'success' : undefined;
  const between = /\bbetween ([0-9A-Fa-f:.]{2,45}) and ([0-9A-Fa-f:.]{2,45})\b/.exec(text); // IPsec/IKE peers: local and remote
  const ips = [...text.matchAll(/(?<![\w.:])(\d{1,3}(?:\.\d{1,3}){3})(?![\w.])/g)].slice(0, 8).map((x) => x[1]);
  return {
    kind,
    event_type: eventType,
    time,
    user: user ? compact(user) : undefined,
    src: compact({ ip: ends.src?.ip ?? clientIp ?? between?.[1], port: ends.src?.port, user: user?.name }),
    dst: compact({ ip: ends.dst?.ip ?? /\bserver = {1,4}([0-9A-Fa-f:.]{2,45})/.exec(text)?.[1] ?? between?.[2], port: ends.dst?.port, host: ends.dst?.host }),
    assigned_ip: /\bIPv[46] Address <([0-9A-Fa-f:.]{2,45})> assigned/.exec(text)?.[1],
    url: ends.url && hostOfUrl(ends.url) ? ends.url : undefined,
    device: deviceOf(env),
    outcome: kind === 'other' ? undefined : outcome,
    data: { message_id: id, family, level, message: body.slice(0, 4096) },
    observables: defined(ips.map((ip) => makeObservable('ip', ip, 'other'))),
  };
}

/**
 * "src ifc:addr/port(user, sgt) dst ifc:addr/port" as ASA writes the two ends of a packet, else "from a/port to
 * b/port"; 304001/304002 "<client> Accessed URL <server>:<url>", "Access denied URL <url> SRC a DEST b".
 */
function srcDst(text: string, id: string): { src?: Endpoint; dst?: Endpoint; user?: string; url?: string } {
  const accessed = /^(\S{1,45}) Accessed URL (\S{1,4096})/.exec(text);
  if (accessed) {
    const colon = accessed[2]!.indexOf(':');
    return { src: asaEndpoint(accessed[1]!).end, dst: asaEndpoint(accessed[2]!.slice(0, colon)).end, url: accessed[2]!.slice(colon + 1) };
  }
  const denied = /^Access denied URL (\S{1,4096}) SRC (\S{1,45}) DEST (\S{1,45})/.exec(text);
  if (denied) return { src: asaEndpoint(denied[2]!).end, dst: asaEndpoint(denied[3]!).end, url: denied[1] };
  let s: RegExpExecArray | null | undefined = / src (\S{1,160})/.exec(text);
  let d: RegExpExecArray | null | undefined = s ? / dst (\S{1,160})/.exec(text.slice(s.index)) : undefined;
  // 305xxx "translation from real to mapped": the "to" is the same machine's mapped address, not a destination
  if ((!s || !d) && !id.startsWith('305')) {
    const ft = /\bfrom (\S{1,160}) to (\S{1,160})/.exec(text);
    s = ft ? ([ft[0], ft[1]] as unknown as RegExpExecArray) : undefined;
    d = ft ? ([ft[0], ft[2]] as unknown as RegExpExecArray) : undefined;
  }
  if (!s || !d) return {};
  const src = asaEndpoint(s[1]!);
  const dst = asaEndpoint(d[1]!);
  return { src: src.end, dst: dst.end, user: src.user };
}

/** "outside:10.1.1.1/80(LOCAL\bob, 9999:sgt)" → address (or host name), port and the user in parentheses. */
function asaEndpoint(token: string): { end?: Endpoint; user?: string } {
  const paren = token.indexOf('(');
  const inner = paren >= 0 ? token.slice(paren + 1).replace(/\)?[.,]?$/, '') : '';
  let where = (paren >= 0 ? token.slice(0, paren) : token).replace(/[.,:]$/, '');
  const slash = where.lastIndexOf('/');
  const port = slash >= 0 ? kvInt(where.slice(slash + 1)) : undefined;
  if (slash >= 0) where = where.slice(0, slash);
  const addr = canonicalIp(where) ? where : where.slice(where.indexOf(':') + 1);
  const user = inner.split(',')[0]?.trim();
  // "(0.0.0.0)" alone: the address itself in parentheses (106016 spoof), not a user
  if (where === '' && user && canonicalIp(user)) return { end: { ip: user } };
  const end = canonicalIp(addr) ? { ip: addr, port } : normalizeDomain(addr) ? { host: addr, port } : undefined;
  return { end, user: user && !/^\d+:/.test(user) && !canonicalIp(user) ? user : undefined };
}

function asaAlert(family: string, level: number, id: string, body: string, time: string, env: SyslogMessage | undefined, kind: string): AlertDraft {
  const text = body.slice(0, 2048);
  let title: string;
  let ruleId = `${family}-${id}`;
  let src: Endpoint | undefined;
  let dst: Endpoint | undefined;
  if (kind === 'ids') {
    // IDS:2004 ICMP echo request from 10.1.1.1 to 10.2.2.2 on interface outside
    const m = /^IDS:(\d{1,6}) (.{1,200}?) from ([0-9A-Fa-f:.]{2,45}) to ([0-9A-Fa-f:.]{2,45})(?: on interface (\S{1,64}))?/.exec(text);
    title = m ? `IDS ${m[1]}: ${m[2]}` : `${family} IDS ${id}: ${text.slice(0, 120)}`;
    if (m) {
      ruleId = `ids:${m[1]}`;
      src = { ip: m[3] };
      dst = { ip: m[4] };
    }
  } else if (kind === 'threat-detection') {
    // No "[" inside the brackets: each character is scanned from one "[" only (linear); the name is trimmed here.
    const m = /\[([^[\]]*)\]\s*drop rate-(\d) exceeded/.exec(text);
    const name = m?.[1]!.trim();
    const rated = m && name && name.length <= 64 ? { name, rate: m[2]! } : undefined;
    const host = /(?:Host|Subnet) ([0-9A-Fa-f:.]{2,45})(?:\/\d+)? is (attacking|targeted)/.exec(text);
    title = rated ? `Threat detection: ${rated.name} drop rate-${rated.rate} exceeded` : `Threat detection: ${text.slice(0, 120)}`;
    if (rated) ruleId = `threat-detection:${rated.name.toLowerCase().replace(/\s+/g, '-')}`;
    if (host) {
      if (host[2] === 'attacking') src = { ip: host[1] };
      else dst = { ip: host[1] };
    }
  } else {
    const m = new RegExp(String.raw`traffic from ${ADDR}.{0,80}? to ${ADDR}`).exec(text);
    const domain = /resolved from \S{1,32} list: (\S{1,253})/.exec(text)?.[1];
    title = `Botnet traffic filter: ${domain ?? text.slice(0, 100)}`;
    ruleId = `botnet-filter:${id}`;
    if (m) {
      src = { ip: m[2], port: Number(m[3]) };
      dst = { ip: m[5], port: Number(m[6]), host: domain };
    }
  }
  return {
    vendor_id: `${family}-${id}:${time}:${src?.ip ?? ''}:${dst?.ip ?? ''}`,
    time,
    title,
    rule: { id: ruleId, name: title, category: kind },
    severity: ASA_LEVEL[level] ?? UNKNOWN_SEVERITY,
    vendor_severity: { value: String(level), scale: ASA_SCALE },
    action: /drop|deny|denied|block/i.test(text) ? 'blocked' : 'detected',
    src: src ? compact(src) : undefined,
    dst: dst ? compact(dst) : undefined,
    device: deviceOf(env),
    observables: [],
  };
}

// ---- helpers -----------------------------------------------------------------------------------------------

function endpoints(f: Fields, user: string | undefined): { src?: Endpoint; dst?: Endpoint } {
  return {
    src: compact({ ip: val(f.SrcIP) ?? val(f.InitiatorIP), port: kvInt(f.SrcPort) ?? kvInt(f.InitiatorPort), user }),
    dst: compact({ ip: val(f.DstIP) ?? val(f.ResponderIP), port: kvInt(f.DstPort) ?? kvInt(f.ResponderPort) }),
  };
}

function natObservables(f: Fields): Observable[] {
  return defined([
    makeObservable('ip', val(f.NAT_InitiatorIP), 'src_nat'),
    makeObservable('ip', val(f.NAT_ResponderIP), 'dst_nat'),
  ]);
}

/** "realm\\user" (FMC identity realms, ASA "LOCAL\\group\\user") → name after the last "\\", domain the first part. */
function userOf(raw: string | undefined): { name: string; domain?: string; email?: string } | undefined {
  const v = val(raw);
  if (!v || NO_USER.test(v)) return undefined;
  const a = splitAccount(v);
  const name = a?.name?.slice(a.name.lastIndexOf('\\') + 1).trim();
  return a && name ? compact({ name, domain: a.domain, email: a.email }) : undefined;
}

function inlineAction(v: string | undefined): DetectorAction {
  if (!v) return 'detected';
  if (/would/i.test(v)) return 'detected';
  if (/block|drop|reject|reset/i.test(v)) return 'blocked';
  return mapAction(v) ?? 'detected';
}

function fileActionOf(v: string | undefined): DetectorAction | undefined {
  if (!v) return undefined;
  if (/block|reset/i.test(v)) return 'blocked';
  if (/detect|alert|cloud lookup|log/i.test(v)) return 'detected';
  if (/allow/i.test(v)) return 'allowed';
  return mapAction(v);
}

function ruleAction(v: string | undefined): DetectorAction | undefined {
  if (!v) return undefined;
  if (/monitor/i.test(v)) return 'detected';
  if (/allow|trust/i.test(v)) return 'allowed';
  if (/block|reset|deny/i.test(v)) return 'blocked';
  return mapAction(v);
}

function vendorId(f: Fields, env: SyslogMessage | undefined, tail: string | undefined): string {
  return [val(f.DeviceUUID) ?? env?.hostname ?? '', val(f.InstanceID) ?? '', val(f.ConnectionID) ?? '', val(f.FirstPacketSecond) ?? env?.rawTimestamp ?? '', val(f.SrcIP) ?? '', val(f.SrcPort) ?? '', tail ?? ''].join(':');
}

/** The syslog header before the %FTD marker, without the "host :" colon some senders put before it. */
function envelopeOf(prefix: string): SyslogMessage | undefined {
  // Trimmed by hand: /\s*:?\s*$/ took cubic time on a long run of spaces.
  let p = prefix.trimEnd();
  if (p.endsWith(':')) p = p.slice(0, -1).trimEnd();
  p = p.trimStart();
  if (p === '') return undefined;
  return parseSyslog(`${p} `);
}

function timeOf(env: SyslogMessage | undefined, firstPacket: string | undefined): string {
  if (env?.timestamp) return env.timestamp;
  const fp = val(firstPacket);
  const t = fp ? tryParseTimestamp(fp) : undefined;
  return t ?? receivedTime();
}

function hostDomain(url: string | undefined): string | undefined {
  const h = hostOfUrl(url);
  return h && !canonicalIp(h) ? normalizeDomain(h) : undefined;
}

function alerts(a: AlertDraft): ParseOutcome {
  return { kind: 'alerts', alerts: [a] };
}

function val(v: string | undefined): string | undefined {
  if (v === undefined) return undefined;
  const t = v.trim();
  return t === '' ? undefined : t;
}
