/** Loading rules from fido.yaml and policy files: order, compiled shape, and errors naming file, rule and line. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import type { FidoConfig } from '../../src/config/schema.js';
import { PolicyLoadError, loadPolicy, loadPolicyFromConfig, targetKinds, type PolicyError } from '../../src/policy/rules.js';
import { MAIL_AND_WEBHOOK } from './support.js';

const TARGETS = MAIL_AND_WEBHOOK;

function withDir<T>(files: Record<string, string>, fn: (dir: string) => T): T {
  const dir = mkdtempSync(join(tmpdir(), 'fido-policy-'));
  try {
    for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
    return fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function loadErrors(fn: () => unknown): PolicyError[] {
  try {
    fn();
  } catch (e) {
    if (e instanceof PolicyLoadError) return [...e.errors];
    throw e;
  }
  assert.fail('expected PolicyLoadError');
}

const CONFIG = `# fido.yaml
enrichment:
  providers:
    - { name: allowlist, kind: allowlist, file: a.yaml }
policy:
  files: [extra.yaml]
  rules:
    - name: allowlisted
      when: enrichment.allowlist.exists(e, e.found)
    - name: critical
      when: score.total >= 80
      outcome: escalate
      then:
        - action: soc-mail
          params: { subject: "Fido: {{incident.title}}" }
        - action: soar-webhook
      approval: { mode: required, timeout: 4h, default: approve }
actions:
  targets:
    - { name: soc-mail, kind: email }
    - { name: soar-webhook, kind: webhook }
`;

test('rules from fido.yaml, then from policy files, in order, compiled once', () => {
  withDir({ 'fido.yaml': CONFIG, 'extra.yaml': 'rules:\n  - name: notify-medium\n    when: score.total >= 50\n    then: [{ action: soc-mail }]\n    dry_run: true\n    continue: true\n' }, (dir) => {
    const config = parse(CONFIG) as FidoConfig;
    const p = loadPolicyFromConfig({ config, dir, file: join(dir, 'fido.yaml'), text: CONFIG });
    assert.deepEqual(p.rules.map((r) => r.name), ['allowlisted', 'critical', 'notify-medium']);
    assert.deepEqual(p.providers, ['allowlist']);
    assert.deepEqual([...p.targets], [['soc-mail', 'email'], ['soar-webhook', 'webhook']]);
    const [allow, critical, medium] = p.rules;
    assert.equal(allow!.outcome, 'log'); // no actions, no outcome given
    assert.equal(allow!.origin.line, 8);
    assert.equal(critical!.outcome, 'escalate');
    assert.deepEqual(critical!.actions, [
      { target: 'soc-mail', kind: 'email', params: { subject: 'Fido: {{incident.title}}' } },
      { target: 'soar-webhook', kind: 'webhook', params: {} },
    ]);
    assert.deepEqual(critical!.approval, { mode: 'required', timeoutMs: 4 * 3_600_000, default: 'approve' });
    assert.equal(medium!.outcome, 'notify'); // actions, no outcome given
    assert.equal(medium!.dryRun, true);
    assert.equal(medium!.continue, true);
    assert.deepEqual(medium!.origin, { file: 'extra.yaml', line: 2 });
  });
});

test('errors name the file, the rule and the line; all of them are reported at once', () => {
  const text = [
    'policy:',
    '  rules:',
    '    - name: bad-regex',
    '      when: incident.title.matches("^(a+)+$")',
    '    - name: bad-target',
    '      when: "true"',
    '      then: [{ action: pager }]',
    '    - name: multi-line',
    '      when: |',
    '        incident.severity > 10 &&',
    '        nosuch.thing',
    '',
  ].join('\n');
  const config = parse(text) as FidoConfig;
  const errors = loadErrors(() => loadPolicy({ rules: config.policy!.rules!, baseDir: '.', targets: TARGETS, configFile: 'fido.yaml', configText: text }));
  assert.deepEqual(
    errors.map((e) => [e.file, e.rule, e.line]),
    [
      ['fido.yaml', 'bad-regex', 4],
      ['fido.yaml', 'bad-target', 7],
      ['fido.yaml', 'multi-line', 11],
    ],
  );
  assert.match(errors[0]!.message, /^when: unsafe pattern "\^\(a\+\)\+\$" in matches\(\): pattern may take exponential time/);
  assert.match(errors[1]!.message, /unknown action target "pager" \(targets: soc-mail, soar-webhook\)/);
  assert.match(errors[2]!.message, /Unknown variable: nosuch/);
  const e = new PolicyLoadError(errors);
  assert.match(e.message, /fido\.yaml:4: rule "bad-regex": when: unsafe pattern/);
});

test('policy files: unreadable, invalid YAML, wrong shape, unknown keys, duplicates across files', () => {
  const files = {
    'broken.yaml': 'rules:\n  - name: x\n    when: [unclosed\n',
    'shape.yaml': 'rules:\n  - name: ok-one\n    when: "true"\n  - name: typo\n    wen: "true"\n  - name: timeout-without-required\n    when: "true"\n    approval: { mode: auto, timeout: 1h }\n',
    'dup.yaml': '- name: ok-one\n  when: "false"\n',
    'notalist.yaml': 'rules: 3\n',
  };
  withDir(files, (dir) => {
    const errors = loadErrors(() => loadPolicy({ files: ['missing.yaml', ...Object.keys(files)], baseDir: dir, targets: TARGETS }));
    const seen = errors.map((e) => `${e.file}:${e.line ?? '-'}:${e.rule ?? '-'}: ${e.message}`);
    assert.match(seen[0]!, /^missing\.yaml:-:-: cannot read policy file \(ENOENT\)/);
    assert.match(seen[1]!, /^broken\.yaml:[34]:-: Flow sequence/); // where the parser noticed
    assert.ok(seen.some((s) => /^shape\.yaml:5:typo: unknown key "wen"/.test(s)), seen.join('\n'));
    assert.ok(seen.some((s) => /^shape\.yaml:4:typo: .*when.*required|^shape\.yaml:\d+:typo: .*required/.test(s)), seen.join('\n'));
    assert.ok(seen.some((s) => /^shape\.yaml:8:timeout-without-required: approval: timeout and default only apply with mode: required/.test(s)), seen.join('\n'));
    assert.ok(seen.some((s) => /^notalist\.yaml:1:-: expected `rules:`/.test(s)), seen.join('\n'));
    assert.ok(seen.some((s) => /^dup\.yaml:1:ok-one: duplicate rule name \(first defined in shape\.yaml:2\)/.test(s)), seen.join('\n'));
  });
});

test('approval: a timeout without a default denies; a default without a timeout is an error', () => {
  const rule = (approval: unknown) => ({ name: 'r', when: 'true', then: [{ action: 'soc-mail' }], approval });
  const p = loadPolicy({ rules: [rule({ mode: 'required', timeout: '30m' })], baseDir: '.', targets: TARGETS });
  assert.deepEqual(p.rules[0]!.approval, { mode: 'required', timeoutMs: 1_800_000, default: 'deny' });
  assert.deepEqual(loadPolicy({ rules: [rule('required')], baseDir: '.', targets: TARGETS }).rules[0]!.approval, { mode: 'required' });
  const errors = loadErrors(() => loadPolicy({ rules: [rule({ mode: 'required', default: 'approve' })], baseDir: '.', targets: TARGETS }));
  assert.match(errors[0]!.message, /default needs a timeout/);
});

test('targetKinds maps configured targets to their kinds', () => {
  assert.deepEqual([...targetKinds({ actions: { targets: [{ name: 'a', kind: 'email' }] } })], [['a', 'email']]);
  assert.deepEqual([...targetKinds({})], []);
});
