/**
 * Every detector runs in time linear in its input (issue 13): a property test per detector file, and one for
 * auto-detection, feed adversarial shapes — runs of spaces, tabs, newlines, separators, quotes, nested
 * brackets, repeated keys, the record repeated — into real records of that detector (its samples), and for
 * JSON records into string values and the structure, and assert that the work grows at most linearly.
 *
 * Each variant (shape × place × record) is screened at 1, 2, 4, 16 and 64 KiB (held to the blow-up guard;
 * t(16)/t(4) and t(64)/t(16): linear 4); the variants that look worst, and any whose ratio exceeds SUSPECT,
 * are then measured properly from 1 to 256 KiB (linear.ts: minimum of several runs, bounds on the ratio of
 * each step). What is timed for a text record is normalizeRecord, the normalize stage's own entry (sniffing
 * for auto, parsing, finalizeAlert); for a JSON record the same minus JSON.parse, which runs outside the
 * timing: it is V8's, and on objects of thousands of keys or arrays nested 100,000 deep it grows 5 to 10
 * times a step at these sizes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadDetectors, normalizeRecord, type DetectorRegistry } from '../../src/detectors/lib/registry.js';
import { ParseError, type RawRecord } from '../../src/detectors/detector.js';
import { withParseContext } from '../../src/detectors/lib/context.js';
import { finalizeAlert } from '../../src/detectors/lib/observables.js';
import type { JsonMapping } from '../../src/config/schema.js';
import { FIXTURE_SAMPLES, SAMPLES, fixtureRecords, sampleLines } from './helpers.js';
import { KIB, assertLinear, describeGrowth, floorFor, guardedTime, minTime, type Growth } from './linear.js';

const reg = await loadDetectors();
const RECEIVED_AT = '2026-01-01T00:00:00Z';
const runWith = (hint: string) => (text: string) => normalizeRecord(reg, text, hint, { receivedAt: RECEIVED_AT });

/** How a variant is parsed: text through normalizeRecord; JSON already parsed, through what normalizeRecord calls. */
interface Runner {
  text: (text: string) => unknown;
  json: (record: RawRecord) => unknown;
}

function runner(registry: DetectorRegistry, hint: string): Runner {
  const context = { receivedAt: new Date(RECEIVED_AT) };
  return {
    text: (text) => normalizeRecord(registry, text, hint, { receivedAt: RECEIVED_AT }),
    json: (record) =>
      withParseContext(context, () => {
        const found = hint === 'auto' ? registry.detect(record) : { detector: registry.get(hint)! };
        if ('reason' in found) return found.reason;
        try {
          const out = found.detector.parse(record);
          return out.kind === 'alerts' ? out.alerts.map((a) => finalizeAlert(a)) : out.events;
        } catch (e) {
          if (e instanceof ParseError) return e.message;
          throw e;
        }
      }),
  };
}

const asRecord = (text: string): RawRecord => ({ text, json: JSON.parse(text) as unknown });

/** Screening ratio (16 to 64 KiB, or 4 to 16) above which a variant is measured properly (linear 4, quadratic 16). */
const SUSPECT = 6;
/** Variants measured properly per record besides the suspects: the worst by screening ratio. */
const WORST = 2;
const MAX_RECORDS = 3;
const MAX_LEAVES = 10;
const MAX_POSITIONS = 20;

// ---- shapes ---------------------------------------------------------------------------------------------

interface Shape {
  name: string;
  /** What is repeated; a function of the record for shapes made of it. */
  unit: string | ((record: string) => string);
  /** White space: the classic trigger of polynomial backtracking, so it goes to every place, not a few. */
  blank?: boolean;
}

