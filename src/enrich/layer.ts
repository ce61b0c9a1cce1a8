/**
 * The shared layer every enrichment provider plugs into (see provider.ts for the provider contract).
 *
 * A lookup goes: hot cache (in-process LRU) → coalescing (one call per provider+subject in flight) → warm
 * cache (the `enrich_cache` table, shared by every Fido process; skipped for `local` providers, which are
 * their own cache) → circuit breaker → concurrency slot → rate-limit token → the provider, under a timeout.
 * Waiting is bounded: for a slot by `queue_wait`, for a token by `max_wait`; a lookup that would wait longer
 * reports `ratelimited` (at once, when the token bucket already shows it) rather than queueing without end.
 * Positive answers are cached for `ttl`, negative ones for `negative_ttl`; failures are never cached, they
 * count towards the breaker instead.
 *
 * In-memory providers (`inMemory`, e.g. a parsed inventory file) answer in microseconds, less than any of
 * the above costs, so unless their config sets a cache or limit key they are called directly: only the
 * breaker and the metrics apply. lookupBatch() serves the enrich stage: every provider+subject of a batch of
 * incidents once, and one call per provider that answers many subjects at once (`lookupMany`).
 *
 * Every lookup returns an Enrichment or an EnrichmentError (never throws), and counts once in
 * `fido_enrich_lookups_total{provider,result}`.
 */
import { createHash } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import { LRUCache } from 'lru-cache';
import type { Enrichment, EnrichmentError } from '../model/enrichment.js';
import type { ObservableType } from '../model/observable.js';
import type { Store } from '../store/store.js';
import type { EnrichmentProvider, LookupSubject, ProviderAnswer } from './provider.js';
import { enrichLookups } from '../metrics.js';
import { iso } from '../util/time.js';
import { errorContext, log } from '../util/log.js';
import { pow2ChunksOf } from '../util/chunks.js';
import { resolveSettings, type ProviderSettings, type ProviderSettingsConfig } from './settings.js';
import { Breaker, Slots, TokenBucket, systemClock, type BreakerState, type Clock } from './limits.js';
import { Quota, quotaRefusalText, type LookupPriority, type QuotaPeriodState } from './quota.js';
import { withheldReason } from './privacy.js';
import { enrichQuotaRemaining } from '../metrics.js';


// ---------------------------------------------------------------------------------------------------------
// The enricher

export type LookupResult = Enrichment | EnrichmentError;

export function isEnrichmentError(r: LookupResult): r is EnrichmentError {
  return 'error' in r;
}

/** The `timeout` results lookupBatch made for lookups still running at its `within` (they go on). */
const lateResults = new WeakSet<object>();
/** Whether this result stands for a lookup still running when its batch handed on (BatchOptions.within). */
export const isLate = (r: LookupResult): boolean => lateResults.has(r);

export interface ProviderState {
  provider: string;
  kind: string;
  local: boolean;
  breaker: BreakerState;
  consecutive_failures: number;
  /** When an open circuit lets the next trial call through. */
  retry_at: string | null;
  in_flight: number;
  waiting: number;
  concurrency: number;
  rate_per_second: number | null;
  /** Tokens left in the bucket (negative: reserved by waiting lookups); null without a rate limit. */
  tokens: number | null;
  ttl_ms: number;
  negative_ttl_ms: number;
  /** Each period's budget and use; null without a quota. */
  quota: QuotaPeriodState[] | null;
  /** After a 429: no call before this time. */
  paused_until: string | null;
  /** External providers: whether internal subjects are shared with it (share_internal). */
  external: boolean;
  share_internal: boolean;
}

/** How much a lookup matters when a quota runs short: high-priority lookups may use the reserve. */
export interface LookupOptions {
  priority?: LookupPriority;
}

export interface BatchOptions {
  /** Each list's priority for quotas (default normal); a subject several lists ask about goes with the highest. */
  priorities?: readonly LookupPriority[];
  /**
   * How long the batch waits for the answers of services (ms; local providers are always waited for, on
   * their own timeout). A lookup still running then is reported as a `timeout` that
   * says so, and goes on: its answer lands in the cache, and `onLate` is told of each list once that list's
   * late lookups have settled (the enrich stage asks again for those incidents, and gets a cache hit). So
   * one slow service delays only the incidents that asked it, by at most this budget. Default: wait for all.
   */
  within?: number;
  onLate?: (lists: readonly number[]) => void;
}

