/**
 * Palo Alto Networks PAN-OS firewall logs, syslog default (CSV) format, PAN-OS 4.x … 11.x.
 * Follows "Syslog Field Descriptions" of the PAN-OS Administrator's Guide (8.1, 9.1, 10.1, 10.2, 11.x):
 * "Threat Log Fields", "Traffic Log Fields"; the common header and CSV handling are in lib/panos.ts.
 * Field positions below are 0-based CSV indexes (the vendor's tables list the same order; releases append).
 *
 * THREAT (subtypes url, virus, spyware, vulnerability, file, scan, flood, packet, resource, wildfire,
 * wildfire-virus, data, ml-virus …) → one alert:
 *   title        Threat Name (field 32 without its "(id)"); url subtype: "URL filtering: <category>" and the
 *                URL; wildfire: "WildFire <verdict (category field)>: <file> (<threat name>)"; without a
 *                name: "PAN-OS <subtype> <file name> <id>"
 *   rule         id = threat id from "(id)" (url: 9999, so URL alerts use "url:<category>"), name = threat
 *                name, category = Threat Category (69, 10.0+) else the subtype
 *   severity     Severity (34): informational 5, low 25, medium 50, high 75, critical 95 (lib/severity.ts)
 *   action       Action (30): alert → detected; allow/continue/override → allowed; deny, drop*, reset-*,
 *                block-*, sinkhole, random-drop, syncookie-sent → blocked
 *   time         high-resolution timestamp (107, 10.0+, carries its zone) else Generated Time (6) in the
 *                source's zone
 *   src / dst    Source/Destination Address (7/8), ports (24/25), Source/Destination User (12/13), device
 *                host names (86/94, 10.0+ device-ID)
 *   user         Source User, "domain\user" or "user@domain" split into name and domain
 *   url, domain  url subtype: the URL/Filename field (31, scheme-less "host/path"; https:// when the
 *                destination port is 443 or the app is ssl); virus/vulnerability/wildfire with a "/" in it
 *                likewise; spyware DNS detections with a host name there: domain
 *   file         file name from field 31, File Digest (43: SHA-256 for wildfire), File Type (47)
 *   malware      virus, wildfire, spyware, ml-virus: threat name
 *   email        Sender/Subject/Recipient (50-52, WildFire e-mail links)
 *   vendor_id    "<serial>:<sequence number 36>"; "<serial>:<session>:<generated>:<threat id>" when the
 *                sequence number is 0 (old releases)
 *   observables  + NAT source/destination addresses (roles src_nat / dst_nat), source/destination MACs
 * TRAFFIC → context "flow" (addresses, NAT, ports, app, rule, action, bytes, packets, end reason…).
 * SYSTEM, CONFIG, USERID, HIPMATCH, AUTHENTICATION, DECRYPTION, … → context "panos_<type>" with the header
 * fields and the raw CSV fields. GLOBALPROTECT records belong to panos_globalprotect (sniffs higher).
 */
import type { AlertDraft, DetectorAction } from '../model/alert.js';
import type { Observable } from '../model/observable.js';
import { defineDetector, ParseError, type ContextEvent, type Detector, type ParseOutcome, type RawRecord } from './detector.js';
import { mapAction } from './lib/action.js';
import { canonicalIp, makeObservable, normalizeDomain } from './lib/observables.js';
import { addressField, field, findPanosCsv, panosTime, panosUser, parsePanos, splitThreatId, type PanosRecord } from './lib/panos.js';
import { defined } from './lib/record.js';
import { UNKNOWN_SEVERITY, wordSeverity } from './lib/severity.js';
import { compact } from './lib/values.js';

const SCALE = 'pan-os informational|low|medium|high|critical';

