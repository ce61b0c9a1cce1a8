/**
 * The directory provider (src/enrich/providers/ldap.ts) against a real OpenLDAP slapd (test/support/slapd.ts,
 * seeded from test/fixtures/ldap/seed.ldif), plus Active Directory's attribute interpretation as pure
 * functions (no AD here). References: RFC 4515 (filter escaping), slapo-ppolicy(5) (pwdAccountLockedTime
 * 000001010000Z = administrative lock), Microsoft's userAccountControl (ACCOUNTDISABLE = 0x2), lockoutTime and
 * pwdLastSet (FILETIME) attribute pages, and "Search Filter Syntax"
 * (https://learn.microsoft.com/windows/win32/adsi/search-filter-syntax) for LDAP_MATCHING_RULE_IN_CHAIN.
 * Active Directory itself is not run here: its attributes are tested as mapping only, and as AD-shaped
 * entries on slapd through test/fixtures/ldap/ad-lite.schema.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, connect, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { Client, SizeLimitExceededError } from 'ldapts';
import ldap from '../../../src/enrich/providers/ldap.js';
import {
  adAccountState,
  chainGroupsFilter,
  escapeFilterValue,
  FLAVOR_DEFAULTS,
  fileTimeToMs,
  generalizedTimeToMs,
  openldapAccountState,
  parseDn,
  userQuery,
} from '../../../src/enrich/providers/lib/ldap-attrs.js';
import { RemoteError } from '../../../src/enrich/remote.js';
import { entryProblem } from '../../../src/component/instantiate.js';
import { createConfiguredEnricher } from '../../../src/enrich/registry.js';
import { isEnrichmentError } from '../../../src/enrich/layer.js';
import type { AnyComponent, ComponentEntry } from '../../../src/component/component.js';
import type { EnrichmentProvider, LookupSubject } from '../../../src/enrich/provider.js';
import { startSlapd, type Slapd } from '../../support/slapd.js';
import { fileDeps } from '../support.js';

const DAY = 86_400_000;
const signal = new AbortController().signal;
const user = (value: string): LookupSubject => ({ type: 'user', value });
const PEOPLE = 'ou=people,dc=example,dc=test';
const GROUPS = 'ou=groups,dc=example,dc=test';
const dnOf = (uid: string) => `uid=${uid},${PEOPLE}`;

// ───────────────────────────── Active Directory, as attribute mapping ─────────────────────────────

describe('ldap: Active Directory attribute interpretation (pure)', () => {
  test('userAccountControl bit 2 is disabled; lockoutTime > 0 is locked; pwdLastSet is a FILETIME', () => {
    // 2026-11-20T09:30:00Z as FILETIME: (ms + 11644473600000) * 10000.
    const ms = Date.UTC(2026, 10, 20, 9, 30);
    const ft = String((BigInt(ms) + 11_644_473_600_000n) * 10_000n);
    assert.equal(fileTimeToMs(ft), ms);
    assert.equal(fileTimeToMs('0'), null);
    assert.equal(fileTimeToMs('9223372036854775807'), null); // "never"
    const normal = adAccountState({ dn: 'CN=a', userAccountControl: '512', lockoutTime: '0', pwdLastSet: ft });
    assert.deepEqual(normal, { disabled: false, locked: false, locked_at: null, password_set_at: ms });
    const disabled = adAccountState({ dn: 'CN=b', userAccountControl: '514' }); // NORMAL_ACCOUNT | ACCOUNTDISABLE
    assert.equal(disabled.disabled, true);
    assert.equal(adAccountState({ dn: 'CN=c', userAccountControl: '66048' }).disabled, false); // DONT_EXPIRE_PASSWORD
    const locked = adAccountState({ dn: 'CN=d', userAccountControl: '512', lockoutTime: ft });
    assert.equal(locked.locked, true);
    assert.equal(locked.locked_at, ms);
  });

  test('nested groups use LDAP_MATCHING_RULE_IN_CHAIN on member, with the DN escaped', () => {
    const a = FLAVOR_DEFAULTS.active_directory;
    assert.equal(
      chainGroupsFilter('CN=Smith\\, John,OU=Staff,DC=corp,DC=example', a).toString(),
      '(&(objectClass=group)(member:1.2.840.113556.1.4.1941:=CN=Smith\\5c, John,OU=Staff,DC=corp,DC=example))',
    );
    const q = userQuery('user', 'CORP\\jsmith', a);
    assert.ok(q && 'filter' in q);
    assert.equal(q.filter.toString(), '(&(objectClass=user)(sAMAccountName=jsmith))');
    const upn = userQuery('user', 'jsmith@corp.example', a);
    assert.ok(upn && 'filter' in upn);
    assert.equal(upn.filter.toString(), '(&(objectClass=user)(|(userPrincipalName=jsmith@corp.example)(mail=jsmith@corp.example)(sAMAccountName=jsmith)))');
  });

  test('filter values are RFC 4515-escaped; DNs are validated; GeneralizedTime parses', () => {
    assert.equal(escapeFilterValue('*)(uid=*'), '\\2a\\29\\28uid=\\2a');
    const q = userQuery('user', 'admin)(|(uid*', FLAVOR_DEFAULTS.openldap);
    assert.ok(q && 'filter' in q);
    assert.equal(q.filter.toString(), '(&(objectClass=inetOrgPerson)(uid=admin\\29\\28|\\28uid\\2a))');
    // With an "=", a user subject is read as a DN, and this one is not valid: nothing is asked.
    assert.equal(userQuery('user', 'admin)(|(uid=*', FLAVOR_DEFAULTS.openldap), null);
    assert.equal(parseDn('uid=alice, ou=people,dc=example,dc=test'), 'uid=alice,ou=people,dc=example,dc=test');
    assert.equal(parseDn('uid=alice,,dc=x'), null);
    assert.equal(parseDn('uid=a"b,dc=x'), null);
    assert.equal(parseDn('=alice'), null);
    assert.equal(generalizedTimeToMs('20261120093000Z'), Date.UTC(2026, 10, 20, 9, 30));
    assert.equal(generalizedTimeToMs('20261120103000+0100'), Date.UTC(2026, 10, 20, 9, 30));
    assert.deepEqual(openldapAccountState({ dn: 'x', pwdAccountLockedTime: '000001010000Z' }), { disabled: true, locked: false, locked_at: null, password_set_at: null });
  });
});

// ───────────────────────────── against slapd ─────────────────────────────

/** A TCP relay in front of slapd that counts connections; `hang` accepts and never answers. */
async function relay(target: number | null): Promise<{ port: number; connections: number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const r = { port: 0, connections: 0, close: async () => {} };
  const server: Server = createServer((s) => {
    r.connections++;
    sockets.add(s);
    s.on('error', () => {});
    if (target === null) return;
    const up = connect(target, '127.0.0.1');
    up.on('error', () => s.destroy());
    sockets.add(up);
    s.pipe(up).pipe(s);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  r.port = (server.address() as AddressInfo).port;
  r.close = async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return r;
}

describe('ldap: OpenLDAP (real slapd)', () => {
  let d: Slapd;
  const providers: EnrichmentProvider[] = [];
  // Thirty groups for alice: the service account may read only ten entries per search unless it pages.
  const projects = Array.from({ length: 30 }, (_, i) => `cn=proj-${String(i).padStart(2, '0')},${GROUPS}`);
  before(async () => {
    d = await startSlapd(projects.map((dn, i) => `dn: ${dn}\nobjectClass: groupOfNames\ncn: proj-${String(i).padStart(2, '0')}\nmember: ${dnOf('alice')}\n`).join('\n'));
  });
  after(async () => {
    await Promise.all(providers.map((p) => p.close?.()));
    await d.stop();
  });

  const entry = (over: Record<string, unknown> = {}) => ({
    name: 'directory',
    kind: 'ldap' as const,
    url: d.url,
    bind_dn: d.bindDn,
    bind_password: '${env:FIDO_TEST_LDAP_PW}',
    base_dn: PEOPLE,
    group_base_dn: GROUPS,
    computer_base_dn: 'ou=computers,dc=example,dc=test',
    privileged_groups: [`cn=admins,${GROUPS}`],
    vip_rules: ['title=Chief Executive Officer'],
    page_size: 10,
    ...over,
  });
  async function make(over: Record<string, unknown> = {}, now = () => Date.now()) {
    process.env.FIDO_TEST_LDAP_PW = d.bindPassword;
    const p = await ldap.create(entry(over) as never, fileDeps(d.dir, now));
    providers.push(p);
    return p;
  }

  test('a user: identity, manager, nested groups over paged searches, password age, flags', async () => {
    const p = await make({}, () => Date.now() + 10 * DAY + 60_000);
    const a = await p.lookup(user('alice'), signal);
    assert.equal(a.found, true);
    assert.equal(a.data.dn, dnOf('alice'));
    assert.equal(a.data.account, 'alice');
    assert.equal(a.data.display_name, 'Alice Anders');
    assert.equal(a.data.title, 'Security Analyst');
    assert.equal(a.data.department, 'IT');
    assert.equal(a.data.email, 'alice@example.test');
    assert.deepEqual(a.data.manager, { dn: dnOf('bob'), display_name: 'Bob Berg' });
    const names = (a.data.groups as Array<{ name: string }>).map((g) => g.name).sort();
    assert.deepEqual(names, ['it-staff', ...projects.map((_, i) => `proj-${String(i).padStart(2, '0')}`), 'responders']);
    assert.equal(a.data.disabled, false);
    assert.equal(a.data.locked, false);
    assert.equal(a.data.password_age_days, 10);
    assert.equal(a.data.privileged, false);
    assert.equal(a.data.vip, false);
    // The same group search unpaged stops at the server's limit of ten entries: the 32 above took paging.
    const raw = new Client({ url: d.url });
    try {
      await raw.bind(d.bindDn, d.bindPassword);
      await assert.rejects(raw.search(GROUPS, { filter: `(member=${dnOf('alice')})`, attributes: ['cn'] }), SizeLimitExceededError);
    } finally {
      await raw.unbind();
    }

    // bob is in admins, and through it in it-staff; admins makes him privileged. carol is VIP by title.
    const b = await p.lookup(user('bob'), signal);
    assert.deepEqual((b.data.groups as Array<{ name: string }>).map((g) => g.name).sort(), ['admins', 'it-staff']);
    assert.equal(b.data.privileged, true);
    assert.deepEqual(b.data.manager, { dn: dnOf('carol'), display_name: 'Carol Chen' });
    const c = await p.lookup(user('carol'), signal);
    assert.equal(c.data.vip, true);
    assert.equal(c.data.manager, null);
    // loop-a ⊂ loop-b ⊂ loop-a: both, once, and the walk ends.
    assert.deepEqual((c.data.groups as Array<{ name: string }>).map((g) => g.name).sort(), ['loop-a', 'loop-b']);
    assert.equal(c.data.groups_truncated, false);
  });

  test('the depth bound stops the walk up nested groups and says so', async () => {
    const p = await make({ max_group_depth: 1, privileged_groups: ['it-staff'] });
    const b = await p.lookup(user('bob'), signal);
    assert.deepEqual((b.data.groups as Array<{ name: string }>).map((g) => g.name), ['admins']);
    assert.equal(b.data.groups_truncated, true);
    assert.equal(b.data.privileged, false); // it-staff was beyond the bound
  });

  test('DOMAIN\\user, user@domain, e-mail and DN forms find the same entry', async () => {
    const p = await make();
    for (const s of [user('EXAMPLE\\alice'), user('alice@example.test'), user(dnOf('alice')), user('uid=alice, ou=people, dc=example, dc=test'), { type: 'email' as const, value: 'alice@example.test' }]) {
      const a = await p.lookup(s, signal);
      assert.equal(a.found, true, `${s.type}:${s.value}`);
      assert.equal(a.data.dn, dnOf('alice'), `${s.type}:${s.value}`);
    }
    assert.equal((await p.lookup(user('nobody'), signal)).found, false);
    assert.equal((await p.lookup({ type: 'email', value: 'nobody@example.test' }, signal)).found, false);
    assert.equal((await p.lookup(user(`uid=ghost,${PEOPLE}`), signal)).found, false);
    // A DN outside base_dn (the service account) and a malformed DN are not looked up.
    assert.equal((await p.lookup(user(d.bindDn), signal)).found, false);
    assert.equal((await p.lookup(user('uid=alice,,dc=test'), signal)).found, false);
  });

  test('filter injection finds nothing instead of everyone', async () => {
    const p = await make();
    for (const v of ['*', '*)(uid=*', 'admin)(|(uid=*', 'alice)(uid=*', '*)(objectClass=*))(|(uid=*', 'EXAMPLE\\*', '*@example.test']) {
      const a = await p.lookup(user(v), signal);
      assert.equal(a.found, false, v);
      assert.equal(a.data.ambiguous, undefined, v);
    }
    assert.equal((await p.lookup({ type: 'email', value: '*@example.test' }, signal)).found, false);
  });

  test('account state: administrative lock is disabled; a lock with a time is locked', async () => {
    const p = await make();
    const dave = await p.lookup(user('dave'), signal);
    assert.equal(dave.data.disabled, true);
    assert.equal(dave.data.locked, false);
    const erin = await p.lookup(user('erin'), signal);
    assert.equal(erin.data.disabled, false);
    assert.equal(erin.data.locked, true);
    assert.equal(erin.data.locked_at, '2026-11-20T09:30:00.000Z');
    // A configured attribute rule can also mean disabled.
    const q = await make({ disabled_rules: ['sn=Anders'] });
    assert.equal((await q.lookup(user('alice'), signal)).data.disabled, true);
  });

  test('a host: computer object by name or FQDN', async () => {
    const p = await make();
    assert.deepEqual(p.subjects, ['user', 'email', 'host']);
    for (const v of ['ws-042', 'ws-042.corp.example.test']) {
      const h = await p.lookup({ type: 'host', value: v }, signal);
      assert.equal(h.found, true, v);
      assert.equal(h.data.dn, 'cn=ws-042,ou=computers,dc=example,dc=test');
      assert.equal(h.data.description, 'Analyst workstation');
      assert.equal(h.data.managed_by, dnOf('alice'));
      assert.equal(h.data.disabled, false);
    }
    assert.equal((await p.lookup({ type: 'host', value: '*' }, signal)).found, false);
    assert.equal((await p.lookup({ type: 'host', value: 'ws-999' }, signal)).found, false);
  });

  test('flavor active_directory on AD-shaped entries (ad-lite.schema): names, UAC, lockoutTime, pwdLastSet, memberOf', async () => {
    const AD = 'ou=ad,dc=example,dc=test';
    const p = await make(
      { flavor: 'active_directory', base_dn: AD, group_base_dn: AD, computer_base_dn: AD, privileged_groups: ['Domain Admins'] },
      () => Date.UTC(2025, 10, 29, 22, 0),
    );
    for (const s of [user('CORP\\jsmith'), user('jsmith'), user('jsmith@corp.example.test'), { type: 'email' as const, value: 'jane.smith@example.test' }]) {
      const a = await p.lookup(s, signal);
      assert.equal(a.data.dn, `cn=Jane Smith,${AD}`, s.value);
    }
    const j = await p.lookup(user('jsmith'), signal);
    assert.equal(j.data.account, 'jsmith');
    assert.equal(j.data.upn, 'jsmith@corp.example.test');
    assert.equal(j.data.department, 'Finance');
    assert.equal(j.data.disabled, true); // 514 = NORMAL_ACCOUNT | ACCOUNTDISABLE
    assert.equal(j.data.locked, true);
    assert.equal(j.data.locked_at, '2025-11-19T21:30:00.000Z');
    assert.equal(j.data.password_age_days, 10);
    // slapd has no in-chain rule: the groups come from memberOf; Domain Admins (by CN) makes her privileged.
    assert.deepEqual(j.data.groups, [{ dn: `cn=Domain Admins,${AD}`, name: 'Domain Admins' }]);
    assert.equal(j.data.privileged, true);
    const h = await p.lookup({ type: 'host', value: 'fin-pc7.corp.example.test' }, signal);
    assert.equal(h.data.dn, `cn=FIN-PC7,${AD}`);
    assert.equal(h.data.dns_name, 'fin-pc7.corp.example.test');
    assert.equal(h.data.os, 'Windows 11 Enterprise');
    assert.equal(h.data.managed_by, `cn=Jane Smith,${AD}`);
    assert.equal(h.data.disabled, true); // 4098 = WORKSTATION_TRUST_ACCOUNT | ACCOUNTDISABLE
  });

  test('TLS: ldaps and StartTLS verify the certificate against tls_ca_file', async () => {
    const ok = await make({ url: d.ldapsUrl, tls_ca_file: d.caFile });
    assert.equal((await ok.lookup(user('alice'), signal)).found, true);
    const starttls = await make({ start_tls: true, tls_ca_file: d.caFile });
    assert.equal((await starttls.lookup(user('alice'), signal)).found, true);
    for (const over of [{ url: d.ldapsUrl }, { url: d.ldapsUrl, tls_ca_file: d.otherCaFile }, { start_tls: true }]) {
      const bad = await make(over);
      await assert.rejects(bad.lookup(user('alice'), signal), (e: Error) => {
        assert.ok(e instanceof RemoteError, e.message);
        assert.match(e.message, /certificate|self[- ]signed|verify/i);
        return true;
      });
    }
  });

  test('a wrong password is an auth error that does not show the password', async () => {
    const secret = 'Wr0ng-but-S3cret-Value';
    process.env.FIDO_TEST_LDAP_BAD = secret;
    const p = await ldap.create(entry({ bind_password: '${env:FIDO_TEST_LDAP_BAD}' }) as never, fileDeps(d.dir));
    await assert.rejects(p.lookup(user('alice'), signal), (e: Error) => {
      assert.ok(e instanceof RemoteError);
      assert.equal(e.reason, 'auth');
      assert.match(e.message, /bind as cn=fido/);
      assert.ok(!e.message.includes(secret) && !String(e.stack).includes(secret));
      return true;
    });
    const refused = await make({ url: 'ldap://127.0.0.1:1' });
    await assert.rejects(refused.lookup(user('alice'), signal), (e: Error) => e instanceof RemoteError && e.reason === 'transport' && !e.message.includes(d.bindPassword));
  });

  test('an abort ends a lookup whose server never answers', async () => {
    const hung = await relay(null);
    try {
      const p = await make({ url: `ldap://127.0.0.1:${hung.port}` });
      const ac = new AbortController();
      const pending = p.lookup(user('alice'), ac.signal);
      while (hung.connections === 0) await new Promise((r) => setImmediate(r));
      ac.abort(new Error('lookup timed out'));
      await assert.rejects(pending, /lookup timed out/);
    } finally {
      await hung.close();
    }
  });

  test('through the layer: a second lookup is a cache hit and does not reach the directory', async () => {
    const r = await relay(Number(new URL(d.url).port));
    process.env.FIDO_TEST_LDAP_PW = d.bindPassword;
    const enricher = await createConfiguredEnricher([entry({ url: `ldap://127.0.0.1:${r.port}` }) as unknown as ComponentEntry], {
      store: null as never,
      configDir: d.dir,
    });
    try {
      const first = await enricher.lookup('directory', user('bob'));
      assert.ok(!isEnrichmentError(first), JSON.stringify(first));
      assert.equal(first.found, true);
      assert.equal(first.cache, 'miss');
      const seen = r.connections;
      assert.ok(seen >= 1);
      const second = await enricher.lookup('directory', user('bob'));
      assert.ok(!isEnrichmentError(second));
      assert.equal(second.cache, 'hit');
      assert.equal(r.connections, seen);
    } finally {
      await enricher.close();
      await r.close();
    }
  });
});

describe('ldap: config validation names the key', () => {
  const base = { name: 'dir', kind: 'ldap', url: 'ldaps://dc1.corp.example', base_dn: 'dc=corp,dc=example' };
  const problem = (over: Record<string, unknown>) => entryProblem(ldap as unknown as AnyComponent, { ...base, ...over } as ComponentEntry, 'enrichment.providers.dir');

  test('schema and check', async () => {
    assert.equal(problem({}), null);
    assert.match(problem({ url: 'http://dc1.corp.example' }) ?? '', /^enrichment\.providers\.dir\.url: only ldap:\/\/ and ldaps:\/\//);
    assert.match(problem({ url: 'ldap://u:p@dc1' }) ?? '', /\.url: credentials in the URL/);
    assert.match(problem({ url: 'ldaps://dc1', start_tls: true }) ?? '', /\.url: start_tls is for ldap:\/\//);
    assert.match(problem({ base_dn: 'not a dn' }) ?? '', /\.base_dn: "not a dn" is not a valid DN/);
    assert.match(problem({ computer_base_dn: 'ou=x,,dc=y' }) ?? '', /\.computer_base_dn: /);
    assert.match(problem({ bind_dn: 'cn=svc,dc=corp,dc=example' }) ?? '', /\.bind_password: bind_dn needs bind_password/);
    assert.equal(problem({ vip_groups: ['Executives'] }), null);
    assert.match(problem({ vip_groups: ['Executives', 'cn=x,,dc=y'] }) ?? '', /\.vip_groups\[1\]: /);
    assert.match(problem({ flavor: 'novell' }) ?? '', /\.flavor/);
    assert.match(problem({ page_size: 0 }) ?? '', /\.page_size/);
    assert.match(problem({ attributes: { acount: 'uid' } }) ?? '', /\.attributes/);
    assert.match(problem({ vip_rules: ['no-equals-sign'] }) ?? '', /\.vip_rules/);
    await assert.rejects(ldap.create({ ...base, base_dn: 'bad' } as never, fileDeps('/tmp')), /^Error: enrichment\.providers\.dir\.base_dn: /);
  });
});
