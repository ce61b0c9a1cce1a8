/**
 * Checkpoints of action attempts (ActionContext.checkpoint): what a containment kind read from its target
 * before it changed it (an account's status, a host's containment), committed before the change. An attempt
 * cut off by a crash after its change leaves the checkpoint behind, so that the next attempt records the
 * state before Fido acted, not its own effect, and a later undo gives back exactly what Fido took. JSON text.
 */
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`alter table action_attempts add column checkpoint text`.execute(db);
}
