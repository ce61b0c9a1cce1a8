import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { parseConfigText, secretErrors } from '../../src/config/validate.js';
import { configKinds, loadConfig, DEMO_CONFIG } from '../../src/config/load.js';
import { resolveSecretsDeep } from '../../src/config/secrets.js';
import { FIDO_BIN } from '../support/fido-process.js';
import { createActionTargets } from '../../src/actions/registry.js';

const errorsOf = (text: string) => parseConfigText(text, configKinds).errors;

test('the demo configuration is valid', async () => {
  const loaded = await loadConfig(DEMO_CONFIG);
  assert.match(loaded.version, /^[0-9a-f]{16}$/);
  assert.ok((loaded.config.sources ?? []).length > 0);
});

test('errors name the key and its line', () => {
  const text = ['server:', '  port: "eighty"', 'sources:', '  - name: a', '    detector: suricata', '    colour: blue', '  - name: a', 'correlation:', '  group_window: soon'].join('\n');
  const errs = errorsOf(text);
  const by = (key: string) => errs.find((e) => e.key === key);
  assert.equal(by('server.port')?.line, 2);
  assert.equal(by('sources[0].colour')?.line, 6);
  assert.match(by('sources[0].colour')!.message, /unknown key/);
  assert.equal(by('sources[1].name')?.line, 7);
  assert.match(by('sources[1].name')!.message, /duplicate/);
  assert.equal(by('correlation.group_window')?.line, 9);
});

test('pipeline cache sizes are whole numbers, zero turning a cache off', () => {
  assert.deepEqual(errorsOf('pipeline:\n  cached_alerts: 0\n  cached_answers: 1000\n'), []);
  const errs = errorsOf('pipeline:\n  cached_alerts: -1\n  cached_answers: 2.5\n');
  assert.deepEqual(errs.map((e) => [e.key, e.line]), [['pipeline.cached_alerts', 2], ['pipeline.cached_answers', 3]]);
});

test('component entries are checked against their kind', () => {
  const errs = errorsOf(['enrichment:', '  providers:', '    - name: x', '      kind: crystal-ball', 'sources:', '  - name: s', '    time_zone: Mars/Olympus'].join('\n'));
  const kind = errs.find((e) => e.key === 'enrichment.providers[0].kind');
  assert.equal(kind?.line, 4);
  assert.match(kind!.message, /unknown enrichment provider kind "crystal-ball" \(known: .*netsegments/);
  const tz = errs.find((e) => e.key === 'sources[0].time_zone');
  assert.equal(tz?.line, 7);
  assert.match(tz!.message, /unknown time zone/);
});

test('YAML syntax errors and non-mappings are reported with a line', () => {
  const e1 = errorsOf('server:\n  port: [1, 2\n');
  assert.equal(e1[0]?.key, '(yaml)');
  assert.ok(e1[0]?.line);
  assert.equal(errorsOf('- just\n- a list\n')[0]?.key, '(root)');
});

test('secret references resolve from env and files, and name what is missing', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fido-secret-'));
  writeFileSync(join(dir, 'pw'), 's3cret\n');
  const v = resolveSecretsDeep({ a: { pw: `\${file:${join(dir, 'pw')}}`, k: 'key-${env:K}' } }, '', { K: 'v' });
  assert.deepEqual(v, { a: { pw: 's3cret', k: 'key-v' } });
  assert.throws(() => resolveSecretsDeep({ x: [{ y: '${env:NOPE}' }] }, '', {}), /x\[0\]\.y: environment variable NOPE is not set/);
});

