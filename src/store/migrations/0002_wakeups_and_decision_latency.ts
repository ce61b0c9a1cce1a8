/**
 * - alerts.decided_at: when the pipeline was done with the alert (the first decision of its incident after
 *   it arrived; for a dedup repeat, when it was counted), so intake-to-decision latency is known per alert.
 *   The partial index finds an incident's undecided alerts without reading its decided ones.
 * - PostgreSQL only: statement triggers that NOTIFY `fido_work` when work is queued (stage hand-offs, outbox
 *   rows), which idle loops in every process LISTEN for (postgres/dialect.ts). SQLite processes watch
 *   PRAGMA data_version instead and need nothing in the schema.
 */
import { sql, type Kysely } from 'kysely';

type Dialect = 'sqlite' | 'postgres';

export async function up(db: Kysely<unknown>, dialect: Dialect): Promise<void> {
  await db.schema.alterTable('alerts').addColumn('decided_at', 'bigint').execute();
  await db.schema
    .createIndex('alerts_undecided')
    .on('alerts')
    .column('incident_id')
    .where(sql.ref('decided_at'), 'is', null)
    .execute();
  if (dialect !== 'postgres') return;
  await sql`create or replace function fido_notify_work() returns trigger language plpgsql as $$
    begin perform pg_notify('fido_work', tg_table_name); return null; end $$`.execute(db);
  for (const table of ['stage_queue', 'actions']) {
    await sql`create trigger ${sql.raw(`${table}_notify_work`)} after insert on ${sql.table(table)}
      for each statement execute function fido_notify_work()`.execute(db);
  }
}
