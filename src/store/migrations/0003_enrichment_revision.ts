/**
 * enrichments.revision: the data revision of the provider that made the answer (a content hash of its file),
 * so that the enrich stage can keep an answer that is still current instead of asking again for every
 * alert that joins the incident.
 */
import type { Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('enrichments').addColumn('revision', 'text').execute();
}
