/** `fido policy try`: the demo configuration's policy on one incident, through the real binary. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { FIDO_BIN } from '../support/fido-process.js';

const DEMO_CONFIG = new URL('../../demo/fido.yaml', import.meta.url).pathname;

function tryPolicy(incident: unknown, ...args: string[]) {
  return spawnSync(process.execPath, [FIDO_BIN, 'policy', 'try', '--config', DEMO_CONFIG, ...args], {
    input: typeof incident === 'string' ? incident : JSON.stringify(incident),
    encoding: 'utf8',
    env: { ...process.env, FIDO_LOG_LEVEL: 'silent' },
  });
}

const scored = (total: number, allowlist = 0) => ({ score: { total, profile: 'default', components: { allowlist }, explanation: [] } });

test('every rule is reported with why it did or did not match, and the one that decides', () => {
  const r = tryPolicy(scored(60));
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(r.stdout.trim().split('\n'), [
    'decision: rule "notify-medium" → notify (email → soc-mail)',
    '· allowlisted: when is false: score.components.allowlist < 0.0',
    '· critical-asset-compromise: when is false: score.total >= 75.0',
    '✔ notify-medium (decides): when is true: score.total >= 50.0',
  ]);
  const high = JSON.parse(tryPolicy(scored(90), '--json').stdout) as { decision: { rule: string; outcome: string }; rules: Array<{ rule: string; result: string }> };
  assert.deepEqual([high.decision.rule, high.decision.outcome], ['critical-asset-compromise', 'escalate']);
  // Every rule is evaluated, not only up to the deciding one.
  assert.deepEqual(high.rules.map((x) => [x.rule, x.result]), [['allowlisted', 'no-match'], ['critical-asset-compromise', 'match'], ['notify-medium', 'match']]);
});

test('bad input names what is wrong and exits 1', () => {
  const notJson = tryPolicy('{ nope');
  assert.equal(notJson.status, 1);
  assert.match(notJson.stderr, /^fido policy try: stdin is not JSON: /);
  const list = tryPolicy([]);
  assert.equal(list.status, 1);
  assert.match(list.stderr, /stdin: expected one incident object/);
});
