/**
 * `fido actions pending`, `fido actions approve ID`, `fido actions deny ID --reason TEXT` (src/cli/commands/
 * actions.ts, issue 17): approvals from a shell on the Fido host, against the store Fido runs on, recorded as
 * `cli:<login name>`. Run in-process through the CLI's `main` (a child process per command costs seconds), with
 * what the commands print captured.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, rmSync } from 'node:fs';
import { userInfo } from 'node:os';
import { main } from '../../src/cli/main.js';
import { openTestStore, tempDir, type TestStore } from '../support/stores.js';
import { actionRow, insertAction, sampleIncident, seedIncident } from '../actions/fixtures.js';

const ACTOR = `cli:${userInfo().username}`;

/**
 * Runs `fido <args>` against the store at `env` and returns its exit code and what it wrote. Only text writes are
 * captured: the test runner's own reports to stdout are binary and pass through.
 */
async function fido(args: string[], env: { FIDO_DATA_DIR: string; FIDO_DATABASE_URL?: string }): Promise<{ code: number; stdout: string; stderr: string }> {
  const saved = { dir: process.env.FIDO_DATA_DIR, url: process.env.FIDO_DATABASE_URL };
  process.env.FIDO_DATA_DIR = env.FIDO_DATA_DIR;
  if (env.FIDO_DATABASE_URL) process.env.FIDO_DATABASE_URL = env.FIDO_DATABASE_URL;
  else delete process.env.FIDO_DATABASE_URL;
  const out = { stdout: '', stderr: '' };
  const writes = { stdout: process.stdout.write.bind(process.stdout), stderr: process.stderr.write.bind(process.stderr) };
  const capture = (stream: 'stdout' | 'stderr') =>
    ((chunk: string | Uint8Array, ...rest: never[]) => {
      if (typeof chunk !== 'string') return writes[stream](chunk, ...rest);
      out[stream] += chunk;
      return true;
    }) as typeof process.stdout.write;
  process.stdout.write = capture('stdout');
  process.stderr.write = capture('stderr');
  process.exitCode = undefined;
  try {
    const code = await main(args);
    return { code, ...out };
  } finally {
    process.stdout.write = writes.stdout;
    process.stderr.write = writes.stderr;
    // A command's exit code must not become the test file's.
    process.exitCode = undefined;
    if (saved.dir === undefined) delete process.env.FIDO_DATA_DIR;
    else process.env.FIDO_DATA_DIR = saved.dir;
    if (saved.url === undefined) delete process.env.FIDO_DATABASE_URL;
    else process.env.FIDO_DATABASE_URL = saved.url;
  }
}

const envOf = (t: TestStore) => (t.url.startsWith('sqlite:') ? { FIDO_DATA_DIR: t.dataDir } : { FIDO_DATA_DIR: t.dataDir, FIDO_DATABASE_URL: t.url });

async function seedActions(t: TestStore, now: number): Promise<void> {
  await seedIncident(t.store.db, sampleIncident('INC1'));
  await insertAction(t.store.db, { id: 'ACT-HELD', incident_id: 'INC1', kind: 'okta_suspend', target: 'okta', state: 'awaiting_approval', now });
  await t.store.db.updateTable('actions').set({ held_by: 'limit okta-rate: 3 of 3 in 1h' }).where('id', '=', 'ACT-HELD').execute();
  await insertAction(t.store.db, { id: 'ACT-DUE', incident_id: 'INC1', kind: 'crowdstrike_contain', target: 'edr', state: 'awaiting_approval', approval: { approval_due_at: now + 600_000, approval_default: 'deny' }, now: now + 1 });
  await insertAction(t.store.db, { id: 'ACT-QUEUED', incident_id: 'INC1', kind: 'email', target: 'soc-mail', now });
}

