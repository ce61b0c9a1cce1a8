/**
 * The stage runner's lanes (runner.ts): a stage that awaits outside services starts a new lane, so the
 * stages before it keep going while it waits; within a lane an item goes through every stage in one pass.
 * Real queue, real SQLite store; the stages are small ones that hand item ids on.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openTestStore } from '../support/stores.js';
import { createPipeline } from '../../src/pipeline/runner.js';
import type { Stage } from '../../src/pipeline/stage.js';
import { enqueue, type StageName } from '../../src/store/queue.js';
import { log } from '../../src/util/log.js';

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

async function until(what: string, cond: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

test('runner lanes: the stages before a waiting lookup keep going; an item crosses a lane in one pass', async () => {
  const t = await openTestStore('sqlite');
  const seen: Seen = [];
  let release!: () => void;
  const lookups = new Promise<void>((r) => (release = r));
  const stages = [
    handOn('normalize', 'correlate', seen),
    handOn('correlate', 'enrich', seen),
    handOn('enrich', 'score', seen, { awaitsServices: true, gate: () => lookups }),
    handOn('score', null, seen),
  ] as Stage<unknown>[];
  const pipeline = createPipeline({ store: t.store, stages, owner: 'test', log, idleMs: 60_000 });
  const got = (name: StageName, id: string) => seen.some(([n, ids]) => n === name && ids.includes(id));
  try {
    pipeline.start();
    await t.store.db.transaction().execute((tx) => enqueue(tx, 'normalize', ['a1']));
    pipeline.wake('normalize');
    await until('a1 at the lookup', () => got('enrich', 'a1'));
    // The lookup waits; what arrives meanwhile still goes through normalize and correlate, in one pass each.
    const before = seen.length;
    await t.store.db.transaction().execute((tx) => enqueue(tx, 'normalize', ['a2']));
    pipeline.wake('normalize');
    await until('a2 correlated', () => got('correlate', 'a2'));
    assert.deepEqual(seen.slice(before), [
      ['normalize', ['a2']],
      ['correlate', ['a2']],
    ]);
    assert.equal(got('score', 'a1'), false);
    release();
    await until('both scored', () => got('score', 'a1') && got('score', 'a2'));
    // a1 went through enrich and then score in the same pass of the second lane.
    const lane2 = seen.filter(([n]) => n === 'enrich' || n === 'score');
    const i = lane2.findIndex(([n, ids]) => n === 'enrich' && ids.includes('a1'));
    assert.deepEqual(lane2[i + 1], ['score', ['a1']]);
    await until('queue empty', async () => (await t.store.db.selectFrom('stage_queue').select('id').execute()).length === 0);
  } finally {
    release();
    await pipeline.stop();
    await t.cleanup();
  }
});
