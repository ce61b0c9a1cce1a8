/** The rule expression language: what loads, what is refused at load, and what evaluation can and cannot do. */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { CelCompileError, LINEAR_FLAG, checkPattern, compileCondition, topLevelParts } from '../../src/policy/cel.js';
import { buildPolicyContext, CONTEXT_LIMITS } from '../../src/policy/context.js';
import { CelSandbox, type SandboxResult } from '../../src/policy/sandbox.js';
import type { IncidentDetail } from '../../src/model/incident.js';
import { alert, enr, incident } from '../score/fixtures.js';

const sandbox = new CelSandbox();
after(() => sandbox.close());

function run(source: string, detail: IncidentDetail = incident(), providers: string[] = []): SandboxResult {
  return sandbox.evaluate([compileCondition(source)], buildPolicyContext(detail, providers))[0]!;
}

const compileError = (source: string): CelCompileError => {
  try {
    compileCondition(source);
  } catch (e) {
    if (e instanceof CelCompileError) return e;
    throw e;
  }
  assert.fail(`expected ${source} to be refused`);
};

test('conditions compile once and evaluate against the incident', () => {
  const detail = incident({ alerts: [alert({ severity: 80, title: 'ET MALWARE Cobalt Strike' })], host: 'srv-db-01' });
  assert.deepEqual(run('incident.severity >= 80 && incident.host.startsWith("srv-")', detail), { ok: true, value: true });
  assert.deepEqual(run('alerts.exists(a, a.title.matches("^ET MALWARE") && a.title.matches(r"Cobalt\\s+Strike"))', detail), { ok: true, value: true });
  assert.deepEqual(run('"suricata" in incident.detectors', detail), { ok: true, value: true });
});

test('refused at load: syntax errors, unknown variables, non-boolean conditions, deep nesting', () => {
  assert.match(compileError('incident.severity >').message, /Unexpected token/);
  assert.match(compileError('event.severity > 3').message, /Unknown variable: event/);
  assert.match(compileError('incident.alert_count + 1').message, /must be true or false.*int/);
  assert.match(
    compileError('alerts.exists(a, a.observables.exists(o, observables.exists(p, p.value == o.value)))').message,
    /nested more than 2 deep/,
  );
  assert.match(compileError('x'.repeat(5000)).message, /limit is 4096/);
});

test("the CEL library's own limits apply when a rule loads: AST nodes, depth, list literals, call arguments", () => {
  assert.match(compileError(`${Array(1100).fill('1').join('+')} > 0`).message, /Exceeded maxAstNodes \(2000\)/);
  assert.match(compileError(`${'('.repeat(70)}true${')'.repeat(70)}`).message, /Exceeded maxDepth \(64\)/);
  assert.match(compileError(`1 in [${Array(1001).fill('1').join(',')}]`).message, /Exceeded maxListElements \(1000\)/);
  assert.match(compileError(`incident.title.matches(${Array(17).fill('"a"').join(',')})`).message, /Exceeded maxCallArguments \(16\)/);
});

test('prototypes are out of reach, and provider data cannot pollute them', () => {
  const detail = incident({ enrichment: [enr('inventory', 'host', 'ws-042', JSON.parse('{"__proto__": {"polluted": true}, "constructor": "x"}') as Record<string, unknown>)] });
  for (const src of ['incident.constructor != null', 'incident["__proto__"] != null', 'incident.title.constructor != null', 'alerts[0].toString != null', 'incident.get != null', 'incident.has != null']) {
    const r = run(src, detail, ['inventory']);
    assert.equal(r.ok, false, src);
    assert.match((r as { error: string }).error, /No such key|no matching overload|not found/i, src);
  }
  // The provider's own keys named like prototype members are plain data.
  assert.deepEqual(run('enrichment.inventory[0].data["__proto__"].polluted == true', detail, ['inventory']), { ok: true, value: true });
  assert.deepEqual(run('enrichment.inventory[0].data.constructor == "x"', detail, ['inventory']), { ok: true, value: true });
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
});

test('hostile regular expressions are refused when the rules load, with a clear reason', () => {
  assert.match(compileError('incident.title.matches("^(a+)+$")').message, /unsafe pattern "\^\(a\+\)\+\$" in matches\(\): pattern may take exponential time/);
  assert.match(compileError('matches(incident.title, "(x+x+)+y")').message, /exponential time/);
  assert.match(compileError('incident.title.matches("(a)\\\\1")').message, /backreferences are not allowed/);
  assert.match(compileError('incident.title.matches("a(?=b)")').message, /lookahead\/lookbehind is not allowed/);
  assert.match(compileError(`incident.title.matches("${'a'.repeat(300)}")`).message, /300 characters; the limit is 256/);
  assert.match(compileError('incident.title.matches("[")').message, /not a valid regular expression/);
  // A pattern taken from data could be anything: only literals are accepted.
  assert.match(compileError('incident.title.matches(incident.host)').message, /must be a quoted string/);
  assert.match(compileError('alerts.exists(a, a.title.fido_matches(a.title))').message, /must be a quoted string/);
  const e = compileError('incident.severity > 1 && incident.title.matches("(a|b+)*c+$$(d+)+")');
  assert.ok(e.offset !== undefined && e.offset > 20, 'the error points at the pattern');
});

