/**
 * Text hygiene for values that came from outside: control characters out, lone surrogates repaired, sizes
 * bounded. Alerts end up in dashboards, tickets, chat messages and shell-adjacent tooling, so whatever a
 * hostile record carries must not be able to forge log lines, break terminals or blow up storage.
 */

/** Default bound for one string field (characters). */
export const MAX_FIELD = 4096;
/** Command lines are long for good reasons (encoded PowerShell); keep more of them. */
export const MAX_COMMAND_LINE = 65536;

// C0 controls except tab (09) and newline (0A), DEL, and the C1 block.
// eslint-disable-next-line no-control-regex
const CONTROL_FREE_TEXT = /[\u0000-\u0008\u000B-\u001F\u007F-\u009F]/g;
// eslint-disable-next-line no-control-regex
const CONTROL_ALL = /[\u0000-\u001F\u007F-\u009F]/g;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/** Cuts to at most `max` UTF-16 units without leaving half of a surrogate pair at the end. */
export function clip(s: string, max: number): string {
  if (s.length <= max) return s;
  let end = max;
  const last = s.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end--;
  return s.slice(0, end);
}

/**
 * Free text (titles, messages, command lines): CRLF becomes LF, other controls are removed, tab and
 * newline stay. Returns undefined for empty results so callers can drop the field.
 */
export function cleanText(value: unknown, max = MAX_FIELD): string | undefined {
  const s = scalarString(value);
  if (s === undefined) return undefined;
  const out = clip(
    s.replace(/\r\n?/g, '\n').replace(CONTROL_FREE_TEXT, '').replace(LONE_SURROGATE, '\uFFFD').trim(),
    max,
  );
  return out === '' ? undefined : out;
}

/** Identifiers (names, ids, paths): every control character goes, newlines included. */
export function cleanToken(value: unknown, max = MAX_FIELD): string | undefined {
  const s = scalarString(value);
  if (s === undefined) return undefined;
  const out = clip(s.replace(CONTROL_ALL, '').replace(LONE_SURROGATE, '\uFFFD').trim(), max);
  return out === '' ? undefined : out;
}

/** Strings as they are, finite numbers and booleans as text; anything else (objects, arrays…) is not text. */
export function scalarString(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : undefined;
  if (typeof value === 'bigint' || typeof value === 'boolean') return String(value);
  return undefined;
}

// A regular expression such as /[\r\n]+$/ is tried at every position of a long run and rescans the rest of
// the run each time (quadratic); these loops look at each character once.

/** `s` without the trailing characters for which `drop` holds. */
export function trimEndWhile(s: string, drop: (c: string) => boolean): string {
  let end = s.length;
  while (end > 0 && drop(s[end - 1]!)) end--;
  return end === s.length ? s : s.slice(0, end);
}

/** The characters that end a line for JavaScript (`^`, `$` and `.` without the `s` flag). */
export const LINE_BREAKS = '\n\r\u2028\u2029';
/** A line terminator left inside a line split at "\n" (a line of such text is not one line). */
export const BREAK_IN_LINE = /[\r\u2028\u2029]/;

/** `s` without trailing characters that occur in `chars` (e.g. trimEndChars(line, '\r\n')). */
export function trimEndChars(s: string, chars: string): string {
  return trimEndWhile(s, (c) => chars.includes(c));
}

/** A short, printable excerpt for error messages (JSON-escaped so controls stay visible but harmless). */
export function excerpt(s: string, max = 40): string {
  const cut = clip(s, max);
  return JSON.stringify(cut).slice(1, -1) + (s.length > max ? '…' : '');
}
