/**
 * The in-memory index of a feed provider: what every feed format (STIX, TAXII, abuse.ch CSV, text lists)
 * turns into, matched with the local indicator lists' own rules (providers/indicators.ts: an IP in a CIDR, a
 * domain and its parents, a URL exactly or by its host, hashes exactly), and the answer in the common
 * threat-intelligence shape (intel.ts).
 */
import type { LookupSubject, ProviderAnswer } from '../../provider.js';
import { intelAnswer, intelUnknown, type IntelVerdict } from '../../intel.js';
import { buildIndicatorIndex, matchIndicators, type IndicatorEntry, type IndicatorIndex, type IndicatorVerdict } from '../indicators.js';
import { normalizeValue, parseCidr } from '../../values.js';
import type { PatternIndicatorType } from './stix-pattern.js';

export type FeedVerdict = Exclude<IntelVerdict, 'unknown'>;

/** One indicator as a feed describes it; several values may share one record (a STIX pattern with OR). */
export interface FeedRecord {
  /** Unique within the feed: a STIX id, or `line N` of a list. */
  id: string;
  verdict: FeedVerdict;
  score: number;
  tags: string[];
  references: string[];
  first_seen: string | null;
  last_seen: string | null;
  /** Epoch ms after which the record no longer answers (STIX valid_until); null: no end. */
  valid_until: number | null;
  /** Small facts for the answer's detail (name, port, malware family…). */
  detail: Record<string, unknown>;
}

export interface FeedValue {
  type: PatternIndicatorType;
  value: string;
  record: FeedRecord;
}

/** Why objects or lines of a download gave no indicator, by reason. */
export type SkipCounts = Record<string, number>;

export interface FeedIndex {
  index: IndicatorIndex;
  records: ReadonlyMap<string, FeedRecord>;
  /** Content hash of what was loaded (the same in every process). */
  hash: string;
  /** valid_until of every record that has one, ascending (for revision()). */
  expiries: number[];
  skipped: SkipCounts;
}

export function countSkip(skipped: SkipCounts, reason: string, n = 1): void {
  skipped[reason] = (skipped[reason] ?? 0) + n;
}

const TO_LIST_VERDICT: Record<FeedVerdict, IndicatorVerdict> = { malicious: 'malicious', suspicious: 'suspicious', harmless: 'benign' };
const SEVERITY: Record<FeedVerdict, number> = { malicious: 3, suspicious: 2, harmless: 1 };

export function buildFeedIndex(values: readonly FeedValue[], hash: string, skipped: SkipCounts, source: string): FeedIndex {
  const entries: IndicatorEntry[] = [];
  const records = new Map<string, FeedRecord>();
  for (const v of values) {
    const indicator = v.type === 'cidr' ? (parseCidr(v.value)?.text ?? null) : normalizeValue(v.type, v.value);
    if (!indicator) {
      countSkip(skipped, 'invalid_value');
      continue;
    }
    // A /32 (or /128) written as a CIDR is an address: matched as one, reported as one.
    const type = v.type === 'cidr' && !indicator.includes('/') ? 'ip' : v.type;
    entries.push({ indicator, type, verdict: TO_LIST_VERDICT[v.record.verdict], source, origin: v.record.id });
    records.set(v.record.id, v.record);
  }
  const expiries = [...records.values()].flatMap((r) => (r.valid_until === null ? [] : [r.valid_until])).sort((a, b) => a - b);
  return { index: buildIndicatorIndex(entries), records, hash, expiries, skipped };
}

/** How many records have expired by `now`: part of the revision, since their answers change then. */
export function expiredCount(idx: FeedIndex, now: number): number {
  let lo = 0;
  let hi = idx.expiries.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (idx.expiries[mid]! <= now) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

const MAX_MATCHES = 20;

/**
 * The answer for one subject: the most severe verdict among the matching records (highest score among
 * those), their tags and references together, the earliest first_seen and latest last_seen.
 */
export function feedAnswer(idx: FeedIndex, subject: LookupSubject, now: number, about: Record<string, unknown>): ProviderAnswer {
  const matches = matchIndicators(idx.index, subject)
    .map((m) => ({ m, r: idx.records.get(m.origin)! }))
    .filter(({ r }) => r !== undefined && (r.valid_until === null || r.valid_until > now));
  if (matches.length === 0) return intelUnknown(about);
  matches.sort((a, b) => SEVERITY[b.r.verdict] - SEVERITY[a.r.verdict] || b.r.score - a.r.score);
  const top = matches[0]!.r;
  const times = (pick: (r: FeedRecord) => string | null) => matches.map(({ r }) => pick(r)).filter((t): t is string => t !== null).sort();
  const first = times((r) => r.first_seen);
  const last = times((r) => r.last_seen);
  return intelAnswer({
    verdict: top.verdict,
    score: top.score,
    tags: matches.flatMap(({ r }) => r.tags),
    references: matches.flatMap(({ r }) => r.references),
    first_seen: first[0] ?? null,
    last_seen: last[last.length - 1] ?? null,
    detail: {
      ...about,
      matches: matches.slice(0, MAX_MATCHES).map(({ m, r }) => ({ indicator: m.indicator, type: m.type, match: m.match, id: r.id, verdict: r.verdict, ...r.detail })),
      ...(matches.length > MAX_MATCHES ? { more_matches: matches.length - MAX_MATCHES } : {}),
    },
  });
}
