/**
 * The detectors and sources of each incident's alerts, one row per (incident, facet, value), for the queue's
 * detector and source filters (store/incident-query.ts). They replace 0021's alerts (detector, incident_id)
 * and (source, incident_id) indexes, which cost ingest a b-tree entry each per alert (~10% of its SQLite
 * floor, bench/sqlite-floor.ts); a facet row is written only when an incident gains a detector or source,
 * rare after its first alert (pipeline/ingest/correlate.ts). Merge moves them (store/incident-workflow.ts).
 * Filled here from the alerts already placed.
 */
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('incident_facets')
    .addColumn('incident_id', 'text', (c) => c.notNull())
    .addColumn('facet', 'text', (c) => c.notNull())
    .addColumn('value', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('incident_facets_pk', ['incident_id', 'facet', 'value'])
    .execute();
  await sql`create index incident_facets_value on incident_facets (facet, value, incident_id)`.execute(db);
  await sql`insert into incident_facets (incident_id, facet, value)
    select distinct incident_id, 'detector', detector from alerts where incident_id is not null`.execute(db);
  await sql`insert into incident_facets (incident_id, facet, value)
    select distinct incident_id, 'source', source from alerts where incident_id is not null`.execute(db);
  await sql`drop index if exists alerts_q_detector`.execute(db);
  await sql`drop index if exists alerts_q_source`.execute(db);
}
