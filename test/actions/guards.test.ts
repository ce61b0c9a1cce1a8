/**
 * Action guards (src/actions/guards.ts, issue 17 item 3): protected users, groups and hosts whose containment
 * always waits for a person, and rate and blast-radius limits counted over the outbox. The pure parts
 * (namePattern, protectedGuard, compileLimits) are tested alone; the rest through the decide stage over real
 * stores, the way the pipeline queues actions. PostgreSQL concurrency (the advisory lock) is in
 * guards-pg.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DIALECTS, openTestStore, type TestStore } from '../support/stores.js';
import { compileLimits, namePattern, protectedGuard, type GuardsConfig, type Limit } from '../../src/actions/guards.js';
import { createDecideStage, idempotencyKey, type DecideStageDeps } from '../../src/pipeline/stages/decide.js';
import { newActionRow } from '../../src/actions/outbox-row.js';
import { applyApprovalTimeouts } from '../../src/actions/approvals.js';
import { parseConfigText } from '../../src/config/validate.js';
import { configKinds } from '../../src/config/load.js';
import { loadPolicy } from '../../src/policy/rules.js';
import type { ActionGuard, PolicyAction, PolicyDecision } from '../../src/policy/evaluate.js';
import type { PolicyRuleConfig } from '../../src/config/schema.js';
import type { ActionTable } from '../../src/store/schema.js';
import type { ClaimedItem } from '../../src/store/queue.js';
import type { Store } from '../../src/store/store.js';
import type { IncidentDetail } from '../../src/model/incident.js';
import { alert, enr, incident, insertIncident, T0 } from '../score/fixtures.js';
import { MAIL_AND_WEBHOOK, fileSandbox } from '../policy/support.js';

// ───────────────────────────── namePattern ─────────────────────────────

test('namePattern: exact names, * wildcards anywhere, any case, and nothing else is pattern syntax', () => {
  const cases: Array<[string, string, boolean]> = [
    ['alice', 'alice', true],
    ['alice', 'alice2', false],
    ['alice', 'malice', false],
    ['alice', 'ALICE', true],
    ['ALICE', 'alice', true],
    ['svc-*', 'svc-backup', true],
    ['svc-*', 'svc-', true],
    ['svc-*', 'xsvc-backup', false],
    ['svc-*', 'SVC-Backup', true],
    ['*@corp.example', 'ceo@corp.example', true],
    ['*@corp.example', 'ceo@CORP.example', true],
    ['*@corp.example', 'ceo@corp.example.evil', false],
    ['*@corp.example', 'ceo@xcorp.example', false],
    ['a*b*c', 'abc', true],
    ['a*b*c', 'a-b-c', true],
    ['a*b*c', 'axxbyyc', true],
    ['a*b*c', 'acb', false],
    ['a*b*c', 'abcx', false],
    ['a*b*c', 'xabc', false],
    // the middle part must fit between the prefix and the suffix, not overlap them
    ['ab*ba', 'aba', false],
    ['a*b*c', 'ac', false],
    ['a*bc*c', 'abc', false],
    ['a*bc*c', 'abcc', true],
    ['*', 'anything', true],
    ['*', '', true],
    ['**', 'x', true],
    ['dc*', 'DC01', true],
    // no regular-expression syntax: `.` is a dot, parentheses and brackets are themselves
    ['a.b', 'axb', false],
    ['a.b', 'a.b', true],
    ['(x)', 'x', false],
    ['(x)', '(x)', true],
    ['[ab]', 'a', false],
    ['a+', 'aa', false],
    ['a+', 'a+', true],
    ['^root$', 'root', false],
    ['a?c', 'abc', false],
    ['host\\d', 'host1', false],
  ];
  for (const [pattern, name, want] of cases) assert.equal(namePattern(pattern)(name), want, `${pattern} vs ${name}`);
});

// ───────────────────────────── protectedGuard ─────────────────────────────

const containment = (kind: string) => ['ldap_account', 'okta_suspend', 'crowdstrike_contain', 'nftables_block'].includes(kind);

const action = (kind: string, target: string): PolicyAction => ({ kind, target, params: {}, approval: 'auto', rule: 'contain', dry_run: false });
const AD = action('ldap_account', 'ad-disable');
const EDR = action('crowdstrike_contain', 'edr');
const MAIL = action('email', 'soc-mail');

/** An incident as the decide stage loads it for the guard: user, host, indicators and enrichment. */
const detail = (over: Partial<IncidentDetail> = {}): IncidentDetail => incident({ user: 'bob', host: 'ws-100', indicators: [], ...over });

