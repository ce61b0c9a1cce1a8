import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chunksOf, selectInChunks } from '../../src/util/chunks.js';

test('chunksOf splits a list in order, the last chunk holding the rest', () => {
  assert.deepEqual([...chunksOf([1, 2, 3, 4, 5], 2)], [[1, 2], [3, 4], [5]]);
  assert.deepEqual([...chunksOf([1, 2, 3, 4], 2)], [[1, 2], [3, 4]]);
  assert.deepEqual([...chunksOf([], 3)], []);
});

test('selectInChunks runs the select once per chunk and joins the rows in order', async () => {
  const asked: number[][] = [];
  const rows = await selectInChunks([1, 2, 3, 4, 5, 6, 7], 3, async (chunk) => {
    asked.push(chunk);
    return chunk.map((n) => n * 10);
  });
  assert.deepEqual(asked, [[1, 2, 3], [4, 5, 6], [7]]);
  assert.deepEqual(rows, [10, 20, 30, 40, 50, 60, 70]);
});
