/**
 * "Which rule matches this stored incident, and why?": the incident read from the store as the decide stage
 * reads it (the covering alerts, every enrichment row, its indicators, its stored score), then the policy's
 * dry run (policy/dryrun.ts), which evaluates every rule and names, for one that did not match, the first
 * false part of its condition. Nothing is written.
 */
import type { Store } from '../store/store.js';
import { loadIncidentDetails } from '../store/incidents.js';
import type { Decision } from '../model/decision.js';
import type { Score } from '../model/score.js';
import { dryRunRules, type DryRunReport } from '../policy/dryrun.js';
import type { CompiledPolicy } from '../policy/rules.js';
import type { CelSandbox } from '../policy/sandbox.js';

export interface IncidentExplanation extends DryRunReport {
  incident: { id: string; title: string; last_seen: string; score: Score | null; decision: Decision | null };
}

/** The explanation, or null when there is no such incident. */
export async function explainIncident(store: Store, policy: CompiledPolicy, id: string, opts: { configVersion?: string; sandbox?: CelSandbox } = {}): Promise<IncidentExplanation | null> {
  const detail = (
    await loadIncidentDetails(store.db, [id], { parts: { alerts: 'covering', raw: false, enrichment: true, history: false, indicators: true }, docs: store.alertDocs })
  ).get(id);
  if (!detail) return null;
  const report = dryRunRules(policy, detail, opts);
  return { incident: { id: detail.id, title: detail.title, last_seen: detail.last_seen, score: detail.score, decision: detail.decision }, ...report };
}
