/**
 * What providers that ask a service over HTTP share: the config keys (`url`, `allow_private`, `tls_ca_file` in
 * remoteSettingsSchema; `api_key` in apiKeySchema for services that take one key), the `check` of the url
 * (remoteUrlProblems), one connection pool per provider behind the outbound guard (util/outbound.ts), TLS
 * always verified, redirects refused, answers capped in size, and one error type whose `reason` the layer
 * acts on: a 429 pauses the provider until its Retry-After, a rejected key is reported as such, a 404 is an
 * answer. `openRemote` builds a provider's client from its entry (key resolved, CA read, the entry's timeout)
 * with the helpers its messages need; vendorError and malformedAnswer word the errors alike for every service.
 * Reading the JSON a service answers without trusting its shape: json-read.ts.
 *
 * Secrets: the API key goes in a header, never in a URL, and no error message carries a header, the request
 * URL's query, or any configured secret (a service that echoes the key back has it cut out of the snippet).
 * Reference user: providers/virustotal.ts.
 */
import { readFileSync } from 'node:fs';
import { resolve as resolvePath } from 'node:path';
import { request } from 'undici';
import { Type } from 'typebox';
import { guardedAgent, outboundUrlProblem } from '../util/outbound.js';
import { isSecretRef, resolveSecretRefs } from '../config/secrets.js';
import type { ComponentProblem } from '../component/component.js';
import type { ProviderDeps } from './provider.js';
import { num } from './json-read.js';
import { resolveSettings, type ProviderSettingsConfig } from './settings.js';
import { epochResetMs, retryAfterMs } from '../util/retry-after.js';

export { retryAfterMs };

/** Config keys of a remote provider; spread into its schema next to providerSettingsSchema. */
export const remoteSettingsSchema = {
  url: Type.Optional(Type.String({ description: "Base URL of the service (default: the vendor's public endpoint)" })),
  allow_private: Type.Optional(
    Type.Boolean({ description: 'Allow a url on a private, loopback or internal address (an on-premises service, a test double)' }),
  ),
  tls_ca_file: Type.Optional(Type.String({ description: 'PEM file of a private CA that signed the service certificate' })),
};

/** A secret setting: a `${env:NAME}` / `${file:/path}` reference (a literal is accepted but discouraged). */
export const SecretString = Type.String({ minLength: 1, description: 'A secret reference: ${env:NAME} or ${file:/path}' });

/** The API key of a service that takes one; spread into the schema next to remoteSettingsSchema. */
export const apiKeySchema = { api_key: SecretString };

export type RemoteErrorReason = 'auth' | 'ratelimited' | 'not_found' | 'client' | 'server' | 'malformed' | 'refused' | 'transport';

/** A call that did not give an answer. `retryAfterMs` is set for 429s (the layer pauses the provider) and 5xx answers that say when to come back. */
export class RemoteError extends Error {
  constructor(
    message: string,
    readonly reason: RemoteErrorReason,
    readonly status: number | null = null,
    readonly retryAfterMs?: number,
  ) {
    super(message);
    this.name = 'RemoteError';
  }
}

type QueryValue = string | number | boolean;

/** The methods Fido sends: providers read (GET, POST searches); actions also change (PUT, PATCH, DELETE). */
export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export interface RemoteRequest {
  method?: HttpMethod;
  /** Appended to the base URL's path ("/api/v3/files/…"); callers encode path segments. */
  path: string;
  /** Query parameters; an array repeats its key (`section=A&section=B`). */
  query?: Record<string, QueryValue | readonly QueryValue[] | undefined>;
  /** A JSON body (sets content-type). */
  json?: unknown;
  /** A form body (application/x-www-form-urlencoded). */
  form?: Record<string, string>;
  headers?: Record<string, string>;
  /** The answer's form: JSON (default; a 2xx that is not JSON is `malformed`) or text as sent (CSV, lists). */
  as?: 'json' | 'text';
  signal: AbortSignal;
}

export interface RemoteResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  /** Parsed JSON (null for an empty body), or the text when the request asked for text. */
  body: unknown;
}

export interface RemoteClient {
  readonly baseUrl: URL;
  /**
   * The JSON answer of a 2xx. A 404 resolves to `null` when `notFound` is 'null' (the service's "never heard
   * of it", an answer worth caching); every other non-2xx throws a RemoteError.
   */
  json(req: RemoteRequest & { notFound?: 'null' | 'error' }): Promise<unknown>;
  /** The raw exchange, any status (for services whose errors carry meaning in 200s or odd codes). */
  send(req: RemoteRequest): Promise<RemoteResponse>;
  /** The RemoteError that `json` throws for a non-2xx answer of `send` (secrets cut out). */
  errorOf(res: RemoteResponse, req: RemoteRequest): RemoteError;
  close(): Promise<void>;
}

