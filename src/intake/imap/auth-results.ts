/**
 * Reading Authentication-Results header fields (RFC 8601) and deciding whether a message passed the checks
 * the imap receiver is configured to require.
 *
 * Who to trust (RFC 8601 §5): anyone can write an Authentication-Results field into a message, with any
 * authserv-id, including yours. Only the field(s) that YOUR receiving server prepended are evidence, and a
 * server prepends: they are the topmost ones. So the receiver reads the fields from the top and trusts only
 * the leading run that carries the configured authserv-id (at most `trustedHeaders` of them, default 1);
 * everything below the first field with another authserv-id, or below that bound, is ignored whatever it
 * says. When the topmost field is not your server's, the message has no trusted result and is refused.
 * This holds only if your server always adds its field (and ideally strips incoming ones with its id).
 *
 * Pure functions; linear scans, no regular expressions over the header text.
 */

export interface AuthResult {
  /** Method name, lower case, without its version ("dkim", "spf", "dmarc"). */
  method: string;
  /** Result, lower case ("pass", "fail", "none", …). */
  result: string;
  /** Properties by lower-case "ptype.property" ("header.d", "smtp.mailfrom"); values unquoted. */
  props: Record<string, string>;
}

export interface AuthResultsField {
  authservId: string;
  results: AuthResult[];
}

export interface AuthPolicy {
  /** The authserv-id your receiving mail server writes. */
  authservId: string;
  dkim: boolean;
  spf: boolean;
  dmarc: boolean;
  /** A passing DKIM signature must be by the From domain (d= equal to it, or a parent domain of it). */
  dkimAligned: boolean;
  /** How many leading fields with your authserv-id are read (your server may add one per checker). */
  trustedHeaders: number;
}

export type AuthVerdict = { ok: true } | { ok: false; reason: string };

/** Longest field value read; a longer one is not parsed (and so proves nothing). */
const MAX_FIELD = 16_384;

/** The value with comments "( … )" replaced by a space; quoted strings kept whole. */
function stripComments(v: string): string {
  let out = '';
  let depth = 0;
  let quoted = false;
  for (let i = 0; i < v.length; i++) {
    const c = v[i]!;
    if (c === '\\' && (quoted || depth > 0)) {
      if (depth === 0) out += c + (v[i + 1] ?? '');
      i++;
      continue;
    }
    if (depth > 0) {
      if (c === '(') depth++;
      else if (c === ')' && --depth === 0) out += ' ';
      continue;
    }
    if (c === '"') quoted = !quoted;
    else if (c === '(' && !quoted) {
      depth = 1;
      continue;
    }
    out += c;
  }
  return out;
}

