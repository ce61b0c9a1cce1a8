/**
 * What the three abuse.ch providers share (urlhaus.ts, malwarebazaar.ts, threatfox.ts): one config shape
 * (the layer's settings, url/allow_private/tls_ca_file and `api_key`, sent as the `Auth-Key` header every
 * abuse.ch API has required since 2024), a POST that reads the service's `query_status` verdict, and small
 * readers that take abuse.ch JSON apart without trusting its shape. Not a provider: it lives in lib/, which
 * discovery (component/discover.ts) does not read.
 *
 * abuse.ch answers almost everything with HTTP 200 and says what happened in `query_status`: "ok", a
 * "never heard of it" ("no_results" on URLhaus, "no_result" on ThreatFox, "hash_not_found" on MalwareBazaar),
 * a refused key ("unknown_auth_key", also under a 401/403), or a refused question ("invalid_url",
 * "illegal_hash", "illegal_search_term"…). This file turns those into an answer, `null` (unknown) or a
 * RemoteError with the reason the layer acts on.
 */
import { Type, type Static } from 'typebox';
import type { ComponentProblem } from '../../../component/component.js';
import { outboundUrlProblem } from '../../../util/outbound.js';
import { isoTime } from '../../intel.js';
import type { ProviderDeps, ProviderQuota } from '../../provider.js';
import {
  RemoteError,
  SecretString,
  createRemoteClient,
  readCaFile,
  remoteSettingsSchema,
  retryAfterMs,
  secretSetting,
  statusError,
  type RemoteClient,
} from '../../remote.js';
import { providerSettingsSchema } from '../../settings.js';

/**
 * abuse.ch documents fair use without numbers. One call a second keeps a busy Fido a polite client; the
 * layer counts against it unless the entry sets its own `quota`.
 */
export const ABUSECH_QUOTA: ProviderQuota = { per_minute: 60 };

/** The schema of an entry of one abuse.ch kind. */
export function abusechSchema<K extends string>(kind: K) {
  return Type.Object(
    {
      name: Type.String(),
      kind: Type.Literal(kind),
      ...providerSettingsSchema,
      ...remoteSettingsSchema,
      api_key: SecretString,
    },
    { additionalProperties: false },
  );
}

export type AbusechConfig = Static<ReturnType<typeof abusechSchema<string>>>;

/** `check`: a url the outbound guard would refuse, reported by `fido config validate` as at start. */
export function abusechCheck(cfg: { url?: string; allow_private?: boolean }): ComponentProblem[] {
  if (cfg.url === undefined) return [];
  const problem = outboundUrlProblem(cfg.url, { allowPrivate: cfg.allow_private ?? false });
  return problem ? [{ key: 'url', message: problem }] : [];
}

/** `query_status` values meaning "the service does not know it" (an answer, cached as negative). */
const NOT_FOUND = new Set(['no_results', 'no_result', 'hash_not_found', 'file_not_found', 'not_found']);
/** The key is missing, unknown or banned. */
const AUTH = new Set(['unknown_auth_key', 'unauthorized', 'user_blacklisted']);
/** Fair-use throttling, seen as a 200 as well as a 429. */
const RATE = new Set(['rate_limited']);

export interface AbusechRequest {
  /** Under the base URL: "/url/" (URLhaus) or "/" (MalwareBazaar, ThreatFox). */
  path: string;
  form?: Record<string, string>;
  json?: unknown;
}

export interface AbusechClient {
  /**
   * POSTs one question. The whole body when `query_status` is "ok"; null when the service does not know the
   * subject; otherwise throws a RemoteError (auth, ratelimited, client, server, malformed, transport…).
   */
  query(req: AbusechRequest, signal: AbortSignal): Promise<Record<string, unknown> | null>;
  /** A RemoteError for an "ok" answer that is not shaped as documented. */
  malformed(req: AbusechRequest, what: string): RemoteError;
  close(): Promise<void>;
}

