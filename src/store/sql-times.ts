/**
 * Opt-in timing of the store's statements on SQLite, to find what slows down as a store grows (a CPU profile
 * shows only "executeQuery": the statements run after an await, out of their callers' stacks). With
 * `FIDO_SQL_TIMES=<dir>`, each thread adds up the time of each statement, by its first words and per window
 * of WINDOW_MS since it started, and writes the sums to `<dir>/<pid>-<thread>.json` every few seconds and at
 * exit. Wall time: a `begin immediate` includes the wait for another connection's write lock. `node --import tsx bench/sql-times.ts <dir>` prints them. Unset (the default), nothing is measured.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { threadId } from 'node:worker_threads';

const WINDOW_MS = 20_000;
const WRITE_EVERY_MS = 5_000;
/** Characters of a statement's text that name it (whitespace folded). */
const SHAPE_CHARS = 80;

/** What a file holds: statement → milliseconds spent in it per window (index: window since the thread started). */
export type StatementTimesFile = { window_ms: number; statements: Record<string, number[]> };

export interface StatementTimes {
  time<T>(sqlText: string, run: () => Promise<T>): Promise<T>;
}

let shared: StatementTimes | null | undefined;

/** This thread's recorder, or undefined when FIDO_SQL_TIMES is not set. */
export function statementTimes(): StatementTimes | undefined {
  if (shared === undefined) {
    const dir = process.env.FIDO_SQL_TIMES;
    shared = dir ? recorder(dir) : null;
  }
  return shared ?? undefined;
}

function recorder(dir: string): StatementTimes {
  mkdirSync(dir, { recursive: true });
  const started = Date.now();
  const sums = new Map<string, number[]>();
  const file = join(dir, `${process.pid}-${threadId}.json`);
  const write = () => {
    const out: StatementTimesFile = { window_ms: WINDOW_MS, statements: Object.fromEntries([...sums].map(([k, v]) => [k, Array.from(v, (x) => Math.round(x ?? 0))])) };
    writeFileSync(file, JSON.stringify(out));
  };
  setInterval(write, WRITE_EVERY_MS).unref();
  process.once('exit', write);
  return {
    async time(sqlText, run) {
      const t = performance.now();
      try {
        return await run();
      } finally {
        const shape = sqlText.replace(/\s+/g, ' ').trim().slice(0, SHAPE_CHARS);
        const window = Math.floor((Date.now() - started) / WINDOW_MS);
        let per = sums.get(shape);
        if (!per) sums.set(shape, (per = []));
        per[window] = (per[window] ?? 0) + (performance.now() - t);
      }
    },
  };
}
