/**
 * Shared by the tests of the JSON product detectors (crowdstrike, microsoft_defender, sentinel_one,
 * carbon_black_cloud, carbonblack_edr, cb_app_control, sophos_central, aws_guardduty, okta): parse through
 * the real registry with a fixed reception time, and the robustness checks every such detector must pass —
 * hostile values, other products' samples, arbitrary JSON and mutated samples (fast-check). The runner also
 * serves the tests that parse through the registry with a hint (suricata, fireeye, lastline, cyphort,
 * protectwise, sophos_av).
 */
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ParseError, type ContextEvent, type Detector } from '../../src/detectors/detector.js';
import { loadDetectors, normalizeRecord, rawRecord, type DetectorRegistry, type NormalizeResult } from '../../src/detectors/lib/registry.js';
import { withParseContext } from '../../src/detectors/lib/context.js';
import { finalizeAlert } from '../../src/detectors/lib/observables.js';
import type { AlertDraft } from '../../src/model/alert.js';
import { finishes, sampleLines, type SampleLine } from './helpers.js';
import { foreignSampleRecords } from './foreign-samples.js';

export const RECEIVED_AT = '2026-01-01T00:00:00Z';

let registryPromise: Promise<DetectorRegistry> | undefined;
export function registry(): Promise<DetectorRegistry> {
  registryPromise ??= loadDetectors();
  return registryPromise;
}

export interface Runner {
  detector: Detector;
  /** normalizeRecord through the registry (hint = the detector's name by default, 'auto', or null). */
  run(text: string, hint?: string | null): NormalizeResult;
  /** The one alert of the record, which this detector claimed. */
  alert(text: string, hint?: string | null): AlertDraft;
  /** The alerts of the record, which this detector claimed. */
  alerts(text: string, hint?: string | null): AlertDraft[];
  context(text: string, hint?: string | null): ContextEvent;
  error(text: string, hint?: string | null): string;
}

export async function runner(name: string): Promise<Runner> {
  const reg = await registry();
  const detector = reg.get(name);
  assert.ok(detector, `detector ${name} is not registered`);
  const run = (text: string, hint: string | null = name) => normalizeRecord(reg, text, hint, { receivedAt: RECEIVED_AT });
  const alerts = (text: string, hint: string | null = name) => {
    const r = run(text, hint);
    assert.ok('alerts' in r, JSON.stringify(r).slice(0, 600));
    assert.equal(r.detector, name, `claimed by ${name}`);
    return r.alerts;
  };
  return {
    detector,
    run,
    alerts,
    alert(text, hint = name) {
      const list = alerts(text, hint);
      assert.equal(list.length, 1);
      return list[0]!;
    },
    context(text, hint = name) {
      const r = run(text, hint);
      assert.ok('context' in r, JSON.stringify(r).slice(0, 600));
      assert.equal(r.context.length, 1);
      return r.context[0]!;
    },
    error(text, hint = name) {
      const r = run(text, hint);
      assert.ok('error' in r, `expected an error, got ${JSON.stringify(r).slice(0, 300)}`);
      return r.error;
    },
  };
}

export const obs = (a: { observables: Array<{ type: string; value: string; role: string }> }): string[] => a.observables.map((o) => `${o.type}:${o.value}:${o.role}`);

/**
 * Every shared sample of `folder` (.jsonl): `count` of them, each auto-detected as the runner's detector with
 * the expected outcome (alerts, context, or either but not an error). Returns them with their results.
 */
export function autoDetectedSamples(
  r: Runner,
  folder: string,
  count: number,
  outcome: 'alerts' | 'context' | 'parsed' = 'alerts',
): Array<{ line: SampleLine; result: NormalizeResult }> {
  const lines = sampleLines(folder, '.jsonl');
  assert.equal(lines.length, count);
  return lines.map((l) => {
    const result = r.run(l.text, 'auto');
    if (outcome === 'parsed') assert.ok(!('error' in result), `${l.file}:${l.line}: ${JSON.stringify(result)}`);
    else assert.ok(outcome in result, `${l.file}:${l.line}: ${JSON.stringify(result).slice(0, 600)}`);
    assert.equal(result.detector, r.detector.name);
    return { line: l, result };
  });
}