export interface RemoteClientOptions {
  /** Config path of the provider entry, for messages ("enrichment.providers.vt"). */
  key: string;
  baseUrl: string;
  /** Headers on every request (the API key). Their values are treated as secrets. */
  headers?: Record<string, string>;
  allowPrivate?: boolean;
  /** PEM text of a private CA. */
  ca?: string;
  timeoutMs?: number;
  /** Largest answer read, in bytes (default 4 MiB). */
  maxBytes?: number;
  /** Extra values to cut out of any message (e.g. a key sent in a body). */
  secrets?: readonly string[];
  userAgent?: string;
}

const DEFAULT_MAX_BYTES = 4 * 1024 * 1024;

/** The value of a secret setting: resolved when it is a reference, as written otherwise. */
export function secretSetting(value: string, key: string): string {
  return isSecretRef(value) ? resolveSecretRefs(value, key) : value;
}

/** PEM text of `tls_ca_file` (relative to the config folder), or undefined. */
export function readCaFile(file: string | undefined, configDir: string, key: string): string | undefined {
  if (!file) return undefined;
  const path = resolvePath(configDir, file);
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    throw new Error(`${key}.tls_ca_file: cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`);
  }
}

export function createRemoteClient(o: RemoteClientOptions): RemoteClient {
  const problem = outboundUrlProblem(o.baseUrl, { allowPrivate: o.allowPrivate ?? false });
  if (problem) throw new Error(`${o.key}.url: ${problem}`);
  const baseUrl = new URL(o.baseUrl);
  const timeoutMs = o.timeoutMs ?? 30_000;
  const maxBytes = o.maxBytes ?? DEFAULT_MAX_BYTES;
  const scrub = scrubber([...Object.values(o.headers ?? {}), ...(o.secrets ?? [])]);
  const dispatcher = guardedAgent({ timeoutMs, allowPrivate: o.allowPrivate ?? false, ca: o.ca });
  /** What a message may say about the request: method and path, never the query or headers. */
  const where = (req: RemoteRequest) => whereOf(baseUrl, req.method ?? 'GET', req.path);

  async function send(req: RemoteRequest): Promise<RemoteResponse> {
    const url = new URL(baseUrl.href);
    url.pathname = joinPath(baseUrl.pathname, req.path);
    for (const [k, v] of Object.entries(req.query ?? {})) {
      for (const one of Array.isArray(v) ? (v as readonly QueryValue[]) : v === undefined ? [] : [v as QueryValue]) url.searchParams.append(k, String(one));
    }
    const accept = req.as === 'text' ? 'text/plain, text/csv, */*' : 'application/json';
    const headers: Record<string, string> = { 'user-agent': o.userAgent ?? 'fido-enrichment/1', accept, ...o.headers, ...req.headers };
    let body: string | undefined;
    if (req.json !== undefined) {
      body = JSON.stringify(req.json);
      headers['content-type'] = 'application/json';
    } else if (req.form) {
      body = new URLSearchParams(req.form).toString();
      headers['content-type'] = 'application/x-www-form-urlencoded';
    }
    let status: number;
    let resHeaders: Record<string, string | string[] | undefined>;
    let text: string;
    try {
      const res = await request(url, { method: req.method ?? 'GET', dispatcher, signal: req.signal, headers, body });
      status = res.statusCode;
      resHeaders = res.headers;
      text = await readCapped(res.body, maxBytes);
    } catch (e) {
      throw transportError(e, where(req), scrub);
    }
    if (status >= 300 && status < 400) {
      throw new RemoteError(`${where(req)} answered ${status} redirect; redirects are not followed (set url to the final address)`, 'refused', status);
    }
    if (req.as === 'text') return { status, headers: resHeaders, body: status >= 200 && status < 300 ? text : snippet(text) };
    let parsed: unknown = null;
    if (text.trim() !== '') {
      try {
        parsed = JSON.parse(text) as unknown;
      } catch {
        if (status >= 200 && status < 300) throw new RemoteError(`${where(req)} answered ${status} with a body that is not JSON: ${scrub(snippet(text))}`, 'malformed', status);
        parsed = text;
      }
    }
    return { status, headers: resHeaders, body: parsed };
  }

  return {
    baseUrl,
    send,
    async json(req) {
      const res = await send(req);
      if (res.status >= 200 && res.status < 300) return res.body;
      if (res.status === 404 && req.notFound === 'null') return null;
      throw statusError(res, where(req), scrub);
    },
    errorOf: (res, req) => statusError(res, where(req), scrub),
    close: () => dispatcher.close(),
  };
}

