/**
 * AlienVault OTX DirectConnect API v1 (https://otx.alienvault.com/api): how many OTX pulses (community threat
 * reports) reference an IP, domain, URL or file hash, and whether OTX allowlists it. One GET of the indicator's
 * `general` section, the key in the `X-OTX-API-KEY` header. The layer caches, counts the quota (default: OTX's
 * documented 10,000 requests per hour per key) and keeps private addresses and internal names away (external).
 *
 *   - name: otx
 *     kind: otx
 *     api_key: ${env:OTX_API_KEY}
 *
 * Verdict: an entry in `validation` (OTX's allowlists: whitelist, false_positive, alexa, majestic, akamai…)
 * or in `false_positive` → harmless, score 0, whatever the pulses say. Otherwise by pulse_info.count:
 * 0 → unknown (found: false, OTX knows nothing against it); else score 30 + 10 per pulse (max 100), so
 * 1–4 pulses → suspicious (40–70), 5 or more → malicious (80–100). A 404 is also "unknown".
 */
import { Type } from 'typebox';
import { defineProvider, type EnrichmentProvider, type LookupSubject, type ProviderAnswer } from '../provider.js';
import { intelAnswer, intelUnknown, verdictOfScore } from '../intel.js';
import { apiKeySchema, malformedAnswer, openRemote, remoteSettingsSchema, remoteUrlProblems, retryAfterMs, vendorError } from '../remote.js';
import { providerSettingsSchema } from '../settings.js';
import { arr, num, obj, objs, str, strs } from '../json-read.js';
import { parse as parseDomain } from 'tldts';

const Schema = Type.Object(
  {
    name: Type.String(),
    kind: Type.Literal('otx'),
    ...providerSettingsSchema,
    ...remoteSettingsSchema,
    ...apiKeySchema,
  },
  { additionalProperties: false },
);

const DEFAULT_URL = 'https://otx.alienvault.com';
const WEB = 'https://otx.alienvault.com';

/** OTX's indicator section of a subject: its API type and its web page type. */
export function otxSection(subject: LookupSubject): { api: string; web: string } {
  switch (subject.type) {
    case 'ip':
      return subject.value.includes(':') ? { api: 'IPv6', web: 'ip' } : { api: 'IPv4', web: 'ip' };
    case 'domain':
      // OTX keeps registered domains and host names apart; a sub-domain asked as a domain finds nothing.
      return parseDomain(subject.value).domain === subject.value ? { api: 'domain', web: 'domain' } : { api: 'hostname', web: 'hostname' };
    case 'url':
      return { api: 'url', web: 'url' };
    default:
      return { api: 'file', web: 'file' };
  }
}

/** Score of a pulse count (header comment): each pulse is one more report against it. */
export function otxScore(pulses: number): number {
  return Math.min(100, 30 + 10 * pulses);
}

function answerOf(subject: LookupSubject, body: unknown, where: string): ProviderAnswer {
  const b = obj(body);
  const info = obj(b?.pulse_info);
  if (!b || !info) throw malformedAnswer(where, 'has no pulse_info');
  const count = num(info.count) ?? 0;
  const validation = objs(b.validation);
  const allowlisted = validation.length > 0 || arr(b.false_positive).length > 0;
  if (count === 0 && !allowlisted) return intelUnknown({ pulses: 0 });
  const pulses = objs(info.pulses);
  const times = (k: string) => pulses.map((p) => str(p[k])).filter((t): t is string => t !== null).sort();
  const created = times('created');
  const modified = [...created, ...times('modified')].sort();
  const section = otxSection(subject);
  return intelAnswer({
    verdict: allowlisted ? 'harmless' : verdictOfScore(otxScore(count)),
    score: allowlisted ? 0 : otxScore(count),
    tags: [...pulses.flatMap((p) => strs(p.tags)), ...pulses.flatMap((p) => arr(p.malware_families).map((m) => str(obj(m)?.display_name)))],
    references: [
      `${WEB}/indicator/${section.web}/${encodeURIComponent(subject.value)}`,
      ...pulses.map((p) => {
        const id = str(p.id);
        return id ? `${WEB}/pulse/${encodeURIComponent(id)}` : null;
      }),
      ...strs(info.references),
      ...pulses.flatMap((p) => strs(p.references)),
    ],
    first_seen: created[0] ?? null,
    last_seen: modified.at(-1) ?? null,
    detail: {
      pulses: count,
      pulse_names: pulses.map((p) => str(p.name)).filter(Boolean).slice(0, 10),
      ...(allowlisted ? { allowlisted: validation.map((v) => str(v.source) ?? str(v.name) ?? 'false_positive') } : {}),
    },
  });
}

/** DRF's throttle message when no Retry-After came: "Request was throttled. Expected available in 12 seconds." */
function throttleWait(body: unknown): number | undefined {
  const m = /available in (\d+) second/.exec(str(obj(body)?.detail) ?? '');
  return m ? retryAfterMs(m[1]) : undefined;
}

const otx = defineProvider({
  kind: 'otx',
  description: 'AlienVault OTX: pulses that reference an IP, domain, URL or file hash, and OTX allowlisting (external)',
  schema: Schema,
  check: remoteUrlProblems,
  async create(cfg, deps): Promise<EnrichmentProvider> {
    const r = openRemote(cfg, deps, { defaultUrl: DEFAULT_URL, apiKey: cfg.api_key, headers: (apiKey) => ({ 'x-otx-api-key': apiKey ?? '' }) });
    return {
      name: cfg.name,
      kind: 'otx',
      subjects: ['ip', 'domain', 'url', 'md5', 'sha1', 'sha256'],
      local: false,
      external: true,
      quota: { per_hour: 10_000 },
      async lookup(subject, signal): Promise<ProviderAnswer> {
        const path = `/api/v1/indicators/${otxSection(subject).api}/${encodeURIComponent(subject.value)}/general`;
        const res = await r.client.send({ path, signal });
        if (res.status >= 200 && res.status < 300) return answerOf(subject, res.body, r.where('GET', path));
        if (res.status === 404) return intelUnknown({ status: 404 });
        throw vendorError(res, r.where('GET', path), r.scrub, { fallbackMs: throttleWait(res.body) });
      },
      close: () => r.client.close(),
    };
  },
});

export default otx;
