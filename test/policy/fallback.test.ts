/**
 * Fail safe (issue 13, item 4): a rule whose `when` errors or runs out of time is never taken as "no match".
 * The decision records which rule failed and how, and the policy's fallback (default: notify) applies —
 * without weakening what the other rules decided.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { PolicyRuleConfig } from '../../src/config/schema.js';
import type { IncidentDetail } from '../../src/model/incident.js';
import { evaluatePolicies, evaluatePolicy, FALLBACK_RULE, type PolicyDecision } from '../../src/policy/evaluate.js';
import { dryRunRules } from '../../src/policy/dryrun.js';
import { DEFAULT_FALLBACK, loadPolicy, PolicyLoadError } from '../../src/policy/rules.js';
import { CelSandbox } from '../../src/policy/sandbox.js';
import { CONTEXT_LIMITS } from '../../src/policy/context.js';
import { createDecideStage } from '../../src/pipeline/stages/decide.js';
import type { ClaimedItem } from '../../src/store/queue.js';
import { alert, incident, insertIncident, T0 } from '../score/fixtures.js';
import { openTestStore } from '../support/stores.js';
import { MAIL_AND_WEBHOOK, fileSandbox } from './support.js';

const sandbox = fileSandbox();

const scored = (total: number, over: Partial<IncidentDetail> = {}) => incident({ score: { profile: 'default', total, components: {}, explanation: [] }, ...over });
const policyOf = (rules: PolicyRuleConfig[], fallback?: unknown) => loadPolicy({ rules, fallback, baseDir: '.', targets: MAIL_AND_WEBHOOK });
const opts = { configVersion: 'v1', sandbox };

// Errors at run time only: `incident.host` is null on the incidents below.
const ERRORING: PolicyRuleConfig = { name: 'srv-hosts', when: 'incident.host.startsWith("srv")', outcome: 'escalate', then: [{ action: 'soar-webhook' }] };
// Quadratic in the title's length: seconds at the 8 KiB cap, far past a 100 ms limit.
const SLOW: PolicyRuleConfig = { name: 'slow-pairs', when: 'incident.title.split("").exists(x, incident.title.split("").exists(y, x + y == "zz"))', outcome: 'escalate' };
const LOW: PolicyRuleConfig = { name: 'low', when: 'score.total < 50', outcome: 'log' };

test('an erroring rule: the decision records it and goes to the fallback (default: notify)', () => {
  const d = evaluatePolicy(policyOf([ERRORING]), scored(10, { host: null }), opts);
  assert.equal(d.rule, FALLBACK_RULE);
  assert.equal(d.outcome, 'notify');
  assert.deepEqual(d.actions, []);
  assert.deepEqual(d.matched, []);
  assert.equal(d.errors.length, 1);
  assert.deepEqual([d.errors[0]!.rule, d.errors[0]!.kind], ['srv-hosts', 'error']);
  assert.match(d.errors[0]!.error, /no matching overload|null/);
  assert.deepEqual(d.fallback?.rules, ['srv-hosts']);
  assert.equal(d.fallback?.outcome, 'notify');
  assert.match(d.fallback!.reason, /^rule "srv-hosts" failed: /);
  assert.equal(DEFAULT_FALLBACK.outcome, 'notify');
});

test('a rule that runs out of time: recorded as a timeout, and the fallback applies', () => {
  const fast = new CelSandbox({ timeLimitMs: 100 });
  try {
    const big = incident({ alerts: [alert({ title: 'b'.repeat(CONTEXT_LIMITS.string) })] });
    // A later rule matches "log": before, the timed-out rule silently let the incident through as logged.
    const [d] = evaluatePolicies(policyOf([SLOW, { name: 'everything', when: 'true', outcome: 'log' }]), [big], { configVersion: 'v1', sandbox: fast });
    assert.equal(d!.rule, FALLBACK_RULE);
    assert.equal(d!.outcome, 'notify');
    assert.deepEqual(d!.matched, ['everything']);
    assert.deepEqual(d!.errors, [{ rule: 'slow-pairs', kind: 'timeout', error: 'evaluation exceeded the time limit of 100 ms' }]);
    assert.equal(d!.fallback?.reason, 'rule "slow-pairs" timed out: evaluation exceeded the time limit of 100 ms');
  } finally {
    void fast.close();
  }
});

test('the configured fallback: its outcome, actions and approval', () => {
  const p = policyOf([ERRORING, LOW], { outcome: 'escalate', then: [{ action: 'soc-mail', params: { tag: 'rule-failed' } }], approval: { mode: 'required', timeout: '1h' } });
  const d = evaluatePolicy(p, scored(10, { host: null }), opts);
  // `low` matched (log), but a rule that might have escalated failed: the fallback decides.
  assert.deepEqual([d.rule, d.outcome, d.matched], [FALLBACK_RULE, 'escalate', ['low']]);
  assert.deepEqual(
    d.actions.map((a) => [a.target, a.rule, a.params, a.approval, a.approval_timeout_ms, a.approval_default, a.dry_run]),
    [['soc-mail', FALLBACK_RULE, { tag: 'rule-failed' }, 'required', 3_600_000, 'deny', false]],
  );
  // No failure: the fallback stays out of it.
  const fine = evaluatePolicy(p, scored(10, { host: 'ws-1' }), opts);
  assert.deepEqual([fine.rule, fine.outcome, fine.actions, fine.fallback], ['low', 'log', [], undefined]);
});

test('the fallback never weakens what the rules decided; its actions are added', () => {
  const p = policyOf(
    [ERRORING, { name: 'critical', when: 'score.total >= 80', outcome: 'escalate', then: [{ action: 'soar-webhook' }] }],
    { then: [{ action: 'soc-mail' }] },
  );
  const d = evaluatePolicy(p, scored(90, { host: null }), opts);
  assert.deepEqual([d.rule, d.outcome], ['critical', 'escalate']);
  assert.deepEqual(d.actions.map((a) => [a.target, a.rule]), [['soar-webhook', 'critical'], ['soc-mail', FALLBACK_RULE]]);
  assert.equal(d.fallback?.outcome, 'notify');
  assert.deepEqual(d.fallback?.rules, ['srv-hosts']);
});

test('dry run: a failing rule that is only tried out gets a dry-run fallback; global dry run holds', () => {
  const p = policyOf([{ ...ERRORING, dry_run: true }], { then: [{ action: 'soc-mail' }] });
  const d = evaluatePolicy(p, scored(10, { host: null }), opts);
  assert.deepEqual([d.rule, d.dry_run, d.actions.map((a) => a.dry_run)], [FALLBACK_RULE, true, [true]]);
  const live = evaluatePolicy(policyOf([ERRORING], { then: [{ action: 'soc-mail' }] }), scored(10, { host: null }), { ...opts, dryRun: true });
  assert.deepEqual([live.dry_run, live.actions.map((a) => a.dry_run)], [true, [true]]);
  // The dry-run report names the failure too.
  const report = dryRunRules(p, scored(10, { host: null }), { sandbox });
  assert.equal(report.rules[0]!.result, 'error');
  assert.equal(report.decision.rule, FALLBACK_RULE);
});

test('policy.fallback is checked when the policy loads, with its key and line', () => {
  const text = ['policy:', '  fallback:', '    outcome: notify', '    then:', '      - action: pager', 'actions: {}'].join('\n');
  try {
    loadPolicy({ rules: [], fallback: { outcome: 'notify', then: [{ action: 'pager' }] }, baseDir: '.', targets: MAIL_AND_WEBHOOK, configFile: 'fido.yaml', configText: text });
    assert.fail('expected a load error');
  } catch (e) {
    assert.ok(e instanceof PolicyLoadError);
    assert.deepEqual(
      e.errors.map((x) => [x.key, x.line]),
      [['policy.fallback.then', 5]],
    );
    assert.match(e.errors[0]!.message, /^fallback: then\[0\]: unknown action target "pager"/);
  }
  assert.throws(() => policyOf([], { outcome: 3, colour: 'red' }), PolicyLoadError);
});

test('decide stage: the fallback decision is stored, its actions queued, the failure on the timeline', async () => {
  const t = await openTestStore('sqlite');
  try {
    const { store } = t;
    const inc = incident({ id: '01JDFALLBACK00000000000000' });
    await insertIncident(store.db, inc);
    const score = JSON.stringify({ profile: 'default', total: 10, components: {}, explanation: [] });
    await store.db.updateTable('incidents').set({ score, score_total: 10 }).where('id', '=', inc.id).execute();
    const stage = createDecideStage({
      store,
      // `score.components.nosuch` is a missing key: an error at run time.
      policy: policyOf([{ name: 'broken', when: 'score.components.nosuch > 1', outcome: 'respond' }, LOW], { then: [{ action: 'soc-mail' }] }),
      configVersion: 'cfg-1',
      targetKinds: MAIL_AND_WEBHOOK,
      sandbox,
      now: () => T0 + 10_000,
    });
    const items: ClaimedItem[] = [{ id: 1, item_id: inc.id, version: 1, attempts: 1 }];
    const computed = await stage.compute(items, store.db);
    await store.db.transaction().execute((tx) => stage.write(tx, items, computed));

    const row = await store.db.selectFrom('decisions').selectAll().executeTakeFirstOrThrow();
    assert.deepEqual([row.rule, row.outcome], [FALLBACK_RULE, 'notify']);
    const doc = JSON.parse(row.doc) as PolicyDecision;
    assert.deepEqual(doc.errors.map((e) => [e.rule, e.kind]), [['broken', 'error']]);
    assert.deepEqual(doc.fallback?.rules, ['broken']);
    const actions = await store.db.selectFrom('actions').select(['target', 'state']).execute();
    assert.deepEqual(actions, [{ target: 'soc-mail', state: 'pending' }]);
    const timeline = await store.db.selectFrom('timeline').select('summary').where('incident_id', '=', inc.id).where('kind', '=', 'decided').execute();
    assert.match(timeline[0]!.summary, /rule "\(fallback\)" → notify; queued email → soc-mail; 1 rule error: broken: /);
  } finally {
    await t.cleanup();
  }
});
