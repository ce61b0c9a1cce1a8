import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'kysely';
import { DIALECTS, openTestStore } from '../support/stores.js';
import { createIntakeWriter } from '../../src/intake/writer.js';
import { readCursorValue } from '../../src/store/cursors.js';

const cursor = (value: string) => ({ receiver: 'file:app', key: 'position', value, updated_at: 1 });

for (const dialect of DIALECTS) {
  test(`intake writer on ${dialect}: a receiver's position is committed with its records, or not at all`, async () => {
    const t = await openTestStore(dialect);
    const writer = createIntakeWriter(t.store, { maxBacklog: 1e9 });
    try {
      const db = t.store.db;
      // Group commit: concurrent calls share a transaction; each one's position lands with its records.
      await Promise.all([
        writer.accept('app', null, [{ raw: 'one' }, { raw: 'two' }], { cursor: cursor('{"offset":8}') }),
        writer.accept('web', null, [{ raw: 'x' }]),
      ]);
      assert.equal(await readCursorValue(db, 'file:app', 'position'), '{"offset":8}');
      assert.equal((await db.selectFrom('intake').select('raw').where('source', '=', 'app').execute()).length, 2);

      // A commit that fails takes the position with it: the receiver reads the same lines again, and the
      // intake log does not hold them twice.
      if (dialect === 'sqlite') {
        await sql`create trigger refuse_boom before insert on intake when new.raw = 'boom' begin select raise(abort, 'refused'); end`.execute(db);
      } else {
        await sql`create function refuse_boom() returns trigger language plpgsql as $$ begin if new.raw = 'boom' then raise exception 'refused'; end if; return new; end $$`.execute(db);
        await sql`create trigger refuse_boom before insert on intake for each row execute function refuse_boom()`.execute(db);
      }
      await assert.rejects(writer.accept('app', null, [{ raw: 'three' }, { raw: 'boom' }], { cursor: cursor('{"offset":19}') }), /refused/);
      assert.equal(await readCursorValue(db, 'file:app', 'position'), '{"offset":8}');
      assert.deepEqual((await db.selectFrom('intake').select('raw').where('source', '=', 'app').orderBy('raw').execute()).map((r) => r.raw), ['one', 'two']);

      // A position with no records (the batch was only blank lines) is stored too.
      await writer.accept('app', null, [], { cursor: cursor('{"offset":21}') });
      assert.equal(await readCursorValue(db, 'file:app', 'position'), '{"offset":21}');
    } finally {
      await writer.close();
      await t.cleanup();
    }
  });
}

for (const dialect of DIALECTS) {
  test(`intake writer on ${dialect}: a keyed record is stored once per source, whatever delivers it again`, async () => {
    const t = await openTestStore(dialect);
    const writer = createIntakeWriter(t.store, { maxBacklog: 1e9 });
    try {
      const db = t.store.db;
      const rows = async (source: string) => (await db.selectFrom('intake').select('raw').where('source', '=', source).orderBy('seq').execute()).map((r) => r.raw);
      const first = await writer.accept('bus', null, [{ raw: 'a', key: 'k1' }, { raw: 'b', key: 'k2' }, { raw: 'plain' }]);
      assert.equal(first.duplicates, undefined, 'nothing was a duplicate');
      // Redelivered in one group commit with a new record, the same key twice in one batch, and unkeyed twins.
      const [again, other] = await Promise.all([
        writer.accept('bus', null, [{ raw: 'a', key: 'k1' }, { raw: 'c', key: 'k3' }, { raw: 'c', key: 'k3' }, { raw: 'plain' }]),
        writer.accept('bus2', null, [{ raw: 'a', key: 'k1' }]),
      ]);
      assert.equal(again.duplicates, 2, 'k1 again and the second k3 were not stored');
      assert.equal(other.duplicates, undefined, 'a key is unique per source: another source stores its own k1');
      assert.deepEqual(await rows('bus'), ['a', 'b', 'plain', 'c', 'plain'], 'unkeyed records are always stored');
      assert.deepEqual(await rows('bus2'), ['a']);
    } finally {
      await writer.close();
      await t.cleanup();
    }
  });
}
