/**
 * MISP: whether an indicator is an attribute of an event in a MISP instance (a sharing community's server
 * or the organisation's own), through POST /attributes/restSearch.
 * https://www.misp-project.org/openapi/#tag/Attributes/operation/restSearchAttributes
 *
 *   - name: misp
 *     kind: misp
 *     url: https://misp.example.org
 *     api_key: ${env:MISP_API_KEY}
 *     tls_ca_file: misp-ca.pem      # a private CA, as self-hosted instances often have
 *     external: true                # default; false for an instance run by the organisation itself
 *     ids_only: false               # true: only attributes flagged for detection (to_ids) count
 *     limit: 50
 *
 * Mapping (docs/providers/misp.md): no attribute → unknown, not found; any matching attribute with to_ids
 * → malicious (score 90), others only → suspicious (50). Tags: the attributes' and their events' tags;
 * references: the events' pages on the instance.
 */
import { Type } from 'typebox';
import type { ObservableType } from '../../model/observable.js';
import { defineProvider, type EnrichmentProvider, type ProviderAnswer } from '../provider.js';
import { providerSettingsSchema } from '../settings.js';
import { apiKeySchema, malformedAnswer, openRemote, remoteSettingsSchema, remoteUrlProblems, vendorError } from '../remote.js';
import { intelAnswer, intelUnknown, isoTime } from '../intel.js';
import { isRecord, num, obj, objs, str, type Json } from '../json-read.js';

const SEARCH_PATH = '/attributes/restSearch';

const Schema = Type.Object(
  {
    name: Type.String(),
    kind: Type.Literal('misp'),
    ...providerSettingsSchema,
    ...remoteSettingsSchema,
    // No vendor endpoint: every MISP is someone's own server.
    url: Type.String({ minLength: 1, description: 'Base URL of the MISP instance' }),
    ...apiKeySchema,
    external: Type.Optional(
      Type.Boolean({ description: 'The instance is outside the organisation (default true): it is never sent internal addresses or names' }),
    ),
    ids_only: Type.Optional(Type.Boolean({ description: 'Only attributes flagged for detection (to_ids) count (default false)' })),
    enforce_warninglist: Type.Optional(Type.Boolean({ description: "Drop attributes on MISP's warning lists of known false positives (default true)" })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, description: 'Most attributes read per lookup (default 50)' })),
  },
  { additionalProperties: false },
);

/** The MISP attribute types an observable of each type can be (composite types match on either half). */
const MISP_TYPES: Partial<Record<ObservableType, readonly string[]>> = {
  ip: ['ip-src', 'ip-dst', 'ip-src|port', 'ip-dst|port', 'domain|ip'],
  domain: ['domain', 'hostname', 'domain|ip'],
  url: ['url', 'link', 'uri'],
  md5: ['md5', 'filename|md5'],
  sha1: ['sha1', 'filename|sha1'],
  sha256: ['sha256', 'filename|sha256'],
  email: ['email', 'email-src', 'email-dst', 'target-email', 'whois-registrant-email'],
};
const SUBJECTS = Object.keys(MISP_TYPES) as ObservableType[];

/** MISP's event threat levels (threat_level_id). */
const THREAT_LEVELS: Record<number, string> = { 1: 'high', 2: 'medium', 3: 'low', 4: 'undefined' };

const misp = defineProvider({
  kind: 'misp',
  description: 'MISP: is an IP, domain, URL, hash or e-mail address an attribute of a MISP event (attributes restSearch)',
  schema: Schema,
  check: remoteUrlProblems,
  async create(cfg, deps): Promise<EnrichmentProvider> {
    const c = openRemote(cfg, deps, { apiKey: cfg.api_key, headers: (key) => ({ Authorization: key ?? '' }) });
    const base = c.client.baseUrl.href.replace(/(?<!\/)\/+$/, '');
    const at = c.where('POST', SEARCH_PATH);
    const limit = cfg.limit ?? 50;
    return {
      name: cfg.name,
      kind: 'misp',
      subjects: SUBJECTS,
      local: false,
      external: cfg.external ?? true,
      async lookup(subject, signal): Promise<ProviderAnswer> {
        const request: Record<string, unknown> = {
          returnFormat: 'json',
          value: subject.value,
          type: MISP_TYPES[subject.type] ?? [],
          includeEventTags: true,
          enforceWarninglist: cfg.enforce_warninglist ?? true,
          limit,
          // to_ids false would mean "only attributes NOT for detection": leave it out to get both.
          ...(cfg.ids_only ? { to_ids: true } : {}),
        };
        const res = await c.client.send({ method: 'POST', path: SEARCH_PATH, json: request, signal });
        if (res.status < 200 || res.status >= 300) throw vendorError(res, at, c.scrub, { nowMs: deps.now() });
        const attributes = attributesOf(res.body);
        if (!attributes) throw malformedAnswer(at, 'has no "response"');
        return toAnswer(attributes, base);
      },
      close: () => c.client.close(),
    };
  },
});

