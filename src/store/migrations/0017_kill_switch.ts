/**
 * The containment kill switch (issue 17): one row that says whether new containment may run, who set it, when
 * and why (actions/kill-switch.ts). Absent: off.
 */
import type { Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('switches')
    .addColumn('name', 'text', (c) => c.primaryKey())
    .addColumn('on_', 'integer', (c) => c.notNull())
    .addColumn('actor', 'text', (c) => c.notNull())
    .addColumn('reason', 'text', (c) => c.notNull())
    .addColumn('at', 'bigint', (c) => c.notNull())
    .execute();
}
