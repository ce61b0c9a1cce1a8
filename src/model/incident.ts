import type { ObservableType } from './observable.js';
import type { Score } from './score.js';
import type { Decision } from './decision.js';

export const INCIDENT_STATUSES = ['new', 'triaged', 'contained', 'closed'] as const;
export type IncidentStatus = (typeof INCIDENT_STATUSES)[number];

export const VERDICTS = ['true_positive', 'false_positive', 'benign'] as const;
export type Verdict = (typeof VERDICTS)[number];

export interface TimelineEntry {
  at: string;
  /** `updated`: an analyst changed assignee, tags or severity; `note`: a note was added; `merged`: incidents were merged. */
  kind: 'alert' | 'repeat' | 'enriched' | 'scored' | 'decided' | 'action' | 'verdict' | 'status' | 'updated' | 'note' | 'merged';
  summary: string;
  alert_id?: string;
  action_id?: string;
}

export interface Incident {
  id: string;
  title: string;
  status: IncidentStatus;
  verdict: Verdict | null;
  first_seen: string;
  last_seen: string;
  alert_count: number;
  host: string | null;
  user: string | null;
  score: Score | null;
  decision: Decision | null;
  /** Who works on it (issue 18); absent in documents written before. */
  assignee?: string | null;
  /** A severity (0–100) an analyst set over the computed one. */
  severity_override?: number | null;
  /** The incident it was merged into (it is then closed). */
  merged_into?: string | null;
  /** When it last changed: what PATCH /incidents/{id} takes as If-Match. */
  updated_at?: string;
  /** Its tags, sorted, where the reader loads them (the workflow routes, the list and the detail do). */
  tags?: string[];
  /** The detectors and sources of its alerts, sorted, where the reader loads them (the list and the detail). */
  detectors?: string[];
  sources?: string[];
}

/** An analyst's note on an incident: the body as written (clients show it escaped, never as HTML). */
export interface IncidentNote {
  id: string;
  incident_id: string;
  author: string;
  body: string;
  created_at: string;
}

import type { Alert } from './alert.js';
import type { Enrichment } from './enrichment.js';
import type { ActionRecord } from './action.js';
import type { IncidentAsset } from './asset.js';

/** correlate/digest.ts keeps it: what every alert of an incident contributes to rules and score, bounded. */
export interface DigestRule {
  source: string;
  detector: string;
  rule_id: string | null;
  rule_name: string | null;
  /** For alerts without a rule id or name: their title tells the rules apart. */
  title: string | null;
  /** Its alerts in the incident (repeats of one alert count once). */
  alerts: number;
  /** The highest severity among them. */
  severity: number;
  /** The alert that stands for the rule: its most severe, the newest among equals. */
  alert: string;
}

export interface IncidentDigest {
  rules: DigestRule[];
  /** Distinct rules beyond DIGEST_MAX_RULES. */
  more_rules: number;
  sources: string[];
  detectors: string[];
  /** Ids of the newest alerts by arrival, oldest first. */
  recent: string[];
}

/** The shape of GET /incidents/{id}; also what `fido score` reads and what actions render. */
export interface IncidentDetail extends Incident {
  /**
   * What every alert contributes (distinct rules with their counts and most severe alert, sources,
   * detectors, the newest alerts); `alerts` may hold only some of them.
   */
  digest?: IncidentDigest;
  alerts: Alert[];
  /** Every indicator of its alerts, newest first (bounded), when the reader asked for them. */
  indicators?: Array<{ type: ObservableType; value: string }>;
  enrichment: Array<Enrichment | (Omit<Enrichment, 'data' | 'found' | 'cache'> & { error: string })>;
  /**
   * Each machine the inventories' answers describe, their answers merged: every value with the provider that
   * gave it, disagreements listed (enrich/assets.ts). In the detail people read (GET /incidents/{id}), when
   * the inventories know at least one of its machines.
   */
  assets?: IncidentAsset[];
  decisions: Decision[];
  actions: ActionRecord[];
  timeline: TimelineEntry[];
  /** Every scoring of the incident, oldest first (bounded), where the reader loads it (GET /incidents/{id}). */
  score_history?: Array<{ at: string; total: number }>;
}
