/**
 * Writing ArcSight CEF and framing it as syslog, for kinds/syslog_cef.ts (Fido's reader of the same formats is
 * detectors/lib/cef.ts and detectors/lib/syslog.ts; the tests parse what this writes back with them).
 *
 * CEF, per Micro Focus "Implementing ArcSight CEF" (rev. 25, "Character Encoding"):
 *   CEF:Version|Device Vendor|Device Product|Device Version|Device Event Class ID|Name|Severity|Extension
 *   - header fields escape `\` and `|` with a backslash; line breaks are not allowed there (made spaces here);
 *   - extension values escape `\` and `=` with a backslash, and line breaks are written `\n` / `\r`; pipes
 *     need no escape. Other control characters have no escape in the spec: they become spaces here, so no
 *     value can end the syslog line or forge a key.
 * Syslog: RFC 5424 (`<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID - MSG`) or RFC 3164
 * (`<PRI>Mmm dd hh:mm:ss HOSTNAME TAG: MSG`, time in UTC). Over a stream: RFC 6587 octet counting
 * (`LEN SP MSG`) or a trailing LF (non-transparent framing, which relies on MSG holding no LF: CEF escapes them).
 */
import { readFileSync } from 'node:fs';

/** Fido's version, for the CEF Device Version (package.json, four folders up from here and from a build alike). */
export const FIDO_VERSION = (JSON.parse(readFileSync(new URL('../../../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

// A control character (C0, DEL) or a character that needs an escape, in a header field / an extension value.
const HEADER_SPECIAL = /[\\|\x00-\x1f\x7f]/g;
const VALUE_SPECIAL = /[\\=\x00-\x1f\x7f]/g;

/** A CEF header field: `\` and `|` escaped, control characters (line breaks included) as spaces. */
export function cefHeaderField(text: string): string {
  return text.replace(HEADER_SPECIAL, (c) => (c === '\\' || c === '|' ? `\\${c}` : ' '));
}

/** A CEF extension value: `\` and `=` escaped, CR/LF as `\r` / `\n`, other control characters as spaces. */
export function cefExtensionValue(text: string): string {
  return text.replace(VALUE_SPECIAL, (c) => (c === '\\' || c === '=' ? `\\${c}` : c === '\n' ? '\\n' : c === '\r' ? '\\r' : ' '));
}

/**
 * `text` escaped by `escape`, cut so that the escaped form is at most `maxBytes` of UTF-8: whole characters and
 * whole escapes only, "…" marking a cut.
 */
export function escapedWithin(text: string, escape: (t: string) => string, maxBytes: number): string {
  const whole = escape(text);
  if (Buffer.byteLength(whole) <= maxBytes) return whole;
  const budget = maxBytes - 3; // "…"
  let out = '';
  let used = 0;
  for (const ch of text) {
    const piece = escape(ch);
    const n = Buffer.byteLength(piece);
    if (used + n > budget) break;
    out += piece;
    used += n;
  }
  return `${out}…`;
}

export interface CefEventOut {
  vendor: string;
  product: string;
  version: string;
  signatureId: string;
  name: string;
  /** 0–10. */
  severity: number;
  /** Key → raw value, in order; keys are Fido's own (never from data), null/undefined pairs are left out. */
  extension: ReadonlyArray<readonly [string, string | number | null | undefined]>;
}

const KEY = /^[A-Za-z0-9_]{1,64}$/;

/** Longest header field (Name included) and extension value, in escaped bytes. */
export const MAX_FIELD_BYTES = 256;

/** The CEF line for `e`, every field escaped and bounded by MAX_FIELD_BYTES. */
export function formatCef(e: CefEventOut): string {
  const head = [e.vendor, e.product, e.version, e.signatureId, e.name].map((f) => escapedWithin(f, cefHeaderField, MAX_FIELD_BYTES));
  const severity = Math.min(10, Math.max(0, Math.round(e.severity)));
  return `CEF:0|${head.join('|')}|${severity}|${cefExtension(e.extension, MAX_FIELD_BYTES)}`;
}

/** `k=v` pairs separated by spaces, values escaped and each at most `maxBytes`. */
export function cefExtension(pairs: CefEventOut['extension'], maxBytes: number): string {
  const out: string[] = [];
  for (const [k, v] of pairs) {
    if (v === null || v === undefined) continue;
    if (!KEY.test(k)) throw new Error(`CEF extension key ${JSON.stringify(k)} is not a key`);
    out.push(`${k}=${escapedWithin(String(v), cefExtensionValue, maxBytes)}`);
  }
  return out.join(' ');
}

// ───────────────────────────── syslog ─────────────────────────────

export const FACILITIES = [
  'kern', 'user', 'mail', 'daemon', 'auth', 'syslog', 'lpr', 'news', 'uucp', 'cron', 'authpriv', 'ftp', 'ntp', 'security', 'console', 'solaris-cron',
  'local0', 'local1', 'local2', 'local3', 'local4', 'local5', 'local6', 'local7',
] as const;
export type Facility = (typeof FACILITIES)[number];

/** Syslog severities (RFC 5424 §6.2.1). */
export type SyslogSeverity = 0 | 1 | 2 | 3 | 4 | 5 | 6 | 7;

export interface SyslogHeader {
  format: 'rfc5424' | 'rfc3164';
  facility: number;
  severity: SyslogSeverity;
  time: Date;
  hostname: string;
  appName: string;
  procId?: string;
  msgId?: string;
}

/** An RFC 5424 header field: printable US-ASCII without spaces, at most `max` characters; "-" when empty. */
function token(text: string | undefined, max: number): string {
  const t = (text ?? '').replace(/[^\x21-\x7e]/g, '_').slice(0, max);
  return t === '' ? '-' : t;
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** The syslog header that goes before MSG (ends with the space before it). */
export function syslogPrefix(h: SyslogHeader): string {
  const pri = `<${h.facility * 8 + h.severity}>`;
  if (h.format === 'rfc5424') {
    return `${pri}1 ${h.time.toISOString()} ${token(h.hostname, 255)} ${token(h.appName, 48)} ${token(h.procId, 128)} ${token(h.msgId, 32)} - `;
  }
  const t = h.time;
  const hh = (n: number) => String(n).padStart(2, '0');
  const stamp = `${MONTHS[t.getUTCMonth()]} ${String(t.getUTCDate()).padStart(2, ' ')} ${hh(t.getUTCHours())}:${hh(t.getUTCMinutes())}:${hh(t.getUTCSeconds())}`;
  // RFC 3164 §4.1.3: the TAG is alphanumeric, at most 32 characters.
  const tag = h.appName.replace(/[^A-Za-z0-9_-]/g, '').slice(0, 32) || 'fido';
  return `${pri}${stamp} ${token(h.hostname, 255)} ${tag}: `;
}

export type Framing = 'octet-counting' | 'newline';

/** One syslog message as bytes on a stream (RFC 6587), or as is for a datagram (`framing` undefined). */
export function frame(message: string, framing: Framing | undefined): Buffer {
  const bytes = Buffer.from(message, 'utf8');
  if (framing === 'octet-counting') return Buffer.concat([Buffer.from(`${bytes.length} `), bytes]);
  if (framing === 'newline') return Buffer.concat([bytes, Buffer.from('\n')]);
  return bytes;
}
