/**
 * The dedup state's memory (src/pipeline/ingest/fingerprints.ts): what a committed batch changed is kept,
 * the least recently touched are forgotten first — past the time kept or past the bound — and a forgotten
 * entry's slot, taken again, carries only its new values. (Rebuilding it from the alert rows after a restart
 * is tested with a real store in ingest.test.ts.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Fingerprints, type FingerprintEntry } from '../../src/pipeline/ingest/fingerprints.js';

const entry = (n: number, touchedAt: number): FingerprintEntry => ({ alertId: `a${n}`, incidentId: n % 2 ? `i${n}` : null, lastSeen: 1000 + n, count: n, touchedAt });
const batch = (...items: Array<[string, FingerprintEntry]>) => new Map(items);

test('fingerprints: kept after a commit, forgotten by time and by bound, least recently touched first', () => {
  const fps = new Fingerprints({ keepMs: 100, max: 3 });
  fps.apply(batch(['f1', entry(1, 10)], ['f2', entry(2, 20)]));
  assert.deepEqual(fps.get('f1'), entry(1, 10));
  assert.deepEqual(fps.get('f2'), entry(2, 20));
  assert.equal(fps.get('f3'), undefined);

  // Touching f1 again makes it the most recent: past the bound of 3, f2 goes, not f1.
  fps.apply(batch(['f1', entry(11, 30)], ['f3', entry(3, 40)], ['f4', entry(4, 50)]));
  assert.equal(fps.size, 3);
  assert.equal(fps.get('f2'), undefined, 'the least recently touched is forgotten');
  assert.deepEqual(fps.get('f1'), entry(11, 30));

  // 100 ms after f1, f3 and f4 were touched they are forgotten, though under the bound.
  fps.apply(batch(['f5', entry(5, 145)]));
  assert.deepEqual([fps.get('f1'), fps.get('f3')], [undefined, undefined], 'touched before 145 - 100');
  assert.deepEqual(fps.get('f4'), entry(4, 50));
  assert.equal(fps.size, 2);

  // New fingerprints take the freed slots: each answers with its own values, nothing of the one before.
  fps.apply(batch(['f6', entry(6, 146)], ['f7', entry(7, 147)]));
  assert.deepEqual([fps.get('f6'), fps.get('f7')], [entry(6, 146), entry(7, 147)]);
  assert.equal(fps.size, 3, 'f4 went: the bound again');
});

test('fingerprints: grows past its first columns without losing an entry', () => {
  const fps = new Fingerprints({ keepMs: 1e9, max: 1e6 });
  const n = 5000;
  fps.apply(new Map(Array.from({ length: n }, (_, i): [string, FingerprintEntry] => [`fp-${i}`, entry(i, i)])));
  assert.equal(fps.size, n);
  for (const i of [0, 1023, 1024, 2047, 4999]) assert.deepEqual(fps.get(`fp-${i}`), entry(i, i), `fp-${i}`);
});
