/**
 * A scoring engine: one file in engines/ that default-exports `defineScoringEngine({…})`. Its settings are
 * a profile (`scoring.profiles`), checked against its schema, from which their type is derived; `builtin` is
 * the built-in profile named after the engine. Engines are pure (the same incident, settings and `now` give
 * the same score), so they are called, not built. Reference: engines/default.ts.
 */
import type { Static, TSchema } from 'typebox';
import type { IncidentDetail } from '../model/incident.js';
import type { Score } from '../model/score.js';

export interface ScoringEngine<S extends TSchema = TSchema> {
  /** The engine's name: a profile's `engine:`, and the name of its built-in profile. */
  readonly kind: string;
  readonly description: string;
  /** A whole profile of this engine (with `engine` and `description`). */
  readonly schema: S;
  readonly builtin: Static<S>;
  /**
   * Whether it reads enrichment answers that found nothing (fido-classic counts a host the inventory does not
   * know); the score stage reads only the rows the engine looks at.
   */
  readonly readsUnfoundAnswers: boolean;
  score(detail: IncidentDetail, settings: Static<S>, profileName: string, now: number): Score;
}

/** Declares a scoring engine; `score` gets the settings typed by its schema. */
export function defineScoringEngine<S extends TSchema>(engine: ScoringEngine<S>): ScoringEngine<S> {
  return engine;
}

export function isScoringEngine(x: unknown): x is ScoringEngine {
  const e = x as Partial<ScoringEngine> | null | undefined;
  return typeof e === 'object' && e !== null && typeof e.kind === 'string' && typeof e.schema === 'object' && typeof e.score === 'function' && typeof e.builtin === 'object';
}