/** The runner's detector claims no other product's shared sample (its sniff stays below the registry threshold). */
export function assertClaimsNoForeignSample(r: Runner, ...ownFolders: string[]): void {
  for (const l of otherSampleLines(ownFolders)) assert.ok(sniffOf(r.detector, l.text) < 0.5, l.where);
}

/** Every shared sample record outside the `except` folders (text and JSON formats alike), via foreign-samples.ts. */
export function otherSampleLines(except: string[]): Array<{ where: string; text: string }> {
  const out = foreignSampleRecords(...except).map((r) => ({ where: r.where, text: r.record.text }));
  assert.ok(out.length >= 50, `only ${out.length} foreign sample records found`);
  return out;
}

/** The sniff score of the detector for a text, as the registry would compute it. */
export function sniffOf(d: Detector, text: string): number {
  const rec = rawRecord(text);
  if (d.format === 'json' && rec.json === undefined) return 0;
  return d.sniff(rec);
}

/** A problem the registry reports when a detector threw something that is not a ParseError, or returned garbage. */
export function assertNoCrash(r: NormalizeResult, what: string): void {
  if ('error' in r) {
    assert.ok(!/ failed: | returned a bad | returned an outcome| returned no outcome|returned alerts that/.test(r.error), `${what}: ${r.error}`);
    assert.ok(r.error.length > 0 && r.error.length < 2000, `${what}: reason length ${r.error.length}`);
  }
}

/** Calls parse (and finalizeAlert on what it returns) directly: anything thrown must be a ParseError. */
export function parseSafely(d: Detector, json: unknown): void {
  let text: string;
  try {
    text = JSON.stringify(json) ?? 'null';
  } catch {
    return;
  }
  withParseContext({ receivedAt: new Date(RECEIVED_AT) }, () => {
    try {
      const out = d.parse({ text, json });
      if (out.kind === 'alerts') for (const a of out.alerts) finalizeAlert(a);
      else for (const e of out.events) assert.equal(typeof e.kind, 'string');
    } catch (e) {
      if (!(e instanceof ParseError)) throw new Error(`threw ${(e as Error)?.name}: ${(e as Error)?.message} for ${text.slice(0, 300)}`);
    }
  });
  const s = d.sniff({ text, json });
  assert.ok(typeof s === 'number' && s >= 0 && s <= 1, `sniff returned ${s}`);
}

const HOSTILE_STRINGS = [
  "'; DROP TABLE alerts; --",
  '" OR 1=1 --',
  '*)(uid=*))(|(uid=*',
  '$(rm -rf /)',
  '`reboot`',
  '; cat /etc/passwd |',
  '\u0000\u0001\u001b[31mred\u001b[0m\r\nforged: line',
  '\ud800lone surrogate',
  '../../../../etc/passwd',
  '<script>alert(1)</script>',
  '%n%n%n%s',
  '{{7*7}}${7*7}',
];

/** Replaces the value at `path` in a deep copy of `obj`. */
function setAt(obj: unknown, path: Array<string | number>, value: unknown): unknown {
  const copy = structuredClone(obj) as Record<string, unknown>;
  let cur: Record<string, unknown> = copy;
  for (const k of path.slice(0, -1)) cur = cur[k as string] as Record<string, unknown>;
  Object.defineProperty(cur, path[path.length - 1]!, { value, enumerable: true, writable: true, configurable: true });
  return copy;
}

/** Every path to a leaf or sub-object of a JSON value (bounded). */
function pathsOf(v: unknown, prefix: Array<string | number> = [], out: Array<Array<string | number>> = []): Array<Array<string | number>> {
  if (out.length > 2000) return out;
  if (Array.isArray(v)) v.slice(0, 8).forEach((x, i) => { out.push([...prefix, i]); pathsOf(x, [...prefix, i], out); });
  else if (v !== null && typeof v === 'object') for (const [k, x] of Object.entries(v)) { out.push([...prefix, k]); pathsOf(x, [...prefix, k], out); }
  return out;
}

