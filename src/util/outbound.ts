/**
 * The outbound guard: one answer, everywhere Fido connects to a configured URL, to "may Fido talk to this
 * address?". Configured targets are admin data and trusted to name the receiver; the guard is against
 * mistakes and misuse that turn Fido into a probe of its own network (a typo to an internal host, cloud
 * metadata, a localhost admin port) — and against a name that resolves somewhere else at connect time.
 *
 * Public means global unicast. ipaddr.js (a maintained library) names the special ranges; on top of it:
 *
 *  - IPv6 must also be inside 2000::/3 (everything outside global unicast is reserved or special), and
 *    ::/96 — the deprecated IPv4-compatible form (`::7f00:1` = 127.0.0.1), which ipaddr.js calls unicast —
 *    is refused outright.
 *  - Forms that carry an IPv4 address and reach it are judged by that address: IPv4-mapped `::ffff:a.b.c.d`
 *    (a dual-stack socket connects to the IPv4 address itself), IPv4-translated `::ffff:0:a.b.c.d`, and
 *    NAT64's well-known prefix `64:ff9b::/96` (DNS64 networks hand out these for every IPv4-only host, so
 *    refusing them all would make the guard unusable there).
 *  - Forms whose IPv4 address cannot be judged, or that no legitimate target uses, are refused outright:
 *    NAT64 local-use `64:ff9b:1::/48` (where the address sits depends on the local prefix), 6to4 `2002::/16`
 *    and Teredo `2001::/32` (both deprecated tunnels).
 *  - Cloud metadata endpoints are refused even with `allow_private`: no webhook lives there, and they are
 *    the first thing an attacker with a URL tries.
 *
 * Names are checked when the connection resolves them (guardedLookup): every address a name resolves to must
 * pass, and the check runs in the connection's own DNS lookup, so there is no window for DNS rebinding
 * between check and connect. An IP literal never goes through that lookup, so URLs are checked up front
 * (outboundUrlProblem), by `fido start` and `fido config validate` alike.
 */
import { lookup as dnsLookup, type LookupAddress, type LookupOptions } from 'node:dns';
import ipaddr from 'ipaddr.js';
import { Agent } from 'undici';

/** Cloud metadata and platform endpoints (canonical text → what it is). */
const METADATA = new Map<string, string>([
  ['169.254.169.254', 'AWS/GCP/Azure/OpenStack instance metadata'],
  ['169.254.170.2', 'AWS ECS task metadata and credentials'],
  ['fd00:ec2::254', 'AWS instance metadata over IPv6'],
  ['100.100.100.200', 'Alibaba Cloud instance metadata'],
  ['192.0.0.192', 'Oracle Cloud instance metadata'],
  // A public address, but the platform endpoint (WireServer) of every Azure VM.
  ['168.63.129.16', 'Azure platform endpoint'],
]);

export interface AddressClass {
  /** Canonical text of the address. */
  address: string;
  /** Global unicast: Fido may connect without `allow_private`. */
  public: boolean;
  /**
   * `unicast` when public; otherwise ipaddr.js's name for the range (loopback, private, linkLocal,
   * uniqueLocal, carrierGradeNat, reserved, benchmarking, 6to4, teredo, …) or Fido's: metadata,
   * ipv4Compatible, nat64LocalUse, notGlobal.
   */
  range: string;
  /** The IPv4 address an IPv6 form carries, when it carries one. */
  embedded?: string;
  /** How the embedded address classifies (mapped, translated and NAT64 forms are judged by it). */
  embeddedRange?: string;
  /** Refused even with allow_private (metadata endpoints). */
  always: boolean;
}

const NAT64_WKP = ipaddr.parseCIDR('64:ff9b::/96');
const GLOBAL_UNICAST_V6 = ipaddr.parseCIDR('2000::/3');

function v4FromParts(hi: number, lo: number): ipaddr.IPv4 {
  return new ipaddr.IPv4([hi >> 8, hi & 0xff, lo >> 8, lo & 0xff]);
}

function classifyV4(a: ipaddr.IPv4): AddressClass {
  const address = a.toString();
  const meta = METADATA.has(address);
  const range = meta ? 'metadata' : a.range();
  return { address, public: range === 'unicast', range, always: meta };
}

/** A form that carries an IPv4 address: public only when `judged` and that address is public. */
function embedding(address: string, range: string, v4: ipaddr.IPv4, judged: boolean): AddressClass {
  const inner = classifyV4(v4);
  return { address, public: judged && inner.public, range, embedded: inner.address, embeddedRange: inner.range, always: inner.always };
}