function guard(cfg: GuardsConfig['protected']): ActionGuard {
  const g = protectedGuard(cfg, containment);
  assert.ok(g, 'a guard');
  return g;
}

const verdict = (g: ActionGuard, a: PolicyAction, d: IncidentDetail) => {
  const v = g.check(a, d);
  return v.allow ? 'allow' : `${v.hold ? 'hold' : 'block'}: ${v.reason}`;
};

test('protectedGuard: nothing configured is no guard at all', () => {
  assert.equal(protectedGuard(undefined), null);
  assert.equal(protectedGuard({}), null);
  assert.equal(protectedGuard({ users: [], groups: [], hosts: [], privileged: false }), null);
  assert.notEqual(protectedGuard({ privileged: true }), null);
  assert.notEqual(protectedGuard({ hosts: ['dc*'] }), null);
});

test('protectedGuard: users by name, UPN and e-mail patterns, hosts by pattern; the reason names who and which pattern', () => {
  const g = guard({ users: ['alice', '*@board.example', 'svc-*'], hosts: ['dc*', 'pay-db-01'] });
  assert.equal(verdict(g, AD, detail({ user: 'Alice' })), 'hold: user Alice is protected (alice)');
  assert.equal(verdict(g, AD, detail({ user: 'ceo@Board.example' })), 'hold: user ceo@Board.example is protected (*@board.example)');
  assert.equal(verdict(g, AD, detail({ user: 'svc-backup' })), 'hold: user svc-backup is protected (svc-*)');
  assert.equal(verdict(g, AD, detail({ user: 'ceo@board.example.evil' })), 'allow');
  assert.equal(verdict(g, AD, detail({ user: 'malice' })), 'allow');
  assert.equal(verdict(g, EDR, detail({ host: 'DC01' })), 'hold: host DC01 is protected (dc*)');
  assert.equal(verdict(g, EDR, detail({ host: 'pay-db-01' })), 'hold: host pay-db-01 is protected (pay-db-01)');
  assert.equal(verdict(g, EDR, detail({ host: 'pay-db-010' })), 'allow');
  assert.equal(verdict(g, EDR, detail({ user: null, host: null })), 'allow');
  // Whoever the action is for, the incident names a protected user: containment of any kind waits.
  assert.equal(verdict(g, EDR, detail({ user: 'alice' })), 'hold: user alice is protected (alice)');
  // The same account in its other spellings: with its domain, or as a UPN.
  assert.equal(verdict(g, AD, detail({ user: 'CORP\\alice' })), 'hold: user CORP\\alice is protected (alice)');
  assert.equal(verdict(g, AD, detail({ user: 'alice@corp.example' })), 'hold: user alice@corp.example is protected (alice)');
  assert.equal(verdict(g, AD, detail({ user: 'CORP\\malice' })), 'allow');
});

test("protectedGuard: the incident's indicators and the users its enrichment describes count too", () => {
  const g = guard({ users: ['alice'], hosts: ['dc*'] });
  assert.equal(verdict(g, AD, detail({ indicators: [{ type: 'user', value: 'ALICE' }] })), 'hold: user ALICE is protected (alice)');
  assert.equal(verdict(g, EDR, detail({ indicators: [{ type: 'host', value: 'dc02' }] })), 'hold: host dc02 is protected (dc*)');
  // An indicator of another type with the same text is not a user or a host.
  assert.equal(verdict(g, AD, detail({ indicators: [{ type: 'domain', value: 'alice' }, { type: 'ip', value: 'dc02' }] })), 'allow');
  assert.equal(verdict(g, AD, detail({ enrichment: [enr('ad', 'user', 'alice', { groups: [] })] })), 'hold: user alice is protected (alice)');
  // Enrichment about a host is not about a user of that name.
  assert.equal(verdict(g, AD, detail({ enrichment: [enr('inventory', 'host', 'alice', { owner: 'x' })] })), 'allow');
});

const ldapAnswer = (user: string, data: Record<string, unknown>) => enr('ad', 'user', user, { dn: `CN=${user},OU=Staff,DC=corp,DC=example`, ...data });
const DOMAIN_ADMINS = { dn: 'CN=Domain Admins,CN=Users,DC=corp,DC=example', name: 'Domain Admins' };
const STAFF = { dn: 'CN=Staff,OU=Groups,DC=corp,DC=example', name: 'Staff' };

