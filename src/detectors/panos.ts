/**
 * Palo Alto Networks PAN-OS firewall logs, syslog default (CSV) format, PAN-OS 4.x … 11.x; and the same logs
 * as the XML API's log retrieval returns them (type=log jobs; stored by the panos puller as one JSON object per
 * <entry>, element name → text: {"type":"THREAT","subtype":…,"threatid":<name>,"tid":<number>,…}). An entry
 * is put in its type's CSV layout (lib/panos.ts PANOS_XML_LAYOUTS: THREAT, TRAFFIC, SYSTEM, CONFIG) and read by
 * the code below, so it gives the same alert (same vendor_id) as its syslog line; other types' entries become
 * context events with the entry's fields as data. JSON entries are recognised by type + receive_time
 * ("YYYY/MM/DD hh:mm:ss") + serial or seqno (sniff 0.9).
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
 *   user         Source User, else Destination User: "domain\user" split into name and domain, a UPN kept
 *                whole (and as e-mail); "x-fwd-for: <ip>" is no user
 *   url, domain  url subtype: the URL/Filename field (31, scheme-less "host/path"; https:// when the
 *                destination port is 443 or the app is ssl); virus/vulnerability/wildfire with a "/" in it
 *                likewise; spyware DNS detections with a host name there: domain
 *   file         file name from field 31, File Digest (43: SHA-256 for wildfire), File Type (47)
 *   malware      virus, wildfire, spyware, ml-virus: threat name
 *   email        Sender/Subject/Recipient (50-52, WildFire e-mail links)
 *   vendor_id    "<serial>:<sequence number 36>"; "<serial>:<session>:<generated>:<threat id>" when the
 *                sequence number is 0 (old releases)
 *   observables  + NAT source/destination addresses (roles src_nat / dst_nat), the X-Forwarded-For client
 *                written as the user ("x-fwd-for: <ip>", role src_xff), source/destination MACs, the
 *                reporting firewall (Device Name 59, else the syslog host; role device)
 *   event_type   "THREAT/<subtype>"
 * CORRELATION (correlated events) → one alert: rule = correlation object (name, id), host = the source
 *   address and user the evidence points at, category and severity as written, title = object name + evidence.
 * Everything else → one context event (event_type "<TYPE>/<subtype>", device = the firewall, data = the
 * fields by name); see docs/detectors/panos.md for the field tables:
 *   TRAFFIC, START/END (tunnel inspection), GTP, SCTP → flow; DECRYPTION → tls (domain = SNI, else the
 *   certificate subject); USERID, AUTHENTICATION → auth; CONFIG, AUDIT (administrator commands) → audit;
 *   SYSTEM → status (auth for its auth subtype); HIPMATCH, IPTAG → other. GLOBALPROTECT records belong to
 *   panos_globalprotect (sniffs higher).
 */
import type { AlertDraft, DetectorAction } from '../model/alert.js';
import type { Observable } from '../model/observable.js';
import { defineDetector, ParseError, type ContextEvent, type Detector, type ParseOutcome, type RawRecord } from './detector.js';
import { mapAction } from './lib/action.js';
import { canonicalIp, makeObservable, normalizeDomain } from './lib/observables.js';
import { addressField, field, findPanosCsv, panosDevice, panosJsonEntry, panosLocalTime, panosRecordOfJson, panosTime, panosUser, parsePanos, splitThreatId, type PanosRecord } from './lib/panos.js';
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
  description: 'Palo Alto Networks PAN-OS syslog CSV and XML API log entries (as JSON): THREAT and CORRELATION logs as alerts; TRAFFIC, USERID, CONFIG and other logs as context',
  format: 'text',
  sniff(record: RawRecord): number {
    // An XML API entry as the panos puller stores it: no other product writes PAN-OS's type and receive_time.
    if (record.json !== undefined) return panosJsonEntry(record.json) ? 0.9 : 0;
    const found = findPanosCsv(record.text);
    if (!found) return 0;
    if (found.type === 'GLOBALPROTECT') return 0.55; // panos_globalprotect claims these higher
    if (found.type === 'SYSTEM' && /^[^,]*,[^,]*,[^,]*,SYSTEM,globalprotect,/.test(record.text.slice(found.index, found.index + 200))) return 0.6;
    return 0.95;
  },
  parse(record: RawRecord): ParseOutcome {
    if (record.json !== undefined) return parseJsonEntry(record.json);
    const rec = parsePanos(record.text);
    if (rec.type === 'THREAT') return { kind: 'alerts', alerts: [threatAlert(rec)] };
    if (rec.type === 'CORRELATION') return { kind: 'alerts', alerts: [correlationAlert(rec)] };
    return { kind: 'context', events: [contextEvent(rec)] };
  },
};
export default defineDetector(panos);

