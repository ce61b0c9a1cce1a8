/**
 * Unknown outcomes (issue 17, item 5): a call that may have taken effect (a timeout after the request went out,
 * an executor killed mid-call) is reconciled with the target before any retry, so that an action whose effect
 * is already there is not done twice.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createActionExecutor } from '../../src/actions/executor.js';
import { ActionError, type ActionContext, type ActionTarget, type Reconciled } from '../../src/actions/action.js';
import { openTestStore } from '../support/stores.js';
import { waitFor } from '../support/wait.js';
import { insertAction, sampleIncident, seedIncident } from './fixtures.js';
import type { Store } from '../../src/store/store.js';

/** A target that records what it is asked; `execute` and `reconcile` behave as each test scripts them. */
function target(script: { execute: (n: number) => Promise<Record<string, unknown>>; reconcile?: (ctx: ActionContext) => Reconciled }) {
  const calls = { execute: 0, reconcile: 0 };
  const t: ActionTarget = {
    name: 'fw',
    kind: 'webhook',
    async execute() {
      calls.execute++;
      return { detail: await script.execute(calls.execute) };
    },
    ...(script.reconcile
      ? {
          async reconcile(ctx: ActionContext) {
            calls.reconcile++;
            return script.reconcile!(ctx);
          },
        }
      : {}),
  };
  return { t, calls };
}

const executor = (store: Store, t: ActionTarget, now: () => number, owner = 'ex') =>
  createActionExecutor({ store, targets: new Map([[t.name, t]]), maxAttempts: 4, backoffBaseMs: 1000, backoffMaxMs: 1000, leaseMs: 30_000, owner, now, random: () => 0 });

const outcomes = async (store: Store, id: string) =>
  (await store.db.selectFrom('action_attempts').select('outcome').where('action_id', '=', id).orderBy('attempt').execute()).map((r) => r.outcome);

test('a call that timed out after the request went out is reconciled first: done means done, not done again', async () => {
  const ts = await openTestStore('sqlite');
  let now = 1_900_000_000_000;
  try {
    await seedIncident(ts.store.db, sampleIncident('INC-R1'));
    await insertAction(ts.store.db, { id: 'ACT-R1', incident_id: 'INC-R1', kind: 'webhook', target: 'fw', now });
    const { t, calls } = target({
      execute: async () => {
        throw new ActionError('no answer within 10s (the request was sent)', true, undefined, true);
      },
      reconcile: () => ({ done: true, detail: { rule: 'fido-42' } }),
    });
    const ex = executor(ts.store, t, () => now);
    assert.equal((await ex.runOnce()).retried, 1);
    now += 5_000;
    assert.equal((await ex.runOnce()).succeeded, 1);
    assert.deepEqual(calls, { execute: 1, reconcile: 1 }, 'found done: not executed again');
    const row = await ts.store.db.selectFrom('actions').select(['state', 'result']).where('id', '=', 'ACT-R1').executeTakeFirstOrThrow();
    assert.equal(row.state, 'succeeded');
    assert.deepEqual(JSON.parse(row.result!), { rule: 'fido-42', reconciled: true });
    assert.deepEqual(await outcomes(ts.store, 'ACT-R1'), ['unknown', 'succeeded']);
  } finally {
    await ts.cleanup();
  }
});

test('an executor killed mid-call: the next one reconciles before calling again; an ordinary failure is just retried', async () => {
  const ts = await openTestStore('sqlite');
  let now = 1_900_000_000_000;
  try {
    await seedIncident(ts.store.db, sampleIncident('INC-R2'));
    await insertAction(ts.store.db, { id: 'ACT-R2', incident_id: 'INC-R2', kind: 'webhook', target: 'fw', now });
    // The first executor's call never returns (its process is gone): its lease runs out.
    const hung = target({ execute: () => new Promise<never>(() => undefined) });
    void executor(ts.store, hung.t, () => now, 'dead-executor').runOnce();
    await waitFor('the first executor to call the target', () => hung.calls.execute === 1, 30_000);
    now += 31_000;
    const next = target({ execute: async (n) => ({ n }), reconcile: () => ({ done: false }) });
    assert.equal((await executor(ts.store, next.t, () => now).runOnce()).succeeded, 1);
    assert.deepEqual(next.calls, { execute: 1, reconcile: 1 }, 'asked first, found not done, then done once');
    assert.deepEqual(await outcomes(ts.store, 'ACT-R2'), ['abandoned', 'succeeded']);

    // A failure that says nothing of an unknown outcome (a refused connection) is retried without asking.
    await seedIncident(ts.store.db, sampleIncident('INC-R3'));
    await insertAction(ts.store.db, { id: 'ACT-R3', incident_id: 'INC-R3', kind: 'webhook', target: 'fw', now });
    const flaky = target({
      execute: async (n) => {
        if (n === 1) throw new ActionError('connection refused', true);
        return { ok: true };
      },
      reconcile: () => ({ done: true, detail: {} }),
    });
    const ex = executor(ts.store, flaky.t, () => now);
    await ex.runOnce();
    now += 5_000;
    await ex.runOnce();
    assert.deepEqual(flaky.calls, { execute: 2, reconcile: 0 });
  } finally {
    await ts.cleanup();
  }
});
