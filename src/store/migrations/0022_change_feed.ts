/**
 * The change feed (store/change-feed.ts; GET /api/v1/events, issue 18) reads incidents and actions past a
 * position in (updated_at, id) order: an index on exactly that pair makes each read a range scan of the new
 * rows, however large the tables.
 */
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`create index incidents_changes on incidents (updated_at, id)`.execute(db);
  await sql`create index actions_changes on actions (updated_at, id)`.execute(db);
}
