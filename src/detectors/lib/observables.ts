/**
 * Indicator normalisation and the last step of every detector: `finalizeAlert`.
 *
 * Normal forms (DESIGN.md §3): canonical IPs (IPv4 dotted decimal; IPv6 RFC 5952 compressed, lower-case,
 * IPv4-mapped addresses unwrapped to IPv4, zone index dropped), lower-case ASCII domains (IDN → punycode,
 * no trailing dot), refanged URLs with lower-case scheme and host, lower-case hex hashes of the right
 * length, MACs as lower-case colon pairs, lower-case e-mail addresses. A value that does not survive
 * normalisation is dropped: a wrong indicator is worse than a missing one (it gets looked up, blocked…).
 */
import ipaddr from 'ipaddr.js';
import { domainToASCII } from 'node:url';
import { parse as parseDomain } from 'tldts';
import { DETECTOR_ACTIONS, clampSeverity, severityLabel, type AlertDraft, type DetectorAction, type Endpoint, type FileInfo, type HostInfo, type ProcessInfo, type RuleInfo, type UserInfo } from '../../model/alert.js';
import { CONTEXT_OUTCOMES, isContextKind, type ContextEvent } from '../../model/context.js';
import { isObservableType, type Observable, type ObservableType } from '../../model/observable.js';
import { ParseError } from '../detector.js';
import { MAX_COMMAND_LINE, MAX_FIELD, cleanText, cleanToken } from './text.js';
import { compact as pack, isObject, toInt } from './values.js';
import { isPlaceholderHash, isPlaceholderIp, isPlaceholderText } from './placeholders.js';

// ---- refang ----------------------------------------------------------------------------------------------

