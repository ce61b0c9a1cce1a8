/** Building incidents for scoring and policy tests, in memory and in a real store. */
import type { Alert } from '../../src/model/alert.js';
import { severityLabel } from '../../src/model/alert.js';
import type { Enrichment } from '../../src/model/enrichment.js';
import type { IncidentDetail } from '../../src/model/incident.js';
import type { ObservableType } from '../../src/model/observable.js';
import type { Db } from '../../src/store/store.js';
import { insertAlertRows } from '../support/rows.js';

export const T0 = Date.parse('2026-11-27T12:00:00.000Z');

let n = 0;

export function alert(over: Partial<Alert> = {}): Alert {
  n++;
  const severity = over.severity ?? 50;
  return {
    id: `01JDALERT${String(n).padStart(17, '0')}`,
    source: 'dmz-suricata',
    detector: 'suricata',
    time: new Date(T0).toISOString(),
    received_at: new Date(T0 + 1000).toISOString(),
    title: 'ET MALWARE Cobalt Strike Beacon Observed',
    severity,
    severity_label: severityLabel(severity),
    observables: [],
    raw: '{}',
    ...over,
  };
}

export function enr(provider: string, type: ObservableType, value: string, data: Record<string, unknown>, found = true): Enrichment {
  return { provider, subject: { type, value }, data, found, fetched_at: new Date(T0).toISOString(), cache: 'miss' };
}

export function incident(over: Partial<IncidentDetail> = {}): IncidentDetail {
  const alerts = over.alerts ?? [alert()];
  return {
    id: '01JDINCIDENT0000000000000A',
    title: alerts[0]?.title ?? 'incident',
    status: 'new',
    verdict: null,
    first_seen: new Date(T0).toISOString(),
    last_seen: new Date(T0).toISOString(),
    alert_count: alerts.length,
    host: 'ws-042',
    user: 'alice',
    score: null,
    decision: null,
    decisions: [],
    actions: [],
    timeline: [],
    enrichment: [],
    ...over,
    alerts,
  };
}

/** Writes an incident, its alerts and enrichment rows the way the earlier stages would. */
export async function insertIncident(db: Db, d: IncidentDetail): Promise<void> {
  const first = Date.parse(d.first_seen);
  const last = Date.parse(d.last_seen);
  await db
    .insertInto('incidents')
    .values({
      id: d.id,
      title: d.title,
      status: d.status,
      verdict: d.verdict,
      first_seen: first,
      last_seen: last,
      alert_count: d.alert_count,
      severity: Math.max(0, ...d.alerts.map((a) => a.severity)),
      host: d.host,
      user_name: d.user,
      score_total: null,
      score: null,
      decision: null,
      created_at: first,
      updated_at: last,
    })
    .execute();
  await insertAlertRows(db, d.id, d.alerts, 0);
  for (const e of d.enrichment) {
    if ('error' in e) continue;
    await db
      .insertInto('enrichments')
      .values({
        incident_id: d.id,
        provider: e.provider,
        subject_type: e.subject.type,
        subject_value: e.subject.value,
        found: e.found ? 1 : 0,
        data: JSON.stringify(e.data),
        error: null,
        fetched_at: Date.parse(e.fetched_at),
      })
      .execute();
  }
}
