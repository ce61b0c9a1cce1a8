/**
 * score: items are incident ids. compute() loads the batch's incidents with their alerts and enrichment (a
 * few queries for the whole batch) and scores each with the configured profile (pure; src/score). write()
 * records the scores (the `scores` table keeps every version, the incident row the current one), notes them
 * on the timeline and hands the incidents to `decide`.
 *
 * A score identical to the incident's current one (same profile, total and explanation) is not recorded
 * again — re-enrichment after a repeat alert would otherwise fill the timeline with copies — but the
 * incident still goes to `decide`, whose rules may look at more than the score (alert counts, for one).
 */
import type { Stage } from '../stage.js';
import { enqueue, type ClaimedItem } from '../../store/queue.js';
import type { Db, Store, Tx } from '../../store/store.js';
import { insertRows } from '../../store/insert-rows.js';
import { addTimeline, loadIncidentDetails, updateIncidents, type DetailParts } from '../../store/incidents.js';
import type { Score } from '../../model/score.js';
import { readsUnfoundAnswers, scoreIncident } from '../../score/index.js';
import type { ResolvedProfile } from '../../score/profile.js';

export interface ScoreStageDeps {
  store: Store;
  profile: ResolvedProfile;
  configVersion: string;
  now?: () => number;
  batchSize?: number;
}

export interface IncidentScore {
  incidentId: string;
  score: Score;
  /** False when the incident already carries this exact score. */
  changed: boolean;
}

/** What is stored: the Score plus the profile version that produced it. */
export type StoredScore = Score & { profile_version: string };


export function createScoreStage(deps: ScoreStageDeps): Stage<IncidentScore[]> {
  const now = deps.now ?? Date.now;
  // Scoring reads the incident, the alerts that stand for all of them (its digest's) and the enrichment rows its engine looks at (most rows found
  // nothing, and the default engine ignores those); not the raw records or the history.
  const parts: DetailParts = { alerts: 'covering', raw: false, enrichment: readsUnfoundAnswers(deps.profile) ? true : 'found', history: false };
  return {
    name: 'score',
    next: ['decide'],
    batchSize: deps.batchSize ?? 200,
    // Not storeOnly: computing inside the write transaction held the lock that intake and ingest (other
    // threads since pipeline v2) wait for, for the whole of the batch's scoring.
    async compute(items: readonly ClaimedItem[], db: Db) {
      const details = await loadIncidentDetails(db, items.map((i) => i.item_id), { parts, docs: deps.store.alertDocs });
      const out: IncidentScore[] = [];
      const t = now();
      for (const item of items) {
        const detail = details.get(item.item_id);
        if (!detail) continue; // deleted meanwhile: nothing to score or hand on
        const score = scoreIncident(detail, deps.profile, t);
        out.push({ incidentId: detail.id, score, changed: !sameScore(detail.score, score) });
      }
      return out;
    },
    async write(tx: Tx, _items, scored: IncidentScore[]) {
      const t = now();
      await record(tx, scored.filter((x) => x.changed), deps, t);
      await enqueue(tx, 'decide', scored.map((s) => s.incidentId), t);
    },
  };
}

async function record(tx: Tx, changed: readonly IncidentScore[], deps: ScoreStageDeps, now: number): Promise<void> {
  const docs = changed.map((s) => JSON.stringify({ ...s.score, profile_version: deps.profile.version } satisfies StoredScore));
  const rows = changed.map((s, k) => ({
    incident_id: s.incidentId,
    profile: s.score.profile,
    total: s.score.total,
    doc: docs[k]!,
    config_version: deps.configVersion,
    created_at: now,
  }));
  await insertRows(tx, 'scores', ['incident_id', 'profile', 'total', 'doc', 'config_version', 'created_at'], rows);
  await updateIncidents(tx, changed.map((s, k) => ({ id: s.incidentId, score: docs[k]!, score_total: s.score.total })), now);
  await addTimeline(tx, changed.map((s) => ({ incident_id: s.incidentId, at: now, kind: 'scored' as const, summary: summary(s.score) })));
}

/** "score 72 (default): threat 40, asset 20, history -5" — the non-zero components. */
export function summary(score: Score): string {
  const parts = Object.entries(score.components)
    .filter(([, v]) => v !== 0)
    .map(([k, v]) => `${k} ${v}`);
  return `score ${score.total} (${score.profile})${parts.length ? `: ${parts.join(', ')}` : ''}`;
}

function sameScore(a: Score | null, b: Score): boolean {
  if (!a) return false;
  return a.profile === b.profile && a.total === b.total && JSON.stringify(a.explanation) === JSON.stringify(b.explanation);
}
