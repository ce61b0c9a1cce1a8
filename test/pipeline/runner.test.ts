/**
 * The stage runner's lanes (runner.ts): a stage that awaits outside services starts a new lane, so the
 * steps before it keep going while it waits; within a lane an item goes through every stage in one pass.
 * Real queue, real SQLite store; the stages are small ones that hand item ids on.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DIALECTS, openTestStore } from '../support/stores.js';
import { createPipeline } from '../../src/pipeline/runner.js';
import type { Ingest } from '../../src/pipeline/ingest/index.js';
import type { Stage } from '../../src/pipeline/stage.js';
import { enqueue, type StageName } from '../../src/store/queue.js';
import { log } from '../../src/util/log.js';
import { waitFor } from '../support/wait.js';

type Seen = Array<[StageName, string[]]>;

function handOn(name: StageName, next: StageName | null, seen: Seen, opts: { awaitsServices?: boolean; gate?: () => Promise<void> } = {}): Stage<string[]> {
  return {
    name,
    next: next ? [next] : [],
    batchSize: 10,
    ...(opts.awaitsServices ? { awaitsServices: true } : {}),
    async compute(items) {
      const ids = items.map((i) => i.item_id);
      seen.push([name, ids]);
      await opts.gate?.();
      return ids;
    },
    async write(tx, _items, ids) {
      if (next) await enqueue(tx, next, ids);
    },
  };
}


test('runner lanes: the stages before a waiting lookup keep going; an item crosses a lane in one pass', async () => {
  const t = await openTestStore('sqlite');
  const seen: Seen = [];
  let release!: () => void;
  const lookups = new Promise<void>((r) => (release = r));
  const stages = [
    handOn('enrich', 'score', seen),
    handOn('score', 'decide', seen, { awaitsServices: true, gate: () => lookups }),
    handOn('decide', null, seen),
  ] as Stage<unknown>[];
  const pipeline = createPipeline({ store: t.store, stages, owner: 'test', log, idleMs: 60_000 });
  const got = (name: StageName, id: string) => seen.some(([n, ids]) => n === name && ids.includes(id));
  try {
    pipeline.start();
    await t.store.db.transaction().execute((tx) => enqueue(tx, 'enrich', ['a1']));
    pipeline.wake('enrich');
    await waitFor('a1 at the lookup', () => got('score', 'a1'));
    // The lookup waits; what arrives meanwhile still goes through the first lane.
    const before = seen.length;
    await t.store.db.transaction().execute((tx) => enqueue(tx, 'enrich', ['a2']));
    pipeline.wake('enrich');
    await waitFor('a2 enriched', () => got('enrich', 'a2'));
    assert.deepEqual(seen.slice(before), [['enrich', ['a2']]]);
    assert.equal(got('decide', 'a1'), false);
    release();
    await waitFor('both decided', () => got('decide', 'a1') && got('decide', 'a2'));
    // a1 went through score and then decide in the same pass of the second lane.
    const lane2 = seen.filter(([n]) => n === 'score' || n === 'decide');
    const i = lane2.findIndex(([n, ids]) => n === 'score' && ids.includes('a1'));
    assert.deepEqual(lane2[i + 1], ['decide', ['a1']]);
    await waitFor('queue empty', async () => (await t.store.db.selectFrom('stage_queue').select('id').execute()).length === 0);
  } finally {
    release();
    await pipeline.stop();
    await t.cleanup();
  }
});

for (const dialect of DIALECTS) {
  test(`store-only stages on ${dialect}: ${dialect === 'sqlite' ? 'claimed, computed and written in one transaction' : 'claimed with a lease'}; a poisonous item is set aside, counted, the rest go on`, async () => {
    const t = await openTestStore(dialect);
    const whole = dialect === 'sqlite';
    const leases: Array<string | null> = [];
    const stage: Stage<string[]> = {
      name: 'score',
      next: ['decide'],
      batchSize: 10,
      storeOnly: true,
      async compute(items, db) {
        assert.equal(db.isTransaction, whole, 'compute reads through the write transaction only when the batch runs in one');
        const rows = await db.selectFrom('stage_queue').select('lease_owner').where('id', 'in', items.map((i) => i.id)).execute();
        leases.push(...rows.map((r) => r.lease_owner));
        if (items.some((i) => i.item_id === 'poison')) throw new Error('poison!');
        return items.map((i) => i.item_id);
      },
      async write(tx, _items, ids) {
        await enqueue(tx, 'decide', ids);
      },
    };
    const pipeline = createPipeline({ store: t.store, stages: [stage] as Stage<unknown>[], owner: 'w1', log });
    const queued = (s: StageName) =>
      t.store.db.selectFrom('stage_queue').select(['item_id', 'attempts', 'last_error', 'lease_owner', 'available_at']).where('stage', '=', s).orderBy('item_id').execute();
    try {
      await enqueue(t.store.db, 'score', ['a1', 'poison', 'a2']);
      assert.equal(await pipeline.runBatch(stage as Stage<unknown>), 2, 'the batch failed; item by item, two went through');
      assert.deepEqual(new Set(leases), new Set([whole ? null : 'w1']), whole ? 'no lease is written' : 'claimed with a lease');
      assert.deepEqual((await queued('decide')).map((r) => r.item_id), ['a1', 'a2']);
      const [poison] = await queued('score');
      assert.deepEqual([poison!.item_id, Number(poison!.attempts), poison!.last_error, poison!.lease_owner], ['poison', 1, 'poison!', null], 'the batch and its item-by-item redo are one attempt');
      assert.ok(Number(poison!.available_at) > Date.now(), 'it backs off');
      // Due again, it fails again: the attempts go on counting (a rolled-back claim stored none itself).
      await t.store.db.updateTable('stage_queue').set({ available_at: 0 }).where('item_id', '=', 'poison').execute();
      assert.equal(await pipeline.runBatch(stage as Stage<unknown>), 0);
      assert.equal(Number((await queued('score'))[0]!.attempts), 2);
    } finally {
      await pipeline.stop();
      await t.cleanup();
    }
  });
}

/** An ingest with `pending` batches of work, each taking a few milliseconds; events records each batch. */
function busyIngest(events: string[], pending: { n: number }): Ingest {
  return {
    async runBatch() {
      if (pending.n === 0) return 0;
      await new Promise((r) => setTimeout(r, 10));
      pending.n--;
      events.push('ingest');
      return 1;
    },
    async stop() {},
  };
}

