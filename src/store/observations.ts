/**
 * What the store keeps of alerts' indicators: per incident and indicator (observable type and value), how
 * many alerts carried it, how many events counting repeats, and when first and last (incident_observables).
 * One upsert per incident and indicator per ingest batch, however many alerts carried it; history and the
 * choice of what to enrich read this, and each alert's own indicators stay in its document.
 */
import type { Db } from './store.js';
import type { AlertDoc } from './alert-docs.js';
import { insertRows } from './insert-rows.js';
import type { IncidentObservableTable } from './schema.js';

/** A row of incident_observables. */
export type Observation = Omit<IncidentObservableTable, 'first_seq'> & { first_seq: number };

/** Adds up a batch's observations in memory. */
export class ObservationTally {
  readonly #rows = new Map<string, Observation>();

  /**
   * Counts the alert's indicators (its observables, and `also`: e.g. its host and user columns) in its
   * incident; a repeat (`repeat`: true) counts as an event only. `seq`: the alert's record.
   */
  addAlert(incidentId: string, alert: AlertDoc, time: number, repeat: boolean, also: ReadonlyArray<readonly [type: string, value: string]>, seq: number): void {
    const seen = new Set<string>();
    const add = (type: string, value: string) => {
      const k = `${type}\u0000${value}`;
      if (seen.has(k)) return;
      seen.add(k);
      this.#add(incidentId, type, value, time, repeat ? 0 : 1, seq);
    };
    for (const o of alert.observables) add(o.type, o.value);
    for (const [type, value] of also) add(type, value);
  }

  #add(incidentId: string, type: string, value: string, time: number, alerts: number, seq: number): void {
    const key = `${incidentId}\u0000${type}\u0000${value}`;
    const row = this.#rows.get(key);
    if (!row) {
      this.#rows.set(key, { incident_id: incidentId, type, value, alerts, events: 1, first_seen: time, last_seen: time, first_seq: seq });
      return;
    }
    if (seq < row.first_seq) row.first_seq = seq;
    row.alerts += alerts;
    row.events += 1;
    if (time < row.first_seen) row.first_seen = time;
    if (time > row.last_seen) row.last_seen = time;
  }

  rows(): Observation[] {
    return [...this.#rows.values()];
  }
}

const COLUMNS = ['incident_id', 'type', 'value', 'alerts', 'events', 'first_seen', 'last_seen', 'first_seq'] as const;
// CASE rather than min()/least(): the two dialects name those differently. first_seq stays: the indicator is
// not new to the incident.
const UPSERT = `on conflict ("incident_id", "type", "value") do update set
  "alerts" = "incident_observables"."alerts" + excluded."alerts", "events" = "incident_observables"."events" + excluded."events",
  "first_seen" = case when excluded."first_seen" < "incident_observables"."first_seen" then excluded."first_seen" else "incident_observables"."first_seen" end,
  "last_seen" = case when excluded."last_seen" > "incident_observables"."last_seen" then excluded."last_seen" else "incident_observables"."last_seen" end`;

/** Adds the tallied observations to the stored ones. */
export async function recordObservations(db: Db, rows: readonly Observation[]): Promise<void> {
  await insertRows(db, 'incident_observables', COLUMNS, rows, { onConflict: UPSERT });
}
