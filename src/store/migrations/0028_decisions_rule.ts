/**
 * Decisions by deciding rule and time (issue 18, item 5): the configuration page's hits per rule in 24 hours
 * and 7 days are index ranges, and each rule's last hit one seek, however old (store/overview.ts ruleHits).
 * A decision is written per incident decided, not per alert, so the index costs ingest nothing.
 */
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`create index decisions_rule on decisions (rule, created_at)`.execute(db);
}
