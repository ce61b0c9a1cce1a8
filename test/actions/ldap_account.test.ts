/**
 * The `ldap_account` action (src/actions/kinds/ldap_account.ts) against a real OpenLDAP slapd with the ppolicy
 * overlay (test/support/slapd.ts, seeded from test/fixtures/ldap/seed.ldif plus the entries below), bound as
 * service accounts that may write ONE attribute each (the least-privilege ACL the docs ask for); Active
 * Directory's userAccountControl arithmetic as pure functions and on AD-shaped entries (ad-lite.schema).
 * References: slapo-ppolicy(5) (pwdAccountLockedTime 000001010000Z = administrative lock, a locked account
 * cannot bind), slapd.access(5) (`access to attrs=… by dn.exact=… write`), Microsoft's "userAccountControl
 * attribute" page (ACCOUNTDISABLE = 0x2), RFC 4511 §4.6 (a modify is applied atomically).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { Attribute, Change, Client, InvalidCredentialsError, InsufficientAccessError } from 'ldapts';
import ldapAccount, { type DisableResult, type LdapAccountConfig } from '../../src/actions/kinds/ldap_account.js';
import { adDisable, adDisabled, adEnable, lockSpec, parseUac, planDisable, planEnable } from '../../src/actions/kinds/lib/ldap-lock.js';
import { ActionError, type ActionContext, type ActionTarget } from '../../src/actions/action.js';
import { createActionExecutor } from '../../src/actions/executor.js';
import { undoAction } from '../../src/actions/undo.js';
import { entryProblem } from '../../src/component/instantiate.js';
import type { AnyComponent, ComponentEntry } from '../../src/component/component.js';
import { startSlapd, type Slapd } from '../support/slapd.js';
import { openTestStore } from '../support/stores.js';
import { actionRecord, actionRow, insertAction, sampleIncident, seedIncident } from './fixtures.js';

const SUFFIX = 'dc=example,dc=test';
const PEOPLE = `ou=people,${SUFFIX}`;
const AD = `ou=ad,${SUFFIX}`;
const dnOf = (uid: string) => `uid=${uid},${PEOPLE}`;
const DISABLER = `cn=fido-disabler,ou=services,${SUFFIX}`;
const TYPER = `cn=fido-typer,ou=services,${SUFFIX}`;
const AD_DISABLER = `cn=fido-ad-disabler,ou=services,${SUFFIX}`;
const LOCK = '000001010000Z';

// ───────────────────────────── pure: what disabled means ─────────────────────────────

describe('ldap_account: lock arithmetic (pure)', () => {
  test('AD: ACCOUNTDISABLE (0x2) is set and cleared with every other userAccountControl flag kept', () => {
    assert.equal(adDisable(512), 514);
    assert.equal(adDisable(66048), 66050); // NORMAL_ACCOUNT | DONT_EXPIRE_PASSWORD
    assert.equal(adDisable(514), 514);
    assert.equal(adEnable(66050), 66048);
    assert.equal(adEnable(4098), 4096); // a disabled WORKSTATION_TRUST_ACCOUNT
    assert.equal(adEnable(512), 512);
    assert.equal(adDisabled(514), true);
    assert.equal(adDisabled(66048), false);
    // AD may write the flag word as a signed 32-bit number.
    assert.equal(parseUac(['-2147483134']), 0x80000202);
    assert.equal(parseUac([]), null);
    assert.equal(parseUac(['x']), null);
    const spec = lockSpec('active_directory');
    assert.deepEqual(planDisable('active_directory', spec, ['66048']), {
      disabledBefore: false,
      previous: '66048',
      changes: [
        { operation: 'delete', attribute: 'userAccountControl', values: ['66048'] },
        { operation: 'add', attribute: 'userAccountControl', values: ['66050'] },
      ],
    });
    assert.deepEqual(planDisable('active_directory', spec, ['514']), { disabledBefore: true, changes: [], previous: '514' });
    assert.throws(() => planDisable('active_directory', spec, []), /no readable userAccountControl/);
    assert.deepEqual(planEnable('active_directory', spec, ['66050'], '66048'), [
      { operation: 'delete', attribute: 'userAccountControl', values: ['66050'] },
      { operation: 'add', attribute: 'userAccountControl', values: ['66048'] },
    ]);
    assert.deepEqual(planEnable('active_directory', spec, ['512'], '512'), [], 're-enabled by someone: nothing to do');
  });

  test('OpenLDAP: the ppolicy lock is added, replaces a failed-bind lock (kept for the undo); a multi-valued pair is added to', () => {
    const pp = lockSpec('openldap');
    assert.deepEqual(pp, { attribute: 'pwdAccountLockedTime', value: LOCK });
    assert.deepEqual(planDisable('openldap', pp, []).changes, [{ operation: 'add', attribute: 'pwdAccountLockedTime', values: [LOCK] }]);
    assert.equal(planDisable('openldap', pp, [LOCK]).disabledBefore, true);
    const failed = planDisable('openldap', pp, ['20261120093000Z']);
    assert.equal(failed.previous, '20261120093000Z');
    assert.equal(failed.changes[0]!.operation, 'delete');
    assert.deepEqual(planEnable('openldap', pp, [LOCK], '20261120093000Z'), [
      { operation: 'delete', attribute: 'pwdAccountLockedTime', values: [LOCK] },
      { operation: 'add', attribute: 'pwdAccountLockedTime', values: ['20261120093000Z'] },
    ]);
    assert.deepEqual(planEnable('openldap', pp, [], null), []);
    const et = lockSpec('openldap', { attribute: 'employeeType', value: 'disabled' });
    assert.deepEqual(planDisable('openldap', et, ['contractor']).changes, [{ operation: 'add', attribute: 'employeeType', values: ['disabled'] }]);
    assert.deepEqual(planEnable('openldap', et, ['contractor', 'Disabled'], null), [{ operation: 'delete', attribute: 'employeeType', values: ['Disabled'] }]);
  });
});

// ───────────────────────────── config ─────────────────────────────

describe('ldap_account: configuration', () => {
  const base = { name: 'dis', kind: 'ldap_account', url: 'ldap://127.0.0.1:389', bind_dn: DISABLER, bind_password: '${env:X}', base_dn: PEOPLE };
  const problem = (over: Record<string, unknown>, drop?: string) => {
    const entry: Record<string, unknown> = { ...base, ...over };
    if (drop) delete entry[drop];
    return entryProblem(ldapAccount as unknown as AnyComponent, entry as ComponentEntry, 'actions.targets.dis');
  };
  test('schema and check errors name the key', () => {
    assert.equal(problem({}), null);
    assert.match(problem({}, 'bind_password') ?? '', /bind_password/);
    assert.match(problem({ url: 'http://dc1.corp.example' }) ?? '', /^actions\.targets\.dis\.url: only ldap:\/\/ and ldaps:\/\//);
    assert.match(problem({ url: 'ldaps://dc1', start_tls: true }) ?? '', /\.url: start_tls is for ldap:\/\//);
    assert.match(problem({ base_dn: 'not a dn' }) ?? '', /\.base_dn: "not a dn" is not a valid DN/);
    assert.match(problem({ protected_groups: ['admins', 'cn=x,,dc=y'] }) ?? '', /\.protected_groups\[1\]: .* is not a valid DN/);
    assert.match(problem({ flavor: 'active_directory', lock: { attribute: 'employeeType', value: 'disabled' } }) ?? '', /\.lock: Active Directory/);
    assert.match(problem({ lock: { attribute: 'employeeType' } }) ?? '', /lock/);
    assert.match(problem({ colour: 'red' }) ?? '', /\.colour: /);
  });
});

// ───────────────────────────── against slapd ─────────────────────────────

const EXTRA = `
dn: cn=fido-disabler,ou=services,${SUFFIX}
changetype: add
objectClass: organizationalRole
objectClass: simpleSecurityObject
cn: fido-disabler
userPassword: disabler-pw

dn: cn=fido-typer,ou=services,${SUFFIX}
changetype: add
objectClass: organizationalRole
objectClass: simpleSecurityObject
cn: fido-typer
userPassword: typer-pw

dn: cn=fido-ad-disabler,ou=services,${SUFFIX}
changetype: add
objectClass: organizationalRole
objectClass: simpleSecurityObject
cn: fido-ad-disabler
userPassword: ad-disabler-pw
${['frank', 'gina', 'hank', 'ivan']
  .map(
    (u) => `
dn: uid=${u},${PEOPLE}
changetype: add
objectClass: inetOrgPerson
uid: ${u}
cn: ${u}
sn: ${u}
mail: ${u}@example.test
employeeType: contractor
userPassword: ${u}pw
`,
  )
  .join('')}
${['twin1', 'twin2']
  .map(
    (u) => `
dn: uid=${u},${PEOPLE}
changetype: add
objectClass: inetOrgPerson
uid: ${u}
cn: ${u}
sn: ${u}
mail: twin@example.test
`,
  )
  .join('')}
dn: cn=Ken Ito,${AD}
changetype: add
objectClass: user
cn: Ken Ito
sn: Ito
sAMAccountName: kito
userPrincipalName: kito@corp.example.test
userAccountControl: 66048
userPassword: kitopw
`;

/** Exactly one attribute each: the ACL the docs ask an administrator to grant. */
const ACL = [
  `access to attrs=pwdAccountLockedTime by dn.exact="${DISABLER}" write by users read by * none`,
  `access to attrs=employeeType by dn.exact="${TYPER}" write by users read by * none`,
  `access to dn.subtree="${AD}" attrs=userAccountControl by dn.exact="${AD_DISABLER}" write by users read by * none`,
];

