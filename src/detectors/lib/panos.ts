/**
 * PAN-OS syslog in the default (CSV) format, shared by the panos and panos_globalprotect detectors.
 * Palo Alto Networks, "PAN-OS Administrator's Guide → Monitoring → Use Syslog for Monitoring → Syslog Field
 * Descriptions" (8.1, 9.1, 10.x, 11.x): every log type starts with the same seven fields
 *
 *   FUTURE_USE, Receive Time, Serial Number, Type, Subtype (Threat/Content Type), FUTURE_USE, Generated Time, …
 *
 * and continues with the type's own fields in a documented order; newer releases only append fields. The CSV
 * is usually behind a syslog header (RFC 3164 with or without a host name, RFC 5424, or "host - " as some
 * relays write it), which is found by looking for the CSV start rather than by trusting the header's shape.
 * Times are "YYYY/MM/DD hh:mm:ss" in the firewall's local zone (no zone written: the source's configured
 * zone applies) or, from Cortex Data Lake / Strata Logging Service forwarding, ISO-8601 with a zone.
 */
import { ParseError } from '../detector.js';
import { splitCsvLine } from './csv.js';
import { splitAccount } from './record.js';
import { compact } from './values.js';
import { parseSyslog, type SyslogMessage } from './syslog.js';
import { excerpt, trimEndChars } from './text.js';
import { tryParseTimestamp } from './time.js';

export const PANOS_TYPES = new Set([
  'TRAFFIC', 'THREAT', 'SYSTEM', 'CONFIG', 'HIPMATCH', 'HIP-MATCH', 'GLOBALPROTECT', 'USERID', 'AUTHENTICATION', 'DECRYPTION',
  'CORRELATION', 'GTP', 'SCTP', 'IPTAG', 'TUNNEL', 'START', 'END', 'AUDIT',
]);

// FUTURE_USE (digits) , receive time , serial (may be "no-serial" or empty) , TYPE ,
// Unbounded repeats on purpose: they keep the automaton small enough for recheck to prove the search linear
// (bounded ones send it to fuzzing, which once reported a quadratic case V8 does not have); the input is cut
// to 1 KiB and TYPE must be one of PANOS_TYPES anyway.
const START =
  /(?:^|[\s>])(\d+),(\d{4}\/\d\d?\/\d\d? \d\d?:\d\d:\d\d|\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:?\d\d)?),([^,\s]*),([A-Z][A-Z-]+),/;

export interface PanosRecord {
  /** All CSV fields, index 0 = FUTURE_USE, as in the vendor's tables. */
  fields: string[];
  type: string;
  subtype: string;
  serial: string;
  /** The syslog header before the CSV, when there was one. */
  envelope?: SyslogMessage;
  /** A quoted field was cut off (truncated record). */
  unterminated: boolean;
}

/** Index of the CSV start in `text` (after any syslog header), or -1. Looks at the first 1 KiB only. */
export function findPanosCsv(text: string): { index: number; type: string } | undefined {
  const head = text.slice(0, 1024);
  const m = START.exec(head);
  if (m && PANOS_TYPES.has(m[4]!)) return { index: m.index + (/^[\s>]/.test(m[0]) ? 1 : 0), type: m[4]! };
  const a = AUDIT_START.exec(head);
  return a ? { index: a.index + (/^[\s>]/.test(a[0]) ? 1 : 0), type: 'AUDIT' } : undefined;
}

// The administrator audit log ("serial,time,audit,config version,subtype,admin,command,result"), which has no
// FUTURE_USE/receive-time head; read into the common layout so that every type has the same header positions.
const AUDIT_START = /(?:^|[\s>])[0-9A-Za-z]+,\d{4}\/\d\d?\/\d\d? \d\d?:\d\d:\d\d,audit,/;

/** Splits a PAN-OS CSV record; throws ParseError when the text is not one. */
export function parsePanos(text: string): PanosRecord {
  const line = trimEndChars(text, '\r\n');
  const found = findPanosCsv(line);
  if (!found) throw new ParseError(`not a PAN-OS CSV log (no "<n>,<receive time>,<serial>,<TYPE>," found; starts: ${excerpt(line.trim(), 60)})`);
  const prefix = line.slice(0, found.index).trim();
  const csv = splitCsvLine(line.slice(found.index), { braces: true, maxFields: 256 });
  // AUDIT: serial, time, "audit", config version, subtype, … → "", time, serial, AUDIT, subtype, version, time, …
  const f = found.type === 'AUDIT' ? ['', csv.fields[1] ?? '', csv.fields[0] ?? '', 'AUDIT', csv.fields[4] ?? '', csv.fields[3] ?? '', csv.fields[1] ?? '', ...csv.fields.slice(5)] : csv.fields;
  if (f.length < 7) throw new ParseError(`PAN-OS ${found.type} log has ${f.length} fields; at least 7 expected (truncated?)`);
  return {
    fields: f,
    type: found.type,
    subtype: f[4]!.trim(),
    serial: f[2]!.trim(),
    envelope: prefix ? parseSyslog(prefix.replace(/ -$/, '')) : undefined,
    unterminated: csv.unterminated,
  };
}

