/**
 * Incremental enrichment (issue 12): an incident's enrichment asks about the indicators new since its last
 * pass instead of re-checking all of them each time an alert joins it, which made every pass cost as much as
 * the incident's size.
 *
 * - incident_observables.first_seq: the intake.seq of the record that first brought the indicator to the
 *   incident (0 for rows from before: they count as seen by any enrichment).
 * - incidents.enriched_seq: the newest record the incident's enrichment has seen; 0 until its first pass
 *   after this migration, which is a whole one.
 * - enrichments_found: the answers that found something, by incident: scoring reads only those, and without
 *   the index each read scanned all of an incident's answers.
 */
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`alter table incident_observables add column first_seq bigint not null default 0`.execute(db);
  await sql`alter table incidents add column enriched_seq bigint not null default 0`.execute(db);
  await sql`create index enrichments_found on enrichments (incident_id) where found = 1`.execute(db);
}
