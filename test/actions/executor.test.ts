import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { backoffDelay, createActionExecutor, executorSettings, type ActionExecutorOptions } from '../../src/actions/executor.js';
import { ActionStateError, approvalTimeout, approveAction, denyAction } from '../../src/actions/approvals.js';
import { listActions } from '../../src/actions/list.js';
import { ActionError, type ActionContext, type ActionOutcome, type ActionTarget } from '../../src/actions/action.js';
import webhook from '../../src/actions/kinds/webhook.js';
import { actionsTotal } from '../../src/metrics.js';
import { openStore } from '../../src/store/store.js';
import { DIALECTS, openTestStore, type TestStore } from '../support/stores.js';
import { actionRow, insertAction, sampleIncident, seedIncident, startHttp, type NewAction } from './fixtures.js';
import { waitFor } from '../support/wait.js';

/** A target driven by a script: each call gets the next behaviour (the last one repeats). */
class ScriptedTarget implements ActionTarget {
  readonly calls: ActionContext[] = [];
  constructor(
    readonly name: string,
    readonly kind: string,
    private readonly script: Array<(ctx: ActionContext) => Promise<ActionOutcome>>,
  ) {}
  execute(ctx: ActionContext): Promise<ActionOutcome> {
    this.calls.push(ctx);
    const step = this.script[Math.min(this.calls.length, this.script.length) - 1]!;
    return step(ctx);
  }
}

const ok = (detail: Record<string, unknown> = { ok: true }) => async () => ({ detail });
const fail = (msg: string, retryable = true, retryAfterMs?: number) => async (): Promise<ActionOutcome> => {
  throw new ActionError(msg, retryable, retryAfterMs);
};

async function metric(kind: string, outcome: string): Promise<number> {
  const v = (await actionsTotal.get()).values.find((x) => x.labels.kind === kind && x.labels.outcome === outcome);
  return v?.value ?? 0;
}

describe('pure helpers', () => {
  test('backoff: exponential ceiling, full jitter, capped, Retry-After as a floor', () => {
    const s = { backoffBaseMs: 1000, backoffMaxMs: 60_000 };
    assert.equal(backoffDelay(1, s, () => 0.999999), 999);
    assert.equal(backoffDelay(3, s, () => 0.5), 2000);
    assert.equal(backoffDelay(20, s, () => 0.5), 30_000, 'ceiling capped at backoff_max');
    assert.equal(backoffDelay(1, s, () => 0), 0, 'full jitter reaches zero');
    assert.equal(backoffDelay(1, s, () => 0.5, 45_000), 45_000, 'Retry-After honoured');
    assert.equal(backoffDelay(1, s, () => 0.5, 100 * 3_600_000), 6 * 3_600_000, 'an absurd Retry-After is bounded');
  });

  test('settings from config, with defaults', () => {
    assert.deepEqual(executorSettings({ max_attempts: 3, backoff_base: '2s', backoff_max: '5m' }), { maxAttempts: 3, backoffBaseMs: 2000, backoffMaxMs: 300_000 });
    assert.equal(executorSettings(undefined).maxAttempts, 6);
  });

  test('an approval timeout is a deadline and a default', () => {
    assert.deepEqual(approvalTimeout(60_000, 'approve', 1_000), { approval_due_at: 61_000, approval_default: 'approve' });
  });
});

