/**
 * What the store keeps of alerts' indicators: per incident and indicator (observable type and value), how
 * many alerts carried it, how many events counting repeats, and when first and last (incident_observables).
 * One upsert per incident and indicator per ingest batch, however many alerts carried it; history and the
 * choice of what to enrich read this, and each alert's own indicators stay in its document.
 *
 * While ingest is behind, its batches append their counts to observation_log instead (logObservations),
 * and it folds the log into incident_observables when it catches up or the log has grown past a bound
 * (foldObservations). Upserting a new indicator writes a random page of each of the table's b-trees at
 * every commit, more pages the more the store holds; a batch's log rows go to the end of each incident's
 * range, and a fold writes the same upserts sorted, many to a page. Readers of an incident's indicators
 * read both, added up (incidentObservations); history reads the table alone, so in a burst it does not
 * count the indicators of the last batches until they are folded.
 */
import { sql, type RawBuilder } from 'kysely';
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

const COLUMN_REFS = sql.join(COLUMNS.map((c) => sql.ref(c)));
/** An incident's rows of one indicator added up, in COLUMNS' order (folding and reading add up alike). */
const ADDED_UP = sql`"incident_id", "type", "value", sum("alerts") as "alerts", sum("events") as "events",
  min("first_seen") as "first_seen", max("last_seen") as "last_seen", min("first_seq") as "first_seq"`;

/** Adds the tallied observations to the stored ones. */
export async function recordObservations(db: Db, rows: readonly Observation[]): Promise<void> {
  await insertRows(db, 'incident_observables', COLUMNS, rows, { onConflict: UPSERT });
}

/** Appends a batch's tallied observations to the log, at `pos` (the cursor the batch moves to). */
export async function logObservations(db: Db, pos: number, rows: readonly Observation[]): Promise<void> {
  await insertRows(db, 'observation_log', [...COLUMNS, 'pos'], rows.map((r) => ({ ...r, pos })));
}

/**
 * Adds every logged observation to incident_observables, in one statement sorted by the table's key, and
 * empties the log; returns how many log rows it folded. In the transaction of whoever may append to the log
 * (ingest, under its lock), so that nothing is folded twice or lost.
 */
export async function foldObservations(db: Db): Promise<number> {
  // WHERE true: SQLite needs a WHERE in an INSERT … SELECT with ON CONFLICT, to parse it.
  await sql`insert into "incident_observables" (${COLUMN_REFS})
    select ${ADDED_UP} from "observation_log" where true group by "incident_id", "type", "value" order by "incident_id", "type", "value"
    ${sql.raw(UPSERT)}`.execute(db);
  const deleted = await db.deleteFrom('observation_log').executeTakeFirst();
  return Number(deleted.numDeletedRows);
}

/** How many rows the log holds, to fold. */
export async function countLoggedObservations(db: Db): Promise<number> {
  const r = await db.selectFrom('observation_log').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
  return Number(r.n);
}

/**
 * The indicators of the incidents `ids`, folded and logged added up: a subquery with incident_observables'
 * columns, to select from (`from ${incidentObservations(ids)} o`).
 */
export function incidentObservations(ids: readonly string[]): RawBuilder<Observation> {
  const list = sql.join(ids);
  return sql<Observation>`(select ${ADDED_UP} from (
      select ${COLUMN_REFS} from "incident_observables" where "incident_id" in (${list})
      union all select ${COLUMN_REFS} from "observation_log" where "incident_id" in (${list})) u
    group by "incident_id", "type", "value")`;
}
