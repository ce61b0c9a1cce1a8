/** evaluatePolicy: first match wins, continue, default decision, dry-run, approval, errors, guards; and dry-run reports. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { PolicyRuleConfig } from '../../src/config/schema.js';
import type { IncidentDetail } from '../../src/model/incident.js';
import { evaluatePolicy, type ActionGuard } from '../../src/policy/evaluate.js';
import { dryRunRules } from '../../src/policy/dryrun.js';
import { loadPolicy } from '../../src/policy/rules.js';
import { alert, enr, incident } from '../score/fixtures.js';
import { fileSandbox } from './support.js';

const sandbox = fileSandbox();

const TARGETS = new Map([
  ['soc-mail', 'email'],
  ['soar-webhook', 'webhook'],
  ['edr', 'crowdstrike'],
]);

const policyOf = (...rules: PolicyRuleConfig[]) => loadPolicy({ rules, baseDir: '.', targets: TARGETS, providers: ['allowlist'] });

function scored(total: number, over: Partial<IncidentDetail> = {}): IncidentDetail {
  return incident({ score: { profile: 'default', total, components: { threat: total }, explanation: [] }, ...over });
}

const decideOpts = { configVersion: 'v1', sandbox };

const RULES: PolicyRuleConfig[] = [
  { name: 'allowlisted', when: 'enrichment.allowlist.exists(e, e.found)', outcome: 'log' },
  { name: 'tag-vip', when: 'incident.user == "ceo"', then: [{ action: 'soc-mail', params: { tag: 'vip' } }], continue: true },
  { name: 'critical', when: 'score.total >= 80', outcome: 'escalate', then: [{ action: 'soc-mail' }, { action: 'soar-webhook' }], approval: { mode: 'required', timeout: '4h' } },
  { name: 'medium', when: 'score.total >= 50', outcome: 'notify', then: [{ action: 'soc-mail' }] },
];

test('the first matching rule decides; later rules are not evaluated', () => {
  const d = evaluatePolicy(policyOf(...RULES), scored(90), decideOpts);
  assert.equal(d.rule, 'critical');
  assert.equal(d.outcome, 'escalate');
  assert.deepEqual(d.matched, ['critical']);
  assert.equal(d.config_version, 'v1');
  assert.equal(d.dry_run, false);
  assert.deepEqual(
    d.actions.map((a) => [a.kind, a.target, a.approval, a.approval_timeout_ms, a.approval_default, a.rule]),
    [
      ['email', 'soc-mail', 'required', 14_400_000, 'deny', 'critical'],
      ['webhook', 'soar-webhook', 'required', 14_400_000, 'deny', 'critical'],
    ],
  );
  assert.equal(evaluatePolicy(policyOf(...RULES), scored(60), decideOpts).rule, 'medium');
  // A rule after the deciding one would fail if it ran: no error means it did not.
  const withBroken = policyOf(...RULES, { name: 'broken', when: 'incident.host.startsWith("srv")' });
  assert.deepEqual(evaluatePolicy(withBroken, scored(90, { host: null }), decideOpts).errors, []);
});

test('continue: the rule\'s actions are planned and evaluation goes on; the same target is planned once', () => {
  const d = evaluatePolicy(policyOf(...RULES), scored(60, { user: 'ceo' }), decideOpts);
  assert.deepEqual(d.matched, ['tag-vip', 'medium']);
  assert.equal(d.rule, 'medium');
  assert.deepEqual(d.actions.map((a) => [a.target, a.rule, a.params]), [['soc-mail', 'tag-vip', { tag: 'vip' }]]);
  // Only continuing rules matched: the last of them names the decision.
  const only = evaluatePolicy(policyOf(...RULES), scored(10, { user: 'ceo' }), decideOpts);
  assert.equal(only.rule, 'tag-vip');
  assert.equal(only.outcome, 'notify');
});

test('no rule matches: the default decision logs and does nothing', () => {
  const d = evaluatePolicy(policyOf(...RULES), scored(10), decideOpts);
  assert.deepEqual(
    { rule: d.rule, outcome: d.outcome, actions: d.actions, matched: d.matched, errors: d.errors, dry_run: d.dry_run },
    { rule: '(default)', outcome: 'log', actions: [], matched: [], errors: [], dry_run: false },
  );
  assert.equal(evaluatePolicy(policyOf(), scored(99), decideOpts).rule, '(default)');
});

test('an allowlisted incident is logged before any action rule sees it', () => {
  const allow = enr('allowlist', 'host', 'ws-042', { allowlisted: true, entries: [{ match: 'host:ws-042', reason: 'lab' }] });
  const d = evaluatePolicy(policyOf(...RULES), scored(95, { enrichment: [allow] }), decideOpts);
  assert.equal(d.rule, 'allowlisted');
  assert.deepEqual(d.actions, []);
});

test('dry run: per rule and global; actions are planned and marked, the decision says so', () => {
  const rules = RULES.map((r) => (r.name === 'critical' ? { ...r, dry_run: true } : r));
  const perRule = evaluatePolicy(policyOf(...rules), scored(90, { user: 'ceo' }), decideOpts);
  assert.equal(perRule.dry_run, true);
  assert.deepEqual(perRule.actions.map((a) => [a.target, a.dry_run]), [['soc-mail', false], ['soar-webhook', true]]);
  const global = evaluatePolicy(policyOf(...RULES), scored(60), { ...decideOpts, dryRun: true });
  assert.equal(global.dry_run, true);
  assert.ok(global.actions.every((a) => a.dry_run));
});

test('a rule that fails to evaluate does not match; its error is recorded and the fallback applies', () => {
  const p = policyOf({ name: 'broken', when: 'incident.host.startsWith("srv")', then: [{ action: 'edr' }] }, ...RULES);
  const d = evaluatePolicy(p, scored(60, { host: null }), decideOpts);
  // medium (notify) is as strong as the default fallback (notify): it keeps naming the decision.
  assert.equal(d.rule, 'medium');
  assert.equal(d.errors.length, 1);
  assert.equal(d.errors[0]!.rule, 'broken');
  assert.equal(d.errors[0]!.kind, 'error');
  assert.match(d.errors[0]!.error, /no matching overload|null/);
  assert.deepEqual(d.fallback?.rules, ['broken']);
  assert.deepEqual(d.actions.map((a) => a.target), ['soc-mail']);
});

test('guards can block planned actions, and say why', () => {
  const protectedHosts: ActionGuard = {
    name: 'protected-hosts',
    check: (a, detail) => (a.kind === 'crowdstrike' && detail.host === 'dc-01' ? { allow: false, reason: 'dc-01 is protected' } : { allow: true }),
  };
  const p = policyOf({ name: 'contain', when: 'score.total >= 50', then: [{ action: 'edr' }, { action: 'soc-mail' }] });
  const d = evaluatePolicy(p, scored(70, { host: 'dc-01' }), { ...decideOpts, guards: [protectedHosts] });
  assert.deepEqual(d.actions.map((a) => a.target), ['soc-mail']);
  assert.deepEqual(d.blocked.map((b) => [b.action.target, b.guard, b.reason]), [['edr', 'protected-hosts', 'dc-01 is protected']]);
});

test('deterministic: the same incident and policy give the same decision', () => {
  const p = policyOf(...RULES);
  const inc = scored(85, { alerts: [alert({ severity: 90 })] });
  assert.deepEqual(evaluatePolicy(p, inc, decideOpts), evaluatePolicy(p, structuredClone(inc), decideOpts));
});

test('dry-run report: every rule with match / no-match / error and a reason', () => {
  const p = policyOf(
    { name: 'broken', when: 'incident.host.startsWith("srv")' },
    { name: 'needs-both', when: 'score.total >= 50 && incident.alert_count >= 3', then: [{ action: 'edr' }] },
    { name: 'either', when: 'incident.user == "root" || incident.user == "admin"' },
    ...RULES,
  );
  const r = dryRunRules(p, scored(90, { host: null }), { sandbox, configVersion: 'v2' });
  const by = Object.fromEntries(r.rules.map((x) => [x.rule, x]));
  assert.equal(by.broken!.result, 'error');
  assert.equal(by['needs-both']!.result, 'no-match');
  assert.equal(by['needs-both']!.reason, 'incident.alert_count >= 3 is false');
  assert.deepEqual(by['needs-both']!.actions.map((a) => a.target), ['edr']);
  assert.equal(by.either!.reason, 'none of the 2 alternatives is true');
  assert.equal(by.critical!.result, 'match');
  assert.equal(by.critical!.decides, true);
  assert.equal(by.medium!.result, 'match'); // evaluated although an earlier rule decided
  assert.equal(by.medium!.decides, false);
  assert.equal(by.allowlisted!.reason, 'when is false: enrichment.allowlist.exists(e, e.found)');
  assert.equal(r.decision.rule, 'critical');
  assert.equal(r.decision.dry_run, true);
  assert.equal(r.decision.config_version, 'v2');
});
