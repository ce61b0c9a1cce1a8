/**
 * Building the explanation of a score. The promise to analysts is that the lines add up to the total shown,
 * so nothing is added to the total except through a line: caps on a component and the final 0–100 clamp
 * are lines too. Points are integers, which keeps the sum exact (no floating-point drift in "why 85?").
 *
 * A line's factor is `component.name` (e.g. `threat.indicator`); the part before the first dot names the
 * component it counts toward. Lines whose component is `total` (the clamp) belong to no component.
 */
import type { Score, ScoreFactor } from '../model/score.js';

export const TOTAL_COMPONENT = 'total';

export function componentOf(factor: string): string {
  const dot = factor.indexOf('.');
  return dot < 0 ? factor : factor.slice(0, dot);
}

export class Explanation {
  private readonly lines: ScoreFactor[] = [];

  /** Adds a line; points are rounded to an integer so that sums stay exact. */
  add(factor: string, points: number, evidence: string): this {
    const p = Math.round(points);
    if (!Number.isFinite(p)) throw new Error(`score line ${factor}: points must be finite`);
    this.lines.push({ factor, points: p === 0 ? 0 : p, evidence });
    return this;
  }

  /** Sum of the lines counting toward a component so far. */
  component(name: string): number {
    return this.lines.reduce((s, l) => (componentOf(l.factor) === name ? s + l.points : s), 0);
  }

  /** Keeps a component within [min, max] by adding a `<component>.cap` line for the difference. */
  bound(name: string, min: number, max: number, label = name): this {
    const raw = this.component(name);
    const bounded = Math.min(max, Math.max(min, raw));
    if (bounded !== raw) {
      const why = raw > max ? `capped at ${max}` : `raised to the floor of ${min}`;
      this.add(`${name}.cap`, bounded - raw, `${label} points ${raw} ${why}`);
    }
    return this;
  }

  get sum(): number {
    return this.lines.reduce((s, l) => s + l.points, 0);
  }

  /** Per-component sums (the clamp line excluded), in order of first appearance. */
  components(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const l of this.lines) {
      const c = componentOf(l.factor);
      if (c === TOTAL_COMPONENT) continue;
      out[c] = (out[c] ?? 0) + l.points;
    }
    return out;
  }

  /**
   * Clamps the total into [min, max] with a `total.clamp` line and returns the score. `components` may
   * name components that got no line (reported as 0) so that consumers always find the same keys.
   */
  finish(profile: string, min = 0, max = 100, components: readonly string[] = []): Score {
    const raw = this.sum;
    const total = Math.min(max, Math.max(min, raw));
    if (total !== raw) {
      this.add(`${TOTAL_COMPONENT}.clamp`, total - raw, raw > max ? `sum ${raw} capped at ${max}` : `sum ${raw} raised to ${min}`);
    }
    const comps = this.components();
    for (const c of components) comps[c] ??= 0;
    return { profile, total, components: comps, explanation: [...this.lines] };
  }
}

/** Checks the promise: the lines add up to the total. Used by tests and by `fido score`. */
export function explanationSum(score: Pick<Score, 'explanation'>): number {
  return score.explanation.reduce((s, l) => s + l.points, 0);
}