test("protectedGuard: groups by CN name or DN from the directory's answer", () => {
  const byName = guard({ groups: ['domain admins'] });
  const withGroups = detail({ enrichment: [ldapAnswer('bob', { groups: [STAFF, DOMAIN_ADMINS] })] });
  assert.equal(verdict(byName, AD, withGroups), 'hold: user bob is in protected group Domain Admins (domain admins)');
  const byDn = guard({ groups: ['CN=Domain Admins,*'] });
  assert.equal(verdict(byDn, AD, withGroups), 'hold: user bob is in protected group CN=Domain Admins,CN=Users,DC=corp,DC=example (CN=Domain Admins,*)');
  const byOu = guard({ groups: ['*,OU=Tier0,DC=corp,DC=example'] });
  assert.equal(verdict(byOu, AD, withGroups), 'allow');
  assert.equal(verdict(byOu, AD, detail({ enrichment: [ldapAnswer('bob', { groups: [{ dn: 'CN=T0 Admins,OU=Tier0,DC=corp,DC=example', name: 'T0 Admins' }] })] })), 'hold: user bob is in protected group CN=T0 Admins,OU=Tier0,DC=corp,DC=example (*,OU=Tier0,DC=corp,DC=example)');
  // Not in the group; a group list of the wrong shape; the group named in a host's answer: none of them count.
  assert.equal(verdict(byName, AD, detail({ enrichment: [ldapAnswer('bob', { groups: [STAFF] })] })), 'allow');
  assert.equal(verdict(byName, AD, detail({ enrichment: [ldapAnswer('bob', { groups: 'Domain Admins' })] })), 'allow');
  assert.equal(verdict(byName, AD, detail({ enrichment: [ldapAnswer('bob', { groups: ['Domain Admins'] })] })), 'allow');
  assert.equal(verdict(byName, AD, detail({ enrichment: [enr('ad', 'host', 'ws-100', { groups: [DOMAIN_ADMINS] })] })), 'allow');
  // An answer that found nothing has nothing to say about groups.
  assert.equal(verdict(byName, AD, detail({ enrichment: [{ provider: 'ad', subject: { type: 'user', value: 'bob' }, error: 'timeout', fetched_at: new Date(T0).toISOString() } as never] })), 'allow');
});

test('protectedGuard: privileged or VIP users only when the directory says exactly true, and only when asked', () => {
  const g = guard({ privileged: true });
  assert.equal(verdict(g, AD, detail({ enrichment: [ldapAnswer('bob', { privileged: true })] })), 'hold: user bob is privileged or VIP in the directory');
  assert.equal(verdict(g, AD, detail({ enrichment: [ldapAnswer('bob', { vip: true })] })), 'hold: user bob is privileged or VIP in the directory');
  for (const v of [false, 'true', 1, 'yes', null]) assert.equal(verdict(g, AD, detail({ enrichment: [ldapAnswer('bob', { privileged: v, vip: v })] })), 'allow', String(v));
  // Without `privileged: true` in the config, a privileged user is not protected for that.
  const users = guard({ users: ['someone-else'], privileged: false });
  assert.equal(verdict(users, AD, detail({ enrichment: [ldapAnswer('bob', { privileged: true })] })), 'allow');
});

test('protectedGuard: only containment waits — e-mail and webhooks about a protected user go out', () => {
  const g = guard({ users: ['bob'], hosts: ['ws-*'], groups: ['Domain Admins'], privileged: true });
  const d = detail({ enrichment: [ldapAnswer('bob', { groups: [DOMAIN_ADMINS], privileged: true })] });
  assert.equal(verdict(g, MAIL, d), 'allow');
  assert.equal(verdict(g, action('webhook', 'soar-webhook'), d), 'allow');
  assert.match(verdict(g, AD, d), /^hold: /);
  // The registry's own idea of containment (the default) says the same.
  const real = protectedGuard({ users: ['bob'] });
  assert.ok(real, 'a guard');
  assert.equal(real.check(MAIL, d).allow, true);
  assert.equal(real.check(action('okta_suspend', 'okta'), d).allow, false);
  assert.equal(real.check(action('nftables_block', 'fw'), d).allow, false);
});

// ───────────────────────────── compileLimits ─────────────────────────────

