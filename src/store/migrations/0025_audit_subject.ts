/**
 * An incident's audit trail (issue 18: the incident page) reads the audit log by subject: the incident's own
 * rows and those of its actions (`action:<id>`), newest first. The log is written on people's changes and
 * action outcomes, not per alert, so the index costs ingest nothing.
 */
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`create index audit_subject on audit_log (subject, at)`.execute(db);
}
