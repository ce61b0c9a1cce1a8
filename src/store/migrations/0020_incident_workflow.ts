/**
 * The analyst's workflow on incidents (issue 18): who has it (`assignee`), a severity a person set over the
 * computed one (`severity_override`, 0–100), tags and notes, and `merged_into` for an incident merged into
 * another (it is closed; correlation follows the reference to the survivor).
 *  - Tags are rows, not a JSON list, so the queue filters by tag on an index.
 *  - Notes are rows of their own (author, body as given), read newest first per incident.
 */
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`alter table incidents add column assignee text`.execute(db);
  await sql`alter table incidents add column severity_override integer`.execute(db);
  await sql`alter table incidents add column merged_into text`.execute(db);
  await sql`create index incidents_assignee on incidents (assignee) where assignee is not null`.execute(db);
  await db.schema
    .createTable('incident_tags')
    .addColumn('incident_id', 'text', (c) => c.notNull())
    .addColumn('tag', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('incident_tags_pk', ['incident_id', 'tag'])
    .execute();
  await sql`create index incident_tags_tag on incident_tags (tag)`.execute(db);
  await db.schema
    .createTable('incident_notes')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('incident_id', 'text', (c) => c.notNull())
    .addColumn('author', 'text', (c) => c.notNull())
    .addColumn('body', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute();
  await sql`create index incident_notes_incident on incident_notes (incident_id, created_at)`.execute(db);
}
