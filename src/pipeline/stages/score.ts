/**
 * score: items are incident ids. compute() loads each incident with its enrichment and scores it with the
 * configured profile (pure; src/score). write() records the score (the `scores` table keeps every version,
 * the incident row the current one), notes it on the timeline and hands the incident to `decide`.
 *
 * A score identical to the incident's current one (same profile, total and explanation) is not recorded
 * again — re-enrichment after a repeat alert would otherwise fill the timeline with copies — but the
 * incident still goes to `decide`, whose rules may look at more than the score (alert counts, for one).
 */
import type { Stage } from '../stage.js';
import { enqueue, type ClaimedItem } from '../../store/queue.js';
import type { Store, Tx } from '../../store/store.js';
import { addTimeline, loadIncidentDetail } from '../../store/incidents.js';
import type { Score } from '../../model/score.js';
import { scoreIncident } from '../../score/index.js';
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
  return {
    name: 'score',
    batchSize: deps.batchSize ?? 100,
    async compute(items: readonly ClaimedItem[]) {
      const out: IncidentScore[] = [];
      const t = now();
      for (const item of items) {
        const detail = await loadIncidentDetail(deps.store.db, item.item_id);
        if (!detail) continue; // deleted meanwhile: nothing to score or hand on
        const score = scoreIncident(detail, deps.profile, t);
        out.push({ incidentId: detail.id, score, changed: !sameScore(detail.score, score) });
      }
      return out;
    },
    async write(tx: Tx, _items, scored: IncidentScore[]) {
      const t = now();
      for (const s of scored.filter((x) => x.changed)) await record(tx, s, deps, t);
      await enqueue(tx, 'decide', scored.map((s) => s.incidentId), t);
    },
  };
}

async function record(tx: Tx, s: IncidentScore, deps: ScoreStageDeps, now: number): Promise<void> {
  const stored: StoredScore = { ...s.score, profile_version: deps.profile.version };
  const doc = JSON.stringify(stored);
  await tx
    .insertInto('scores')
    .values({ incident_id: s.incidentId, profile: s.score.profile, total: s.score.total, doc, config_version: deps.configVersion, created_at: now })
    .execute();
  await tx.updateTable('incidents').set({ score: doc, score_total: s.score.total, updated_at: now }).where('id', '=', s.incidentId).execute();
  await addTimeline(tx, [{ incident_id: s.incidentId, at: now, kind: 'scored', summary: summary(s.score) }]);
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
