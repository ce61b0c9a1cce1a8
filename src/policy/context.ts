/**
 * What a rule's `when` sees (docs/policy.md):
 *
 *   incident     { id, title, status, verdict, alert_count, host, user, severity, severity_label,
 *                  first_seen, last_seen, detectors, sources, rules }, over every alert of the incident
 *   alerts       the alerts that stand for the whole incident (without `raw`): each distinct rule's most
 *                severe alert and the newest alerts by arrival (correlate/digest.ts), at most 200
 *   score        { total, profile, components: {threat, asset, …}, factors: [{factor, points, evidence}] }
 *   enrichment   provider name → [{ subject: {type, value}, data, found }]  (every configured provider
 *                has a key, so `enrichment.allowlist.exists(…)` works when nothing was found)
 *   observables  every distinct {type, value, role} of those alerts, then every other indicator of the
 *                incident's alerts, newest first (role ""), at most 500
 *
 * Everything is bounded (list lengths, string lengths, nesting depth) because evaluation time grows with
 * the data, and alert fields are attacker-influenced. Types follow one rule: numbers Fido computes (counts,
 * severities, scores, ports, sizes) are CEL int; numbers from outside (enrichment data) are double.
 */
import type { Alert } from '../model/alert.js';
import { severityLabel } from '../model/alert.js';
import type { IncidentDetail } from '../model/incident.js';
import type { Score } from '../model/score.js';
import { POLICY_VARIABLES, type PolicyVariable } from './cel.js';
import { digestRuleNames } from '../correlate/digest.js';

export const CONTEXT_LIMITS = Object.freeze({
  alerts: 200,
  observables: 500,
  perProvider: 200,
  /** Longer strings are cut (rules comparing e.g. command lines see the first 8 KiB). */
  string: 8192,
  list: 200,
  keys: 200,
  depth: 8,
});

export type CelContext = Record<string, unknown>;
/** CEL maps are JS Maps: they survive the copy into the sandbox worker with every key as plain data
 * (a provider key named "constructor" or "__proto__" cannot change how an object is typed or read). */
export type CelMap = Map<string, unknown>;

/** Any JSON-like value as CEL sees it: numbers → double, objects → maps, bounded sizes, no undefined. */
export function celValue(v: unknown, depth = 0): unknown {
  if (v === null || typeof v === 'boolean' || typeof v === 'bigint') return v;
  if (typeof v === 'string') return v.length > CONTEXT_LIMITS.string ? v.slice(0, CONTEXT_LIMITS.string) : v;
  if (typeof v === 'number') return Number.isFinite(v) ? v : null;
  if (depth >= CONTEXT_LIMITS.depth) return null;
  if (Array.isArray(v)) {
    return v
      .slice(0, CONTEXT_LIMITS.list)
      .map((x) => celValue(x, depth + 1))
      .filter((x) => x !== undefined);
  }
  if (typeof v === 'object') {
    const out: CelMap = new Map();
    for (const [k, x] of Object.entries(v)) {
      if (out.size >= CONTEXT_LIMITS.keys) break;
      const c = celValue(x, depth + 1);
      if (c !== undefined) out.set(k, c);
    }
    return out;
  }
  return undefined; // functions, symbols, undefined
}

/** A Fido-computed integer as CEL int. */
function int(v: unknown): bigint | undefined {
  return typeof v === 'number' && Number.isFinite(v) ? BigInt(Math.trunc(v)) : undefined;
}

function setInts(m: unknown, ints: Record<string, unknown>): void {
  if (!(m instanceof Map)) return;
  for (const [k, v] of Object.entries(ints)) {
    const i = int(v);
    if (i !== undefined) m.set(k, i);
  }
}

function alertValue(a: Alert): CelMap {
  const { raw: _raw, ...rest } = a;
  const out = celValue(rest) as CelMap;
  setInts(out, { severity: a.severity, repeat_count: (a as { repeat_count?: unknown }).repeat_count });
  setInts(out.get('src'), { port: a.src?.port });
  setInts(out.get('dst'), { port: a.dst?.port });
  setInts(out.get('process'), { pid: a.process?.pid });
  setInts(out.get('file'), { size: a.file?.size });
  return out;
}

function distinct(values: Iterable<string | undefined | null>): string[] {
  return [...new Set([...values].filter((v): v is string => typeof v === 'string' && v.length > 0))].slice(0, CONTEXT_LIMITS.list);
}

