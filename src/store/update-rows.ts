/**
 * Gives many rows each their own values in one statement per chunk:
 *
 *   UPDATE t SET a = v.column2, b = v.column3 FROM (VALUES (?, ?, ?), …) AS v WHERE t.id = v.column1
 *
 * instead of one UPDATE per row. The correlate stage touches hundreds of incidents and alerts per batch;
 * built one by one, those statements cost more to build than to run. (An earlier form, `a = CASE id WHEN …`,
 * compared each row with every WHEN: 5 ms for 400 incidents, quadratic in the chunk.) Both SQLite (3.33+)
 * and PostgreSQL name a VALUES list's columns column1, column2, ….
 */
import { sql, type RawBuilder } from 'kysely';
import type { Database } from './schema.js';
import type { Db } from './store.js';
import { pow2ChunksOf } from '../util/chunks.js';

type Table = 'incidents' | 'alerts';
type Value = string | number | null;
/** A column of the table that takes a plain value (every column but the key). */
type Column<T extends Table> = Exclude<keyof Database[T] & string, 'id'>;
export type RowUpdate<T extends Table> = { id: string } & { [C in Column<T>]?: Value };
type Row = Readonly<Record<string, Value | undefined>> & { id: string };

const CHUNK = 400;

/**
 * Sets, per row, the columns its update carries; a column a row does not carry keeps its value. `all` sets
 * the same values on every row of the list. Ids must be distinct.
 */
export async function updateRows<T extends Table>(
  db: Db,
  table: T,
  rows: ReadonlyArray<RowUpdate<T>>,
  all: { [C in Column<T>]?: Value } = {},
): Promise<void> {
  // Rows that carry the same columns share statements (usually every row of a call does).
  const byColumns = new Map<string, { columns: string[]; rows: Row[] }>();
  for (const r of rows as ReadonlyArray<Row>) {
    const columns = Object.keys(r).filter((k) => k !== 'id' && r[k] !== undefined && !(k in all));
    const key = columns.join('\u0000');
    const group = byColumns.get(key) ?? { columns, rows: [] };
    group.rows.push(r);
    byColumns.set(key, group);
  }
  const fixed = (Object.entries(all) as [string, Value][]).map(([col, v]) => sql`${sql.ref(col)} = ${v}`);
  for (const { columns, rows: group } of byColumns.values()) {
    for (const chunk of pow2ChunksOf(group, CHUNK)) {
      if (columns.length === 0) {
        if (fixed.length > 0) await sql`update ${sql.table(table)} set ${sql.join(fixed)} where ${sql.ref('id')} in (${sql.join(chunk.map((r) => r.id))})`.execute(db);
        continue;
      }
      // A column null on every row of the chunk gets no VALUES slot (PostgreSQL could not type it).
      const sets = [...fixed];
      const slots: Array<(r: Row) => RawBuilder<unknown>> = [];
      for (const col of columns) {
        const slot = slotOf(chunk, col);
        if (slot) slots.push(slot);
        sets.push(slot ? sql`${sql.ref(col)} = ${sql.ref(`v.column${slots.length + 1}`)}` : sql`${sql.ref(col)} = null`);
      }
      const tuples = chunk.map((r) => sql`(${sql.join([sql`${r.id}`, ...slots.map((slot) => slot(r))])})`);
      await sql`update ${sql.table(table)} set ${sql.join(sets)}
        from (values ${sql.join(tuples)}) as v where ${sql.ref(`${table}.id`)} = ${sql.ref('v.column1')}`.execute(db);
    }
  }
}

/**
 * How the column's value of a row goes into the VALUES list, or null when it is null on every row.
 * PostgreSQL types an untyped parameter in VALUES as text: numbers need a cast (SQLite ignores it).
 */
function slotOf(rows: readonly Row[], col: string): ((r: Row) => RawBuilder<unknown>) | null {
  if (rows.every((r) => r[col] === null)) return null;
  const numeric = rows.some((r) => typeof r[col] === 'number');
  if (!numeric) return (r) => sql`${r[col]}`;
  const real = rows.some((r) => typeof r[col] === 'number' && !Number.isInteger(r[col]));
  const cast = sql.raw(real ? 'double precision' : 'bigint');
  return (r) => (r[col] === null ? sql`${null}` : sql`cast(${r[col]} as ${cast})`);
}
