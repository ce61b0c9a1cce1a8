/** The suite's seeded randomness (test/support/random.ts): the same seed gives the same draws, in [0, 1). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { seededRandom } from '../support/random.js';

test('seededRandom repeats a sequence from its seed and differs between seeds', () => {
  const draw = (seed: number) => Array.from({ length: 1000 }, seededRandom(seed));
  const a = draw(20261207);
  assert.deepEqual(draw(20261207), a);
  assert.notDeepEqual(draw(20261208), a);
  assert.ok(a.every((x) => x >= 0 && x < 1));
  const mean = a.reduce((s, x) => s + x, 0) / a.length;
  assert.ok(mean > 0.4 && mean < 0.6, `mean ${mean}`);
});

test('testSeed takes FIDO_TEST_SEED when set', () => {
  const run = (env: Record<string, string>) =>
    spawnSync(process.execPath, ['--import', 'tsx', '-e', "import('./test/support/random.ts').then((m) => console.log(m.testSeed()))"], {
      cwd: new URL('../..', import.meta.url),
      env: { ...process.env, ...env },
      encoding: 'utf8',
    }).stdout.trim();
  assert.equal(run({ FIDO_TEST_SEED: '12345' }), '12345');
  assert.match(run({ FIDO_TEST_SEED: '' }), /^\d+$/);
});
