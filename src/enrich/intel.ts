/**
 * The one answer every threat-intelligence provider gives, whatever its service says natively: a verdict,
 * a 0–100 score, tags, references and the age of the source's own knowledge. Scoring and the incident page
 * read these fields only; what is specific to a service (engine counts, pulse names) goes in `detail`.
 *
 * A service that has never heard of the indicator gives `found: false` with verdict `unknown` (cached for the
 * provider's negative_ttl); one that knows it and calls it harmless gives `found: true`, verdict `harmless`.
 */
import type { ProviderAnswer } from './provider.js';

export const INTEL_VERDICTS = ['malicious', 'suspicious', 'harmless', 'unknown'] as const;
export type IntelVerdict = (typeof INTEL_VERDICTS)[number];

export interface IntelData {
  verdict: IntelVerdict;
  /** 0 (nothing against it) … 100 (certainly malicious), on the provider's own evidence. */
  score: number;
  tags: string[];
  /** Links a person can follow (the service's report page, a pulse, a blog post); never fetched by Fido. */
  references: string[];
  /** When the service first and last saw the indicator or last analysed it (ISO 8601), when it says. */
  first_seen: string | null;
  last_seen: string | null;
  /** Service-specific facts worth showing (engine counts, malware family, pulse count…), kept small. */
  detail: Record<string, unknown>;
}

export interface IntelInput {
  verdict: IntelVerdict;
  score: number;
  tags?: Iterable<string | null | undefined>;
  references?: Iterable<string | null | undefined>;
  first_seen?: string | number | null;
  last_seen?: string | number | null;
  detail?: Record<string, unknown>;
}

const MAX_TAGS = 50;
const MAX_REFERENCES = 20;

/** A found answer in the common shape: score clamped to 0–100, tags deduplicated, times as ISO 8601. */
export function intelAnswer(input: IntelInput): ProviderAnswer {
  return { found: true, data: intelData(input) as unknown as Record<string, unknown> };
}

/** The service does not know the indicator: verdict unknown, score 0. */
export function intelUnknown(detail: Record<string, unknown> = {}): ProviderAnswer {
  return { found: false, data: intelData({ verdict: 'unknown', score: 0, detail }) as unknown as Record<string, unknown> };
}

export function intelData(input: IntelInput): IntelData {
  return {
    verdict: input.verdict,
    score: Math.max(0, Math.min(100, Math.round(Number.isFinite(input.score) ? input.score : 0))),
    tags: distinct(input.tags, MAX_TAGS),
    references: distinct(input.references, MAX_REFERENCES),
    first_seen: isoTime(input.first_seen),
    last_seen: isoTime(input.last_seen),
    detail: input.detail ?? {},
  };
}

/**
 * A verdict from a score where a service gives only a number: ≥ `malicious` → malicious, ≥ `suspicious` →
 * suspicious, otherwise harmless (the service knows it and says nothing against it).
 */
export function verdictOfScore(score: number, malicious = 75, suspicious = 25): IntelVerdict {
  return score >= malicious ? 'malicious' : score >= suspicious ? 'suspicious' : 'harmless';
}

/** Seconds since the epoch (a number), epoch ms (a big number) or a date text → ISO 8601; null when none. */
export function isoTime(v: string | number | null | undefined): string | null {
  if (v === null || v === undefined || v === '') return null;
  const ms = typeof v === 'number' ? (v < 1e11 ? v * 1000 : v) : Date.parse(/^\d{4}-\d\d-\d\d \d/.test(v) && !/[zZ]|[+-]\d\d:?\d\d$/.test(v) ? `${v.replace(' ', 'T')}Z` : v);
  return Number.isFinite(ms) ? new Date(ms).toISOString() : null;
}

function distinct(values: Iterable<string | null | undefined> | undefined, max: number): string[] {
  const out = new Set<string>();
  for (const v of values ?? []) {
    const t = typeof v === 'string' ? v.trim() : '';
    if (t) out.add(t);
    if (out.size >= max) break;
  }
  return [...out];
}
