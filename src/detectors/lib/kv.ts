/**
 * key=value logs as firewalls write them (FortiOS, Sophos XG/SFOS, and many others):
 *
 *   date=2019-05-15 time=18:03:36 devname="FW-01" logid="0419016384" msg="User \"bob\" blocked" srcip=10.1.1.1
 *
 * Values are bare (up to the next whitespace) or quoted with " or ' (a backslash escapes the quote and
 * itself). Tokens that are not key=value (a syslog header,
 * stray words) are skipped, so a syslog envelope in front does no harm: use `prefix` to get it.
 * Parsing is a single left-to-right scan: no backtracking, whatever the input.
 */
export interface KvOptions {
  /** Keep the last occurrence of a repeated key instead of the first. */
  lastWins?: boolean;
}

export interface KvResult {
  /** Key → value (null prototype: keys are data, `__proto__` included). */
  fields: Record<string, string>;
  /** Text before the first key=value pair, trimmed (e.g. the syslog header). */
  prefix: string;
}

const KEY_CHAR = /[A-Za-z0-9_.\-[\]]/;

export function parseKv(text: string, opts: KvOptions = {}): KvResult {
  const fields = Object.create(null) as Record<string, string>;
  let prefixEnd = -1;
  // A syslog PRI glued to the first key ("<189>date=…", FortiOS) is part of the prefix, not of the key.
  let i = /^\s*<\d{1,3}>/.exec(text)?.[0].length ?? 0;
  const n = text.length;
  while (i < n) {
    while (i < n && isSpace(text[i]!)) i++;
    const keyStart = i;
    while (i < n && KEY_CHAR.test(text[i]!)) i++;
    if (i === keyStart || text[i] !== '=') {
      // Not a key=value token: skip it (whole, including any quoted part) and go on.
      i = skipToken(text, i === keyStart ? i + 1 : i);
      continue;
    }
    const key = text.slice(keyStart, i);
    i++; // "="
    const { value, next } = readValue(text, i);
    i = next;
    if (prefixEnd < 0) prefixEnd = keyStart;
    if (opts.lastWins || !(key in fields)) fields[key] = value;
  }
  return { fields, prefix: prefixEnd < 0 ? text.trim() : text.slice(0, prefixEnd).trim() };
}

function isSpace(c: string): boolean {
  return c === ' ' || c === '\t' || c === '\n' || c === '\r';
}

function skipToken(text: string, i: number): number {
  while (i < text.length && !isSpace(text[i]!)) i++;
  return i;
}

function readValue(text: string, i: number): { value: string; next: number } {
  const q = text[i];
  if (q !== '"' && q !== "'") {
    const end = skipToken(text, i);
    return { value: text.slice(i, end), next: end };
  }
  // Copied a run at a time (between escapes), not a character at a time: a long value makes one string.
  let value = '';
  let j = i + 1;
  let run = j;
  while (j < text.length) {
    const c = text[j]!;
    if (c === '\\' && (text[j + 1] === q || text[j + 1] === '\\')) {
      value += text.slice(run, j) + text[j + 1];
      j += 2;
      run = j;
    } else if (c === q) {
      return { value: value + text.slice(run, j), next: j + 1 };
    } else {
      j++;
    }
  }
  // Unterminated quote (a truncated line): keep what there is rather than lose the field.
  return { value: value + text.slice(run, j), next: j };
}

// ---- reading parsed fields ---------------------------------------------------------------------------------

/** A port written as a key: value field (white space around allowed): 0-65535, else undefined. */
export function kvPort(v: string | undefined): number | undefined {
  return v !== undefined && /^\d{1,5}$/.test(v.trim()) && Number(v) <= 65535 ? Number(v) : undefined;
}

/** A non-negative integer (a count, a size, an id) written as a key: value field (white space around allowed); at most 15 digits, else undefined. */
export function kvInt(v: string | undefined): number | undefined {
  return v !== undefined && /^\d{1,15}$/.test(v.trim()) ? Number(v) : undefined;
}

/** All fields for a context event's data, capped: at most 256 keys, values cut at 4096 characters (a hostile record may carry thousands of keys). */
export function copyFields(f: Record<string, string>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  let n = 0;
  for (const [k, v] of Object.entries(f)) {
    if (++n > 256) break;
    out[k] = v.length > 4096 ? v.slice(0, 4096) : v;
  }
  return out;
}