for (const dialect of DIALECTS) {
  describe(`executor on ${dialect}`, () => {
    let t: TestStore;
    let clock = 1_900_000_000_000;
    let n = 0;

    before(async () => {
      t = await openTestStore(dialect);
    });
    after(async () => {
      await t.cleanup();
    });

    function executor(target: ActionTarget, extra: Partial<ActionExecutorOptions> = {}) {
      return createActionExecutor({
        store: t.store,
        targets: new Map([[target.name, target]]),
        maxAttempts: 3,
        backoffBaseMs: 1_000,
        backoffMaxMs: 60_000,
        leaseMs: 30_000,
        owner: `ex-${dialect}`,
        now: () => clock,
        random: () => 1 - Number.EPSILON,
        ...extra,
      });
    }

    /** A fresh incident with one queued action for `target`; returns the action id. */
    async function queue(target: ActionTarget, extra: Omit<NewAction, 'id' | 'incident_id' | 'kind' | 'target' | 'now'> = {}) {
      const incident = sampleIncident(`INC-${dialect}-${++n}`);
      await seedIncident(t.store.db, incident);
      const id = `ACT-${dialect}-${n}`;
      await insertAction(t.store.db, { id, incident_id: incident.id, kind: target.kind, target: target.name, now: clock, ...extra });
      return id;
    }

    const attempts = (id: string) =>
      t.store.db.selectFrom('action_attempts').select(['attempt', 'outcome', 'error', 'finished_at']).where('action_id', '=', id).orderBy('id').execute();
    const audit = (id: string) => t.store.db.selectFrom('audit_log').select(['actor', 'action']).where('subject', '=', `action:${id}`).orderBy('id').execute();
    const timeline = (id: string) => t.store.db.selectFrom('timeline').select(['kind', 'summary']).where('action_id', '=', id).orderBy('id').execute();

    test('retries with backoff, then succeeds: attempts, timeline, audit, result, metrics', async () => {
      const kind = `k-retry-${dialect}`;
      const target = new ScriptedTarget('t1', kind, [fail('connection reset'), fail('503 busy'), ok({ ticket: 'SN-1' })]);
      const ex = executor(target);
      const id = await queue(target);

      assert.equal((await ex.runOnce()).retried, 1);
      let row = await actionRow(t.store.db, id);
      assert.equal(row.state, 'pending');
      assert.equal(row.attempts, 1);
      assert.equal(row.last_error, 'connection reset');
      assert.equal(row.lease_owner, null);
      assert.ok(row.next_attempt_at > clock && row.next_attempt_at <= clock + 1_000);

      clock += 1_000;
      await ex.runOnce();
      row = await actionRow(t.store.db, id);
      assert.ok(row.next_attempt_at > clock + 1_000 && row.next_attempt_at <= clock + 2_000, 'second backoff doubles');
      clock += 2_000;
      assert.equal((await ex.runOnce()).succeeded, 1);

      row = await actionRow(t.store.db, id);
      assert.equal(row.state, 'succeeded');
      assert.equal(row.attempts, 3);
      assert.equal(row.last_error, null);
      assert.deepEqual(JSON.parse(row.result!), { ticket: 'SN-1' });
      assert.deepEqual(new Set(target.calls.map((c) => c.idempotencyKey)).size, 1, 'one key for every attempt');
      assert.equal(target.calls[0]!.incident.id, row.incident_id);
      assert.equal(target.calls[0]!.incident.alerts.length, 2);
      assert.deepEqual(
        (await attempts(id)).map((a) => [a.attempt, a.outcome]),
        [[1, 'retry'], [2, 'retry'], [3, 'succeeded']],
      );
      assert.deepEqual((await audit(id)).map((a) => a.action), ['action.retry', 'action.retry', 'action.succeeded']);
      const tl = await timeline(id);
      assert.equal(tl.length, 3);
      assert.ok(tl.every((e) => e.kind === 'action'));
      assert.match(tl[2]!.summary, /succeeded \(attempt 3\)/);
      assert.equal(await metric(kind, 'retry'), 2);
      assert.equal(await metric(kind, 'succeeded'), 1);
    });

    test('dead after max attempts, with the last error', async () => {
      const target = new ScriptedTarget('t2', 'k-dead', [fail('timeout talking to server')]);
      const ex = executor(target);
      const id = await queue(target);
      for (let i = 0; i < 3; i++) {
        await ex.runOnce();
        clock += 60_000;
      }
      await ex.runOnce();
      const row = await actionRow(t.store.db, id);
      assert.equal(row.state, 'dead');
      assert.equal(row.attempts, 3);
      assert.equal(row.last_error, 'gave up after 3 attempts: timeout talking to server');
      assert.equal(target.calls.length, 3);
      assert.deepEqual((await audit(id)).map((a) => a.action), ['action.retry', 'action.retry', 'action.dead']);
    });

    test('a non-retryable error is dead at once; so is an unknown target', async () => {
      const target = new ScriptedTarget('t3', 'k-perm', [fail('401 bad token', false)]);
      const ex = executor(target);
      const id = await queue(target);
      await ex.runOnce();
      assert.equal((await actionRow(t.store.db, id)).state, 'dead');
      assert.equal(target.calls.length, 1);

      const ghost = new ScriptedTarget('gone', 'k-perm', [ok()]);
      const orphan = await queue(ghost);
      await ex.runOnce();
      const row = await actionRow(t.store.db, orphan);
      assert.equal(row.state, 'dead');
      assert.match(row.last_error ?? '', /no configured k-perm target named "gone"/);
    });

    test('awaiting approval never runs until approved; approval is audited and only once', async () => {
      const target = new ScriptedTarget('t4', 'k-appr', [ok()]);
      const ex = executor(target);
      const id = await queue(target, { state: 'awaiting_approval' });
      clock += 3_600_000;
      await ex.runOnce();
      assert.equal(target.calls.length, 0);
      assert.equal((await actionRow(t.store.db, id)).state, 'awaiting_approval');

      const rec = await approveAction(t.store, id, 'alice', clock);
      assert.equal(rec.state, 'pending');
      assert.equal(rec.approved_by, 'alice');
      await ex.runOnce();
      assert.equal(target.calls.length, 1);
      assert.equal((await actionRow(t.store.db, id)).state, 'succeeded');
      assert.deepEqual(await audit(id), [
        { actor: 'alice', action: 'action.approved' },
        { actor: 'system', action: 'action.succeeded' },
      ]);

      await assert.rejects(approveAction(t.store, id, 'bob'), (e: unknown) => e instanceof ActionStateError && e.code === 'conflict' && /is succeeded/.test(e.message));
      await assert.rejects(denyAction(t.store, id, 'bob', 'late'), (e: unknown) => e instanceof ActionStateError && e.code === 'conflict');
      await assert.rejects(approveAction(t.store, 'no-such-action', 'bob'), (e: unknown) => e instanceof ActionStateError && e.code === 'not_found');
    });

    test('deny: never runs, reason kept, audited', async () => {
      const target = new ScriptedTarget('t5', `k-deny-${dialect}`, [ok()]);
      const ex = executor(target);
      const id = await queue(target, { state: 'awaiting_approval' });
      const rec = await denyAction(t.store, id, 'carol', 'false positive: pentest');
      assert.equal(rec.state, 'denied');
      assert.deepEqual([rec.denied_by, rec.denial_reason, rec.last_error], ['carol', 'false positive: pentest', null]);
      assert.deepEqual(Object.keys(rec.params), [], 'no bookkeeping in the params');
      await ex.runOnce();
      assert.equal(target.calls.length, 0);
      assert.deepEqual(await audit(id), [{ actor: 'carol', action: 'action.denied' }]);
      assert.match((await timeline(id))[0]!.summary, /denied by carol: false positive: pentest/);
      assert.equal(await metric(target.kind, 'denied'), 1);
      await assert.rejects(approveAction(t.store, id, 'dave'), /is denied; only an action awaiting approval can be approved/);
    });

    test('approval timeout: default deny, default approve, and not before the deadline', async () => {
      const target = new ScriptedTarget('t6', 'k-timeout', [ok()]);
      const ex = executor(target);
      const denied = await queue(target, { state: 'awaiting_approval', params: { reason: 'x' }, approval: approvalTimeout(600_000, 'deny', clock) });
      const approved = await queue(target, { state: 'awaiting_approval', approval: approvalTimeout(600_000, 'approve', clock) });

      clock += 599_999;
      assert.equal((await ex.runOnce()).timedOut, 0);
      assert.equal(target.calls.length, 0);

      clock += 1;
      const s = await ex.runOnce();
      assert.equal(s.timedOut, 2);
      assert.equal(s.succeeded, 1, 'default approve runs in the same round');
      const d = await actionRow(t.store.db, denied);
      assert.equal(d.state, 'denied');
      assert.match(d.denial_reason ?? '', /approval timed out/);
      assert.equal(d.denied_by, 'system:approval-timeout');
      const a = await actionRow(t.store.db, approved);
      assert.equal(a.state, 'succeeded');
      assert.equal(a.approved_by, 'system:approval-timeout');
      assert.equal(target.calls.length, 1);
      assert.equal(target.calls[0]!.action.id, approved);
      assert.deepEqual((await audit(denied)).map((r) => r.action), ['action.approval_timeout']);
      // Once settled, the timeout is no longer applied and a late approval is refused.
      await assert.rejects(approveAction(t.store, denied, 'erin'), ActionStateError);
    });

    test('a running row whose executor died is retried with the same key, and the dead one cannot overwrite', async () => {
      let release!: () => void;
      const hang = () => new Promise<ActionOutcome>((resolve) => (release = () => resolve({ detail: { from: 'zombie' } })));
      const target1 = new ScriptedTarget('t7', 'k-crash', [hang]);
      const target2 = new ScriptedTarget('t7', 'k-crash', [ok({ from: 'survivor' })]);
      const first = executor(target1, { owner: 'doomed' });
      const id = await queue(target1);

      const zombie = first.runOnce(); // the call never returns: as if the process were killed mid-call
      while (target1.calls.length === 0) await new Promise((r) => setTimeout(r, 5));
      let row = await actionRow(t.store.db, id);
      assert.equal(row.state, 'running', '"started" is committed before the call');
      assert.equal(row.lease_owner, 'doomed');
      assert.deepEqual((await attempts(id)).map((a) => [a.attempt, a.outcome]), [[1, null]]);

      const second = executor(target2, { owner: 'survivor' });
      assert.equal((await second.runOnce()).claimed, 0, 'the lease still holds');
      clock += 30_001;
      assert.equal((await second.runOnce()).succeeded, 1);
      assert.equal(target2.calls[0]!.idempotencyKey, target1.calls[0]!.idempotencyKey);

      release(); // the old call comes back late: its outcome is fenced off by the lease
      await zombie;
      row = await actionRow(t.store.db, id);
      assert.equal(row.state, 'succeeded');
      assert.deepEqual(JSON.parse(row.result!), { from: 'survivor' });
      assert.equal(row.attempts, 2);
      const att = await attempts(id);
      assert.deepEqual(att.map((a) => [a.attempt, a.outcome]), [[1, 'abandoned'], [2, 'succeeded']]);
    });

    test('a checkpoint is committed before the call and given to the attempts after a crash (resumed), reconcile included', async () => {
      let release!: () => void;
      let zombieCtx!: ActionContext;
      const target1 = new ScriptedTarget('t7c', 'k-checkpoint', [
        async (ctx) => {
          await ctx.checkpoint({ was: 'ACTIVE' });
          zombieCtx = ctx;
          // Killed after the change went out: never answers.
          return new Promise<ActionOutcome>((resolve) => (release = () => resolve({ detail: { from: 'zombie' } })));
        },
      ]);
      const first = executor(target1, { owner: 'doomed-cp' });
      const id = await queue(target1);
      assert.equal(target1.calls[0]?.resumed, undefined);
      const zombie = first.runOnce();
      while (target1.calls.length === 0 || !zombieCtx) await new Promise((r) => setTimeout(r, 5));
      assert.equal(target1.calls[0]!.resumed, false, 'a first attempt is not resumed');
      assert.equal(target1.calls[0]!.priorCheckpoint, undefined);
      const saved = await t.store.db.selectFrom('action_attempts').select(['attempt', 'checkpoint']).where('action_id', '=', id).execute();
      assert.deepEqual(saved.map((a) => [a.attempt, a.checkpoint === null ? null : JSON.parse(a.checkpoint)]), [[1, { was: 'ACTIVE' }]], 'committed before the call returned');

      // The next executor: reconcile and execute both see the checkpoint and know the last outcome is unknown.
      const seen: ActionContext[] = [];
      const target2: ActionTarget = {
        name: 't7c',
        kind: 'k-checkpoint',
        async reconcile(ctx) {
          seen.push(ctx);
          return { done: false };
        },
        async execute(ctx) {
          seen.push(ctx);
          // The attempt fails before it reaches the target: the next one is no longer "resumed" by it, but the
          // checkpoint (the state before Fido acted) still holds.
          throw new ActionError('connection refused', true);
        },
      };
      clock += 30_001;
      assert.equal((await executor(target2, { owner: 'survivor-cp' }).runOnce()).retried, 1);
      assert.deepEqual(seen.map((c) => [c.resumed, c.priorCheckpoint]), [[true, { was: 'ACTIVE' }], [true, { was: 'ACTIVE' }]]);

      // The zombie wakes up: it lost its lease, so its checkpoint is refused (it must not act) and its outcome fenced.
      await assert.rejects(zombieCtx.checkpoint({ was: 'SUSPENDED' }), (e: unknown) => e instanceof ActionError && e.retryable && /lease lost/.test(e.message));
      release();
      await zombie;

      const target3 = new ScriptedTarget('t7c', 'k-checkpoint', [async (ctx) => ({ detail: { was: ctx.priorCheckpoint?.was ?? 'read now' } })]);
      clock += 60_001;
      assert.equal((await executor(target3, { owner: 'third-cp' }).runOnce()).succeeded, 1);
      assert.equal(target3.calls[0]!.resumed, true, 'attempt 1 (abandoned) may still have taken effect');
      assert.deepEqual(JSON.parse((await actionRow(t.store.db, id)).result!), { was: 'ACTIVE' });
      assert.deepEqual((await attempts(id)).map((a) => [a.attempt, a.outcome]), [[1, 'abandoned'], [2, 'retry'], [3, 'succeeded']]);
    });

    test('a crash during the last allowed attempt ends dead without another call', async () => {
      const target = new ScriptedTarget('t8', 'k-crash-last', [ok()]);
      const id = await queue(target);
      await t.store.db.updateTable('actions').set({ state: 'running', attempts: 3, lease_owner: 'gone', lease_until: clock - 1 }).where('id', '=', id).execute();
      await executor(target).runOnce();
      const row = await actionRow(t.store.db, id);
      assert.equal(row.state, 'dead');
      assert.match(row.last_error ?? '', /3 attempts made/);
      assert.equal(target.calls.length, 0);
    });

    test('dry-run actions are skipped without calling the target', async () => {
      const target = new ScriptedTarget('t9', `k-dry-${dialect}`, [ok()]);
      const ex = executor(target);
      const id = await queue(target, { dry_run: true });
      assert.equal((await ex.runOnce()).skipped, 1);
      const row = await actionRow(t.store.db, id);
      assert.equal(row.state, 'skipped');
      assert.equal(row.attempts, 0);
      assert.equal(target.calls.length, 0);
      assert.match((await timeline(id))[0]!.summary, /skipped \(dry run\)/);
      assert.equal(await metric(target.kind, 'skipped'), 1);
    });

    test('listActions pages newest first and filters by state', async () => {
      const all: string[] = [];
      let cursor: string | undefined;
      do {
        const page = await listActions(t.store.db, { limit: 4, cursor });
        all.push(...page.items.map((i) => i.id));
        cursor = page.next_cursor ?? undefined;
      } while (cursor);
      const total = await t.store.db.selectFrom('actions').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
      assert.equal(all.length, Number(total.n));
      assert.equal(new Set(all).size, all.length, 'no repeats across pages');
      const dead = await listActions(t.store.db, { state: 'dead', limit: 100 });
      assert.ok(dead.items.length >= 3 && dead.items.every((i) => i.state === 'dead' && i.next_attempt_at === null));
      const done = await listActions(t.store.db, { state: 'succeeded', limit: 100 });
      assert.ok(done.items.some((i) => i.result !== null));
      await assert.rejects(listActions(t.store.db, { state: 'bogus', limit: 10 }), /state: expected one of/);
      await assert.rejects(listActions(t.store.db, { limit: 10, cursor: 'garbage' }), /cursor/);
    });

    test('start() polls and stop() ends the loop cleanly', async () => {
      const target = new ScriptedTarget('t10', 'k-loop', [ok()]);
      const ex = createActionExecutor({
        store: t.store,
        targets: new Map([[target.name, target]]),
        maxAttempts: 3,
        backoffBaseMs: 10,
        backoffMaxMs: 100,
        leaseMs: 5_000,
        owner: 'looper',
        pollIntervalMs: 20,
      });
      ex.start();
      ex.start(); // idempotent
      await new Promise((r) => setTimeout(r, 50));
      const id = await queue(target); // arrives while the loop sleeps
      await t.store.db.updateTable('actions').set({ next_attempt_at: Date.now() }).where('id', '=', id).execute();
      const deadline = Date.now() + 5_000;
      while ((await actionRow(t.store.db, id)).state !== 'succeeded' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      await ex.stop(); // returns: it wakes the sleeping loop (a hang would end the test at its timeout)
      assert.equal((await actionRow(t.store.db, id)).state, 'succeeded');
      const later = await queue(target);
      await new Promise((r) => setTimeout(r, 60));
      assert.equal((await actionRow(t.store.db, later)).state, 'pending', 'nothing runs after stop');
    });

    test('start() wakes on a commit by another connection and at the next due time, not on its poll', async () => {
      const target = new ScriptedTarget('t11', 'k-wake', [fail('busy'), ok(), ok()]);
      // The real clock; a poll far beyond the waits below: only a wake-up can make this test pass.
      const ex = executor(target, { now: Date.now, backoffBaseMs: 200, backoffMaxMs: 200, leaseMs: 5_000, owner: 'waker', pollIntervalMs: 3_600_000 });
      const other = await openStore({ databaseUrl: t.url, dataDir: t.dataDir, sqliteSynchronous: 'NORMAL' });
      ex.start();
      try {
        // Queued by another process (the decide stage's connection): its commit wakes the sleeping loop.
        const incident = sampleIncident(`INC-${dialect}-wake`);
        await seedIncident(other.db, incident);
        await insertAction(other.db, { id: `ACT-${dialect}-wake`, incident_id: incident.id, kind: target.kind, target: target.name, now: Date.now() });
        // The first call fails and is retried 200 ms later: the loop sleeps until then, not for its poll.
        await waitFor('the retried action to succeed', async () => ((await actionRow(t.store.db, `ACT-${dialect}-wake`)).state === 'succeeded' ? true : undefined), 30_000);
        assert.equal(target.calls.length, 2);
      } finally {
        await ex.stop();
        await other.close();
      }
    });
  });
}

describe('two executors on PostgreSQL', () => {
  test('never run the same action twice (deliveries counted at the receiver)', async () => {
    const t = await openTestStore('postgres');
    const other = await openStore({ databaseUrl: t.url, dataDir: t.dataDir }); // a second process's pool
    const srv = await startHttp(() => ({ status: 200 }));
    const targets = [await webhook.create({ name: 'hook', kind: 'webhook', url: srv.url, secret: 's', allow_private: true }, { configDir: '.', publicUrl: '' })];
    targets.push(await webhook.create({ name: 'hook', kind: 'webhook', url: srv.url, secret: 's', allow_private: true }, { configDir: '.', publicUrl: '' }));
    try {
      const incident = sampleIncident('INC-PAR');
      await seedIncident(t.store.db, incident);
      const N = 60;
      for (let i = 0; i < N; i++) await insertAction(t.store.db, { id: `P${String(i).padStart(3, '0')}`, incident_id: incident.id, kind: 'webhook', target: 'hook', now: Date.now() });
      const [a, b] = [t.store, other].map((store, i) =>
        createActionExecutor({ store, targets: new Map([['hook', targets[i]!]]), maxAttempts: 3, backoffBaseMs: 10, backoffMaxMs: 100, leaseMs: 30_000, owner: `w${i}` }),
      );
      const drain = async (ex: typeof a) => {
        let ran = 0;
        for (;;) {
          const s = await ex!.runOnce(4);
          ran += s.claimed;
          if (s.claimed === 0) return ran;
        }
      };
      const [ranA, ranB] = await Promise.all([drain(a), drain(b)]);
      assert.equal(ranA + ranB, N);
      assert.ok(ranA > 0 && ranB > 0, `both executors took work (${ranA} / ${ranB})`);
      const keys = srv.received.map((r) => String(r.headers['idempotency-key']));
      assert.equal(keys.length, N, 'one delivery per action');
      assert.equal(new Set(keys).size, N, 'no action delivered twice');
      const states = await t.store.db.selectFrom('actions').select('state').distinct().execute();
      assert.deepEqual(states.map((s) => s.state), ['succeeded']);
    } finally {
      await Promise.all(targets.map((x) => x.close?.()));
      await srv.close();
      await other.close();
      await t.cleanup();
    }
  });
});