test('unresolvable secret references are reported at their key and line, by name, never by value', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fido-secret-'));
  writeFileSync(join(dir, 'pw'), 'the-file-secret\n');
  const text = [
    'actions:',
    '  targets:',
    '    - name: mail',
    '      kind: email',
    '      host: smtp.example',
    '      password: ${env:FIDO_TEST_UNSET_PW}',
    `      user: \${file:${join(dir, 'pw')}}`,
    `      from: \${file:${join(dir, 'missing')}}`,
    '      to: [soc@example.org]',
    'auth:',
    '  tokens:',
    '    - { name: soc, role: viewer, token: "${env:FIDO_TEST_SET_TOKEN}" }',
  ].join('\n');
  const errors = secretErrors(parseConfigText(text, configKinds), { FIDO_TEST_SET_TOKEN: 'the-env-secret-value' });
  assert.deepEqual(
    errors.map((e) => [e.key, e.line, e.message]),
    [
      ['actions.targets[0].password', 6, 'environment variable FIDO_TEST_UNSET_PW is not set'],
      ['actions.targets[0].from', 8, `cannot read secret file ${join(dir, 'missing')}: ENOENT`],
    ],
  );
  assert.doesNotMatch(JSON.stringify(errors), /the-file-secret|the-env-secret-value/);
  // fido config validate reports them too, with the file's name and the line.
  const file = join(dir, 'fido.yaml');
  writeFileSync(file, text);
  const r = spawnSync(process.execPath, [FIDO_BIN, 'config', 'validate', file], { encoding: 'utf8', env: { ...process.env, FIDO_TEST_SET_TOKEN: 'the-env-secret-value' } });
  assert.equal(r.status, 1, r.stdout + r.stderr);
  assert.match(r.stdout + r.stderr, new RegExp(`fido\\.yaml:6: actions\\.targets\\[0\\]\\.password: environment variable FIDO_TEST_UNSET_PW is not set`));
});

test('a source naming a detector that does not exist is refused at its key and line, with the nearest name', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fido-detector-'));
  const file = join(dir, 'fido.yaml');
  writeFileSync(
    file,
    ['sources:', '  - name: ids', '    detector: suricatta', '  - name: mapped', '    detector: my-app', '  - name: other', '    detector: nothing-like-it', 'detectors:', '  json:', '    - name: my-app', '      fields: { title: msg }'].join('\n'),
  );
  await assert.rejects(loadConfig(file), (e: Error) => {
    assert.match(e.message, /fido\.yaml:3: sources\[0\]\.detector: unknown detector "suricatta" \(did you mean "suricata"\?\); "auto" or one of: .*\bmy-app\b/);
    assert.match(e.message, /fido\.yaml:7: sources\[2\]\.detector: unknown detector "nothing-like-it"; "auto" or one of/);
    assert.doesNotMatch(e.message, /sources\[1\]/, 'a JSON mapping of the configuration is a detector');
    return true;
  });
  const r = spawnSync(process.execPath, [FIDO_BIN, 'config', 'validate', file], { encoding: 'utf8' });
  assert.equal(r.status, 1);
  assert.match(r.stderr, /fido\.yaml:3: sources\[0\]\.detector: unknown detector "suricatta" \(did you mean "suricata"\?\)/);
});

test('fido config validate exits 1 with key and line, 0 when valid', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fido-cfg-'));
  const bad = join(dir, 'bad.yaml');
  writeFileSync(bad, 'intake:\n  max_backlog: -3\n');
  const r = spawnSync(process.execPath, [FIDO_BIN, 'config', 'validate', bad], { encoding: 'utf8' });
  assert.equal(r.status, 1);
  assert.match(r.stderr, /bad\.yaml:2: intake\.max_backlog: must be >= 1/);
  const ok = spawnSync(process.execPath, [FIDO_BIN, 'config', 'validate', DEMO_CONFIG], { encoding: 'utf8' });
  assert.equal(ok.status, 0, ok.stderr);
  assert.match(ok.stdout, /valid/);
});

test('fido config validate also compiles policy rules and names the rule and line', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fido-cfg-'));
  const bad = join(dir, 'policy.yaml');
  writeFileSync(bad, ['policy:', '  rules:', '    - name: ok', '      when: score.total > 10', '    - name: redos', "      when: incident.title.matches('(a+)+$')", '    - name: ghost', '      when: "true"', '      then: [{ action: nowhere }]'].join('\n'));
  const r = spawnSync(process.execPath, [FIDO_BIN, 'config', 'validate', bad], { encoding: 'utf8' });
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stderr, /policy\.yaml:6: policy rule "redos": /);
  assert.match(r.stderr, /policy rule "ghost": .*nowhere/);
});

// Outbound guard (issue 13, item 6): validate reports a private webhook target exactly as start refuses it.
const hookConfig = (url: string, extra = '') =>
  ['actions:', '  targets:', '    - name: hook', '      kind: webhook', `      url: "${url}"`, '      secret: s3cret', ...(extra ? [`      ${extra}`] : [])].join('\n');

