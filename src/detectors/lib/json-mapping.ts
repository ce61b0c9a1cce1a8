/**
 * The generic JSON detector: one per `detectors.json[]` entry of fido.yaml, so a product that sends JSON can
 * be onboarded with configuration instead of code.
 *
 *   detectors:
 *     json:
 *       - name: acme-edr
 *         match: { "product": "Acme EDR" }                  # sniffing: every pair must be equal
 *         fields:                                           # alert field → dotted path in the record
 *           title: detection.name
 *           time: detection.created_at
 *           vendor_id: detection.id
 *           severity: detection.level
 *           host.name: device.hostname
 *           file.sha256: detection.file.sha256
 *         severity: { map: { low: 25, high: 75 } }          # or { scale: 10 }, or { scale: 5, invert: true }
 *
 * Paths: see jsonpath.ts (a.b[0].c; own properties only). Mapping mistakes (unknown alert field, bad
 * path, no title) throw when the detector is built, i.e. at startup, not per record.
 */
import type { AlertDraft } from '../../model/alert.js';
import type { JsonMapping } from '../../config/schema.js';
import { ParseError, type Detector, type ParseOutcome, type RawRecord } from '../detector.js';
import { getPath, parsePath, type PathSegment } from './jsonpath.js';
import { parseTimestamp } from './time.js';
import { receivedTime } from './context.js';
import { UNKNOWN_SEVERITY, scaleSeverity, wordSeverity } from './severity.js';
import { mapAction } from './action.js';
import { isObject, toNumber } from './values.js';
import { scalarString } from './text.js';

type Kind = 'text' | 'int' | 'list' | 'time' | 'severity' | 'action';

/** Every alert field a mapping may fill, with how the record's value is read. */
export const MAPPABLE_FIELDS: Readonly<Record<string, Kind>> = {
  title: 'text', time: 'time', vendor_id: 'text', severity: 'severity', action: 'action',
  'rule.id': 'text', 'rule.name': 'text', 'rule.category': 'text',
  'src.ip': 'text', 'src.port': 'int', 'src.host': 'text', 'src.user': 'text',
  'dst.ip': 'text', 'dst.port': 'int', 'dst.host': 'text', 'dst.user': 'text',
  'host.name': 'text', 'host.ip': 'text', 'host.id': 'text', 'host.os': 'text', 'host.mac': 'text',
  'user.name': 'text', 'user.domain': 'text', 'user.email': 'text',
  'file.name': 'text', 'file.path': 'text', 'file.md5': 'text', 'file.sha1': 'text', 'file.sha256': 'text', 'file.size': 'int',
  'process.name': 'text', 'process.command_line': 'text', 'process.pid': 'int', 'process.parent_name': 'text',
  url: 'text', domain: 'text',
  'email.from': 'text', 'email.to': 'list', 'email.subject': 'text',
  'malware.name': 'text', 'malware.family': 'text',
};

interface CompiledField {
  field: string;
  kind: Kind;
  source: string;
  path: readonly PathSegment[];
}

/** Builds the detector; throws Error naming the mapping and the key for a configuration mistake. */
export function jsonMappingDetector(mapping: JsonMapping): Detector {
  const where = `detectors.json "${mapping.name}"`;
  const fields: CompiledField[] = Object.entries(mapping.fields).map(([field, source]) => {
    const kind = MAPPABLE_FIELDS[field];
    if (!kind || !Object.hasOwn(MAPPABLE_FIELDS, field)) throw new Error(`${where}: fields.${field} is not an alert field (one of: ${Object.keys(MAPPABLE_FIELDS).join(', ')})`);
    return { field, kind, source, path: compilePath(source, `${where}: fields.${field}`) };
  });
  if (!fields.some((f) => f.field === 'title')) throw new Error(`${where}: fields.title is required`);
  const match = Object.entries(mapping.match ?? {}).map(([path, value]) => ({ source: path, path: compilePath(path, `${where}: match`), value }));
  const required = fields.filter((f) => f.field === 'title' || f.field === 'time');

  return {
    name: mapping.name,
    description: mapping.description ?? `JSON mapping "${mapping.name}" (fido.yaml detectors.json)`,
    format: 'json',
    sniff(record: RawRecord): number {
      if (!isObject(record.json)) return 0;
      if (match.length) return match.every((m) => sameValue(getPath(record.json, m.path), m.value)) ? 0.95 : 0;
      // No match rule: claim records that carry the required fields, but below any product detector's score.
      return required.every((f) => present(getPath(record.json, f.path))) ? 0.5 : 0;
    },
    parse(record: RawRecord): ParseOutcome {
      if (!isObject(record.json)) throw new ParseError(`${mapping.name} expects a JSON object`);
      return { kind: 'alerts', alerts: [buildAlert(record.json, fields, mapping)] };
    },
  };
}

