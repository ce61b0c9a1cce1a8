/**
 * Growth of parse time with input size, for the linear-time tests. The time at a size is the minimum over a
 * few runs (noise only ever adds time), and what is asserted is how it grows from size to size, never how
 * long it takes: sizes go up by 4 (1, 4, 16, 64, 256 KiB), where linear work takes 4 times as long,
 * quadratic 16 and cubic 64; a step may take at most MAX_STEP_RATIO times as long. Stepwise, because a
 * detector that looks at only the first N characters of a record stops growing after N, and the step below
 * N is where its super-linear work shows.
 *
 * Ratios need a denominator that is more than timer noise or a change of code path (a detector that cuts
 * its input at 64 KiB trims the cut-off part in one loop there): it is floored at what 10 ns of work per
 * character would take (at least FLOOR_MS). Quadratic work is therefore caught at the first step where it
 * is above the floor; below it, it costs little (at most 16 × the floor).
 *
 * A step over the ratio still passes if it ends under a generous time budget (0.5 µs a character: linear
 * parsing takes 0.001-0.15): see within().
 *
 * One absolute check, the blow-up guard, with a margin of more than two orders of magnitude: no input of 64
 * KiB or less may take GUARD_MS (linear parsing of 64 KiB takes 0.05-3 ms here, and has taken 256 ms with two
 * suites sharing the two cores, hence the margin). It makes cubic work fail in
 * seconds instead of hanging the suite, and catches super-linear work that is confined to the first few KiB
 * of a record (the step ratios cannot see a cost that stops growing at 2 KiB; a cubic one is still seconds).
 */
import assert from 'node:assert/strict';
import v8 from 'node:v8';
import vm from 'node:vm';

// A full collection before a retry: garbage of earlier inputs (256 KiB strings, objects of thousands of keys)
// otherwise makes every run of a size pay for incremental marking, and a minimum cannot filter that out.
v8.setFlagsFromString('--expose-gc');
const collectGarbage = vm.runInNewContext('gc') as () => void;

export const KIB = 1024;
/** The sizes of a measurement: 1 KiB to 256 KiB (intake.max_record_bytes' default) by steps of 4. */
export const LADDER = [1 * KIB, 4 * KIB, 16 * KIB, 64 * KIB, 256 * KIB] as const;
/**
 * Linear 4, quadratic 16: a quadratic part must stay under twice the linear part at the lower size to
 * pass. (Memory effects alone take linear parsing to 6-10 on some steps: a 256 KiB string, a JSON object
 * whose 5,000 keys turn it into a dictionary.)
 */
export const MAX_STEP_RATIO = 12;
/** Over two steps (×16 in size): linear 16, quadratic 256. */
export const MAX_SPAN_RATIO = 48;
/** t(64 KiB) / t(1 KiB): linear ≤ 64 (fixed costs make it less), quadratic 4096. */
export const MAX_SMALL_RATIO = 640;
export const FLOOR_MS = 0.05;
const FLOOR_MS_PER_KIB = 0.01;

/** The least denominator of a ratio from `size`: see the header. */
export function floorFor(size: number): number {
  return Math.max(FLOOR_MS, (size / KIB) * FLOOR_MS_PER_KIB);
}
export const GUARD_MS = 1000;
export const GUARD_MAX_SIZE = 64 * KIB;

/** Minimum time (ms) of `fn` over at least `runs` runs, going on while the total stays under `budgetMs`. */
export function minTime(fn: () => unknown, runs: number, budgetMs = 0): number {
  let best = Infinity;
  const start = performance.now();
  for (let i = 0; i < runs || (performance.now() - start < budgetMs && i < 50); i++) {
    const t0 = performance.now();
    fn();
    best = Math.min(best, performance.now() - t0);
  }
  return best;
}

/**
 * One run of `run(input)`, held to the blow-up guard when the input is small enough; a run over the guard is
 * repeated once (a pause of the machine is not the parser's), and the second must stay under it.
 */
export function guardedTime<T>(label: string, size: number, input: T, run: (input: T) => unknown): number {
  const once = () => {
    const t0 = performance.now();
    run(input);
    return performance.now() - t0;
  };
  let t = once();
  if (size <= GUARD_MAX_SIZE && t > GUARD_MS) t = Math.min(t, once());
  assert.ok(size > GUARD_MAX_SIZE || t <= GUARD_MS, `${label}: ${size / KIB} KiB took ${t.toFixed(0)} ms — super-linear (blow-up guard, ${GUARD_MS} ms)`);
  return t;
}

export interface Growth {
  sizes: readonly number[];
  /** Minimum time (ms) at each size. */
  times: number[];
  /** t(next size) / max(t(size), floorFor(size)), for each step. */
  steps: number[];
  /** The last step: t(256 KiB) / max(t(64 KiB), floorFor(64 KiB)) on LADDER. */
  largeRatio: number;
  /** t(64 KiB) / max(t(1 KiB), floorFor(1 KiB)), on LADDER. */
  smallRatio?: number;
}

