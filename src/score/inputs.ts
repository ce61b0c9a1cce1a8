/**
 * Reading an incident for scoring. Enrichment `data` is whatever a provider returned (and may come from a
 * hand-written file passed to `fido score`), so every accessor here tolerates missing or mistyped fields:
 * a malformed record contributes nothing rather than throwing or producing NaN points.
 */
import type { Alert } from '../model/alert.js';
import type { Enrichment } from '../model/enrichment.js';
import type { IncidentDetail } from '../model/incident.js';

/** An enrichment row that carries an answer (errors are left out: they say nothing about risk). */
export type Answer = Pick<Enrichment, 'provider' | 'subject' | 'data' | 'found'>;

export function answers(detail: Pick<IncidentDetail, 'enrichment'>): Answer[] {
  const out: Answer[] = [];
  for (const e of detail.enrichment ?? []) {
    if (!e || typeof e !== 'object' || 'error' in e) continue;
    const data = isRecord(e.data) ? e.data : {};
    if (!e.subject || typeof e.subject.value !== 'string') continue;
    out.push({ provider: e.provider, subject: e.subject, data, found: e.found === true });
  }
  return out;
}

/** Found answers from the providers named (a profile maps each source to configured provider names). */
export function fromProviders(all: readonly Answer[], names: readonly string[]): Answer[] {
  const set = new Set(names);
  return all.filter((a) => a.found && set.has(a.provider));
}

export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A finite number, also from a numeric string ("12"); anything else is undefined. */
export function num(v: unknown): number | undefined {
  if (typeof v === 'number') return Number.isFinite(v) ? v : undefined;
  if (typeof v === 'bigint') return Number(v);
  if (typeof v === 'string' && /^\s*-?\d+(\.\d+)?\s*$/.test(v)) return Number(v);
  return undefined;
}

export function str(v: unknown): string | undefined {
  return typeof v === 'string' && v.length > 0 ? v : undefined;
}

export function list(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}

export function strings(v: unknown): string[] {
  return list(v).filter((x): x is string => typeof x === 'string');
}

/** Epoch ms of an ISO string or epoch number; undefined when unparseable. */
export function time(v: unknown): number | undefined {
  if (typeof v === 'number') return Number.isFinite(v) ? v : undefined;
  if (typeof v !== 'string') return undefined;
  const t = Date.parse(v);
  return Number.isFinite(t) ? t : undefined;
}

export function alertsOf(detail: Pick<IncidentDetail, 'alerts'>): Alert[] {
  return (detail.alerts ?? []).filter((a): a is Alert => isRecord(a));
}

/** Rule ids and names of the incident's alerts, for rule-scoped allowlist entries and history. */
export function ruleKeys(alerts: readonly Alert[]): Set<string> {
  const out = new Set<string>();
  for (const a of alerts) {
    if (a.rule?.id !== undefined) out.add(String(a.rule.id));
    if (a.rule?.name) out.add(a.rule.name);
  }
  return out;
}

/**
 * Subject text for evidence lines. Values come from alerts (attacker-influenced): control characters are
 * dropped and long values (URLs, command lines) shortened, so an explanation stays one readable line.
 */
export function subjectText(a: Pick<Answer, 'subject'>): string {
  return `${a.subject.type}:${clip(a.subject.value, 80)}`;
}

export function clip(s: string, max = 80): string {
  // eslint-disable-next-line no-control-regex -- stripping control characters is the point
  const clean = s.replace(/[\u0000-\u001f\u007f]/g, ' ');
  return clean.length > max ? `${clean.slice(0, max - 1)}…` : clean;
}

export const CRITICALITIES = ['low', 'medium', 'high', 'critical'] as const;
export type Criticality = (typeof CRITICALITIES)[number];

export function criticality(v: unknown): Criticality | undefined {
  const s = typeof v === 'string' ? v.trim().toLowerCase() : '';
  return (CRITICALITIES as readonly string[]).includes(s) ? (s as Criticality) : undefined;
}
