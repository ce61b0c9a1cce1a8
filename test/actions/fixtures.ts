/**
 * Shared pieces for the action tests: an incident whose alerts carry hostile text and rows for the outbox.
 * The real SMTP and HTTP peers live in test/support/servers.ts.
 */
import type { Db } from '../../src/store/store.js';
import type { Alert } from '../../src/model/alert.js';
import type { ActionRecord } from '../../src/model/action.js';
import type { IncidentDetail } from '../../src/model/incident.js';
import type { Score } from '../../src/model/score.js';
import type { Decision } from '../../src/model/decision.js';
import { toAction } from '../../src/store/incidents.js';
import { insertAlertRows } from '../support/rows.js';

export const HOSTILE_TITLE = `<script>alert("pwned")</script> & 'single' "double"`;

export const SCORE: Score = {
  profile: 'default',
  total: 85,
  components: { threat: 60, asset: 15, user: 10 },
  explanation: [
    { factor: 'threat.intel', points: 60, evidence: 'evil.example listed by abuse.ch <feodo>' },
    { factor: 'asset.criticality', points: 15, evidence: 'ws-042 is in zone "finance"' },
    { factor: 'user.privileged', points: 10, evidence: 'alice is a domain admin' },
  ],
};

export const DECISION: Decision = {
  rule: 'notify-high',
  outcome: 'notify',
  actions: [{ kind: 'email', target: 'soc-mail', params: {}, approval: 'auto' }],
  dry_run: false,
  config_version: 'abc123',
};

function alert(id: string, title: string, time: string): Alert {
  return {
    id,
    source: 'dmz-suricata',
    detector: 'suricata',
    time,
    received_at: time,
    title,
    severity: 80,
    severity_label: 'high',
    src: { ip: '10.1.2.3', port: 51234, host: 'ws-042', user: 'alice' },
    dst: { ip: '203.0.113.7', port: 443, host: 'evil.example' },
    observables: [
      { type: 'ip', value: '203.0.113.7', role: 'dst' },
      { type: 'domain', value: 'evil.example', role: 'dst' },
      { type: 'url', value: 'http://evil.example/a?x=<b>&y="1"', role: 'url' },
    ],
    raw: 'raw text',
  };
}

export function sampleIncident(id = 'INC1'): IncidentDetail {
  return {
    id,
    title: `Beacon from ws-042: ${HOSTILE_TITLE}`,
    status: 'new',
    verdict: null,
    first_seen: '2026-11-27T12:00:00.000Z',
    last_seen: '2026-11-27T12:05:00.000Z',
    alert_count: 2,
    host: 'ws-042',
    user: 'alice',
    score: SCORE,
    decision: DECISION,
    alerts: [alert(`${id}-A1`, HOSTILE_TITLE, '2026-11-27T12:00:00.000Z'), alert(`${id}-A2`, 'ET MALWARE Cobalt Strike Beacon Observed', '2026-11-27T12:05:00.000Z')],
    enrichment: [],
    decisions: [DECISION],
    actions: [],
    timeline: [],
  };
}

/** Writes an incident and its alerts the way the pipeline stores them. */
export async function seedIncident(db: Db, incident: IncidentDetail): Promise<void> {
  const t = Date.parse(incident.first_seen);
  await db
    .insertInto('incidents')
    .values({
      id: incident.id,
      title: incident.title,
      status: incident.status,
      verdict: null,
      first_seen: t,
      last_seen: Date.parse(incident.last_seen),
      alert_count: incident.alert_count,
      severity: 80,
      host: incident.host,
      user_name: incident.user,
      score_total: incident.score?.total ?? null,
      score: JSON.stringify(incident.score),
      decision: JSON.stringify(incident.decision),
      created_at: t,
      updated_at: t,
    })
    .execute();
  await insertAlertRows(db, incident.id, incident.alerts);
}

export interface NewAction {
  id: string;
  incident_id: string;
  kind: string;
  target: string;
  state?: 'pending' | 'awaiting_approval';
  dry_run?: boolean;
  params?: Record<string, unknown>;
  /** The deadline and default of an approval (approvalTimeout()). */
  approval?: { approval_due_at: number; approval_default: 'approve' | 'deny' };
  now: number;
}

/** An outbox row as the decide stage writes it. */
export async function insertAction(db: Db, a: NewAction): Promise<void> {
  const state = a.state ?? 'pending';
  await db
    .insertInto('actions')
    .values({
      id: a.id,
      incident_id: a.incident_id,
      decision_id: null,
      kind: a.kind,
      target: a.target,
      idempotency_key: `${a.incident_id}:${a.id}:${a.target}`,
      params: JSON.stringify(a.params ?? {}),
      state,
      approval: state === 'awaiting_approval' ? 'required' : 'auto',
      dry_run: a.dry_run ? 1 : 0,
      attempts: 0,
      next_attempt_at: a.now,
      lease_owner: null,
      lease_until: null,
      last_error: null,
      result: null,
      approved_by: null,
      approval_due_at: a.approval?.approval_due_at ?? null,
      approval_default: a.approval?.approval_default ?? null,
      denied_by: null,
      denial_reason: null,
      created_at: a.now,
      updated_at: a.now,
    })
    .execute();
}

export async function actionRow(db: Db, id: string) {
  return db.selectFrom('actions').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
}

/** An ActionRecord for calling a target directly, outside the executor. */
export function actionRecord(incidentId: string, kind: string, target: string, id = 'ACT1'): ActionRecord {
  return toAction({
    id,
    incident_id: incidentId,
    decision_id: null,
    kind,
    target,
    idempotency_key: `${incidentId}:${id}:${target}`,
    params: '{}',
    state: 'running',
    approval: 'auto',
    dry_run: 0,
    attempts: 1,
    next_attempt_at: 0,
    lease_owner: null,
    lease_until: null,
    last_error: null,
    result: null,
    approved_by: null,
    approval_due_at: null,
    approval_default: null,
    denied_by: null,
    denial_reason: null,
    created_at: 0,
    updated_at: 0,
  });
}

export { selfSignedCert, startSmtp, startHttp, type Cert, type SmtpHarness, type HttpHarness, type Received, type Responder } from '../support/servers.js';
