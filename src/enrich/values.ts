/**
 * Normalising and matching indicator values for the local providers: canonical IPs, CIDR tables with
 * longest-prefix match, domains and their parents, host names (short vs FQDN), user names (CORP\alice,
 * alice@corp.example), MAC addresses and hashes. Values are compared in the same canonical form that the
 * normalize stage writes to `observables`.
 */
import ipaddr from 'ipaddr.js';
import type { ObservableType } from '../model/observable.js';

type Addr = ipaddr.IPv4 | ipaddr.IPv6;

/** Parses a strict IPv4 dotted quad or an IPv6 address; IPv4-mapped IPv6 becomes IPv4. */
export function parseIp(value: string): Addr | null {
  const v = value.trim();
  const quad = dottedQuad(v);
  if (quad) return new ipaddr.IPv4(quad);
  if (v.includes(':') && !v.includes('%') && ipaddr.IPv6.isValid(v)) {
    const a = ipaddr.IPv6.parse(v);
    return a.isIPv4MappedAddress() ? a.toIPv4Address() : a;
  }
  return null;
}

/**
 * The octets of a strict dotted quad: four decimal parts 0–255 without leading zeros, as
 * ipaddr.IPv4.isValidFourPartDecimal accepts. By hand because every lookup of an address parses it, and
 * ipaddr.js's regular expressions (it also tries octal, hex and shorter forms) were a tenth of enrichment.
 */
function dottedQuad(v: string): number[] | null {
  const octets: number[] = [];
  let n = 0;
  let digits = 0;
  for (let i = 0; i <= v.length; i++) {
    const c = i < v.length ? v.charCodeAt(i) : 46; // the end closes the last part like a dot
    if (c === 46) {
      if (digits === 0 || octets.length === 4) return null;
      octets.push(n);
      n = 0;
      digits = 0;
    } else if (c >= 48 && c <= 57) {
      if (digits > 0 && n === 0) return null; // a leading zero
      n = n * 10 + (c - 48);
      if (++digits > 3 || n > 255) return null;
    } else return null;
  }
  return octets.length === 4 ? octets : null;
}

export function canonicalIp(value: string): string | null {
  return parseIp(value)?.toString() ?? null;
}

export interface Cidr {
  kind: 'ipv4' | 'ipv6';
  bits: number;
  /** The network address, masked, as a bit string key. */
  key: string;
  text: string;
}

function bitsOf(addr: Addr, bits: number): string {
  let s = '';
  for (const byte of addr.toByteArray()) s += byte.toString(2).padStart(8, '0');
  return s.slice(0, bits);
}

/** "10.0.0.0/8", "2001:db8::/32" or a bare address (a /32 or /128). Host bits set are masked off. */
export function parseCidr(value: string): Cidr | null {
  const v = value.trim();
  const slash = v.indexOf('/');
  const addr = parseIp(slash < 0 ? v : v.slice(0, slash));
  if (!addr) return null;
  const max = addr.kind() === 'ipv4' ? 32 : 128;
  let bits = max;
  if (slash >= 0) {
    const b = v.slice(slash + 1);
    if (!/^\d{1,3}$/.test(b) || Number(b) > max) return null;
    bits = Number(b);
  }
  // An IPv4-mapped network written as ::ffff:a.b.c.d/120 is an IPv4 network /24.
  if (addr.kind() === 'ipv4' && slash >= 0 && v.slice(0, slash).includes(':')) bits = Math.max(0, bits - 96);
  return { kind: addr.kind(), bits, key: bitsOf(addr, bits), text: `${networkText(addr, bits)}/${bits}` };
}

function networkText(addr: Addr, bits: number): string {
  const bytes = addr.toByteArray();
  for (let i = 0; i < bytes.length; i++) {
    const keep = Math.max(0, Math.min(8, bits - i * 8));
    bytes[i] = bytes[i]! & ((0xff << (8 - keep)) & 0xff);
  }
  return ipaddr.fromByteArray(bytes).toString();
}

/**
 * Longest-prefix-match table: one map per prefix length, probed from the longest length down, so a lookup
 * costs one map probe per distinct prefix length rather than a scan of every network.
 */
export class CidrTable<T> {
  private readonly byLen = { ipv4: new Map<number, Map<string, T[]>>(), ipv6: new Map<number, Map<string, T[]>>() };
  private lengths = { ipv4: [] as number[], ipv6: [] as number[] };

  add(cidr: Cidr, value: T): void {
    const tables = this.byLen[cidr.kind];
    let m = tables.get(cidr.bits);
    if (!m) {
      m = new Map();
      tables.set(cidr.bits, m);
      this.lengths[cidr.kind] = [...tables.keys()].sort((a, b) => b - a);
    }
    const list = m.get(cidr.key) ?? [];
    list.push(value);
    m.set(cidr.key, list);
  }

  /** Every network containing the address, most specific first. */
  matchAll(ip: string): Array<{ bits: number; values: T[] }> {
    const addr = parseIp(ip);
    if (!addr) return [];
    const kind = addr.kind();
    const full = bitsOf(addr, kind === 'ipv4' ? 32 : 128);
    const out: Array<{ bits: number; values: T[] }> = [];
    for (const bits of this.lengths[kind]) {
      const hit = this.byLen[kind].get(bits)!.get(full.slice(0, bits));
      if (hit) out.push({ bits, values: hit });
    }
    return out;
  }

