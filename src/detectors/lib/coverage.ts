/**
 * Parser coverage: from the results of normalizing a set of records (registry.normalizeRecord), how many
 * each detector read, turned into alerts or context, or quarantined (and why), and how often each key
 * alert field was filled. Pure computation, shared by `fido detectors test DIR` and the benchmarks.
 *
 * Fill rates are over alerts (not records), in percent with one decimal; a field counts as filled when the
 * finalised alert has a value there (observables: at least one). They are given for all of a detector's
 * alerts and per event type (the product's own name for the kind of record, `event_type`), and for context
 * events per kind and event type over the context fields. Records no detector claimed are counted
 * under "(none)". Quarantine reasons are grouped after masking the record-specific parts (quoted values,
 * "starts: …" excerpts, key lists), so a thousand garbage lines make one reason, not a thousand.
 */
import type { AlertDraft } from '../../model/alert.js';
import type { ContextEvent } from '../../model/context.js';
import type { NormalizeResult } from './registry.js';
import { LINE_BREAKS } from './text.js';

export const COVERAGE_FIELDS = [
  'time', 'title', 'rule.id', 'rule.name', 'severity', 'action', 'src.ip', 'dst.ip', 'src.port', 'dst.port',
  'host.name', 'host.ip', 'user.name', 'file.name', 'file.sha256', 'file.md5', 'process.name', 'url', 'domain',
  'malware.name', 'observables',
] as const;
export type CoverageField = (typeof COVERAGE_FIELDS)[number];

/** The fields of a context event whose fill is reported: who, from and to where, which session, which device. */
export const CONTEXT_COVERAGE_FIELDS = [
  'time', 'user.name', 'src.ip', 'src.port', 'dst.ip', 'dst.port', 'assigned_ip', 'host.name', 'device.name', 'outcome',
  'session_id', 'start', 'end', 'domain', 'url', 'observables',
] as const;
export type ContextCoverageField = (typeof CONTEXT_COVERAGE_FIELDS)[number];

/** How a detector filled the fields of one event type. */
export interface EventTypeCoverage {
  /** What the records of this type became. */
  as: 'alert' | 'context';
  /** The product's event type (`event_type`), or "(unspecified)"; for context events prefixed by their kind. */
  event_type: string;
  count: number;
  /** Percent of this type's alerts or events with the field filled, for the fields of its `as`. */
  fill: Record<string, number>;
}

/** The event type's name when the detector gave none. */
export const UNSPECIFIED = '(unspecified)';

/** The group of records that no detector claimed (or that failed before one was chosen). */
export const UNATTRIBUTED = '(none)';

export interface ReasonCount {
  reason: string;
  count: number;
  /** The first full reason seen in this group. */
  example: string;
}

export interface DetectorCoverage {
  detector: string;
  /** Records attributed to this detector (claimed by it, or named with --detector). */
  records: number;
  /** Records that produced alerts, and the alerts they produced. */
  alert_records: number;
  alerts: number;
  context_records: number;
  context_events: number;
  quarantined: number;
  top_reasons: ReasonCount[];
  /** Percent (0-100, one decimal) of this detector's alerts with the field filled; all 0 with no alerts. */
  fill: Record<CoverageField, number>;
  /** The same per event type, alerts first, then context events; each sorted by name. */
  event_types: EventTypeCoverage[];
}

export interface CoverageReport {
  totals: { records: number; alert_records: number; alerts: number; context_records: number; quarantined: number };
  /** Sorted by name; "(none)" last. */
  detectors: DetectorCoverage[];
}

/** Whether an alert (or a context event) has a value in the field (empty strings and empty lists do not count). */
export function fieldFilled(alert: AlertDraft | ContextEvent, field: CoverageField | ContextCoverageField): boolean {
  if (field === 'observables') return Array.isArray(alert.observables) && alert.observables.length > 0;
  let v: unknown = alert;
  for (const part of field.split('.')) {
    if (typeof v !== 'object' || v === null) return false;
    v = (v as Record<string, unknown>)[part];
  }
  if (v === undefined || v === null) return false;
  if (typeof v === 'string') return v.trim() !== '';
  if (typeof v === 'number') return Number.isFinite(v);
  if (Array.isArray(v)) return v.length > 0;
  return true;
}

/**
 * Every double-quoted part (backslash escapes honoured) → "…", as /"(?:[^"\\]|\\.)*"/g did, in one pass: that
 * pattern rescanned to the end from every quote of an unterminated string (quadratic). A quote whose string
 * breaks off (a backslash before a line break, or the end) fails at that point, and so does every quote its
 * scan passed: the search goes on after the break, or stops at the end.
 */
