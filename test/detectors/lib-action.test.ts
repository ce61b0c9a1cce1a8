/** mapAction (src/detectors/lib/action.ts): a product's action word → what the product itself did. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mapAction } from '../../src/detectors/lib/action.js';

test('mapAction: blocks, quarantines, allows and detections; "not blocked" is a detection, not a block', () => {
  const cases: Array<[string, string | undefined]> = [
    ['blocked', 'blocked'],
    ['Deny', 'blocked'],
    ['reset-both', 'blocked'],
    ['quarantined', 'quarantined'],
    ['allowed', 'allowed'],
    ['alert', 'detected'],
    ['would block', 'detected'],
    ['not blocked', 'detected'],
    ['Not Prevented', 'detected'],
    ['not_quarantined', 'detected'],
    ['frobnicated', 'unknown'],
    ['', undefined],
  ];
  for (const [word, action] of cases) assert.equal(mapAction(word), action, word);
});
