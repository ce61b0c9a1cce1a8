/**
 * observation_log: while ingest is behind, it appends each batch's indicator counts here instead of upserting
 * incident_observables, whose two b-trees (by incident and indicator, by indicator value) took a random page
 * per new indicator at every commit, more the larger they grew; the log is keyed by incident and batch, so a
 * batch writes at the end of each incident's range. Ingest folds it into incident_observables when it
 * catches up, or when it has grown past a bound: the same writes sorted and many at a time
 * (store/observations.ts).
 */
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<unknown>, dialect: 'sqlite' | 'postgres'): Promise<void> {
  await sql`create table observation_log (
    incident_id text not null,
    pos bigint not null,
    type text not null,
    value text not null,
    alerts integer not null,
    events integer not null,
    first_seen bigint not null,
    last_seen bigint not null,
    first_seq bigint not null,
    primary key (incident_id, pos, type, value))${dialect === 'postgres' ? sql`` : sql` without rowid`}`.execute(db);
}