test('compileLimits: turns windows into milliseconds and refuses limits that limit nothing, naming the limit', () => {
  assert.deepEqual(compileLimits(undefined), []);
  assert.deepEqual(
    compileLimits([
      { name: 'ad-rate', kind: 'ldap_account', max: 5, per: '1h' },
      { name: 'edr-radius', target: 'edr', max_active: 3 },
      { name: 'both', rule: 'contain', max: 0, per: '10m', max_active: 1 },
    ]),
    [
      { name: 'ad-rate', kind: 'ldap_account', max: 5, perMs: 3_600_000 },
      { name: 'edr-radius', target: 'edr', maxActive: 3 },
      { name: 'both', rule: 'contain', max: 0, perMs: 600_000, maxActive: 1 },
    ],
  );
  assert.throws(() => compileLimits([{ name: 'ok', kind: 'x', max_active: 1 }, { name: 'everything', max: 1, per: '1h' }]), {
    message: 'actions.guards.limits[1] (everything): say which actions it limits (kind, target or rule)',
  });
  assert.throws(() => compileLimits([{ name: 'no-window', kind: 'ldap_account', max: 1 }]), { message: 'actions.guards.limits[0] (no-window): a rate needs both max and per' });
  assert.throws(() => compileLimits([{ name: 'no-max', kind: 'ldap_account', per: '1h' }]), { message: 'actions.guards.limits[0] (no-max): a rate needs both max and per' });
  assert.throws(() => compileLimits([{ name: 'no-bound', kind: 'ldap_account' }]), { message: 'actions.guards.limits[0] (no-bound): set max and per, or max_active' });
  assert.throws(() => compileLimits([{ name: 'bad-window', kind: 'ldap_account', max: 1, per: 'soon' }]), /actions\.guards\.limits\[0\] \(bad-window\)\.per/);
});

// ───────────────────────────── through the decide stage ─────────────────────────────

const sandbox = fileSandbox();

const TARGETS = new Map([...MAIL_AND_WEBHOOK, ['ad-disable', 'ldap_account'], ['okta', 'okta_suspend']]);

const RULES: PolicyRuleConfig[] = [
  { name: 'vip', when: 'score.total >= 95', outcome: 'respond', then: [{ action: 'ad-disable' }, { action: 'soc-mail' }] },
  { name: 'contain', when: 'score.total >= 80', outcome: 'respond', then: [{ action: 'ad-disable' }, { action: 'okta' }, { action: 'soc-mail' }] },
];

const items = (ids: readonly string[]): ClaimedItem[] => ids.map((item_id, i) => ({ id: i + 1, item_id, version: 1, attempts: 1 }));

function stageOf(store: Store, over: Partial<DecideStageDeps> & { at?: number } = {}) {
  const { at = T0 + 10_000, ...rest } = over;
  return createDecideStage({
    store,
    policy: loadPolicy({ rules: RULES, baseDir: '.', targets: TARGETS }),
    configVersion: 'cfg-1',
    targetKinds: TARGETS,
    sandbox,
    now: () => at,
    ...rest,
  });
}

async function run(store: Store, stage: ReturnType<typeof createDecideStage>, ids: readonly string[]) {
  const computed = await stage.compute(items(ids), store.db);
  await store.db.transaction().execute((tx) => stage.write(tx, items(ids), computed));
  return computed;
}

let seq = 0;
/** New incidents (user `user`, score `score`), inserted; their ids in order. */
async function incidents(store: Store, n: number, score = 90, over: Partial<IncidentDetail> = {}): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    const id = `01JDGUARD${String(++seq).padStart(17, '0')}`;
    await insertIncident(store.db, incident({ id, alerts: [alert()], user: `user${seq}`, host: `ws-${seq}`, ...over }));
    const doc = JSON.stringify({ profile: 'default', total: score, components: {}, explanation: [] });
    await store.db.updateTable('incidents').set({ score: doc, score_total: score }).where('id', '=', id).execute();
    ids.push(id);
  }
  return ids;
}

async function outbox(store: Store, target: string, ids?: readonly string[]) {
  let q = store.db.selectFrom('actions').select(['incident_id', 'state', 'approval', 'held_by', 'rule']).where('target', '=', target).where('undo_of', 'is', null);
  if (ids) q = q.where('incident_id', 'in', ids);
  const rows = await q.orderBy('incident_id').execute();
  return rows.map((r) => ({ ...r, held_by: r.held_by ?? null }));
}