/** Every defanged form below contains one of these: a bracket, a backslash, or an hxxp/fxp scheme. */
const MAYBE_DEFANGED = /[[({\\]|hxxp|fxp/i;

/**
 * Undoes the usual defanging of indicators in threat reports and some products' alerts:
 * hxxp(s)/hXXp/fxp schemes, [.] (.) {.} [dot] (dot) \. for dots, [:] [://] for the scheme separator,
 * [@] [at] for e-mail. Only bracketed forms are touched, so ordinary text is left as it is.
 */
export function refang(value: string): string {
  // Nearly every value is not defanged: one test instead of seven replaces on the hot path.
  if (!MAYBE_DEFANGED.test(value)) return value;
  return value
    .replace(/\bhxxp(s?)(?=\[?:)/gi, (_m, s: string) => `http${s.toLowerCase()}`)
    .replace(/\bfxp(?=\[?:)/gi, 'ftp')
    .replace(/\[:\/\/\]/g, '://')
    .replace(/\[:\](?=\/\/)/g, ':')
    .replace(/\s?(?:\[\.\]|\(\.\)|\{\.\}|\[dot\]|\(dot\)|\{dot\})\s?/gi, '.')
    .replace(/\\\./g, '.')
    .replace(/\s?(?:\[@\]|\(@\)|\[at\]|\(at\))\s?/gi, '@');
}

// ---- IPs -------------------------------------------------------------------------------------------------

/** A dotted quad already in canonical form (no leading zeros, each part up to 255). */
const CANONICAL_V4 = /^(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?:\.(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

/**
 * Canonical IP or undefined. IPv4 must be four decimal parts (leading zeros read as decimal, which is what
 * zero-padding devices mean; inet_aton-style octal/hex/short forms are rejected as garbage). Accepts
 * brackets ([2001:db8::1]) and defanged dots.
 */
export function canonicalIp(value: unknown): string | undefined {
  if (typeof value !== 'string' || value.length > 64) return undefined;
  // Most addresses are already canonical: returned as they are, without refanging and rebuilding them.
  if (CANONICAL_V4.test(value)) return value;
  let s = refang(value.trim());
  if (s.startsWith('[') && s.endsWith(']')) s = s.slice(1, -1);
  const v4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
  if (v4) {
    const parts = v4.slice(1).map(Number);
    return parts.every((n) => n <= 255) ? parts.join('.') : undefined;
  }
  if (!s.includes(':')) return undefined;
  const zone = s.indexOf('%');
  if (zone >= 0) s = s.slice(0, zone); // link-local zone: interface detail of the sensor, not the address
  if (!ipaddr.IPv6.isValid(s)) return undefined;
  const addr = ipaddr.IPv6.parse(s);
  if (addr.isIPv4MappedAddress()) return addr.toIPv4Address().toString();
  return addr.toRFC5952String();
}

export function isIp(value: string): boolean {
  return canonicalIp(value) !== undefined;
}

// ---- names -----------------------------------------------------------------------------------------------

const LABEL = /^(?!-)[a-z0-9_-]{1,63}(?<!-)$/;

/** Lower-case ASCII host name (single labels allowed, IDN → punycode); undefined for garbage or an IP. */
export function normalizeHostname(value: unknown): string | undefined {
  if (typeof value !== 'string' || value.length > 300) return undefined;
  let s = refang(value.trim()).toLowerCase();
  if (s.endsWith('.')) s = s.slice(0, -1);
  if (s === '' || isIp(s)) return undefined;
  const ascii = /^[\x21-\x7e]*$/.test(s) ? s : domainToASCII(s);
  if (ascii === '' || ascii.length > 253) return undefined;
  return ascii.split('.').every((l) => LABEL.test(l)) ? ascii : undefined;
}

/**
 * Lower-case registrable-style domain: a host name with at least two labels and a non-numeric last label.
 * Wildcards (*.example.com, as in certificate names) are not domains and are dropped.
 */
export function normalizeDomain(value: unknown): string | undefined {
  const host = normalizeHostname(value);
  if (!host || !host.includes('.')) return undefined;
  const tld = host.slice(host.lastIndexOf('.') + 1);
  return /^\d+$/.test(tld) ? undefined : host;
}

/**
 * Host observable value: Windows machine names (WS-042, WS-042$) and FQDNs, lower-cased. Unlike
 * normalizeHostname it tolerates NetBIOS characters, because that is what endpoint products report.
 */
export function normalizeHostObservable(value: unknown): string | undefined {
  const dns = normalizeHostname(value);
  if (dns) return dns;
  if (typeof value !== 'string') return undefined;
  const s = value.trim().toLowerCase();
  return /^[a-z0-9][a-z0-9_.$-]{0,254}$/.test(s) && !isIp(s) ? s : undefined;
}

// ---- URLs and e-mail -----------------------------------------------------------------------------------

const URL_WITH_SCHEME = /^([a-z][a-z0-9+.-]{0,15}):\/\/([^/?#\s]*)([/?#].*)?$/is;

/**
 * Refanged URL with lower-case scheme and host (IDN → punycode); path and query kept as written (so the
 * value matches intel feeds), spaces percent-encoded. A scheme-less "host/path" gets http://. Anything
 * without a valid host is not a URL and is dropped.
 */
export function normalizeUrl(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  let s = refang(value.trim());
  if (s === '' || s.length > MAX_FIELD * 2 || /[\u0000-\u001f\u007f]/.test(s)) return undefined;
  if (!/^[a-z][a-z0-9+.-]{0,15}:\/\//i.test(s)) {
    if (!/^[^/\s:?#]+(?::\d{1,5})?\//.test(s)) return undefined;
    s = `http://${s}`;
  }
  const m = URL_WITH_SCHEME.exec(s);
  if (!m) return undefined;
  const authority = m[2]!;
  const at = authority.lastIndexOf('@');
  const userinfo = at >= 0 ? authority.slice(0, at + 1) : '';
  const hostPort = authority.slice(at + 1);
  const hp = /^(\[[0-9a-fA-F:.%\w]+\]|[^:]+)(?::(\d{1,5}))?$/.exec(hostPort);
  if (!hp) return undefined;
  const rawHost = hp[1]!;
  const host = rawHost.startsWith('[') ? bracketIp(rawHost) : (canonicalIp(rawHost) ?? normalizeHostname(rawHost));
  if (!host) return undefined;
  const port = hp[2] !== undefined ? `:${hp[2]}` : '';
  return `${m[1]!.toLowerCase()}://${userinfo}${host}${port}${(m[3] ?? '').replace(/ /g, '%20')}`;
}

function bracketIp(s: string): string | undefined {
  const ip = canonicalIp(s);
  return ip === undefined ? undefined : ip.includes(':') ? `[${ip}]` : ip;
}

/** The host part of a URL (domain or IP), or undefined. */
export function urlHost(url: string): string | undefined {
  const m = URL_WITH_SCHEME.exec(url);
  if (!m) return undefined;
  const authority = m[2]!.slice(m[2]!.lastIndexOf('@') + 1);
  const host = authority.startsWith('[') ? authority.slice(1, authority.indexOf(']')) : authority.replace(/:\d+$/, '');
  return host === '' ? undefined : host;
}

/** The host (domain or IP) of a value that normalises to a URL, or undefined. */
export function hostOfUrl(value: unknown): string | undefined {
  const url = normalizeUrl(value);
  return url ? urlHost(url) : undefined;
}

/** Lower-case address; "Name <addr>" and defanged forms accepted; undefined when not an address. */
export function normalizeEmail(value: unknown): string | undefined {
  if (typeof value !== 'string' || value.length > 512) return undefined;
  let s = refang(value.trim());
  const angle = /<([^<>]*)>\s*$/.exec(s);
  if (angle) s = angle[1]!.trim();
  s = s.replace(/^mailto:/i, '');
  const at = s.lastIndexOf('@');
  if (at <= 0) return undefined;
  const local = s.slice(0, at).toLowerCase();
  const domain = normalizeDomain(s.slice(at + 1));
  if (!domain || local.length > 64 || !/^[a-z0-9!#$%&'*+/=?^_`{|}~.-]+$/.test(local)) return undefined;
  return `${local}@${domain}`;
}

// ---- hashes and MACs ----------------------------------------------------------------------------------

export type HashType = 'md5' | 'sha1' | 'sha256';
const HASH_LENGTHS: Record<HashType, number> = { md5: 32, sha1: 40, sha256: 64 };

/** Lower-case hex of the right length; with no type given, the type follows from the length. */
export function normalizeHash(value: unknown, type?: HashType): { type: HashType; value: string } | undefined {
  if (typeof value !== 'string') return undefined;
  const s = value.trim().toLowerCase();
  if (!/^[0-9a-f]+$/.test(s)) return undefined;
  const found = (Object.keys(HASH_LENGTHS) as HashType[]).find((t) => HASH_LENGTHS[t] === s.length);
  if (!found || (type && found !== type) || isPlaceholderHash(s)) return undefined;
  return { type: found, value: s };
}

/** 00:50:56:f5:7f:47 from colon, dash, Cisco-dot (0050.56f5.7f47) or bare-hex forms. */
export function normalizeMac(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  const s = value.trim().toLowerCase();
  let hex: string;
  if (/^[0-9a-f]{2}([:-])[0-9a-f]{2}(\1[0-9a-f]{2}){4}$/.test(s)) hex = s.replace(/[:-]/g, '');
  else if (/^[0-9a-f]{4}\.[0-9a-f]{4}\.[0-9a-f]{4}$/.test(s)) hex = s.replace(/\./g, '');
  else if (/^[0-9a-f]{12}$/.test(s)) hex = s;
  else return undefined;
  return hex.match(/../g)!.join(':');
}

// ---- observables ---------------------------------------------------------------------------------------

/** At most this many observables per alert: a hostile record must not fan out into thousands of lookups. */
export const MAX_OBSERVABLES = 256;
const USER_MAX = 256;

/** A normalised observable, or undefined when the value is not a valid indicator of that type. */
export function makeObservable(type: ObservableType, value: unknown, role: string): Observable | undefined {
  const r = cleanRole(role);
  const v = normalizeObservableValue(type, value);
  if (v === undefined) return undefined;
  // A "host" that is an address is an IP indicator (and is looked up as one).
  if (type === 'host' && v.type === 'ip') return { type: 'ip', value: v.value, role: r };
  return { type: v.type, value: v.value, role: r };
}

function normalizeObservableValue(type: ObservableType, value: unknown): { type: ObservableType; value: string } | undefined {
  switch (type) {
    case 'ip':
      return wrap('ip', address(value));
    case 'domain':
      return wrap('domain', normalizeDomain(value));
    case 'url':
      return wrap('url', normalizeUrl(value));
    case 'md5':
    case 'sha1':
    case 'sha256':
      return normalizeHash(value, type);
    case 'email':
      return wrap('email', normalizeEmail(value));
    case 'mac':
      return wrap('mac', normalizeMac(value));
    case 'host': {
      const ip = typeof value === 'string' ? canonicalIp(value) : undefined;
      if (ip) return isPlaceholderIp(ip) ? undefined : { type: 'ip', value: ip };
      return typeof value === 'string' && isPlaceholderText(value) ? undefined : wrap('host', normalizeHostObservable(value));
    }
    case 'user':
      return wrap('user', nameToken(value, USER_MAX));
    default:
      return undefined;
  }
}

function wrap(type: ObservableType, value: string | undefined): { type: ObservableType; value: string } | undefined {
  return value === undefined ? undefined : { type, value };
}

function cleanRole(role: unknown): string {
  const s = typeof role === 'string' ? role.trim().toLowerCase() : '';
  return /^[a-z][a-z0-9_-]{0,31}$/.test(s) ? s : 'other';
}

/** Deduplicates by (type, value, role), keeping first-seen order, and caps the count. */
export function dedupeObservables(list: Iterable<Observable | undefined>): Observable[] {
  const seen = new Set<string>();
  const out: Observable[] = [];
  for (const o of list) {
    if (!o) continue;
    const key = `${o.type}\u0000${o.value}\u0000${o.role}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(o);
    if (out.length >= MAX_OBSERVABLES) break;
  }
  return out;
}

/** Normalises observables a detector supplied itself; invalid entries and unknown types are dropped. */
export function normalizeObservables(list: unknown): Observable[] {
  if (!Array.isArray(list)) return [];
  const out: Array<Observable | undefined> = [];
  for (const o of list.slice(0, MAX_OBSERVABLES * 4)) {
    if (!isObject(o) || !isObservableType(o.type)) continue;
    out.push(makeObservable(o.type, o.value, typeof o.role === 'string' ? o.role : 'other'));
  }
  return dedupeObservables(out);
}

/**
 * Every indicator an alert names: src/dst ip, host and user; host name/ip/mac; user name/email; file
 * hashes; url (and its host); domain; e-mail from/to; then what the detector listed itself.
 * Host names of src/dst that look like registrable domains also count as domains (intel looks them up).
 */
export function deriveObservables(a: AlertDraft): Observable[] {
  const o: Array<Observable | undefined> = [];
  for (const role of ['src', 'dst'] as const) {
    const e: Endpoint | undefined = a[role];
    if (!e) continue;
    o.push(makeObservable('ip', e.ip, role), makeObservable('host', e.host, role), makeObservable('user', e.user, role));
    const domain = normalizeDomain(e.host);
    if (domain && isPublicDomain(domain)) o.push(makeObservable('domain', domain, role));
  }
  if (a.host) o.push(makeObservable('host', a.host.name, 'host'), makeObservable('ip', a.host.ip, 'host'), makeObservable('mac', a.host.mac, 'host'));
  if (a.user) o.push(makeObservable('user', a.user.name, 'user'), makeObservable('email', a.user.email, 'user'));
  if (a.file) o.push(makeObservable('md5', a.file.md5, 'file'), makeObservable('sha1', a.file.sha1, 'file'), makeObservable('sha256', a.file.sha256, 'file'));
  if (a.url) {
    o.push(makeObservable('url', a.url, 'url'));
    const host = urlHost(a.url);
    if (host) o.push(canonicalIp(host) ? makeObservable('ip', host, 'url') : makeObservable('domain', host, 'url'));
  }
  if (a.domain) o.push(makeObservable('domain', a.domain, 'dst'));
  if (a.email) {
    o.push(makeObservable('email', a.email.from, 'email'));
    for (const to of Array.isArray(a.email.to) ? a.email.to : []) o.push(makeObservable('email', to, 'email'));
  }
  return dedupeObservables([...o, ...normalizeObservables(a.observables)]);
}

/** Under an ICANN public suffix (not .local, .lan, .corp, .internal…): worth an intel lookup as a domain. */
export function isPublicDomain(domain: string): boolean {
  const info = parseDomain(domain, { allowPrivateDomains: false });
  return info.isIcann === true && info.domain !== null;
}

// ---- finalizeAlert ---------------------------------------------------------------------------------------

/**
 * The gate every AlertDraft passes before it is stored: builds a fresh object holding only the pinned
 * fields (anything else a detector attached is dropped), cleans and bounds every string, canonicalises
 * indicators (dropping invalid IPs, hashes, MACs, URLs, domains, e-mail addresses), coerces ports and
 * counts, clamps severity and sets severity_label, and derives `observables`.
 * Throws ParseError when title or time is missing or invalid.
 */
export function finalizeAlert(draft: AlertDraft): AlertDraft {
  const title = cleanText(draft.title);
  if (!title) throw new ParseError('alert has no title');
  const time = finalTime(draft.time, 'alert');
  const severity = clampSeverity(typeof draft.severity === 'number' ? draft.severity : Number(draft.severity));
  const out: AlertDraft = {
    vendor_id: cleanToken(draft.vendor_id, 512),
    event_type: cleanToken(draft.event_type, 128),
    time,
    title,
    rule: ruleInfo(draft.rule),
    severity,
    severity_label: severityLabel(severity),
    vendor_severity: vendorSeverity(draft.vendor_severity),
    action: finalAction(draft.action),
    src: endpoint(draft.src),
    dst: endpoint(draft.dst),
    host: hostInfo(draft.host),
    device: hostInfo(draft.device),
    user: userInfo(draft.user),
    file: fileInfo(draft.file),
    process: processInfo(draft.process),
    url: normalizeUrl(draft.url),
    domain: normalizeDomain(draft.domain),
    email: finalEmail(draft.email),
    malware: pack({ name: nameText(draft.malware?.name, 512), family: nameText(draft.malware?.family, 512) }),
    observables: [],
  };
  // The reporting device is infrastructure, not an indicator: no lookups, no grouping on the firewall's address.
  out.observables = deriveObservables({ ...out, observables: draft.observables });
  return pack(out)!;
}

// ---- finalizeContext -------------------------------------------------------------------------------------

/**
 * The gate every context event passes, as finalizeAlert is for alerts: only the pinned fields, cleaned and
 * bounded, the same conventions (placeholders dropped, canonical addresses, hashes, host and user names),
 * a kind from CONTEXT_KINDS (anything else is `other`, the product's name kept in `event_type`), and the
 * observables derived from the fields (assigned address: role `assigned`; reporting device: `device`).
 * A missing or invalid time becomes `fallbackTime` (the record's receipt).
 */
export function finalizeContext(e: ContextEvent, fallbackTime: string): ContextEvent {
  const kind = isContextKind(e.kind) ? e.kind : 'other';
  const ms = typeof e.time === 'string' ? Date.parse(e.time) : NaN;
  const out: ContextEvent = {
    kind,
    event_type: cleanToken(e.event_type, 128) ?? (kind === 'other' && typeof e.kind === 'string' ? cleanToken(e.kind, 128) : undefined),
    time: Number.isFinite(ms) ? new Date(ms).toISOString() : fallbackTime,
    user: userInfo(e.user),
    src: endpoint(e.src),
    dst: endpoint(e.dst),
    assigned_ip: address(e.assigned_ip),
    host: hostInfo(e.host),
    device: hostInfo(e.device),
    outcome: (CONTEXT_OUTCOMES as readonly unknown[]).includes(e.outcome) ? e.outcome : undefined,
    session_id: cleanToken(e.session_id, 512),
    start: optionalTime(e.start),
    end: optionalTime(e.end),
    domain: normalizeDomain(e.domain),
    url: normalizeUrl(e.url),
    file: fileInfo(e.file),
    process: processInfo(e.process),
    rule: ruleInfo(e.rule),
    email: finalEmail(e.email),
    data: isObject(e.data) ? e.data : {},
    observables: [],
  };
  const o = dedupeObservables([makeObservable('ip', out.assigned_ip, 'assigned'), ...deviceObservables(out.device)]);
  out.observables = deriveObservables({ time: out.time, title: kind, severity: 0, ...pick(out), observables: [...o, ...normalizeObservables(e.observables)] });
  return pack(out)!;
}

/** The reporting device's name and address, as indicators with role `device`. */
function deviceObservables(device: HostInfo | undefined): Observable[] {
  return device ? dedupeObservables([makeObservable('host', device.name, 'device'), makeObservable('ip', device.ip, 'device')]) : [];
}

/** The fields of a context event that deriveObservables reads. */
function pick(e: ContextEvent): Pick<AlertDraft, 'src' | 'dst' | 'host' | 'user' | 'file' | 'url' | 'domain' | 'email'> {
  return { src: e.src, dst: e.dst, host: e.host, user: e.user, file: e.file, url: e.url, domain: e.domain, email: e.email };
}

function optionalTime(value: unknown): string | undefined {
  if (typeof value !== 'string' || value.trim() === '') return undefined;
  const ms = Date.parse(value);
  return Number.isFinite(ms) ? new Date(ms).toISOString() : undefined;
}

// ---- the shared parts of both -------------------------------------------------------------------------------

/** A name (user, host, process, file…): cleaned and bounded, and absent when it only says "none". */
function nameToken(value: unknown, max?: number): string | undefined {
  const s = cleanToken(value, max);
  return s === undefined || isPlaceholderText(s) ? undefined : s;
}

function nameText(value: unknown, max?: number): string | undefined {
  const s = cleanText(value, max);
  return s === undefined || isPlaceholderText(s) ? undefined : s;
}

/** A canonical address, absent when it names no machine (0.0.0.0, ::). */
function address(value: unknown): string | undefined {
  const ip = canonicalIp(value);
  return ip === undefined || isPlaceholderIp(ip) ? undefined : ip;
}

function ruleInfo(r: RuleInfo | undefined): RuleInfo | undefined {
  if (!isObject(r)) return undefined;
  return pack({ id: nameToken(r.id, 512), name: cleanText(r.name), category: cleanText(r.category, 512) });
}

function hostInfo(h: HostInfo | undefined): HostInfo | undefined {
  if (!isObject(h)) return undefined;
  const [name, ip] = nameOrAddress(h.name, h.ip);
  return pack({ name, ip, id: nameToken(h.id, 512), os: nameToken(h.os, 255), mac: normalizeMac(h.mac) });
}

/** A host name field that holds an address: the address goes to the ip beside it (when that is empty), never to the name. */
function nameOrAddress(nameValue: unknown, ipValue: unknown): [name: string | undefined, ip: string | undefined] {
  const name = nameToken(nameValue, 255);
  const ip = address(ipValue);
  if (name === undefined || !isIp(name)) return [name, ip];
  return [undefined, ip ?? address(name)];
}

function userInfo(u: UserInfo | undefined): UserInfo | undefined {
  if (!isObject(u)) return undefined;
  return pack({ name: nameToken(u.name, USER_MAX), domain: nameToken(u.domain, 255), email: normalizeEmail(u.email) });
}

function fileInfo(f: FileInfo | undefined): FileInfo | undefined {
  if (!isObject(f)) return undefined;
  return pack({
    name: nameToken(f.name),
    path: nameToken(f.path),
    md5: normalizeHash(f.md5, 'md5')?.value,
    sha1: normalizeHash(f.sha1, 'sha1')?.value,
    sha256: normalizeHash(f.sha256, 'sha256')?.value,
    size: count(f.size),
  });
}

function processInfo(p: ProcessInfo | undefined): ProcessInfo | undefined {
  if (!isObject(p)) return undefined;
  return pack({ name: nameToken(p.name), command_line: cleanText(p.command_line, MAX_COMMAND_LINE), pid: count(p.pid), parent_name: nameToken(p.parent_name) });
}

function finalTime(value: unknown, what: string): string {
  if (typeof value !== 'string' || value.trim() === '') throw new ParseError(`${what} has no time`);
  const ms = Date.parse(value);
  if (!Number.isFinite(ms)) throw new ParseError(`${what} time "${value.slice(0, 40)}" is not a valid ISO-8601 time`);
  return new Date(ms).toISOString();
}

function endpoint(e: Endpoint | undefined): Endpoint | undefined {
  if (!isObject(e)) return undefined;
  const [host, ip] = nameOrAddress(e.host, e.ip);
  return pack({ ip, port: port(e.port), host, user: nameToken(e.user, USER_MAX) });
}

/** Ports as integers 0-65535 (numeric strings accepted); anything else is dropped. */
export function port(value: unknown): number | undefined {
  const n = toInt(value);
  return n !== undefined && n >= 0 && n <= 65535 ? n : undefined;
}

function count(value: unknown): number | undefined {
  const n = toInt(value);
  return n !== undefined && n >= 0 ? n : undefined;
}

function finalAction(a: unknown): DetectorAction | undefined {
  if (a === undefined || a === null) return undefined;
  return (DETECTOR_ACTIONS as readonly unknown[]).includes(a) ? (a as DetectorAction) : 'unknown';
}

function vendorSeverity(v: AlertDraft['vendor_severity']): AlertDraft['vendor_severity'] {
  if (!isObject(v)) return undefined;
  const value = cleanToken(v.value, 256);
  return value === undefined ? undefined : { value, scale: cleanToken(v.scale, 256) ?? 'unspecified' };
}

const MAX_RECIPIENTS = 100;

function finalEmail(e: AlertDraft['email']): AlertDraft['email'] {
  if (!isObject(e)) return undefined;
  const to = Array.isArray(e.to) ? dedupe(e.to.slice(0, MAX_RECIPIENTS * 4).map(normalizeEmail)).slice(0, MAX_RECIPIENTS) : [];
  return pack({ from: normalizeEmail(e.from), to: to.length ? to : undefined, subject: cleanText(e.subject, 1024) });
}

function dedupe(list: Array<string | undefined>): string[] {
  return [...new Set(list.filter((x): x is string => x !== undefined))];
}
