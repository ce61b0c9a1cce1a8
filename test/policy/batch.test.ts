/**
 * Evaluating many incidents at once: the sandbox's batch round trip (time limit over the whole batch, redone
 * one by one on overrun), contexts holding only the variables the rules read, and evaluatePolicies giving
 * exactly the decisions evaluatePolicy gives one incident at a time.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { PolicyRuleConfig } from '../../src/config/schema.js';
import type { IncidentDetail } from '../../src/model/incident.js';
import { compileCondition, variablesOf } from '../../src/policy/cel.js';
import { buildPolicyContext } from '../../src/policy/context.js';
import { evaluatePolicies, evaluatePolicy, policyVariables } from '../../src/policy/evaluate.js';
import { loadPolicy } from '../../src/policy/rules.js';
import { CelSandbox, type BatchProgram } from '../../src/policy/sandbox.js';
import { alert, enr, incident } from '../score/fixtures.js';
import { fileSandbox } from './support.js';

const sandbox = fileSandbox();

const ctxOf = (d: IncidentDetail, providers: string[] = []) => buildPolicyContext(d, providers);
const titled = (title: string, over: Partial<IncidentDetail> = {}) => incident({ alerts: [alert({ title })], ...over });
const TIME_LIMIT = (ms: number) => ({ ok: false, error: `evaluation exceeded the time limit of ${ms} ms`, timeout: true });

// Quadratic in the title's length: about 10 ms at 300 characters, seconds at the 8 KiB cap.
const SLOW = compileCondition('incident.title.split("").exists(x, incident.title.split("").exists(y, x + y == "zz"))');
const QUICK = compileCondition('incident.severity >= 0');

test('a batch gives each context its own results, in order, across round trips', () => {
  const small = new CelSandbox({ maxBatch: 2 });
  try {
    const details = [1, 2, 3, 4, 5].map((n) => incident({ alerts: [alert({ severity: n * 10 })] }));
    const programs = [compileCondition('incident.severity >= 30'), compileCondition('incident.severity == 20')];
    const results = small.evaluateBatch(programs, details.map((d) => ctxOf(d)));
    assert.deepEqual(
      results.map((r) => r.map((x) => (x.ok ? x.value : x.error))),
      [
        [false, false],
        [false, true],
        [true, false],
        [true, false],
        [true, false],
      ],
    );
    assert.deepEqual(small.evaluateBatch([], [ctxOf(details[0]!)]), [[]]);
    assert.deepEqual(small.evaluateBatch(programs, []), []);
  } finally {
    void small.close();
  }
});

test('final: a true final program ends that context\'s evaluation; a false one does not', () => {
  const programs: BatchProgram[] = [
    { ...compileCondition('incident.host == "srv-01"'), final: true },
    compileCondition('incident.user.startsWith("a")'),
  ];
  const [stopped, went_on] = sandbox.evaluateBatch(programs, [ctxOf(incident({ host: 'srv-01' })), ctxOf(incident({ host: 'ws-1' }))]);
  assert.deepEqual(stopped, [{ ok: true, value: true }]);
  assert.deepEqual(went_on, [{ ok: true, value: false }, { ok: true, value: true }]);
});

test('errors stay with their program and context', () => {
  const programs = [compileCondition('incident.host.startsWith("srv")'), QUICK];
  const [withHost, without] = sandbox.evaluateBatch(programs, [ctxOf(incident({ host: 'srv-9' })), ctxOf(incident({ host: null }))]);
  assert.deepEqual(withHost, [{ ok: true, value: true }, { ok: true, value: true }]);
  assert.equal(without![0]!.ok, false);
  assert.deepEqual(without![1], { ok: true, value: true });
});

test('one hostile incident in a batch: only its overrunning condition fails, nothing else', () => {
  const fast = new CelSandbox({ timeLimitMs: 150 });
  try {
    const contexts = [titled('normal one'), titled('b'.repeat(8192)), titled('normal two')].map((d) => ctxOf(d));
    const results = fast.evaluateBatch([SLOW, QUICK], contexts);
    assert.deepEqual(results, [
      [{ ok: true, value: false }, { ok: true, value: true }],
      [TIME_LIMIT(150), { ok: true, value: true }],
      [{ ok: true, value: false }, { ok: true, value: true }],
    ]);
    // Redone one by one, `final` still ends a context's evaluation: the rule after the deciding one never runs.
    const [hostile] = fast.evaluateBatch([{ ...SLOW, final: true }, { ...QUICK, final: true }, SLOW], [contexts[1]!]);
    assert.deepEqual(hostile, [TIME_LIMIT(150), { ok: true, value: true }]);
    // The sandbox recovers for the next call.
    assert.deepEqual(fast.evaluate([QUICK], contexts[0]!), [{ ok: true, value: true }]);
  } finally {
    void fast.close();
  }
});

test('a batch that overruns only because it is large is redone one by one: no condition fails', () => {
  // A limit far above what one condition takes (~10 ms on an idle machine; a fresh worker's first, on a busy
  // one, took over 150 ms in CI), and enough of them that the batch still takes far longer than the limit.
  const fast = new CelSandbox({ timeLimitMs: 600 });
  try {
    const contexts = Array.from({ length: 150 }, (_, i) => ctxOf(titled(`${'b'.repeat(300)}${i}`)));
    const results = fast.evaluateBatch([SLOW, QUICK], contexts);
    assert.equal(results.length, 150);
    for (const r of results) assert.deepEqual(r, [{ ok: true, value: false }, { ok: true, value: true }]);
  } finally {
    void fast.close();
  }
});

test('variablesOf: every variable named in the program, also where it is not one (a superset)', () => {
  assert.deepEqual(variablesOf('score.total >= 70.0'), ['score']);
  assert.deepEqual(compileCondition('score.total >= 70.0').variables, ['score']);
  assert.deepEqual(variablesOf('alerts.exists(a, a.title == "x") && has(incident.host)'), ['incident', 'alerts']);
  assert.deepEqual(variablesOf('enrichment.allowlist.exists(e, e.found) || observables.size() > 3'), ['enrichment', 'observables']);
  // Inside strings, as a field name, as a macro variable: still counted (harmless).
  assert.deepEqual(variablesOf('incident.title == "score" && alerts.exists(observables, observables.severity > 1)'), ['incident', 'alerts', 'score', 'observables']);
  // Not a whole word: not the variable.
  assert.deepEqual(variablesOf('incident.scores_x == 1 && incident.my_alerts == 2'), ['incident']);
});

test('a context built for some variables has exactly those, built as in the full context', () => {
  const d = incident({
    alerts: [alert({ severity: 80, dst: { ip: '203.0.113.7', port: 443 }, observables: [{ type: 'ip', value: '203.0.113.7', role: 'dst' }] })],
    score: { profile: 'default', total: 72, components: { threat: 40 }, explanation: [{ factor: 'threat.severity', points: 40, evidence: 'x' }] },
    enrichment: [enr('allowlist', 'ip', '203.0.113.7', { allowlisted: false })],
  });
  const full = buildPolicyContext(d, ['allowlist', 'history']);
  for (const vars of [['score'], ['incident', 'enrichment'], ['alerts', 'observables'], []] as const) {
    const part = buildPolicyContext(d, ['allowlist', 'history'], vars);
    assert.deepEqual(Object.keys(part).sort(), [...vars].sort());
    for (const v of vars) assert.deepEqual(part[v], full[v], v);
  }
});

const TARGETS = new Map([
  ['soc-mail', 'email'],
  ['edr', 'crowdstrike'],
]);

const RULES: PolicyRuleConfig[] = [
  { name: 'allowlisted', when: 'enrichment.allowlist.exists(e, e.found)', outcome: 'log' },
  { name: 'broken-for-some', when: 'incident.host.startsWith("srv")', then: [{ action: 'edr' }] },
  { name: 'tag-vip', when: 'incident.user == "ceo"', then: [{ action: 'soc-mail', params: { tag: 'vip' } }], continue: true },
  { name: 'critical', when: 'score.total >= 80 && alerts.exists(a, a.title.matches("[Bb][Ee][Aa][Cc][Oo][Nn]") || a.severity >= 90)', outcome: 'escalate', then: [{ action: 'soc-mail' }, { action: 'edr' }] },
  { name: 'medium', when: 'score.total >= 50', outcome: 'notify', then: [{ action: 'soc-mail' }] },
  { name: 'never-reached-for-most', when: 'observables.exists(o, o.value == "10.9.9.9")' },
];

test('evaluatePolicies decides every incident exactly as evaluatePolicy does one at a time', () => {
  const policy = loadPolicy({ rules: RULES, baseDir: '.', targets: TARGETS, providers: ['allowlist'] });
  const scored = (total: number, over: Partial<IncidentDetail> = {}) => incident({ score: { profile: 'default', total, components: {}, explanation: [] }, ...over });
  const details: IncidentDetail[] = [
    scored(95, { alerts: [alert({ title: 'Cobalt Strike BEACON' })] }),
    scored(95, { host: null, alerts: [alert({ severity: 95 })] }),
    scored(60, { user: 'ceo' }),
    scored(10, { user: 'ceo', host: 'srv-db-01' }),
    scored(10, { host: null, alerts: [alert({ observables: [{ type: 'ip', value: '10.9.9.9', role: 'src' }] })] }),
    scored(99, { enrichment: [enr('allowlist', 'host', 'ws-042', { allowlisted: true })] }),
    scored(0),
  ];
  const opts = { configVersion: 'v1', sandbox };
  const together = evaluatePolicies(policy, details, opts);
  const alone = details.map((d) => evaluatePolicy(policy, d, opts));
  assert.deepEqual(together, alone);
  assert.deepEqual(
    together.map((d) => [d.rule, d.matched, d.errors.map((e) => e.rule)]),
    [
      ['critical', ['critical'], []],
      ['critical', ['critical'], ['broken-for-some']],
      ['medium', ['tag-vip', 'medium'], []],
      ['broken-for-some', ['broken-for-some'], []],
      // broken-for-some failed and never-reached-for-most only logs: the fallback (notify) is stronger.
      ['(fallback)', ['never-reached-for-most'], ['broken-for-some']],
      ['allowlisted', ['allowlisted'], []],
      ['(default)', [], []],
    ],
  );
  assert.deepEqual(policyVariables(policy).sort(), ['alerts', 'enrichment', 'incident', 'observables', 'score']);
  assert.deepEqual(evaluatePolicies(policy, [], opts), []);
  const empty = loadPolicy({ rules: [], baseDir: '.', targets: TARGETS });
  assert.deepEqual(evaluatePolicies(empty, details.slice(0, 2), opts).map((d) => d.rule), ['(default)', '(default)']);
});