test('a private webhook target without allow_private: validate reports what start refuses, with the same message', async () => {
  for (const url of ['http://10.0.0.5/hook', 'http://[::7f00:1]/hook', 'http://[::ffff:127.0.0.1]/hook', 'http://localhost:8080/hook', 'http://169.254.169.254/']) {
    const errs = errorsOf(hookConfig(url));
    assert.equal(errs.length, 1, `${url}: ${JSON.stringify(errs)}`);
    assert.deepEqual([errs[0]!.key, errs[0]!.line], ['actions.targets[0].url', 5], url);
    const entry = { name: 'hook', kind: 'webhook', url, secret: 's3cret' };
    await assert.rejects(createActionTargets([entry], { configDir: '.', publicUrl: 'http://127.0.0.1:8700' }), (e: Error) => {
      assert.equal(e.message, `actions.targets.hook.url: ${errs[0]!.message}`, url);
      return true;
    });
  }
  assert.match(errorsOf(hookConfig('http://[::7f00:1]/hook'))[0]!.message, /IPv4-compatible \(deprecated\) form of 127\.0\.0\.1 \(loopback\)\); set allow_private: true/);
  // allow_private lifts it — except for cloud metadata.
  assert.deepEqual(errorsOf(hookConfig('http://10.0.0.5/hook', 'allow_private: true')), []);
  assert.deepEqual(errorsOf(hookConfig('https://hooks.example.com/fido')), []);
  // A secret reference in the URL is resolved, and checked, at start only.
  assert.deepEqual(errorsOf(hookConfig('https://${env:HOOK_HOST}/fido')), []);
  assert.match(errorsOf(hookConfig('http://[::a9fe:a9fe]/', 'allow_private: true'))[0]!.message, /refused even with allow_private/);
});

test('fido config validate: a private webhook target and a bad policy.fallback, each with key and line', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fido-cfg-'));
  const hook = join(dir, 'hook.yaml');
  writeFileSync(hook, hookConfig('http://[::a9fe:a9fe]/latest'));
  const fallback = join(dir, 'fallback.yaml');
  writeFileSync(fallback, [hookConfig('https://hooks.example.com/fido'), 'policy:', '  fallback:', '    outcome: escalate', '    then: [{ action: pager }]'].join('\n'));
  for (const [file, expected] of [
    [hook, /hook\.yaml:5: actions\.targets\[0\]\.url: ::a9fe:a9fe is a cloud metadata address/],
    [fallback, /fallback\.yaml:10: policy\.fallback\.then: fallback: then\[0\]: unknown action target "pager" \(targets: hook\)/],
  ] as const) {
    const r = spawnSync(process.execPath, [FIDO_BIN, 'config', 'validate', file], { encoding: 'utf8' });
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, expected);
  }
});

test('validate reads the data files the providers name, suggests near-miss keys and says what a duration is', async () => {
  const { checkConfigFile } = await import('../../src/config/load.js');
  const dir = mkdtempSync(join(tmpdir(), 'fido-validate-'));
  writeFileSync(join(dir, 'segs.yaml'), 'segments: [oops\n');
  writeFileSync(join(dir, 'assets.csv'), 'host,criticality\nweb-1,high\n');
  const file = join(dir, 'fido.yaml');
  writeFileSync(
    file,
    [
      'server:',
      '  prot: 8700',
      '  headers_timeout: 20 seconds',
      'sources:',
      '  - { name: ids, detector: suricata }',
      'enrichment:',
      '  providers:',
      '    - { name: assets, kind: inventory, file: assets.csv }',
      '    - { name: gone, kind: inventory, file: missing.csv }',
      '    - { name: segs, kind: netsegments, file: segs.yaml }',
      '',
    ].join('\n'),
  );
  const { errors } = await checkConfigFile(file);
  const at = (key: string) => errors.find((e) => e.key === key);
  assert.match(at('server.prot')?.message ?? '', /unknown key; did you mean "port"\?/);
  assert.equal(at('server.prot')?.line, 2);
  assert.match(at('server.headers_timeout')?.message ?? '', /is not a duration: .*20s.*milliseconds/);
  // Schema errors come first; with them fixed, the data files are read as start would read them.
  writeFileSync(file, readFileSync(file, 'utf8').replace('  prot: 8700\n', '  port: 8700\n').replace('20 seconds', '20s'));
  const second = (await checkConfigFile(file)).errors;
  assert.deepEqual(
    second.map((e) => [e.key, e.line]),
    [
      ['enrichment.providers[1]', 9],
      ['enrichment.providers[2]', 10],
    ],
    JSON.stringify(second),
  );
  assert.match(second[0]!.message, /missing\.csv: cannot read: ENOENT/);
  assert.match(second[1]!.message, /segs\.yaml:\d+: .*end with a \]/);
});
