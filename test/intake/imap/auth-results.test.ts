import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assertLinear } from '../../detectors/linear.js';
import { checkAuthentication, domainAligned, headerValue, parseAuthenticationResults, type AuthPolicy } from '../../../src/intake/imap/auth-results.js';

const ID = 'mx.soc.example.test';
const policy = (o: Partial<AuthPolicy> = {}): AuthPolicy => ({ authservId: ID, dkim: true, spf: false, dmarc: false, dkimAligned: false, trustedHeaders: 1, ...o });

test('parses RFC 8601 fields: versions, comments, quoted values, "=" inside values, reasons', () => {
  // RFC 8601 appendix B.4-style field with comments and a version after the authserv-id.
  const f = parseAuthenticationResults(
    ` ${ID} 1;\r\n\tauth=pass (cram-md5) smtp.auth=sender@example.net;\r\n spf=pass smtp.mailfrom=example.net;\r\n dkim/1=pass (2048-bit key; secure) reason="good (really); ok" header.d=Example.NET header.b=Ab+c/== ;  dmarc = fail (p=reject) header.from=example.net`,
  );
  assert.ok(f);
  assert.equal(f.authservId, ID);
  assert.deepEqual(
    f.results.map((r) => [r.method, r.result]),
    [
      ['auth', 'pass'],
      ['spf', 'pass'],
      ['dkim', 'pass'],
      ['dmarc', 'fail'],
    ],
  );
  assert.deepEqual(f.results[2]!.props, { reason: 'good (really); ok', 'header.d': 'Example.NET', 'header.b': 'Ab+c/==' });
  assert.equal(f.results[1]!.props['smtp.mailfrom'], 'example.net');
});

test('"none", empty and unreadable resinfo give no results; a field without an id is unreadable', () => {
  assert.deepEqual(parseAuthenticationResults(`${ID}; none`), { authservId: ID, results: [] });
  assert.deepEqual(parseAuthenticationResults(`${ID}; dkim; =pass; spf=pass`)?.results.map((r) => r.method), ['spf']);
  assert.equal(parseAuthenticationResults('   ; dkim=pass'), null);
  assert.equal(parseAuthenticationResults(`${ID}; dkim=pass ${'x'.repeat(20_000)}`), null, 'too long: proves nothing');
});

test('a comment or quoted string cannot smuggle a result', () => {
  const f = parseAuthenticationResults(`${ID}; dkim=fail (; dkim=pass) reason="; dkim=pass"`);
  assert.deepEqual(f?.results.map((r) => [r.method, r.result]), [['dkim', 'fail']]);
  assert.equal(checkAuthentication([`${ID}; dkim=fail (; dkim=pass)`], 'x.test', policy()).ok, false);
});

test('headerValue unfolds', () => {
  assert.equal(headerValue('Authentication-Results: a.test;\r\n\tdkim=pass\r\n  header.d=x'), 'a.test;\tdkim=pass  header.d=x');
});

test('only the topmost field(s) by our authserv-id are trusted', () => {
  const pass = `${ID}; dkim=pass header.d=fireeye.test; spf=pass; dmarc=pass`;
  const fail = `${ID}; dkim=fail header.d=fireeye.test; spf=fail`;
  assert.deepEqual(checkAuthentication([pass], 'fireeye.test', policy()), { ok: true });
  assert.equal(checkAuthentication([fail, pass], 'fireeye.test', policy()).ok, false, 'our id again below: not trusted');
  assert.equal(checkAuthentication([`attacker.test; dkim=pass`, pass], 'fireeye.test', policy()).ok, false, 'foreign field on top: ours is not topmost');
  assert.deepEqual(checkAuthentication([`MX.SOC.example.TEST; dkim=pass`], 'fireeye.test', policy()), { ok: true }, 'authserv-id compared case-insensitively');
  // Two checkers of our own server, each adding a field: read when allowed.
  const two = [`${ID}; spf=pass`, `${ID}; dkim=pass header.d=fireeye.test`];
  assert.equal(checkAuthentication(two, 'fireeye.test', policy()).ok, false);
  assert.deepEqual(checkAuthentication(two, 'fireeye.test', policy({ trustedHeaders: 2, spf: true })), { ok: true });
  assert.equal(checkAuthentication([`${ID}; spf=pass`, `attacker.test; dkim=pass`], 'fireeye.test', policy({ trustedHeaders: 2 })).ok, false, 'the run stops at a foreign id');
  assert.deepEqual(checkAuthentication([], 'x', policy()), { ok: false, reason: `no Authentication-Results field (expected one by ${ID})` });
});

