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
