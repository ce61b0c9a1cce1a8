/**
 * Backtests are kept (issue 18: the configuration page shows the latest): who ran one, over which window, with
 * what policy text and profile, and its report. Nothing else a backtest touches is written.
 */
import type { Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('backtests')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('actor', 'text', (c) => c.notNull())
    .addColumn('policy', 'text')
    .addColumn('profile', 'text')
    .addColumn('report', 'text', (c) => c.notNull())
    .execute();
}
