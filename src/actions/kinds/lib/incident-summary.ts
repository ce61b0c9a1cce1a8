/**
 * What every notification and ticket says about an incident, as plain data: e-mail, Slack, Teams, PagerDuty,
 * CEF and the ticket kinds each render this one summary in their own format (and escape it for that format:
 * every string here may come from an attacker's alert).
 */
import type { ActionDeps, ApprovalLinks } from '../../action.js';
import type { IncidentDetail } from '../../../model/incident.js';
import type { ScoreFactor } from '../../../model/score.js';
import { incidentUrl } from '../../target-config.js';

export type SeverityBand = 'critical' | 'high' | 'medium' | 'low' | 'info';

export interface AwaitingApproval {
  action_id: string;
  kind: string;
  target: string;
  /** Signed approve/deny links, when the process can sign them (ActionDeps.approvalLinks). */
  links?: ApprovalLinks;
}

export interface IncidentSummary {
  id: string;
  title: string;
  status: string;
  verdict: string | null;
  /** 0–100; null before the incident is scored. */
  score: number | null;
  band: SeverityBand;
  profile: string | null;
  outcome: string | null;
  rule: string | null;
  host: string | null;
  user: string | null;
  alert_count: number;
  first_seen: string;
  last_seen: string;
  /** Score lines, largest effect first (the chart and the evidence). */
  factors: ScoreFactor[];
  /** Sub-scores by component (threat, asset, user, …). */
  components: Record<string, number>;
  detectors: string[];
  /** Indicators, bounded (MAX_INDICATORS), as `type:value`. */
  indicators: string[];
  /** The incident on the API; null when `server.public_url` is not an http(s) URL. */
  link: string | null;
  /** Its actions that wait for a person, with the links that settle them. */
  awaiting: AwaitingApproval[];
}

export const MAX_INDICATORS = 20;

/** The band a score falls in (the same cut points everywhere: 90, 70, 40, 10). */
export function severityBand(score: number | null): SeverityBand {
  if (score === null) return 'info';
  if (score >= 90) return 'critical';
  if (score >= 70) return 'high';
  if (score >= 40) return 'medium';
  if (score >= 10) return 'low';
  return 'info';
}

export function summarizeIncident(incident: IncidentDetail, deps: Pick<ActionDeps, 'publicUrl' | 'approvalLinks'>): IncidentSummary {
  const score = incident.score;
  const decision = incident.decision ?? incident.decisions[incident.decisions.length - 1] ?? null;
  const indicators = incident.indicators?.map((o) => `${o.type}:${o.value}`) ?? [...new Set(incident.alerts.flatMap((a) => a.observables.map((o) => `${o.type}:${o.value}`)))];
  return {
    id: incident.id,
    title: incident.title,
    status: incident.status,
    verdict: incident.verdict,
    score: score?.total ?? null,
    band: severityBand(score?.total ?? null),
    profile: score?.profile ?? null,
    outcome: decision?.outcome ?? null,
    rule: decision?.rule ?? null,
    host: incident.host,
    user: incident.user,
    alert_count: incident.alert_count,
    first_seen: incident.first_seen,
    last_seen: incident.last_seen,
    factors: [...(score?.explanation ?? [])].sort((a, b) => Math.abs(b.points) - Math.abs(a.points)),
    components: { ...(score?.components ?? {}) },
    detectors: incident.digest?.detectors ?? [...new Set(incident.alerts.map((a) => a.detector))],
    indicators: indicators.slice(0, MAX_INDICATORS),
    link: incidentUrl(deps.publicUrl, incident.id),
    awaiting: incident.actions
      .filter((a) => a.state === 'awaiting_approval')
      .map((a) => ({ action_id: a.id, kind: a.kind, target: a.target, ...(deps.approvalLinks ? { links: deps.approvalLinks(a.id, a.approval_due_at ? Date.parse(a.approval_due_at) : undefined) } : {}) })),
  };
}