// THREAT field indexes.
const T = {
  src: 7, dst: 8, natsrc: 9, natdst: 10, rule: 11, srcuser: 12, dstuser: 13, app: 14, vsys: 15, from: 16, to: 17,
  sessionid: 22, repeat: 23, sport: 24, dport: 25, natsport: 26, natdport: 27, proto: 29, action: 30, misc: 31,
  threatid: 32, category: 33, severity: 34, direction: 35, seqno: 36, srcloc: 38, dstloc: 39, contenttype: 41,
  filedigest: 43, cloud: 44, useragent: 46, filetype: 47, xff: 48, referer: 49, sender: 50, subject: 51, recipient: 52,
  reportid: 53, vsysname: 58, devicename: 59, httpmethod: 63, thrcategory: 69, contentver: 70, ruleuuid: 76,
  srchost: 86, srcmac: 87, dsthost: 94, dstmac: 95, highres: 107,
} as const;

// TRAFFIC field indexes.
const F = {
  src: 7, dst: 8, natsrc: 9, natdst: 10, rule: 11, srcuser: 12, dstuser: 13, app: 14, vsys: 15, from: 16, to: 17,
  inif: 18, outif: 19, sessionid: 22, repeat: 23, sport: 24, dport: 25, natsport: 26, natdport: 27, proto: 29,
  action: 30, bytes: 31, bytessent: 32, bytesrecv: 33, packets: 34, start: 35, elapsed: 36, category: 37, seqno: 39,
  srcloc: 41, dstloc: 42, pktssent: 44, pktsrecv: 45, endreason: 46, vsysname: 51, devicename: 52, actionsource: 53,
  ruleuuid: 65, srchost: 82, srcmac: 83, dsthost: 90, dstmac: 91, highres: 102,
} as const;

const panos: Detector = {
  name: 'panos',
  description: 'Palo Alto Networks PAN-OS syslog CSV: THREAT logs as alerts; TRAFFIC and other logs as context',
  format: 'text',
  sniff(record: RawRecord): number {
    if (record.json !== undefined) return 0;
    const found = findPanosCsv(record.text);
    if (!found) return 0;
    if (found.type === 'GLOBALPROTECT') return 0.55; // panos_globalprotect claims these higher
    if (found.type === 'SYSTEM' && /^[^,]*,[^,]*,[^,]*,SYSTEM,globalprotect,/.test(record.text.slice(found.index, found.index + 200))) return 0.6;
    return 0.95;
  },
  parse(record: RawRecord): ParseOutcome {
    const rec = parsePanos(record.text);
    if (rec.type === 'THREAT') return { kind: 'alerts', alerts: [threatAlert(rec)] };
    if (rec.type === 'TRAFFIC') return { kind: 'context', events: [trafficEvent(rec)] };
    return { kind: 'context', events: [otherEvent(rec)] };
  },
};
export default defineDetector(panos);

// ---- THREAT ------------------------------------------------------------------------------------------------