/** The field at `i`, trimmed; undefined when absent or empty. */
export function field(fields: readonly string[], i: number): string | undefined {
  const v = fields[i]?.trim();
  return v === undefined || v === '' ? undefined : v;
}

/** An address field; PAN-OS writes 0.0.0.0 (and :: for IPv6) for "none". */
export function addressField(fields: readonly string[], i: number): string | undefined {
  const v = field(fields, i);
  return v === undefined || v === '0.0.0.0' || v === '::' ? undefined : v;
}

/**
 * The event time: the high-resolution timestamp (10.0+, ISO-8601 with a zone) when there is a plausible one,
 * else Generated Time (field 6) in the source's zone, else Receive Time. Throws when none parses.
 */
export function panosTime(rec: PanosRecord, highResIndex?: number): string {
  if (highResIndex !== undefined) {
    const hr = field(rec.fields, highResIndex);
    // Only a value with its zone written counts, and not the "1970-01-01T…" that GlobalProtect logs carry.
    if (hr && /(?:Z|[+-]\d{2}:?\d{2})$/.test(hr) && /^(?:19[89]\d|2\d{3})-/.test(hr) && !hr.startsWith('1970')) {
      const t = tryParseTimestamp(hr);
      if (t) return t;
    }
  }
  const generated = field(rec.fields, 6);
  const t = generated ? tryParseTimestamp(generated) : undefined;
  if (t) return t;
  const received = field(rec.fields, 1);
  const r = received ? tryParseTimestamp(received) : undefined;
  if (r) return r;
  throw new ParseError(`PAN-OS generated time (field 7) "${excerpt(generated ?? '', 40)}" is not a time`);
}

export interface PanosUser {
  name: string;
  domain?: string;
  email?: string;
}

/**
 * "domain\user" (also with the backslash doubled, as some relays escape it), "user@domain" (kept whole, and
 * as e-mail when it is one: the model's convention for UPNs), or "user". PAN-OS writes "x-fwd-for: <ip>" as
 * the user when it only knows the X-Forwarded-For address, and "pre-logon" before a GlobalProtect user signs
 * on: neither is a user.
 */
export function panosUser(raw: string | undefined): PanosUser | undefined {
  const v = raw?.trim();
  if (!v || v.length > 512 || /^x-fwd-for:/i.test(v) || /^(?:unknown|pre-logon|n\/a|-)$/i.test(v)) return undefined;
  const acc = splitAccount(v.replace(/\\{2,}/g, '\\'));
  // ".\user" is a local account of the machine: "." names no domain.
  return acc?.name ? { name: acc.name, domain: acc.domain === '.' ? undefined : acc.domain, email: acc.email } : undefined;
}

/** The reporting firewall: its Device Name field (10.x), else the syslog host; the serial as its id. */
export function panosDevice(rec: PanosRecord, nameIndex?: number): { name?: string; id?: string } | undefined {
  const name = (nameIndex === undefined ? undefined : field(rec.fields, nameIndex)) ?? rec.envelope?.hostname;
  // Cortex Data Lake writes "no-serial"; sample configurations leave "<serial-number>".
  const id = /^[0-9A-Za-z]{4,32}$/.test(rec.serial) && !/^no-?serial$/i.test(rec.serial) ? rec.serial : undefined;
  return name || id ? compact({ name, id }) : undefined;
}

/** A zone-less "YYYY/MM/DD hh:mm:ss" field (a session's Start Time) in the source's zone, or undefined. */
export function panosLocalTime(fields: readonly string[], i: number): string | undefined {
  const v = field(fields, i);
  return v && /^\d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d$/.test(v) ? tryParseTimestamp(v) : undefined;
}

/** Splits "Threat Name(12345)" into name and id; "(9999)" gives no name. */
export function splitThreatId(raw: string | undefined): { name?: string; id?: string } {
  const v = raw?.trim();
  if (!v) return {};
  const open = v.lastIndexOf('(');
  if (!v.endsWith(')') || open < 0) return { name: v };
  const id = v.slice(open + 1, -1);
  if (!/^\d{1,12}$/.test(id)) return { name: v };
  const name = v.slice(0, open).trim();
  return { name: name === '' ? undefined : name, id };
}

// ---- The XML API's log entries (type=log jobs), as the panos puller stores them: element name → text ------

/** The CSV head's fields by their XML API names (every log type). */
const XML_HEAD: Record<string, number> = { receive_time: 1, serial: 2, type: 3, subtype: 4, config_ver: 5, time_generated: 6 };

