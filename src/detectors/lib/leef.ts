/**
 * IBM QRadar Log Event Extended Format (LEEF) 1.0 and 2.0, per the QRadar DSM guide "LEEF event components":
 *
 *   [syslog envelope] LEEF:1.0|Vendor|Product|Version|EventID|key=value<TAB>key=value…
 *   [syslog envelope] LEEF:2.0|Vendor|Product|Version|EventID|DelimiterCharacter|key=value<DELIM>…
 *
 * LEEF 2.0's delimiter field is a single character (`^`) or its hex code as `x5E`, `0x5E` (`x09` = tab);
 * empty or absent means tab. Predefined keys include devTime (+ devTimeFormat), src, dst, srcPort, dstPort,
 * usrName, sev, cat, proto, srcMAC, dstMAC, identHostName, url, domain. Senders are known to deviate:
 * LEEF 1.0 with spaces instead of tabs is accepted (keys found as in CEF), and a chunk without "=" is taken
 * as part of the previous value (a delimiter inside a value). Header pipes may be escaped as `\|`.
 */
import { ParseError } from '../detector.js';
import { splitHeader, parseCefExtension } from './cef.js';
import { parseSyslog, type SyslogMessage, type SyslogOptions } from './syslog.js';
import { excerpt, trimEndChars } from './text.js';

export interface LeefEvent {
  /** "1.0" or "2.0" as written. */
  version: string;
  vendor: string;
  product: string;
  productVersion: string;
  eventId: string;
  /** The attribute delimiter actually used. */
  delimiter: string;
  /** Attributes (null prototype: keys are data). First occurrence of a key wins. */
  attributes: Record<string, string>;
  prefix: string;
  envelope?: SyslogMessage;
}

export function findLeefStart(text: string): number {
  const m = /(?:^|[\s>:])LEEF:\d(?:\.\d)?\|/.exec(text.slice(0, 2048));
  if (!m) return -1;
  return m.index + (m[0].startsWith('LEEF') ? 0 : 1);
}

/** Parses a LEEF record; throws ParseError naming what is wrong. */
export function parseLeef(text: string, opts: SyslogOptions = {}): LeefEvent {
  const start = findLeefStart(text);
  if (start < 0) throw new ParseError(`not a LEEF record (no "LEEF:<version>|" found; starts: ${excerpt(text)})`);
  const prefix = text.slice(0, start).trim();
  const { fields, rest } = splitHeader(text, start + 5, 5);
  if (fields.length < 5) throw new ParseError(`LEEF header has ${fields.length} of 5 fields (Version|Vendor|Product|Version|EventID); truncated?`);
  const [version, vendor, product, productVersion, eventId] = fields as [string, string, string, string, string];
  let attrs = rest;
  let delimiter = '\t';
  if (version.startsWith('2')) {
    const d = leef2Delimiter(rest);
    if (d) {
      delimiter = d.delimiter;
      attrs = rest.slice(d.consumed);
    }
  }
  return {
    version,
    vendor,
    product,
    productVersion,
    eventId,
    delimiter,
    attributes: parseLeefAttributes(attrs, delimiter),
    prefix,
    envelope: prefix ? parseSyslog(prefix, opts) : undefined,
  };
}

/**
 * Reads LEEF 2.0's delimiter field at the start of `rest` (up to the next "|"). Returns undefined when the
 * field is absent (some senders skip it and start the attributes right away).
 */
export function leef2Delimiter(rest: string): { delimiter: string; consumed: number } | undefined {
  const bar = rest.indexOf('|');
  if (bar < 0 || bar > 8) return undefined;
  const field = rest.slice(0, bar);
  const delimiter = decodeDelimiter(field);
  return delimiter === undefined ? undefined : { delimiter, consumed: bar + 1 };
}

/** "^" → "^", "x09"/"0x09"/"\t" → tab, "" → tab; undefined when the text is not a delimiter spec. */
export function decodeDelimiter(field: string): string | undefined {
  if (field === '') return '\t';
  if (field === '\\t') return '\t';
  const hex = /^(?:0?x)([0-9a-f]{1,4})$/i.exec(field);
  if (hex) {
    const code = Number.parseInt(hex[1]!, 16);
    return code > 0 && code !== 0x3d ? String.fromCharCode(code) : undefined; // "=" cannot delimit key=value
  }
  if ([...field].length === 1 && field !== '=') return field;
  return undefined;
}

/** Splits attributes on `delimiter`; falls back to CEF-style key scanning when the delimiter never occurs. */
export function parseLeefAttributes(attrs: string, delimiter: string): Record<string, string> {
  const text = trimEndChars(attrs, '\r\n');
  if (!text.includes(delimiter) && /\s[A-Za-z0-9_.-]+=/.test(text)) return parseCefExtension(text);
  const out = Object.create(null) as Record<string, string>;
  let lastKey: string | undefined;
  for (const chunk of text.split(delimiter)) {
    const eq = chunk.indexOf('=');
    const key = eq > 0 ? chunk.slice(0, eq).trim() : '';
    if (eq <= 0 || !/^[A-Za-z0-9_.\-[\]]{1,128}$/.test(key)) {
      // No key: the delimiter was part of the previous value.
      if (lastKey !== undefined && chunk !== '') out[lastKey] += delimiter + chunk;
      continue;
    }
    if (key in out) {
      lastKey = undefined;
      continue;
    }
    out[key] = chunk.slice(eq + 1);
    lastKey = key;
  }
  for (const k of Object.keys(out)) out[k] = out[k]!.trim();
  return out;
}
