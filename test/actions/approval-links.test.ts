/**
 * Signed approve/deny links (src/actions/approval-links.ts, issue 17): the token's signature and expiry, the
 * malformed strings it refuses, the signing key kept once per store (SQLite and PostgreSQL, concurrent first
 * uses included), a configured key's minimum length, and the links ActionDeps.approvalLinks makes (never
 * outliving the action's approval deadline, under public_url without a trailing slash).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import { approvalLinkMaker, approvalLinkSettings, DEFAULT_LINK_TTL_MS, linkKey, linksPossible, signLink, verifyLink, type LinkClaim } from '../../src/actions/approval-links.js';
import { openStore } from '../../src/store/store.js';
import type { FidoConfig } from '../../src/config/schema.js';
import { DIALECTS, openTestStore } from '../support/stores.js';

const KEY = Buffer.alloc(32, 7);
const NOW = Date.parse('2026-12-07T12:00:00.000Z');
const CLAIM: LinkClaim = { actionId: 'ACT-1', decision: 'approve', expiresAt: NOW + 3_600_000 };
const b64 = (s: string | Buffer) => Buffer.from(s).toString('base64url');

/**
 * A token with any payload, signed as signLink signs (HMAC-SHA256 over a context label and the payload): only so
 * that a well-signed but malformed payload reaches the checks behind the signature. The first test pins it to
 * signLink, so a change of the scheme fails there rather than making the malformed cases pass for the wrong reason.
 */
function signRaw(payload: string, key = KEY): string {
  return `${payload}.${b64(createHmac('sha256', key).update('fido-approval-link-v1.').update(payload).digest())}`;
}

/** `token` with the byte at `i` of its payload (part 0) or signature (part 1) changed. */
function flip(token: string, part: 0 | 1, i: number): string {
  const parts = token.split('.');
  const bytes = Buffer.from(parts[part]!, 'base64url');
  bytes[i] = bytes[i]! ^ 0x01;
  parts[part] = b64(bytes);
  return parts.join('.');
}

const reason = (token: string, key = KEY, now = NOW) => {
  const c = verifyLink(token, key, now);
  return c.ok ? 'ok' : c.reason;
};

