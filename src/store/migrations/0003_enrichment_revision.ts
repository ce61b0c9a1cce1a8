/**
 * enrichments.revision: the data revision of the provider that made the answer (a content hash of its file),
 * so that the enrich stage can keep an answer that is still current instead of asking again for every
 * alert that joins the incident. incidents.enrich_version: bumped with every change to an incident's stored
 * answers, so that a worker can tell whether its in-memory copy of them is current without reading them.
 */
import type { Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('enrichments').addColumn('revision', 'text').execute();
  await db.schema.alterTable('incidents').addColumn('enrich_version', 'integer', (c) => c.notNull().defaultTo(0)).execute();
}