  /** The most specific network containing the address. */
  longest(ip: string): T[] | null {
    return this.matchAll(ip)[0]?.values ?? null;
  }
}

const DOMAIN_RE = /^(?=.{1,253}$)(?:[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9])?\.)+[a-z0-9-]{1,63}$/;

/** Lower-case, no trailing dot, refanged ("evil[.]example"); null unless it looks like a DNS name with a dot. */
export function normalizeDomain(value: string): string | null {
  const v = refang(value.trim()).toLowerCase().replace(/\.$/, '');
  return DOMAIN_RE.test(v) && !parseIp(v) ? v : null;
}

/** The domain and every parent that still has a dot: a.b.evil.example → [a.b.evil.example, b.evil.example, evil.example]. */
export function domainAndParents(domain: string): string[] {
  const labels = domain.split('.');
  const out: string[] = [];
  for (let i = 0; i < labels.length - 1; i++) out.push(labels.slice(i).join('.'));
  return out.length ? out : [domain];
}

/** Undoes the usual defanging of shared indicators: hxxp://, [.], (.), [:]. */
export function refang(value: string): string {
  return value
    .replace(/^hxxp(s?):\/\//i, 'http$1://')
    .replace(/\[\.\]|\(\.\)|\{\.\}/g, '.')
    .replace(/\[:\]/g, ':');
}

/** Canonical URL text (scheme and host lower-cased, default port dropped) and its host; null if not a URL. */
export function normalizeUrl(value: string): { url: string; host: string } | null {
  const v = refang(value.trim());
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(v)) return null;
  try {
    const u = new URL(v);
    const host = u.hostname.replace(/^\[|\]$/g, '').toLowerCase();
    if (!host) return null;
    return { url: u.toString(), host };
  } catch {
    return null;
  }
}

export const HASH_TYPES = { 32: 'md5', 40: 'sha1', 64: 'sha256' } as const;
export type HashType = (typeof HASH_TYPES)[keyof typeof HASH_TYPES];

export function hashType(value: string): HashType | null {
  const v = value.trim();
  if (!/^[0-9a-fA-F]+$/.test(v)) return null;
  return (HASH_TYPES as Record<number, HashType>)[v.length] ?? null;
}

/** aa:bb:cc:dd:ee:ff from any of aa-bb-…, aabb.ccdd.eeff, AABBCCDDEEFF; null if not 48 bits. */
export function normalizeMac(value: string): string | null {
  const hex = value.trim().toLowerCase().replace(/[:.\-\s]/g, '');
  if (!/^[0-9a-f]{12}$/.test(hex)) return null;
  return hex.match(/../g)!.join(':');
}

/** Host-name lookup keys: the full lower-cased name and its short name (the first label). */
export function hostKeys(value: string): { full: string; short: string; fqdn: boolean } {
  const full = value.trim().toLowerCase().replace(/\.$/, '');
  const dot = full.indexOf('.');
  // An IP is not a host name with a short form.
  if (dot < 0 || parseIp(full)) return { full, short: full, fqdn: false };
  return { full, short: full.slice(0, dot), fqdn: true };
}

/** User-name lookup keys: lower-cased as given, and the bare account (CORP\alice and alice@corp.example → alice). */
export function userKeys(value: string): { full: string; account: string } {
  const full = value.trim().toLowerCase();
  const back = full.lastIndexOf('\\');
  let account = back >= 0 ? full.slice(back + 1) : full;
  const at = account.indexOf('@');
  if (at > 0) account = account.slice(0, at);
  return { full, account };
}

/** Guesses the observable type of a bare indicator value (for lists without a type column and the CLI). */
export function guessType(value: string): ObservableType | 'cidr' | null {
  const v = refang(value.trim());
  if (parseIp(v)) return 'ip';
  if (v.includes('/') && !v.includes('://') && parseCidr(v)) return 'cidr';
  if (normalizeUrl(v)) return 'url';
  const h = hashType(v);
  if (h) return h;
  if (/^[^@\s]+@[^@\s][^@\s.]*\.[^@\s]+$/.test(v)) return 'email';
  if (normalizeMac(v) && /[:.-]/.test(v)) return 'mac';
  if (normalizeDomain(v)) return 'domain';
  return null;
}

/** Brings a value of a known type into the canonical form used for matching; null when it is not valid. */
export function normalizeValue(type: ObservableType, value: string): string | null {
  switch (type) {
    case 'ip':
      return canonicalIp(refang(value));
    case 'domain':
      return normalizeDomain(value);
    case 'url':
      return normalizeUrl(value)?.url ?? null;
    case 'md5':
    case 'sha1':
    case 'sha256':
      return hashType(value) === type ? value.trim().toLowerCase() : null;
    case 'mac':
      return normalizeMac(value);
    case 'email':
      return /^[^@\s]+@[^@\s]+$/.test(value.trim()) ? value.trim().toLowerCase() : null;
    case 'host':
      return value.trim() ? hostKeys(value).full : null;
    case 'user':
      return value.trim() ? value.trim().toLowerCase() : null;
  }
}
