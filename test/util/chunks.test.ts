import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chunksOf, padToPow2, pow2ChunksOf, selectInChunks } from '../../src/util/chunks.js';

test('chunksOf splits a list in order, the last chunk holding the rest', () => {
  assert.deepEqual([...chunksOf([1, 2, 3, 4, 5], 2)], [[1, 2], [3, 4], [5]]);
  assert.deepEqual([...chunksOf([1, 2, 3, 4], 2)], [[1, 2], [3, 4]]);
  assert.deepEqual([...chunksOf([], 3)], []);
});

test('selectInChunks runs the select once per power-of-two chunk and joins the rows in order', async () => {
  const asked: number[][] = [];
  const rows = await selectInChunks([1, 2, 3, 4, 5, 6, 7], 3, async (chunk) => {
    asked.push(chunk);
    return chunk.map((n) => n * 10);
  });
  assert.deepEqual(asked, [[1, 2], [3, 4], [5, 6], [7]]);
  assert.deepEqual(rows, [10, 20, 30, 40, 50, 60, 70]);
});

test('pow2ChunksOf keeps order and cuts only power-of-two lengths, full chunks first', () => {
  const list = Array.from({ length: 300 }, (_, i) => i);
  const chunks = [...pow2ChunksOf(list, 200)];
  assert.deepEqual(chunks.map((c) => c.length), [128, 128, 32, 8, 4]);
  assert.deepEqual(chunks.flat(), list);
  assert.deepEqual([...pow2ChunksOf([], 8)], []);
  assert.deepEqual([...pow2ChunksOf([1, 2, 3], 1)], [[1], [2], [3]]);
  // Any batch size up to 1,000 makes at most log2 distinct lengths: few statement texts to prepare.
  const lengths = new Set<number>();
  for (let n = 1; n <= 1000; n++) for (const c of pow2ChunksOf(list.concat(list, list, list).slice(0, n), 256)) lengths.add(c.length);
  assert.deepEqual([...lengths].sort((a, b) => a - b), [1, 2, 4, 8, 16, 32, 64, 128, 256]);
});

test('padToPow2 repeats the last value up to the next power of two, and leaves an empty list empty', () => {
  assert.deepEqual(padToPow2(['a', 'b', 'c']), ['a', 'b', 'c', 'c']);
  assert.deepEqual(padToPow2([1, 2, 3, 4]), [1, 2, 3, 4]);
  assert.deepEqual(padToPow2([7]), [7]);
  assert.deepEqual(padToPow2([]), []);
});