/** Fields every session-based log has at the same CSV positions, by XML API name. */
const XML_SESSION: Record<string, number> = {
  src: 7, dst: 8, natsrc: 9, natdst: 10, rule: 11, srcuser: 12, dstuser: 13, app: 14, vsys: 15, from: 16, to: 17,
  inbound_if: 18, outbound_if: 19, logset: 20, time_received: 21, sessionid: 22, repeatcnt: 23, sport: 24, dport: 25,
  natsport: 26, natdport: 27, flags: 28, proto: 29, action: 30,
};

/**
 * XML API field name → CSV position, by log type (the same fields the syslog tables list, under the names the
 * XML API and the custom log format use; a name not listed here is kept in context data only). THREAT's
 * `threatid` is the threat's name and `tid` its number there; they are joined back into "name(id)".
 */
export const PANOS_XML_LAYOUTS: Record<string, Record<string, number>> = {
  THREAT: {
    ...XML_SESSION, misc: 31, threatid: 32, category: 33, severity: 34, direction: 35, seqno: 36, actionflags: 37, srcloc: 38,
    dstloc: 39, contenttype: 41, pcap_id: 42, filedigest: 43, cloud: 44, url_idx: 45, user_agent: 46, filetype: 47, xff: 48,
    referer: 49, sender: 50, subject: 51, recipient: 52, reportid: 53, vsys_name: 58, device_name: 59, http_method: 63,
    thr_category: 69, contentver: 70, rule_uuid: 76, src_host: 86, src_mac: 87, dst_host: 94, dst_mac: 95,
    high_res_timestamp: 107,
  },
  TRAFFIC: {
    ...XML_SESSION, bytes: 31, bytes_sent: 32, bytes_received: 33, packets: 34, start: 35, elapsed: 36, category: 37,
    seqno: 39, actionflags: 40, srcloc: 41, dstloc: 42, pkts_sent: 44, pkts_received: 45, session_end_reason: 46,
    vsys_name: 51, device_name: 52, action_source: 53, rule_uuid: 65, src_host: 82, src_mac: 83, dst_host: 90,
    dst_mac: 91, high_res_timestamp: 102,
  },
  SYSTEM: { vsys: 7, eventid: 8, object: 9, module: 12, severity: 13, opaque: 14, seqno: 15, actionflags: 16, vsys_name: 21, device_name: 22, high_res_timestamp: 25 },
  CONFIG: { host: 7, vsys: 8, cmd: 9, admin: 10, client: 11, result: 12, path: 13, seqno: 14, actionflags: 15, vsys_name: 20, device_name: 21, high_res_timestamp: 25 },
};

const XML_TIME = /^\d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d$/;

/** A log entry of the XML API as a JSON object ({type, receive_time, serial or seqno, …}), or undefined. */
export function panosJsonEntry(j: unknown): Record<string, unknown> | undefined {
  if (typeof j !== 'object' || j === null || Array.isArray(j)) return undefined;
  const o = j as Record<string, unknown>;
  const type = o['type'];
  if (typeof type !== 'string' || !PANOS_TYPES.has(type.toUpperCase())) return undefined;
  if (typeof o['receive_time'] !== 'string' || !XML_TIME.test(o['receive_time'])) return undefined;
  return typeof o['serial'] === 'string' || typeof o['seqno'] === 'string' ? o : undefined;
}

const text = (v: unknown): string => (typeof v === 'string' ? v : typeof v === 'number' ? String(v) : '');

/**
 * An XML API entry in the CSV layout of its type, so both forms are read by the same code; `layout` is
 * undefined for types without a name table here. Throws ParseError when it is not an entry.
 */
export function panosRecordOfJson(j: unknown): { rec: PanosRecord; layout: Record<string, number> | undefined; entry: Record<string, unknown> } {
  const o = panosJsonEntry(j);
  if (!o) throw new ParseError('not a PAN-OS XML API log entry (a JSON object with type, receive_time "YYYY/MM/DD hh:mm:ss" and serial or seqno)');
  const type = text(o['type']).toUpperCase();
  const layout = Object.hasOwn(PANOS_XML_LAYOUTS, type) ? PANOS_XML_LAYOUTS[type] : undefined;
  const fields: string[] = [];
  for (const [name, i] of Object.entries({ ...XML_HEAD, ...(layout ?? {}) })) fields[i] = text(o[name]);
  fields[3] = type;
  if (type === 'THREAT') {
    // "Name(id)" as in the CSV: the XML API writes the name in threatid and the number in tid.
    const name = text(o['threatid']) || text(o['threat_name']);
    const tid = text(o['tid']).trim();
    fields[32] = /\(\d{1,12}\)$/.test(name.trim()) || !/^\d{1,12}$/.test(tid) ? name : `${name}(${tid})`;
  }
  for (let i = 0; i < fields.length; i++) fields[i] ??= '';
  return { rec: { fields, type, subtype: text(o['subtype']).trim(), serial: text(o['serial']).trim(), unterminated: false }, layout, entry: o };
}
