/**
 * What the three abuse.ch providers share (urlhaus.ts, malwarebazaar.ts, threatfox.ts): one config shape
 * (the layer's settings, url/allow_private/tls_ca_file and `api_key`, sent as the `Auth-Key` header every
 * abuse.ch API has required since 2024), a POST that reads the service's `query_status` verdict, and its
 * time format. Not a provider: it lives in lib/, which discovery (component/discover.ts) does not read.
 *
 * abuse.ch answers almost everything with HTTP 200 and says what happened in `query_status`: "ok", a
 * "never heard of it" ("no_results" on URLhaus, "no_result" on ThreatFox, "hash_not_found" on MalwareBazaar),
 * a refused key ("unknown_auth_key", also under a 401/403), or a refused question ("invalid_url",
 * "illegal_hash", "illegal_search_term"…). This file turns those into an answer, `null` (unknown) or a
 * RemoteError with the reason the layer acts on. The answers' fields are read with json-read.ts.
 */
import { Type, type Static } from 'typebox';
import { isoTime } from '../../intel.js';
import type { ObservableType } from '../../../model/observable.js';
import { defineProvider, type LookupSubject, type ProviderAnswer, type ProviderDeps, type ProviderQuota } from '../../provider.js';
import { intelUnknown } from '../../intel.js';
import { RemoteError, apiKeySchema, malformedAnswer, openRemote, remoteSettingsSchema, remoteUrlProblems, retryAfterMs, vendorError } from '../../remote.js';
import { providerSettingsSchema } from '../../settings.js';
import { obj, str, type Json } from '../../json-read.js';

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
      ...apiKeySchema,
    },
    { additionalProperties: false },
  );
}

export type AbusechConfig = Static<ReturnType<typeof abusechSchema<string>>>;

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
  query(req: AbusechRequest, signal: AbortSignal): Promise<Json | null>;
  /** A RemoteError for an "ok" answer that is not shaped as documented. */
  malformed(req: AbusechRequest, what: string): RemoteError;
  close(): Promise<void>;
}

/** The client of an entry: its url (or the service's), the key in the Auth-Key header. */
export function createAbusechClient(cfg: AbusechConfig, deps: ProviderDeps, o: { service: string; defaultUrl: string }): AbusechClient {
  const r = openRemote(cfg, deps, { defaultUrl: o.defaultUrl, apiKey: cfg.api_key, headers: (key) => ({ 'auth-key': key ?? '' }) });
  const where = (req: AbusechRequest) => `${o.service} ${r.where('POST', req.path)}`;

  return {
    async query(req, signal) {
      const res = await r.client.send({ method: 'POST', path: req.path, form: req.form, json: req.json, signal });
      const status = queryStatus(res.body);
      const said = status === null ? '' : ` (query_status "${status}")`;
      if (res.status < 200 || res.status >= 300) {
        // A 401/403 (or any status) naming the key: the key; everything else as remote.ts reads the status.
        if (status !== null && AUTH.has(status)) throw new RemoteError(`${where(req)} answered ${res.status}${said}: the Auth-Key was refused`, 'auth', res.status);
        throw vendorError(res, where(req), r.scrub);
      }
      if (status === null) throw malformedAnswer(where(req), 'has no query_status', res.status);
      if (status === 'ok') return res.body as Json;
      if (NOT_FOUND.has(status)) return null;
      if (AUTH.has(status)) throw new RemoteError(`${where(req)} answered${said}: the Auth-Key was refused`, 'auth', res.status);
      if (RATE.has(status)) throw new RemoteError(`${where(req)} answered${said}: fair-use limit reached`, 'ratelimited', res.status, retryAfterMs(res.headers['retry-after']));
      // invalid_url, illegal_hash, illegal_search_term, unknown_query…: the question was refused.
      throw new RemoteError(`${where(req)} answered${said}: the service refused the question`, 'client', res.status);
    },
    malformed: (req, what) => malformedAnswer(where(req), what),
    close: () => r.client.close(),
  };
}

/** The body's `query_status`, cut to a short token (it goes into messages), or null when there is none. */
function queryStatus(body: unknown): string | null {
  const s = str(obj(body)?.query_status);
  return s === null ? null : s.replace(/[^\w.-]/g, '').slice(0, 60);
}

/**
 * An abuse.ch provider kind: the shared schema, url check, client, quota and "external" flag; `answer` maps
 * one subject's "ok" body (a body the service does not know gives unknown before it is called).
 */
export function defineAbusechProvider<K extends string>(o: {
  kind: K;
  description: string;
  /** The service's name in messages ("URLhaus"). */
  service: string;
  defaultUrl: string;
  subjects: readonly ObservableType[];
  /** The question for a subject. */
  request(subject: LookupSubject): AbusechRequest;
  /** The answer of an "ok" body; `malformed` words the error for a body not shaped as documented. */
  answer(subject: LookupSubject, body: Json, malformed: (what: string) => RemoteError): ProviderAnswer;
}) {
  return defineProvider({
    kind: o.kind,
    description: o.description,
    schema: abusechSchema(o.kind),
    check: remoteUrlProblems,
    async create(cfg, deps) {
      const client = createAbusechClient(cfg, deps, { service: o.service, defaultUrl: o.defaultUrl });
      return {
        name: cfg.name,
        kind: o.kind,
        subjects: o.subjects,
        local: false,
        external: true,
        quota: ABUSECH_QUOTA,
        async lookup(subject, signal): Promise<ProviderAnswer> {
          const req = o.request(subject);
          const body = await client.query(req, signal);
          return body === null ? intelUnknown() : o.answer(subject, body, (what) => client.malformed(req, what));
        },
        close: () => client.close(),
      };
    },
  });
}

/** An abuse.ch time ("2020-12-06 09:10:23 UTC", "2019-01-19") as ISO 8601, or null. */
export function abusechTime(v: unknown): string | null {
  const s = str(v);
  if (s === null) return null;
  // "2026-12-01 10:00:00 UTC": the zone word goes (a scan, not /\s*UTC$/, which is quadratic on long blanks).
  const t = s.trimEnd();
  return isoTime(t.toUpperCase().endsWith('UTC') ? t.slice(0, -3).trimEnd() : t);
}

/** The earliest / latest of some times (ISO strings sort as times); null when there is none. */
export function earliest(times: Iterable<string | null>): string | null {
  return [...times].filter((t): t is string => t !== null).sort()[0] ?? null;
}
export function latest(times: Iterable<string | null>): string | null {
  return [...times].filter((t): t is string => t !== null).sort().at(-1) ?? null;
}