const SHAPES: readonly Shape[] = [
  { name: 'spaces', unit: ' ', blank: true },
  { name: 'tabs and spaces', unit: '\t ', blank: true },
  { name: 'newlines', unit: '\n', blank: true },
  { name: 'blank CRLF lines', unit: '\r\n  ', blank: true },
  { name: 'pipes', unit: '|' },
  { name: 'equals', unit: '=' },
  { name: 'commas', unit: ', ' },
  { name: 'colons', unit: ':' },
  { name: 'semicolons', unit: ';' },
  { name: 'double quotes', unit: '"' },
  { name: 'escaped quotes', unit: '\\"' },
  { name: 'single quotes', unit: "'" },
  { name: 'backslashes and slashes', unit: '\\/' },
  { name: 'nested brackets', unit: '[' },
  { name: 'nested braces', unit: '{' },
  { name: 'closing brackets', unit: ']})' },
  { name: 'arrows', unit: '->' },
  { name: 'dots', unit: 'a.' },
  { name: 'one long word', unit: 'a' },
  { name: 'digits', unit: '0' },
  { name: 'repeated key=value', unit: 'a=1 ' },
  { name: 'repeated Key: value', unit: 'Key: v, ' },
  { name: 'repeated quoted pairs', unit: 'k="v" ' },
  { name: 'repeated CEF keys', unit: ' cs1=x cs1Label=y' },
  { name: 'the record repeated', unit: (record) => `${record.replace(/[\r\n]/g, ' ')} ` },
];

function filler(shape: Shape, record: string, n: number): string {
  const unit = typeof shape.unit === 'string' ? shape.unit : shape.unit(record);
  return unit.repeat(Math.ceil(n / unit.length)).slice(0, n);
}

// ---- records and variants -----------------------------------------------------------------------------

/** Real records of the detector: its test/fixtures/samples folder and the shared samples folder of its name. */
function recordsOf(name: string): string[] {
  const out: string[] = [];
  if (existsSync(join(FIXTURE_SAMPLES, name))) out.push(...fixtureRecords(name).map((r) => r.text));
  if (existsSync(join(SAMPLES, name))) {
    for (const ext of ['.jsonl', '.ndjson', '.log', '.cef', '.leef', '.txt']) out.push(...sampleLines(name, ext).map((l) => l.text));
  }
  return out;
}

const KINDS = ['json', 'text', 'multi-line text', 'xml', 'cef', 'leef'] as const;

function kindOf(record: string): (typeof KINDS)[number] {
  const t = record.trimStart();
  if (t[0] === '{') return 'json';
  if (t[0] === '<' && !/^<\d{1,3}>/.test(t)) return 'xml';
  if (/(?:^|[\s>:])CEF:\d/.test(t.slice(0, 2048))) return 'cef';
  if (/(?:^|[\s>:])LEEF:\d/.test(t.slice(0, 2048))) return 'leef';
  return t.trimEnd().includes('\n') ? 'multi-line text' : 'text';
}

/** Up to MAX_RECORDS records that the detector parses, one of each kind, the kinds in KINDS' order. */
function baseRecords(name: string): string[] {
  const run = runWith(name);
  const first = new Map<string, string>();
  for (const r of recordsOf(name)) {
    const kind = kindOf(r);
    if (!first.has(kind) && !('error' in run(r))) first.set(kind, r);
  }
  return KINDS.flatMap((k) => first.get(k) ?? []).slice(0, MAX_RECORDS);
}

interface Variant {
  label: string;
  make: (n: number) => string;
  /** What make() returns is JSON. */
  json?: boolean;
}

const SEPARATORS = ' \t\n|=,:;"\'[]{}()<>/\\.-';

/** Places next to separators (before and after the first and the middle occurrence of each), spread out. */
function positions(record: string): number[] {
  const at = new Set<number>();
  for (const c of SEPARATORS) {
    const all: number[] = [];
    for (let i = record.indexOf(c); i >= 0; i = record.indexOf(c, i + 1)) all.push(i);
    for (const i of [all[0], all[Math.floor(all.length / 2)]]) {
      if (i === undefined) continue;
      at.add(i);
      at.add(i + 1);
    }
  }
  const sorted = [...at].sort((a, b) => a - b);
  if (sorted.length <= MAX_POSITIONS) return sorted;
  return Array.from({ length: MAX_POSITIONS }, (_, k) => sorted[Math.floor((k * sorted.length) / MAX_POSITIONS)]!);
}