function classifyV6(a: ipaddr.IPv6): AddressClass {
  const address = a.toString();
  if (METADATA.has(address)) return { address, public: false, range: 'metadata', always: true };
  const p = a.parts;
  const range = a.range();
  const last = v4FromParts(p[6]!, p[7]!);
  if (range === 'ipv4Mapped' || range === 'rfc6145') return embedding(address, range, last, true);
  if (range === 'rfc6052') {
    // Local-use NAT64: where the IPv4 address sits depends on the local prefix length, so none is named.
    return a.match(NAT64_WKP) ? embedding(address, 'nat64', last, true) : { address, public: false, range: 'nat64LocalUse', always: false };
  }
  if (range === '6to4') return embedding(address, range, v4FromParts(p[1]!, p[2]!), false);
  // Teredo: the client's public IPv4 address is the last 32 bits, inverted.
  if (range === 'teredo') return embedding(address, range, v4FromParts(~p[6]! & 0xffff, ~p[7]! & 0xffff), false);
  if (range === 'unicast' && p.slice(0, 6).every((x) => x === 0)) return embedding(address, 'ipv4Compatible', last, false);
  if (range === 'unicast' && !a.match(GLOBAL_UNICAST_V6)) return { address, public: false, range: 'notGlobal', always: false };
  return { address, public: range === 'unicast', range, always: false };
}

/**
 * An IPv6 text's dotted IPv4 tail as two hex groups. ipaddr.js reads `::a.b.c.d` as the IPv4-mapped
 * `::ffff:a.b.c.d`; RFC 4291 (and the system's resolver and sockets) read it as IPv4-compatible `::a.b.c.d`.
 */
function hexTail(t: string): string {
  const m = /^(.*:)(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})(%.*)?$/s.exec(t);
  if (!m) return t;
  const b = m.slice(2, 6).map(Number);
  if (b.some((x) => x > 255)) return t;
  const hex = (hi: number, lo: number) => ((hi << 8) | lo).toString(16);
  return `${m[1]}${hex(b[0]!, b[1]!)}:${hex(b[2]!, b[3]!)}${m[6] ?? ''}`;
}

/** How an address classifies; null when the text is not an IP address. Brackets and a zone are allowed. */
export function classifyAddress(text: string): AddressClass | null {
  const bare = text.startsWith('[') && text.endsWith(']') ? text.slice(1, -1) : text;
  const t = bare.includes(':') ? hexTail(bare) : bare;
  if (!ipaddr.isValid(t)) return null;
  const a = ipaddr.parse(t);
  return a.kind() === 'ipv4' ? classifyV4(a as ipaddr.IPv4) : classifyV6(a as ipaddr.IPv6);
}

/** Global unicast only. Anything that is not an IP address is not public. */
export function isPublicAddress(text: string): boolean {
  return classifyAddress(text)?.public ?? false;
}

const RANGE_NAMES: Readonly<Record<string, string>> = {
  unspecified: 'unspecified',
  broadcast: 'broadcast',
  multicast: 'multicast',
  linkLocal: 'link-local',
  loopback: 'loopback',
  carrierGradeNat: 'carrier-grade NAT',
  private: 'private',
  reserved: 'reserved',
  uniqueLocal: 'unique local',
  ipv4Mapped: 'IPv4-mapped',
  rfc6145: 'IPv4-translated',
  nat64: 'NAT64',
  nat64LocalUse: 'NAT64 local-use',
  '6to4': '6to4 (deprecated tunnel)',
  teredo: 'Teredo (deprecated tunnel)',
  ipv4Compatible: 'IPv4-compatible (deprecated)',
  notGlobal: 'not global unicast',
  metadata: 'cloud metadata',
};

/** "loopback", "IPv4-compatible (deprecated) form of 127.0.0.1 (loopback)", … */
export function describeAddress(c: AddressClass): string {
  const name = (r: string) => RANGE_NAMES[r] ?? r;
  if (c.range === 'metadata') return METADATA.get(c.address) ?? 'cloud metadata';
  if (!c.embedded) return name(c.range);
  const inner = c.embeddedRange === 'metadata' ? (METADATA.get(c.embedded) ?? 'cloud metadata') : name(c.embeddedRange ?? 'unicast');
  // Forms refused outright may carry a public address: then only the form is the reason.
  return `${name(c.range)} form of ${c.embedded}${inner === 'unicast' ? '' : ` (${inner})`}`;
}

export interface Refusal {
  address: string;
  /** describeAddress() of it. */
  what: string;
  /** Refused even with allow_private. */
  always: boolean;
}

