/**
 * Cisco Secure Malware Analytics (Threat Grid), the sandbox: what the latest finished analysis of a file made
 * of it, by its MD5, SHA-1 or SHA-256. One GET of the submission search of API v2
 * (/api/v2/search/submissions?q=<hash>&term=checksum&state=succ), newest first.
 *
 * The key: API v2 documents it as the `api_key` query parameter, which puts it in every proxy and access log
 * on the way. This provider sends it as `Authorization: Bearer <key>` instead, the form the v3 API and the
 * current Secure Malware Analytics docs accept, and never in the URL.
 *
 *   - name: sandbox
 *     kind: threatgrid
 *     api_key: ${env:THREATGRID_API_KEY}
 *     # url: https://panacea.threatgrid.eu     # EU cloud, or an appliance's address
 *
 * Verdict from the latest finished submission's analysis.threat_score (0–100, the score itself):
 * ≥ 75 malicious, ≥ 50 suspicious, else harmless. No submission → unknown (found: false); the search
 * answers an unknown hash with no items, so a 404 is a wrong `url` (an error), not an answer. Submissions
 * whose analysis has no score yet → unknown, cached 5 minutes only. Tags: the submission's tags and the
 * names of its behaviours (strongest first). Only submissions whose own checksum is the hash count: one
 * that merely dropped the file does not speak for it. No default quota: limits depend on the licence.
 */
import { Type } from 'typebox';
import { defineProvider, type EnrichmentProvider, type LookupSubject, type ProviderAnswer } from '../provider.js';
import { intelAnswer, intelUnknown, verdictOfScore } from '../intel.js';
import { apiKeySchema, malformedAnswer, openRemote, remoteSettingsSchema, remoteUrlProblems, vendorError, type OpenedRemote, type RemoteErrorReason } from '../remote.js';
import { providerSettingsSchema } from '../settings.js';
import { num, obj, objs, str, strs, type Json } from '../json-read.js';

const Schema = Type.Object(
  {
    name: Type.String(),
    kind: Type.Literal('threatgrid'),
    ...providerSettingsSchema,
    ...remoteSettingsSchema,
    ...apiKeySchema,
  },
  { additionalProperties: false },
);

const DEFAULT_URL = 'https://panacea.threatgrid.com';
const PATH = '/api/v2/search/submissions';
/** Submissions read per lookup: the newest finished ones are enough to find the latest and the first. */
const LIMIT = 20;
/** An analysis still running: ask again soon rather than for the whole negative_ttl. */
const PENDING_TTL_MS = 5 * 60_000;
const MAX_BEHAVIOURS = 10;

/** Verdict of a threat score (header comment). */
export const threatgridVerdict = (score: number) => verdictOfScore(score, 75, 50);

interface Submission {
  item: Json;
  analysis: Json | null;
  score: number | null;
  submittedAt: string;
}

function submissionsOf(body: unknown, subject: LookupSubject, r: OpenedRemote): Submission[] {
  const data = obj(obj(body)?.data);
  if (!data || !Array.isArray(data.items)) throw malformedAnswer(r.where('GET', PATH), 'has no data.items');
  return data.items
    .map((x) => obj(obj(x)?.item))
    .filter((item): item is Json => item !== null && str(item[subject.type])?.toLowerCase() === subject.value)
    .map((item) => {
      const analysis = obj(item.analysis);
      return { item, analysis, score: num(analysis?.threat_score), submittedAt: str(item.submitted_at) ?? '' };
    })
    .sort((a, b) => Date.parse(b.submittedAt) - Date.parse(a.submittedAt) || 0);
}

function answerOf(subs: Submission[], r: OpenedRemote): ProviderAnswer {
  if (subs.length === 0) return intelUnknown({ submissions: 0 });
  const latest = subs.find((s) => s.score !== null);
  if (!latest) return { ...intelUnknown({ submissions: subs.length, pending: true }), ttlMs: PENDING_TTL_MS };
  const score = latest.score!;
  const behaviours = objs(latest.analysis?.behaviors)
    .filter((b) => str(b.name) !== null)
    .sort((a, b) => (num(b.threat) ?? 0) - (num(a.threat) ?? 0))
    .slice(0, MAX_BEHAVIOURS);
  const sample = str(latest.item.sample);
  const web = r.client.baseUrl.origin;
  return intelAnswer({
    verdict: threatgridVerdict(score),
    score,
    tags: [...strs(latest.item.tags), ...behaviours.map((b) => str(b.name))],
    references: sample ? [`${web}/mask/samples/${encodeURIComponent(sample)}`] : [],
    first_seen: subs.at(-1)!.submittedAt || null,
    last_seen: latest.submittedAt || null,
    detail: {
      threat_score: score,
      submissions: subs.length,
      sample: sample ?? null,
      filename: str(latest.item.filename) ?? null,
      behaviours: behaviours.map((b) => ({ name: b.name, title: str(b.title) ?? null, threat: num(b.threat) ?? null })),
    },
  });
}

/** Threat Grid's error body: {"api_version":2,"error":{"code":401,"message":"…"}}, sometimes under a 200. */
function errorCode(body: unknown): number | null {
  return num(obj(obj(body)?.error)?.code);
}

const REASONS: Record<number, RemoteErrorReason> = { 401: 'auth', 403: 'auth', 429: 'ratelimited' };

const threatgrid = defineProvider({
  kind: 'threatgrid',
  description: 'Cisco Secure Malware Analytics (Threat Grid): threat score and behaviours of the latest sandbox run of a file hash (external)',
  schema: Schema,
  check: remoteUrlProblems,
  async create(cfg, deps): Promise<EnrichmentProvider> {
    const r = openRemote(cfg, deps, { defaultUrl: DEFAULT_URL, apiKey: cfg.api_key, headers: (apiKey) => ({ authorization: `Bearer ${apiKey ?? ''}` }) });
    return {
      name: cfg.name,
      kind: 'threatgrid',
      subjects: ['md5', 'sha1', 'sha256'],
      local: false,
      external: true,
      async lookup(subject, signal): Promise<ProviderAnswer> {
        const query = { q: subject.value, term: 'checksum', state: 'succ', sort_by: 'submitted_at', sort_order: 'desc', limit: LIMIT };
        const res = await r.client.send({ path: PATH, query, signal });
        const code = errorCode(res.body);
        if (res.status >= 200 && res.status < 300 && code === null) return answerOf(submissionsOf(res.body, subject, r), r);
        // An error inside a 200 is read as its own code says.
        const status = res.status >= 200 && res.status < 300 ? (code ?? 500) : res.status;
        throw vendorError({ ...res, status }, r.where('GET', PATH), r.scrub, { reason: code !== null ? REASONS[code] : undefined });
      },
      close: () => r.client.close(),
    };
  },
});

export default threatgrid;