const states = async (store: Store, target: string, ids: readonly string[]) => (await outbox(store, target, ids)).map((r) => [r.incident_id, r.state]);

async function timelineOf(store: Store, id: string): Promise<string[]> {
  return (await store.db.selectFrom('timeline').select('summary').where('incident_id', '=', id).where('kind', '=', 'decided').orderBy('id').execute()).map((r) => r.summary);
}

/** An outbox row that was there before (another incident's action, in `state`, created at `at`). */
async function seed(store: Store, over: Partial<ActionTable> & { at: number }): Promise<string> {
  const { at, ...rest } = over;
  const [incidentId] = await incidents(store, 1, 10);
  const row = newActionRow(
    {
      incident_id: incidentId!,
      decision_id: null,
      kind: 'ldap_account',
      target: 'ad-disable',
      idempotency_key: `seed:${incidentId}:${rest.undo_of ?? ''}`,
      params: '{}',
      state: 'succeeded',
      approval: 'auto',
      rule: 'contain',
    },
    at,
  );
  await store.db.insertInto('actions').values({ ...row, ...rest }).execute();
  return row.id;
}

async function withStore(dialect: 'sqlite' | 'postgres', fn: (store: Store) => Promise<void>) {
  const t: TestStore = await openTestStore(dialect);
  try {
    await fn(t.store);
  } finally {
    await t.cleanup();
  }
}

for (const dialect of DIALECTS) {
  test(`decide stage on ${dialect}: containment for a protected user waits for approval, saying why; the e-mail goes out`, () =>
    withStore(dialect, async (store) => {
      const [prot, other] = await incidents(store, 2);
      await store.db.updateTable('incidents').set({ user_name: 'Alice' }).where('id', '=', prot!).execute();
      const guards = [protectedGuard({ users: ['alice'] })!];
      const [d1, d2] = await run(store, stageOf(store, { guards }), [prot!, other!]);

      assert.deepEqual(await outbox(store, 'ad-disable'), [
        { incident_id: prot, state: 'awaiting_approval', approval: 'required', held_by: 'protected: user Alice is protected (alice)', rule: 'contain' },
        { incident_id: other, state: 'pending', approval: 'auto', held_by: null, rule: 'contain' },
      ]);
      assert.deepEqual(await states(store, 'okta', [prot!]), [[prot, 'awaiting_approval']]);
      assert.deepEqual(await states(store, 'soc-mail', [prot!, other!]), [
        [prot, 'pending'],
        [other, 'pending'],
      ]);

      // The decision (as recorded) and the timeline say which actions were held, and by what.
      const recorded = JSON.parse((await store.db.selectFrom('decisions').select('doc').where('incident_id', '=', prot!).executeTakeFirstOrThrow()).doc) as PolicyDecision;
      assert.deepEqual(
        recorded.actions.map((a) => [a.target, a.approval, a.held_by]),
        [
          ['ad-disable', 'required', 'protected: user Alice is protected (alice)'],
          ['okta', 'required', 'protected: user Alice is protected (alice)'],
          ['soc-mail', 'auto', undefined],
        ],
      );
      assert.deepEqual(d1!.decision.blocked, []);
      assert.deepEqual(await timelineOf(store, prot!), [
        'rule "contain" → respond; queued ldap_account → ad-disable (held for approval: protected: user Alice is protected (alice)), okta_suspend → okta (held for approval: protected: user Alice is protected (alice)), email → soc-mail',
      ]);
      assert.deepEqual(await timelineOf(store, other!), ['rule "contain" → respond; queued ldap_account → ad-disable, okta_suspend → okta, email → soc-mail']);
      assert.equal(d2!.decision.actions.some((a) => a.held_by), false);
    }));

  test(`decide stage on ${dialect}: a rate limit holds what goes over it, in this batch and the next, until the window passes`, () =>
    withStore(dialect, async (store) => {
      const limits = compileLimits([{ name: 'ad-rate', kind: 'ldap_account', max: 2, per: '1h' }]);
      const t1 = T0 + 10_000;
      const first = await incidents(store, 5);
      await run(store, stageOf(store, { limits, at: t1 }), first);
      const over = 'limit ad-rate: 2 in the last 60 min (at most 2)';
      assert.deepEqual(await outbox(store, 'ad-disable', first), [
        ...first.slice(0, 2).map((id) => ({ incident_id: id, state: 'pending', approval: 'auto', held_by: null, rule: 'contain' })),
        ...first.slice(2).map((id) => ({ incident_id: id, state: 'awaiting_approval', approval: 'required', held_by: over, rule: 'contain' })),
      ]);
      // Other kinds are not limited by a kind's limit; e-mail never is.
      assert.deepEqual((await states(store, 'okta', first)).map((r) => r[1]), ['pending', 'pending', 'pending', 'pending', 'pending']);
      assert.deepEqual((await states(store, 'soc-mail', first)).map((r) => r[1]), ['pending', 'pending', 'pending', 'pending', 'pending']);
      assert.deepEqual(await timelineOf(store, first[4]!), [`rule "contain" → respond; queued ldap_account → ad-disable (held for approval: ${over}), okta_suspend → okta, email → soc-mail`]);
      assert.deepEqual(await timelineOf(store, first[0]!), ['rule "contain" → respond; queued ldap_account → ad-disable, okta_suspend → okta, email → soc-mail']);

      // Later in the window: every new one waits (the held ones do not count, the two queued do).
      const second = await incidents(store, 3);
      await run(store, stageOf(store, { limits, at: t1 + 30 * 60_000 }), second);
      assert.deepEqual((await outbox(store, 'ad-disable', second)).map((r) => [r.state, r.held_by]), [
        ['awaiting_approval', over],
        ['awaiting_approval', over],
        ['awaiting_approval', over],
      ]);

      // The window has passed the first batch: two more may go.
      const third = await incidents(store, 3);
      await run(store, stageOf(store, { limits, at: t1 + 3_600_000 + 1 }), third);
      assert.deepEqual((await outbox(store, 'ad-disable', third)).map((r) => [r.state, r.held_by]), [
        ['pending', null],
        ['pending', null],
        ['awaiting_approval', over],
      ]);
    }));
}

