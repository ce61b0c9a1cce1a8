/**
 * GreyNoise Community API: whether a public IPv4 address is Internet background noise (a mass scanner,
 * benign or malicious) or a known business service (RIOT: CDNs, DNS resolvers, SaaS). A short answer,
 * free with a community account. https://docs.greynoise.io/reference/get_v3-community-ip
 *
 *   - name: greynoise
 *     kind: greynoise
 *     api_key: ${env:GREYNOISE_API_KEY}   # optional: without it GreyNoise allows far fewer lookups
 *
 * Mapping (docs/providers/greynoise.md): classification malicious → malicious; RIOT → harmless; a benign
 * scanner → harmless; noise of unknown intent → suspicious; "not observed" (404) → unknown, not found.
 * IPv6 addresses are not sent: the Community API answers IPv4 only. External; default quota 50 a day.
 */
import { isIPv4 } from 'node:net';
import { Type } from 'typebox';
import { defineProvider, type EnrichmentProvider, type ProviderAnswer } from '../provider.js';
import { providerSettingsSchema } from '../settings.js';
import { malformedAnswer, openRemote, remoteSettingsSchema, remoteUrlProblems, SecretString, untilUtcMidnight, vendorError } from '../remote.js';
import { intelAnswer, intelUnknown, type IntelVerdict } from '../intel.js';
import { obj, str } from '../json-read.js';

const DEFAULT_URL = 'https://api.greynoise.io';

const Schema = Type.Object(
  {
    name: Type.String(),
    kind: Type.Literal('greynoise'),
    ...providerSettingsSchema,
    ...remoteSettingsSchema,
    api_key: Type.Optional(SecretString),
  },
  { additionalProperties: false },
);

/** Scores of the verdicts: GreyNoise gives a class, not a number. */
const SCORES: Record<IntelVerdict, number> = { malicious: 90, suspicious: 50, harmless: 0, unknown: 0 };

const greynoise = defineProvider({
  kind: 'greynoise',
  description: 'GreyNoise Community: is a public IPv4 address an Internet scanner (benign or malicious) or a known business service',
  schema: Schema,
  check: (cfg) => remoteUrlProblems(cfg, DEFAULT_URL),
  async create(cfg, deps): Promise<EnrichmentProvider> {
    const c = openRemote(cfg, deps, {
      defaultUrl: DEFAULT_URL,
      ...(cfg.api_key !== undefined ? { apiKey: cfg.api_key } : {}),
      headers: (key): Record<string, string> => (key ? { key } : {}),
    });
    return {
      name: cfg.name,
      kind: 'greynoise',
      subjects: ['ip'],
      local: false,
      external: true,
      // The community plan's documented allowance is about 50 lookups a day (docs/providers/greynoise.md).
      quota: { per_day: 50 },
      async lookup(subject, signal): Promise<ProviderAnswer> {
        if (!isIPv4(subject.value)) return intelUnknown({ message: 'not asked: the GreyNoise Community API answers IPv4 addresses only' });
        const path = `/v3/community/${encodeURIComponent(subject.value)}`;
        const at = c.where('GET', path);
        const res = await c.client.send({ path, signal });
        const body = obj(res.body);
        // 404 is GreyNoise's "never seen it scanning, not a known service": an answer, not an error.
        if (res.status === 404 && body) return intelUnknown({ message: str(body.message) });
        // The community limit is daily and its 429 carries no Retry-After: pause until it resets.
        if (res.status < 200 || res.status >= 300) throw vendorError(res, at, c.scrub, { nowMs: deps.now(), fallbackMs: untilUtcMidnight(deps.now()) });
        if (!body || typeof body.noise !== 'boolean' || typeof body.riot !== 'boolean') throw malformedAnswer(at, 'has no boolean "noise" and "riot"');
        return toAnswer(body);
      },
      close: () => c.client.close(),
    };
  },
});

function toAnswer(body: Record<string, unknown>): ProviderAnswer {
  const noise = body.noise === true;
  const riot = body.riot === true;
  const classification = str(body.classification);
  const verdict = verdictOf(noise, riot, classification);
  return intelAnswer({
    verdict,
    score: SCORES[verdict],
    tags: [noise ? 'scanner' : null, riot ? 'business-service' : null, classification ? `greynoise:${classification}` : null],
    references: [str(body.link)],
    last_seen: str(body.last_seen),
    detail: { noise, riot, classification, name: str(body.name), message: str(body.message) },
  });
}

/**
 * Evidence against an address wins: malicious first, then the known-good (RIOT, benign scanners), then
 * noise nobody has vouched for. A 200 that is neither noise nor RIOT (not documented) is unknown.
 */
function verdictOf(noise: boolean, riot: boolean, classification: string | null): IntelVerdict {
  if (classification === 'malicious') return 'malicious';
  if (riot || classification === 'benign') return 'harmless';
  if (noise) return 'suspicious';
  return 'unknown';
}

export default greynoise;
