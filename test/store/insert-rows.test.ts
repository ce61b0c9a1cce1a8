/**
 * insertRows (store/insert-rows.ts) on both dialects: more rows than one statement takes, missing values as
 * null, values full of SQL kept as data, conflict clauses and RETURNING, and the same statement text reused
 * inside and outside a transaction.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DIALECTS, openTestStore } from '../support/stores.js';
import { insertRows } from '../../src/store/insert-rows.js';

const T0 = 1_795_000_000_000;

for (const dialect of DIALECTS) {
  test(`insertRows on ${dialect}: chunks, nulls, hostile values, conflicts and RETURNING`, async () => {
    const t = await openTestStore(dialect);
    try {
      const { db } = t.store;
      const hostile = `x'); drop table timeline; --`;
      // 1,200 rows of 6 columns: three statements (500 rows each at most); alert_id and action_id left out.
      const entries = Array.from({ length: 1200 }, (_, i) => ({ incident_id: `inc-${i % 7}`, at: T0 + i, kind: 'alert', summary: i === 5 ? hostile : `s${i}` }));
      await insertRows(db, 'timeline', ['incident_id', 'at', 'kind', 'summary', 'alert_id', 'action_id'], entries);
      const rows = await db.selectFrom('timeline').select(['incident_id', 'at', 'summary', 'alert_id', 'action_id']).orderBy('at').execute();
      assert.equal(rows.length, 1200);
      assert.deepEqual(
        rows.map((r) => [r.incident_id, Number(r.at), r.summary, r.alert_id, r.action_id]),
        entries.map((e) => [e.incident_id, e.at, e.summary, null, null]),
      );

      // Upserts: the conflict clause decides; RETURNING gives the rows written, inside a transaction too.
      const keys = ['key', 'incident_id', 'last_seen'] as const;
      const upsert = `on conflict ("key") do update set "incident_id" = excluded."incident_id", "last_seen" = excluded."last_seen"`;
      await insertRows(db, 'incident_keys', keys, [{ key: 'host:a', incident_id: 'i1', last_seen: T0 }, { key: hostile, incident_id: 'i1', last_seen: T0 }]);
      const back = await db.transaction().execute((tx) =>
        insertRows(tx, 'incident_keys', keys, [{ key: 'host:a', incident_id: 'i2', last_seen: T0 + 1 }, { key: 'host:b', incident_id: 'i2', last_seen: T0 + 1 }], {
          onConflict: upsert,
          returning: ['key', 'incident_id'],
        }),
      );
      assert.deepEqual(back.map((r) => [r.key, r.incident_id]).sort(), [['host:a', 'i2'], ['host:b', 'i2']]);
      const stored = await db.selectFrom('incident_keys').select(['key', 'incident_id', 'last_seen']).orderBy('key').execute();
      assert.deepEqual(stored.map((r) => [r.key, r.incident_id, Number(r.last_seen)]), [
        ['host:a', 'i2', T0 + 1],
        ['host:b', 'i2', T0 + 1],
        [hostile, 'i1', T0],
      ]);

      // DO NOTHING returns only what it inserted (normalize tells re-delivered alerts apart this way).
      const fresh = await insertRows(db, 'incident_keys', keys, [{ key: 'host:a', incident_id: 'i3', last_seen: T0 }, { key: 'host:c', incident_id: 'i3', last_seen: T0 }], {
        onConflict: 'on conflict ("key") do nothing',
        returning: ['key'],
      });
      assert.deepEqual(fresh.map((r) => r.key), ['host:c']);
      // Nothing to insert: no statement, no rows.
      assert.deepEqual(await insertRows(db, 'incident_keys', keys, [], { returning: ['key'] }), []);
      assert.equal(Number((await db.selectFrom('timeline').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n), 1200);
    } finally {
      await t.cleanup();
    }
  });
}