test('limits: actions awaiting approval, denied, skipped, dry runs and undos do not count; ones that ran (even failed) do', () =>
  withStore('sqlite', async (store) => {
    const now = T0 + 10_000;
    const recent = now - 60_000;
    await seed(store, { at: recent, state: 'awaiting_approval', approval: 'required' });
    await seed(store, { at: recent, state: 'denied', approval: 'required' });
    await seed(store, { at: recent, state: 'skipped' });
    await seed(store, { at: recent, state: 'succeeded', dry_run: 1 });
    const done = await seed(store, { at: now - 7_200_000, state: 'succeeded' }); // before the window
    await seed(store, { at: recent, state: 'pending', undo_of: done });
    await seed(store, { at: recent, state: 'failed' });
    await seed(store, { at: recent, state: 'succeeded', kind: 'okta_suspend', target: 'okta' }); // another kind
    const limits = compileLimits([{ name: 'ad-rate', kind: 'ldap_account', max: 2, per: '1h' }]);
    const ids = await incidents(store, 3);
    await run(store, stageOf(store, { limits, at: now }), ids);
    assert.deepEqual((await outbox(store, 'ad-disable', ids)).map((r) => [r.state, r.held_by]), [
      ['pending', null],
      ['awaiting_approval', 'limit ad-rate: 2 in the last 60 min (at most 2)'],
      ['awaiting_approval', 'limit ad-rate: 2 in the last 60 min (at most 2)'],
    ]);
  }));

test('limits: a blast radius counts what is in effect; an undo frees its slot', () =>
  withStore('sqlite', async (store) => {
    const now = T0 + 10_000;
    const longAgo = now - 10 * 86_400_000;
    const a = await seed(store, { at: longAgo, state: 'succeeded' });
    await seed(store, { at: longAgo, state: 'succeeded' });
    await seed(store, { at: longAgo, state: 'failed' }); // never took effect
    await seed(store, { at: longAgo, state: 'denied' });
    const limits = compileLimits([{ name: 'ad-radius', kind: 'ldap_account', max_active: 2 }]);
    const [blocked] = await incidents(store, 1);
    await run(store, stageOf(store, { limits, at: now }), [blocked!]);
    assert.deepEqual((await outbox(store, 'ad-disable', [blocked!])).map((r) => [r.state, r.held_by]), [['awaiting_approval', 'limit ad-radius: 2 in effect (at most 2 at once)']]);

    // One of them is undone (its undo is queued): a new one may go, and then the radius is full again.
    await seed(store, { at: now, state: 'pending', undo_of: a });
    const next = await incidents(store, 2);
    await run(store, stageOf(store, { limits, at: now + 1000 }), next);
    assert.deepEqual((await outbox(store, 'ad-disable', next)).map((r) => [r.state, r.held_by]), [
      ['pending', null],
      ['awaiting_approval', 'limit ad-radius: 2 in effect (at most 2 at once)'],
    ]);
    // What is queued or running is in effect too (the pending one above counts); a third party cannot sneak in.
    await store.db.updateTable('actions').set({ state: 'running' }).where('incident_id', '=', next[0]!).where('target', '=', 'ad-disable').execute();
    const [later] = await incidents(store, 1);
    await run(store, stageOf(store, { limits, at: now + 2000 }), [later!]);
    assert.deepEqual((await outbox(store, 'ad-disable', [later!])).map((r) => r.state), ['awaiting_approval']);
  }));

