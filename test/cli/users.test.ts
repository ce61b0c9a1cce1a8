/**
 * `fido users`: accounts made, listed, changed from a shell on the Fido host; passwords never on the command
 * line (read from stdin or made and shown once); the store's SQLite file as `fido start` keeps it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { FIDO_BIN } from '../support/fido-process.js';
import { tempDir } from '../support/stores.js';
import { openStore } from '../../src/store/store.js';
import { verifySignIn } from '../../src/web/accounts.js';

test('fido users: add with a made password, list, passwd from stdin, role, unlock, disable; refusals name the problem', { timeout: 120_000 }, async () => {
  const dir = tempDir('fido-users-');
  const env = { ...process.env, FIDO_DATA_DIR: dir, FIDO_DATABASE_URL: '' };
  const fido = (args: string[], input?: string) => spawnSync(process.execPath, [FIDO_BIN, 'users', ...args], { env, input, encoding: 'utf8' });
  try {
    const none = fido(['list']);
    assert.equal(none.status, 1, 'no store yet');
    assert.match(none.stderr, /no store at/, none.stderr);
    // The store as `fido start` would have made it.
    const store = await openStore({ dataDir: dir });
    await store.close();

    const added = fido(['add', 'ana', '--role', 'analyst']);
    assert.equal(added.status, 0, added.stderr);
    const made = /password, shown only this once: (\S+)/.exec(added.stdout);
    assert.ok(made, `a password is made and shown: ${added.stdout}`);
    assert.ok(made[1]!.length >= 20, 'a long one');
    const badRole = fido(['add', 'bob', '--role', 'root']);
    assert.equal(badRole.status, 2, 'an unknown role is a usage error');
    assert.match(badRole.stderr, /unknown role "root" \(expected viewer, analyst, responder, admin\)/, badRole.stderr);
    const short = fido(['add', 'bob', '--role', 'viewer', '--password-stdin'], 'short\n');
    assert.equal(short.status, 1, 'a short password is refused');
    assert.match(short.stderr, /at least 12 characters/, short.stderr);
    const twice = fido(['add', 'ana', '--role', 'viewer']);
    assert.match(twice.stderr, /a user named "ana" exists/, twice.stderr);
    const hostile = fido(['add', "x' or 1=1 --", '--role', 'viewer']);
    assert.match(hostile.stderr, /a user name is 1 to 100 letters/, 'a name with quotes and spaces is refused');

    const listed = fido(['list']);
    const users = JSON.parse(listed.stdout) as Array<{ name: string; role: string; via: string; disabled: boolean }>;
    assert.deepEqual(users.map((u) => [u.name, u.role, u.via, u.disabled]), [['ana', 'analyst', 'password', false]]);
    assert.ok(!listed.stdout.includes('argon2'), 'no hash is listed');

    const passwd = fido(['passwd', 'ana', '--password-stdin'], 'a brand new passphrase\n');
    assert.equal(passwd.status, 0, passwd.stderr);
    assert.doesNotMatch(passwd.stdout, /passphrase/, 'a given password is not echoed');
    assert.equal(fido(['role', 'ana', 'responder']).status, 0, 'role set');
    const check = await openStore({ dataDir: dir });
    try {
      const signed = await verifySignIn(check.db, 'ana', 'a brand new passphrase');
      assert.ok(signed.ok && signed.user.role === 'responder', 'the new password and role are in force');
      assert.equal((await verifySignIn(check.db, 'ana', made[1]!)).ok, false, 'the old password is not');
      for (let i = 0; i < 5; i++) await verifySignIn(check.db, 'ana', 'wrong password here');
      assert.equal((await verifySignIn(check.db, 'ana', 'a brand new passphrase')).ok, false, 'locked after five wrong passwords');
      assert.equal(fido(['unlock', 'ana']).status, 0, 'unlock');
      assert.equal((await verifySignIn(check.db, 'ana', 'a brand new passphrase')).ok, true, 'unlocked');
      assert.equal(fido(['disable', 'ana']).status, 0, 'disable');
      assert.equal((await verifySignIn(check.db, 'ana', 'a brand new passphrase')).ok, false, 'a disabled account cannot sign in');
      const missing = fido(['unlock', 'nobody']);
      assert.equal(missing.status, 1, 'no such user');
      assert.match(missing.stderr, /no user named "nobody"/, missing.stderr);
    } finally {
      await check.close();
    }
  } finally {
    rmSync(join(dir), { recursive: true, force: true });
  }
});
