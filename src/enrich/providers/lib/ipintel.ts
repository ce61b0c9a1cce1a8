/**
 * What the AbuseIPDB, GreyNoise and MISP providers share: building their HTTP client from an entry (key
 * resolved from its secret reference, private CA, the entry's timeout), the `check` of their url, reading
 * the JSON they answer without trusting its shape, and a pause for 429s that come without a Retry-After.
 * Not a provider: discover.ts reads only the files directly in providers/.
 */
import type { ComponentProblem } from '../../../component/component.js';
import { outboundUrlProblem } from '../../../util/outbound.js';
import type { ProviderDeps } from '../../provider.js';
import {
  createRemoteClient,
  readCaFile,
  RemoteError,
  retryAfterMs,
  secretSetting,
  statusError,
  type RemoteClient,
  type RemoteResponse,
} from '../../remote.js';
import { resolveSettings, type ProviderSettingsConfig } from '../../settings.js';

/** The keys of a remote entry this module reads. */
export interface RemoteEntry extends ProviderSettingsConfig {
  name: string;
  url?: string;
  allow_private?: boolean;
  tls_ca_file?: string;
}

/** Config path of an entry, the prefix of every message about it. */
export const entryKey = (cfg: { name: string }): string => `enrichment.providers.${cfg.name}`;

/** `check` of a remote entry: its url (or the vendor's default) must pass the outbound guard. */
export function urlProblems(cfg: RemoteEntry, defaultUrl: string): ComponentProblem[] {
  const problem = outboundUrlProblem(cfg.url ?? defaultUrl, { allowPrivate: cfg.allow_private ?? false });
  return problem ? [{ key: 'url', message: problem }] : [];
}

export interface IntelClient {
  client: RemoteClient;
  /** Cuts the API key out of a text (a service may echo it in an error). */
  scrub: (text: string) => string;
}

/**
 * The entry's client. `headers` gets the resolved API key (undefined when the entry has none) and returns
 * the headers that carry it: the key never goes in a URL, and no message carries it.
 */
export function remoteClient(
  cfg: RemoteEntry,
  deps: ProviderDeps,
  o: { defaultUrl: string; apiKey?: string; headers: (key: string | undefined) => Record<string, string> },
): IntelClient {
  const key = entryKey(cfg);
  const apiKey = o.apiKey === undefined ? undefined : secretSetting(o.apiKey, `${key}.api_key`);
  const client = createRemoteClient({
    key,
    baseUrl: cfg.url ?? o.defaultUrl,
    headers: o.headers(apiKey),
    allowPrivate: cfg.allow_private ?? false,
    ca: readCaFile(cfg.tls_ca_file, deps.configDir, key),
    timeoutMs: resolveSettings(cfg, false).timeoutMs,
  });
  const scrub = (text: string) => (apiKey && apiKey.length >= 4 ? text.split(apiKey).join('[secret]') : text);
  return { client, scrub };
}

/**
 * The RemoteError for a non-2xx answer (remote.ts's reading of the status), with the 429 pause filled in
 * when the service gave no Retry-After (see withRetryAfter).
 */
export function failure(res: RemoteResponse, at: string, c: IntelClient, nowMs: number, fallbackMs?: number): RemoteError {
  return withRetryAfter(statusError(res, at, c.scrub), res.headers, nowMs, fallbackMs);
}

/** `where` as remote.ts words it in messages: method, host and path, never the query. */
export function where(client: RemoteClient, method: 'GET' | 'POST', path: string): string {
  const base = client.baseUrl.pathname.replace(/\/$/, '');
  return `${method} ${client.baseUrl.host}${base}${path}`;
}

/** A RemoteError 'malformed' for an answer whose shape is not the documented one. */
export function malformed(at: string, what: string): RemoteError {
  return new RemoteError(`${at} answered 200 but ${what}`, 'malformed', 200);
}

export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export const str = (v: unknown): string | null => (typeof v === 'string' && v.trim() !== '' ? v : null);

/** A number, or a numeric string (MISP sends ids and epoch seconds as strings); null otherwise. */
export function num(v: unknown): number | null {
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  if (typeof v === 'string' && /^\s*-?\d+(\.\d+)?\s*$/.test(v)) return Number(v);
  return null;
}

/**
 * A 429 as the layer wants it: with the pause from Retry-After, else from an X-RateLimit-Reset epoch
 * (AbuseIPDB), else `fallbackMs` (a daily limit that says nothing: until the next UTC midnight).
 */
export function withRetryAfter(e: RemoteError, headers: Record<string, string | string[] | undefined>, nowMs: number, fallbackMs?: number): RemoteError {
  if (e.reason !== 'ratelimited') return e;
  let ms = retryAfterMs(headers['retry-after'], nowMs);
  if (ms === undefined) {
    const reset = num(Array.isArray(headers['x-ratelimit-reset']) ? headers['x-ratelimit-reset'][0] : headers['x-ratelimit-reset']);
    if (reset !== null) ms = Math.max(0, (reset < 1e11 ? reset * 1000 : reset) - nowMs);
  }
  ms ??= fallbackMs;
  return ms === e.retryAfterMs ? e : new RemoteError(e.message, e.reason, e.status, ms);
}

/** Milliseconds from `nowMs` to the next midnight UTC, when daily quotas of these services reset. */
export function untilUtcMidnight(nowMs: number): number {
  const d = new Date(nowMs);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate() + 1) - nowMs;
}