/** The attributes of a restSearch answer: {"response":{"Attribute":[…]}}; an empty search may say {"response":[]}. */
function attributesOf(body: unknown): Json[] | null {
  const response = obj(body)?.response;
  if (Array.isArray(response) && response.length === 0) return [];
  if (!isRecord(response)) return null;
  if (response.Attribute === undefined) return [];
  if (!Array.isArray(response.Attribute)) return null;
  return objs(response.Attribute);
}

/** MISP has sent to_ids as true, 1 and "1" over its versions. */
const truthy = (v: unknown): boolean => v === true || v === 1 || v === '1' || v === 'true';

function tagNames(v: unknown): string[] {
  return objs(v).flatMap((t) => str(t.name) ?? []);
}

/** Epoch seconds (MISP sends them as strings) or an ISO time → epoch ms, for min and max. */
function ms(v: unknown): number | null {
  const n = num(v);
  const iso = isoTime(n ?? (typeof v === 'string' ? v : null));
  return iso ? Date.parse(iso) : null;
}

function toAnswer(attributes: Json[], base: string): ProviderAnswer {
  if (attributes.length === 0) return intelUnknown({ attributes: 0 });
  const events = new Map<string, { info: string | null; threat: number | null }>();
  const tags: string[] = [];
  const categories = new Set<string>();
  let idsMatches = 0;
  let first: number | null = null;
  let last: number | null = null;
  for (const a of attributes) {
    if (truthy(a.to_ids)) idsMatches++;
    const event = obj(a.Event) ?? {};
    // str takes a numeric id as text too.
    const eventId = str(a.event_id);
    if (eventId && !events.has(eventId)) events.set(eventId, { info: str(event.info), threat: num(event.threat_level_id) });
    // With includeEventTags, event tags come in the attribute's Tag list; some versions nest them in Event.
    tags.push(...tagNames(a.Tag), ...tagNames(event.Tag));
    const category = str(a.category);
    if (category) categories.add(category);
    // first_seen/last_seen when the analyst set them, else the attribute's last change (timestamp).
    const seenFrom = ms(a.first_seen) ?? ms(a.timestamp);
    const seenTo = ms(a.last_seen) ?? ms(a.timestamp);
    if (seenFrom !== null) first = first === null ? seenFrom : Math.min(first, seenFrom);
    if (seenTo !== null) last = last === null ? seenTo : Math.max(last, seenTo);
  }
  // The most severe threat level of the events (1 high … 4 undefined).
  const threats = [...events.values()].map((e) => e.threat).filter((t): t is number => t !== null && t >= 1 && t <= 4);
  const threat = threats.length ? THREAT_LEVELS[Math.min(...threats)] : null;
  const malicious = idsMatches > 0;
  return intelAnswer({
    verdict: malicious ? 'malicious' : 'suspicious',
    score: malicious ? 90 : 50,
    tags,
    references: [...events.keys()].map((id) => `${base}/events/view/${encodeURIComponent(id)}`),
    first_seen: first,
    last_seen: last,
    detail: {
      attributes: attributes.length,
      ids_attributes: idsMatches,
      events: events.size,
      event_info: [...events.values()].map((e) => e.info).filter((i): i is string => i !== null).slice(0, 5),
      threat_level: threat,
      categories: [...categories],
    },
  });
}

export default misp;