describe('signLink / verifyLink', () => {
  test('a signed link verifies to its claim (expiry kept to the second), and signRaw signs as signLink does', () => {
    const token = signLink(CLAIM, KEY);
    const parts = token.split('.');
    assert.equal(parts.length, 2, 'one dot');
    for (const p of parts) assert.equal(Buffer.from(p, 'base64url').toString('base64url'), p, 'URL-safe base64, unpadded');
    assert.deepEqual(verifyLink(token, KEY, NOW), { ok: true, claim: CLAIM });
    const deny = signLink({ ...CLAIM, decision: 'deny', expiresAt: NOW + 1_500 }, KEY);
    assert.deepEqual(verifyLink(deny, KEY, NOW), { ok: true, claim: { actionId: 'ACT-1', decision: 'deny', expiresAt: NOW + 1_000 } }, 'a part second is cut, never added');
    assert.equal(signRaw(token.split('.')[0]!), token);
  });

  test('a flipped byte anywhere in the payload or the signature, or another key: signature', () => {
    const token = signLink(CLAIM, KEY);
    const [payload, sig] = token.split('.').map((p) => Buffer.from(p, 'base64url'));
    for (let i = 0; i < payload!.length; i++) assert.equal(reason(flip(token, 0, i)), 'signature', `payload byte ${i}`);
    for (let i = 0; i < sig!.length; i++) assert.equal(reason(flip(token, 1, i)), 'signature', `signature byte ${i}`);
    assert.equal(reason(token, Buffer.alloc(32, 8)), 'signature');
    assert.equal(reason(signLink(CLAIM, randomBytes(32))), 'signature');
    // The decision is under the signature: an approve link re-labelled deny does not verify.
    const relabelled = `${b64(JSON.stringify({ a: 'ACT-1', d: 'deny', e: Math.floor(CLAIM.expiresAt / 1000) }))}.${token.split('.')[1]}`;
    assert.equal(reason(relabelled), 'signature');
    // A signature cut short or made longer.
    assert.equal(reason(`${token.split('.')[0]}.${b64(sig!.subarray(0, 31))}`), 'signature');
    assert.equal(reason(`${token}AA`), 'signature');
    assert.equal(reason(`${token.split('.')[0]}.`), 'signature');
  });

  test('expired: at and after its expiry, checked against the injected now', () => {
    const token = signLink(CLAIM, KEY);
    assert.equal(reason(token, KEY, CLAIM.expiresAt - 1), 'ok');
    assert.equal(reason(token, KEY, CLAIM.expiresAt), 'expired');
    const late = verifyLink(token, KEY, CLAIM.expiresAt + 60_000);
    assert.deepEqual(late, { ok: false, reason: 'expired', message: 'this approval link expired at 2026-12-07T13:00:00.000Z' });
    // The signature is checked first: an expired forgery is a forgery.
    assert.equal(reason(flip(token, 1, 0), KEY, CLAIM.expiresAt + 60_000), 'signature');
  });

  test('malformed: no dot, two dots, a leading dot, over 512 characters, a payload that is not JSON or has the wrong fields', () => {
    const token = signLink(CLAIM, KEY);
    const e = Math.floor(CLAIM.expiresAt / 1000);
    const cases: [string, string][] = [
      ['', 'empty'],
      [token.replace('.', ''), 'no dot'],
      [`${token}.x`, 'two dots'],
      [`${token.split('.')[0]}..${token.split('.')[1]}`, 'two dots in a row'],
      [`.${token.split('.')[1]}`, 'nothing before the dot'],
      [signRaw('A'.repeat(600)), 'over 512 characters, even signed'],
      [signRaw(b64('not json')), 'signed, not JSON'],
      [signRaw(b64('')), 'signed, empty payload'],
      [signRaw(b64('"ACT-1"')), 'signed, a JSON string'],
      [signRaw(b64(JSON.stringify({ a: 1, d: 'approve', e }))), 'action id not a string'],
      [signRaw(b64(JSON.stringify({ a: 'ACT-1', d: 'undo', e }))), 'unknown decision'],
      [signRaw(b64(JSON.stringify({ a: 'ACT-1', d: 'approve', e: String(e) }))), 'expiry a string'],
      [signRaw(b64(JSON.stringify({ a: 'ACT-1', d: 'approve' }))), 'no expiry'],
      [signRaw(b64(JSON.stringify({ actionId: 'ACT-1', decision: 'approve', expiresAt: e }))), 'long field names'],
    ];
    for (const [t, what] of cases) {
      const c = verifyLink(t, KEY, NOW);
      assert.deepEqual(c, { ok: false, reason: 'malformed', message: 'this is not an approval link' }, what);
    }
    assert.ok(signRaw('A'.repeat(600)).length > 512);
  });

  // Reachable only with the key (the signature is checked first), but a check should answer, not throw.
  test('malformed: a signed payload of JSON null', () => {
    assert.deepEqual(verifyLink(signRaw(b64('null')), KEY, NOW), { ok: false, reason: 'malformed', message: 'this is not an approval link' });
  });
});

describe('linkKey', () => {
  for (const dialect of DIALECTS) {
    test(`${dialect}: one key per store, made at first use, the same on later and concurrent calls and from another process's store`, async () => {
      const t = await openTestStore(dialect);
      const other = await openStore({ databaseUrl: t.url, dataDir: t.dataDir });
      try {
        const keys = await Promise.all([linkKey(t.store.db), linkKey(t.store.db), linkKey(other.db), linkKey(other.db)]);
        assert.equal(keys[0]!.length, 32);
        for (const k of keys) assert.ok(k.equals(keys[0]!), 'every concurrent first use agrees');
        assert.ok((await linkKey(t.store.db)).equals(keys[0]!));
        const rows = await t.store.db.selectFrom('keys').selectAll().execute();
        assert.equal(rows.length, 1);
        assert.equal(rows[0]!.name, 'approval-links');
        assert.ok(Buffer.from(rows[0]!.value, 'base64').equals(keys[0]!));
        // What one process signs, another verifies.
        assert.equal(verifyLink(signLink(CLAIM, keys[0]!), await linkKey(other.db), NOW).ok, true);
      } finally {
        await other.close();
        await t.cleanup();
      }
    });
  }

  test('a separate store has its own key', async () => {
    const [a, b] = await Promise.all([openTestStore('sqlite'), openTestStore('sqlite')]);
    try {
      assert.ok(!(await linkKey(a.store.db)).equals(await linkKey(b.store.db)));
    } finally {
      await a.cleanup();
      await b.cleanup();
    }
  });

  test('a configured secret: used as it is (nothing stored); shorter than 32 characters it is refused', async () => {
    const t = await openTestStore('sqlite');
    try {
      const secret = 'x'.repeat(32);
      assert.ok((await linkKey(t.store.db, secret)).equals(Buffer.from(secret)));
      await assert.rejects(linkKey(t.store.db, 'x'.repeat(31)), { message: 'actions.approval_links.secret must be at least 32 characters' });
      await assert.rejects(linkKey(t.store.db, ''), /at least 32 characters/);
      assert.equal((await t.store.db.selectFrom('keys').selectAll().execute()).length, 0);

      // approvalLinkSettings: the secret by reference, the ttl from its duration; without them the store's key and 8h.
      process.env.FIDO_TEST_LINK_SECRET = secret;
      const set = await approvalLinkSettings(t.store.db, { approval_links: { secret: '${env:FIDO_TEST_LINK_SECRET}', ttl: '30m' } } as FidoConfig['actions']);
      assert.ok(set.key.equals(Buffer.from(secret)));
      assert.equal(set.ttlMs, 30 * 60_000);
      process.env.FIDO_TEST_LINK_SHORT = 'short-secret';
      await assert.rejects(approvalLinkSettings(t.store.db, { approval_links: { secret: '${env:FIDO_TEST_LINK_SHORT}' } } as FidoConfig['actions']), /at least 32 characters/);
      const dflt = await approvalLinkSettings(t.store.db, undefined);
      assert.ok(dflt.key.equals(await linkKey(t.store.db)));
      assert.equal(dflt.ttlMs, DEFAULT_LINK_TTL_MS);
    } finally {
      delete process.env.FIDO_TEST_LINK_SECRET;
      delete process.env.FIDO_TEST_LINK_SHORT;
      await t.cleanup();
    }
  });
});

