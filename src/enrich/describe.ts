/**
 * What a person asking by hand is shown about enrichment: the subjects they typed, each provider's answer with
 * where it came from, its age and whether the cache served it, and the provider's limits right now (breaker,
 * rate, quota, pause after a 429). One description for `fido lookup` (cli/commands/lookup.ts) and the API
 * (api/routes/enrichment.ts), so that both say the same thing in the same words.
 *
 * Quota counts: an enricher remembers only the counts it saw itself, but every Fido process spends the same
 * budget (the `enrich_quota` table, quota.ts). So the quota shown is the store's count for the current period
 * when there is a store, and never less than what this process counted itself (it counts in memory when the
 * store could not).
 */
import type { Store } from '../store/store.js';
import type { EnrichmentError } from '../model/enrichment.js';
import { OBSERVABLE_TYPES, isObservableType, type ObservableType } from '../model/observable.js';
import type { LookupSubject } from './provider.js';
import { isEnrichmentError, type Enricher, type LookupResult, type ProviderState } from './layer.js';
import { periodBounds, type QuotaPeriodState } from './quota.js';
import { guessType, hashType, normalizeValue } from './values.js';

export class SubjectArgError extends Error {}

/** "ip:203.0.113.7", "hash:…" (typed by length), or a bare value typed by its shape; values are normalised. */
export function parseSubjectArg(arg: string): LookupSubject {
  const colon = arg.indexOf(':');
  const prefix = colon > 0 ? arg.slice(0, colon).toLowerCase() : '';
  let type: ObservableType | 'hash' | 'cidr' | null;
  let value: string;
  if (isObservableType(prefix) || prefix === 'hash') {
    type = prefix as ObservableType | 'hash';
    value = arg.slice(colon + 1);
  } else {
    type = guessType(arg);
    value = arg;
  }
  if (type === 'hash') type = hashType(value);
  if (!type || type === 'cidr') {
    throw new SubjectArgError(`"${arg}": say what it is as TYPE:VALUE (types: ${OBSERVABLE_TYPES.join(', ')}, hash)`);
  }
  const normalized = normalizeValue(type, value);
  if (!normalized) throw new SubjectArgError(`"${arg}": "${value}" is not a valid ${type}`);
  return { type, value: normalized };
}

/** A provider's limits as shown beside each of its answers. */
export interface ProviderLimits {
  breaker: ProviderState['breaker'];
  consecutive_failures: number;
  retry_at: string | null;
  rate_per_second: number | null;
  tokens: number | null;
  in_flight: number;
  concurrency: number;
  quota: QuotaPeriodState[] | null;
  paused_until: string | null;
}

interface AnswerSource {
  /** "TYPE:VALUE" */
  subject: string;
  provider: string;
  kind: string | null;
  /** "kind/name", e.g. "indicators/soc-intel". */
  source: string;
  state: ProviderLimits;
}

export type DescribedAnswer = AnswerSource &
  (
    | {
        result: 'found' | 'not_found';
        found: boolean;
        data: Record<string, unknown>;
        fetched_at: string;
        age_seconds: number;
        cache: 'hit' | 'miss' | 'coalesced';
      }
    | { result: EnrichmentError['result']; error: string }
  );

/** Every configured provider and its state, as GET /enrichment/providers lists them. */
export type DescribedProvider = ProviderState & { subjects: ObservableType[] };

export function providerLimits(s: ProviderState): ProviderLimits {
  return {
    breaker: s.breaker,
    consecutive_failures: s.consecutive_failures,
    retry_at: s.retry_at,
    rate_per_second: s.rate_per_second,
    tokens: s.tokens,
    in_flight: s.in_flight,
    concurrency: s.concurrency,
    quota: s.quota,
    paused_until: s.paused_until,
  };
}

/** One answer: the result plus where it came from and the provider's limits (`state`, default: the enricher's). */
export function describeResult(enricher: Enricher, r: LookupResult, now: number, state: ProviderState = enricher.state(r.provider)): DescribedAnswer {
  const kind = enricher.providers.find((x) => x.name === r.provider)?.kind ?? null;
  const common = { subject: `${r.subject.type}:${r.subject.value}`, provider: r.provider, kind, source: `${kind ?? '?'}/${r.provider}` };
  // The limits last: the answer is what a reader looks for first.
  if (isEnrichmentError(r)) return { ...common, result: r.result, error: r.error, state: providerLimits(state) };
  return {
    ...common,
    result: r.found ? 'found' : 'not_found',
    found: r.found,
    data: r.data,
    fetched_at: r.fetched_at,
    age_seconds: Math.max(0, Math.round((now - Date.parse(r.fetched_at)) / 1000)),
    cache: r.cache,
    state: providerLimits(state),
  };
}

/** Every answer of a lookup, with each provider's state read once (quota counts from the store). */
export async function describeResults(enricher: Enricher, results: readonly LookupResult[], store: Store | null, now: number): Promise<DescribedAnswer[]> {
  const names = [...new Set(results.map((r) => r.provider))];
  const states = new Map((await providerStates(enricher, names, store, now)).map((s) => [s.provider, s]));
  return results.map((r) => describeResult(enricher, r, now, states.get(r.provider)));
}

/** Every configured provider, in config order, with its state (quota counts from the store). */
export async function describeProviders(enricher: Enricher, store: Store | null, now: number): Promise<DescribedProvider[]> {
  const states = await providerStates(enricher, enricher.providers.map((p) => p.name), store, now);
  return states.map((s, i) => ({ ...s, subjects: [...enricher.providers[i]!.subjects] }));
}

async function providerStates(enricher: Enricher, names: readonly string[], store: Store | null, now: number): Promise<ProviderState[]> {
  const states = names.map((n) => enricher.state(n));
  const counted = states.filter((s) => s.quota?.length).map((s) => s.provider);
  if (!store || counted.length === 0) return states;
  const rows = await store.db.selectFrom('enrich_quota').select(['provider', 'period', 'start', 'used']).where('provider', 'in', counted).execute();
  const stored = new Map(rows.map((r) => [`${r.provider}\n${r.period}`, { start: Number(r.start), used: Number(r.used) }]));
  return states.map((s) => (s.quota ? { ...s, quota: s.quota.map((q) => sharedCount(q, stored.get(`${s.provider}\n${q.period}`), now)) } : s));
}

/** A period's state with the store's count, when the stored row is of the current period. */
function sharedCount(q: QuotaPeriodState, row: { start: number; used: number } | undefined, now: number): QuotaPeriodState {
  if (!row || row.start !== periodBounds(q.period, now).start) return q;
  const used = Math.max(q.used, row.used);
  return { ...q, used, remaining: Math.max(0, q.limit - used) };
}