describe('fido actions pending / approve / deny (SQLite)', () => {
  let t: TestStore | undefined;
  const NOW = Date.now();
  before(async () => {
    t = await openTestStore('sqlite');
    await seedActions(t, NOW);
  });
  after(async () => {
    await t?.cleanup();
  });
  const store = () => {
    if (!t) throw new Error('opened by before()');
    return t;
  };

  test('pending lists the actions that wait, with why (held_by) and the deadline; queued ones are not listed', async () => {
    const r = await fido(['actions', 'pending'], envOf(store()));
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trim().split('\n');
    assert.deepEqual(lines, [
      `ACT-DUE  INC1  crowdstrike_contain → edr (default "deny" at ${new Date(NOW + 600_000).toISOString()})`,
      'ACT-HELD  INC1  okta_suspend → okta held by limit okta-rate: 3 of 3 in 1h',
    ]);
  });

  test('approve: the action goes to pending, approved by cli:<user>, audited; a second approve is exit 1 with why', async () => {
    const r = await fido(['actions', 'approve', 'ACT-HELD'], envOf(store()));
    assert.equal(r.code, 0, r.stderr);
    const printed = JSON.parse(r.stdout) as { id: string; state: string; approved_by: string };
    assert.equal(printed.id, 'ACT-HELD');
    assert.equal(printed.state, 'pending');
    assert.equal(printed.approved_by, ACTOR);
    const row = await actionRow(store().store.db, 'ACT-HELD');
    assert.equal(row.state, 'pending');
    assert.equal(row.approved_by, ACTOR);
    const audit = await store().store.db.selectFrom('audit_log').selectAll().where('subject', '=', 'action:ACT-HELD').execute();
    assert.deepEqual(audit.map((a) => [a.action, a.actor]), [['action.approved', ACTOR]]);

    const again = await fido(['actions', 'approve', 'ACT-HELD'], envOf(store()));
    assert.equal(again.code, 1);
    assert.equal(again.stdout, '');
    assert.equal(again.stderr, 'fido actions approve: action ACT-HELD is pending; only an action awaiting approval can be approved\n');
    const deny = await fido(['actions', 'deny', 'ACT-HELD', '--reason', 'too late'], envOf(store()));
    assert.equal(deny.code, 1);
    assert.match(deny.stderr, /action ACT-HELD is pending; only an action awaiting approval can be denied/);
    assert.equal((await actionRow(store().store.db, 'ACT-HELD')).state, 'pending');
  });

  test('deny --reason: the action is denied with who and why, and leaves the pending list', async () => {
    const r = await fido(['actions', 'deny', 'ACT-DUE', '--reason', 'host is the CEO laptop'], envOf(store()));
    assert.equal(r.code, 0, r.stderr);
    assert.equal((JSON.parse(r.stdout) as { state: string }).state, 'denied');
    const row = await actionRow(store().store.db, 'ACT-DUE');
    assert.equal(row.state, 'denied');
    assert.equal(row.denied_by, ACTOR);
    assert.equal(row.denial_reason, 'host is the CEO laptop');
    const pending = await fido(['actions', 'pending'], envOf(store()));
    assert.equal(pending.code, 0);
    assert.equal(pending.stdout, 'no action waits for approval\n');
  });

  test('an unknown id is exit 1 for approve and deny, and changes nothing', async () => {
    for (const args of [['actions', 'approve', 'NOPE'], ['actions', 'deny', 'NOPE', '--reason', 'x']]) {
      const r = await fido(args, envOf(store()));
      assert.equal(r.code, 1, args.join(' '));
      assert.match(r.stderr, /^fido actions (approve|deny): action NOPE does not exist\n$/);
      assert.equal(r.stdout, '');
    }
    assert.equal((await actionRow(store().store.db, 'ACT-QUEUED')).state, 'pending');
  });

  test('a missing id is a usage error (exit 2); no store is exit 1 and none is created', async () => {
    const usage = await fido(['actions', 'approve'], envOf(store()));
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /missing required argument 'id'/);
    const empty = tempDir('fido-noactions-');
    try {
      const r = await fido(['actions', 'approve', 'ACT-QUEUED'], { FIDO_DATA_DIR: empty });
      assert.equal(r.code, 1);
      assert.equal(r.stderr, `fido actions approve: no store at ${empty} (set FIDO_DATA_DIR or FIDO_DATABASE_URL)\n`);
      assert.deepEqual(readdirSync(empty), []);
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });
});

test('fido actions approve against PostgreSQL (FIDO_DATABASE_URL)', async () => {
  const t = await openTestStore('postgres');
  try {
    const now = Date.now();
    await seedActions(t, now);
    const r = await fido(['actions', 'approve', 'ACT-DUE'], envOf(t));
    assert.equal(r.code, 0, r.stderr);
    const row = await actionRow(t.store.db, 'ACT-DUE');
    assert.equal(row.state, 'pending');
    assert.equal(row.approved_by, ACTOR);
    const pending = await fido(['actions', 'pending'], envOf(t));
    assert.equal(pending.stdout, 'ACT-HELD  INC1  okta_suspend → okta held by limit okta-rate: 3 of 3 in 1h\n');
  } finally {
    await t.cleanup();
  }
});