export interface Enricher {
  readonly providers: readonly EnrichmentProvider[];
  /** The providers that answer subjects of this type. */
  providersFor(type: ObservableType): EnrichmentProvider[];
  /** Never throws: failures come back as an EnrichmentError. */
  lookup(provider: string, subject: LookupSubject, opts?: LookupOptions): Promise<LookupResult>;
  /**
   * For each list of subjects, every answer of every provider that answers its type, in subject order, then
   * provider order (what a lookup() per subject and provider gives). Made for a batch of incidents: a
   * provider+subject asked in several lists is looked up once (the repeats count as coalesced), and a
   * provider with `lookupMany` gets one call for the whole batch. `skip` leaves out the pairs the caller
   * already has a current answer for (they are neither asked nor in the result); so are subjects an external
   * provider may not be told (privacy.ts). See BatchOptions for priorities and the answer budget. Never throws.
   */
  lookupBatch(lists: ReadonlyArray<readonly LookupSubject[]>, skip?: SkipLookup, opts?: BatchOptions): Promise<LookupResult[][]>;
  state(provider: string): ProviderState;
  settings(provider: string): ProviderSettings;
  /** Deletes expired rows of the shared cache table; returns how many. */
  pruneSharedCache(): Promise<number>;
  /** Aborts lookups in flight and closes the providers. */
  close(): Promise<void>;
}

/** For lookupBatch: true for a (list, provider, subject) the caller need not ask about. */
export type SkipLookup = (list: number, provider: EnrichmentProvider, subject: LookupSubject) => boolean;

export interface EnricherOptions {
  providers: readonly EnrichmentProvider[];
  /** Holds the shared warm cache (`enrich_cache`); without it only the in-process cache is used. */
  store?: Store | null;
  /** Per provider name: its config entry (or just the common keys); missing names get the defaults. */
  settings?: Readonly<Record<string, ProviderSettingsConfig | undefined>>;
  clock?: Clock;
  /** Entries of the in-process LRU, across providers. */
  hotEntries?: number;
  /** The organisation's own domains (`enrichment.internal_domains`): never sent to external providers. */
  internalDomains?: readonly string[];
}

interface CacheEntry {
  found: boolean;
  data: Record<string, unknown>;
  fetchedAt: number;
  expiresAt: number;
}

interface Runtime {
  provider: EnrichmentProvider;
  settings: ProviderSettings;
  /** Called straight away, without cache, coalescing, slot, token or timeout (see EnrichmentProvider.inMemory). */
  direct: boolean;
  slots: Slots;
  bucket: TokenBucket | null;
  breaker: Breaker;
  quota: Quota | null;
  /** After a 429 from the service: no call before this time (ms). */
  pausedUntil: number;
  /** Why a subject is not sent to this provider, or null; null function for providers told everything. */
  withheld: ((s: LookupSubject) => string | null) | null;
}

/** One provider+subject of a lookup, with its cache keys. */
interface Ask {
  p: Runtime;
  subject: LookupSubject;
  /** Key of the shared table. */
  key: string;
  /** Key of the in-process cache and of coalescing: provider and subject. */
  lruKey: string;
  priority: LookupPriority;
}

/** Why a guarded call has no value. */
type Refusal = { ok: false; result: EnrichmentError['result']; error: string };
/** What a guarded call came to: the provider's value, or why there is none. */
type Outcome<T> = { ok: true; value: T } | Refusal;

const PRUNE_EVERY_MS = 10 * 60_000;
const MAX_KEY = 512;
const WARM_CHUNK = 400;
/** Settings that ask for the cache or the limits: an in-memory provider with any of them is not called directly. */
const LAYER_KEYS = ['ttl', 'negative_ttl', 'timeout', 'concurrency', 'rate_per_second', 'rate_burst', 'max_wait', 'queue_wait', 'quota'] as const;