export function growthOf(sizes: readonly number[], times: number[]): Growth {
  const ratio = (from: number, to: number) => times[to]! / Math.max(times[from]!, floorFor(sizes[from]!));
  const steps = times.slice(1).map((_, i) => ratio(i, i + 1));
  return { sizes, times, steps, largeRatio: steps[steps.length - 1]!, ...(sizes === LADDER ? { smallRatio: ratio(0, 3) } : {}) };
}

/**
 * Within bounds: every step grows by less than MAX_STEP_RATIO, or ends under the time budget of its size, or
 * is a spike at one size that the step next to it takes back.
 * A busy machine (the whole suite runs three files at once) and memory effects can push a step of linear
 * work past the ratio at 256 KiB, where it still takes milliseconds; super-linear work at those sizes takes
 * seconds, far over the budget. So a step fails only when it both grows too fast and is slow. A pause that
 * lands on every run of one size (seen in CI: 16→64 KiB ×17.9, then 64→256 KiB ×2.0) inflates that size
 * alone: over two steps, linear work grows 16 and quadratic 256, so a step whose span with a neighbour stays
 * under MAX_SPAN_RATIO was a spike, not a trend.
 */
export function within(g: Growth): boolean {
  const span = (i: number) => Math.min(i > 0 ? g.steps[i - 1]! * g.steps[i]! : Infinity, i + 1 < g.steps.length ? g.steps[i]! * g.steps[i + 1]! : Infinity);
  const stepOk = (r: number, i: number) => r < MAX_STEP_RATIO || g.times[i + 1]! < budgetFor(g.sizes[i + 1]!) || span(i) < MAX_SPAN_RATIO;
  return g.steps.every(stepOk) && (g.smallRatio === undefined || g.smallRatio < MAX_SMALL_RATIO || g.times[3]! < budgetFor(g.sizes[3]!));
}

/**
 * Time of a size below which no growth counts as super-linear: 2 µs a character (128 ms at 64 KiB, 512 ms at
 * 256 KiB). Linear parsing takes 0.05-3 ms at 64 KiB; beside a second suite one took 38 ms after retries.
 * Quadratic work at 64 KiB is 4·10⁹ character pairs: seconds, whatever its constant.
 */
export const BUDGET_MS_PER_KIB = 2;
const budgetFor = (size: number) => (size / KIB) * BUDGET_MS_PER_KIB;

export function describeGrowth(g: Growth): string {
  const ms = (t: number) => (t < 1 ? t.toFixed(3) : t.toFixed(1));
  const size = (n: number) => (n % KIB === 0 ? `${n / KIB} KiB` : `${n} chars`);
  const times = g.sizes.map((n, i) => `${size(n)} ${ms(g.times[i]!)} ms`).join(', ');
  const small = g.smallRatio === undefined ? '' : `; 64→256 ×${g.largeRatio.toFixed(1)}, 1→64 ×${g.smallRatio.toFixed(0)}`;
  return `${times}; steps ×${g.steps.map((r) => r.toFixed(1)).join(' ×')}${small}`;
}

const RETRIES = 4;

export interface LinearOptions<T> {
  /** Sizes other than LADDER must also grow by 4 a step (for a detector that reads only a window of its record, sizes within it). */
  sizes?: readonly number[];
  /** Turns the text into what `run` takes, outside the timing (e.g. JSON.parse: V8's, not the detector's). */
  prepare?: (text: string) => T;
}

/**
 * Asserts linear growth of `run` over `make(n)`, timed at each size (inputs built outside the timing). Out of
 * bounds, every size is measured again after a pause
 * (other test files share the machine: a busy moment can spoil a measurement, not five spread over a
 * second), and each size keeps the least time it ever took; it fails only if even those are out of bounds.
 */
export async function assertLinear<T = string>(label: string, make: (n: number) => string, run: (input: T) => unknown, opts: LinearOptions<T> = {}): Promise<Growth> {
  const sizes = opts.sizes ?? LADDER;
  const prepare = opts.prepare ?? ((text: string) => text as T);
  const inputs = sizes.map((n) => prepare(make(n)));
  const best = inputs.map((input, i) => {
    const first = guardedTime(label, sizes[i]!, input, run);
    return Math.min(first, minTime(() => run(input), sizes[i]! <= 16 * KIB ? 4 : 2, sizes[i]! <= 16 * KIB ? 2 : 0));
  });
  let g = growthOf(sizes, best);
  for (let attempt = 0; attempt < RETRIES && !within(g); attempt++) {
    await new Promise((resolve) => setTimeout(resolve, 50 << attempt));
    inputs.forEach((input, i) => {
      collectGarbage();
      best[i] = Math.min(best[i]!, minTime(() => run(input), 3, 5));
    });
    g = growthOf(sizes, best);
  }
  assert.ok(
    within(g),
    `${label}: grows faster than linear — ${describeGrowth(g)} (bounds: ×${MAX_STEP_RATIO} a step, ×${MAX_SMALL_RATIO} from 1 to 64 KiB, unless under ${BUDGET_MS_PER_KIB} ms per KiB)`,
  );
  return g;
}
