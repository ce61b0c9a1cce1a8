/**
 * Timestamps as vendors write them → UTC ISO-8601 (millisecond precision, as Date gives).
 *
 * Accepted forms (whitespace-tolerant, case-insensitive month names):
 *   - ISO-8601 / RFC 3339: 2018-07-05T15:07:20.910626-0400, 2024-01-02 03:04:05Z, 2019/05/15 18:03:36 (PAN-OS)
 *   - epoch numbers or digit strings: seconds (9-11 digits, fractions allowed), ms, µs, ns by magnitude
 *   - syslog and CEF `rt` forms: "Feb  5 12:00:00", "Feb 05 2024 12:00:00.123 UTC", "Tue Feb 5 12:00:00 2024"
 *   - RFC 2822 and Apache CLF: "Tue, 15 Nov 1994 08:12:31 GMT", "10/Oct/2000:13:55:36 -0700"
 * A zone written in the value (Z, ±HH[:]MM, GMT+01:00, UTC, a few unambiguous abbreviations, or an IANA name)
 * wins; otherwise the `timeZone` option (default: the parse context's, itself UTC by default). Year-less
 * forms get their year from `inferYear` against a reference time (default: when the record was received).
 */
import { ParseError } from '../detector.js';
import { parseContext } from './context.js';
import { excerpt } from './text.js';

export interface TimeOptions {
  /** Zone for zone-less forms: IANA name or offset. Default: the parse context's zone (UTC). */
  timeZone?: string;
  /** Reference for year inference. Default: the parse context's received time. */
  reference?: Date;
  /** Field name used in error messages, e.g. "rt" or "timestamp". */
  field?: string;
}

export interface WallTime {
  year: number;
  month: number; // 1-12
  day: number;
  hour: number;
  minute: number;
  second: number;
  ms: number;
}

type Zone = { kind: 'fixed'; offsetMs: number } | { kind: 'iana'; name: string; fmt: Intl.DateTimeFormat };

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];
const MONTH_NAMES = ['january', 'february', 'march', 'april', 'may', 'june', 'july', 'august', 'september', 'october', 'november', 'december'];
const WEEKDAYS = new Set(['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun']);

// Abbreviations that are unambiguous in practice. Ambiguous ones (IST, CST in China, BST…) are rejected so
// a wrong guess never silently shifts an alert by hours; sources using them should set a time zone.
const ABBREVIATIONS: Record<string, number> = {
  UTC: 0, UT: 0, GMT: 0, Z: 0,
  EST: -5 * 60, EDT: -4 * 60, CDT: -5 * 60, MST: -7 * 60, MDT: -6 * 60, PST: -8 * 60, PDT: -7 * 60,
  CET: 60, CEST: 120, EET: 120, EEST: 180, WET: 0, WEST: 60, JST: 9 * 60, KST: 9 * 60,
  AEST: 600, AEDT: 660, HST: -600, AKST: -540, AKDT: -480,
};

/** The latest a year-less date may lie after the reference: clock skew and zone mistakes, not real data. */
export const YEAR_INFERENCE_TOLERANCE_MS = 24 * 3600_000;

const MAX_INPUT = 100;

/** Parses a timestamp to a UTC ISO string; throws ParseError naming the field and the value. */
export function parseTimestamp(value: unknown, opts: TimeOptions = {}): string {
  const ms = parseTimestampMs(value, opts);
  if (ms === undefined) {
    const shown = typeof value === 'string' ? `"${excerpt(value, 64)}"` : typeof value === 'number' ? String(value) : `a ${value === null ? 'null' : typeof value}`;
    throw new ParseError(`${opts.field ? `${opts.field}: ` : ''}unrecognised timestamp ${shown}`);
  }
  return new Date(ms).toISOString();
}

/** Like parseTimestamp, but undefined instead of an error (for optional or fallback fields). */
export function tryParseTimestamp(value: unknown, opts: TimeOptions = {}): string | undefined {
  const ms = parseTimestampMs(value, opts);
  return ms === undefined ? undefined : new Date(ms).toISOString();
}

function parseTimestampMs(value: unknown, opts: TimeOptions): number | undefined {
  if (typeof value === 'number') return fromEpoch(value);
  if (typeof value !== 'string') return undefined;
  const s = value.trim();
  if (s === '' || s.length > MAX_INPUT) return undefined;
  if (/^\d{9,20}(\.\d{1,9})?$/.test(s)) return fromEpoch(Number(s));
  return fromIso(s, opts) ?? fromMonthFirst(s, opts) ?? fromDayFirst(s, opts);
}

function fromEpoch(n: number): number | undefined {
  if (!Number.isFinite(n) || n < 1e8) return undefined; // 0 or small numbers mean "unset", not 1970
  let ms: number;
  if (n < 1e11) ms = n * 1000;
  else if (n < 1e14) ms = n;
  else if (n < 1e17) ms = n / 1000;
  else if (n < 1e20) ms = n / 1e6;
  else return undefined;
  return checkRange(Math.floor(ms));
}