/** Splits on ";" outside quoted strings. */
function splitResinfo(v: string): string[] {
  const parts: string[] = [];
  let quoted = false;
  let start = 0;
  for (let i = 0; i < v.length; i++) {
    const c = v[i]!;
    if (c === '\\' && quoted) i++;
    else if (c === '"') quoted = !quoted;
    else if (c === ';' && !quoted) {
      parts.push(v.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(v.slice(start));
  return parts;
}

const isWs = (c: string | undefined): boolean => c === ' ' || c === '\t' || c === '\r' || c === '\n';

/** `key = value` pairs of one resinfo; null when it does not have that shape. */
function pairs(s: string): Array<[string, string]> | null {
  const out: Array<[string, string]> = [];
  let i = 0;
  const skip = () => {
    while (i < s.length && isWs(s[i])) i++;
  };
  for (;;) {
    skip();
    if (i >= s.length) return out;
    let key = '';
    while (i < s.length && !isWs(s[i]) && s[i] !== '=' && s[i] !== '"') key += s[i++];
    skip();
    if (!key || s[i] !== '=') return null;
    i++;
    skip();
    let value = '';
    if (s[i] === '"') {
      i++;
      while (i < s.length && s[i] !== '"') {
        if (s[i] === '\\') i++;
        value += s[i++] ?? '';
      }
      if (s[i] !== '"') return null;
      i++;
    } else {
      // A value may hold "=" (base64 in header.b): it runs to the next space.
      while (i < s.length && !isWs(s[i])) value += s[i++];
    }
    if (!value) return null;
    out.push([key, value]);
  }
}

/** Parses one field's value (without the "Authentication-Results:" name); null when unreadable. */
export function parseAuthenticationResults(value: string): AuthResultsField | null {
  if (value.length > MAX_FIELD) return null;
  const parts = splitResinfo(stripComments(value));
  const head = parts[0]!.trim();
  let end = 0;
  while (end < head.length && !isWs(head[end])) end++;
  let authservId = head.slice(0, end);
  if (authservId.length > 1 && authservId.startsWith('"') && authservId.endsWith('"')) authservId = authservId.slice(1, -1);
  if (!authservId) return null;
  const results: AuthResult[] = [];
  for (const part of parts.slice(1)) {
    const text = part.trim();
    if (!text || text.toLowerCase() === 'none') continue;
    const kv = pairs(text);
    // An unreadable resinfo is skipped: it can only fail to contribute a pass.
    if (!kv || kv.length === 0) continue;
    const [methodSpec, result] = kv[0]!;
    const slash = methodSpec.indexOf('/');
    const method = (slash >= 0 ? methodSpec.slice(0, slash) : methodSpec).toLowerCase();
    const props: Record<string, string> = {};
    for (const [k, v] of kv.slice(1)) {
      const key = k.toLowerCase();
      if (key !== '__proto__' && !(key in props)) props[key] = v;
    }
    results.push({ method, result: result.toLowerCase(), props });
  }
  return { authservId, results };
}

/** The value of a raw header line "Name: value" with its folding undone. */
export function headerValue(line: string): string {
  const colon = line.indexOf(':');
  const v = colon >= 0 ? line.slice(colon + 1) : line;
  let out = '';
  for (let i = 0; i < v.length; i++) {
    const c = v[i]!;
    if (c === '\r' || c === '\n') continue;
    out += c;
  }
  return out.trim();
}

/** `d` is the From domain or a parent of it (relaxed DKIM alignment without a public-suffix list). */
export function domainAligned(fromDomain: string, d: string): boolean {
  const f = fromDomain.toLowerCase();
  const lower = d.toLowerCase();
  const s = lower.endsWith('.') ? lower.slice(0, -1) : lower;
  return s.length > 0 && (f === s || (s.includes('.') && f.endsWith(`.${s}`)));
}

/**
 * The verdict on a message from its Authentication-Results field values, topmost first, and the domain of
 * its (single) From address. The reason names what was missing, never message content.
 */
export function checkAuthentication(fields: readonly string[], fromDomain: string, policy: AuthPolicy): AuthVerdict {
  const id = policy.authservId.toLowerCase();
  const trusted: AuthResult[] = [];
  for (const raw of fields.slice(0, Math.max(1, policy.trustedHeaders))) {
    const f = parseAuthenticationResults(raw);
    if (!f || f.authservId.toLowerCase() !== id) break;
    trusted.push(...f.results);
  }
  if (fields.length === 0) return { ok: false, reason: `no Authentication-Results field (expected one by ${policy.authservId})` };
  if (trusted.length === 0 && parseAuthenticationResults(fields[0]!)?.authservId.toLowerCase() !== id) {
    return { ok: false, reason: `the topmost Authentication-Results field is not by ${policy.authservId}` };
  }
  const outcome = (method: string) => {
    const mine = trusted.filter((r) => r.method === method);
    return mine.length === 0 ? 'absent' : mine.map((r) => r.result).join(',');
  };
  if (policy.dkim) {
    const passes = trusted.filter((r) => r.method === 'dkim' && r.result === 'pass');
    if (passes.length === 0) return { ok: false, reason: `dkim did not pass (${outcome('dkim')})` };
    if (policy.dkimAligned) {
      const aligned = passes.some((r) => {
        const d = r.props['header.d'] ?? domainOf(r.props['header.i'] ?? '');
        return !!d && domainAligned(fromDomain, d);
      });
      if (!aligned) return { ok: false, reason: 'no passing dkim signature is aligned with the From domain' };
    }
  }
  if (policy.spf && !trusted.some((r) => r.method === 'spf' && r.result === 'pass')) return { ok: false, reason: `spf did not pass (${outcome('spf')})` };
  if (policy.dmarc && !trusted.some((r) => r.method === 'dmarc' && r.result === 'pass')) return { ok: false, reason: `dmarc did not pass (${outcome('dmarc')})` };
  return { ok: true };
}

function domainOf(address: string): string {
  const at = address.lastIndexOf('@');
  return at >= 0 ? address.slice(at + 1) : '';
}
