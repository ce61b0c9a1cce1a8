// Runs every test/**/*.test.ts under node's built-in test runner (CI reads its summary).
// Usage: npm test [-- substring ...] to run only files whose path contains one of the substrings.
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { spawnSync } from 'node:child_process';

function walk(dir) {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? walk(p) : p.endsWith('.test.ts') ? [p] : [];
  });
}
const filters = process.argv.slice(2);
const files = walk('test')
  .map((f) => relative('.', f))
  .filter((f) => filters.length === 0 || filters.some((s) => f.includes(s)))
  .sort();
if (files.length === 0) {
  console.error('no test files matched');
  process.exit(1);
}
// --test-force-exit: a file ends when its tests have, so a failed test that leaves a server or a timer behind
// fails the suite instead of keeping it running forever.
const r = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--import', './test/support/setup.mjs', '--test', '--test-force-exit', '--test-concurrency=3', '--test-reporter=spec', ...files],
  { stdio: 'inherit', env: { ...process.env, FIDO_LOG_LEVEL: process.env.FIDO_LOG_LEVEL ?? 'silent' } },
);
process.exit(r.status ?? 1);