/** A RemoteError for a non-2xx answer, named by what it means to a provider. */
export function statusError(res: RemoteResponse, where: string, scrub: (t: string) => string = (t) => t): RemoteError {
  const said = scrub(snippet(typeof res.body === 'string' ? res.body : JSON.stringify(res.body ?? '')));
  const what = `${where} answered ${res.status}${said && said !== '""' ? `: ${said}` : ''}`;
  if (res.status === 401 || res.status === 403) return new RemoteError(`${what} (the API key was refused)`, 'auth', res.status);
  if (res.status === 429) {
    return new RemoteError(`${what} (rate limit or quota exceeded)`, 'ratelimited', res.status, retryAfterMs(res.headers['retry-after']) ?? epochResetMs(res.headers));
  }
  if (res.status === 404) return new RemoteError(what, 'not_found', res.status);
  if (res.status >= 500) return new RemoteError(what, 'server', res.status, retryAfterMs(res.headers['retry-after']));
  return new RemoteError(what, 'client', res.status);
}

// --- Building a provider's client from its entry ---------------------------------------------------------

/** What openRemote and remoteUrlProblems read of a remote provider's entry. */
export interface RemoteEntry extends ProviderSettingsConfig {
  name: string;
  url?: string;
  allow_private?: boolean;
  tls_ca_file?: string;
}

/** Config path of an entry, the prefix of every message about it ("enrichment.providers.vt"). */
export const entryKey = (cfg: { name: string }): string => `enrichment.providers.${cfg.name}`;

/**
 * `check` of a remote entry: its url (or the vendor's default) must pass the outbound guard, reported by
 * `fido config validate` as at start.
 */
export function remoteUrlProblems(cfg: { url?: string; allow_private?: boolean }, defaultUrl?: string): ComponentProblem[] {
  const url = cfg.url ?? defaultUrl;
  if (url === undefined) return [];
  const problem = outboundUrlProblem(url, { allowPrivate: cfg.allow_private ?? false });
  return problem ? [{ key: 'url', message: problem }] : [];
}

export interface OpenRemoteOptions {
  /** The vendor's endpoint, used when the entry has no `url`. */
  defaultUrl?: string;
  /** The entry's `api_key` setting as written (a secret reference); resolved here, under `<key>.api_key`. */
  apiKey?: string;
  /** The headers that carry the resolved key (undefined when the entry has none); their values are secrets. */
  headers?: (apiKey: string | undefined) => Record<string, string>;
  /** Other resolved secrets to cut out of messages (credentials sent in a body). */
  secrets?: readonly string[];
}

export interface OpenedRemote {
  client: RemoteClient;
  /** Config path of the entry, for messages. */
  key: string;
  /** Cuts the key, header values and `secrets` out of text (a service may echo them in an error). */
  scrub(text: string): string;
  /** What a message may say about a request: method, host and path (never the query or headers). */
  where(method: HttpMethod, path: string): string;
}

/** The client of a remote entry: its url (or the vendor's), CA file, the entry's `timeout`, the key in headers. */
export function openRemote(cfg: RemoteEntry, deps: Pick<ProviderDeps, 'configDir'>, o: OpenRemoteOptions = {}): OpenedRemote {
  const key = entryKey(cfg);
  const apiKey = o.apiKey === undefined ? undefined : secretSetting(o.apiKey, `${key}.api_key`);
  const headers = o.headers?.(apiKey) ?? {};
  const baseUrl = cfg.url ?? o.defaultUrl;
  if (baseUrl === undefined) throw new Error(`${key}.url: required`);
  const client = createRemoteClient({
    key,
    baseUrl,
    headers,
    allowPrivate: cfg.allow_private ?? false,
    ca: readCaFile(cfg.tls_ca_file, deps.configDir, key),
    timeoutMs: resolveSettings(cfg, false).timeoutMs,
    ...(o.secrets ? { secrets: o.secrets } : {}),
  });
  return {
    client,
    key,
    scrub: scrubber([...(apiKey ? [apiKey] : []), ...Object.values(headers), ...(o.secrets ?? [])]),
    where: (method, path) => whereOf(client.baseUrl, method, path),
  };
}

// --- Errors in the words of a service ------------------------------------------------------------------

export interface VendorErrorOptions {
  /** The reason the service's own error code gives, when it says more than the status (a quota under a 403). */
  reason?: RemoteErrorReason | undefined;
  /** "Now" for an HTTP-date Retry-After or a reset time (deps.now()). */
  nowMs?: number;
  /** The pause of a 429 that says nothing (e.g. until a daily quota resets at midnight UTC). */
  fallbackMs?: number | undefined;
  /** Read the pause of a 429 without Retry-After from X-RateLimit-Reset, as epoch seconds (AbuseIPDB). */
  resetHeader?: boolean;
}