/**
 * An XML API log entry: read in the CSV layout of its type (THREAT → the same alert as its syslog line, with
 * the same vendor_id "<serial>:<seqno>"; TRAFFIC, SYSTEM, CONFIG → the same context); other types, whose
 * XML names are not mapped here, → a context event with the entry's fields as data.
 */
function parseJsonEntry(json: unknown): ParseOutcome {
  const { rec, layout, entry } = panosRecordOfJson(json);
  if (rec.type === 'THREAT') return { kind: 'alerts', alerts: [threatAlert(rec)] };
  if (layout) return { kind: 'context', events: [contextEvent(rec)] };
  const data: Record<string, string> = {};
  const ips: Array<Observable | undefined> = [];
  for (const [k, v] of Object.entries(entry).slice(0, 160)) {
    if (typeof v !== 'string' || v === '') continue;
    data[k] = v.slice(0, 4096);
    if (canonicalIp(v.trim()) && v.trim() !== '0.0.0.0') ips.push(makeObservable('ip', v.trim(), 'other'));
  }
  const name = typeof entry['device_name'] === 'string' && entry['device_name'] !== '' ? entry['device_name'] : undefined;
  return {
    kind: 'context',
    events: [{ kind: 'other', event_type: eventType(rec), time: panosTime(rec), device: name || panosDevice(rec) ? compact({ name, id: panosDevice(rec)?.id }) : undefined, data, observables: defined(ips) }],
  };
}

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
    // Behind a proxy PAN-OS writes "x-fwd-for: <client ip>" as the user: the real client's address.
    makeObservable('ip', /^x-fwd-for:\s*(\S+)$/i.exec(field(f, T.srcuser) ?? '')?.[1], 'src_xff'),
  ];
  return {
    vendor_id: vendorId(rec, time, threat.id),
    event_type: subtype ? `THREAT/${subtype}` : 'THREAT',
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
    device: panosDevice(rec, T.devicename),
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

/** PAN-OS writes port 0 where there is none (ICMP, non-IP). */
function port(v: string | undefined): number | undefined {
  return v !== undefined && /^\d{1,5}$/.test(v) && Number(v) > 0 && Number(v) <= 65535 ? Number(v) : undefined;
}

function vendorId(rec: PanosRecord, time: string, threatId: string | undefined): string {
  const seq = field(rec.fields, T.seqno);
  if (seq && seq !== '0') return `${rec.serial}:${seq}`;
  return `${rec.serial}:${field(rec.fields, T.sessionid) ?? ''}:${time}:${threatId ?? ''}`;
}

// ---- CORRELATION -------------------------------------------------------------------------------------------

// CORRELATION field indexes (Correlated Events Log Fields).
const C = { src: 7, srcuser: 8, vsys: 9, category: 10, severity: 11, vsysname: 16, devicename: 17, objectname: 19, objectid: 20, evidence: 21 } as const;

/** A correlation object matched: PAN-OS's own verdict that a host shows indicators of compromise. */
function correlationAlert(rec: PanosRecord): AlertDraft {
  const f = rec.fields;
  const time = panosTime(rec);
  const name = field(f, C.objectname);
  const id = field(f, C.objectid);
  const evidence = field(f, C.evidence);
  const sevWord = field(f, C.severity);
  const user = panosUser(field(f, C.srcuser));
  const ip = addressField(f, C.src);
  return {
    vendor_id: `${rec.serial}:correlation:${id ?? name ?? ''}:${ip ?? ''}:${time}`,
    event_type: 'CORRELATION',
    time,
    title: `${name ?? 'PAN-OS correlated event'}${evidence ? `: ${evidence}` : ''}`,
    rule: compact({ id: id ?? name, name, category: field(f, C.category) }),
    severity: correlationSeverity(sevWord) ?? UNKNOWN_SEVERITY,
    vendor_severity: sevWord ? { value: sevWord, scale: `${SCALE} (or 1-5)` } : undefined,
    action: 'detected',
    src: compact({ ip, user: user?.name }),
    host: compact({ ip }),
    user: user ? compact({ ...user }) : undefined,
    device: panosDevice(rec, C.devicename),
    observables: [],
  };
}

/** The severity word, or 1 (informational) … 5 (critical) as some exports write it. */
function correlationSeverity(v: string | undefined): number | undefined {
  if (v && /^[1-5]$/.test(v)) return [5, 25, 50, 75, 95][Number(v) - 1];
  return wordSeverity(v);
}

// ---- context -----------------------------------------------------------------------------------------------

/** The fields every session-based log (TRAFFIC, DECRYPTION, tunnel inspection, GTP, SCTP) has in the same places. */
const N = {
  src: 7, dst: 8, natsrc: 9, natdst: 10, rule: 11, srcuser: 12, dstuser: 13, app: 14, vsys: 15, from: 16, to: 17,
  inif: 18, outif: 19, sessionid: 22, repeat: 23, sport: 24, dport: 25, natsport: 26, natdport: 27,
} as const;

// Field indexes of the other log types, from the vendor's "… Log Fields" tables.
const DECRYPT = {
  ...N, proto: 29, action: 30, ruleuuid: 36, stage_client: 37, stage_server: 38, tls_version: 39, key_exchange: 40,
  encryption: 41, hash: 42, policy: 43, error_index: 45, root_status: 46, chain_status: 47, proxy_type: 48,
  cert_serial: 49, fingerprint: 50, not_before: 51, not_after: 52, subject_cn: 60, issuer_cn: 61, root_cn: 62, sni: 63,
  error: 64, highres: 72, devicename: 96,
} as const;
const TUNNEL = { ...N, proto: 29, action: 30, severity: 31, seqno: 32, srcloc: 34, dstloc: 35, vsysname: 40, devicename: 41 } as const;
const SCTP = { ...N, proto: 30, action: 31, vsysname: 36, devicename: 37 } as const;
const GTP = { ...N, proto: 29, action: 30 } as const;
const USERID = {
  vsys: 7, ip: 8, user: 9, datasourcename: 10, eventid: 11, repeat: 12, timeout: 13, sport: 14, dport: 15, datasource: 16,
  datasourcetype: 17, seqno: 18, vsysname: 24, devicename: 25, factortype: 27, factortime: 28, factorno: 29,
  userbysource: 31, tag: 32, highres: 33,
} as const;
const AUTH = {
  vsys: 7, ip: 8, user: 9, normalizeuser: 10, object: 11, policy: 12, repeat: 13, authid: 14, vendor: 15, serverprofile: 17,
  description: 18, clienttype: 19, eventtype: 20, factor: 21, seqno: 22, vsysname: 28, devicename: 29, protocol: 31,
  ruleuuid: 32, highres: 33, srccategory: 34, srcprofile: 35, srcmodel: 36, srcvendor: 37, srcosfamily: 38,
  srcosversion: 39, srchost: 40, srcmac: 41, region: 42, useragent: 44, sessionid: 45,
} as const;
const CONFIG = {
  host: 7, vsys: 8, command: 9, admin: 10, client: 11, result: 12, path: 13, seqno: 14, vsysname: 20, devicename: 21,
  devicegroup: 22, comment: 23, highres: 25, before: 26, after: 27,
} as const;
const SYSTEM = { vsys: 7, eventid: 8, object: 9, module: 12, severity: 13, description: 14, seqno: 15, vsysname: 21, devicename: 22, highres: 25 } as const;
const HIP = {
  user: 7, vsys: 8, machine: 9, os: 10, ip: 11, hip: 12, repeat: 13, hiptype: 14, seqno: 17, vsysname: 23, devicename: 24,
  ipv6: 26, hostid: 27, serialnumber: 28, mac: 29, highres: 30,
} as const;
/** AUDIT, read into the common layout by lib/panos.ts: the administrator, the command, its result. */
const AUDIT = { admin: 7, command: 8, result: 9 } as const;
const IPTAG = {
  vsys: 7, ip: 8, tag: 9, eventid: 10, repeat: 11, timeout: 12, datasourcename: 13, datasourcetype: 14,
  datasourcesubtype: 15, seqno: 16, vsysname: 22, devicename: 23, highres: 25,
} as const;

type Facts = Omit<ContextEvent, 'time' | 'data' | 'observables' | 'device' | 'event_type'> & { observables?: Observable[] };

interface Layout {
  fields: Record<string, number>;
  facts: (f: readonly string[], rec: PanosRecord) => Facts;
}

const LAYOUTS: Record<string, Layout> = {
  TRAFFIC: { fields: F, facts: trafficFacts },
  DECRYPTION: { fields: DECRYPT, facts: decryptionFacts },
  START: { fields: TUNNEL, facts: (f) => ({ kind: 'flow', ...sessionFacts(f, TUNNEL.action) }) },
  END: { fields: TUNNEL, facts: (f) => ({ kind: 'flow', ...sessionFacts(f, TUNNEL.action) }) },
  TUNNEL: { fields: TUNNEL, facts: (f) => ({ kind: 'flow', ...sessionFacts(f, TUNNEL.action) }) },
  SCTP: { fields: SCTP, facts: (f) => ({ kind: 'flow', ...sessionFacts(f, SCTP.action) }) },
  GTP: { fields: GTP, facts: (f) => ({ kind: 'flow', ...sessionFacts(f, GTP.action) }) },
  USERID: { fields: USERID, facts: userIdFacts },
  AUTHENTICATION: { fields: AUTH, facts: authenticationFacts },
  CONFIG: { fields: CONFIG, facts: configFacts },
  SYSTEM: { fields: SYSTEM, facts: systemFacts },
  HIPMATCH: { fields: HIP, facts: hipFacts },
  'HIP-MATCH': { fields: HIP, facts: hipFacts },
  AUDIT: { fields: AUDIT, facts: auditFacts },
  IPTAG: { fields: IPTAG, facts: (f) => ({ kind: 'other', host: compact({ ip: addressField(f, IPTAG.ip) }) }) },
};

function contextEvent(rec: PanosRecord): ContextEvent {
  const layout = Object.hasOwn(LAYOUTS, rec.type) ? LAYOUTS[rec.type] : undefined;
  const f = rec.fields;
  const head = { type: rec.type, subtype: rec.subtype, serial: rec.serial };
  if (!layout) {
    // A type without a table here: the raw fields, and the addresses among them as indicators.
    const ips = f.slice(7, 64).map((v) => (canonicalIp(v.trim()) ? makeObservable('ip', v.trim(), 'other') : undefined));
    return {
      kind: 'other',
      event_type: eventType(rec),
      time: panosTime(rec),
      device: panosDevice(rec),
      data: { ...head, receive_time: field(f, 1), generated_time: field(f, 6), fields: f.slice(7, 128) },
      observables: defined(ips),
    };
  }
  const { observables, ...facts } = layout.facts(f, rec);
  const l = layout.fields;
  return {
    ...facts,
    event_type: eventType(rec),
    time: panosTime(rec, l.highres),
    device: panosDevice(rec, l.devicename),
    data: { ...head, ...named(f, l) },
    observables: observables ?? [],
  };
}

/** "TRAFFIC/end", "USERID/login"; "CONFIG" where the subtype is the "0" most types write. */
function eventType(rec: PanosRecord): string {
  return rec.subtype && rec.subtype !== '0' ? `${rec.type}/${rec.subtype}` : rec.type;
}

/** Users, addresses, ports and session of a session-based log; outcome from its Action field. */
function sessionFacts(f: readonly string[], actionIndex: number): Omit<Facts, 'kind'> {
  const srcUser = panosUser(field(f, N.srcuser));
  const dstUser = panosUser(field(f, N.dstuser));
  return {
    user: srcUser ? compact({ ...srcUser }) : undefined,
    src: compact({ ip: addressField(f, N.src), port: port(field(f, N.sport)), user: srcUser?.name }),
    dst: compact({ ip: addressField(f, N.dst), port: port(field(f, N.dport)), user: dstUser?.name }),
    session_id: field(f, N.sessionid) === '0' ? undefined : field(f, N.sessionid),
    outcome: actionOutcome(field(f, actionIndex)),
    // The security policy rule that matched the session (for THREAT alerts `rule` is the signature instead).
    rule: compact({ name: field(f, N.rule) }),
    observables: defined([makeObservable('ip', addressField(f, N.natsrc), 'src_nat'), makeObservable('ip', addressField(f, N.natdst), 'dst_nat')]),
  };
}

function actionOutcome(action: string | undefined): ContextEvent['outcome'] {
  if (!action) return undefined;
  const a = action.toLowerCase();
  if (a === 'allow') return 'success';
  return /^(deny|drop|reset|block)/.test(a) ? 'failure' : undefined;
}

/** TRAFFIC: start (Start Time 35, in the source's zone), end (end logs: the generated time), device-ID host names. */
function trafficFacts(f: readonly string[], rec: PanosRecord): Facts {
  const s = sessionFacts(f, F.action);
  const sub = rec.subtype.toLowerCase();
  return {
    ...s,
    kind: 'flow',
    src: compact({ ...s.src, host: field(f, F.srchost) }),
    dst: compact({ ...s.dst, host: field(f, F.dsthost) }),
    outcome: sub === 'deny' || sub === 'drop' ? 'failure' : s.outcome,
    start: panosLocalTime(f, F.start),
    end: sub === 'end' ? panosTime(rec, F.highres) : undefined,
    observables: [...(s.observables ?? []), ...defined([makeObservable('mac', field(f, F.srcmac), 'src'), makeObservable('mac', field(f, F.dstmac), 'dst')])],
  };
}

/** DECRYPTION: the server name (SNI, else the certificate's subject), failure when the handshake reports an error. */
function decryptionFacts(f: readonly string[]): Facts {
  const s = sessionFacts(f, DECRYPT.action);
  const name = field(f, DECRYPT.sni) ?? field(f, DECRYPT.subject_cn);
  const domain = normalizeDomain(name);
  return { ...s, kind: 'tls', dst: compact({ ...s.dst, host: domain }), domain, outcome: field(f, DECRYPT.error) ? 'failure' : s.outcome };
}

/** USERID: which user an address was mapped to (login) or unmapped from (logout). */
function userIdFacts(f: readonly string[]): Facts {
  const user = panosUser(field(f, USERID.user));
  return {
    kind: 'auth',
    user: user ? compact({ ...user }) : undefined,
    src: compact({ ip: addressField(f, USERID.ip), port: port(field(f, USERID.sport)), user: user?.name }),
    outcome: 'success',
  };
}

/** AUTHENTICATION: a sign-on through an authentication policy or profile, with the client device (10.x). */
function authenticationFacts(f: readonly string[]): Facts {
  const user = panosUser(field(f, AUTH.user)) ?? panosUser(field(f, AUTH.normalizeuser));
  const verdict = `${field(f, AUTH.eventtype) ?? ''} ${field(f, AUTH.description) ?? ''}`;
  return {
    kind: 'auth',
    user: user ? compact({ ...user }) : undefined,
    src: compact({ ip: addressField(f, AUTH.ip), user: user?.name }),
    host: compact({ name: field(f, AUTH.srchost), mac: field(f, AUTH.srcmac), os: field(f, AUTH.srcosfamily) }),
    session_id: field(f, AUTH.sessionid),
    outcome: /succe/i.test(verdict) ? 'success' : /fail|denied|reject/i.test(verdict) ? 'failure' : undefined,
  };
}

/** CONFIG: who changed what from where, and whether the commit of that change succeeded. */
function configFacts(f: readonly string[]): Facts {
  const admin = panosUser(field(f, CONFIG.admin));
  const result = field(f, CONFIG.result)?.toLowerCase();
  return {
    kind: 'audit',
    user: admin ? compact({ ...admin }) : undefined,
    src: compact({ ip: addressField(f, CONFIG.host), user: admin?.name }),
    outcome: result === 'succeeded' ? 'success' : result === 'failed' ? 'failure' : undefined,
  };
}

/** AUDIT: an administrator's operational command (gui-op, cli-op…) and whether it succeeded. */
function auditFacts(f: readonly string[]): Facts {
  const admin = panosUser(field(f, AUDIT.admin));
  const result = field(f, AUDIT.result)?.toLowerCase();
  return {
    kind: 'audit',
    user: admin ? compact({ ...admin }) : undefined,
    src: admin ? { user: admin.name } : undefined,
    outcome: result === 'success' ? 'success' : result === 'failure' || result === 'failed' ? 'failure' : undefined,
  };
}

/**
 * SYSTEM: the firewall's own health (kind status); the auth subtype records administrator sign-ons, whose
 * description names the user and the client ("… for user 'admin'. From: 10.0.0.1.", "User admin logged in via
 * Web from 10.0.0.1 …").
 */
function systemFacts(f: readonly string[], rec: PanosRecord): Facts {
  const sub = rec.subtype.toLowerCase();
  if (sub !== 'auth') return { kind: 'status' };
  const text = (field(f, SYSTEM.description) ?? '').slice(0, 2048);
  const eventId = field(f, SYSTEM.eventid) ?? '';
  const user = panosUser(/\bfor user '([^']{1,256})'/i.exec(text)?.[1] ?? /^User (\S{1,256}) logged/i.exec(text)?.[1]);
  const ip = /\bfrom:? ([0-9A-Fa-f.:]{2,45})/i.exec(text)?.[1]?.replace(/\.$/, ''); // the sentence's full stop
  return {
    kind: 'auth',
    user: user ? compact({ ...user }) : undefined,
    src: compact({ ip, user: user?.name }),
    outcome: /succ/i.test(eventId) || /logged in|authenticated for/i.test(text) ? 'success' : /fail/i.test(`${eventId} ${text}`) ? 'failure' : undefined,
  };
}

/** HIPMATCH: a GlobalProtect client's host-information profile matched: which user, on which machine, at which address. */
function hipFacts(f: readonly string[]): Facts {
  const user = panosUser(field(f, HIP.user));
  const ip = addressField(f, HIP.ip) ?? addressField(f, HIP.ipv6);
  return {
    kind: 'other',
    user: user ? compact({ ...user }) : undefined,
    src: compact({ ip, user: user?.name }),
    host: compact({ name: field(f, HIP.machine), ip, os: field(f, HIP.os), id: field(f, HIP.hostid), mac: field(f, HIP.mac) }),
  };
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
