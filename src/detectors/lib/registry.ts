/**
 * The detector registry: finds the detectors (one file per product in src/detectors, plus one generic JSON
 * detector per `detectors.json[]` mapping), auto-detects a record's format, and turns raw text into
 * finalised alerts or context events without ever throwing: what cannot be parsed comes back as a reason
 * for the quarantine.
 *
 * Auto-detection: every detector sniffs (0 … 1); the highest score at or above SNIFF_THRESHOLD wins. Ties go
 * to configured mappings before built-in detectors (the operator said so explicitly), then by name, so the
 * result never depends on file-system order. Sniff scores, by convention:
 *   ≥ 0.9  the product's own markers (EVE's event_type + timestamp, "CEF:0|Trend Micro|…")
 *   0.6    a generic format without product markers (any CEF line: the generic cef detector)
 *   0.5    a configured JSON mapping without `match`
 *   < 0.5  not claimed
 */
import { discoverComponents } from '../../component/discover.js';
import type { AlertDraft } from '../../model/alert.js';
import type { JsonMapping } from '../../config/schema.js';
import { ParseError, detectorProblem, type ContextEvent, type Detector, type ParseOutcome, type RawRecord } from '../detector.js';
import { jsonMappingDetector } from './json-mapping.js';
import { finalizeAlert, finalizeContext } from './observables.js';
import { withParseContext } from './context.js';
import { excerpt } from './text.js';
import { isObject } from './values.js';

export const SNIFF_THRESHOLD = 0.5;

export interface LoadOptions {
  /** `detectors.json` from fido.yaml. */
  jsonMappings?: readonly JsonMapping[];
  /** Directory to scan instead of src/detectors (tests). */
  dir?: string | URL;
}

export type DetectResult = { detector: Detector } | { reason: string };
export type ParseResult = { detector: string; outcome: ParseOutcome } | { error: string; detector?: string };
export type NormalizeResult =
  | { alerts: AlertDraft[]; detector: string }
  | { context: ContextEvent[]; detector: string }
  | { error: string; detector?: string };

export interface NormalizeOptions {
  /** When Fido received the record (ISO or Date): year inference and the time of records without one. Default now. */
  receivedAt?: string | Date;
  /** Zone of the source's zone-less timestamps (IANA name or offset). Default UTC. */
  timeZone?: string;
}

export interface DetectorRegistry {
  /** All detectors, sorted by name. */
  list(): readonly Detector[];
  get(name: string): Detector | undefined;
  detect(record: RawRecord): DetectResult;
  /** Parses one record with the named detector, or auto-detects ('auto' or null). Never throws. */
  parseRecord(text: string, detector: string | null, opts?: NormalizeOptions): ParseResult;
}

const DETECTORS_DIR = new URL('../', import.meta.url);

/** Discovers the detector files and builds the JSON mappings; throws naming the file or mapping at fault. */
export async function loadDetectors(opts: LoadOptions = {}): Promise<DetectorRegistry> {
  const detectors = await discover(opts.dir ?? DETECTORS_DIR);
  const builtins = new Set(detectors.map((d) => d.name));
  const mappings = new Set<string>();
  for (const mapping of opts.jsonMappings ?? []) {
    if (builtins.has(mapping.name) || mappings.has(mapping.name)) {
      throw new Error(`detectors.json "${mapping.name}": a detector with that name already exists`);
    }
    mappings.add(mapping.name);
    detectors.push(jsonMappingDetector(mapping));
  }
  return createRegistry(detectors, mappings);
}

function discover(dir: string | URL): Promise<Detector[]> {
  return discoverComponents<Detector>(dir, 'detector', { problemOf: detectorProblem, nameOf: (d) => d.name, skip: ['detector'] });
}

/** A registry over a fixed list (mapping names get tie-break priority). Exported for tests and tools. */
export function createRegistry(detectors: readonly Detector[], mappingNames: ReadonlySet<string> = new Set()): DetectorRegistry {
  const sorted = Object.freeze([...detectors].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)));
  const byName = new Map(sorted.map((d) => [d.name, d]));
  const rank = (d: Detector) => (mappingNames.has(d.name) ? 0 : 1);

  function detect(record: RawRecord): DetectResult {
    let best: { d: Detector; score: number } | undefined;
    for (const d of sorted) {
      if (d.format === 'json' && record.json === undefined) continue;
      const score = safeSniff(d, record);
      if (score < SNIFF_THRESHOLD) continue;
      if (!best || score > best.score || (score === best.score && rank(d) < rank(best.d))) best = { d, score };
    }
    return best ? { detector: best.d } : { reason: unrecognised(record) };
  }

  function parseRecord(text: string, name: string | null, opts: NormalizeOptions = {}): ParseResult {
    const { record, jsonError } = prepare(text);
    let detector: Detector;
    if (name === null || name === 'auto') {
      const found = detect(record);
      if ('reason' in found) return { error: jsonError ? `${found.reason}; ${jsonError}` : found.reason };
      detector = found.detector;
    } else {
      const named = byName.get(name);
      if (!named) return { error: `unknown detector "${name}" (known: ${sorted.map((d) => d.name).join(', ') || 'none'})` };
      detector = named;
      if (detector.format === 'json' && record.json === undefined) {
        return { error: `${detector.name} expects JSON; ${jsonError ?? `input is not JSON (starts: ${excerpt(text.trim())})`}`, detector: detector.name };
      }
    }
    return runParse(detector, record, opts);
  }

  return { list: () => sorted, get: (n) => byName.get(n), detect, parseRecord };
}