/** A few of `list`, a different few for each shape, so that together the shapes cover the whole list. */
function rotate<T>(list: readonly T[], shapeIndex: number, count: number): T[] {
  if (list.length <= count) return [...list];
  return Array.from({ length: count }, (_, k) => list[(shapeIndex * count + k) % list.length]!);
}

function textVariants(record: string): Variant[] {
  const out: Variant[] = [];
  const places = positions(record);
  SHAPES.forEach((shape, s) => {
    const fill = (n: number) => filler(shape, record, n);
    out.push({ label: `${shape.name} before the record`, make: (n) => fill(n) + record });
    out.push({ label: `${shape.name} after the record`, make: (n) => record + fill(n) });
    for (const p of shape.blank ? places : rotate(places, s, 4)) {
      out.push({ label: `${shape.name} at ${p} (…${JSON.stringify(record.slice(Math.max(0, p - 12), p))}|${JSON.stringify(record.slice(p, p + 12))}…)`, make: (n) => record.slice(0, p) + fill(n) + record.slice(p) });
    }
  });
  return out;
}

type Path = Array<string | number>;

function stringLeaves(v: unknown, path: Path = [], out: Path[] = []): Path[] {
  if (out.length >= 256) return out;
  if (typeof v === 'string') out.push(path);
  else if (Array.isArray(v)) v.forEach((x, i) => stringLeaves(x, [...path, i], out));
  else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) stringLeaves(x, [...path, k], out);
  return out;
}

function withValue(root: unknown, path: Path, value: (old: string) => unknown): unknown {
  if (path.length === 0) return value(root as string);
  const [head, ...rest] = path;
  if (Array.isArray(root)) return root.map((x, i) => (i === head ? withValue(x, rest, value) : x));
  const obj = root as Record<string, unknown>;
  return { ...obj, [head as string]: withValue(obj[head as string], rest, value) };
}

function jsonVariants(record: string): Variant[] {
  const root = JSON.parse(record) as Record<string, unknown>;
  const all = stringLeaves(root);
  const leaves = all.length <= MAX_LEAVES ? all : Array.from({ length: MAX_LEAVES }, (_, k) => all[Math.floor((k * all.length) / MAX_LEAVES)]!);
  const name = (p: Path) => p.join('.');
  const out: Variant[] = [];
  SHAPES.forEach((shape, s) => {
    const fill = (n: number) => filler(shape, record, n);
    for (const p of shape.blank ? leaves : rotate(leaves, s, 3)) {
      out.push({ json: true, label: `${shape.name} after the value of ${name(p)}`, make: (n) => JSON.stringify(withValue(root, p, (v) => v + fill(n))) });
      const mid = (v: string) => Math.max(1, Math.floor(v.length / 2));
      if (shape.blank) out.push({ json: true, label: `${shape.name} inside the value of ${name(p)}`, make: (n) => JSON.stringify(withValue(root, p, (v) => v.slice(0, mid(v)) + fill(n) + v.slice(mid(v)))) });
      else out.push({ json: true, label: `${shape.name} as the value of ${name(p)}`, make: (n) => JSON.stringify(withValue(root, p, () => fill(n))) });
    }
    out.push({
      json: true,
      label: `${shape.name} after every string value`,
      make: (n) => JSON.stringify(all.reduce<unknown>((o, p) => withValue(o, p, (v) => v + fill(Math.ceil(n / all.length))), root)),
    });
  });
  const body = record.trimStart().slice(1);
  out.push({ json: true, label: 'a repeated key', make: (n) => `{${'"zz":1,'.repeat(Math.ceil(n / 7))}${body}` });
  out.push({ json: true, label: 'many keys', make: (n) => JSON.stringify({ ...Object.fromEntries(Array.from({ length: Math.ceil(n / 12) }, (_, i) => [`k${i}`, 1])), ...root }) });
  out.push({ json: true, label: 'deeply nested arrays', make: (n) => `{"zz":${'['.repeat(n / 2)}${']'.repeat(n / 2)},${body}` });
  for (const [k, v] of Object.entries(root)) {
    if (Array.isArray(v) && v.length > 0) {
      const item = JSON.stringify(v[0]);
      out.push({ json: true, label: `${k}: its first element repeated`, make: (n) => JSON.stringify({ ...root, [k]: Array.from({ length: Math.ceil(n / item.length) }, () => v[0]) }) });
    }
  }
  return out;
}

