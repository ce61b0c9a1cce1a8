/** Every scoring engine Fido ships (one file each in engines/); a profile names one by `engine`. */
import { discoverComponents } from '../component/discover.js';
import { isScoringEngine, type ScoringEngine } from './engine.js';

export const scoringEngines: readonly ScoringEngine[] = await discoverComponents(new URL('./engines/', import.meta.url), 'scoring engine', {
  problemOf: (x) => (isScoringEngine(x) ? undefined : 'is not a scoring engine (kind, schema, builtin, score)'),
});

/** The engine named `kind`; profiles are checked when resolved, so an unknown one is a bug. */
export function scoringEngine(kind: string): ScoringEngine {
  const engine = scoringEngines.find((e) => e.kind === kind);
  if (!engine) throw new Error(`unknown scoring engine "${kind}" (known: ${scoringEngines.map((e) => e.kind).join(', ')})`);
  return engine;
}
