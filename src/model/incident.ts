import type { Score } from './score.js';
import type { Decision } from './decision.js';

export const INCIDENT_STATUSES = ['new', 'triaged', 'contained', 'closed'] as const;
export type IncidentStatus = (typeof INCIDENT_STATUSES)[number];

export const VERDICTS = ['true_positive', 'false_positive', 'benign'] as const;
export type Verdict = (typeof VERDICTS)[number];

export interface TimelineEntry {
  at: string;
  kind: 'alert' | 'repeat' | 'enriched' | 'scored' | 'decided' | 'action' | 'verdict' | 'status';
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
}

import type { Alert } from './alert.js';
import type { Enrichment } from './enrichment.js';
import type { ActionRecord } from './action.js';

/** The shape of GET /incidents/{id}; also what `fido score` reads and what actions render. */
export interface IncidentDetail extends Incident {
  alerts: Alert[];
  enrichment: Array<Enrichment | (Omit<Enrichment, 'data' | 'found' | 'cache'> & { error: string })>;
  decisions: Decision[];
  actions: ActionRecord[];
  timeline: TimelineEntry[];
}
