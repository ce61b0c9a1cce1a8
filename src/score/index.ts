/**
 * Scoring: an enriched incident in, `{ total, components, explanation }` out (DESIGN.md §7). Pure: the same
 * incident, profile and `now` always give the same score, which is what makes `fido score` agree with the
 * score stage and a re-run after a crash harmless. `now` only matters for expiries and windows (allowlist entries, history).
 */
import type { IncidentDetail } from '../model/incident.js';
import type { Score } from '../model/score.js';
import type { ResolvedProfile } from './profile.js';
import { scoringEngine } from './engines.js';

export function scoreIncident(detail: IncidentDetail, profile: ResolvedProfile, now: number = Date.now()): Score {
  // The settings passed the engine's schema when the profile was resolved (profile.ts).
  return scoringEngine(profile.settings.engine).score(detail, profile.settings as never, profile.name, now);
}

/** Whether the profile's engine reads enrichment rows that found nothing (ScoringEngine.readsUnfoundAnswers). */
export function readsUnfoundAnswers(profile: ResolvedProfile): boolean {
  return scoringEngine(profile.settings.engine).readsUnfoundAnswers;
}

/** One line per explanation entry, aligned, ending with the total: what `fido score` prints. */
export function formatScore(score: Score, version?: string): string {
  const width = Math.max(6, ...score.explanation.map((l) => l.factor.length));
  const pts = (n: number) => (n > 0 ? `+${n}` : String(n)).padStart(4);
  const lines = score.explanation.map((l) => `${pts(l.points)}  ${l.factor.padEnd(width)}  ${l.evidence}`);
  const comps = Object.entries(score.components)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
  return [
    `score ${score.total}/100 (profile ${score.profile}${version ? `@${version}` : ''})`,
    ...lines,
    `${'-'.repeat(4)}`,
    `${String(score.total).padStart(4)}  total`,
    `components: ${comps || 'none'}`,
  ].join('\n');
}

export { resolveProfile, ProfileError, BUILTIN_PROFILES, type ResolvedProfile, type ProfileOverrides } from './profile.js';
export { explanationSum } from './explain.js';