const ISO = /^(\d{4})([-/])(\d{1,2})\2(\d{1,2})(?:(?:T|\s+)(\d{1,2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?)?/i;

function fromIso(s: string, opts: TimeOptions): number | undefined {
  const m = ISO.exec(s);
  if (!m) return undefined;
  const wall: WallTime = {
    year: +m[1]!, month: +m[3]!, day: +m[4]!,
    hour: m[5] ? +m[5] : 0, minute: m[6] ? +m[6] : 0, second: m[7] ? +m[7] : 0, ms: fraction(m[8]),
  };
  return finish(wall, s.slice(m[0].length), opts);
}

// "Feb  5 12:00:00", "Feb 05 2024 12:00:00.123 UTC", "Tue Feb 5 12:00:00 2024" (ctime).
const MONTH_FIRST = /^(?:([A-Za-z]{3}),?\s+)?([A-Za-z]{3,9})\.?\s+(\d{1,2}),?(?:\s+(\d{4}))?\s+(\d{1,2}):(\d{2}):(\d{2})(?:[.,](\d{1,9}))?/;

function fromMonthFirst(s: string, opts: TimeOptions): number | undefined {
  const m = MONTH_FIRST.exec(s);
  if (!m) return undefined;
  if (m[1] && !WEEKDAYS.has(m[1].toLowerCase())) return undefined;
  const month = monthNumber(m[2]!);
  if (!month) return undefined;
  let year = m[4] ? +m[4] : undefined;
  let rest = s.slice(m[0].length).trim();
  // ctime puts the year last, possibly after a zone: "… 12:00:00 2024" or "… 12:00:00 UTC 2024".
  const trailingYear = /(?:^|\s)(\d{4})$/.exec(rest);
  if (year === undefined && trailingYear) {
    year = +trailingYear[1]!;
    rest = rest.slice(0, trailingYear.index).trim();
  }
  const partial = { month, day: +m[3]!, hour: +m[5]!, minute: +m[6]!, second: +m[7]!, ms: fraction(m[8]) };
  if (year === undefined) {
    const zone = zoneFor(rest, opts);
    if (!zone || !validWall({ ...partial, year: 2000 })) return undefined; // 2000: leap year, so Feb 29 passes here
    year = inferYearInZone(partial, opts.reference ?? parseContext().receivedAt, zone);
    if (year === undefined) return undefined;
  }
  return finish({ ...partial, year }, rest, opts);
}

// "15 Nov 1994 08:12:31 GMT" (RFC 2822, optional weekday) and "10/Oct/2000:13:55:36 -0700" (Apache CLF).
const DAY_FIRST = /^(?:[A-Za-z]{3},?\s+)?(\d{1,2})[\s/-]+([A-Za-z]{3,9})[\s/-]+(\d{4})(?:T|:|\s+)(\d{1,2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?/;

function fromDayFirst(s: string, opts: TimeOptions): number | undefined {
  const m = DAY_FIRST.exec(s);
  if (!m) return undefined;
  const month = monthNumber(m[2]!);
  if (!month) return undefined;
  const wall = { year: +m[3]!, month, day: +m[1]!, hour: +m[4]!, minute: +m[5]!, second: m[6] ? +m[6] : 0, ms: fraction(m[7]) };
  return finish(wall, s.slice(m[0].length), opts);
}

function finish(wall: WallTime, rest: string, opts: TimeOptions): number | undefined {
  const zone = zoneFor(rest.trim(), opts);
  if (!zone || !validWall(wall)) return undefined;
  return checkRange(zonedToUtcMs(wall, zone));
}

/** The zone written after the time, or the option/context default when nothing is written. */
function zoneFor(rest: string, opts: TimeOptions): Zone | undefined {
  if (rest !== '') return parseZone(rest);
  return resolveTimeZone(opts.timeZone ?? parseContext().timeZone);
}

function fraction(digits: string | undefined): number {
  return digits ? Number(digits.padEnd(3, '0').slice(0, 3)) : 0;
}

function monthNumber(name: string): number | undefined {
  const lower = name.toLowerCase();
  const i = MONTHS.indexOf(lower.slice(0, 3));
  if (i < 0) return undefined;
  if (lower.length > 3 && !MONTH_NAMES[i]!.startsWith(lower)) return undefined;
  return i + 1;
}

function daysIn(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

function validWall(w: WallTime): boolean {
  return (
    w.year >= 1900 && w.year <= 9999 && w.month >= 1 && w.month <= 12 && w.day >= 1 && w.day <= daysIn(w.year, w.month) &&
    w.hour <= 23 && w.minute <= 59 && w.second <= 60 // 60: a leap second, folded into :59.999 below
  );
}

function checkRange(ms: number): number | undefined {
  // 1900 … 9999: outside that, a "timestamp" is a misparsed number, not a time.
  return Number.isFinite(ms) && ms >= -2208988800000 && ms <= 253402300799999 ? ms : undefined;
}

// ---- zones ---------------------------------------------------------------------------------------------

const ianaCache = new Map<string, Intl.DateTimeFormat>();

/** Parses a zone designator; undefined when it is not one (or an ambiguous abbreviation). */
export function parseZone(text: string): Zone | undefined {
  const s = text.trim();
  if (s === '') return undefined;
  const upper = s.toUpperCase();
  if (Object.hasOwn(ABBREVIATIONS, upper)) return { kind: 'fixed', offsetMs: ABBREVIATIONS[upper]! * 60_000 };
  const off = /^(?:UTC|GMT|UT)?\s*([+\-\u2212])(\d{1,2})(?::?(\d{2}))?$/i.exec(s);
  if (off) {
    const h = +off[2]!;
    const mi = off[3] ? +off[3] : 0;
    if (h > 14 || mi > 59) return undefined;
    const sign = off[1] === '+' ? 1 : -1;
    return { kind: 'fixed', offsetMs: sign * (h * 60 + mi) * 60_000 };
  }
  if (/^[A-Za-z_]+(?:\/[A-Za-z0-9_+\-]+){1,2}$/.test(s) || /^(?:UTC|GMT|Etc\/\w+)$/i.test(s)) return iana(s);
  return undefined;
}

function iana(name: string): Zone | undefined {
  let fmt = ianaCache.get(name);
  if (!fmt) {
    try {
      fmt = new Intl.DateTimeFormat('en-US', {
        timeZone: name, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric',
      });
    } catch {
      return undefined;
    }
    if (ianaCache.size >= 256) ianaCache.clear(); // names come from config and records: keep the cache bounded
    ianaCache.set(name, fmt);
  }
  return { kind: 'iana', name, fmt };
}

/** Resolves a configured zone (IANA name or offset); throws a plain Error for an unknown one (a config mistake). */
export function resolveTimeZone(tz: string): Zone {
  const zone = parseZone(tz);
  if (!zone) throw new Error(`unknown time zone "${excerpt(tz, 64)}" (use an IANA name such as Europe/Berlin, or an offset such as +02:00)`);
  return zone;
}

function ianaOffsetMs(fmt: Intl.DateTimeFormat, t: number): number {
  const p: Record<string, number> = {};
  for (const part of fmt.formatToParts(new Date(t))) if (part.type !== 'literal') p[part.type] = Number(part.value);
  const asUtc = Date.UTC(p.year!, p.month! - 1, p.day!, p.hour! % 24, p.minute!, p.second!);
  return asUtc - Math.floor(t / 1000) * 1000;
}

function zonedToUtcMs(w: WallTime, zone: Zone): number {
  const second = Math.min(w.second, 59);
  const ms = w.second === 60 ? 999 : w.ms;
  const wallMs = Date.UTC(w.year, w.month - 1, w.day, w.hour, w.minute, second, ms);
  if (zone.kind === 'fixed') return wallMs - zone.offsetMs;
  // The offset at the wall time read as UTC is right except within hours of a DST change: check once more.
  const first = wallMs - ianaOffsetMs(zone.fmt, wallMs);
  const second2 = ianaOffsetMs(zone.fmt, first);
  return wallMs - second2;
}

/** Local wall time in `timeZone` (IANA name or offset) → epoch ms. */
export function zonedToUtc(w: WallTime, timeZone: string): number {
  return zonedToUtcMs(w, resolveTimeZone(timeZone));
}

/**
 * RFC 3164 and friends have no year. Picks the year that puts the date closest to the reference without
 * lying more than `toleranceMs` after it: a log line is written before it is received (give or take clock
 * skew), so "Dec 31" received on Jan 2 is last year's, while "Jan 2" received on Jan 2 is this year's.
 * Returns undefined only when no nearby year has that date (Feb 29 far from a leap year).
 */
export function inferYear(
  date: Omit<WallTime, 'year'>,
  reference: Date,
  timeZone = 'UTC',
  toleranceMs = YEAR_INFERENCE_TOLERANCE_MS,
): number | undefined {
  return inferYearInZone(date, reference, resolveTimeZone(timeZone), toleranceMs);
}

function inferYearInZone(date: Omit<WallTime, 'year'>, reference: Date, zone: Zone, toleranceMs = YEAR_INFERENCE_TOLERANCE_MS): number | undefined {
  const ref = reference.getTime();
  const refYear = reference.getUTCFullYear();
  // Latest candidate first; Feb 29 may need to look back up to 8 years (1900 and 2100 are not leap years).
  for (let year = refYear + 1; year >= refYear - 8; year--) {
    const wall = { ...date, year };
    if (!validWall(wall)) continue;
    if (zonedToUtcMs(wall, zone) <= ref + toleranceMs) return year;
  }
  return undefined;
}