function compilePath(path: string, where: string): readonly PathSegment[] {
  try {
    return parsePath(path);
  } catch (e) {
    throw new Error(`${where}: ${(e as Error).message}`);
  }
}

function present(v: unknown): boolean {
  return v !== undefined && v !== null && v !== '';
}

function sameValue(actual: unknown, expected: string | number | boolean): boolean {
  if (typeof expected === 'boolean') return actual === expected;
  return (typeof actual === 'string' || typeof actual === 'number') && String(actual) === String(expected);
}

function buildAlert(json: Record<string, unknown>, fields: readonly CompiledField[], mapping: JsonMapping): AlertDraft {
  const draft: Record<string, unknown> = { observables: [], severity: UNKNOWN_SEVERITY };
  let hasTime = false;
  for (const f of fields) {
    const raw = getPath(json, f.path);
    if (!present(raw)) {
      if (f.field === 'title' || f.field === 'time') throw new ParseError(`missing ${f.field}: nothing at "${f.source}"`);
      continue;
    }
    const value = convert(f, raw, mapping);
    if (value === undefined) continue;
    if (f.field === 'time') hasTime = true;
    if (f.field === 'severity') {
      const sev = value as { score: number; vendor: string };
      draft.severity = sev.score;
      draft.vendor_severity = { value: sev.vendor, scale: severityScaleName(mapping) };
      continue;
    }
    setField(draft, f.field, value);
  }
  if (!hasTime) draft.time = receivedTime(); // no time mapped: the record's time is when it arrived
  return draft as unknown as AlertDraft;
}

function convert(f: CompiledField, raw: unknown, mapping: JsonMapping): unknown {
  switch (f.kind) {
    case 'text':
      return firstScalar(raw);
    case 'int':
      return toNumber(firstScalar(raw));
    case 'list':
      return (Array.isArray(raw) ? raw : [raw]).map(scalarString).filter((s): s is string => s !== undefined);
    case 'time':
      return parseTimestamp(firstScalar(raw) ?? raw, { field: f.source });
    case 'action':
      return mapAction(firstScalar(raw));
    case 'severity': {
      const vendor = firstScalar(raw);
      if (vendor === undefined) return undefined;
      return { score: mapSeverity(vendor, mapping) ?? UNKNOWN_SEVERITY, vendor };
    }
  }
}

/** A string, or a number/boolean as text; for an array, its first such element. */
function firstScalar(v: unknown): string | undefined {
  if (Array.isArray(v)) return v.length ? firstScalar(v[0]) : undefined;
  return scalarString(v);
}

function mapSeverity(vendor: string, mapping: JsonMapping): number | undefined {
  const cfg = mapping.severity;
  if (cfg?.map) {
    const key = Object.keys(cfg.map).find((k) => k.toLowerCase() === vendor.trim().toLowerCase());
    if (key !== undefined) return cfg.map[key];
  }
  const n = toNumber(vendor);
  if (n !== undefined) {
    if (cfg?.scale) return scaleSeverity(n, cfg.scale, cfg.invert ?? false);
    return n >= 0 && n <= 100 ? n : undefined;
  }
  return wordSeverity(vendor);
}

function severityScaleName(mapping: JsonMapping): string {
  const s = mapping.severity;
  if (s?.scale) return s.invert ? `${mapping.name} 1-${s.scale} (1 most severe)` : `${mapping.name} 0-${s.scale}`;
  if (s?.map) return `${mapping.name} words`;
  return `${mapping.name} (0-100 or words)`;
}

/** Sets "a.b" on the draft, creating the intermediate object (paths come from MAPPABLE_FIELDS only). */
function setField(draft: Record<string, unknown>, field: string, value: unknown): void {
  const dot = field.indexOf('.');
  if (dot < 0) {
    draft[field] = value;
    return;
  }
  const head = field.slice(0, dot);
  const obj = (draft[head] ??= {}) as Record<string, unknown>;
  obj[field.slice(dot + 1)] = value;
}
