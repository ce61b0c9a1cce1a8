/**
 * Long lists are handled a bounded piece at a time. Mostly for the database: each bounds a statement's
 * parameters (SQLite 32,766, PostgreSQL 65,535), and SQLite's statement cache keeps one entry per distinct
 * text, so a bounded chunk length also bounds the number of distinct texts an IN list makes.
 */
export function* chunksOf<T>(list: readonly T[], size: number): Generator<T[]> {
  for (let i = 0; i < list.length; i += size) yield list.slice(i, i + size);
}

/**
 * Chunks of at most `max` whose lengths are powers of two: full chunks of the largest power of two up to
 * `max`, then the rest by halving. For statements built per chunk length (multi-row VALUES, IN lists): a
 * batch of any size then reuses one of ~log2(max) prepared texts instead of preparing one of its own, which
 * cost SQLite more than running it (a 300-row insert of nine columns prepares 2,700 parameters).
 */
export function* pow2ChunksOf<T>(list: readonly T[], max: number): Generator<T[]> {
  let size = 1;
  while (size * 2 <= max) size *= 2;
  for (let i = 0; i < list.length; ) {
    while (size > list.length - i) size /= 2;
    yield list.slice(i, i + size);
    i += size;
  }
}

/** Runs `select` on each chunk of `values` (pow2ChunksOf); the rows of all, in chunk order. */
export async function selectInChunks<V, T>(values: readonly V[], size: number, select: (chunk: V[]) => Promise<readonly T[]>): Promise<T[]> {
  const out: T[] = [];
  for (const chunk of pow2ChunksOf(values, size)) for (const row of await select(chunk)) out.push(row);
  return out;
}

/**
 * The list lengthened to the next power of two by repeating its last value: for an IN list whose length
 * varies (repeats change nothing in IN), so that it is one of few statement texts (see pow2ChunksOf).
 */
export function padToPow2<T>(list: readonly T[]): T[] {
  let size = 1;
  while (size < list.length) size *= 2;
  const out = [...list];
  while (out.length < size && list.length > 0) out.push(list[list.length - 1]!);
  return out;
}
