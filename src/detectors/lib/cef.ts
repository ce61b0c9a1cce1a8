/**
 * ArcSight Common Event Format (CEF), per "Implementing ArcSight CEF" (Micro Focus, rev. 25 and earlier):
 *
 *   [syslog envelope] CEF:Version|Device Vendor|Device Product|Device Version|Device Event Class ID|Name|Severity|Extension
 *
 * Header fields escape `|` and `\` with a backslash. The extension is space-separated key=value pairs whose
 * values may contain spaces; in values `=` and `\` are escaped (`\=`, `\\`) and `\n`/`\r` stand for line
 * breaks; pipes need no escape. A value runs until the last whitespace before the next `key=`. Extension
 * keys also come in their "full name" form (sourceAddress for src…): they are mapped to the short key.
 * Custom fields (cs1…cs6, cn1…cn3, cfp1…cfp4, c6a1…c6a4, flexString1…, deviceCustomDate1…) carry their
 * meaning in a `…Label` key; `labels` maps each label text to its value.
 */
import { ParseError } from '../detector.js';
import { parseSyslog, type SyslogMessage, type SyslogOptions } from './syslog.js';
import { wordSeverity } from './severity.js';
import { excerpt } from './text.js';

export interface CefEvent {
  /** 0 for CEF:0 (CEF 0.1), 1 for CEF:1 (CEF 1.x). */
  version: number;
  vendor: string;
  product: string;
  deviceVersion: string;
  signatureId: string;
  name: string;
  /** As written: 0-10 or Unknown/Low/Medium/High/Very-High. */
  severity: string;
  /** Extension by short key (null prototype: keys are data). */
  extension: Record<string, string>;
  /** Custom-field label → value, e.g. { "Host ID": "1" } from cn1=1 cn1Label=Host ID. */
  labels: Record<string, string>;
  /** Text before "CEF:" (the syslog envelope), trimmed; '' when none. */
  prefix: string;
  envelope?: SyslogMessage;
}

/** Where "CEF:n|" starts (at the beginning, or after a syslog envelope), or -1. Looks at the first 2 KiB. */
export function findCefStart(text: string): number {
  const m = /(?:^|[\s>:])CEF:\d{1,2}(?:\.\d{1,2})?\|/.exec(text.slice(0, 2048));
  if (!m) return -1;
  return m.index + (m[0].startsWith('CEF') ? 0 : 1);
}

/** Parses a CEF record; throws ParseError naming what is wrong. */
export function parseCef(text: string, opts: SyslogOptions = {}): CefEvent {
  const start = findCefStart(text);
  if (start < 0) throw new ParseError(`not a CEF record (no "CEF:<version>|" found; starts: ${excerpt(text)})`);
  const prefix = text.slice(0, start).trim();
  const { fields, rest } = splitHeader(text, start + 4, 7);
  if (fields.length < 7) {
    throw new ParseError(`CEF header has ${fields.length} of 7 fields (Version|Vendor|Product|Version|Signature ID|Name|Severity); truncated?`);
  }
  const [version, vendor, product, deviceVersion, signatureId, name, severity] = fields as [string, string, string, string, string, string, string];
  const extension = parseCefExtension(rest);
  return {
    version: Number.parseInt(version, 10),
    vendor,
    product,
    deviceVersion,
    signatureId,
    name,
    severity,
    extension,
    labels: customLabels(extension),
    prefix,
    envelope: prefix ? parseSyslog(prefix, opts) : undefined,
  };
}

/**
 * Splits `count` pipe-delimited header fields starting at `from`, honouring `\|` and `\\`; `rest` is what
 * follows the last delimiter (the extension). A header with no trailing pipe (no extension) is accepted.
 */
export function splitHeader(text: string, from: number, count: number): { fields: string[]; rest: string } {
  const fields: string[] = [];
  // Copied a run at a time (between escapes and pipes), not a character at a time.
  let cur = '';
  let run = from;
  let i = from;
  for (; i < text.length && fields.length < count; i++) {
    const c = text[i]!;
    if (c === '\\' && (text[i + 1] === '|' || text[i + 1] === '\\')) {
      cur += text.slice(run, i) + text[i + 1];
      i++;
      run = i + 1;
    } else if (c === '|') {
      fields.push((cur + text.slice(run, i)).trim());
      cur = '';
      run = i + 1;
    }
  }
  cur += text.slice(run, Math.min(i, text.length));
  if (fields.length === count - 1 && i >= text.length && cur !== '') fields.push(cur.trim());
  return { fields, rest: fields.length === count ? text.slice(i) : '' };
}

