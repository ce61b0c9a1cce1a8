/** The bounds of linear.ts on times given, not measured: what they let pass and what they catch. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LADDER, growthOf, within } from './linear.js';

const judged = (times: number[]) => within(growthOf(LADDER, times));

test('linear growth passes; quadratic growth fails, over the whole ladder or in its last step alone', () => {
  assert.equal(judged([0.1, 0.4, 1.6, 6.4, 25.6]), true);
  assert.equal(judged([0.1, 1.6, 25.6, 409.6, 6553.6]), false);
  assert.equal(judged([1, 4, 16, 64, 1024]), false, '×16 only from 64 to 256 KiB, over a second');
  assert.equal(judged([1, 4, 16, 256, 4096]), false, '×16 over the last two steps');
});

test('a spike at one size that the next step takes back is not growth (seen in CI on zeek)', () => {
  assert.equal(judged([0.152, 0.604, 2.0, 35.9, 70.6]), true);
  // The same spike, not taken back: the work kept growing from there.
  assert.equal(judged([0.152, 0.604, 2.0, 35.9, 574]), false);
});
