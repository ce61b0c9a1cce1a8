/**
 * `node --import tsx bench/sql-times.ts DIR [N]`: what a server run with FIDO_SQL_TIMES=DIR spent in each
 * statement (src/store/sql-times.ts), per thread: the N statements it spent most in, with their seconds per
 * window of the run, so that what grows as the store grows stands out. E.g.
 * `FIDO_SQL_TIMES=/tmp/sql BENCH_ONLY=long npm run bench`, then this.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { StatementTimesFile } from '../src/store/sql-times.js';

const [dir, n] = process.argv.slice(2);
if (!dir) throw new Error('usage: bench/sql-times.ts DIR [N]');
const top = Number(n ?? 12);
for (const name of readdirSync(dir).filter((f) => f.endsWith('.json')).sort()) {
  const file = JSON.parse(readFileSync(join(dir, name), 'utf8')) as StatementTimesFile;
  const rows = Object.entries(file.statements)
    .map(([sql, per]) => ({ sql, per, total: per.reduce((a, b) => a + (b ?? 0), 0) }))
    .sort((a, b) => b.total - a.total);
  const all = rows.reduce((a, r) => a + r.total, 0);
  if (all < 100) continue;
  console.log(`\n${name} (process-thread): ${(all / 1000).toFixed(1)} s in statements; seconds per ${file.window_ms / 1000} s window`);
  for (const r of rows.slice(0, top)) {
    const windows = r.per.map((ms) => ((ms ?? 0) / 1000).toFixed(1).padStart(5)).join('');
    console.log(`${(r.total / 1000).toFixed(1).padStart(6)} s |${windows.padEnd(60)}| ${r.sql}`);
  }
}
