/**
 * The contract of an enrichment source. A provider answers questions about one subject (an IP, a host, a
 * user, a hash…); the shared layer (layer.ts) adds caching with TTL and negative caching, coalescing of
 * identical in-flight lookups, per-provider concurrency and rate limits, timeouts, a circuit breaker and
 * metrics, so a provider file contains only what is specific to its source. A provider never decides or
 * scores. Reference implementation: providers/netsegments.ts.
 */
import type { TSchema } from 'typebox';
import type { Component } from '../component/component.js';
import type { ObservableType } from '../model/observable.js';
import type { Store } from '../store/store.js';

export interface LookupSubject {
  type: ObservableType;
  value: string;
  /**
   * When the subject was seen (ms; the newest alert of the incident that carried it). Only `timed` providers
   * read it (address history: who held the address then); without it they answer for now.
   */
  at?: number;
}

/** Calls allowed per window; any may be left out. */
export interface ProviderQuota {
  per_minute?: number;
  per_hour?: number;
  per_day?: number;
  per_month?: number;
}

export interface ProviderAnswer {
  /** false is a negative answer ("not in inventory"), cached like a positive one. */
  found: boolean;
  data: Record<string, unknown>;
  /** Overrides the configured TTL for this answer. */
  ttlMs?: number;
}

export interface EnrichmentProvider {
  /** The configured name (unique). */
  readonly name: string;
  readonly kind: string;
  /** Subject types it can answer; others are never asked. */
  readonly subjects: readonly ObservableType[];
  /** Local providers (files, the store) skip the cache layer's shared table: they are their own cache. */
  readonly local: boolean;
  /**
   * Asks a service outside the organisation (threat intelligence, geography services). The layer never sends
   * such a provider a private or internal address, a host name, a user name or an internal domain, unless
   * the entry sets `share_internal: true`. The organisation's own services (directory, inventories) leave
   * it out.
   */
  readonly external?: boolean;
  /** Answers depend on the subject's time (`LookupSubject.at`): the layer caches and coalesces per time. */
  readonly timed?: boolean;
  /**
   * The service's documented default limits (a free tier's 4/min and 500/day), used when the entry sets no
   * `quota` of its own. The layer counts calls against them and skips or queues lookups beyond budget.
   */
  readonly quota?: ProviderQuota;
  /**
   * Answers from data held in memory (a parsed file) in microseconds, waiting on no I/O but the occasional
   * stat of its file. Unless its config sets a cache or limit key (ttl, negative_ttl, timeout, concurrency,
   * rate_per_second, rate_burst, max_wait, queue_wait, quota), the layer then calls it directly: no cache,
   * coalescing, timeout, slot or token, each of which would cost more than the lookup itself. The circuit
   * breaker and the metrics still apply, and every answer is fresh (`cache: 'miss'`).
   */
  readonly inMemory?: boolean;
  lookup(subject: LookupSubject, signal: AbortSignal): Promise<ProviderAnswer>;
  /**
   * Optional: answers many subjects in one go (one query for a whole batch instead of one per subject), in
   * the order of `subjects`, each answer exactly what `lookup` would say. The enrich stage uses it through
   * Enricher.lookupBatch; `lookup` still answers single subjects (`fido lookup`).
   */
  lookupMany?(subjects: readonly LookupSubject[], signal: AbortSignal): Promise<ProviderAnswer[]>;
  /**
   * Optional, for providers whose answers depend only on the subject and their data (a file): an identifier
   * of that data, the same in every process (a content hash), that changes whenever any answer may change.
   * The enrich stage keeps an incident's stored answer made at the current revision instead of asking again
   * each time an alert joins the incident. Leave it out when answers change otherwise (time, the store,
   * a remote service): such providers are asked every time (through the cache).
   */
  revision?(): Promise<string>;
  /**
   * Optional, for providers without a revision: how long (ms) an incident may keep an answer of this provider
   * before the enrich stage asks again. Without it, the provider is asked each time an alert joins the
   * incident. New incidents are always asked; this only spares an incident that grows by the second.
   */
  readonly reuseMs?: number;
  /**
   * Optional, for providers whose answers can count the incident that asks (history: "alerts for this host"
   * includes the incident's own): the answer as it stands without that incident, which is what the enrich stage
   * stores. Undefined: the answer never includes the asking incident.
   */
  withoutIncident?(answer: ProviderAnswer, incidentId: string): ProviderAnswer;
  close?(): Promise<void>;
}

export interface ProviderDeps {
  store: Store;
  /** Directory of the config file: relative paths in provider settings resolve against it. */
  configDir: string;
  now: () => number;
}

/**
 * An enrichment provider kind: one file in enrich/providers/ that default-exports `defineProvider({…})`
 * (component.ts). Reference: providers/netsegments.ts.
 */
export interface ProviderComponent<S extends TSchema = TSchema> extends Component<S, ProviderDeps, EnrichmentProvider> {
  /**
   * Answers from this machine only (its files, Fido's store), never from a service: such providers may be
   * asked about made-up subjects, as the pipeline's warm-up does (pipeline/warm-up.ts). Leave it out for
   * anything that asks over the network.
   */
  readonly local?: true;
}

/** Declares a provider kind; its `create` gets the entry typed by its schema. */
export function defineProvider<S extends TSchema>(component: ProviderComponent<S>): ProviderComponent<S> {
  return component;
}