describe('ldap_account: against slapd', () => {
  let slapd: Slapd;
  const targets: ActionTarget[] = [];
  before(async () => {
    slapd = await startSlapd(EXTRA, { acl: ACL });
  });
  after(async () => {
    for (const t of targets) await t.close?.();
    await slapd?.stop();
  });

  async function target(over: Partial<LdapAccountConfig> = {}): Promise<ActionTarget> {
    const cfg: LdapAccountConfig = { name: 'dis', kind: 'ldap_account', url: slapd.url, bind_dn: DISABLER, bind_password: 'disabler-pw', base_dn: PEOPLE, ...over };
    const t = await ldapAccount.create(cfg, { configDir: slapd.dir, publicUrl: 'http://fido.test' });
    targets.push(t);
    return t;
  }

  function ctx(
    user: string | undefined,
    opts: { attempts?: number; signal?: AbortSignal; incidentUser?: string | null; resumed?: boolean; priorCheckpoint?: Record<string, unknown>; checkpoints?: Record<string, unknown>[] } = {},
  ): ActionContext {
    const action = { ...actionRecord('INC1', 'ldap_account', 'dis'), params: user === undefined ? {} : { user }, attempts: opts.attempts ?? 1 };
    const incident = { ...sampleIncident('INC1'), user: opts.incidentUser === undefined ? 'alice' : opts.incidentUser };
    return {
      action,
      incident,
      idempotencyKey: action.idempotency_key,
      signal: opts.signal ?? new AbortController().signal,
      resumed: opts.resumed ?? false,
      checkpoint: async (d) => {
        opts.checkpoints?.push(d);
      },
      ...(opts.priorCheckpoint ? { priorCheckpoint: opts.priorCheckpoint } : {}),
    };
  }
  const undoCtx = (c: ActionContext, result: Record<string, unknown>) => ({ ...c, original: c.action, originalResult: result });

  async function canBind(dn: string, pw: string): Promise<boolean> {
    const c = new Client({ url: slapd.url });
    try {
      await c.bind(dn, pw);
      return true;
    } catch (e) {
      if (e instanceof InvalidCredentialsError) return false;
      throw e;
    } finally {
      await c.unbind().catch(() => {});
    }
  }
  async function values(dn: string, attr: string): Promise<string[]> {
    const c = new Client({ url: slapd.url });
    try {
      await c.bind(slapd.adminDn, slapd.adminPassword);
      const e = (await c.search(dn, { scope: 'base', attributes: [attr] })).searchEntries[0]!;
      const v = e[attr];
      return v === undefined ? [] : (Array.isArray(v) ? v : [v]).map(String);
    } finally {
      await c.unbind().catch(() => {});
    }
  }
  async function lockedDns(): Promise<string[]> {
    const c = new Client({ url: slapd.url });
    try {
      await c.bind(slapd.adminDn, slapd.adminPassword);
      return (await c.search(SUFFIX, { filter: '(pwdAccountLockedTime=*)', attributes: ['1.1'] })).searchEntries.map((e) => e.dn).sort();
    } finally {
      await c.unbind().catch(() => {});
    }
  }
  async function refused(p: Promise<unknown>, pattern: RegExp, retryable = false): Promise<void> {
    await assert.rejects(p, (e: unknown) => {
      assert.ok(e instanceof ActionError, String(e));
      assert.equal(e.retryable, retryable, e.message);
      assert.match(e.message, pattern);
      return true;
    });
  }

  test('the service account may write the lock attribute and nothing else (the ACL the docs ask for)', async () => {
    const c = new Client({ url: slapd.url });
    try {
      await c.bind(DISABLER, 'disabler-pw');
      await assert.rejects(c.modify(dnOf('frank'), new Change({ operation: 'replace', modification: new Attribute({ type: 'title', values: ['x'] }) })), InsufficientAccessError);
      await assert.rejects(c.modify(dnOf('frank'), new Change({ operation: 'add', modification: new Attribute({ type: 'employeeType', values: ['x'] }) })), InsufficientAccessError);
    } finally {
      await c.unbind().catch(() => {});
    }
  });

  test('disable sets the ppolicy lock and the user cannot bind; undo removes it and the bind works again; both idempotent', async () => {
    const t = await target();
    assert.equal(await canBind(dnOf('frank'), 'frankpw'), true);
    const checkpoints: Record<string, unknown>[] = [];
    const c = ctx('frank', { checkpoints });
    const out = await t.execute(c);
    const r = out.detail as DisableResult;
    assert.deepEqual(r, { user: 'frank', dn: dnOf('frank'), flavor: 'openldap', attribute: 'pwdAccountLockedTime', disabled_before: false, changed: true, previous: null });
    assert.deepEqual(checkpoints, [{ dn: dnOf('frank'), disabled_before: false, previous: null }], 'the state is checkpointed before the write');
    assert.deepEqual(await values(dnOf('frank'), 'pwdAccountLockedTime'), [LOCK]);
    assert.equal(await canBind(dnOf('frank'), 'frankpw'), false, 'ppolicy refuses a locked account');

    // A retry after a crash: nothing done twice, no failure; the state before comes from the checkpoint.
    const again = (await t.execute(ctx('frank', { attempts: 2, resumed: true, priorCheckpoint: checkpoints[0]! }))).detail as DisableResult;
    assert.equal(again.changed, false);
    assert.equal(again.disabled_before, false);
    // Without a checkpoint, no earlier attempt got as far as the write: disabled by someone else.
    assert.equal(((await t.execute(ctx('frank', { attempts: 2, resumed: true }))).detail as DisableResult).disabled_before, true);
    assert.deepEqual(await values(dnOf('frank'), 'pwdAccountLockedTime'), [LOCK]);

    const undone = await t.undo!(undoCtx(c, r));
    assert.deepEqual(undone.detail, { dn: dnOf('frank'), re_enabled: true });
    assert.deepEqual(await values(dnOf('frank'), 'pwdAccountLockedTime'), []);
    assert.equal(await canBind(dnOf('frank'), 'frankpw'), true);
    const twice = await t.undo!(undoCtx(c, r));
    assert.equal(twice.detail.re_enabled, false);
    assert.match(String(twice.detail.reason), /not disabled any more/);
    // The retried attempt's result re-enables what Fido disabled; one without the state before (null, from
    // before checkpoints) never re-enables.
    await t.execute(c);
    assert.equal((await t.undo!(undoCtx(c, again))).detail.re_enabled, true);
    await t.execute(c);
    const cautious = await t.undo!(undoCtx(c, { ...again, disabled_before: null }));
    assert.equal(cautious.detail.re_enabled, false);
    assert.match(String(cautious.detail.reason), /could not tell/);
    assert.deepEqual(await values(dnOf('frank'), 'pwdAccountLockedTime'), [LOCK]);
    await t.undo!(undoCtx(c, r));
    assert.equal(await canBind(dnOf('frank'), 'frankpw'), true);
  });

  test('an account disabled before Fido stays disabled after the undo, and the result says so', async () => {
    const t = await target();
    const c = ctx('dave');
    const r = (await t.execute(c)).detail as DisableResult;
    assert.equal(r.disabled_before, true);
    assert.equal(r.changed, false);
    const u = await t.undo!(undoCtx(c, r));
    assert.equal(u.detail.re_enabled, false);
    assert.match(String(u.detail.reason), /already disabled before Fido/);
    assert.deepEqual(await values(dnOf('dave'), 'pwdAccountLockedTime'), [LOCK]);
    assert.equal(await canBind(dnOf('dave'), 'davepw'), false);
  });

  test('a lock from failed binds is replaced by the administrative lock and put back by the undo', async () => {
    const t = await target();
    const c = ctx('erin@example.test');
    const r = (await t.execute(c)).detail as DisableResult;
    assert.equal(r.dn, dnOf('erin'));
    assert.equal(r.disabled_before, false);
    assert.equal(r.previous, '20261120093000Z');
    assert.deepEqual(await values(dnOf('erin'), 'pwdAccountLockedTime'), [LOCK]);
    await t.undo!(undoCtx(c, r));
    assert.deepEqual(await values(dnOf('erin'), 'pwdAccountLockedTime'), ['20261120093000Z']);
  });

  test('the configured attribute/value pair: employeeType gains "disabled" and loses only that on undo', async () => {
    const t = await target({ bind_dn: TYPER, bind_password: 'typer-pw', lock: { attribute: 'employeeType', value: 'disabled' } });
    const c = ctx('gina');
    const r = (await t.execute(c)).detail as DisableResult;
    assert.equal(r.attribute, 'employeeType');
    assert.deepEqual((await values(dnOf('gina'), 'employeeType')).sort(), ['contractor', 'disabled']);
    await t.undo!(undoCtx(c, r));
    assert.deepEqual(await values(dnOf('gina'), 'employeeType'), ['contractor']);
  });

  test('the user comes from params.user, else the incident; refusals (not retried) for nothing, not found, ambiguous, injection', async () => {
    const t = await target();
    const before = await lockedDns();
    await refused(t.execute(ctx(undefined, { incidentUser: null })), /no user to disable/);
    await refused(t.execute(ctx('nobody')), /no account "nobody"/);
    await refused(t.execute(ctx('twin@example.test')), /ambiguous \(uid=twin1,.*uid=twin2/);
    for (const evil of ['*', '*)(uid=*', 'frank)(|(uid=*', 'fr*', '\\2a', 'frank\u0000']) {
      await refused(t.execute(ctx(evil)), /no account|not a user name/);
    }
    await refused(t.execute(ctx(`uid=frank,ou=services,${SUFFIX}`)), /outside base_dn/);
    assert.deepEqual(await lockedDns(), before, 'nothing was locked');
    // No params.user: the incident's user.
    const r = (await t.execute(ctx(undefined, { incidentUser: 'ivan' }))).detail as DisableResult;
    assert.equal(r.dn, dnOf('ivan'));
    await t.undo!(undoCtx(ctx(undefined), r));
    assert.equal(await canBind(dnOf('ivan'), 'ivanpw'), true);
  });

  test('protected accounts and members (nested) of protected groups are refused with a clear error', async () => {
    const GROUPS = `ou=groups,${SUFFIX}`;
    // A protected group Fido cannot see (here: outside the default group base, base_dn) protects nobody: fail closed.
    const blind = await target({ protected_groups: ['it-staff'] });
    await refused(blind.execute(ctx('hank')), /protected group\(s\) it-staff not found under ou=people,.*refusing/);
    const blindDn = await target({ group_base_dn: GROUPS, protected_groups: [`cn=nope,${GROUPS}`] });
    await refused(blindDn.execute(ctx('hank')), /cn=nope,ou=groups,.* not found/);
    const t = await target({ group_base_dn: GROUPS, protected: ['carol', dnOf('erin')], protected_groups: ['it-staff', `cn=responders,${GROUPS}`] });
    await refused(t.execute(ctx('carol')), /uid=carol,.* is protected \(protected: carol\)/);
    await refused(t.execute(ctx('erin')), /is protected/);
    await refused(t.execute(ctx('alice')), /member of protected group it-staff/);
    await refused(t.execute(ctx('bob')), /uid=bob,.* member of protected group it-staff/, false); // admins ⊂ it-staff
    assert.deepEqual(await values(dnOf('bob'), 'pwdAccountLockedTime'), []);
    assert.deepEqual(await values(dnOf('hank'), 'pwdAccountLockedTime'), []);
  });

  test('least privilege and credentials: a read-only account and a wrong password are refused, the password never shown', async () => {
    const ro = await target({ bind_dn: slapd.bindDn, bind_password: slapd.bindPassword });
    await refused(ro.execute(ctx('hank')), /insufficient access \(LDAP 50\).*pwdAccountLockedTime/);
    assert.deepEqual(await values(dnOf('hank'), 'pwdAccountLockedTime'), []);
    const bad = await target({ bind_password: 'wrong-Pa55word' });
    await assert.rejects(bad.execute(ctx('hank')), (e: unknown) => {
      assert.ok(e instanceof ActionError);
      assert.equal(e.retryable, false);
      assert.match(e.message, /invalid credentials/);
      assert.ok(!e.message.includes('wrong-Pa55word'));
      return true;
    });
  });

  test('Active Directory flavour on AD-shaped entries: bit 2 set and cleared, other bits kept; a pre-disabled user stays so', async () => {
    const t = await target({ flavor: 'active_directory', base_dn: AD, bind_dn: AD_DISABLER, bind_password: 'ad-disabler-pw' });
    const ken = `cn=Ken Ito,${AD}`;
    const c = ctx('CORP\\kito');
    const r = (await t.execute(c)).detail as DisableResult;
    assert.deepEqual(r, { user: 'CORP\\kito', dn: ken, flavor: 'active_directory', attribute: 'userAccountControl', disabled_before: false, changed: true, previous: '66048' });
    assert.deepEqual(await values(ken, 'userAccountControl'), ['66050']);
    assert.equal(((await t.execute(ctx('kito@corp.example.test', { attempts: 2 }))).detail as DisableResult).changed, false);
    await t.undo!(undoCtx(c, r));
    assert.deepEqual(await values(ken, 'userAccountControl'), ['66048']);
    const jane = (await t.execute(ctx('jsmith'))).detail as DisableResult;
    assert.equal(jane.disabled_before, true);
    assert.equal((await t.undo!(undoCtx(c, jane))).detail.re_enabled, false);
    assert.deepEqual(await values(`cn=Jane Smith,${AD}`, 'userAccountControl'), ['514']);
    const guarded = await target({ flavor: 'active_directory', base_dn: AD, bind_dn: AD_DISABLER, bind_password: 'ad-disabler-pw', protected_groups: ['Domain Admins'] });
    await refused(guarded.execute(ctx('jsmith')), /member of protected group Domain Admins/);
  });

  test('an aborted signal ends a call to a server that never answers (retryable)', async () => {
    const sockets: Socket[] = [];
    let connected: () => void = () => {};
    const seen = new Promise<void>((r) => (connected = r));
    const server: Server = createServer((s) => {
      sockets.push(s);
      connected();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const t = await target({ url: `ldap://127.0.0.1:${(server.address() as AddressInfo).port}` });
      const ac = new AbortController();
      const call = t.execute(ctx('frank', { signal: ac.signal }));
      await seen;
      ac.abort();
      await refused(call, /no answer .* before the call's time limit/, true);
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    }
  });

  test('through the executor: the action disables, its undo row re-enables', async () => {
    const st = await openTestStore('sqlite');
    const t = await target();
    try {
      const now = Date.now();
      const incident = { ...sampleIncident('INC-L1'), user: 'hank' };
      await seedIncident(st.store.db, incident);
      await insertAction(st.store.db, { id: 'ACT-L1', incident_id: incident.id, kind: 'ldap_account', target: 'dis', now });
      const ex = createActionExecutor({ store: st.store, targets: new Map([['dis', t]]), maxAttempts: 3, backoffBaseMs: 1000, backoffMaxMs: 60_000, leaseMs: 30_000, owner: 'ex', now: Date.now });
      assert.equal((await ex.runOnce()).succeeded, 1);
      const done = await actionRow(st.store.db, 'ACT-L1');
      assert.equal(done.state, 'succeeded');
      assert.deepEqual(JSON.parse(done.result!), { user: 'hank', dn: dnOf('hank'), flavor: 'openldap', attribute: 'pwdAccountLockedTime', disabled_before: false, changed: true, previous: null });
      assert.equal(await canBind(dnOf('hank'), 'hankpw'), false);
      const u = await undoAction(st.store, 'ACT-L1', { actor: 'analyst', why: 'false positive' });
      assert.equal(u.undo_of, 'ACT-L1');
      assert.equal((await ex.runOnce()).succeeded, 1);
      const row = await actionRow(st.store.db, u.id);
      assert.equal(row.state, 'succeeded');
      assert.deepEqual(JSON.parse(row.result!), { dn: dnOf('hank'), re_enabled: true });
      assert.equal(await canBind(dnOf('hank'), 'hankpw'), true);
    } finally {
      await st.cleanup();
    }
  });
});