test('adversarial input against an accepted pattern completes with an answer, not a time-out', { skip: LINEAR_FLAG === '' && 'no linear-time regexp engine' }, () => {
  // (a|a)* passes the star-height check but backtracks 2^n ways on a non-matching input; the linear-time
  // engine answers in one pass. With backtracking this input would take far longer than the time limit.
  assert.equal(checkPattern('^(a|a)*$'), null);
  const detail = incident({ alerts: [alert({ title: `${'a'.repeat(40)}!` })] });
  assert.deepEqual(run('incident.title.matches("^(a|a)*$")', detail), { ok: true, value: false });
});

test('matches() looks at the first 4096 characters of its input', () => {
  const detail = incident({ alerts: [alert({ title: `${'a'.repeat(5000)}x` })] });
  assert.deepEqual(run('incident.title.matches("x")', detail), { ok: true, value: false });
  assert.deepEqual(run('incident.title.endsWith("x")', detail), { ok: true, value: true }); // other functions see the whole (capped) string
});

test('the time limit stops an expression that would run too long, and the sandbox recovers', () => {
  const fast = new CelSandbox({ timeLimitMs: 100 });
  try {
    const detail = incident({ alerts: [alert({ title: 'b'.repeat(CONTEXT_LIMITS.string) })] });
    const ctx = buildPolicyContext(detail);
    const slow = compileCondition('incident.title.split("").exists(x, incident.title.split("").exists(y, x + y == "zz"))');
    const quick = compileCondition('incident.severity >= 0');
    const [r1, r2] = fast.evaluate([slow, quick], ctx);
    assert.deepEqual(r1, { ok: false, error: 'evaluation exceeded the time limit of 100 ms', timeout: true });
    assert.deepEqual(r2, { ok: true, value: true });
  } finally {
    void fast.close();
  }
});

test('numbers: Fido\'s counts and scores are int, enrichment data is double; comparisons mix, arithmetic does not', () => {
  const detail = incident({
    alerts: [alert({ severity: 80, dst: { ip: '203.0.113.7', port: 443 } }), alert()],
    score: { profile: 'default', total: 72, components: { threat: 40 }, explanation: [] },
    enrichment: [enr('history', 'host', 'ws-042', { alerts: 3, ratio: 0.5 })],
  });
  const ok = (src: string) => assert.deepEqual(run(src, detail, ['history']), { ok: true, value: true }, src);
  ok('incident.alert_count * 2 == 4');
  ok('score.total >= 70 && score.total >= 70.0 && score.total * 2 > 100');
  ok('score.components.threat + 10 == 50');
  ok('alerts[0].dst.port == 443 && alerts[0].severity - 5 == 75');
  ok('enrichment.history[0].data.alerts > 2'); // double vs int comparison
  ok('enrichment.history[0].data.alerts * 2.0 == 6.0');
  ok('int(enrichment.history[0].data.alerts) * 2 == 6');
  ok('enrichment.history[0].data.ratio < 1');
  const bad = run('enrichment.history[0].data.alerts * 2 == 6', detail, ['history']);
  assert.equal(bad.ok, false);
  assert.match((bad as { error: string }).error, /no such overload/);
});

test('a dyn expression that turns out not to be a bool is an evaluation error', () => {
  const r = run('incident.host', incident());
  assert.deepEqual(r, { ok: false, error: 'the condition gave a string, not true or false' });
});

test('every configured provider is a key of enrichment, even with no answers', () => {
  assert.deepEqual(run('enrichment.allowlist.exists(e, e.found)', incident(), ['allowlist']), { ok: true, value: false });
  const missing = run('enrichment.allowlist.exists(e, e.found)', incident(), []);
  assert.equal(missing.ok, false);
});

test('top-level parts, for dry-run explanations', () => {
  assert.deepEqual(topLevelParts('a.b > 1 && (c || d) && e'), { op: '&&', parts: ['a.b > 1', 'c || d', 'e'] });
  assert.deepEqual(topLevelParts('x'), { op: null, parts: ['x'] });
});
