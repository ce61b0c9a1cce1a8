/**
 * The containment kill switch (issue 17, item 3): on (API, CLI or configuration), no containment action starts;
 * queued ones wait in the outbox, while notifications and undos still run; off, the waiting ones run.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createActionExecutor } from '../../src/actions/executor.js';
import { containmentKinds, readKillSwitch } from '../../src/actions/kill-switch.js';
import type { ActionTarget } from '../../src/actions/action.js';
import { auth, testApi } from '../support/api.js';
import { FIDO_BIN } from '../support/fido-process.js';
import { insertAction, sampleIncident, seedIncident } from './fixtures.js';
import type { Store } from '../../src/store/store.js';

/** Targets of a containment kind and a notification kind that count their calls (the executor is what is tested). */
function targets() {
  const calls: string[] = [];
  const target = (name: string, kind: string): ActionTarget => ({
    name,
    kind,
    async execute(ctx) {
      calls.push(`${name}:${ctx.action.id}`);
      return { detail: {} };
    },
    async undo(ctx) {
      calls.push(`undo ${name}:${ctx.original.id}`);
      return { detail: {} };
    },
  });
  return { calls, map: new Map([['fw', target('fw', 'nftables_block')], ['soar', target('soar', 'webhook')]]) };
}

const executor = (store: Store, map: Map<string, ActionTarget>, forced = false) =>
  createActionExecutor({ store, targets: map, maxAttempts: 3, backoffBaseMs: 1000, backoffMaxMs: 1000, leaseMs: 30_000, owner: 'ex', killSwitchForced: forced });

test('containment kinds are the ones that contain: accounts, addresses, hosts, sessions; not notifications or programs', () => {
  assert.deepEqual(containmentKinds().sort(), [
    'crowdstrike_contain', 'defender_isolate', 'entra_disable', 'fortigate_address', 'ldap_account', 'nftables_block',
    'okta_suspend', 'openvpn_kill', 'panos_dag', 'sentinelone_isolate',
  ]);
});

test('on through the API: containment waits, notifications and undos run; off: it runs; the audit log says who and why', async () => {
  const api = await testApi('sqlite');
  try {
    const db = api.t.store.db;
    const now = Date.now();
    await seedIncident(db, sampleIncident('INC-K1'));
    const { calls, map } = targets();
    const put = (on: boolean, who: 'admin' | 'analyst' = 'admin') =>
      api.app.inject({ method: 'PUT', url: '/api/v1/kill-switch', headers: { ...auth(who), 'content-type': 'application/json' }, payload: { on, reason: 'false positives from the new rule' } });
    assert.equal((await put(true, 'analyst')).statusCode, 403, 'admins only');
    const on = await put(true);
    assert.equal(on.statusCode, 200, on.body);
    assert.equal((on.json() as { on: boolean }).on, true);
    // A containment action, a notification, and the undo of an earlier containment.
    await insertAction(db, { id: 'K-BLOCK', incident_id: 'INC-K1', kind: 'nftables_block', target: 'fw', now });
    await insertAction(db, { id: 'K-HOOK', incident_id: 'INC-K1', kind: 'webhook', target: 'soar', now });
    await insertAction(db, { id: 'K-OLD', incident_id: 'INC-K1', kind: 'nftables_block', target: 'fw', now });
    await db.updateTable('actions').set({ state: 'succeeded', idempotency_key: 'old-key' }).where('id', '=', 'K-OLD').execute();
    const { undoAction } = await import('../../src/actions/undo.js');
    await undoAction(api.t.store, 'K-OLD', { actor: 'analyst', why: 'test' });

    const ex = executor(api.t.store, map);
    await ex.runOnce();
    assert.deepEqual(calls.sort(), ['soar:K-HOOK', 'undo fw:K-OLD'], 'the block waits; the rest runs');
    assert.equal((await db.selectFrom('actions').select('state').where('id', '=', 'K-BLOCK').executeTakeFirstOrThrow()).state, 'pending');
    assert.equal((await api.app.inject({ method: 'GET', url: '/api/v1/kill-switch', headers: auth('viewer') })).json().actor, 'admin');

    assert.equal((await put(false)).statusCode, 200);
    await ex.runOnce();
    assert.ok(calls.includes('fw:K-BLOCK'), 'runs once the switch is off');
    const audit = await db.selectFrom('audit_log').select(['actor', 'action', 'detail']).where('subject', '=', 'switch:containment').orderBy('id').execute();
    assert.deepEqual(audit.map((a) => `${a.actor} ${a.action}`), ['admin kill_switch.on', 'admin kill_switch.off']);
    assert.match(audit[0]!.detail, /false positives from the new rule/);
  } finally {
    await api.close();
  }
});

test('held on by the configuration: the executor holds containment whatever the row says; the CLI sets the shared row with a reason', async () => {
  const api = await testApi('sqlite');
  try {
    const db = api.t.store.db;
    await seedIncident(db, sampleIncident('INC-K2'));
    await insertAction(db, { id: 'K2-BLOCK', incident_id: 'INC-K2', kind: 'nftables_block', target: 'fw', now: Date.now() });
    const { calls, map } = targets();
    await executor(api.t.store, map, true).runOnce();
    assert.deepEqual(calls, []);
    assert.equal((await readKillSwitch(db, true)).actor, 'config');
    // The CLI sets the same row (it cannot lift a configuration's hold: the executor reads the configuration).
    const cli = (...args: string[]) =>
      spawnSync(process.execPath, [FIDO_BIN, 'actions', 'kill-switch', ...args], { env: { ...process.env, FIDO_DATA_DIR: api.t.dataDir, FIDO_DATABASE_URL: api.t.url }, encoding: 'utf8' });
    assert.equal(cli('on').status, 2, 'a reason is required');
    const set = cli('on', '--reason', 'incident bridge asked');
    assert.equal(set.status, 0, set.stderr);
    assert.equal((JSON.parse(set.stdout) as { on: boolean }).on, true);
    assert.match((await readKillSwitch(db)).actor ?? '', /^cli:/);
  } finally {
    await api.close();
  }
});

test('held on by the configuration, the API says so and refuses to turn it off', async () => {
  const api = await testApi('sqlite', { killSwitchForced: true });
  try {
    const state = await api.app.inject({ method: 'GET', url: '/api/v1/kill-switch', headers: auth('viewer') });
    assert.deepEqual([state.json().on, state.json().actor], [true, 'config']);
    const off = await api.app.inject({
      method: 'PUT',
      url: '/api/v1/kill-switch',
      headers: { ...auth('admin'), 'content-type': 'application/json' },
      payload: { on: false, reason: 'try' },
    });
    assert.equal(off.statusCode, 409);
    assert.match(off.json().message, /actions\.kill_switch is true in the configuration/);
  } finally {
    await api.close();
  }
});
