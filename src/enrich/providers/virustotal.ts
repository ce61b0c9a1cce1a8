/**
 * VirusTotal API v3 (https://docs.virustotal.com/reference/overview): what the engines made of a file hash,
 * a URL, a domain or an IP, as a threat-intelligence answer (intel.ts). One GET per subject, the key in the
 * `x-apikey` header. The layer caches, counts the quota (default: the public tier's 4/min, 500/day,
 * 15,500/month) and keeps private addresses and internal names away from it (external).
 *
 *   - name: vt
 *     kind: virustotal
 *     api_key: ${env:VT_API_KEY}
 *     # quota: { per_minute: 1000 }   # a premium key
 *
 * Verdict, from data.attributes.last_analysis_stats (engine counts; timeouts and unsupported types left out):
 *   malicious ≥ 3 engines → malicious; ≥ 1 malicious or suspicious engine → suspicious; otherwise harmless;
 *   no engine counted (never analysed) → unknown. Score within the verdict's band, by the share of engines
 *   against it (malicious + ½ suspicious, over all counted): malicious 75–100, suspicious 25–74, harmless 0.
 * A NotFoundError (404) is an answer: VirusTotal has never seen it (found: false).
 */
import { Type } from 'typebox';
import { defineProvider, type EnrichmentProvider, type LookupSubject, type ProviderAnswer } from '../provider.js';
import { intelAnswer, intelUnknown, type IntelVerdict } from '../intel.js';
import { apiKeySchema, malformedAnswer, openRemote, remoteSettingsSchema, remoteUrlProblems, vendorError, type RemoteErrorReason } from '../remote.js';
import { providerSettingsSchema } from '../settings.js';
import { num, obj, str, strs, type Json } from '../json-read.js';

const Schema = Type.Object(
  {
    name: Type.String(),
    kind: Type.Literal('virustotal'),
    ...providerSettingsSchema,
    ...remoteSettingsSchema,
    ...apiKeySchema,
  },
  { additionalProperties: false },
);

const DEFAULT_URL = 'https://www.virustotal.com';
/** Malicious engines from which the verdict is malicious. */
const MALICIOUS_ENGINES = 3;

/** API collection and GUI page of each subject type. */
const COLLECTIONS = {
  md5: { api: 'files', gui: 'file' },
  sha1: { api: 'files', gui: 'file' },
  sha256: { api: 'files', gui: 'file' },
  url: { api: 'urls', gui: 'url' },
  domain: { api: 'domains', gui: 'domain' },
  ip: { api: 'ip_addresses', gui: 'ip-address' },
} as const;
type VtSubject = keyof typeof COLLECTIONS;
const SUBJECTS = Object.keys(COLLECTIONS) as VtSubject[];

/** VirusTotal's error codes that mean more than their status (docs.virustotal.com/reference/errors). */
const ERROR_REASONS: Record<string, RemoteErrorReason> = {
  WrongCredentialsError: 'auth',
  AuthenticationRequiredError: 'auth',
  UserNotActiveError: 'auth',
  QuotaExceededError: 'ratelimited',
  TooManyRequestsError: 'ratelimited',
  TransientError: 'server',
  DeadlineExceededError: 'server',
};

/** A URL's identifier in API v3: its unpadded base64url (docs: "URL identifiers"). */
export function vtUrlId(url: string): string {
  return Buffer.from(url, 'utf8').toString('base64url');
}

export interface EngineStats {
  malicious: number;
  suspicious: number;
  harmless: number;
  undetected: number;
}

/** Verdict and score of engine counts (the mapping in the header comment). */
export function vtVerdict(s: EngineStats): { verdict: IntelVerdict; score: number } {
  const total = s.malicious + s.suspicious + s.harmless + s.undetected;
  if (total === 0) return { verdict: 'unknown', score: 0 };
  const share = (s.malicious + s.suspicious / 2) / total;
  if (s.malicious >= MALICIOUS_ENGINES) return { verdict: 'malicious', score: 75 + 25 * share };
  if (s.malicious + s.suspicious > 0) return { verdict: 'suspicious', score: Math.min(74, 25 + 49 * share) };
  return { verdict: 'harmless', score: 0 };
}

function apiPath(subject: LookupSubject): string {
  const c = COLLECTIONS[subject.type as VtSubject];
  const id = subject.type === 'url' ? vtUrlId(subject.value) : subject.value;
  return `/api/v3/${c.api}/${encodeURIComponent(id)}`;
}

function answerOf(subject: LookupSubject, body: unknown, where: string): ProviderAnswer {
  const data = obj(obj(body)?.data);
  const a = obj(data?.attributes);
  if (!data || !a) throw malformedAnswer(where, 'has no data.attributes');
  const stats = obj(a.last_analysis_stats) ?? {};
  const count = (k: string) => num(stats[k]) ?? 0;
  const engines: EngineStats = { malicious: count('malicious'), suspicious: count('suspicious'), harmless: count('harmless'), undetected: count('undetected') };
  const { verdict, score } = vtVerdict(engines);
  const label = str(obj(a.popular_threat_classification)?.suggested_threat_label);
  const id = str(data.id) ?? (subject.type === 'url' ? vtUrlId(subject.value) : subject.value);
  const detail: Json = { engines, reputation: num(a.reputation) ?? null };
  if (label) detail.threat_label = label;
  return intelAnswer({
    verdict,
    score,
    tags: [...strs(a.tags), label],
    references: [`https://www.virustotal.com/gui/${COLLECTIONS[subject.type as VtSubject].gui}/${encodeURIComponent(id)}`],
    first_seen: num(a.first_submission_date) ?? null,
    last_seen: num(a.last_analysis_date) ?? null,
    detail,
  });
}

const virustotal = defineProvider({
  kind: 'virustotal',
  description: 'VirusTotal API v3: engine verdicts on file hashes, URLs, domains and IPs (external, metered)',
  schema: Schema,
  check: remoteUrlProblems,
  async create(cfg, deps): Promise<EnrichmentProvider> {
    const r = openRemote(cfg, deps, { defaultUrl: DEFAULT_URL, apiKey: cfg.api_key, headers: (apiKey) => ({ 'x-apikey': apiKey ?? '' }) });
    return {
      name: cfg.name,
      kind: 'virustotal',
      subjects: SUBJECTS,
      local: false,
      external: true,
      quota: { per_minute: 4, per_day: 500, per_month: 15_500 },
      async lookup(subject, signal): Promise<ProviderAnswer> {
        const path = apiPath(subject);
        const res = await r.client.send({ path, signal });
        if (res.status >= 200 && res.status < 300) return answerOf(subject, res.body, r.where('GET', path));
        const code = str(obj(obj(res.body)?.error)?.code);
        // Only VirusTotal's own NotFoundError is "never seen": a bare 404 is a wrong url, not an answer to cache.
        if (code === 'NotFoundError') return intelUnknown({ status: res.status });
        throw vendorError(res, r.where('GET', path), r.scrub, { reason: code ? ERROR_REASONS[code] : undefined });
      },
      close: () => r.client.close(),
    };
  },
});

export default virustotal;
