/**
 * Alerts received per hour and detector (issue 18, item 4): the overview's alerts series reads these rows, a
 * few hundred per month, instead of every alert of its window (454 ms at p50 for 7 days of a 1,000,000-alert
 * SQLite store). Ingest adds its batch's counts in the transaction that stores the alerts (store/overview.ts,
 * countAlerts); every stored alert row counts, repeats and re-deliveries included, as the series always did.
 * Filled here from the alerts already stored. The cast keeps the division integral on SQLite whatever a value's
 * storage class.
 */
import { sql, type Kysely } from 'kysely';

/** Hours are epoch ms, multiples of this. */
export const ALERT_COUNT_HOUR_MS = 3_600_000;

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('alert_counts')
    .addColumn('hour', 'bigint', (c) => c.notNull())
    .addColumn('detector', 'text', (c) => c.notNull())
    .addColumn('n', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('alert_counts_pk', ['hour', 'detector'])
    .execute();
  await fillAlertCounts(db);
}

/** Counts every stored alert into alert_counts (empty before); bench/overview.ts calls it after a fill that bypasses ingest. */
export async function fillAlertCounts(db: Kysely<unknown>): Promise<void> {
  await sql`insert into alert_counts (hour, detector, n)
    select cast(received_at / ${sql.lit(ALERT_COUNT_HOUR_MS)} as bigint) * ${sql.lit(ALERT_COUNT_HOUR_MS)}, detector, count(*)
    from alerts group by cast(received_at / ${sql.lit(ALERT_COUNT_HOUR_MS)} as bigint), detector`.execute(db);
}
