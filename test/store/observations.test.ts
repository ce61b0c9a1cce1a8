/**
 * Indicators per incident (src/store/observations.ts) on both dialects: counts upserted at once and counts
 * logged by batch read the same through incidentObservations, before and after the log is folded into
 * incident_observables; a fold adds to what was there (first_seq and first_seen stay the earliest), empties
 * the log, and keeps hostile values as data.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'kysely';
import { DIALECTS, openTestStore } from '../support/stores.js';
import {
  countLoggedObservations,
  foldObservations,
  incidentObservations,
  logObservations,
  recordObservations,
  type Observation,
} from '../../src/store/observations.js';
import type { Db } from '../../src/store/store.js';

const T0 = 1_795_000_000_000;
const hostile = `evil.example'); delete from incident_observables; --`;
const obs = (incident: string, type: string, value: string, n: number, at: number, seq: number): Observation => ({
  incident_id: incident,
  type,
  value,
  alerts: n,
  events: n + 1,
  first_seen: at,
  last_seen: at + 10,
  first_seq: seq,
});

/** What the readers see: each incident's indicators added up, in a fixed order, numbers as numbers. */
async function view(db: Db, ids: string[]) {
  const { rows } = await sql<Observation>`select * from ${incidentObservations(ids)} o order by "incident_id", "type", "value"`.execute(db);
  return rows.map((r) => [r.incident_id, r.type, r.value, Number(r.alerts), Number(r.events), Number(r.first_seen), Number(r.last_seen), Number(r.first_seq)]);
}

const table = async (db: Db) =>
  (await db.selectFrom('incident_observables').selectAll().orderBy('incident_id').orderBy('type').orderBy('value').execute()).map((r) => [
    r.incident_id, r.type, r.value, Number(r.alerts), Number(r.events), Number(r.first_seen), Number(r.last_seen), Number(r.first_seq),
  ]);

for (const dialect of DIALECTS) {
  test(`observations on ${dialect}: logged and upserted counts read the same, before and after a fold`, async () => {
    const t = await openTestStore(dialect);
    const db = t.store.db;
    try {
      // Incident i1 had indicators upserted at once (ingest keeping up) ...
      await recordObservations(db, [obs('i1', 'ip', '203.0.113.9', 2, T0, 5), obs('i1', 'host', 'ws-1', 2, T0, 5)]);
      // ... then three batches logged while ingest was behind: the same address again, a new domain, a hostile value.
      await logObservations(db, 10, [obs('i1', 'ip', '203.0.113.9', 3, T0 + 100, 8), obs('i1', 'domain', 'c2.example', 1, T0 + 100, 9)]);
      await logObservations(db, 20, [obs('i1', 'domain', 'c2.example', 4, T0 + 50, 12), obs('i2', 'domain', hostile, 1, T0 + 200, 15)]);
      await logObservations(db, 30, [obs('i2', 'domain', hostile, 2, T0 + 300, 18)]);
      assert.equal(await countLoggedObservations(db), 5);

      const expected = [
        // alerts and events add up; first_seen and first_seq the earliest, last_seen the latest
        ['i1', 'domain', 'c2.example', 5, 7, T0 + 50, T0 + 110, 9],
        ['i1', 'host', 'ws-1', 2, 3, T0, T0 + 10, 5],
        ['i1', 'ip', '203.0.113.9', 5, 7, T0, T0 + 110, 5],
        ['i2', 'domain', hostile, 3, 5, T0 + 200, T0 + 310, 15],
      ];
      assert.deepEqual(await view(db, ['i1', 'i2']), expected, 'logged rows added to the upserted ones');
      assert.deepEqual(await view(db, ['i2']), expected.slice(3), 'only the incidents asked for');
      assert.equal((await table(db)).length, 2, 'the log is not in the table yet');

      // A fold moves it all into the table, sorted upserts: the readers see the same; the log is empty.
      assert.equal(await db.transaction().execute((tx) => foldObservations(tx)), 5);
      assert.equal(await countLoggedObservations(db), 0);
      assert.deepEqual(await table(db), expected);
      assert.deepEqual(await view(db, ['i1', 'i2']), expected);

      // A fold of an empty log changes nothing; a later batch logged adds to the folded rows, and the
      // indicator keeps the record that first brought it (first_seq).
      assert.equal(await db.transaction().execute((tx) => foldObservations(tx)), 0);
      await logObservations(db, 40, [obs('i1', 'host', 'ws-1', 1, T0 + 400, 50)]);
      const ws1 = ['i1', 'host', 'ws-1', 3, 5, T0, T0 + 410, 5];
      assert.deepEqual((await view(db, ['i1'])).find((r) => r[2] === 'ws-1'), ws1);
      await db.transaction().execute((tx) => foldObservations(tx));
      assert.deepEqual((await table(db)).find((r) => r[2] === 'ws-1'), ws1);
    } finally {
      await t.cleanup();
    }
  });
}
