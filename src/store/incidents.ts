/** Read side of incidents: the list the API pages through and the detail every later stage reads. */
import type { Db } from './store.js';
import type { Alert } from '../model/alert.js';
import type { ActionRecord, ActionState } from '../model/action.js';
import type { Decision } from '../model/decision.js';
import type { Enrichment } from '../model/enrichment.js';
import type { Incident, IncidentDetail, IncidentStatus, TimelineEntry, Verdict } from '../model/incident.js';
import type { ObservableType } from '../model/observable.js';
import type { Score } from '../model/score.js';
import type { ActionTable, AlertTable, IncidentTable } from './schema.js';
import { iso } from '../util/time.js';
import { parseStored } from '../util/json.js';

export function toIncident(row: IncidentTable): Incident {
  return {
    id: row.id,
    title: row.title,
    status: row.status as IncidentStatus,
    verdict: (row.verdict as Verdict | null) ?? null,
    first_seen: iso(row.first_seen),
    last_seen: iso(row.last_seen),
    alert_count: row.alert_count,
    host: row.host,
    user: row.user_name,
    score: parseStored<Score>(row.score, 'incident score'),
    decision: parseStored<Decision>(row.decision, 'incident decision'),
  };
}

export function toAlert(row: Pick<AlertTable, 'doc' | 'raw' | 'repeat_count' | 'incident_id'>): Alert & { repeat_count: number; incident_id: string | null } {
  const doc = parseStored<Alert>(row.doc, 'alert')!;
  return { ...doc, raw: row.raw, repeat_count: row.repeat_count, incident_id: row.incident_id };
}

export function toAction(row: ActionTable): ActionRecord {
  return {
    id: row.id,
    incident_id: row.incident_id,
    kind: row.kind,
    target: row.target,
    idempotency_key: row.idempotency_key,
    params: parseStored<Record<string, unknown>>(row.params, 'action params') ?? {},
    state: row.state as ActionState,
    attempts: row.attempts,
    last_error: row.last_error,
    created_at: iso(row.created_at),
    updated_at: iso(row.updated_at),
    approved_by: row.approved_by,
    dry_run: row.dry_run === 1,
  };
}

/** Everything known about one incident, in the shape of GET /incidents/{id}. */
export async function loadIncidentDetail(db: Db, id: string, opts: { alertLimit?: number } = {}): Promise<IncidentDetail | null> {
  const row = await db.selectFrom('incidents').selectAll().where('id', '=', id).executeTakeFirst();
  if (!row) return null;
  const [alerts, enrich, decisions, actions, timeline] = await Promise.all([
    db
      .selectFrom('alerts')
      .select(['doc', 'raw', 'repeat_count', 'incident_id'])
      .where('incident_id', '=', id)
      .orderBy('time')
      .orderBy('id')
      .limit(opts.alertLimit ?? 500)
      .execute(),
    db.selectFrom('enrichments').selectAll().where('incident_id', '=', id).orderBy('provider').orderBy('subject_value').execute(),
    db.selectFrom('decisions').select(['doc', 'created_at']).where('incident_id', '=', id).orderBy('id').execute(),
    db.selectFrom('actions').selectAll().where('incident_id', '=', id).orderBy('created_at').orderBy('id').execute(),
    db.selectFrom('timeline').selectAll().where('incident_id', '=', id).orderBy('at').orderBy('id').limit(1000).execute(),
  ]);
  return {
    ...toIncident(row),
    alerts: alerts.map(toAlert),
    enrichment: enrich.map((e) => {
      const subject = { type: e.subject_type as ObservableType, value: e.subject_value };
      if (e.error) return { provider: e.provider, subject, fetched_at: iso(e.fetched_at), error: e.error };
      const en: Enrichment = {
        provider: e.provider,
        subject,
        data: parseStored<Record<string, unknown>>(e.data, 'enrichment') ?? {},
        found: e.found === 1,
        fetched_at: iso(e.fetched_at),
        cache: 'hit',
      };
      return en;
    }),
    decisions: decisions.map((d) => ({ ...parseStored<Decision>(d.doc, 'decision')!, decided_at: iso(d.created_at) })),
    actions: actions.map(toAction),
    timeline: timeline.map(
      (t): TimelineEntry => ({
        at: iso(t.at),
        kind: t.kind as TimelineEntry['kind'],
        summary: t.summary,
        ...(t.alert_id ? { alert_id: t.alert_id } : {}),
        ...(t.action_id ? { action_id: t.action_id } : {}),
      }),
    ),
  };
}

export async function addTimeline(
  db: Db,
  entries: ReadonlyArray<{ incident_id: string; at: number; kind: TimelineEntry['kind']; summary: string; alert_id?: string | null; action_id?: string | null }>,
): Promise<void> {
  for (let i = 0; i < entries.length; i += 500) {
    const rows = entries.slice(i, i + 500).map((e) => ({
      incident_id: e.incident_id,
      at: e.at,
      kind: e.kind,
      summary: e.summary.slice(0, 1000),
      alert_id: e.alert_id ?? null,
      action_id: e.action_id ?? null,
    }));
    if (rows.length) await db.insertInto('timeline').values(rows).execute();
  }
}
