/**
 * Protection of HTTP intake per source (fido.yaml `sources[].intake`): which tokens may post, a webhook
 * signature (HMAC over the raw body bytes, optionally with a timestamp against replays), which client
 * addresses, how fast (a token bucket per source, kept in this process: several Fido processes each allow the
 * rate), and how large a body. A source's settings are compiled once; the judging functions take what a
 * request shows and return null or the FidoError to answer with. Messages name the rule and the setting,
 * never a token, a secret or a signature.
 *
 * Signed requests need no bearer token (webhook senders cannot set one); a source with `hmac` refuses every
 * unsigned request with 401, a bearer token presented as well is checked too. A source with `client_certs`
 * takes requests only over mutual TLS (server.tls.client_ca), from a verified certificate naming a listed name,
 * on top of its other checks (a token or signature is still needed). Behind a TLS-terminating proxy Fido never
 * sees the client's certificate: such sources then refuse everything.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { TLSSocket } from 'node:tls';
import type { SourceConfig } from '../config/schema.js';
import { addressMatcher } from '../api/client-address.js';
import { tokenProblem } from '../api/auth.js';
import { parseDuration } from '../config/duration.js';
import { FidoError } from '../errors.js';

export type IntakeSettings = NonNullable<SourceConfig['intake']>;

export const DEFAULT_SIGNATURE_HEADER = 'X-Signature';
export const DEFAULT_MAX_SKEW_MS = 5 * 60_000;

export interface CompiledHmac {
  secret: Buffer;
  algorithm: 'sha256' | 'sha512';
  /** As configured, for messages; looked up in lower case, as Node gives header names. */
  header: string;
  timestampHeader: string | null;
  maxSkewMs: number;
}

export interface SourceProtection {
  source: string;
  /** SHA-256 of each listed token; null when any analyst token may post. */
  tokenHashes: Buffer[] | null;
  hmac: CompiledHmac | null;
  allows: ((address: string | undefined) => boolean) | null;
  bucket: TokenBucket | null;
  maxBodyBytes: number | null;
  /** Names a client certificate must carry (lower-cased), or null when the source asks for none. */
  clientNames: Set<string> | null;
}

export interface IntakeProtections {
  get(source: string): SourceProtection | undefined;
  /** The source whose `intake.tokens` list this token, if any: such a token posts to that source only. */
  ownerOf(token: string): string | undefined;
}

const sha256 = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest();

/** Constant time over the list: every listed hash is compared, whatever matched first. */
function listed(hashes: readonly Buffer[], token: string): boolean {
  const h = sha256(token);
  let hit = false;
  for (const x of hashes) hit = timingSafeEqual(x, h) || hit;
  return hit;
}

/**
 * Settings (secrets resolved, as load.ts gives them) → what the route judges with. Throws on a bad CIDR or a
 * token no request could present (the message never holds the token).
 */
export function compileProtection(source: string, s: IntakeSettings): SourceProtection {
  const key = (k: string) => `sources[${source}].intake.${k}`;
  (s.tokens ?? []).forEach((t, i) => {
    const problem = tokenProblem(t);
    if (problem) throw new Error(`${key(`tokens[${i}]`)}: ${problem}`);
  });
  return {
    source,
    tokenHashes: s.tokens ? s.tokens.map(sha256) : null,
    hmac: s.hmac
      ? {
          secret: Buffer.from(s.hmac.secret, 'utf8'),
          algorithm: s.hmac.algorithm ?? 'sha256',
          header: s.hmac.header ?? DEFAULT_SIGNATURE_HEADER,
          timestampHeader: s.hmac.timestamp_header ?? null,
          maxSkewMs: s.hmac.max_skew !== undefined ? parseDuration(s.hmac.max_skew, key('hmac.max_skew')) : DEFAULT_MAX_SKEW_MS,
        }
      : null,
    allows: s.allow ? addressMatcher(s.allow, key('allow')) : null,
    bucket: s.rate_limit ? new TokenBucket(s.rate_limit.per_second, s.rate_limit.burst ?? Math.ceil(s.rate_limit.per_second)) : null,
    maxBodyBytes: s.max_body_bytes ?? null,
    clientNames: s.client_certs ? new Set(s.client_certs.map((n) => n.toLowerCase())) : null,
  };
}

