import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Command } from 'commander';
import { parseSubjectArg, register } from '../../src/cli/commands/lookup.js';
import { tempDir } from '../support/stores.js';

test('lookup arguments: TYPE:VALUE, hash: by length, bare values typed by shape, values normalised', () => {
  assert.deepEqual(parseSubjectArg('ip:2001:DB8::0001'), { type: 'ip', value: '2001:db8::1' });
  assert.deepEqual(parseSubjectArg('2001:db8::1'), { type: 'ip', value: '2001:db8::1' });
  assert.deepEqual(parseSubjectArg('user:alice'), { type: 'user', value: 'alice' });
  assert.deepEqual(parseSubjectArg('Evil.Example'), { type: 'domain', value: 'evil.example' });
  assert.deepEqual(parseSubjectArg('url:hxxp://evil[.]example/x'), { type: 'url', value: 'http://evil.example/x' });
  assert.deepEqual(parseSubjectArg(`hash:${'A'.repeat(64)}`), { type: 'sha256', value: 'a'.repeat(64) });
  assert.throws(() => parseSubjectArg('ip:300.1.1.1'), /"300\.1\.1\.1" is not a valid ip/);
  assert.throws(() => parseSubjectArg('sha256:abc'), /not a valid sha256/);
  assert.throws(() => parseSubjectArg('whatever'), /say what it is as TYPE:VALUE/);
});

test('fido lookup prints every provider answer as JSON with source, age, cache and limits', async () => {
  const dir = tempDir();
  const demo = resolve('demo');
  const cfg = join(dir, 'fido.yaml');
  writeFileSync(
    cfg,
    [
      'enrichment:',
      '  providers:',
      `    - { name: segments, kind: netsegments, file: ${join(demo, 'netsegments.yaml')} }`,
      `    - { name: intel, kind: indicators, file: ${join(demo, 'indicators.csv')}, rate_per_second: 5 }`,
      '    - { name: history, kind: history }',
    ].join('\n'),
  );
  process.env.FIDO_DATA_DIR = join(dir, 'data');
  delete process.env.FIDO_DATABASE_URL;
  const program = new Command('fido').exitOverride();
  register(program);
  let out = '';
  const write = process.stdout.write.bind(process.stdout);
  process.stdout.write = ((chunk: string) => {
    out += chunk;
    return true;
  }) as typeof process.stdout.write;
  try {
    await program.parseAsync(['lookup', '-c', cfg, 'ip:203.0.113.7', '10.20.5.21'], { from: 'user' });
  } finally {
    process.stdout.write = write;
  }
  const answers = JSON.parse(out) as Array<Record<string, unknown>>;
  assert.deepEqual(answers.map((a) => [a.subject, a.provider, a.result]), [
    ['ip:203.0.113.7', 'segments', 'not_found'],
    ['ip:203.0.113.7', 'intel', 'found'],
    ['ip:203.0.113.7', 'history', 'not_found'],
    ['ip:10.20.5.21', 'segments', 'found'],
    ['ip:10.20.5.21', 'intel', 'not_found'],
    ['ip:10.20.5.21', 'history', 'not_found'],
  ]);
  const intel = answers[1]!;
  assert.equal(intel.source, 'indicators/intel');
  assert.equal(intel.cache, 'miss');
  assert.equal(intel.age_seconds, 0);
  assert.equal((intel.data as { verdict: string }).verdict, 'malicious');
  const state = intel.state as { breaker: string; rate_per_second: number; tokens: number };
  assert.equal(state.breaker, 'closed');
  assert.equal(state.rate_per_second, 5);
  assert.ok(state.tokens < 5);
});
