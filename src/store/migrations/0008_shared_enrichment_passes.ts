/**
 * An incident's last enrichment pass over every subject, kept with the incident instead of in the memory of
 * the worker that made it (issue 12). Before, a restart, or another worker taking the incident (scale-out on
 * PostgreSQL), made its next pass whole: every subject asked again and every stored answer checked, for
 * every open incident at once after a restart.
 *
 * - incidents.enrich_pass_at: when that pass asked (null: none yet, so the next pass is whole);
 * - incidents.enrich_pass_key: the providers and their data revisions it asked (another set makes the next
 *   pass whole);
 * - incidents.enrich_known: how many distinct subjects the incident has had since (for the subject cap).
 */
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`alter table incidents add column enrich_pass_at bigint`.execute(db);
  await sql`alter table incidents add column enrich_pass_key text`.execute(db);
  await sql`alter table incidents add column enrich_known integer not null default 0`.execute(db);
}
