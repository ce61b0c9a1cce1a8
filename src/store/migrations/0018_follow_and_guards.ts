/**
 * Follow-ups, guards and approval links (issue 17).
 *  - `follow_of` / `follow_event`: a follow-up row brings what an action opened (a ticket, a page) up to date
 *    (`update`) or closes it (`close`); like an undo it is an outbox row of its own, run once under its own key.
 *    `follow_state` is the incident's state (decision and score) that the action or update was queued for, so
 *    that the next change is told apart from a decision made again with the same result.
 *  - `held_by`: why an action that the rule did not ask to approve waits for a person anyway (a protected user,
 *    a rate or blast-radius limit): "<guard>: <reason>".
 *  - `rule`: the rule that planned it, for per-rule limits and for people reading the outbox.
 *  - `keys`: secrets Fido makes for itself (the key that signs approval links), one row each.
 */
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`alter table actions add column follow_of text`.execute(db);
  await sql`alter table actions add column follow_event text`.execute(db);
  await sql`alter table actions add column follow_state text`.execute(db);
  await sql`alter table actions add column held_by text`.execute(db);
  await sql`alter table actions add column rule text`.execute(db);
  await sql`create index actions_follow_of on actions (follow_of) where follow_of is not null`.execute(db);
  // Guards count recent actions by kind: created_at bounds the window.
  await sql`create index actions_kind_created on actions (kind, created_at)`.execute(db);
  await db.schema
    .createTable('keys')
    .addColumn('name', 'text', (c) => c.primaryKey())
    .addColumn('value', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute();
}
