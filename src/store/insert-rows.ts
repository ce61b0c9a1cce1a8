/**
 * Multi-row INSERTs on the pipeline's hot path, without the query builder. Building a statement of a few
 * hundred rows cost Kysely more than the database spent running it (a value node per cell, then a compiler
 * pass over them): ~8% of the pipeline thread's time, and much of its garbage. Each text is made once per
 * shape (statement-texts.ts) and then run with the rows' values; rows go in chunks whose counts are powers
 * of two, so that few texts (and prepared statements) serve every batch size.
 *
 *   await insertRows(tx, 'timeline', ['incident_id', 'at', 'kind', 'summary'], rows);
 *   const fresh = await insertRows(tx, 'alerts', ALERT_COLUMNS, rows, { onConflict: 'on conflict (…) do nothing', returning: ['id'] });
 *
 * Values are always bound as parameters; `onConflict` is SQL text written by the caller (never data).
 */
import { CompiledQuery } from 'kysely';
import type { Database } from './schema.js';
import type { Db } from './store.js';
import { pow2ChunksOf } from '../util/chunks.js';
import { numberedPlaceholders, placeholders, quote, statementText } from './statement-texts.js';

/** Parameters per statement: below SQLite's limit (32,766) and PostgreSQL's (65,535). */
const MAX_PARAMETERS = 30_000;
const MAX_ROWS = 500;

export interface InsertOptions {
  /** An ON CONFLICT clause (both dialects' syntax); it may refer to `excluded`, never to parameters. */
  onConflict?: string;
  /** Columns to return from the inserted (or updated) rows. */
  returning?: readonly string[];
}

type Row = Readonly<Record<string, unknown>>;

/** Inserts `rows` (their values of `columns`; a missing value is null); returns the `returning` columns. */
export async function insertRows<T extends keyof Database & string, C extends keyof Database[T] & string>(
  db: Db,
  table: T,
  columns: readonly C[],
  rows: ReadonlyArray<{ readonly [K in C]?: unknown }>,
  opts: InsertOptions = {},
): Promise<Row[]> {
  const out: Row[] = [];
  if (rows.length === 0) return out;
  const numbered = numberedPlaceholders(db);
  const perStatement = Math.max(1, Math.min(MAX_ROWS, Math.floor(MAX_PARAMETERS / columns.length)));
  for (const chunk of pow2ChunksOf(rows, perStatement)) {
    const params: unknown[] = [];
    for (const r of chunk) for (const c of columns) params.push(r[c] ?? null);
    const result = await db.executeQuery<Row>(CompiledQuery.raw(textOf(numbered, table, columns, chunk.length, opts), params));
    out.push(...result.rows);
  }
  return out;
}

function textOf(numbered: boolean, table: string, columns: readonly string[], rows: number, opts: InsertOptions): string {
  const key = `insert\u0000${numbered ? '$' : '?'}\u0000${table}\u0000${columns.join(',')}\u0000${rows}\u0000${opts.onConflict ?? ''}\u0000${opts.returning?.join(',') ?? ''}`;
  return statementText(key, () => {
    const next = placeholders(numbered);
    const tuples: string[] = [];
    for (let r = 0; r < rows; r++) tuples.push(`(${columns.map(next).join(', ')})`);
    let text = `insert into ${quote(table)} (${columns.map(quote).join(', ')}) values ${tuples.join(', ')}`;
    if (opts.onConflict) text += ` ${opts.onConflict}`;
    if (opts.returning?.length) text += ` returning ${opts.returning.map(quote).join(', ')}`;
    return text;
  });
}