/** The client of an entry: its url (or the service's), the key in the Auth-Key header. */
export function createAbusechClient(cfg: AbusechConfig, deps: ProviderDeps, o: { service: string; defaultUrl: string }): AbusechClient {
  const key = `enrichment.providers.${cfg.name}`;
  const authKey = secretSetting(cfg.api_key, `${key}.api_key`);
  const remote: RemoteClient = createRemoteClient({
    key,
    baseUrl: cfg.url ?? o.defaultUrl,
    headers: { 'auth-key': authKey },
    allowPrivate: cfg.allow_private ?? false,
    ca: readCaFile(cfg.tls_ca_file, deps.configDir, key),
  });
  const basePath = remote.baseUrl.pathname.replace(/\/$/, '');
  const where = (req: AbusechRequest) => `${o.service} POST ${remote.baseUrl.host}${basePath}${req.path}`;
  const scrub = (text: string) => (authKey.length >= 4 ? text.split(authKey).join('[secret]') : text);

  return {
    async query(req, signal) {
      const res = await remote.send({ method: 'POST', path: req.path, form: req.form, json: req.json, signal });
      const status = queryStatus(res.body);
      const said = status === null ? '' : ` (query_status "${status}")`;
      if (res.status < 200 || res.status >= 300) {
        // A 401/403 (or any status) naming the key: the key; everything else as remote.ts reads the status.
        if (status !== null && AUTH.has(status)) throw new RemoteError(`${where(req)} answered ${res.status}${said}: the Auth-Key was refused`, 'auth', res.status);
        throw statusError(res, where(req), scrub);
      }
      if (status === null) throw new RemoteError(`${where(req)} answered ${res.status} without a query_status`, 'malformed', res.status);
      if (status === 'ok') return res.body as Record<string, unknown>;
      if (NOT_FOUND.has(status)) return null;
      if (AUTH.has(status)) throw new RemoteError(`${where(req)} answered${said}: the Auth-Key was refused`, 'auth', res.status);
      if (RATE.has(status)) throw new RemoteError(`${where(req)} answered${said}: fair-use limit reached`, 'ratelimited', res.status, retryAfterMs(res.headers['retry-after']));
      // invalid_url, illegal_hash, illegal_search_term, unknown_query…: the question was refused.
      throw new RemoteError(`${where(req)} answered${said}: the service refused the question`, 'client', res.status);
    },
    malformed: (req, what) => new RemoteError(`${where(req)} answered "ok" but ${what}`, 'malformed', 200),
    close: () => remote.close(),
  };
}

/** The body's `query_status`, cut to a short token (it goes into messages), or null when there is none. */
function queryStatus(body: unknown): string | null {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return null;
  const s = (body as Record<string, unknown>).query_status;
  return typeof s === 'string' && s !== '' ? s.replace(/[^\w.-]/g, '').slice(0, 60) : null;
}

// Readers: abuse.ch sends numbers as strings, lists as null, and dates as "2019-01-19 01:33:26 UTC".

/** A non-empty string (numbers as text), else null. */
export function str(v: unknown): string | null {
  if (typeof v === 'string') return v.trim() === '' ? null : v.trim();
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  return null;
}

/** A finite number from a number or numeric text, else null. */
export function num(v: unknown): number | null {
  const n = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN;
  return Number.isFinite(n) ? n : null;
}

/** The strings of a list (null and non-strings dropped); [] when it is not a list. */
export function strings(v: unknown): string[] {
  return Array.isArray(v) ? v.map(str).filter((s): s is string => s !== null) : [];
}

/** The objects of a list; [] when it is not a list. */
export function records(v: unknown): Record<string, unknown>[] {
  return Array.isArray(v) ? v.filter((x): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x)) : [];
}

/** An abuse.ch time ("2020-12-06 09:10:23 UTC", "2019-01-19") as ISO 8601, or null. */
export function abusechTime(v: unknown): string | null {
  const s = str(v);
  return s === null ? null : isoTime(s.replace(/\s*UTC$/i, ''));
}

/** The earliest / latest of some times (ISO strings sort as times); null when there is none. */
export function earliest(times: Iterable<string | null>): string | null {
  return [...times].filter((t): t is string => t !== null).sort()[0] ?? null;
}
export function latest(times: Iterable<string | null>): string | null {
  return [...times].filter((t): t is string => t !== null).sort().at(-1) ?? null;
}
