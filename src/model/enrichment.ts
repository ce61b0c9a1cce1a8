import type { ObservableType } from './observable.js';

/** What one provider said about one subject (an observable, a host or a user). */
export interface Enrichment {
  provider: string;
  subject: { type: ObservableType; value: string };
  /** Provider-specific facts, e.g. { zone: "dmz", criticality: "high" } or { verdict: "malicious", list: "abuse.ch" }. */
  data: Record<string, unknown>;
  /** null when the provider knows nothing (a negative answer, cached like a positive one). */
  found: boolean;
  fetched_at: string;
  cache: 'hit' | 'miss' | 'coalesced';
}

/** A provider that failed or was rate limited contributes an error instead of data. */
export interface EnrichmentError {
  provider: string;
  subject: { type: ObservableType; value: string };
  error: string;
  result: 'error' | 'ratelimited' | 'timeout' | 'open_circuit';
}