test('limits: a rate and a blast radius in one limit; the reason says which is reached', () =>
  withStore('sqlite', async (store) => {
    const now = T0 + 10_000;
    await seed(store, { at: now - 10 * 86_400_000, state: 'succeeded' });
    const limits = compileLimits([{ name: 'ad', kind: 'ldap_account', max: 1, per: '1h', max_active: 2 }]);
    const ids = await incidents(store, 2);
    await run(store, stageOf(store, { limits, at: now }), ids);
    assert.deepEqual((await outbox(store, 'ad-disable', ids)).map((r) => [r.state, r.held_by]), [
      ['pending', null],
      ['awaiting_approval', 'limit ad: 1 in the last 60 min (at most 1); 2 in effect (at most 2 at once)'],
    ]);
  }));

test('limits: by rule and by target, each counting only its own actions', () =>
  withStore('sqlite', async (store) => {
    const limits = compileLimits([
      { name: 'vip-rule', rule: 'vip', max: 1, per: '1h' },
      { name: 'okta-target', target: 'okta', max: 1, per: '1d' },
    ]);
    const vip = await incidents(store, 2, 97);
    const contain = await incidents(store, 3, 85);
    await run(store, stageOf(store, { limits }), [...vip, ...contain]);
    assert.deepEqual((await outbox(store, 'ad-disable')).map((r) => [r.rule, r.state, r.held_by]), [
      ['vip', 'pending', null],
      ['vip', 'awaiting_approval', 'limit vip-rule: 1 in the last 60 min (at most 1)'],
      ['contain', 'pending', null],
      ['contain', 'pending', null],
      ['contain', 'pending', null],
    ]);
    assert.deepEqual((await outbox(store, 'okta')).map((r) => [r.state, r.held_by]), [
      ['pending', null],
      ['awaiting_approval', 'limit okta-target: 1 in the last 1440 min (at most 1)'],
      ['awaiting_approval', 'limit okta-target: 1 in the last 1440 min (at most 1)'],
    ]);
    // The rule's e-mail is not containment: never held by the rule's limit.
    assert.deepEqual((await outbox(store, 'soc-mail', vip)).map((r) => r.state), ['pending', 'pending']);
  }));

test('limits: an incident decided again does not take a slot for the action it already queued', () =>
  withStore('sqlite', async (store) => {
    const limits = compileLimits([{ name: 'ad-rate', kind: 'ldap_account', max: 2, per: '1h' }]);
    const [a] = await incidents(store, 1);
    await run(store, stageOf(store, { limits }), [a!]);
    const [b] = await incidents(store, 1);
    // A new config version: a is decided again (a new decision), its ad-disable key is already in the outbox.
    const [again] = await run(store, stageOf(store, { limits, configVersion: 'cfg-2', at: T0 + 20_000 }), [a!, b!]);
    assert.equal(again!.changed, true);
    assert.deepEqual(await states(store, 'ad-disable', [a!, b!]), [
      [a, 'pending'],
      [b, 'pending'],
    ]);
    assert.equal((await store.db.selectFrom('actions').select('id').where('idempotency_key', '=', idempotencyKey(a!, 'ldap_account', 'ad-disable')).execute()).length, 1);
    assert.deepEqual((await timelineOf(store, a!)).at(-1), 'rule "contain" → respond; 3 actions already queued earlier');
  }));