function recording(events: string[], awaitsServices: boolean): Stage<unknown> {
  return {
    name: 'enrich',
    next: [],
    batchSize: 10,
    awaitsServices,
    async compute(items) {
      for (const i of items) events.push(`enrich ${i.item_id}`);
      return null;
    },
    async write() {},
  };
}

for (const held of [true, false]) {
  test(`runner: ${held ? 'with stagesWhenIngestIdleFor the stages wait until ingest has had no work for a while' : 'without stagesWhenIngestIdleFor the stages go between ingest batches'}`, async () => {
    const t = await openTestStore('sqlite');
    const events: string[] = [];
    const pending = { n: 3 };
    await t.store.db.transaction().execute((tx) => enqueue(tx, 'enrich', ['a1']));
    const pipeline = createPipeline({
      store: t.store,
      ingest: busyIngest(events, pending),
      stages: [recording(events, false)],
      owner: 'test',
      log,
      idleMs: 60_000,
      ...(held ? { stagesWhenIngestIdleFor: 50 } : {}),
    });
    try {
      pipeline.start();
      await waitFor('a1 enriched', () => events.includes('enrich a1'));
      await waitFor('ingest done', () => pending.n === 0);
      assert.deepEqual(events, held ? ['ingest', 'ingest', 'ingest', 'enrich a1'] : ['ingest', 'enrich a1', 'ingest', 'ingest']);
    } finally {
      await pipeline.stop();
      await t.cleanup();
    }
  });
}

test('runner: stages in a lane of their own, held back while ingest worked, are woken when it has been idle long enough', async () => {
  const t = await openTestStore('sqlite');
  const events: string[] = [];
  const pending = { n: 2 };
  await t.store.db.transaction().execute((tx) => enqueue(tx, 'enrich', ['a2']));
  // The stage's lane sleeps for a minute unless woken, longer than `until` waits.
  const pipeline = createPipeline({ store: t.store, ingest: busyIngest(events, pending), stages: [recording(events, true)], owner: 'test', log, idleMs: 60_000, stagesWhenIngestIdleFor: 50 });
  try {
    pipeline.start();
    await waitFor('a2 enriched', () => events.includes('enrich a2'));
    assert.deepEqual(events, ['ingest', 'ingest', 'enrich a2']);
  } finally {
    await pipeline.stop();
    await t.cleanup();
  }
});
