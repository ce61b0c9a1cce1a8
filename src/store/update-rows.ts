/**
 * Gives many rows each their own values in one statement per chunk:
 *
 *   UPDATE t SET a = CASE id WHEN ? THEN ? … ELSE a END, b = … WHERE id IN (…)
 *
 * instead of one UPDATE per row. The correlate stage touches hundreds of incidents and alerts per batch;
 * built one by one, those statements cost more to build than to run.
 */
import { sql, type RawBuilder } from 'kysely';
import type { Database } from './schema.js';
import type { Db } from './store.js';

type Table = 'incidents' | 'alerts';
type Value = string | number | null;
/** A column of the table that takes a plain value (every column but the key). */
type Column<T extends Table> = Exclude<keyof Database[T] & string, 'id'>;
export type RowUpdate<T extends Table> = { id: string } & { [C in Column<T>]?: Value };

const CHUNK = 400;

/**
 * Sets, per row, the columns its update carries; a column only some rows carry keeps its value on the others.
 * `all` sets the same values on every row of the list. Ids must be distinct.
 */
export async function updateRows<T extends Table>(
  db: Db,
  table: T,
  rows: ReadonlyArray<RowUpdate<T>>,
  all: { [C in Column<T>]?: Value } = {},
): Promise<void> {
  for (let i = 0; i < rows.length; i += CHUNK) {
    const chunk = rows.slice(i, i + CHUNK);
    const columns = new Set<string>();
    for (const r of chunk) for (const k of Object.keys(r)) if (k !== 'id' && !(k in all)) columns.add(k);
    const sets: RawBuilder<unknown>[] = [];
    for (const [col, v] of Object.entries(all) as [string, Value][]) sets.push(sql`${sql.ref(col)} = ${v}`);
    for (const col of columns) sets.push(sql`${sql.ref(col)} = ${perRow(chunk as ReadonlyArray<Record<string, Value>>, col)}`);
    if (sets.length === 0) continue;
    const ids = chunk.map((r) => r.id);
    await sql`update ${sql.table(table)} set ${sql.join(sets)} where ${sql.ref('id')} in (${sql.join(ids)})`.execute(db);
  }
}

function perRow(rows: ReadonlyArray<Record<string, Value>>, col: string): RawBuilder<unknown> {
  // PostgreSQL types an untyped parameter in THEN as text: numbers need a cast (SQLite ignores it). A column
  // whose values are all null needs none: its ELSE branch gives the type.
  const numeric = rows.some((r) => typeof r[col] === 'number');
  const real = numeric && rows.some((r) => typeof r[col] === 'number' && !Number.isInteger(r[col]));
  const cast = real ? sql.raw('double precision') : sql.raw('bigint');
  const whens = rows
    .filter((r) => r[col] !== undefined)
    .map((r) => (numeric ? sql`when ${r.id} then cast(${r[col]} as ${cast})` : sql`when ${r.id} then ${r[col]}`));
  return sql`case ${sql.ref('id')} ${sql.join(whens, sql` `)} else ${sql.ref(col)} end`;
}
