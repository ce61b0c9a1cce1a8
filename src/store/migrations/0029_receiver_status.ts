/**
 * Receiver health (issue 19): each running receiver's status, written every few seconds by the process that runs
 * it, so the API, /metrics and `fido receivers` of any process read the same thing. A row not refreshed for a
 * while belongs to a process that is gone: readers call it `unknown`.
 */
import type { Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('receiver_status')
    .addColumn('source', 'text', (c) => c.primaryKey())
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('owner', 'text', (c) => c.notNull())
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('last_record_at', 'bigint')
    .addColumn('records', 'bigint', (c) => c.notNull())
    .addColumn('lag_ms', 'bigint')
    .addColumn('error', 'text')
    .addColumn('cursor', 'text')
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute();
}