export function compileProtections(sources: Iterable<SourceConfig>): IntakeProtections {
  const bySource = new Map<string, SourceProtection>();
  const owners: Array<[Buffer, string]> = [];
  for (const s of sources) {
    if (!s.intake) continue;
    const p = compileProtection(s.name, s.intake);
    bySource.set(s.name, p);
    for (const h of p.tokenHashes ?? []) owners.push([h, s.name]);
  }
  return {
    get: (source) => bySource.get(source),
    ownerOf(token) {
      if (owners.length === 0) return undefined;
      const h = sha256(token);
      let owner: string | undefined;
      for (const [x, name] of owners) if (timingSafeEqual(x, h) && owner === undefined) owner = name;
      return owner;
    },
  };
}

/** 403 unless the client address is in `allow`. */
export function judgeAddress(p: SourceProtection, address: string | undefined): FidoError | null {
  if (!p.allows || p.allows(address)) return null;
  return new FidoError('forbidden', `source "${p.source}" does not take intake from this client address (sources[].intake.allow)`);
}

/** What the connection's TLS layer says of the client's certificate (null: not TLS, or no certificate). */
export interface ClientCertificate {
  /** Verified against server.tls.client_ca. */
  authorized: boolean;
  /** Subject CN and the DNS, email and URI subject alternative names. */
  names: string[];
}

/** The client certificate of a connection, if it is TLS and the client sent one. */
export function clientCertificateOf(socket: unknown): ClientCertificate | null {
  const tls = socket as Partial<TLSSocket>;
  if (typeof tls.getPeerCertificate !== 'function') return null;
  const cert = tls.getPeerCertificate();
  if (!cert || Object.keys(cert).length === 0) return null;
  const names: string[] = [];
  const cn = cert.subject?.CN;
  for (const n of Array.isArray(cn) ? cn : cn ? [cn] : []) names.push(n);
  for (const part of (cert.subjectaltname ?? '').split(', ')) {
    const colon = part.indexOf(':');
    const kind = part.slice(0, colon);
    if (kind === 'DNS' || kind === 'email' || kind === 'URI') names.push(part.slice(colon + 1));
  }
  return { authorized: tls.authorized === true, names };
}

/** 401/403 unless the source asks for no client certificate, or the client's verified one names a listed name. */
export function judgeClientCert(p: SourceProtection, cert: ClientCertificate | null): FidoError | null {
  if (!p.clientNames) return null;
  if (!cert) return new FidoError('unauthorized', `source "${p.source}" takes intake only over mutual TLS: present a client certificate (sources[].intake.client_certs)`);
  if (!cert.authorized) return new FidoError('unauthorized', `source "${p.source}": the client certificate is not signed by server.tls.client_ca`);
  if (!cert.names.some((n) => p.clientNames!.has(n.toLowerCase()))) {
    return new FidoError('forbidden', `source "${p.source}" does not take intake from this client certificate (sources[].intake.client_certs)`);
  }
  return null;
}

/** 413 for a body larger than the source allows; `length` is Content-Length before reading, the bytes after. */
export function judgeSize(p: SourceProtection, length: number | undefined): FidoError | null {
  if (p.maxBodyBytes === null || length === undefined || !(length > p.maxBodyBytes)) return null;
  return new FidoError('too_large', `request body is larger than ${p.maxBodyBytes} bytes, the limit of source "${p.source}" (sources[].intake.max_body_bytes)`);
}

export type TokenJudgement =
  | { ok: true; listed: boolean }
  | { ok: false; error: FidoError };

/**
 * A presented bearer token against the source's list: a listed token is good for this source (whether or
 * not it is also an API token); a token listed for another source is 403 here; with a list, any other
 * token is 403 once it is known to be an API token (`isApiToken`), else 401 like any unknown token.
 */
export function judgeToken(all: IntakeProtections, p: SourceProtection | undefined, source: string, token: string): TokenJudgement | 'ask_api' {
  if (p?.tokenHashes && listed(p.tokenHashes, token)) return { ok: true, listed: true };
  const owner = all.ownerOf(token);
  if (owner !== undefined && owner !== source) {
    return { ok: false, error: new FidoError('forbidden', `this token is an intake token of another source; it may not post to source "${source}"`) };
  }
  return 'ask_api';
}

