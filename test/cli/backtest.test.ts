/**
 * `fido backtest` and `fido policy explain` through the real binary, on a store whose incidents were decided
 * by the real pipeline (test/support/backtest-history.ts): a changed rule flips exactly the incidents it
 * should, a profile changes scores, nothing is written, and bad input names the file and line.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FIDO_BIN } from '../support/fido-process.js';
import { openTestStore, type TestStore } from '../support/stores.js';
import { DEMO_CONFIG, lowerThreshold, rowCounts, seedHistory, writeTryConfig } from '../support/backtest-history.js';
import type { BacktestReport } from '../../src/backtest/run.js';
import type { IncidentExplanation } from '../../src/backtest/explain.js';

let t: TestStore;
let tryConfig: string;

before(async () => {
  t = await openTestStore('sqlite');
  await seedHistory(t.store);
  tryConfig = writeTryConfig(t.dataDir);
});
after(async () => {
  await t.cleanup();
});

function fido(...args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [FIDO_BIN, ...args], { env: { ...process.env, FIDO_LOG_LEVEL: 'silent', FIDO_DATABASE_URL: t.url, FIDO_CONFIG: '' } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

async function incidentsWhere(pred: (score: number, rule: string) => boolean): Promise<string[]> {
  const rows = await t.store.db.selectFrom('incidents').select(['id', 'score_total', 'decision']).orderBy('last_seen').orderBy('id').execute();
  return rows.filter((r) => pred(r.score_total ?? 0, (JSON.parse(r.decision ?? '{}') as { rule?: string }).rule ?? '')).map((r) => r.id);
}

test('a lowered threshold flips exactly the incidents between the thresholds, and the report lists those', async () => {
  const before = await rowCounts(t.store);
  const rules = join(t.dataDir, 'rules-next.yaml');
  writeFileSync(rules, lowerThreshold(30));
  const r = await fido('backtest', '--config', DEMO_CONFIG, '--policy', rules, '--since', '1d', '--until', '2099-01-01', '--json', '--limit', '1000');
  assert.equal(r.status, 0, r.stderr);
  const report = JSON.parse(r.stdout) as BacktestReport;
  const flipped = await incidentsWhere((s, rule) => s >= 30 && s < 50 && rule === '(default)');
  assert.ok(flipped.length > 0 && flipped.length < report.counts.incidents, 'some, not all, incidents are between the thresholds');
  assert.deepEqual(report.changed.map((c) => c.id), flipped);
  assert.equal(report.counts.incidents, (await incidentsWhere(() => true)).length);
  assert.deepEqual(
    { changed: report.counts.changed, outcome: report.counts.outcome_changed, rule: report.counts.rule_changed, added: report.counts.actions_added, removed: report.counts.actions_removed, score: report.counts.score_changed },
    { changed: flipped.length, outcome: flipped.length, rule: flipped.length, added: flipped.length, removed: 0, score: 0 },
  );
  assert.deepEqual(report.outcome_changes, { 'log → notify': flipped.length });
  for (const c of report.changed) {
    assert.deepEqual([c.outcome, c.rule, c.actions], [{ old: 'log', new: 'notify' }, { old: '(default)', new: 'notify-medium' }, { added: ['email → soc-mail'], removed: [] }]);
    assert.equal(c.score.old, c.score.new, 'no profile: the stored score');
  }
  assert.match(r.stderr, /backtest: \d+\/\d+ incidents/, 'progress on stderr');
  // The text form: counts, then one line per changed incident.
  const text = await fido('backtest', '--config', DEMO_CONFIG, '--policy', rules, '--since', '1d', '--until', '2099-01-01', '--limit', '2');
  assert.equal(text.status, 0, text.stderr);
  assert.match(text.stdout, new RegExp(`outcome changed:  ${flipped.length} \\(log → notify: ${flipped.length}\\)`));
  assert.match(text.stdout, new RegExp(`changed incidents \\(first 2 of ${flipped.length}\\):\\n${flipped[0]}  .*outcome log → notify  rule \\(default\\) → notify-medium  actions \\+email → soc-mail`));
  assert.deepEqual(await rowCounts(t.store), before, 'nothing was written');
});

test('a scoring profile changes scores, and the decisions that follow from them', async () => {
  const before = await rowCounts(t.store);
  const r = await fido('backtest', '--config', tryConfig, '--profile', 'loud', '--since', '1d', '--until', '2099-01-01', '--json', '--limit', '1000');
  assert.equal(r.status, 0, r.stderr);
  const report = JSON.parse(r.stdout) as BacktestReport;
  assert.equal(report.profile?.name, 'loud');
  assert.ok(report.counts.score_changed > 0);
  for (const c of report.changed) {
    assert.ok(c.score.new! > c.score.old!, `${c.id}: severity is worth more, the score rises (${c.score.old} → ${c.score.new})`);
    // Decisions change only where the new score crosses a threshold of the policy (30 && 5 alerts, 50, 75).
    if (c.outcome.old !== c.outcome.new) assert.ok(c.score.old! < 50 && c.score.new! >= 50, `${c.id}: ${c.score.old} → ${c.score.new}`);
  }
  assert.deepEqual(await rowCounts(t.store), before, 'nothing was written');
});

test('a bad policy file is named with its line; a missing choice or store is refused', async () => {
  const bad = join(t.dataDir, 'bad-rules.yaml');
  writeFileSync(bad, 'rules:\n  - name: ok\n    when: score.total >= 10.0\n  - name: broken\n    when: score.total >=\n');
  const r = await fido('backtest', '--config', DEMO_CONFIG, '--policy', bad);
  assert.equal(r.status, 1);
  assert.match(r.stderr, new RegExp(`^fido backtest: invalid policy:\\n${bad.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:5: rule "broken": when: `));
  // Unknown targets, profiles and windows are refused by the same code over HTTP (test/api/backtests.test.ts).
  assert.match((await fido('backtest', '--config', DEMO_CONFIG)).stderr, /give --policy FILE, --profile NAME or both/);
  const noStore = await new Promise<{ status: number | null; stderr: string }>((resolve) => {
    const child = spawn(process.execPath, [FIDO_BIN, 'backtest', '--config', DEMO_CONFIG, '--profile', 'default'], {
      env: { ...process.env, FIDO_LOG_LEVEL: 'silent', FIDO_DATABASE_URL: '', FIDO_DATA_DIR: join(t.dataDir, 'nowhere') },
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (status) => resolve({ status, stderr }));
  });
  assert.equal(noStore.status, 1);
  assert.match(noStore.stderr, /no store at .*nowhere\/fido\.db/);
});

test('policy explain names the matching rule, and the first false part of a rule that did not match', async () => {
  const [quiet] = await incidentsWhere((s, rule) => s >= 30 && s < 50 && rule === '(default)');
  const [loud] = await incidentsWhere((s) => s >= 50 && s < 75);
  const low = await fido('policy', 'explain', quiet!, '--config', tryConfig);
  assert.equal(low.status, 0, low.stderr);
  assert.match(low.stdout, new RegExp(`^incident ${quiet}: .*decided now: rule "\\(default\\)" → log\\ndecision: rule "\\(default\\)" → log\\n`));
  assert.match(low.stdout, /· busy-medium: incident\.alert_count >= 5 is false\n/);
  assert.match(low.stdout, /· notify-medium: when is false: score\.total >= 50\.0\n/);
  const high = JSON.parse((await fido('policy', 'explain', loud!, '--config', tryConfig, '--json')).stdout) as IncidentExplanation;
  assert.equal(high.decision.rule, 'notify-medium');
  assert.deepEqual(high.rules.map((x) => [x.rule, x.result, x.decides]), [
    ['allowlisted', 'no-match', false],
    ['critical-asset-compromise', 'no-match', false],
    ['busy-medium', 'no-match', false],
    ['notify-medium', 'match', true],
  ]);
  const missing = await fido('policy', 'explain', '01ARZ3NDEKTSV4RRFFQ69G5FAV', '--config', tryConfig);
  assert.equal(missing.status, 1);
  assert.match(missing.stderr, /^fido policy explain: no incident 01ARZ3NDEKTSV4RRFFQ69G5FAV in the store/);
});