test('limits: an action held for a protected user takes no slot; a rule needing approval is not relabelled', () =>
  withStore('sqlite', async (store) => {
    const limits = compileLimits([{ name: 'ad-rate', kind: 'ldap_account', max: 1, per: '1h' }]);
    const guards = [protectedGuard({ users: ['ceo'] })!];
    const [ceo] = await incidents(store, 1, 90, { user: 'ceo' });
    const [x, y] = await incidents(store, 2);
    await run(store, stageOf(store, { limits, guards }), [ceo!, x!, y!]);
    assert.deepEqual((await outbox(store, 'ad-disable')).map((r) => [r.state, r.held_by]), [
      ['awaiting_approval', 'protected: user ceo is protected (ceo)'],
      ['pending', null],
      ['awaiting_approval', 'limit ad-rate: 1 in the last 60 min (at most 1)'],
    ]);

    // A rule that asks for approval anyway: its actions wait without a guard's name on them.
    const approve: PolicyRuleConfig[] = [{ name: 'ask', when: 'score.total >= 80', outcome: 'respond', then: [{ action: 'ad-disable' }], approval: 'required' }];
    const [z] = await incidents(store, 1, 90, { user: 'ceo' });
    await run(store, stageOf(store, { limits, guards, policy: loadPolicy({ rules: approve, baseDir: '.', targets: TARGETS }) }), [z!]);
    assert.deepEqual((await outbox(store, 'ad-disable', [z!])).map((r) => [r.state, r.approval, r.held_by]), [['awaiting_approval', 'required', null]]);
  }));

test('limits: a limit on a kind that is not containment holds nothing', () =>
  withStore('sqlite', async (store) => {
    const limits: Limit[] = compileLimits([{ name: 'mail', kind: 'email', max: 0, per: '1h' }]);
    const ids = await incidents(store, 2);
    await run(store, stageOf(store, { limits }), ids);
    assert.deepEqual((await outbox(store, 'soc-mail', ids)).map((r) => r.state), ['pending', 'pending']);
  }));

// ───────────────────────────── self-approving rules and config checks ─────────────────────────────

/** A rule that asks for approval but approves by itself when nobody answers within 15 minutes. */
const SELF_APPROVING: PolicyRuleConfig[] = [
  { name: 'contain', when: 'score.total >= 80', outcome: 'respond', then: [{ action: 'ad-disable' }], approval: { mode: 'required', timeout: '15m', default: 'approve' } },
];

test(
  'protected users: a rule whose approval times out to "approve" must not contain a protected user without a person',
  () =>
    withStore('sqlite', async (store) => {
      const [id] = await incidents(store, 1, 90, { user: 'alice' });
      const at = T0 + 10_000;
      const policy = loadPolicy({ rules: SELF_APPROVING, baseDir: '.', targets: TARGETS });
      await run(store, stageOf(store, { policy, guards: [protectedGuard({ users: ['alice'] })!], at }), [id!]);
      await applyApprovalTimeouts(store, at + 16 * 60_000);
      assert.deepEqual((await outbox(store, 'ad-disable', [id!])).map((r) => r.state), ['awaiting_approval']);
    }),
);

test(
  'limits: actions whose approval times out to "approve" must count against a limit',
  () =>
    withStore('sqlite', async (store) => {
      const at = T0 + 10_000;
      const limits = compileLimits([{ name: 'ad-rate', kind: 'ldap_account', max: 1, per: '1h' }]);
      const policy = loadPolicy({ rules: SELF_APPROVING, baseDir: '.', targets: TARGETS });
      const ids = await incidents(store, 3);
      await run(store, stageOf(store, { policy, limits, at }), ids);
      await applyApprovalTimeouts(store, at + 16 * 60_000);
      // Within the hour, at most one ran without a person.
      const ran = (await outbox(store, 'ad-disable', ids)).filter((r) => r.state === 'pending').length;
      assert.ok(ran <= 1, `${ran} ran without a person within the hour (at most 1)`);
    }),
);

test(
  'config check: a limit the worker would refuse, or one naming a kind that does not exist, is a config error',
  () => {
    const text = [
      'actions:',
      '  guards:',
      '    limits:',
      '      - { name: no-kind, max: 1, per: 1h }',
      '      - { name: no-window, kind: ldap_account, max: 1 }',
      '      - { name: typo, kind: ldap_acount, max: 1, per: 1h }',
      '',
    ].join('\n');
    const { errors } = parseConfigText(text, configKinds);
    assert.deepEqual(
      errors.map((e) => e.key),
      ['actions.guards.limits[0]', 'actions.guards.limits[1]', 'actions.guards.limits[2].kind'],
    );
  },
);
