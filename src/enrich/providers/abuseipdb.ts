/**
 * AbuseIPDB (API v2, CHECK endpoint): what the community has reported about a public IP, as AbuseIPDB's
 * 0–100 abuse confidence score. https://docs.abuseipdb.com/#check-endpoint
 *
 *   - name: abuseipdb
 *     kind: abuseipdb
 *     api_key: ${env:ABUSEIPDB_API_KEY}
 *     max_age_days: 90          # reports older than this are ignored by AbuseIPDB (1–365)
 *
 * Mapping (docs/providers/abuseipdb.md): whitelisted → harmless; never reported (0 reports, score 0) →
 * unknown, not found; otherwise the score decides: ≥ 75 malicious, ≥ 25 suspicious, below harmless.
 * External: the layer never sends it private or internal addresses. Default quota: the free tier's
 * 1,000 checks a day.
 */
import { Type } from 'typebox';
import { defineProvider, type EnrichmentProvider, type ProviderAnswer } from '../provider.js';
import { providerSettingsSchema } from '../settings.js';
import { apiKeySchema, malformedAnswer, openRemote, remoteSettingsSchema, remoteUrlProblems, untilUtcMidnight, vendorError, type RemoteResponse } from '../remote.js';
import { intelAnswer, intelUnknown, verdictOfScore } from '../intel.js';
import { num, obj, str } from '../json-read.js';

const DEFAULT_URL = 'https://api.abuseipdb.com/api/v2';
const CHECK_PATH = '/check';

const Schema = Type.Object(
  {
    name: Type.String(),
    kind: Type.Literal('abuseipdb'),
    ...providerSettingsSchema,
    ...remoteSettingsSchema,
    ...apiKeySchema,
    max_age_days: Type.Optional(Type.Integer({ minimum: 1, maximum: 365, description: 'Only reports of the last N days count (default 90)' })),
  },
  { additionalProperties: false },
);

/** Score thresholds of the verdict (intel.ts verdictOfScore), documented in docs/providers/abuseipdb.md. */
const MALICIOUS_AT = 75;
const SUSPICIOUS_AT = 25;

const abuseipdb = defineProvider({
  kind: 'abuseipdb',
  description: 'AbuseIPDB: community abuse reports and confidence score of a public IP (API v2 check)',
  schema: Schema,
  check: (cfg) => remoteUrlProblems(cfg, DEFAULT_URL),
  async create(cfg, deps): Promise<EnrichmentProvider> {
    // remote.ts adds `Accept: application/json`, without which AbuseIPDB answers errors in HTML.
    const c = openRemote(cfg, deps, { defaultUrl: DEFAULT_URL, apiKey: cfg.api_key, headers: (key) => ({ Key: key ?? '' }) });
    const maxAgeInDays = cfg.max_age_days ?? 90;
    const at = c.where('GET', CHECK_PATH);
    // A 429 pauses until Retry-After, else X-RateLimit-Reset, else the daily reset at midnight UTC.
    const failure = (res: RemoteResponse) =>
      vendorError(res, at, c.scrub, { nowMs: deps.now(), resetHeader: true, fallbackMs: untilUtcMidnight(deps.now()) });
    return {
      name: cfg.name,
      kind: 'abuseipdb',
      subjects: ['ip'],
      local: false,
      external: true,
      quota: { per_day: 1000 },
      async lookup(subject, signal): Promise<ProviderAnswer> {
        const res = await c.client.send({ path: CHECK_PATH, query: { ipAddress: subject.value, maxAgeInDays }, signal });
        if (res.status < 200 || res.status >= 300) throw failure(res);
        const body = obj(res.body);
        // The JSON:API error shape can come with a 200 too: read it by its own status.
        if (body && Array.isArray(body.errors) && body.errors.length > 0) {
          throw failure({ ...res, status: num(obj(body.errors[0])?.status) || 500 });
        }
        const data = obj(body?.data);
        if (!data) throw malformedAnswer(at, 'has no "data" object');
        const score = num(data.abuseConfidenceScore);
        if (score === null) throw malformedAnswer(at, 'has no numeric "abuseConfidenceScore"');
        return toAnswer(data, score, subject.value);
      },
      close: () => c.client.close(),
    };
  },
});

function toAnswer(data: Record<string, unknown>, score: number, ip: string): ProviderAnswer {
  const reports = num(data.totalReports) ?? 0;
  const detail = {
    usage_type: str(data.usageType),
    isp: str(data.isp),
    domain: str(data.domain),
    country_code: str(data.countryCode),
    total_reports: reports,
    distinct_reporters: num(data.numDistinctUsers),
    is_whitelisted: data.isWhitelisted === true,
    is_tor: data.isTor === true,
  };
  // Nobody reported it: AbuseIPDB knows its network, not the address; that says nothing for or against it.
  if (reports === 0 && score === 0 && data.isWhitelisted !== true) return intelUnknown(detail);
  const tags = [data.isWhitelisted === true ? 'whitelisted' : null, data.isTor === true ? 'tor' : null, str(data.usageType)];
  return intelAnswer({
    // Whitelisted addresses (known scanners, big services) are vouched for, whatever a stray report says.
    verdict: data.isWhitelisted === true ? 'harmless' : verdictOfScore(score, MALICIOUS_AT, SUSPICIOUS_AT),
    score,
    tags,
    references: [`https://www.abuseipdb.com/check/${encodeURIComponent(ip)}`],
    last_seen: str(data.lastReportedAt),
    detail,
  });
}

export default abuseipdb;
