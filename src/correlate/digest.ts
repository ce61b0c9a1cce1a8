/**
 * An incident's digest: what every one of its alerts contributes to the rules and the score, kept small
 * whatever the incident's size. Ingest folds each new alert in as it places it (the incident row's `digest`,
 * committed with the log cursor), so the stages that score and decide read a bounded document instead of
 * every alert, and still see the whole incident:
 *
 *  - per distinct rule (source, detector, rule id or title): how many alerts, the highest severity, and the
 *    alert that stands for it (its most severe, the newest among equals);
 *  - the newest alerts by arrival, whatever their time stamps say.
 *
 * The alerts the stages load are those representatives and the newest ones (coveringAlertIds): an alert
 * that could change a decision is either the newest, the most severe of its rule, or of a rule seen before.
 * Pure functions only; the caller stores the result.
 */
import type { Alert } from '../model/alert.js';
import type { DigestRule, IncidentDigest } from '../model/incident.js';

export type { DigestRule, IncidentDigest };

/** Distinct rules listed; more are counted in `more_rules` (their alerts still count in the incident). */
export const DIGEST_MAX_RULES = 150;
/** Newest alerts (by arrival) kept by id. */
export const DIGEST_RECENT = 20;
/** Distinct sources and detectors listed. */
const MAX_NAMES = 50;

export function emptyDigest(): IncidentDigest {
  return { rules: [], more_rules: 0, sources: [], detectors: [], recent: [] };
}

/** The stored text as a digest; null or unreadable text gives an empty one (a store older than the column). */
export function readDigest(text: string | null | undefined): IncidentDigest {
  if (!text) return emptyDigest();
  try {
    const d = JSON.parse(text) as Partial<IncidentDigest>;
    return {
      rules: Array.isArray(d.rules) ? d.rules : [],
      more_rules: typeof d.more_rules === 'number' ? d.more_rules : 0,
      sources: Array.isArray(d.sources) ? d.sources : [],
      detectors: Array.isArray(d.detectors) ? d.detectors : [],
      recent: Array.isArray(d.recent) ? d.recent : [],
    };
  } catch {
    return emptyDigest();
  }
}

export const writeDigest = (d: IncidentDigest): string => JSON.stringify(d);

/** Adds a new (non-repeat) alert to the digest, in arrival order. Changes `d` in place. */
export function foldAlert(d: IncidentDigest, alert: Pick<Alert, 'source' | 'detector' | 'rule' | 'title' | 'severity'> & { id: string }): void {
  const ruleId = alert.rule?.id ?? null;
  const ruleName = alert.rule?.name ?? null;
  const title = ruleId === null && ruleName === null ? alert.title.slice(0, 500) : null;
  const rule = d.rules.find(
    (r) => r.rule_id === ruleId && r.rule_name === ruleName && r.title === title && r.detector === alert.detector && r.source === alert.source,
  );
  if (rule) {
    rule.alerts += 1;
    if (alert.severity >= rule.severity) {
      rule.severity = alert.severity;
      rule.alert = alert.id;
    }
  } else if (d.rules.length < DIGEST_MAX_RULES) {
    d.rules.push({ source: alert.source, detector: alert.detector, rule_id: ruleId, rule_name: ruleName, title, alerts: 1, severity: alert.severity, alert: alert.id });
  } else {
    d.more_rules += 1;
  }
  addName(d.sources, alert.source);
  addName(d.detectors, alert.detector);
  d.recent.push(alert.id);
  if (d.recent.length > DIGEST_RECENT) d.recent.splice(0, d.recent.length - DIGEST_RECENT);
}

function addName(list: string[], name: string): void {
  if (list.length < MAX_NAMES && !list.includes(name)) list.push(name);
}

/** The alerts that stand for the whole incident: each rule's representative and the newest, without repeats. */
export function coveringAlertIds(d: IncidentDigest): string[] {
  return [...new Set([...d.rules.map((r) => r.alert), ...d.recent])];
}

/** Every rule id and name the incident's alerts carry (as far as the digest lists them). */
export function digestRuleNames(d: IncidentDigest): string[] {
  return [...new Set(d.rules.flatMap((r) => [r.rule_id, r.rule_name]).filter((x): x is string => !!x))];
}
