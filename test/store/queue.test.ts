import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DIALECTS, openTestStore } from '../support/stores.js';
import { backlog, claim, complete, dueNow, enqueue, release } from '../../src/store/queue.js';
import { openStore } from '../../src/store/store.js';

for (const dialect of DIALECTS) {
  test(`stage queue on ${dialect}: claim, lease expiry, re-enqueue while claimed`, async () => {
    const t = await openTestStore(dialect);
    try {
      const { store } = t;
      await enqueue(store.db, 'score', ['a', 'b', 'c'], 1000);
      assert.deepEqual((await backlog(store.db)).score.items, 3);

      const first = await claim(store, 'score', 'w1', 2, 5000, 1000);
      assert.deepEqual(first.map((c) => c.item_id), ['a', 'b']);
      // A second worker sees only what is not leased.
      const second = await claim(store, 'score', 'w2', 10, 5000, 1001);
      assert.deepEqual(second.map((c) => c.item_id), ['c']);

      // 'a' is enqueued again while w1 holds it: completing w1's claim must keep it queued.
      await enqueue(store.db, 'score', ['a'], 1002);
      await store.db.transaction().execute((tx) => complete(tx, first));
      const left = await store.db.selectFrom('stage_queue').select(['item_id', 'lease_owner']).orderBy('item_id').execute();
      assert.deepEqual(left.map((r) => r.item_id), ['a', 'c']);
      assert.equal(left[0]!.lease_owner, null);

      // w2 crashes: its lease on 'c' expires and another worker gets it.
      const third = await claim(store, 'score', 'w3', 10, 5000, 7000);
      assert.deepEqual(third.map((c) => c.item_id).sort(), ['a', 'c']);
      assert.equal(third.find((c) => c.item_id === 'c')!.attempts, 2);

      await release(store.db, third, 'boom', 9000);
      assert.equal((await claim(store, 'score', 'w4', 10, 5000, 8000)).length, 0);
      assert.equal((await claim(store, 'score', 'w4', 10, 5000, 9000)).length, 2);
    } finally {
      await t.cleanup();
    }
  });
}

for (const dialect of DIALECTS) {
  test(`stage queue on ${dialect}: an item enqueued again keeps its place, so one that keeps changing is not starved`, async () => {
    const t = await openTestStore(dialect);
    try {
      const { store } = t;
      await enqueue(store.db, 'enrich', ['busy'], 1000);
      await enqueue(store.db, 'enrich', ['quiet'], 1001);
      for (let k = 0; k < 5; k++) await enqueue(store.db, 'enrich', ['busy'], 2000 + k);
      assert.deepEqual((await claim(store, 'enrich', 'w', 1, 5000, 3000)).map((c) => c.item_id), ['busy']);
      // A backing-off item is pulled forward by new work.
      const quiet = await claim(store, 'enrich', 'w', 1, 5000, 3000);
      assert.deepEqual(quiet.map((c) => c.item_id), ['quiet']);
      await release(store.db, quiet, 'boom', 60_000);
      await enqueue(store.db, 'enrich', ['quiet'], 4000);
      assert.deepEqual((await claim(store, 'enrich', 'w', 10, 5000, 4000)).map((c) => c.item_id), ['quiet']);
    } finally {
      await t.cleanup();
    }
  });

  test(`stage queue on ${dialect}: an item enqueued again while it is worked goes behind the items due before that`, async () => {
    const t = await openTestStore(dialect);
    try {
      const { store } = t;
      await enqueue(store.db, 'enrich', ['busy'], 1000);
      await enqueue(store.db, 'enrich', ['a', 'b'], 1500);
      const worked = await claim(store, 'enrich', 'w', 1, 5000, 2000);
      assert.deepEqual(worked.map((c) => c.item_id), ['busy']);
      // New alerts while it is worked: it is due after the latest of them, not at its old 1000.
      await enqueue(store.db, 'enrich', ['busy'], 2100);
      await enqueue(store.db, 'enrich', ['busy'], 2200);
      await store.db.transaction().execute((tx) => complete(tx, worked));
      const row = await store.db.selectFrom('stage_queue').select(['available_at', 'lease_owner']).where('item_id', '=', 'busy').executeTakeFirstOrThrow();
      assert.deepEqual([Number(row.available_at), row.lease_owner], [2200, null]);
      assert.deepEqual((await claim(store, 'enrich', 'w', 2, 5000, 3000)).map((c) => c.item_id), ['a', 'b'], 'the items due before it go first');
      assert.deepEqual((await claim(store, 'enrich', 'w', 2, 5000, 3000)).map((c) => c.item_id), ['busy']);
    } finally {
      await t.cleanup();
    }
  });

  test(`stage queue on ${dialect}: dueNow brings waiting and worked items forward, not ones backing off`, async () => {
    const t = await openTestStore(dialect);
    try {
      const { store } = t;
      await enqueue(store.db, 'enrich', ['later', 'failing', 'worked'], 1000);
      const failing = await claim(store, 'enrich', 'w', 3, 5000, 1000);
      await release(store.db, failing.filter((c) => c.item_id === 'failing'), 'boom', 60_000);
      await store.db.updateTable('stage_queue').set({ lease_owner: null, lease_until: null, attempts: 0 }).where('item_id', '=', 'later').execute();
      await store.db.updateTable('stage_queue').set({ available_at: 9000 }).where('item_id', 'in', ['later', 'worked']).execute();
      await store.db.transaction().execute((tx) => dueNow(tx, 'enrich', 2000));
      const due = new Map((await store.db.selectFrom('stage_queue').select(['item_id', 'available_at']).execute()).map((r) => [r.item_id, Number(r.available_at)]));
      assert.deepEqual(Object.fromEntries(due), { later: 2000, worked: 2000, failing: 60_000 });
    } finally {
      await t.cleanup();
    }
  });

  test(`store on ${dialect}: a commit by another connection wakes a watcher`, async () => {
    const t = await openTestStore(dialect);
    // A second store on the same database: another process or thread in production.
    const other = await openStore({ databaseUrl: t.url, dataDir: t.dataDir });
    let stop = () => {};
    try {
      let woken = 0;
      const wokenAgain = () =>
        new Promise<void>((resolve) => {
          const seen = woken;
          const check = setInterval(() => {
            if (woken > seen) {
              clearInterval(check);
              resolve();
            }
          }, 2);
        });
      stop = t.store.watchCommits(() => woken++);
      // PostgreSQL: the listener is connecting; its first callback (on connect) covers what came before.
      if (dialect === 'postgres') await wokenAgain();
      const next = wokenAgain();
      await enqueue(other.db, 'enrich', ['x'], 1000);
      await next; // the test runner's timeout fails this if the commit is never seen
      assert.equal((await backlog(t.store.db)).enrich.items, 1);
      // Stopping stops the callbacks: another commit changes nothing.
      stop();
      const after = woken;
      await enqueue(other.db, 'enrich', ['y'], 1001);
      await new Promise((r) => setTimeout(r, 100));
      assert.equal(woken, after);
    } finally {
      stop();
      await other.close();
      await t.cleanup();
    }
  });
}
