/**
 * updateRows (store/update-rows.ts) on both dialects: more rows than one statement takes, several sets of
 * columns in one call, integers, reals and nulls (a column null on every row of a chunk, too), values full of
 * SQL kept as data, values set on every row, and columns a row does not carry left as they were.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DIALECTS, openTestStore } from '../support/stores.js';
import { insertRows } from '../../src/store/insert-rows.js';
import { updateRows } from '../../src/store/update-rows.js';

const T0 = 1_795_000_000_000;
const HOSTILE = `x'); update incidents set title = 'pwned'; --`;

for (const dialect of DIALECTS) {
  test(`updateRows on ${dialect}: chunks, column sets, numbers, nulls, hostile values and shared values`, async () => {
    const t = await openTestStore(dialect);
    try {
      const { db } = t.store;
      const ids = Array.from({ length: 900 }, (_, i) => `inc-${String(i).padStart(4, '0')}`);
      await insertRows(
        db,
        'incidents',
        ['id', 'title', 'status', 'first_seen', 'last_seen', 'alert_count', 'severity', 'host', 'user_name', 'score_total', 'created_at', 'updated_at', 'pending_since'],
        ids.map((id, i) => ({ id, title: `t${i}`, status: 'new', first_seen: T0, last_seen: T0, alert_count: 1, severity: 10, host: `h${i}`, user_name: 'u', score_total: 5, created_at: T0, updated_at: T0, pending_since: T0 })),
      );
      // Rows 0-599 carry title, alert_count, score_total (a fraction on odd rows, kept on both stores since
      // migration 0010; null on even ones) and host
      // (null on every row); rows 600-899 only severity. Three chunks of the first set, one of the second.
      const first = ids.slice(0, 600).map((id, i) => ({ id, title: i === 7 ? HOSTILE : `new ${i}`, alert_count: 100 + i, score_total: i % 2 ? i + 0.25 : null, host: null }));
      const second = ids.slice(600).map((id, i) => ({ id, severity: 50 + (i % 40) }));
      await db.transaction().execute((tx) => updateRows(tx, 'incidents', [...first, ...second], { updated_at: T0 + 1 }));
      const rows = await db.selectFrom('incidents').select(['id', 'title', 'alert_count', 'score_total', 'host', 'severity', 'updated_at', 'user_name']).orderBy('id').execute();
      assert.equal(rows.length, 900);
      rows.forEach((r, i) => {
        const got = [r.title, Number(r.alert_count), r.score_total === null ? null : Number(r.score_total), r.host, Number(r.severity), Number(r.updated_at), r.user_name];
        const want =
          i < 600
            ? [i === 7 ? HOSTILE : `new ${i}`, 100 + i, i % 2 ? i + 0.25 : null, null, 10, T0 + 1, 'u']
            : [`t${i}`, 1, 5, `h${i}`, 50 + ((i - 600) % 40), T0 + 1, 'u'];
        assert.deepEqual(got, want, `row ${i}`);
      });

      // Each recorded score keeps its fraction too (migration 0010).
      await insertRows(db, 'scores', ['incident_id', 'profile', 'total', 'doc', 'config_version', 'created_at'], [
        { incident_id: ids[1]!, profile: 'default', total: 69.6, doc: '{}', config_version: 'v', created_at: T0 },
      ]);
      const recorded = await db.selectFrom('scores').select('total').where('incident_id', '=', ids[1]!).executeTakeFirstOrThrow();
      assert.equal(Number(recorded.total), 69.6);
      const atLeast70 = await db.selectFrom('incidents').select('id').where('score_total', '>=', 70).where('id', 'in', [ids[69]!, ids[71]!]).execute();
      assert.deepEqual(atLeast70.map((r) => r.id), [ids[71]!], '69.25 is below 70 on both stores');

      // Only values shared by every row: one statement by id.
      await updateRows(db, 'incidents', ids.slice(0, 3).map((id) => ({ id })), { status: 'closed' });
      const closed = await db.selectFrom('incidents').select('id').where('status', '=', 'closed').orderBy('id').execute();
      assert.deepEqual(closed.map((r) => r.id), ids.slice(0, 3));
      // Nothing to set: nothing happens.
      await updateRows(db, 'incidents', [{ id: ids[5]! }]);
      assert.equal((await db.selectFrom('incidents').select('title').where('id', '=', ids[5]!).executeTakeFirstOrThrow()).title, 'new 5');
    } finally {
      await t.cleanup();
    }
  });
}