function safeSniff(d: Detector, record: RawRecord): number {
  try {
    const s = d.sniff(record);
    return typeof s === 'number' && Number.isFinite(s) ? s : 0;
  } catch {
    return 0; // sniff must not throw; one that does simply does not claim the record
  }
}

function runParse(detector: Detector, record: RawRecord, opts: NormalizeOptions): ParseResult {
  try {
    const outcome = withParseContext(contextOf(opts), () => detector.parse(record));
    const problem = outcomeProblem(outcome);
    if (problem) return { error: `detector ${detector.name} returned ${problem}`, detector: detector.name };
    return { detector: detector.name, outcome };
  } catch (e) {
    if (e instanceof ParseError) return { error: e.message, detector: detector.name };
    const msg = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
    return { error: `detector ${detector.name} failed: ${msg.slice(0, 500)}`, detector: detector.name };
  }
}

function contextOf(opts: NormalizeOptions): { receivedAt: Date; timeZone: string } {
  const at = opts.receivedAt === undefined ? new Date() : new Date(opts.receivedAt);
  return { receivedAt: Number.isFinite(at.getTime()) ? at : new Date(), timeZone: opts.timeZone ?? 'UTC' };
}

function outcomeProblem(o: unknown): string | undefined {
  if (!isObject(o)) return 'no outcome';
  if (o.kind === 'alerts') return Array.isArray(o.alerts) ? undefined : 'alerts that are not an array';
  if (o.kind === 'context') return Array.isArray(o.events) ? undefined : 'context events that are not an array';
  return `an outcome of unknown kind ${JSON.stringify(o.kind)?.slice(0, 40)}`;
}

/** The record as detectors see it: JSON parsed once when the text looks like JSON. */
export function rawRecord(text: string): RawRecord {
  return prepare(text).record;
}

function prepare(text: string): { record: RawRecord; jsonError?: string } {
  const t = text.trimStart();
  if (t[0] !== '{' && t[0] !== '[') return { record: { text } };
  // Text that starts like JSON but does not end like it is not handed to JSON.parse: on a long run of "[" its
  // time grows faster than the run (11 times from 16 to 64 KiB) before it finds the end missing.
  const close = t[0] === '{' ? '}' : ']';
  if (!t.trimEnd().endsWith(close)) return { record: { text }, jsonError: `not valid JSON: it starts with "${t[0]}" but does not end with "${close}"` };
  try {
    return { record: { text, json: JSON.parse(text) as unknown } };
  } catch (e) {
    return { record: { text }, jsonError: `not valid JSON: ${(e as Error).message.slice(0, 200)}` };
  }
}

function unrecognised(record: RawRecord): string {
  const json = record.json;
  if (isObject(json)) {
    const keys = Object.keys(json);
    const shown = keys.slice(0, 12).map((k) => excerpt(k, 32)).join(', ');
    return `no detector recognised this JSON object (keys: ${shown}${keys.length > 12 ? `, … ${keys.length} in all` : ''})`;
  }
  if (Array.isArray(json)) return `no detector recognised this JSON array (${json.length} elements); send its elements as separate records`;
  if (json !== undefined) return `no detector recognised this JSON ${json === null ? 'null' : typeof json}`;
  if (record.text.trim() === '') return 'empty record';
  return `no detector recognised this text line (starts: ${excerpt(record.text.trim(), 60)})`;
}

/**
 * What the pipeline's normalize stage calls: parse, then finalise every alert (normalised fields, severity
 * label, observables). A detector that produces nothing is an error too: nothing is dropped silently.
 */
export function normalizeRecord(registry: DetectorRegistry, text: string, detectorHint: string | null, opts: NormalizeOptions = {}): NormalizeResult {
  const parsed = registry.parseRecord(text, detectorHint, opts);
  if ('error' in parsed) return parsed;
  const { detector, outcome } = parsed;
  if (outcome.kind === 'context') {
    if (outcome.events.length === 0) return { error: `detector ${detector} produced nothing from this record`, detector };
    try {
      const fallback = contextOf(opts).receivedAt.toISOString();
      return { context: outcome.events.map((e) => finalizeContext(e, fallback)), detector };
    } catch (e) {
      return { error: `detector ${detector} returned a bad context event: ${(e as Error).message}`, detector };
    }
  }
  if (outcome.alerts.length === 0) return { error: `detector ${detector} produced nothing from this record`, detector };
  try {
    return { alerts: outcome.alerts.map((a) => finalizeAlert(a)), detector };
  } catch (e) {
    if (e instanceof ParseError) return { error: e.message, detector };
    return { error: `detector ${detector} returned a bad alert: ${(e as Error).message}`, detector };
  }
}

/**
 * The registry in the shape the normalize stage (src/pipeline/stages/normalize.ts) takes. Pass the intake
 * record's received time so that a batch redone after a crash yields the same alerts.
 */
export function createNormalizer(registry: DetectorRegistry): {
  normalize(text: string, detector: string | null, opts?: NormalizeOptions): NormalizeResult;
} {
  return { normalize: (text, detector, opts) => normalizeRecord(registry, text, detector, opts) };
}
