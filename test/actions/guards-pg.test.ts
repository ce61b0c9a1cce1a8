/**
 * Limits (src/actions/guards.ts holdOverLimits) across PostgreSQL pipelines: two decide stages writing in two
 * concurrent transactions must not both take the last slot of a limit. The second one's write is made to run
 * while the first is still uncommitted (it waits for the advisory lock: pg_locks shows it waiting), so the test
 * sees the lock at work rather than two writes that happened one after the other. A control without the lock
 * (the store told it is not PostgreSQL) shows that the race is real: both take the slot.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'kysely';
import { openTestStore } from '../support/stores.js';
import { waitFor } from '../support/wait.js';
import { compileLimits } from '../../src/actions/guards.js';
import { createDecideStage } from '../../src/pipeline/stages/decide.js';
import { loadPolicy } from '../../src/policy/rules.js';
import type { ClaimedItem } from '../../src/store/queue.js';
import type { Store } from '../../src/store/store.js';
import { alert, incident, insertIncident, T0 } from '../score/fixtures.js';
import { fileSandbox } from '../policy/support.js';

const sandbox = fileSandbox();
const TARGETS = new Map([['ad-disable', 'ldap_account']]);
const policy = loadPolicy({ rules: [{ name: 'contain', when: 'score.total >= 80', outcome: 'respond', then: [{ action: 'ad-disable' }] }], baseDir: '.', targets: TARGETS });
const limits = compileLimits([{ name: 'one', kind: 'ldap_account', max: 1, per: '1h' }]);
const items = (ids: readonly string[]): ClaimedItem[] => ids.map((item_id, i) => ({ id: i + 1, item_id, version: 1, attempts: 1 }));

async function incidents(store: Store, prefix: string, n: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    const id = `01JDGUARDPG${prefix}${String(i).padStart(14, '0')}`;
    await insertIncident(store.db, incident({ id, alerts: [alert()], user: `u-${prefix}-${i}` }));
    const doc = JSON.stringify({ profile: 'default', total: 90, components: {}, explanation: [] });
    await store.db.updateTable('incidents').set({ score: doc, score_total: 90 }).where('id', '=', id).execute();
    ids.push(id);
  }
  return ids;
}

/**
 * Decides `a` and `b` in two transactions: a's write finishes first and its transaction stays open until b's
 * write has either finished or is seen waiting for an advisory lock; then a commits, then b.
 */
async function race(store: Store, a: readonly string[], b: readonly string[]): Promise<'waited' | 'ran'> {
  const stage = createDecideStage({ store, policy, configVersion: 'cfg-1', targetKinds: TARGETS, sandbox, limits, now: () => T0 + 10_000 });
  const [ca, cb] = [await stage.compute(items(a), store.db), await stage.compute(items(b), store.db)];
  let aWritten!: () => void;
  const aDone = new Promise<void>((r) => (aWritten = r));
  let bPid: number | undefined;
  let bFinished = false;
  const first = store.db.transaction().execute(async (tx) => {
    await stage.write(tx, items(a), ca);
    aWritten();
    return waitFor('the second write to finish or to wait for the lock', async () => {
      if (bFinished) return 'ran' as const;
      if (bPid === undefined) return false;
      const { rows } = await sql<{ n: number }>`select count(*)::int as n from pg_locks where locktype = 'advisory' and not granted and pid = ${bPid}`.execute(store.db);
      return rows[0]!.n > 0 ? ('waited' as const) : false;
    }, 10_000, 10);
  });
  const second = store.db.transaction().execute(async (tx) => {
    bPid = (await sql<{ pid: number }>`select pg_backend_pid() as pid`.execute(tx)).rows[0]!.pid;
    await aDone;
    await stage.write(tx, items(b), cb);
    bFinished = true;
  });
  const [how] = await Promise.all([first, second]);
  return how;
}

const pendingCount = async (store: Store) =>
  Number((await store.db.selectFrom('actions').select((eb) => eb.fn.countAll<number>().as('n')).where('state', '=', 'pending').executeTakeFirstOrThrow()).n);

test('limits on PostgreSQL: two concurrent decide batches cannot both take the last slot (the advisory lock)', async () => {
  const t = await openTestStore('postgres');
  try {
    const { store } = t;
    const how = await race(store, await incidents(store, 'A', 1), await incidents(store, 'B', 2));
    assert.equal(how, 'waited', 'the second write waited for the first transaction');
    assert.equal(await pendingCount(store), 1);
    const rows = await store.db.selectFrom('actions').select(['incident_id', 'state', 'held_by']).orderBy('incident_id').execute();
    assert.deepEqual(
      rows.map((r) => [r.incident_id.slice(0, 12), r.state, r.held_by]),
      [
        ['01JDGUARDPGA', 'pending', null],
        ['01JDGUARDPGB', 'awaiting_approval', 'limit one: 1 in the last 60 min (at most 1)'],
        ['01JDGUARDPGB', 'awaiting_approval', 'limit one: 1 in the last 60 min (at most 1)'],
      ],
    );
  } finally {
    await t.cleanup();
  }
});

test('control: without the lock the same two transactions both take the slot (so the test above can fail)', async () => {
  const t = await openTestStore('postgres');
  try {
    const unlocked: Store = { ...t.store, skipLocked: false };
    const how = await race(unlocked, await incidents(t.store, 'A', 1), await incidents(t.store, 'B', 1));
    assert.equal(how, 'ran');
    assert.equal(await pendingCount(t.store), 2);
  } finally {
    await t.cleanup();
  }
});
