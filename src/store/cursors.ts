/**
 * Receiver positions (file offsets, SQL cursors, mailbox UIDs…) in `receiver_cursors`. A receiver hands its
 * new position to `IntakeWriter.accept` with the records it read, and the writer stores both in ONE commit:
 * the position never runs ahead of, nor lags behind, what the intake log holds (DESIGN.md §4).
 */
import type { Db, Tx } from './store.js';

export interface CursorRow {
  receiver: string;
  key: string;
  value: string;
  updated_at: number;
}

/** One upsert per row; the last row for a (receiver, key) wins. */
export async function writeCursorRows(db: Db | Tx, rows: readonly CursorRow[]): Promise<void> {
  const last = new Map(rows.map((r) => [`${r.receiver}\u0000${r.key}`, r]));
  for (const row of last.values()) {
    await db
      .insertInto('receiver_cursors')
      .values(row)
      .onConflict((oc) => oc.columns(['receiver', 'key']).doUpdateSet({ value: row.value, updated_at: row.updated_at }))
      .execute();
  }
}

export async function readCursorValue(db: Db, receiver: string, key: string): Promise<string | undefined> {
  const row = await db.selectFrom('receiver_cursors').select('value').where('receiver', '=', receiver).where('key', '=', key).executeTakeFirst();
  return row?.value;
}