describe('approvalLinkMaker', () => {
  const tokenOf = (url: string) => url.slice(url.lastIndexOf('/') + 1);
  const claimOf = (url: string) => {
    const c = verifyLink(tokenOf(url), KEY, NOW);
    assert.ok(c.ok, url);
    return c.claim;
  };

  test('approve and deny links of one action under public_url (trailing slashes trimmed), each with its decision', () => {
    for (const publicUrl of ['https://fido.example/soc', 'https://fido.example/soc/', 'https://fido.example/soc///']) {
      const links = approvalLinkMaker({ publicUrl, key: KEY, now: () => NOW })('ACT-9');
      assert.ok(links.approve.startsWith('https://fido.example/soc/api/v1/approvals/'), links.approve);
      assert.ok(links.deny.startsWith('https://fido.example/soc/api/v1/approvals/'), links.deny);
      assert.deepEqual(claimOf(links.approve), { actionId: 'ACT-9', decision: 'approve', expiresAt: NOW + DEFAULT_LINK_TTL_MS });
      assert.deepEqual(claimOf(links.deny), { actionId: 'ACT-9', decision: 'deny', expiresAt: NOW + DEFAULT_LINK_TTL_MS });
      assert.equal(links.expires_at, new Date(NOW + DEFAULT_LINK_TTL_MS).toISOString());
    }
    assert.ok(approvalLinkMaker({ publicUrl: 'https://fido.example/', key: KEY })('A').approve.startsWith('https://fido.example/api/v1/approvals/'));
    assert.equal(linksPossible('https://fido.example'), true);
    assert.equal(linksPossible('fido.example'), false);
  });

  test('a link never outlives the approval deadline; without a nearer deadline it lives the ttl', () => {
    const make = approvalLinkMaker({ publicUrl: 'https://fido.example', key: KEY, ttlMs: 3_600_000, now: () => NOW });
    const soon = NOW + 600_000;
    const l = make('ACT-2', soon);
    assert.equal(claimOf(l.approve).expiresAt, soon);
    assert.equal(l.expires_at, new Date(soon).toISOString());
    assert.equal(verifyLink(tokenOf(l.approve), KEY, soon).ok, false, 'refused at the deadline');
    // A deadline part way into a second: the link ends at or before it, never after.
    const odd = NOW + 600_700;
    const e = claimOf(make('ACT-2', odd).deny).expiresAt;
    assert.ok(e <= odd && e > odd - 1000, String(e));
    assert.equal(verifyLink(tokenOf(make('ACT-2', odd).deny), KEY, odd).ok, false);
    // A later deadline: the ttl wins.
    assert.equal(claimOf(make('ACT-2', NOW + 7_200_000).approve).expiresAt, NOW + 3_600_000);
    // A deadline already past: the link is dead on arrival.
    assert.equal(verifyLink(tokenOf(make('ACT-2', NOW - 1).approve), KEY, NOW).ok, false);
  });
});
