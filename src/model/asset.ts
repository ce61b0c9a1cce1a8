/**
 * What the inventories say about an incident's machines, merged (enrich/assets.ts merges them): each value with
 * the answer it came from, disagreements listed.
 */
import type { ObservableType } from './observable.js';

export const CRITICALITIES = ['low', 'medium', 'high', 'critical'] as const;
export type Criticality = (typeof CRITICALITIES)[number];

/** A value and the answer it came from. */
export interface SourcedValue<T extends string = string> {
  value: T;
  source: string;
  fetched_at: string;
  last_seen: string | null;
}

/** An item of a merged list (an IP, a MAC, a tag) and every provider that listed it, best first. */
export interface SourcedItem {
  value: string;
  sources: string[];
}

export interface AssetConflict {
  /** owner, os, criticality, host, or attributes.<name>. */
  field: string;
  /** Every provider's value, best first (the first is the one chosen). */
  values: Array<{ value: string; source: string }>;
}

export interface AnswerRef {
  provider: string;
  fetched_at: string;
  last_seen: string | null;
}

export interface MergedAsset {
  host: SourcedValue | null;
  owner: SourcedValue | null;
  os: SourcedValue | null;
  criticality: SourcedValue<Criticality> | null;
  ips: SourcedItem[];
  macs: SourcedItem[];
  tags: SourcedItem[];
  attributes: Record<string, SourcedValue>;
  /** The answers merged, best first. */
  sources: AnswerRef[];
  /** Answers left out as older than max_age. */
  stale: AnswerRef[];
  conflicts: AssetConflict[];
}


/** The merged asset of one machine of an incident. */
export interface IncidentAsset extends MergedAsset {
  /** What the incident calls the machine: the host subject it asked about, else the inventories' name. */
  name: string;
  /** The subjects whose answers were merged (the host, and the addresses that resolved to it). */
  subjects: Array<{ type: ObservableType; value: string }>;
}