export function maskQuoted(s: string): string {
  let out = '';
  let i = 0;
  for (;;) {
    const open = s.indexOf('"', i);
    if (open < 0) break;
    let j = open + 1;
    let broken = -1;
    while (j < s.length && s[j] !== '"') {
      if (s[j] !== '\\') j++;
      else if (j + 1 < s.length && !LINE_BREAKS.includes(s[j + 1]!)) j += 2;
      else {
        broken = j;
        break;
      }
    }
    if (broken >= 0) {
      out += s.slice(i, broken + 1);
      i = broken + 1;
      continue;
    }
    if (j >= s.length) break;
    out += `${s.slice(i, open)}"…"`;
    i = j + 1;
  }
  return out + s.slice(i);
}


/** Masks what differs between records so that reasons of one kind group together. */
export function reasonKey(reason: string): string {
  return maskQuoted(reason
    .replace(/\(starts: .*$/s, '(starts: …)')
    .replace(/\(keys: .*$/s, '(keys: …)'))
    .replace(/\b\d+\b/g, 'N')
    .replace(/\s+/g, ' ')
    .trim()
    .slice(0, 200);
}

interface Acc {
  records: number;
  alertRecords: number;
  alerts: number;
  contextRecords: number;
  contextEvents: number;
  quarantined: number;
  filled: Map<CoverageField, number>;
  reasons: Map<string, { count: number; example: string }>;
  types: Map<string, TypeAcc>;
}

interface TypeAcc {
  as: 'alert' | 'context';
  eventType: string;
  count: number;
  filled: Map<string, number>;
}

/** Accumulates results one at a time (streaming over large directories). */
export class CoverageCollector {
  private readonly byDetector = new Map<string, Acc>();

  /** Adds one record's result; `forced` attributes a failure to the named detector when it names none. */
  add(result: NormalizeResult, forced?: string): void {
    const name = ('detector' in result && result.detector) || forced || UNATTRIBUTED;
    const acc = this.acc(name);
    acc.records++;
    if ('error' in result) {
      acc.quarantined++;
      const key = reasonKey(result.error);
      const r = acc.reasons.get(key);
      if (r) r.count++;
      else acc.reasons.set(key, { count: 1, example: result.error.slice(0, 500) });
      return;
    }
    if ('context' in result) {
      acc.contextRecords++;
      acc.contextEvents += result.context.length;
      for (const event of result.context) countFields(typeAcc(acc, 'context', `${event.kind}/${event.event_type ?? UNSPECIFIED}`), event, CONTEXT_COVERAGE_FIELDS);
      return;
    }
    acc.alertRecords++;
    for (const alert of result.alerts) {
      acc.alerts++;
      for (const f of COVERAGE_FIELDS) if (fieldFilled(alert, f)) acc.filled.set(f, (acc.filled.get(f) ?? 0) + 1);
      countFields(typeAcc(acc, 'alert', alert.event_type ?? UNSPECIFIED), alert, COVERAGE_FIELDS);
    }
  }

  report(topReasons = 5): CoverageReport {
    const detectors = [...this.byDetector.entries()]
      .sort(([a], [b]) => (a === UNATTRIBUTED ? 1 : b === UNATTRIBUTED ? -1 : a < b ? -1 : a > b ? 1 : 0))
      .map(([detector, acc]) => toCoverage(detector, acc, topReasons));
    const totals = { records: 0, alert_records: 0, alerts: 0, context_records: 0, quarantined: 0 };
    for (const d of detectors) {
      totals.records += d.records;
      totals.alert_records += d.alert_records;
      totals.alerts += d.alerts;
      totals.context_records += d.context_records;
      totals.quarantined += d.quarantined;
    }
    return { totals, detectors };
  }

  private acc(name: string): Acc {
    let acc = this.byDetector.get(name);
    if (!acc) {
      acc = { records: 0, alertRecords: 0, alerts: 0, contextRecords: 0, contextEvents: 0, quarantined: 0, filled: new Map(), reasons: new Map(), types: new Map() };
      this.byDetector.set(name, acc);
    }
    return acc;
  }
}

function typeAcc(acc: Acc, as: 'alert' | 'context', eventType: string): TypeAcc {
  const key = `${as}:${eventType}`;
  let t = acc.types.get(key);
  if (!t) acc.types.set(key, (t = { as, eventType, count: 0, filled: new Map() }));
  return t;
}

function countFields(t: TypeAcc, item: AlertDraft | ContextEvent, fields: ReadonlyArray<CoverageField | ContextCoverageField>): void {
  t.count++;
  for (const f of fields) if (fieldFilled(item, f)) t.filled.set(f, (t.filled.get(f) ?? 0) + 1);
}

const percent = (n: number, of: number) => (of ? Math.round((n / of) * 1000) / 10 : 0);

function toCoverage(detector: string, acc: Acc, topReasons: number): DetectorCoverage {
  const fill = {} as Record<CoverageField, number>;
  for (const f of COVERAGE_FIELDS) fill[f] = percent(acc.filled.get(f) ?? 0, acc.alerts);
  const event_types = [...acc.types.values()]
    .sort((a, b) => (a.as !== b.as ? (a.as === 'alert' ? -1 : 1) : a.eventType < b.eventType ? -1 : a.eventType > b.eventType ? 1 : 0))
    .map((t) => ({
      as: t.as,
      event_type: t.eventType,
      count: t.count,
      fill: Object.fromEntries((t.as === 'alert' ? COVERAGE_FIELDS : CONTEXT_COVERAGE_FIELDS).map((f) => [f, percent(t.filled.get(f) ?? 0, t.count)])),
    }));
  const top_reasons = [...acc.reasons.entries()]
    .map(([reason, r]) => ({ reason, count: r.count, example: r.example }))
    .sort((a, b) => b.count - a.count || (a.reason < b.reason ? -1 : 1))
    .slice(0, topReasons);
  return {
    detector,
    records: acc.records,
    alert_records: acc.alertRecords,
    alerts: acc.alerts,
    context_records: acc.contextRecords,
    context_events: acc.contextEvents,
    quarantined: acc.quarantined,
    top_reasons,
    fill,
    event_types,
  };
}

/** Coverage of a finite set of results. */
export function coverageOf(results: Iterable<NormalizeResult>, topReasons = 5): CoverageReport {
  const c = new CoverageCollector();
  for (const r of results) c.add(r);
  return c.report(topReasons);
}

/** The report as plain-text tables: a summary, then one block per detector. */
export function formatCoverage(report: CoverageReport): string {
  const lines: string[] = [];
  const w = Math.max(8, ...report.detectors.map((d) => d.detector.length));
  lines.push(`${'DETECTOR'.padEnd(w)}  ${'RECORDS'.padStart(7)}  ${'ALERT REC'.padStart(9)}  ${'ALERTS'.padStart(7)}  ${'CONTEXT'.padStart(7)}  ${'QUARANTINED'.padStart(11)}`);
  for (const d of report.detectors) {
    lines.push(`${d.detector.padEnd(w)}  ${String(d.records).padStart(7)}  ${String(d.alert_records).padStart(9)}  ${String(d.alerts).padStart(7)}  ${String(d.context_records).padStart(7)}  ${String(d.quarantined).padStart(11)}`);
  }
  const t = report.totals;
  lines.push(`${'TOTAL'.padEnd(w)}  ${String(t.records).padStart(7)}  ${String(t.alert_records).padStart(9)}  ${String(t.alerts).padStart(7)}  ${String(t.context_records).padStart(7)}  ${String(t.quarantined).padStart(11)}`);
  for (const d of report.detectors) {
    lines.push('', `== ${d.detector} ==`);
    lines.push(`records read      ${d.records}`);
    lines.push(`parsed (alerts)   ${d.alert_records} records, ${d.alerts} alerts`);
    lines.push(`context           ${d.context_records} records, ${d.context_events} events`);
    lines.push(`quarantined       ${d.quarantined}`);
    for (const r of d.top_reasons) lines.push(`  ${String(r.count).padStart(5)}× ${r.reason}`);
    if (d.alerts > 0) {
      lines.push('fill rate (% of alerts)');
      lines.push(...fillLines(COVERAGE_FIELDS, d.fill));
    }
    for (const t of d.event_types) {
      lines.push(`${t.as === 'alert' ? 'alerts' : 'context'} of type ${t.event_type}: ${t.count}, fill rate`);
      lines.push(...fillLines(t.as === 'alert' ? COVERAGE_FIELDS : CONTEXT_COVERAGE_FIELDS, t.fill));
    }
  }
  return `${lines.join('\n')}\n`;
}

/** Three fields to a line: "  src.ip        100.0%". */
function fillLines(fields: readonly string[], fill: Record<string, number>): string[] {
  const lines: string[] = [];
  for (let i = 0; i < fields.length; i += 3) {
    lines.push(
      fields
        .slice(i, i + 3)
        .map((f) => `  ${f.padEnd(13)}${`${(fill[f] ?? 0).toFixed(1)}%`.padStart(7)}`)
        .join('  '),
    );
  }
  return lines;
}