export function notListed(source: string): FidoError {
  return new FidoError('forbidden', `source "${source}" takes only its own intake tokens (sources[].intake.tokens); this token is not one of them`);
}

const header = (headers: Record<string, string | string[] | undefined>, name: string): string | undefined => {
  const v = headers[name.toLowerCase()];
  return Array.isArray(v) ? v[0] : v;
};

/**
 * 401 unless the body carries a good signature: hex HMAC of the raw bytes (or of `timestamp + "." + bytes`
 * with a timestamp header), "sha256="-style prefix allowed; a timestamp further than max_skew from `nowMs` is
 * refused as a replay. Compared in constant time.
 */
export function judgeSignature(
  p: SourceProtection,
  headers: Record<string, string | string[] | undefined>,
  body: Buffer,
  nowMs: number,
): FidoError | null {
  const h = p.hmac;
  if (!h) return null;
  const unauthorized = (why: string) => new FidoError('unauthorized', `source "${p.source}" takes signed requests only: ${why}`);
  const given = header(headers, h.header)?.trim();
  if (!given) return unauthorized(`no signature in the ${h.header} header`);
  const hex = given.startsWith(`${h.algorithm}=`) ? given.slice(h.algorithm.length + 1) : given;
  const want = h.algorithm === 'sha256' ? 64 : 128;
  if (hex.length !== want || !/^[0-9a-fA-F]+$/.test(hex)) {
    return unauthorized(`the ${h.header} header is not a hex HMAC-${h.algorithm.toUpperCase()} (${want} hex digits, "${h.algorithm}=" prefix allowed)`);
  }
  const mac = createHmac(h.algorithm, h.secret);
  if (h.timestampHeader) {
    const ts = header(headers, h.timestampHeader)?.trim();
    if (!ts) return unauthorized(`no timestamp in the ${h.timestampHeader} header`);
    if (!/^\d{1,12}$/.test(ts)) return unauthorized(`the ${h.timestampHeader} header is not a Unix time in seconds`);
    const skewMs = Math.abs(nowMs - Number(ts) * 1000);
    if (skewMs > h.maxSkewMs) {
      return unauthorized(
        `the timestamp in ${h.timestampHeader} is ${Math.round(skewMs / 1000)}s from this server's clock, more than ${Math.round(h.maxSkewMs / 1000)}s (sources[].intake.hmac.max_skew); a replayed or delayed request is refused`,
      );
    }
    mac.update(`${ts}.`, 'utf8');
  }
  mac.update(body);
  if (!timingSafeEqual(mac.digest(), Buffer.from(hex, 'hex'))) return unauthorized(`the ${h.header} signature does not match the body`);
  return null;
}

/** 429 with Retry-After once the source's bucket is empty; takes one request from it otherwise. */
export function judgeRate(p: SourceProtection, nowMs: number): FidoError | null {
  if (!p.bucket) return null;
  const wait = p.bucket.take(nowMs);
  if (wait === 0) return null;
  return new FidoError(
    'rate_limited',
    `source "${p.source}" takes at most ${p.bucket.perSecond} requests a second (burst ${p.bucket.burst}; sources[].intake.rate_limit); retry after ${wait}s`,
    { retryAfterSeconds: wait },
  );
}

/** Classic token bucket; time comes from the caller so tests need no clock. */
export class TokenBucket {
  private tokens: number;
  private at: number | null = null;
  constructor(
    readonly perSecond: number,
    readonly burst: number,
  ) {
    this.tokens = burst;
  }

  /** 0 when a token was taken; otherwise whole seconds (at least 1) until one will be there. */
  take(nowMs: number): number {
    if (this.at !== null && nowMs > this.at) this.tokens = Math.min(this.burst, this.tokens + ((nowMs - this.at) / 1000) * this.perSecond);
    this.at = this.at === null ? nowMs : Math.max(this.at, nowMs);
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return 0;
    }
    return Math.max(1, Math.ceil((1 - this.tokens) / this.perSecond));
  }
}