test('each required method must pass; reasons say what was found', () => {
  const v = (field: string, o: Partial<AuthPolicy>) => checkAuthentication([`${ID}; ${field}`], 'fireeye.test', policy(o));
  assert.deepEqual(v('dkim=pass; spf=softfail', { spf: true }), { ok: false, reason: 'spf did not pass (softfail)' });
  assert.deepEqual(v('dkim=pass', { spf: true }), { ok: false, reason: 'spf did not pass (absent)' });
  assert.deepEqual(v('dkim=fail; dkim=neutral', {}), { ok: false, reason: 'dkim did not pass (fail,neutral)' });
  assert.deepEqual(v('dkim=fail; dkim=pass header.d=x.test', {}), { ok: true }, 'any passing signature');
  assert.deepEqual(v('dkim=pass; dmarc=fail', { dmarc: true }), { ok: false, reason: 'dmarc did not pass (fail)' });
  assert.deepEqual(v('spf=pass', { dkim: false, spf: true }), { ok: true });
});

test('DKIM alignment: d= is the From domain or a parent of it', () => {
  const v = (field: string, from: string) => checkAuthentication([`${ID}; ${field}`], from, policy({ dkimAligned: true })).ok;
  assert.equal(v('dkim=pass header.d=fireeye.test', 'fireeye.test'), true);
  assert.equal(v('dkim=pass header.d=fireeye.test', 'alerts.fireeye.test'), true);
  assert.equal(v('dkim=pass header.i=@fireeye.test', 'fireeye.test'), true);
  assert.equal(v('dkim=pass header.d=evilfireeye.test', 'fireeye.test'), false);
  assert.equal(v('dkim=pass header.d=alerts.fireeye.test', 'fireeye.test'), false, 'a subdomain signer does not speak for its parent');
  assert.equal(v('dkim=pass', 'fireeye.test'), false, 'no d=');
  assert.equal(v('dkim=fail header.d=fireeye.test; dkim=pass header.d=other.test', 'fireeye.test'), false);
  assert.equal(domainAligned('a.b.test', 'test'), false, 'a bare TLD never aligns');
  assert.equal(domainAligned('b.test', 'B.TEST.'), true);
});

test('reading a field is linear on hostile input', async () => {
  // Unbalanced parentheses, quotes, semicolons, "=" runs, backslashes, folding: each scan is one pass.
  const cases: Array<[string, (n: number) => string]> = [
    ['open comments', (n) => `${ID}; dkim=pass ${'('.repeat(n)}`],
    ['quotes', (n) => `${ID}; dkim=${'"'.repeat(n)}`],
    ['semicolons', (n) => `${ID}${';'.repeat(n)}`],
    ['pairs', (n) => `${ID}; dkim=pass ${'a=b '.repeat(n / 4)}`],
    ['equals', (n) => `${ID}; dkim=${'='.repeat(n)}`],
    ['backslashes', (n) => `${ID}; dkim=pass reason="${'\\'.repeat(n)}`],
    ['folding', (n) => `${ID};${'\r\n '.repeat(n / 3)}dkim=pass`],
  ];
  for (const [name, make] of cases) {
    await assertLinear(`Authentication-Results: ${name}`, make, (t) => checkAuthentication([headerValue(`Authentication-Results: ${t}`)], 'x.test', policy({ spf: true })));
  }
});
