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
      // (pipeline_cursors: a table keyed by one text column; these names are no cursor of Fido's.)
      const cols = ['name', 'seq', 'owner', 'updated_at'] as const;
      const upsert = `on conflict ("name") do update set "owner" = excluded."owner", "updated_at" = excluded."updated_at"`;
      const row = (name: string, owner: string, at: number) => ({ name, seq: 0, owner, updated_at: at });
      await insertRows(db, 'pipeline_cursors', cols, [row('host:a', 'i1', T0), row(hostile, 'i1', T0)]);
      const back = await db.transaction().execute((tx) =>
        insertRows(tx, 'pipeline_cursors', cols, [row('host:a', 'i2', T0 + 1), row('host:b', 'i2', T0 + 1)], { onConflict: upsert, returning: ['name', 'owner'] }),
      );
      assert.deepEqual(back.map((r) => [r.name, r.owner]).sort(), [['host:a', 'i2'], ['host:b', 'i2']]);
      const ours = ['host:a', 'host:b', 'host:c', hostile];
      const stored = await db.selectFrom('pipeline_cursors').select(['name', 'owner', 'updated_at']).where('name', 'in', ours).orderBy('name').execute();
      assert.deepEqual(stored.map((r) => [r.name, r.owner, Number(r.updated_at)]), [
        ['host:a', 'i2', T0 + 1],
        ['host:b', 'i2', T0 + 1],
        [hostile, 'i1', T0],
      ]);

      // DO NOTHING returns only what it inserted (normalize tells re-delivered alerts apart this way).
      const fresh = await insertRows(db, 'pipeline_cursors', cols, [row('host:a', 'i3', T0), row('host:c', 'i3', T0)], {
        onConflict: 'on conflict ("name") do nothing',
        returning: ['name'],
      });
      assert.deepEqual(fresh.map((r) => r.name), ['host:c']);
      // Nothing to insert: no statement, no rows.
      assert.deepEqual(await insertRows(db, 'pipeline_cursors', cols, [], { returning: ['name'] }), []);
      assert.equal(Number((await db.selectFrom('timeline').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n), 1200);
    } finally {
      await t.cleanup();
    }
  });
}
