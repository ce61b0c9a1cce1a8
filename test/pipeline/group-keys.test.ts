/**
 * The grouping keys' memory and log (src/pipeline/ingest/group-keys.ts), on real stores: what committed
 * batches changed is kept and read back by the next worker (newest row of each key winning), the least
 * recently touched are forgotten first (by time and by bound), the log's old batches are deleted, and a load
 * of a long log stops once what it reads is older than what is kept. (Ingest across workers, and a key
 * forgotten, are tested in ingest.test.ts.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DIALECTS, openTestStore } from '../support/stores.js';
import { GroupKeys, type GroupKeyEntry } from '../../src/pipeline/ingest/group-keys.js';
import type { Db } from '../../src/store/store.js';

const HOUR = 3_600_000;
const T0 = Date.parse('2026-12-06T10:00:00Z');
const entry = (incident: string, at: number): GroupKeyEntry => ({ incidentId: incident, lastSeen: at - 5, touchedAt: at });

/** Writes and applies one batch at `pos`, as ingest does around its commit; `now`: the wall clock. */
async function commit(db: Db, keys: GroupKeys, pos: number, changes: Array<[string, GroupKeyEntry]>, now: number): Promise<void> {
  const batch = new Map(changes);
  await db.transaction().execute((tx) => keys.write(tx, pos, batch, now));
  keys.apply(pos, batch);
}

const positions = async (db: Db) => (await db.selectFrom('incident_key_log').select('pos').distinct().orderBy('pos').execute()).map((r) => Number(r.pos));

for (const dialect of DIALECTS) {
  test(`group keys on ${dialect}: kept, logged, read back by the next worker, forgotten and pruned`, async () => {
    const t = await openTestStore(dialect);
    const db = t.store.db;
    try {
      const limits = { keepMs: 3 * HOUR, max: 4 };
      const keys = new GroupKeys(limits);
      await commit(db, keys, 10, [['host:a|rule:1', entry('i1', T0)], ['host:b|ip:203.0.113.9', entry('i2', T0 + 1)]], T0);
      // The same key again in a later batch: the newest row wins, in memory and when read back.
      await commit(db, keys, 20, [['host:a|rule:1', entry('i3', T0 + 2)], ["host:c|domain:x'); drop table alerts; --", entry('i3', T0 + 2)]], T0 + 1000);
      assert.deepEqual(keys.get('host:a|rule:1'), entry('i3', T0 + 2));
      assert.equal(keys.get('host:z|rule:1'), undefined);

      const next = await GroupKeys.load(db, T0 + 2, limits);
      assert.equal(next.size, 3);
      for (const k of ['host:a|rule:1', 'host:b|ip:203.0.113.9', "host:c|domain:x'); drop table alerts; --"]) assert.deepEqual(next.get(k), keys.get(k), k);

      // Past the bound of 4, the least recently touched goes (host:b, touched at T0 + 1), in memory only.
      await commit(db, next, 30, [['host:d|rule:2', entry('i4', T0 + 3)], ['host:e|rule:2', entry('i4', T0 + 4)]], T0 + 2000);
      assert.equal(next.size, 4);
      assert.equal(next.get('host:b|ip:203.0.113.9'), undefined);
      assert.deepEqual(next.get('host:a|rule:1'), entry('i3', T0 + 2));
      // A worker reading the log back keeps the same four: it too stops at the bound, newest first.
      const third = await GroupKeys.load(db, T0 + 4, limits);
      assert.equal(third.size, 4);
      assert.equal(third.get('host:b|ip:203.0.113.9'), undefined);
      assert.deepEqual(third.get('host:e|rule:2'), entry('i4', T0 + 4));

      // Four hours on, a batch touches one key: the others are forgotten (kept 3 h), and — the prune being
      // due (a minute since the last) — the log's batches older than what is kept are deleted.
      assert.deepEqual(await positions(db), [10, 20, 30]);
      await commit(db, third, 40, [['host:f|rule:3', entry('i5', T0 + 4 * HOUR)]], T0 + 4 * HOUR);
      assert.equal(third.size, 1);
      assert.deepEqual(await positions(db), [40], 'batches 10, 20 and 30 are older than 3 hours before the newest touch');
      const fourth = await GroupKeys.load(db, T0 + 4 * HOUR, limits);
      assert.equal(fourth.size, 1);
      assert.deepEqual(fourth.get('host:f|rule:3'), entry('i5', T0 + 4 * HOUR));
    } finally {
      await t.cleanup();
    }
  });
}

test('group keys: a load reads a long log back a page at a time, and leaves its old part to the first prune', async () => {
  const t = await openTestStore('sqlite');
  const db = t.store.db;
  try {
    const limits = { keepMs: 3 * HOUR, max: 1_000_000 };
    // 25,000 keys written by an earlier worker: 20,000 of them 5 hours ago, 5,000 lately, in batches of 1,000.
    const writer = new GroupKeys(limits);
    for (let b = 0; b < 25; b++) {
      const at = b < 20 ? T0 + b * 1000 : T0 + 5 * HOUR + b * 1000;
      const batch = Array.from({ length: 1000 }, (_, i): [string, GroupKeyEntry] => [`host:h${b}-${i}|rule:1`, entry(`i${b}`, at)]);
      await commit(db, writer, b + 1, batch, b === 0 ? T0 : T0 + 1);
    }
    assert.deepEqual((await positions(db)).length, 25, 'no prune yet: the writer pruned only at its first batch');
    const reader = await GroupKeys.load(db, T0 + 5 * HOUR + 25_000, limits);
    assert.equal(reader.size, 5000, 'the recent keys, none of the old');
    assert.deepEqual(reader.get('host:h24-999|rule:1'), entry('i24', T0 + 5 * HOUR + 24_000));
    assert.equal(reader.get('host:h19-0|rule:1'), undefined);
    // Its first write prunes every batch older than 3 hours before its newest touch, the unread ones too.
    await commit(db, reader, 26, [['host:new|rule:1', entry('i26', T0 + 5 * HOUR + 26_000)]], T0 + 5 * HOUR + 26_000);
    assert.deepEqual(await positions(db), [21, 22, 23, 24, 25, 26]);
  } finally {
    await t.cleanup();
  }
});
