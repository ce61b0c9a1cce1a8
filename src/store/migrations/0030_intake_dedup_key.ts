/**
 * intake.dedup_key (issue 19): an identity the upstream gives a record (a JetStream stream sequence, an AMQP
 * message-id, a Kafka offset), unique per source, so a message a bus delivers again after a crash between
 * Fido's commit and its acknowledgement is not stored twice. Records without one (HTTP, syslog) are unaffected:
 * the index covers keyed rows only.
 */
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('intake').addColumn('dedup_key', 'text').execute();
  await sql`create unique index intake_dedup_key on intake (source, dedup_key) where dedup_key is not null`.execute(db);
}
