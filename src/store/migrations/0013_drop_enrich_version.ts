/**
 * incidents.enrich_version counted the changes of an incident's stored enrichment, so that a worker could
 * tell whether its in-memory copy of them was current. Those copies were never kept in use and were removed
 * (pipeline/stages/enrich.ts reads the stored answers it needs), which left the column written and read by
 * nothing.
 */
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`alter table incidents drop column enrich_version`.execute(db);
}