function incidentValue(d: IncidentDetail, alerts: readonly Alert[]): CelMap {
  const severities = alerts.map((a) => a.severity).filter((s): s is number => typeof s === 'number' && Number.isFinite(s));
  // The digest covers every alert (each rule with its highest severity), the alerts loaded only some.
  const digest = d.digest && d.digest.rules.length > 0 ? d.digest : undefined;
  const severity = Math.max(0, ...severities, ...(digest?.rules.map((r) => r.severity) ?? []));
  const out = celValue({
    id: d.id,
    title: d.title,
    status: d.status,
    verdict: d.verdict ?? null,
    host: d.host ?? null,
    user: d.user ?? null,
    first_seen: d.first_seen,
    last_seen: d.last_seen,
    severity_label: severityLabel(severity),
    detectors: distinct([...(digest?.detectors ?? []), ...alerts.map((a) => a.detector)]),
    sources: distinct([...(digest?.sources ?? []), ...alerts.map((a) => a.source)]),
    rules: distinct([...(digest ? digestRuleNames(digest) : []), ...alerts.flatMap((a) => [a.rule?.id, a.rule?.name])]),
  }) as CelMap;
  setInts(out, { alert_count: d.alert_count ?? alerts.length, severity });
  return out;
}

function scoreValue(score: Score | null): CelMap {
  const s = score ?? { profile: '', total: 0, components: {}, explanation: [] };
  const components: CelMap = new Map(Object.entries(s.components ?? {}).map(([k, v]) => [k, int(v) ?? 0n]));
  const factors = (s.explanation ?? [])
    .slice(0, CONTEXT_LIMITS.list)
    .map((f): CelMap => new Map<string, unknown>([['factor', celValue(f.factor)], ['points', int(f.points) ?? 0n], ['evidence', celValue(f.evidence)]]));
  return new Map<string, unknown>([
    ['total', int(s.total) ?? 0n],
    ['profile', s.profile ?? ''],
    ['components', components],
    ['factors', factors],
  ]);
}

function enrichmentValue(d: IncidentDetail, providers: readonly string[]): Map<string, CelMap[]> {
  const out = new Map<string, CelMap[]>(providers.map((p) => [p, []]));
  for (const e of d.enrichment ?? []) {
    if (!e || 'error' in e) continue;
    const list = out.get(e.provider) ?? [];
    out.set(e.provider, list);
    if (list.length >= CONTEXT_LIMITS.perProvider) continue;
    list.push(new Map<string, unknown>([['subject', celValue(e.subject)], ['data', celValue(e.data ?? {})], ['found', e.found === true]]));
  }
  return out;
}

function observablesValue(alerts: readonly Alert[], indicators: IncidentDetail['indicators'] = []): unknown[] {
  const seen = new Set<string>();
  const out: unknown[] = [];
  const add = (type: string, value: string, role: string): boolean => {
    const key = `${type}\u0000${value}\u0000${role}`;
    if (seen.has(key)) return true;
    seen.add(key);
    out.push(celValue({ type, value, role }));
    return out.length < CONTEXT_LIMITS.observables;
  };
  for (const a of alerts) for (const o of a.observables ?? []) if (!add(o.type, o.value, o.role)) return out;
  // Indicators of the alerts not loaded: whether an alert carried it, not in which role.
  const known = new Set([...seen].map((k) => k.slice(0, k.lastIndexOf('\u0000'))));
  for (const i of indicators) if (!known.has(`${i.type}\u0000${i.value}`) && !add(i.type, i.value, '')) return out;
  return out;
}

/**
 * The CEL variables for one incident. `providers` are the configured enrichment provider names, present
 * as (possibly empty) lists even when no answer from them is stored. `variables` limits the context to the
 * ones a policy reads (CompiledCondition.variables); each is built exactly as when all are asked for.
 */
export function buildPolicyContext(detail: IncidentDetail, providers: readonly string[] = [], variables: Iterable<PolicyVariable> = ALL_VARIABLES): CelContext {
  const want = new Set(variables);
  const out: CelContext = {};
  let all: Alert[] | undefined;
  const allAlerts = () => (all ??= (detail.alerts ?? []).filter((a): a is Alert => !!a && typeof a === 'object'));
  if (want.has('incident')) out.incident = incidentValue(detail, allAlerts());
  if (want.has('alerts')) out.alerts = allAlerts().slice(-CONTEXT_LIMITS.alerts).map(alertValue);
  if (want.has('score')) out.score = scoreValue(detail.score);
  if (want.has('enrichment')) out.enrichment = enrichmentValue(detail, providers);
  if (want.has('observables')) out.observables = observablesValue(allAlerts(), detail.indicators);
  return out;
}

const ALL_VARIABLES = Object.keys(POLICY_VARIABLES) as PolicyVariable[];