/** Why Fido may not connect to this address, or null when it may. Not an IP address: null (names resolve later). */
export function addressRefusal(text: string, allowPrivate: boolean): Refusal | null {
  const c = classifyAddress(text);
  if (!c || c.public || (allowPrivate && !c.always)) return null;
  return { address: c.address, what: describeAddress(c), always: c.always };
}

/** The message for a refused address; `host` when it was reached through a name. */
export function refusalMessage(r: Refusal, host?: string): string {
  const subject = host ? `${host} resolves to ${r.address}, which` : r.address;
  if (r.always) return `${subject} is a cloud metadata address (${r.what}); it is refused even with allow_private`;
  return `${subject} is not a public address (${r.what}); set allow_private: true${host ? ' on the target' : ''} if this is intended`;
}

/** Names that are loopback by definition (RFC 6761), whatever DNS says. */
function isLoopbackName(host: string): boolean {
  const h = host.toLowerCase().replace(/\.$/, '');
  return h === 'localhost' || h.endsWith('.localhost');
}

export interface OutboundUrlOptions {
  allowPrivate: boolean;
  /** Allowed schemes, with the colon (default http: and https:). */
  protocols?: readonly string[];
}

/**
 * The problem with a configured outbound URL, or null. Checks what can be known without DNS: the scheme,
 * credentials in the URL, IP literals and loopback names. The same function serves `fido start` (which
 * refuses to build the target) and `fido config validate`, so both say the same thing.
 */
export function outboundUrlProblem(raw: string, opts: OutboundUrlOptions): string | null {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return 'not a valid URL';
  }
  const protocols = opts.protocols ?? ['http:', 'https:'];
  if (!protocols.includes(url.protocol)) return `only ${protocols.map((p) => p.slice(0, -1)).join(' and ')} URLs are allowed`;
  if (url.username || url.password) return 'credentials in the URL are not allowed (they end up in logs); use headers';
  // WHATWG URL parsing already turned 0x7f.1, 2130706433 and the like into dotted quads.
  const refused = addressRefusal(url.hostname, opts.allowPrivate);
  if (refused) return refusalMessage(refused);
  if (!opts.allowPrivate && isLoopbackName(url.hostname)) return `${url.hostname} is a loopback name; set allow_private: true if this is intended`;
  return null;
}

export class OutboundRefusedError extends Error {
  override readonly name = 'OutboundRefusedError';
  readonly code = 'EFIDO_PRIVATE_ADDRESS';
}

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;
/** dns.lookup with `all: true`, or a stand-in for tests. */
export type Resolver = (hostname: string, options: LookupOptions & { all: true }, callback: (err: NodeJS.ErrnoException | null, addresses: LookupAddress[]) => void) => void;
export type GuardedLookup = (hostname: string, options: LookupOptions, callback: LookupCallback) => void;

const systemResolver: Resolver = (hostname, options, callback) => dnsLookup(hostname, options, callback);

/**
 * A `lookup` for net/tls.connect (and undici's `connect.lookup`) that resolves the name and refuses the
 * connection when any address it resolves to is refused: a name with one public and one private address
 * is refused, rather than letting the connection pick.
 */
export function guardedLookup(allowPrivate: boolean, resolve: Resolver = systemResolver): GuardedLookup {
  return (hostname, options, callback) => {
    resolve(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) return callback(err, '', 0);
      if (addresses.length === 0) return callback(Object.assign(new Error(`${hostname} did not resolve`), { code: 'ENOTFOUND' }), '', 0);
      for (const a of addresses) {
        const why = addressRefusal(a.address, allowPrivate);
        if (why) return callback(new OutboundRefusedError(refusalMessage(why, hostname)), '', 0);
      }
      if (options.all) return callback(null, addresses);
      const first = addresses[0]!;
      callback(null, first.address, first.family);
    });
  };
}

/**
 * The connection pool for a configured target (a webhook, a provider's service): TLS always verified (against
 * a private CA when given), connect/header/body timeouts, and every address its name resolves to passed
 * through the guard at connect time. Even with `allowPrivate`, a name never leads to cloud metadata.
 */
export function guardedAgent(o: { timeoutMs: number; allowPrivate: boolean; ca?: string | undefined }): Agent {
  return new Agent({
    headersTimeout: o.timeoutMs,
    bodyTimeout: o.timeoutMs,
    connect: { rejectUnauthorized: true, timeout: o.timeoutMs, ...(o.ca ? { ca: o.ca } : {}), lookup: guardedLookup(o.allowPrivate) },
  });
}
