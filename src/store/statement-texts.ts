/**
 * The texts of the statements the pipeline builds by hand (insert-rows.ts, update-rows.ts), made once per
 * shape and reused. A text depends only on its shape (table, columns, row count, clauses, the dialect's
 * placeholder style), never on values, which are always bound as parameters; building one per call through
 * the query builder (a node per cell, then a compiler pass) cost more than running it.
 */
import { sql } from 'kysely';
import type { Db } from './store.js';

/** Texts by shape, bounded by count and by their total length (a text of 500 rows is tens of kilobytes). */
const texts = new Map<string, string>();
const MAX_TEXTS = 5000;
const MAX_TEXT_CHARS = 4_000_000;
let textChars = 0;

/** The text of the shape `key` (which must say everything the text depends on), built by `build` once. */
export function statementText(key: string, build: () => string): string {
  let text = texts.get(key);
  if (text !== undefined) return text;
  text = build();
  textChars += text.length;
  while (texts.size > 0 && (texts.size >= MAX_TEXTS || textChars > MAX_TEXT_CHARS)) {
    const oldest = texts.keys().next().value!;
    textChars -= texts.get(oldest)!.length;
    texts.delete(oldest);
  }
  texts.set(key, text);
  return text;
}

/** A SQL identifier, quoted. */
export const quote = (name: string): string => `"${name.replace(/"/g, '""')}"`;

/** The placeholder style of each connection or transaction seen (`?` for SQLite, `$1` for PostgreSQL). */
const styles = new WeakMap<Db, boolean>();

/** Whether this connection numbers its placeholders ($1, $2: PostgreSQL) or not (?: SQLite). */
export function numberedPlaceholders(db: Db): boolean {
  let numbered = styles.get(db);
  if (numbered === undefined) {
    numbered = sql`${0}`.compile(db).sql !== '?';
    styles.set(db, numbered);
  }
  return numbered;
}

/** Hands out placeholders in text order: `?` each, or `$1`, `$2`, … */
export function placeholders(numbered: boolean): () => string {
  let n = 0;
  return numbered ? () => `$${++n}` : () => '?';
}
