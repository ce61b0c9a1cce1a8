/**
 * Gives many rows each their own values in one statement per chunk:
 *
 *   UPDATE t SET a = v.column2, b = v.column3 FROM (VALUES (?, ?, ?), …) AS v WHERE t.id = v.column1
 *
 * instead of one UPDATE per row. Ingest touches hundreds of incidents and alerts per batch, and each stage
 * its batch of incidents; built one by one, those statements cost more to build than to run. (An earlier
 * form, `a = CASE id WHEN …`, compared each row with every WHEN: 5 ms for 400 incidents, quadratic in the
 * chunk.) Both SQLite (3.33+) and PostgreSQL name a VALUES list's columns column1, column2, …. As for
 * insert-rows.ts, the text is made once per shape (statement-texts.ts) without the query builder, whose
 * node per cell was the larger part of this function's time and garbage.
 */
import { CompiledQuery } from 'kysely';
import type { Database } from './schema.js';
import type { Db } from './store.js';
import { pow2ChunksOf } from '../util/chunks.js';
import { numberedPlaceholders, placeholders, quote, statementText } from './statement-texts.js';

type Table = 'incidents' | 'alerts';
type Value = string | number | null;
/** A column of the table that takes a plain value (every column but the key). */
type Column<T extends Table> = Exclude<keyof Database[T] & string, 'id'>;
export type RowUpdate<T extends Table> = { id: string } & { [C in Column<T>]?: Value };
type Row = Readonly<Record<string, Value | undefined>> & { id: string };

const CHUNK = 400;

/**
 * How a column's values go into the VALUES list of a chunk: not at all when null on every row (PostgreSQL
 * could not type it; the column is set to null), as text, or cast to a number (PostgreSQL types an untyped
 * parameter in VALUES as text; SQLite gives the cast INTEGER or REAL affinity, as the column has).
 */
type Slot = 'none' | 'text' | 'bigint' | 'double precision';

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
  const fixed = Object.entries(all) as Array<[string, Value]>;
  const numbered = numberedPlaceholders(db);
  for (const { columns, rows: group } of byColumns.values()) {
    for (const chunk of pow2ChunksOf(group, CHUNK)) {
      const slots = columns.map((col) => slotOf(chunk, col));
      const params: Value[] = fixed.map(([, v]) => v);
      for (const r of chunk) {
        params.push(r.id);
        columns.forEach((col, i) => {
          if (slots[i] !== 'none') params.push(r[col] ?? null);
        });
      }
      const text = textOf(numbered, table, fixed.map(([col]) => col), columns, slots, chunk.length);
      if (text) await db.executeQuery(CompiledQuery.raw(text, params));
    }
  }
}

function textOf(numbered: boolean, table: string, fixed: readonly string[], columns: readonly string[], slots: readonly Slot[], rows: number): string | null {
  if (columns.length === 0 && fixed.length === 0) return null;
  const key = `update\u0000${numbered ? '$' : '?'}\u0000${table}\u0000${fixed.join(',')}\u0000${columns.map((c, i) => `${c}:${slots[i]}`).join(',')}\u0000${rows}`;
  return statementText(key, () => {
    const next = placeholders(numbered);
    const sets = fixed.map((col) => `${quote(col)} = ${next()}`);
    if (columns.length === 0) {
      return `update ${quote(table)} set ${sets.join(', ')} where "id" in (${Array.from({ length: rows }, next).join(', ')})`;
    }
    let n = 1;
    for (const [i, col] of columns.entries()) sets.push(`${quote(col)} = ${slots[i] === 'none' ? 'null' : `v.column${++n}`}`);
    const value = (slot: Slot) => (slot === 'text' ? next() : `cast(${next()} as ${slot})`);
    const tuples = Array.from({ length: rows }, () => `(${[next(), ...slots.filter((s) => s !== 'none').map(value)].join(', ')})`);
    return `update ${quote(table)} set ${sets.join(', ')} from (values ${tuples.join(', ')}) as v where ${quote(table)}."id" = v.column1`;
  });
}

function slotOf(rows: readonly Row[], col: string): Slot {
  let numeric = false;
  let real = false;
  let any = false;
  for (const r of rows) {
    const v = r[col];
    if (v === null || v === undefined) continue;
    any = true;
    if (typeof v === 'number') {
      numeric = true;
      if (!Number.isInteger(v)) real = true;
    }
  }
  return !any ? 'none' : !numeric ? 'text' : real ? 'double precision' : 'bigint';
}