function variantsOf(record: string): Variant[] {
  return record.trimStart()[0] === '{' ? jsonVariants(record) : textVariants(record);
}

// ---- screening and measuring ------------------------------------------------------------------------------

interface Screened {
  variant: Variant;
  ratio: number;
  t64: number;
}

function screen(v: Variant, runs: Runner, where: string): Screened {
  const time = (n: number) => {
    const text = v.make(n);
    const first = v.json ? guardedTime(`${where}, ${v.label}`, n, asRecord(text), runs.json) : guardedTime(`${where}, ${v.label}`, n, text, runs.text);
    if (n <= 4 * KIB) return first;
    // Twice from 16 KiB: a first run alone is often slowed by collecting the previous variant's garbage.
    const input = v.json ? asRecord(text) : undefined;
    return Math.min(first, minTime(() => (input ? runs.json(input) : runs.text(text)), 1));
  };
  time(1 * KIB);
  time(2 * KIB); // 2 KiB: work confined to a record's first 2 KiB still meets the guard
  const t4 = time(4 * KIB);
  const t16 = time(16 * KIB);
  const t64 = time(64 * KIB);
  const ratio = Math.max(t16 / Math.max(t4, floorFor(4 * KIB)), t64 / Math.max(t16, floorFor(16 * KIB)));
  return { variant: v, ratio, t64 };
}

interface Report {
  variants: number;
  measured: number;
  worst?: { label: string; growth: Growth };
}

/** Screens every variant of every record and measures the worst properly; fails on super-linear growth. */
async function checkLinear(where: string, records: readonly string[], runs: Runner, variants: (record: string) => Variant[] = variantsOf): Promise<Report> {
  const report: Report = { variants: 0, measured: 0 };
  for (const record of records) {
    for (let i = 0; i < 20; i++) runs.text(record); // compiled before timing starts
    const screened = variants(record).map((v) => screen(v, runs, where));
    report.variants += screened.length;
    // The worst by ratio, the slowest, and every suspect.
    const byRatio = [...screened].sort((a, b) => b.ratio - a.ratio);
    const bySlowness = [...screened].sort((a, b) => b.t64 - a.t64);
    const chosen = new Set([...byRatio.slice(0, WORST), ...bySlowness.slice(0, 1), ...byRatio.filter((s) => s.ratio > SUSPECT)]);
    for (const s of chosen) {
      const label = `${where}, ${s.variant.label}`;
      const g = s.variant.json ? await assertLinear(label, s.variant.make, runs.json, { prepare: asRecord }) : await assertLinear(label, s.variant.make, runs.text);
      report.measured++;
      if (!report.worst || Math.max(...g.steps) > Math.max(...report.worst.growth.steps)) report.worst = { label: s.variant.label, growth: g };
    }
  }
  return report;
}

function log(where: string, r: Report): void {
  console.log(`${where}: ${r.variants} variants screened, ${r.measured} measured; worst ${r.worst ? `"${r.worst.label}": ${describeGrowth(r.worst.growth)}` : '-'}`);
}

// ---- the tests ----------------------------------------------------------------------------------------

const DETECTOR_FILES = readdirSync(fileURLToPath(new URL('../../src/detectors/', import.meta.url)))
  .filter((f) => f.endsWith('.ts') && f !== 'detector.ts' && !f.endsWith('.d.ts'))
  .sort();

