/**
 * Score totals may have a fraction (a profile's points are configurable: 2.5 per indicator, say). SQLite kept
 * it (an INTEGER column stores a REAL that is not a whole number as given); PostgreSQL rounded it into its
 * integer columns, so `min_score` and the list's order disagreed with the score itself, and between the two
 * stores. Both columns become double precision there; SQLite needs nothing.
 */
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<unknown>, dialect: 'sqlite' | 'postgres'): Promise<void> {
  if (dialect !== 'postgres') return;
  await sql`alter table incidents alter column score_total type double precision`.execute(db);
  await sql`alter table scores alter column total type double precision`.execute(db);
}
