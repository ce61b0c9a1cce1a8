/** `fido score`: reads an incident (file or stdin) and prints the explained score. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command } from 'commander';
import { register } from '../../src/cli/commands/score.js';
import { tempDir } from '../support/stores.js';
import { alert, enr, incident, T0 } from './fixtures.js';

const detail = incident({
  alerts: [alert({ severity: 75, action: 'allowed' })],
  enrichment: [enr('indicators', 'ip', '203.0.113.7', { verdict: 'malicious', sources: ['abuse.ch'] }), enr('inventory', 'host', 'ws-042', { criticality: 'critical' })],
});

/** Runs the command in-process with stdout/stderr captured (the full CLI is exercised once, below). */
async function score(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const { write: w1 } = process.stdout;
  const { write: w2 } = process.stderr;
  const before = process.exitCode;
  const config = process.env.FIDO_CONFIG;
  delete process.env.FIDO_CONFIG; // only --config counts here
  process.stdout.write = ((s: string) => out.push(s) > 0) as typeof process.stdout.write;
  process.stderr.write = ((s: string) => err.push(s) > 0) as typeof process.stderr.write;
  try {
    const program = new Command('fido').exitOverride();
    register(program);
    await program.parseAsync(['score', ...args], { from: 'user' });
    return { code: typeof process.exitCode === 'number' ? process.exitCode : 0, stdout: out.join(''), stderr: err.join('') };
  } finally {
    process.stdout.write = w1;
    process.stderr.write = w2;
    process.exitCode = before;
    if (config !== undefined) process.env.FIDO_CONFIG = config;
  }
}

test('fido score explains a score line by line', async () => {
  const dir = tempDir();
  try {
    const file = join(dir, 'incident.json');
    writeFileSync(file, JSON.stringify(detail));
    const r = await score(['--profile', 'default', '--at', new Date(T0).toISOString(), file]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^score 73\/100 \(profile default@[0-9a-f]{12}\)$/m);
    assert.match(r.stdout, /^ \+25  threat\.indicator +ip:203\.0\.113\.7 is malicious per abuse\.ch \(indicators\)$/m);
    assert.match(r.stdout, /^  73  total$/m);

    writeFileSync(join(dir, 'fido.yaml'), 'scoring:\n  profiles:\n    default: { asset: { criticality: { critical: 5 } } }\n');
    const tuned = await score(['--config', join(dir, 'fido.yaml'), file]);
    assert.match(tuned.stdout, /^score 58\/100/m);

    writeFileSync(join(dir, 'bad.json'), '{"alerts": 3}');
    const bad = await score([join(dir, 'bad.json')]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /"alerts" must be a list/);
    const missing = await score([join(dir, 'nope.json')]);
    assert.match(missing.stderr, /cannot read .*nope\.json: ENOENT/);
    const badProfile = await score(['--profile', 'nope', file]);
    assert.equal(badProfile.code, 1);
    assert.match(badProfile.stderr, /scoring profile "nope": unknown profile/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('fido score through the real CLI, reading stdin, printing JSON', () => {
  const r = spawnSync(process.execPath, ['bin/fido.js', 'score', '--profile', 'fido-classic', '--json', '-'], {
    input: JSON.stringify(detail),
    encoding: 'utf8',
    env: { ...process.env, FIDO_CONFIG: '' },
  });
  assert.equal(r.status, 0, r.stderr);
  const s = JSON.parse(r.stdout) as { profile: string; total: number; explanation: Array<{ points: number }> };
  assert.equal(s.profile, 'fido-classic');
  assert.equal(s.explanation.reduce((a, l) => a + l.points, 0), s.total);
});
