/**
 * Undo and expiry of actions (issue 17). An undo is an action row of its own, through the same outbox (claim,
 * lease, attempts, idempotency key `<the original's key>:undo`, so it is queued and run once however many
 * triggers ask for it): `undo_of` names the action it undoes. A rule's `for: 2h` is kept as `undo_after_ms`;
 * when the action succeeds, `expires_at` says when its undo is due, and goes back to null once the undo is
 * queued (so the sweep reads only rows still waiting: a partial index).
 */
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`alter table actions add column undo_of text`.execute(db);
  await sql`alter table actions add column undo_after_ms bigint`.execute(db);
  await sql`alter table actions add column expires_at bigint`.execute(db);
  await sql`create index actions_expiry on actions (expires_at) where expires_at is not null`.execute(db);
  await sql`create index actions_undo_of on actions (undo_of) where undo_of is not null`.execute(db);
}