/**
 * The RemoteError for a non-2xx answer: statusError's reading of the status, with the reason the vendor's
 * own error code gives and, for a 429, the pause from Retry-After, else X-RateLimit-Reset (when asked),
 * else `fallbackMs`.
 */
export function vendorError(res: RemoteResponse, where: string, scrub: (t: string) => string, o: VendorErrorOptions = {}): RemoteError {
  const e = statusError(res, where, scrub);
  const reason = o.reason ?? e.reason;
  const pause = reason === 'ratelimited' ? rateLimitPause(res.headers, o) : undefined;
  return reason === e.reason && pause === e.retryAfterMs ? e : new RemoteError(e.message, reason, e.status, pause);
}

function rateLimitPause(headers: RemoteResponse['headers'], o: VendorErrorOptions): number | undefined {
  const nowMs = o.nowMs ?? Date.now();
  let ms = retryAfterMs(headers['retry-after'], nowMs);
  if (ms === undefined && o.resetHeader) {
    const raw = headers['x-ratelimit-reset'];
    const reset = num(Array.isArray(raw) ? raw[0] : raw);
    // Epoch seconds as documented; a value in ms is taken as such.
    if (reset !== null) ms = Math.max(0, (reset < 1e11 ? reset * 1000 : reset) - nowMs);
  }
  return ms ?? o.fallbackMs;
}

/** A RemoteError for a 2xx answer that is not shaped as the service documents. */
export function malformedAnswer(where: string, what: string, status = 200): RemoteError {
  return new RemoteError(`${where} answered ${status} but ${what}`, 'malformed', status);
}

/** Milliseconds from `nowMs` to the next midnight UTC, when the daily quotas of many services reset. */
export function untilUtcMidnight(nowMs: number): number {
  const d = new Date(nowMs);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate() + 1) - nowMs;
}

/**
 * Replaces every secret (of 4 characters or more: shorter ones would mangle ordinary text) by "[secret]". A
 * function of the secrets is read at each use, for secrets that change (an OAuth token renewed).
 */
export function scrubber(secrets: readonly (string | undefined)[] | (() => readonly (string | undefined)[])): (text: string) => string {
  const current = typeof secrets === 'function' ? secrets : () => secrets;
  return (text) =>
    current()
      .filter((s): s is string => !!s && s.length >= 4)
      .reduce((t, s) => t.split(s).join('[secret]'), text);
}

// --- Internals ----------------------------------------------------------------------------------------


function whereOf(baseUrl: URL, method: string, path: string): string {
  return `${method} ${baseUrl.host}${joinPath(baseUrl.pathname, path)}`;
}

function joinPath(base: string, path: string): string {
  if (path === '') return base; // the base URL itself (a file to download), trailing slash and all
  const b = base.endsWith('/') ? base.slice(0, -1) : base;
  return `${b}${path.startsWith('/') ? '' : '/'}${path}`;
}

/**
 * A response body as text, at most `max` bytes: past that the body is dropped and `tooLarge` thrown (by
 * default a 'malformed' RemoteError). Exported for other HTTP readers (a feed download).
 */
export async function readCapped(
  body: AsyncIterable<Buffer> & { destroy(): unknown },
  max: number,
  tooLarge: () => Error = () => new RemoteError(`answer larger than ${max} bytes`, 'malformed'),
): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += chunk.length;
    if (size > max) {
      body.destroy();
      throw tooLarge();
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function snippet(text: string): string {
  return text.replace(/\s+/g, ' ').trim().slice(0, 300);
}

function transportError(e: unknown, where: string, scrub: (t: string) => string): RemoteError {
  if (e instanceof RemoteError) return e;
  const err = e as { name?: string; code?: string; message?: string; cause?: { code?: string; message?: string } };
  if (err.code === 'EFIDO_PRIVATE_ADDRESS' || err.cause?.code === 'EFIDO_PRIVATE_ADDRESS') {
    return new RemoteError(`${where} refused: ${scrub(err.cause?.message ?? err.message ?? '')}`, 'refused');
  }
  if (err.name === 'AbortError' || err.code === 'UND_ERR_ABORTED') return new RemoteError(`${where}: aborted`, 'transport');
  const detail = err.cause?.message ?? err.message ?? String(e);
  return new RemoteError(`${where} failed${err.code ? ` (${err.code})` : ''}: ${scrub(detail)}`, 'transport');
}