function threatAlert(rec: PanosRecord): AlertDraft {
  const f = rec.fields;
  if (f.length <= T.severity) {
    throw new ParseError(`PAN-OS THREAT log has ${f.length} fields; at least ${T.severity + 1} expected (Severity is field ${T.severity + 1})${rec.unterminated ? '; a quoted field is not closed' : ''}`);
  }
  const subtype = rec.subtype.toLowerCase();
  const time = panosTime(rec, T.highres);
  const threat = splitThreatId(field(f, T.threatid));
  const category = field(f, T.category);
  const misc = field(f, T.misc);
  const dport = field(f, T.dport);
  const app = field(f, T.app);
  const placed = placeMisc(subtype, misc, dport, app);
  const sevWord = field(f, T.severity);
  const sev = wordSeverity(sevWord);
  const user = panosUser(field(f, T.srcuser)) ?? panosUser(field(f, T.dstuser));
  const srcUser = panosUser(field(f, T.srcuser));
  const dstUser = panosUser(field(f, T.dstuser));
  const isUrl = subtype === 'url';
  const name = threat.name;
  const wildfire = subtype.startsWith('wildfire');
  const title = isUrl
    ? `URL filtering: ${category ?? 'uncategorized'}${misc ? ` - ${misc}` : ''}`
    : wildfire
      ? `WildFire ${category ?? 'verdict'}: ${placed.file?.name ?? misc ?? name ?? 'file'}${name ? ` (${name})` : ''}`
      : (name ?? `PAN-OS ${subtype || 'threat'}${placed.file?.name ? ` ${placed.file.name}` : ''}${threat.id ? ` ${threat.id}` : ''}`);
  const digest = field(f, T.filedigest);
  const file = placed.file || digest ? compact({ ...placed.file, sha256: digest && /^[0-9a-f]{64}$/i.test(digest) ? digest : undefined, sha1: digest && /^[0-9a-f]{40}$/i.test(digest) ? digest : undefined, md5: digest && /^[0-9a-f]{32}$/i.test(digest) ? digest : undefined }) : undefined;
  const isMalware = /virus|wildfire|spyware/.test(subtype);
  const extra: Array<Observable | undefined> = [
    makeObservable('ip', addressField(f, T.natsrc), 'src_nat'),
    makeObservable('ip', addressField(f, T.natdst), 'dst_nat'),
    makeObservable('mac', field(f, T.srcmac), 'src'),
    makeObservable('mac', field(f, T.dstmac), 'dst'),
  ];
  return {
    vendor_id: vendorId(rec, time, threat.id),
    time,
    title,
    rule: compact({
      id: isUrl ? `url:${category ?? 'unknown'}` : threat.id,
      name: isUrl ? `URL category ${category ?? 'unknown'}` : name,
      category: meaningful(field(f, T.thrcategory)) ?? (subtype || undefined),
    }),
    severity: sev ?? UNKNOWN_SEVERITY,
    vendor_severity: sevWord ? { value: sevWord, scale: SCALE } : undefined,
    action: panosAction(field(f, T.action)),
    src: compact({ ip: addressField(f, T.src), port: port(field(f, T.sport)), user: srcUser?.name, host: field(f, T.srchost) }),
    dst: compact({ ip: addressField(f, T.dst), port: port(dport), user: dstUser?.name, host: field(f, T.dsthost) ?? placed.host }),
    user: user ? compact({ name: user.name, domain: user.domain, email: user.email }) : undefined,
    url: placed.url,
    domain: placed.domain,
    file,
    malware: isMalware && name ? { name } : undefined,
    email: compact({ from: field(f, T.sender), to: field(f, T.recipient) ? [field(f, T.recipient)!] : undefined, subject: field(f, T.subject) }),
    observables: defined(extra),
  };
}