// A key is preceded by whitespace (or starts the extension) and directly followed by "=". Key characters
// exclude "\" so an escaped "\=" can never end a key. Each whitespace run starts at most one attempt: linear.
const KEY = /(?:^|(?<=\s))([A-Za-z0-9_.\-[\]]{1,128})=/g;

/** Parses a CEF extension into short key → unescaped value (first occurrence of a key wins). */
export function parseCefExtension(ext: string): Record<string, string> {
  const out = Object.create(null) as Record<string, string>;
  const keys: Array<{ key: string; at: number; valueAt: number }> = [];
  KEY.lastIndex = 0;
  for (let m = KEY.exec(ext); m; m = KEY.exec(ext)) keys.push({ key: m[1]!, at: m.index, valueAt: m.index + m[0].length });
  keys.forEach((k, n) => {
    const end = n + 1 < keys.length ? keys[n + 1]!.at : ext.length;
    const key = FULL_TO_SHORT[k.key] ?? k.key;
    if (key in out) return;
    out[key] = unescapeValue(ext.slice(k.valueAt, end).trim());
  });
  return out;
}

/** CEF extension value escapes: \= \\ \n \r (and \| which some senders add); other backslashes stay. */
export function unescapeValue(v: string): string {
  if (!v.includes('\\')) return v;
  return v.replace(/\\([=\\nr|])/g, (_m, c: string) => (c === 'n' ? '\n' : c === 'r' ? '\r' : c));
}

function customLabels(ext: Record<string, string>): Record<string, string> {
  const labels = Object.create(null) as Record<string, string>;
  for (const key of Object.keys(ext)) {
    if (!key.endsWith('Label') || key.length <= 5) continue;
    const base = key.slice(0, -5);
    const label = ext[key]!.trim();
    const value = ext[base];
    if (label && value !== undefined && !(label in labels)) labels[label] = value;
  }
  return labels;
}

/** CEF header severity (0-10, or Low/Medium/High/Very-High) → 0-100; undefined for Unknown or garbage. */
export function cefSeverity(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const s = value.trim();
  if (/^\d{1,2}(\.\d+)?$/.test(s)) {
    const n = Number(s);
    return n <= 10 ? Math.round(n * 10) : undefined;
  }
  return wordSeverity(s);
}

/** Full extension names (CEF spec "Full Name") → the short keys detectors read. */
export const FULL_TO_SHORT: Readonly<Record<string, string>> = Object.assign(Object.create(null) as Record<string, string>, {
  deviceAction: 'act',
  applicationProtocol: 'app',
  deviceEventCategory: 'cat',
  baseEventCount: 'cnt',
  destinationHostName: 'dhost',
  destinationMacAddress: 'dmac',
  destinationNtDomain: 'dntdom',
  destinationProcessId: 'dpid',
  destinationUserPrivileges: 'dpriv',
  destinationProcessName: 'dproc',
  destinationPort: 'dpt',
  destinationAddress: 'dst',
  deviceTimeZone: 'dtz',
  destinationUserId: 'duid',
  destinationUserName: 'duser',
  deviceAddress: 'dvc',
  deviceHostName: 'dvchost',
  deviceMacAddress: 'dvcmac',
  deviceProcessId: 'dvcpid',
  endTime: 'end',
  fileName: 'fname',
  fileSize: 'fsize',
  bytesIn: 'in',
  message: 'msg',
  bytesOut: 'out',
  eventOutcome: 'outcome',
  transportProtocol: 'proto',
  requestUrl: 'request',
  deviceReceiptTime: 'rt',
  sourceHostName: 'shost',
  sourceMacAddress: 'smac',
  sourceNtDomain: 'sntdom',
  sourceProcessId: 'spid',
  sourceUserPrivileges: 'spriv',
  sourceProcessName: 'sproc',
  sourcePort: 'spt',
  sourceAddress: 'src',
  startTime: 'start',
  sourceUserId: 'suid',
  sourceUserName: 'suser',
  ...numbered('deviceCustomString', 'cs', 6),
  ...numbered('deviceCustomNumber', 'cn', 3),
  ...numbered('deviceCustomFloatingPoint', 'cfp', 4),
  ...numbered('deviceCustomIPv6Address', 'c6a', 4),
});

function numbered(full: string, short: string, n: number): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 1; i <= n; i++) {
    out[`${full}${i}`] = `${short}${i}`;
    out[`${full}${i}Label`] = `${short}${i}Label`;
  }
  return out;
}
