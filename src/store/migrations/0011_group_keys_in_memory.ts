/**
 * The grouping keys are kept in the memory of the worker that holds the ingest cursor
 * (pipeline/ingest/group-keys.ts), each batch appending the keys it changed to incident_key_log at the
 * cursor it moves to, instead of upserting incident_keys: a random-key b-tree insert per key, which made
 * ingest slower the more the store held. The keys carry over into the log at the current cursor, so the
 * next alert of an open incident still joins it; incident_keys is dropped.
 */
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<unknown>, dialect: 'sqlite' | 'postgres'): Promise<void> {
  // Keyed by position first: each batch's rows go to the end of one b-tree, and old ones leave from its start.
  await sql`create table incident_key_log (
    pos bigint not null,
    key text not null,
    incident_id text not null,
    last_seen bigint not null,
    received_at bigint not null,
    primary key (pos, key))${dialect === 'postgres' ? sql`` : sql` without rowid`}`.execute(db);
  // received_at: the key's newest alert time, the closest the old table comes to it.
  await sql`insert into incident_key_log (pos, key, incident_id, last_seen, received_at)
    select coalesce((select seq from pipeline_cursors where name = 'ingest'), 0), key, incident_id, last_seen, last_seen from incident_keys`.execute(db);
  await sql`drop table incident_keys`.execute(db);
}