/** Field 31 holds a URL (url subtype and some others), a file name, or a DNS name (spyware). */
function placeMisc(subtype: string, misc: string | undefined, dport: string | undefined, app: string | undefined): {
  url?: string; domain?: string; host?: string; file?: { name?: string; path?: string };
} {
  if (!misc || misc === '-') return {};
  // "host.tld[:port]/…": a dot after the first character of the first segment. (Written so that the two
  // halves cannot trade characters: /^[^/\s\\]+\.[^/\s\\]+/ took quadratic time on a run of dots.)
  const urlLike = subtype === 'url' || (/^[^/\s\\][^/\s\\.]*\.[^/\s\\]+\//.test(misc) && subtype !== 'file');
  if (urlLike) {
    const url = absolute(misc, dport, app);
    const host = /^(?:[a-z][a-z0-9+.-]*:\/\/)?([^/:?#]+)/i.exec(misc)?.[1];
    const domain = host && !canonicalIp(host) ? normalizeDomain(host) : undefined;
    const last = misc.split('?')[0]!.split('/').pop();
    const fileName = subtype !== 'url' && last && /\.[A-Za-z0-9]{1,8}$/.test(last) ? last : undefined;
    return { url, domain, host: domain, file: fileName ? { name: fileName } : undefined };
  }
  if (subtype === 'spyware' || subtype === 'dns') {
    const d = normalizeDomain(misc.replace(/^\*\./, ''));
    if (d) return { domain: d, host: d };
  }
  if (/[\\/]/.test(misc)) return { file: { path: misc, name: misc.split(/[\\/]/).pop() || undefined } };
  return { file: { name: misc } };
}

function absolute(misc: string, dport: string | undefined, app: string | undefined): string {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(misc)) return misc;
  const tls = dport === '443' || /(^|-)ssl$|^ssl|https/i.test(app ?? '') || /^[^/]+:443\//.test(misc);
  return `${tls ? 'https' : 'http'}://${misc}`;
}

function panosAction(a: string | undefined): DetectorAction | undefined {
  if (!a) return undefined;
  const v = a.toLowerCase();
  if (v === 'alert') return 'detected';
  if (v === 'allow' || v === 'continue' || v === 'override') return 'allowed';
  if (/^(deny|drop|reset|block|sinkhole|random-drop|syncookie|override-lockout)/.test(v)) return 'blocked';
  return mapAction(a);
}

function meaningful(v: string | undefined): string | undefined {
  return v === undefined || /^(?:unknown|n\/a|any|none|0)$/i.test(v) ? undefined : v;
}

function port(v: string | undefined): number | undefined {
  return v !== undefined && /^\d{1,5}$/.test(v) && Number(v) <= 65535 ? Number(v) : undefined;
}

function vendorId(rec: PanosRecord, time: string, threatId: string | undefined): string {
  const seq = field(rec.fields, T.seqno);
  if (seq && seq !== '0') return `${rec.serial}:${seq}`;
  return `${rec.serial}:${field(rec.fields, T.sessionid) ?? ''}:${time}:${threatId ?? ''}`;
}

// ---- context -----------------------------------------------------------------------------------------------

function trafficEvent(rec: PanosRecord): ContextEvent {
  const f = rec.fields;
  const time = panosTime(rec, F.highres);
  const srcUser = panosUser(field(f, F.srcuser));
  const data = named(f, F);
  data.type = 'TRAFFIC';
  data.subtype = rec.subtype;
  data.serial = rec.serial;
  if (srcUser) data.user = srcUser;
  const o: Array<Observable | undefined> = [
    makeObservable('ip', addressField(f, F.src), 'src'),
    makeObservable('ip', addressField(f, F.dst), 'dst'),
    makeObservable('ip', addressField(f, F.natsrc), 'src_nat'),
    makeObservable('ip', addressField(f, F.natdst), 'dst_nat'),
    makeObservable('user', srcUser?.name, 'src'),
    makeObservable('host', field(f, F.srchost), 'src'),
    makeObservable('mac', field(f, F.srcmac), 'src'),
  ];
  return { kind: 'flow', time, data, observables: o.filter((x): x is Observable => x !== undefined) };
}

function otherEvent(rec: PanosRecord): ContextEvent {
  const f = rec.fields;
  const time = panosTime(rec);
  const data: Record<string, unknown> = {
    type: rec.type, subtype: rec.subtype, serial: rec.serial, receive_time: field(f, 1), generated_time: field(f, 6),
    fields: f.slice(7, 128),
  };
  if (rec.envelope?.hostname) data.host = rec.envelope.hostname;
  const o = f.slice(7, 64).map((v) => (canonicalIp(v.trim()) && v.trim() !== '0.0.0.0' ? makeObservable('ip', v.trim(), 'other') : undefined));
  return { kind: `panos_${rec.type.toLowerCase().replace(/[^a-z0-9]/g, '')}`, time, data, observables: o.filter((x): x is Observable => x !== undefined) };
}

/** The non-empty fields by name, for context data. */
function named(f: readonly string[], layout: Record<string, number>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, i] of Object.entries(layout)) {
    const v = field(f, i);
    if (v !== undefined) out[k] = v;
  }
  return out;
}
