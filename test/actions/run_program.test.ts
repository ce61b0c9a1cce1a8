/**
 * run_program with real programs (shell scripts written to a temp dir: the program may be a script, Fido
 * itself never invokes a shell): the JSON on stdin, captured and capped output, exit codes, the timeout that
 * kills the whole process group, the allow-list, the bare environment, alert text as data only, and undo
 * through the executor.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Value } from 'typebox/value';
import runProgram, { MAX_OUTPUT, type RunProgramConfig } from '../../src/actions/kinds/run_program.js';
import { ActionError, type ActionContext, type ActionTarget } from '../../src/actions/action.js';
import { createActionExecutor } from '../../src/actions/executor.js';
import { undoAction } from '../../src/actions/undo.js';
import { openTestStore, tempDir } from '../support/stores.js';
import { waitFor } from '../support/wait.js';
import { actionRecord, actionRow, insertAction, sampleIncident, seedIncident } from './fixtures.js';
import { firstAttempt } from './support.js';

const deps = { configDir: '.', publicUrl: '' };
let dir: string;

function script(name: string, body: string): string {
  const p = join(dir, name);
  writeFileSync(p, `#!/bin/sh\n${body}\n`);
  chmodSync(p, 0o755);
  return p;
}

function target(path: string, extra: Record<string, unknown> = {}): Promise<ActionTarget> {
  return runProgram.create({ name: 'prog', kind: 'run_program', allowed_paths: [`${dir}/`], path, env: { OUT_DIR: dir }, timeout: '5s', ...extra }, deps);
}

function ctx(incident = sampleIncident(), attempts = 1): ActionContext {
  const action = { ...actionRecord(incident.id, 'run_program', 'prog'), attempts };
  return { action, incident, idempotencyKey: action.idempotency_key, signal: AbortSignal.timeout(10_000), ...firstAttempt };
}

const failsWith = (retryable: boolean, re: RegExp) => (e: unknown) => e instanceof ActionError && e.retryable === retryable && re.test(e.message);

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

before(() => {
  dir = tempDir('fido-runprog-');
});
after(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('run_program config', () => {
  test('path and undo_path must be inside allowed_paths; the error names the key', async () => {
    const ok: RunProgramConfig = { name: 'p', kind: 'run_program', allowed_paths: ['/opt/fido/actions/', '/usr/local/bin/isolate'], path: '/opt/fido/actions/a.sh' };
    assert.equal(Value.Check(runProgram.schema, ok), true);
    assert.equal(Value.Check(runProgram.schema, { ...ok, allowed_paths: [] }), false);
    assert.equal(Value.Check(runProgram.schema, { ...ok, shell: true }), false, 'no unknown keys');
    assert.equal(Value.Check(runProgram.schema, { ...ok, env: { 'BAD-NAME': 'x' } }), false);
    assert.deepEqual(runProgram.check!(ok), []);
    assert.deepEqual(runProgram.check!({ ...ok, path: '/usr/local/bin/isolate' }), [], 'an exact file');
    assert.deepEqual(runProgram.check!({ ...ok, path: '/usr/local/bin/other' }), [{ key: 'path', message: '/usr/local/bin/other is not in allowed_paths' }]);
    assert.equal(runProgram.check!({ ...ok, path: '/opt/fido/actions/../../../bin/sh' })[0]?.key, 'path', 'no way out with ..');
    assert.equal(runProgram.check!({ ...ok, path: 'a.sh' })[0]?.key, 'path');
    assert.equal(runProgram.check!({ ...ok, path: '/opt/fido/actions-evil/a.sh' })[0]?.key, 'path', 'a directory is a prefix with its slash');
    assert.deepEqual(runProgram.check!({ ...ok, undo_path: '/bin/rm' }), [{ key: 'undo_path', message: '/bin/rm is not in allowed_paths' }]);
    assert.equal(runProgram.check!({ ...ok, allowed_paths: ['relative/'] })[0]?.key, 'allowed_paths.0');
    await assert.rejects(runProgram.create({ ...ok, path: '/bin/sh' }, deps), /actions\.targets\.p\.path: \/bin\/sh is not in allowed_paths/);
    await assert.rejects(runProgram.create(ok, deps), /actions\.targets\.p\.path: \/opt\/fido\/actions\/a\.sh is not an executable file/);
  });
});

describe('run_program runs', () => {
  test('the incident and action arrive as JSON on stdin; args from config; output captured; bare environment', async () => {
    process.env.FIDO_TEST_SECRET_TOKEN = 'do-not-leak-4711';
    try {
      const p = script('record.sh', 'cat > "$OUT_DIR/stdin.json"\nenv > "$OUT_DIR/env.txt"\nprintf "%s\\n" "$@" > "$OUT_DIR/args.txt"\necho "done ok"\necho "a warning" >&2');
      const t = await target(p, { args: ['--site', 'hq west', '$HOME'] });
      const c = ctx();
      const out = await t.execute(c);
      assert.equal(out.detail.exit_code, 0);
      assert.equal(out.detail.stdout, 'done ok\n');
      assert.equal(out.detail.stderr, 'a warning\n');
      assert.equal(out.detail.stdout_truncated, false);
      const input = JSON.parse(readFileSync(join(dir, 'stdin.json'), 'utf8')) as Record<string, any>;
      assert.equal(input.event, 'execute');
      assert.equal(input.incident.id, c.incident.id);
      assert.equal(input.incident.title, c.incident.title);
      assert.equal(input.action.id, c.action.id);
      assert.equal(input.idempotency_key, c.idempotencyKey);
      assert.deepEqual(readFileSync(join(dir, 'args.txt'), 'utf8').split('\n'), ['--site', 'hq west', '$HOME', ''], 'each arg as given, not expanded');
      const env = readFileSync(join(dir, 'env.txt'), 'utf8');
      assert.doesNotMatch(env, /do-not-leak-4711|FIDO_TEST_SECRET_TOKEN/);
      const names = env.trim().split('\n').map((l) => l.split('=')[0]!);
      // PATH and the configured OUT_DIR; the rest is what /bin/sh sets for itself.
      assert.deepEqual(names.filter((n) => !['PWD', 'SHLVL', '_', 'OLDPWD'].includes(n)).sort(), ['OUT_DIR', 'PATH']);
    } finally {
      delete process.env.FIDO_TEST_SECRET_TOKEN;
    }
  });

  test('alert text with shell metacharacters is data only', async () => {
    const p = script('title.sh', 'cat > "$OUT_DIR/title.json"');
    const incident = sampleIncident();
    const hostile = `x"; touch ${dir}/pwned1; $(touch ${dir}/pwned2) \`touch ${dir}/pwned3\` | touch ${dir}/pwned4 & '`;
    incident.title = hostile;
    incident.user = `alice$(touch ${dir}/pwned5)`;
    await (await target(p)).execute(ctx(incident));
    const got = JSON.parse(readFileSync(join(dir, 'title.json'), 'utf8')) as { incident: { title: string; user: string } };
    assert.equal(got.incident.title, hostile);
    assert.equal(got.incident.user, incident.user);
    for (let i = 1; i <= 5; i++) assert.equal(existsSync(join(dir, `pwned${i}`)), false, `pwned${i}`);
  });

  test('output is capped at 64 KiB per stream, and a program that does not read stdin is fine', async () => {
    const p = script('big.sh', 'head -c 200000 /dev/zero | tr "\\0" a\nhead -c 100000 /dev/zero | tr "\\0" b >&2');
    const out = await (await target(p)).execute(ctx());
    assert.equal((out.detail.stdout as string).length, MAX_OUTPUT);
    assert.equal((out.detail.stderr as string).length, MAX_OUTPUT);
    assert.equal(out.detail.stdout_truncated, true);
    assert.equal(out.detail.stderr_truncated, true);
  });

  test('exit codes: 75 is retryable, others final with stderr quoted, a missing program final', async () => {
    const p = script('exit.sh', 'echo "reason: $CODE" >&2\nexit "$CODE"');
    const run = async (code: string) => (await target(p, { env: { OUT_DIR: dir, CODE: code } })).execute(ctx());
    await assert.rejects(run('75'), failsWith(true, /exited 75 \(temporary failure\): reason: 75/));
    await assert.rejects(run('1'), failsWith(false, /exited 1: reason: 1/));
    await assert.rejects(run('2'), failsWith(false, /exited 2/));
    const killed = script('segv.sh', 'kill -SEGV $$');
    await assert.rejects((await target(killed)).execute(ctx()), failsWith(false, /killed by SIGSEGV/));
    const gone = script('gone.sh', 'exit 0');
    const t = await target(gone);
    rmSync(gone);
    await assert.rejects(t.execute(ctx()), failsWith(false, /cannot run .*gone\.sh: ENOENT/));
  });

  test('the timeout kills the program and its children; retryable, outcome unknown', async () => {
    const p = script('hang.sh', 'trap "" TERM\nsleep 60 &\necho $! > "$OUT_DIR/child.pid"\necho started\nwait');
    const t = await target(p, { timeout: '300ms' });
    await assert.rejects(t.execute(ctx()), (e: unknown) => failsWith(true, /did not finish in time and was killed: started/)(e) && (e as ActionError).unknownOutcome === true);
    const child = Number(readFileSync(join(dir, 'child.pid'), 'utf8'));
    await waitFor('the child to be gone', () => !alive(child), 5000);
  });
});

describe('run_program through the executor, with undo', () => {
  test('execute stores the output; the undo program gets the original action and its result', async () => {
    const t0 = 1_900_000_000_000;
    const store = await openTestStore('sqlite');
    try {
      const exec = script('block.sh', 'cat > /dev/null\necho \'{"rule":"r-17"}\'');
      const undo = script('unblock.sh', 'cat > "$OUT_DIR/undo.json"\necho unblocked');
      const noUndo = await target(exec);
      assert.equal(noUndo.undo, undefined, 'no undo_path: cannot undo');
      const tg = await target(exec, { undo_path: undo, undo_args: ['--really'] });
      const ex = createActionExecutor({ store: store.store, targets: new Map([['prog', tg]]), maxAttempts: 3, backoffBaseMs: 1000, backoffMaxMs: 60_000, leaseMs: 30_000, owner: 'ex', now: () => t0 });
      const incident = sampleIncident('INC-RP1');
      await seedIncident(store.store.db, incident);
      await insertAction(store.store.db, { id: 'ACT-RP1', incident_id: incident.id, kind: 'run_program', target: 'prog', params: { host: 'ws-042' }, now: t0 });
      assert.equal((await ex.runOnce()).succeeded, 1);
      const row = await actionRow(store.store.db, 'ACT-RP1');
      const result = JSON.parse(row.result!) as Record<string, unknown>;
      assert.equal(result.stdout, '{"rule":"r-17"}\n');
      await undoAction(store.store, 'ACT-RP1', { actor: 'alice', why: 'false positive' }, t0);
      assert.equal((await ex.runOnce()).succeeded, 1);
      const got = JSON.parse(readFileSync(join(dir, 'undo.json'), 'utf8')) as Record<string, any>;
      assert.equal(got.event, 'undo');
      assert.equal(got.undo_of.action.id, 'ACT-RP1');
      assert.deepEqual(got.undo_of.action.params, { host: 'ws-042' });
      assert.equal(got.undo_of.result.stdout, '{"rule":"r-17"}\n');
      assert.equal(got.idempotency_key, `${row.idempotency_key}:undo`);
      assert.equal(got.incident.id, 'INC-RP1');
    } finally {
      await store.cleanup();
    }
  });
});
