/**
 * Long lists are handled a bounded piece at a time. Mostly for the database: each bounds a statement's
 * parameters (SQLite 32,766, PostgreSQL 65,535), and SQLite's statement cache keeps one entry per distinct
 * text, so a bounded chunk length also bounds the number of distinct texts an IN list makes.
 */
export function* chunksOf<T>(list: readonly T[], size: number): Generator<T[]> {
  for (let i = 0; i < list.length; i += size) yield list.slice(i, i + size);
}

/** Runs `select` on each chunk of `values`; the rows of all, in chunk order. */
export async function selectInChunks<V, T>(values: readonly V[], size: number, select: (chunk: V[]) => Promise<readonly T[]>): Promise<T[]> {
  const out: T[] = [];
  for (const chunk of chunksOf(values, size)) for (const row of await select(chunk)) out.push(row);
  return out;
}