/**
 * The robustness checks: for each base record, every field replaced by hostile values (wrong types, 1 MB
 * strings, control characters, injection strings), `__proto__`/`constructor` keys, truncations; none may
 * crash the detector, hang, or pollute Object.prototype. Returns how many variants were run.
 */
export function hostileVariants(name: string, reg: DetectorRegistry, bases: string[]): number {
  let n = 0;
  const big = 'A'.repeat(1 << 20);
  const check = (text: string, what: string) => {
    n++;
    const { value } = finishes(() => normalizeRecord(reg, text, name, { receivedAt: RECEIVED_AT }));
    assertNoCrash(value, what);
    if ('alerts' in value) for (const a of value.alerts) assert.ok(JSON.stringify(a).length < 8 << 20, `${what}: alert of ${JSON.stringify(a).length} chars`);
  };
  for (const base of bases) {
    const json = JSON.parse(base) as unknown;
    const paths = pathsOf(json);
    const replacements: unknown[] = [null, 42, -1, 1e308, true, [], {}, [1, 'x', null], big, ...HOSTILE_STRINGS];
    for (const p of paths) {
      for (const v of replacements) check(JSON.stringify(setAt(json, p, v)), `${p.join('.')} = ${JSON.stringify(v)?.slice(0, 40)}`);
    }
    // Prototype keys as data, at the top and in every object.
    const protoText = base.replace(/\{/g, '{"__proto__":{"polluted":"yes"},"constructor":{"prototype":{"polluted":"yes"}},');
    check(protoText, '__proto__ keys');
    // Truncations and garbage.
    for (const cut of [1, 2, 10, Math.floor(base.length / 2), base.length - 1]) check(base.slice(0, cut), `truncated at ${cut}`);
    check(`[${base},${base}]`, 'array of records');
    check(base.replace(/"[^"]*"/, `"${'\\u0000'.repeat(100)}"`), 'control characters in a key');
  }
  for (const junk of ['', ' ', 'null', '0', '"x"', '[]', '{}', '{"a":', 'not json at all', big]) check(junk, `junk ${junk.slice(0, 20)}`);
  assert.equal(({} as Record<string, unknown>).polluted, undefined, 'Object.prototype was polluted');
  return n;
}

/** fast-check: arbitrary JSON objects, and samples with random fields replaced, never throw but ParseError. */
export function propertyChecks(d: Detector, bases: string[], runs = 300): void {
  fc.assert(fc.property(fc.object({ maxDepth: 4 }), (o) => parseSafely(d, o)), { numRuns: runs });
  fc.assert(fc.property(fc.jsonValue({ maxDepth: 4 }), (o) => parseSafely(d, o)), { numRuns: runs });
  const parsed = bases.map((b) => JSON.parse(b) as unknown);
  const mutation = fc.record({
    base: fc.nat(parsed.length - 1),
    edits: fc.array(fc.record({ at: fc.nat(), value: fc.oneof(fc.jsonValue({ maxDepth: 2 }), fc.constant(undefined), fc.string({ maxLength: 64 }), fc.constantFrom(...HOSTILE_STRINGS)) }), { maxLength: 6 }),
  });
  fc.assert(
    fc.property(mutation, ({ base, edits }) => {
      let cur = parsed[base];
      for (const e of edits) {
        const paths = pathsOf(cur);
        if (paths.length === 0) break;
        const p = paths[e.at % paths.length]!;
        cur = e.value === undefined ? deleteAt(cur, p) : setAt(cur, p, e.value);
      }
      parseSafely(d, cur);
    }),
    { numRuns: runs },
  );
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
}

function deleteAt(obj: unknown, path: Array<string | number>): unknown {
  const copy = structuredClone(obj) as Record<string, unknown>;
  let cur: Record<string, unknown> = copy;
  for (const k of path.slice(0, -1)) cur = cur[k as string] as Record<string, unknown>;
  const last = path[path.length - 1]!;
  if (Array.isArray(cur)) cur.splice(last as number, 1);
  else delete cur[last as string];
  return copy;
}
