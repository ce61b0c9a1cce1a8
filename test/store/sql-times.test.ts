/**
 * Opt-in statement timing (src/store/sql-times.ts): with FIDO_SQL_TIMES set, a store's statements are added
 * up by their first words, per window, in a file per thread, written at exit (in a process of its own, since
 * the setting is read once per thread); without it, no recorder.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { statementTimes } from '../../src/store/sql-times.js';

const root = new URL('../..', import.meta.url).pathname;
// Opens a SQLite store, runs a few statements, exits.
const script = `
  import { openStore } from './src/store/store.ts';
  const store = await openStore({ dataDir: process.argv[1] });
  for (let i = 0; i < 3; i++) await store.db.selectFrom('incidents').select('id').where('id', '=', 'x' + i).execute();
  await store.close();
`;

function run(env: Record<string, string>, dataDir: string): void {
  execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script, dataDir], { cwd: root, env: { ...process.env, ...env }, stdio: 'pipe' });
}

test('sql times: recorded per statement shape and window when FIDO_SQL_TIMES is set, not otherwise', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fido-sql-times-'));
  try {
    const times = join(dir, 'times');
    run({ FIDO_SQL_TIMES: times }, join(dir, 'a'));
    const files = readdirSync(times);
    assert.equal(files.length, 1, 'one file: the one thread that used the store');
    const written = JSON.parse(readFileSync(join(times, files[0]!), 'utf8')) as { window_ms: number; statements: Record<string, number[]> };
    assert.equal(written.window_ms, 20_000);
    const select = Object.keys(written.statements).find((s) => s.startsWith('select "id" from "incidents" where "id" = ?'));
    assert.ok(select, Object.keys(written.statements).join('\n'));
    assert.equal(written.statements[select]!.length, 1, 'all in the first window');
    assert.ok(Object.keys(written.statements).some((s) => s.startsWith('create table')), 'the migrations too');

    // Unset: no recorder, so statements run as they are.
    delete process.env.FIDO_SQL_TIMES;
    assert.equal(statementTimes(), undefined);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
