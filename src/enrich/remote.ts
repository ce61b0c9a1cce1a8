/**
 * What providers that ask a service over HTTP share: the config keys (`url`, `api_key`, `allow_private`,
 * `tls_ca_file`), one connection pool per provider behind the outbound guard (util/outbound.ts), TLS always
 * verified, redirects refused, answers capped in size, and one error type whose `reason` the layer acts on:
 * a 429 pauses the provider until its Retry-After, a rejected key is reported as such, a 404 is an answer.
 *
 * Secrets: the API key goes in a header, never in a URL, and no error message carries a header, the request
 * URL's query, or any configured secret (a service that echoes the key back has it cut out of the snippet).
 * Reference user: providers/virustotal.ts.
 */
import { readFileSync } from 'node:fs';
import { resolve as resolvePath } from 'node:path';
import { Agent, request } from 'undici';
import { Type } from 'typebox';
import { guardedLookup, outboundUrlProblem } from '../util/outbound.js';
import { isSecretRef, resolveSecretRefs } from '../config/secrets.js';

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

export type RemoteErrorReason = 'auth' | 'ratelimited' | 'not_found' | 'client' | 'server' | 'malformed' | 'refused' | 'transport';

/** A call that did not give an answer. `retryAfterMs` is set for 429s (the layer pauses the provider). */
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

export interface RemoteRequest {
  method?: 'GET' | 'POST';
  /** Appended to the base URL's path ("/api/v3/files/…"); callers encode path segments. */
  path: string;
  query?: Record<string, string | number | boolean | undefined>;
  /** A JSON body (sets content-type). */
  json?: unknown;
  /** A form body (application/x-www-form-urlencoded). */
  form?: Record<string, string>;
  headers?: Record<string, string>;
  signal: AbortSignal;
}

export interface RemoteResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  /** Parsed JSON (null for an empty body). */
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

/** Retry-After as delta-seconds or an HTTP date, in ms. */
export function retryAfterMs(value: string | string[] | undefined, nowMs = Date.now()): number | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  if (!v) return undefined;
  if (/^\s*\d+\s*$/.test(v)) return Number(v) * 1000;
  const at = Date.parse(v);
  return Number.isFinite(at) ? Math.max(0, at - nowMs) : undefined;
}

export function createRemoteClient(o: RemoteClientOptions): RemoteClient {
  const problem = outboundUrlProblem(o.baseUrl, { allowPrivate: o.allowPrivate ?? false });
  if (problem) throw new Error(`${o.key}.url: ${problem}`);
  const baseUrl = new URL(o.baseUrl);
  const timeoutMs = o.timeoutMs ?? 30_000;
  const maxBytes = o.maxBytes ?? DEFAULT_MAX_BYTES;
  const secrets = [...Object.values(o.headers ?? {}), ...(o.secrets ?? [])].filter((s) => s.length >= 4);
  const scrub = (text: string): string => secrets.reduce((t, s) => t.split(s).join('[secret]'), text);
  const dispatcher = new Agent({
    headersTimeout: timeoutMs,
    bodyTimeout: timeoutMs,
    connect: {
      rejectUnauthorized: true,
      timeout: timeoutMs,
      ...(o.ca ? { ca: o.ca } : {}),
      lookup: guardedLookup(o.allowPrivate ?? false),
    },
  });
  /** What a message may say about the request: method and path, never the query or headers. */
  const where = (req: RemoteRequest) => `${req.method ?? 'GET'} ${baseUrl.host}${joinPath(baseUrl.pathname, req.path)}`;

  async function send(req: RemoteRequest): Promise<RemoteResponse> {
    const url = new URL(baseUrl.href);
    url.pathname = joinPath(baseUrl.pathname, req.path);
    for (const [k, v] of Object.entries(req.query ?? {})) if (v !== undefined) url.searchParams.append(k, String(v));
    const headers: Record<string, string> = { 'user-agent': o.userAgent ?? 'fido-enrichment/1', accept: 'application/json', ...o.headers, ...req.headers };
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
    close: () => dispatcher.close(),
  };
}

/** A RemoteError for a non-2xx answer, named by what it means to a provider. */
export function statusError(res: RemoteResponse, where: string, scrub: (t: string) => string = (t) => t): RemoteError {
  const said = scrub(snippet(typeof res.body === 'string' ? res.body : JSON.stringify(res.body ?? '')));
  const what = `${where} answered ${res.status}${said && said !== '""' ? `: ${said}` : ''}`;
  if (res.status === 401 || res.status === 403) return new RemoteError(`${what} (the API key was refused)`, 'auth', res.status);
  if (res.status === 429) return new RemoteError(`${what} (rate limit or quota exceeded)`, 'ratelimited', res.status, retryAfterMs(res.headers['retry-after']));
  if (res.status === 404) return new RemoteError(what, 'not_found', res.status);
  if (res.status >= 500) return new RemoteError(what, 'server', res.status);
  return new RemoteError(what, 'client', res.status);
}

function joinPath(base: string, path: string): string {
  const b = base.endsWith('/') ? base.slice(0, -1) : base;
  return `${b}${path.startsWith('/') ? '' : '/'}${path}`;
}

async function readCapped(body: AsyncIterable<Buffer> & { destroy(): unknown }, max: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += chunk.length;
    if (size > max) {
      body.destroy();
      throw new RemoteError(`answer larger than ${max} bytes`, 'malformed');
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
