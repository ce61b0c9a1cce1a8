/**
 * The dedup state (each fingerprint's latest original alert) is kept in the memory of the worker that holds
 * the ingest cursor, rebuilt from the alert rows when it reads the cursor (pipeline/ingest/fingerprints.ts),
 * instead of in a table upserted for every alert: a random-key b-tree insert per alert that cost about a
 * fifth of SQLite's share of ingest (bench/sqlite-floor.ts). The alert rows hold everything the table did
 * (fingerprint, incident, repeat_count, last_repeat_at, duplicate_of), so dropping it loses nothing.
 */
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`drop table if exists fingerprints`.execute(db);
}