test('every detector file has a linear-time property test (and records to build it from)', () => {
  const names = reg.list().map((d) => d.name).sort();
  assert.equal(names.length, DETECTOR_FILES.length, `detectors ${names.join(', ')} / files ${DETECTOR_FILES.join(', ')}`);
  for (const name of names) assert.ok(baseRecords(name).length > 0, `${name}: no sample record that it parses (test/fixtures/samples/${name} or vendor-samples/${name})`);
});

for (const detector of reg.list()) {
  test(`${detector.name}: work grows linearly with adversarial input`, async () => {
    const where = detector.name;
    log(where, await checkLinear(where, baseRecords(detector.name), runner(reg, detector.name)));
  });
}

test('auto-detection: work grows linearly with adversarial input, in any record and on its own', async () => {
  const runs = runner(reg, 'auto');
  // Shapes on their own (sniffing sees every record), as text and as a JSON string value…
  const bare: Variant[] = SHAPES.flatMap((shape) => [
    { label: `${shape.name} alone`, make: (n: number) => filler(shape, 'x=1 y=2', n) },
    { label: `${shape.name} after a line`, make: (n: number) => `first line\n${filler(shape, 'x=1 y=2', n)}x` },
    { label: `${shape.name} in a JSON value`, make: (n: number) => JSON.stringify({ message: filler(shape, 'x=1 y=2', n), host: 'h' }), json: true },
  ]);
  const report = await checkLinear('auto (no record)', ['x'], runs, () => bare);
  log('auto (no record)', report);
  // …and before and after every detector's records (the head is what sniffing looks at).
  const records = reg.list().flatMap((d) => baseRecords(d.name).slice(0, 1));
  const ends = (record: string): Variant[] =>
    SHAPES.flatMap((shape) => [
      { label: `${shape.name} before ${JSON.stringify(record.slice(0, 24))}…`, make: (n: number) => filler(shape, record, n) + record },
      { label: `${shape.name} after ${JSON.stringify(record.slice(0, 24))}…`, make: (n: number) => record + filler(shape, record, n) },
    ]);
  log('auto (records)', await checkLinear('auto (records)', records, runs, ends));
});

test('a detectors.json mapping (lib/json-mapping.ts): work grows linearly with adversarial input', async () => {
  const mapping: JsonMapping = {
    name: 'acme-edr',
    description: 'Acme EDR detections (JSON webhook)',
    match: { product: 'Acme EDR' },
    fields: {
      title: 'detection.name', time: 'detection.created_at', vendor_id: 'detection.id', severity: 'detection.level',
      action: 'detection.outcome', 'src.ip': 'net.remote_ip', 'host.name': 'device.hostname', 'user.name': 'device.users[0]',
      'file.sha256': 'detection.file.sha256', 'email.to': 'notify', url: 'detection.url',
    },
    severity: { map: { Low: 25, High: 75 } },
  };
  const record = JSON.stringify({
    product: 'Acme EDR',
    detection: { id: 'det-7', name: 'Credential dumping', created_at: '2026-03-04T05:06:07Z', level: 'High', outcome: 'Quarantined', url: 'hxxp://evil[.]example/x', file: { sha256: 'F610428EBDDF6F8CF9E39322E672583C45FCDCF885EFAD0AB48FD53A3DFC2C4B' } },
    net: { remote_ip: '203.0.113.7' },
    device: { hostname: 'WS-042', users: ['alice', 'bob'] },
    notify: 'soc@corp.example',
  });
  const withMapping = await loadDetectors({ jsonMappings: [mapping] });
  const first = normalizeRecord(withMapping, record, 'acme-edr', { receivedAt: RECEIVED_AT });
  assert.ok('alerts' in first, JSON.stringify(first));
  log('acme-edr (mapping)', await checkLinear('acme-edr (mapping)', [record], runner(withMapping, 'acme-edr')));
});