/** Cache key of a subject; very long values (URLs) are hashed to keep the table's primary key small. */
export function subjectKey(s: LookupSubject): string {
  const key = `${s.type}:${s.value}`;
  return key.length <= MAX_KEY ? key : `${s.type}:sha256:${createHash('sha256').update(s.value).digest('hex')}`;
}

/** A provider's service said "too many requests" (remote.ts RemoteError with reason 'ratelimited'). */
function isRateLimited(e: unknown): e is { message: string; retryAfterMs?: number } {
  return typeof e === 'object' && e !== null && (e as { reason?: unknown }).reason === 'ratelimited';
}
/** How long a provider rests after a 429 that gave no Retry-After. */
const DEFAULT_PAUSE_MS = 60_000;

class TimeoutError extends Error {}
class ClosedError extends Error {}
/** Reason for aborting a timer that is no longer needed (a constant: an abort without one builds a DOMException). */
const DONE = Object.freeze({ done: true });

export function createEnricher(opts: EnricherOptions): Enricher {
  const clock = opts.clock ?? systemClock;
  const store = opts.store ?? null;
  const runtimes = new Map<string, Runtime>();
  const internalDomains = opts.internalDomains ?? [];
  for (const p of opts.providers) {
    if (runtimes.has(p.name)) throw new Error(`enrichment provider "${p.name}" is declared twice`);
    const cfg = opts.settings?.[p.name];
    const s = resolveSettings(cfg, p.local);
    const quota = new Quota(p.name, s.quota ?? p.quota ?? {}, s.quotaReserve, store);
    runtimes.set(p.name, {
      quota: quota.empty ? null : quota,
      pausedUntil: 0,
      withheld: p.external && !s.shareInternal ? (subject) => withheldReason(subject, internalDomains) : null,
      provider: p,
      settings: s,
      direct: p.inMemory === true && !LAYER_KEYS.some((k) => cfg?.[k] !== undefined),
      slots: new Slots(s.concurrency),
      bucket: s.ratePerSecond ? new TokenBucket(s.ratePerSecond, s.rateBurst, clock.now()) : null,
      breaker: new Breaker(s.breakerFailures, s.breakerCooldownMs),
    });
  }
  const byType = new Map<ObservableType, Runtime[]>();
  const runtimesFor = (type: ObservableType): Runtime[] => {
    let list = byType.get(type);
    if (!list) byType.set(type, (list = [...runtimes.values()].filter((r) => r.provider.subjects.includes(type))));
    return list;
  };
  const hot = new LRUCache<string, CacheEntry>({ max: opts.hotEntries ?? 20_000 });
  const inflight = new Map<string, Promise<LookupResult>>();
  /** Controllers of provider calls in flight; close() aborts them. */
  const calls = new Set<AbortController>();
  const closing = new AbortController();
  // Direct calls get this signal, and in-memory providers may listen on it: many at once are normal, not a leak.
  setMaxListeners(0, closing.signal);
  let lastPrune = clock.now();
  // Answers fetched in the same millisecond share their timestamp text.
  let isoMs = NaN;
  let isoText = '';
  const isoOf = (ms: number) => (ms === isoMs ? isoText : ((isoMs = ms), (isoText = iso(ms))));

  const runtime = (name: string): Runtime => {
    const r = runtimes.get(name);
    if (!r) throw new Error(`unknown enrichment provider "${name}"`);
    return r;
  };

  function count(provider: string, r: LookupResult): void {
    enrichLookups.inc({ provider, result: resultLabel(r) });
  }

  function failure(p: Runtime, subject: LookupSubject, result: EnrichmentError['result'], error: string): EnrichmentError {
    return { provider: p.provider.name, subject: { type: subject.type, value: subject.value }, error, result };
  }

  function answer(p: Runtime, subject: LookupSubject, e: CacheEntry, cache: Enrichment['cache']): Enrichment {
    return {
      provider: p.provider.name,
      subject: { type: subject.type, value: subject.value },
      data: e.data,
      found: e.found,
      fetched_at: isoOf(e.fetchedAt),
      cache,
    };
  }

  /** A second asker's copy of a shared result. */
  function coalesced(r: LookupResult): LookupResult {
    if (isEnrichmentError(r)) {
      const copy = { ...r, subject: { ...r.subject } };
      if (lateResults.has(r)) lateResults.add(copy);
      return copy;
    }
    return { ...r, cache: r.cache === 'hit' ? 'hit' : 'coalesced' };
  }

  function hotGet(lruKey: string): CacheEntry | undefined {
    const e = hot.get(lruKey);
    if (e && e.expiresAt <= clock.now()) {
      hot.delete(lruKey);
      return undefined;
    }
    return e;
  }

  /** Live rows of the shared table for these keys (none for local providers). */
  async function warmGet(p: Runtime, keys: readonly string[]): Promise<Map<string, CacheEntry>> {
    const found = new Map<string, CacheEntry>();
    if (!store || p.provider.local) return found;
    try {
      for (const chunk of pow2ChunksOf(keys, WARM_CHUNK)) {
        const rows = await store.db
          .selectFrom('enrich_cache')
          .select(['key', 'found', 'data', 'fetched_at', 'expires_at'])
          .where('provider', '=', p.provider.name)
          .where('key', 'in', chunk)
          .where('expires_at', '>', clock.now())
          .execute();
        for (const row of rows) {
          found.set(row.key, { found: row.found === 1, data: JSON.parse(row.data) as Record<string, unknown>, fetchedAt: row.fetched_at, expiresAt: row.expires_at });
        }
      }
    } catch (e) {
      // The shared cache is an optimisation: a broken read must not fail the lookup.
      log.warn({ provider: p.provider.name, err: errorContext(e) }, 'enrich cache read failed');
    }
    return found;
  }

  async function warmPut(p: Runtime, key: string, e: CacheEntry): Promise<void> {
    if (!store || p.provider.local) return;
    const row = { found: e.found ? 1 : 0, data: JSON.stringify(e.data), fetched_at: e.fetchedAt, expires_at: e.expiresAt };
    try {
      await store.db
        .insertInto('enrich_cache')
        .values({ provider: p.provider.name, key, ...row })
        .onConflict((oc) => oc.columns(['provider', 'key']).doUpdateSet(row))
        .execute();
    } catch (err) {
      log.warn({ provider: p.provider.name, err: errorContext(err) }, 'enrich cache write failed');
    }
    if (clock.now() - lastPrune >= PRUNE_EVERY_MS) {
      lastPrune = clock.now();
      pruneSharedCache().catch((err: unknown) => log.warn({ err: errorContext(err) }, 'enrich: expired cache entries not pruned; retried later'));
    }
  }

  async function pruneSharedCache(): Promise<number> {
    if (!store) return 0;
    const r = await store.db.deleteFrom('enrich_cache').where('expires_at', '<=', clock.now()).executeTakeFirst();
    return Number(r.numDeletedRows);
  }

  /** A fresh answer: cached for its TTL (hot, and warm unless local), returned as a miss. */
  async function keep(p: Runtime, ask: Ask, a: ProviderAnswer): Promise<Enrichment> {
    const fetchedAt = clock.now();
    const ttl = a.ttlMs ?? (a.found ? p.settings.ttlMs : p.settings.negativeTtlMs);
    const entry: CacheEntry = { found: a.found, data: a.data, fetchedAt, expiresAt: fetchedAt + ttl };
    if (ttl > 0) {
      hot.set(ask.lruKey, entry);
      await warmPut(p, ask.key, entry);
    }
    return answer(p, ask.subject, entry, 'miss');
  }

  /** A call to the provider past the breaker, a concurrency slot and a rate-limit token, under the timeout. */
  async function guarded<T>(p: Runtime, priority: LookupPriority, run: (signal: AbortSignal) => Promise<T>): Promise<Outcome<T>> {
    const s = p.settings;
    if (p.breaker.state(clock.now()) === 'open') return openCircuit(p, clock.now());
    if (p.pausedUntil > clock.now()) return paused(p);
    if (!(await p.slots.acquire(clock, s.queueWaitMs))) {
      return { ok: false, result: 'ratelimited', error: `concurrency limit of ${s.concurrency} still busy after ${s.queueWaitMs}ms` };
    }
    try {
      if (p.bucket) {
        const wait = p.bucket.reserve(clock.now(), s.maxWaitMs);
        if (wait === null) return { ok: false, result: 'ratelimited', error: `over the rate limit of ${s.ratePerSecond}/s` };
        if (wait > 0) await clock.sleep(wait, closing.signal);
      }
      if (p.quota) {
        const refused = await takeQuota(p, priority);
        if (refused) return refused;
      }
      if (closing.signal.aborted) return { ok: false, result: 'error', error: 'enricher closed' };
      if (!p.breaker.admit(clock.now())) return openCircuit(p, clock.now());
      return await timed(p, run);
    } finally {
      p.slots.release();
    }
  }

  /**
   * One call from the provider's quota. A spent minute is waited for within `max_wait` (the next minute brings
   * a new budget); a spent hour, day or month, or the reserve of a normal lookup, is not.
   */
  async function takeQuota(p: Runtime, priority: LookupPriority): Promise<Refusal | null> {
    const quota = p.quota!;
    let refused = await quota.take(priority, clock.now());
    if (refused?.period === 'minute' && refused.resetsAt - clock.now() <= p.settings.maxWaitMs) {
      await clock.sleep(refused.resetsAt - clock.now(), closing.signal);
      refused = await quota.take(priority, clock.now());
    }
    for (const q of quota.state(clock.now())) enrichQuotaRemaining.set({ provider: p.provider.name, period: q.period }, q.remaining);
    return refused ? { ok: false, result: 'ratelimited', error: quotaRefusalText(refused) } : null;
  }

  function paused(p: Runtime): Refusal {
    return { ok: false, result: 'ratelimited', error: `the service asked for a pause (429); next try after ${iso(p.pausedUntil)}` };
  }

  function openCircuit(p: Runtime, now: number): Refusal {
    const retry = (p.breaker.openedAt ?? now) + p.breaker.cooldownMs;
    return { ok: false, result: 'open_circuit', error: `circuit open after ${p.breaker.failures} consecutive failures; next try after ${iso(retry)}` };
  }

  /** Runs the call with a signal that aborts on the timeout or on close(); the outcome feeds the breaker. */
  async function timed<T>(p: Runtime, run: (signal: AbortSignal) => Promise<T>): Promise<Outcome<T>> {
    const s = p.settings;
    const ac = new AbortController();
    calls.add(ac);
    const timer = new AbortController();
    void clock.sleep(s.timeoutMs, timer.signal).then(() => {
      if (!timer.signal.aborted) ac.abort(new TimeoutError(`no answer within ${s.timeoutMs}ms`));
    });
    // A provider that ignores its signal must not hold the lookup past the timeout: race the abort.
    const aborted = new Promise<never>((_, reject) => ac.signal.addEventListener('abort', () => reject(ac.signal.reason as Error), { once: true }));
    try {
      const value = await Promise.race([run(ac.signal), aborted]);
      p.breaker.success();
      return { ok: true, value };
    } catch (e) {
      const reason = ac.signal.aborted ? (ac.signal.reason as unknown) : e;
      if (reason instanceof ClosedError) {
        p.breaker.neutral();
        return { ok: false, result: 'error', error: 'enricher closed' };
      }
      if (isRateLimited(reason)) {
        // The service is healthy and asks for less: rest until it says, without counting towards the breaker.
        p.breaker.neutral();
        p.pausedUntil = Math.max(p.pausedUntil, clock.now() + (reason.retryAfterMs ?? DEFAULT_PAUSE_MS));
        return { ok: false, result: 'ratelimited', error: `${errorText(reason)}; paused until ${iso(p.pausedUntil)}` };
      }
      p.breaker.failure(clock.now());
      if (reason instanceof TimeoutError) return { ok: false, result: 'timeout', error: reason.message };
      return { ok: false, result: 'error', error: errorText(e) };
    } finally {
      timer.abort(DONE);
      calls.delete(ac);
    }
  }

  /** The part of a lookup that coalesced callers share: warm cache, limits, the call. */
  async function fetchThrough(ask: Ask): Promise<LookupResult> {
    const { p, subject } = ask;
    const warm = (await warmGet(p, [ask.key])).get(ask.key);
    if (warm) {
      hot.set(ask.lruKey, warm);
      return answer(p, subject, warm, 'hit');
    }
    const r = await guarded(p, ask.priority, async (signal) => checkAnswer(await p.provider.lookup(subject, signal)));
    return r.ok ? keep(p, ask, r.value) : failure(p, subject, r.result, r.error);
  }

  /** Like fetchThrough for many subjects of one provider with `lookupMany`: one guarded call for all. */
  async function fetchManyThrough(p: Runtime, asks: readonly Ask[]): Promise<LookupResult[]> {
    const out: LookupResult[] = new Array<LookupResult>(asks.length);
    const warm = await warmGet(p, asks.map((a) => a.key));
    const todo: Ask[] = [];
    const at: number[] = [];
    asks.forEach((a, i) => {
      const w = warm.get(a.key);
      if (w) {
        hot.set(a.lruKey, w);
        out[i] = answer(p, a.subject, w, 'hit');
      } else {
        todo.push(a);
        at.push(i);
      }
    });
    if (todo.length === 0) return out;
    const priority = todo.some((a) => a.priority === 'high') ? 'high' : 'normal';
    const r = await guarded(p, priority, async (signal) => {
      const answers = await p.provider.lookupMany!(todo.map((a) => a.subject), signal);
      if (!Array.isArray(answers) || answers.length !== todo.length) throw new Error('provider returned a malformed answer');
      return answers.map(checkAnswer);
    });
    for (let j = 0; j < todo.length; j++) {
      const a = todo[j]!;
      out[at[j]!] = r.ok ? await keep(p, a, r.value[j]!) : failure(p, a.subject, r.result, r.error);
    }
    return out;
  }

  /** An in-memory provider, called straight away (see EnrichmentProvider.inMemory). */
  async function callDirect(p: Runtime, subject: LookupSubject): Promise<LookupResult> {
    if (closing.signal.aborted) return failure(p, subject, 'error', 'enricher closed');
    if (!p.breaker.admit(clock.now())) {
      const refused = openCircuit(p, clock.now());
      return failure(p, subject, refused.result, refused.error);
    }
    let a: ProviderAnswer;
    try {
      a = checkAnswer(await p.provider.lookup(subject, closing.signal));
    } catch (e) {
      p.breaker.failure(clock.now());
      return failure(p, subject, 'error', errorText(e));
    }
    p.breaker.success();
    return answer(p, subject, { found: a.found, data: a.data, fetchedAt: clock.now(), expiresAt: 0 }, 'miss');
  }

  /** One provider+subject: hot cache → coalescing → fetchThrough; or the direct call. Not counted here. */
  function resolveOne(ask: Ask): Promise<LookupResult> {
    if (ask.p.direct) return callDirect(ask.p, ask.subject);
    const cached = hotGet(ask.lruKey);
    if (cached) return Promise.resolve(answer(ask.p, ask.subject, cached, 'hit'));
    const flying = inflight.get(ask.lruKey);
    if (flying) return flying.then(coalesced);
    return fly(ask.lruKey, fetchThrough(ask).catch((e: unknown) => failure(ask.p, ask.subject, 'error', errorText(e))));
  }

  /** Registers a lookup in flight so that identical ones join it, until it settles. */
  function fly(lruKey: string, flight: Promise<LookupResult>): Promise<LookupResult> {
    const shared = flight.finally(() => {
      if (inflight.get(lruKey) === shared) inflight.delete(lruKey);
    });
    inflight.set(lruKey, shared);
    return shared;
  }

  /** Many subjects of one provider with `lookupMany`: cached ones and ones in flight first, then one call. */
  function resolveMany(p: Runtime, asks: readonly Ask[]): Array<Promise<LookupResult>> {
    const out: Array<Promise<LookupResult>> = new Array<Promise<LookupResult>>(asks.length);
    const todo: Ask[] = [];
    const at: number[] = [];
    asks.forEach((a, i) => {
      const cached = hotGet(a.lruKey);
      const flying = cached ? undefined : inflight.get(a.lruKey);
      if (cached) out[i] = Promise.resolve(answer(p, a.subject, cached, 'hit'));
      else if (flying) out[i] = flying.then(coalesced);
      else {
        todo.push(a);
        at.push(i);
      }
    });
    if (todo.length > 0) {
      const all = fetchManyThrough(p, todo).catch((e: unknown) => todo.map((a) => failure(p, a.subject, 'error', errorText(e))));
      todo.forEach((a, j) => (out[at[j]!] = fly(a.lruKey, all.then((rs) => rs[j]!))));
    }
    return out;
  }

  function askOf(p: Runtime, subject: LookupSubject, priority: LookupPriority = 'normal'): Ask {
    // A timed provider's answer holds for one moment: the time is part of its keys; others ignore it.
    const key = p.provider.timed && subject.at !== undefined ? `${subjectKey(subject)}@${subject.at}` : subjectKey(subject);
    return { p, subject, key, lruKey: `${p.provider.name}\u0000${key}`, priority };
  }

  async function lookup(name: string, subject: LookupSubject, opts: LookupOptions = {}): Promise<LookupResult> {
    const p = runtime(name);
    if (!p.provider.subjects.includes(subject.type)) {
      return failure(p, subject, 'error', `${p.provider.kind} provider does not answer ${subject.type} subjects`);
    }
    const withheld = p.withheld?.(subject);
    if (withheld) return failure(p, subject, 'error', `not sent to an external provider: ${withheld} (share_internal: true allows it)`);
    const r = await resolveOne(askOf(p, subject, opts.priority));
    count(name, r);
    return r;
  }

  async function lookupBatch(lists: ReadonlyArray<readonly LookupSubject[]>, skip?: SkipLookup, opts: BatchOptions = {}): Promise<LookupResult[][]> {
    const priorities = opts.priorities;
    // Each provider+subject once, however many lists ask for it: `plan` holds indexes into `asks`.
    const asks: Ask[] = [];
    const index = new Map<string, number>();
    const plan = lists.map((subjects, list) => {
      const slots: number[] = [];
      for (const s of subjects) {
        for (const p of runtimesFor(s.type)) {
          if (skip?.(list, p.provider, s) || p.withheld?.(s)) continue;
          const ask = askOf(p, s, priorities?.[list]);
          let i = index.get(ask.lruKey);
          if (i === undefined) index.set(ask.lruKey, (i = asks.push(ask) - 1));
          else if (ask.priority === 'high') asks[i]!.priority = 'high';
          slots.push(i);
        }
      }
      return slots;
    });
    // Start them all before waiting for any, as concurrent lookup() calls would; a provider with lookupMany
    // gets one call for all its subjects.
    const pending: Array<Promise<LookupResult>> = new Array<Promise<LookupResult>>(asks.length);
    const many = new Map<Runtime, number[]>();
    asks.forEach((ask, i) => {
      if (ask.p.provider.lookupMany && !ask.p.direct) {
        const list = many.get(ask.p);
        if (list) list.push(i);
        else many.set(ask.p, [i]);
      } else pending[i] = resolveOne(ask);
    });
    for (const [p, at] of many) resolveMany(p, at.map((i) => asks[i]!)).forEach((r, j) => (pending[at[j]!] = r));
    const results = opts.within === undefined ? await Promise.all(pending) : await withinBudget(asks, plan, pending, opts.within, opts.onLate);
    const answered = new Uint8Array(asks.length);
    const counts = new Map<string, { provider: string; result: string; n: number }>();
    const out = plan.map((slots) =>
      slots.map((i) => {
        const r = answered[i] ? coalesced(results[i]!) : results[i]!;
        answered[i] = 1;
        const labels = { provider: asks[i]!.p.provider.name, result: resultLabel(r) };
        const k = `${labels.provider}\u0000${labels.result}`;
        const c = counts.get(k);
        if (c) c.n++;
        else counts.set(k, { ...labels, n: 1 });
        return r;
      }),
    );
    for (const { provider, result, n } of counts.values()) enrichLookups.inc({ provider, result }, n);
    return out;
  }

  /** The batch's results as they stand after `within` ms; lookups still running go on (BatchOptions.within). */
  async function withinBudget(
    asks: readonly Ask[],
    plan: ReadonlyArray<readonly number[]>,
    pending: ReadonlyArray<Promise<LookupResult>>,
    within: number,
    onLate: BatchOptions['onLate'],
  ): Promise<LookupResult[]> {
    const settled = new Array<LookupResult | undefined>(pending.length).fill(undefined);
    pending.forEach((p, i) => void p.then((r) => (settled[i] = r)));
    // Local providers (files, the store) answer on their own timeout and are never left behind: a busy
    // machine making history take 60 ms must not send incidents round the queue. The budget is for services.
    await Promise.all(pending.filter((_, i) => asks[i]!.p.provider.local));
    const all = Promise.all(pending);
    const done = new AbortController();
    await Promise.race([all, clock.sleep(within, AbortSignal.any([closing.signal, done.signal]))]);
    done.abort(DONE);
    // Let answers that settled in the same turn as the timer count.
    await new Promise<void>((resolve) => setImmediate(resolve));
    const late = settled.flatMap((r, i) => (r === undefined ? [i] : []));
    if (late.length > 0 && onLate) {
      // Each list is told as soon as its own late lookups have settled: one that waited on a service that
      // answers in a second must not wait for another list's silent one.
      const lateSet = new Set(late);
      plan.forEach((slots, list) => {
        const mine = [...new Set(slots.filter((i) => lateSet.has(i)))];
        if (mine.length === 0) return;
        void Promise.allSettled(mine.map((i) => pending[i]!)).then(() => {
          if (!closing.signal.aborted) onLate([list]);
        });
      });
    }
    return settled.map((r, i) => {
      if (r) return r;
      const f = failure(asks[i]!.p, asks[i]!.subject, 'timeout', `no answer within the batch's ${within}ms; still asked, and the incident is enriched again when it answers`);
      lateResults.add(f);
      return f;
    });
  }

  function state(name: string): ProviderState {
    const p = runtime(name);
    const now = clock.now();
    const b = p.breaker.state(now);
    return {
      provider: name,
      kind: p.provider.kind,
      local: p.provider.local,
      breaker: b,
      consecutive_failures: p.breaker.failures,
      retry_at: b === 'closed' || p.breaker.openedAt === null ? null : iso(p.breaker.openedAt + p.breaker.cooldownMs),
      in_flight: p.slots.inUse,
      waiting: p.slots.waiting,
      concurrency: p.settings.concurrency,
      rate_per_second: p.settings.ratePerSecond,
      tokens: p.bucket ? Math.round(p.bucket.available(now) * 100) / 100 : null,
      ttl_ms: p.settings.ttlMs,
      negative_ttl_ms: p.settings.negativeTtlMs,
      quota: p.quota ? p.quota.state(now) : null,
      paused_until: p.pausedUntil > now ? iso(p.pausedUntil) : null,
      external: p.provider.external === true,
      share_internal: p.settings.shareInternal,
    };
  }

  return {
    providers: opts.providers,
    providersFor: (type) => runtimesFor(type).map((r) => r.provider),
    lookup,
    lookupBatch,
    state,
    settings: (name) => ({ ...runtime(name).settings }),
    pruneSharedCache,
    async close() {
      closing.abort();
      for (const ac of calls) ac.abort(new ClosedError('enricher closed'));
      await Promise.allSettled([...inflight.values()]);
      for (const p of opts.providers) {
        try {
          await p.close?.();
        } catch (e) {
          log.warn({ provider: p.name, err: errorText(e) }, 'provider close failed');
        }
      }
    },
  };
}

/** The `result` label a lookup counts under. */
function resultLabel(r: LookupResult): string {
  return isEnrichmentError(r) ? (r.result === 'ratelimited' ? 'ratelimited' : 'error') : r.cache;
}

function checkAnswer(a: ProviderAnswer): ProviderAnswer {
  if (!a || typeof a.found !== 'boolean' || typeof a.data !== 'object' || a.data === null) {
    throw new Error('provider returned a malformed answer');
  }
  return a;
}

function errorText(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  return msg.slice(0, 500) || 'unknown error';
}
