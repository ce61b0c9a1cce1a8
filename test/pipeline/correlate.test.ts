import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DIALECTS, openTestStore } from '../support/stores.js';
import { createIntakeWriter } from '../../src/intake/writer.js';
import { createPipeline } from '../../src/pipeline/runner.js';
import { createNormalizeStage, type RecordNormalizer } from '../../src/pipeline/stages/normalize.js';
import { createCorrelateStage } from '../../src/pipeline/stages/correlate.js';
import type { AlertDraft } from '../../src/model/alert.js';
import type { Stage } from '../../src/pipeline/stage.js';
import { log } from '../../src/util/log.js';

// Records in these tests are AlertDrafts as JSON, so correlation is tested apart from any vendor format.
const draftNormalizer: RecordNormalizer = {
  normalize(text) {
    try {
      return { detector: 'draft', alerts: [JSON.parse(text) as AlertDraft] };
    } catch {
      return { error: 'not a draft' };
    }
  },
};

const MIN = 60_000;
const T0 = Date.parse('2026-11-27T10:00:00Z');
function draft(over: Partial<AlertDraft> & { at: number }): string {
  const { at, ...rest } = over;
  const d: AlertDraft = { time: new Date(T0 + at).toISOString(), title: 'Beacon', severity: 60, rule: { id: 'r1' }, observables: [], ...rest };
  return JSON.stringify(d);
}

for (const dialect of DIALECTS) {
  test(`correlate on ${dialect}: dedup by fingerprint, grouping by entity and indicator, windows`, async () => {
    const t = await openTestStore(dialect);
    const intake = createIntakeWriter(t.store, { maxBacklog: 1e9 });
    const stages = [
      createNormalizeStage(t.store, draftNormalizer),
      createCorrelateStage(t.store, { dedupWindowMs: 10 * MIN, groupWindowMs: 60 * MIN }),
    ] as Stage<unknown>[];
    const pipeline = createPipeline({ store: t.store, stages, owner: 'test', log });
    try {
      const evil = { type: 'ip' as const, value: '203.0.113.9', role: 'dst' };
      const records = [
        // 1: ws-1 beacons to evil → new incident A
        draft({ at: 0, host: { name: 'WS-1' }, dst: { ip: '203.0.113.9' }, observables: [evil] }),
        // 2: exact repeat 1 min later → a repeat, not new work
        draft({ at: MIN, host: { name: 'ws-1' }, dst: { ip: '203.0.113.9' }, observables: [evil] }),
        // 3: same host, different rule, same indicator → joins A
        draft({ at: 2 * MIN, host: { name: 'ws-1' }, rule: { id: 'r2' }, title: 'Download', dst: { ip: '203.0.113.9' }, observables: [evil] }),
        // 4: another host, same indicator → its own incident B (entity differs)
        draft({ at: 3 * MIN, host: { name: 'ws-2' }, dst: { ip: '203.0.113.9' }, observables: [evil] }),
        // 5: ws-1 again after the group window → new incident C
        draft({ at: 200 * MIN, host: { name: 'ws-1' }, rule: { id: 'r2' }, title: 'Download', dst: { ip: '203.0.113.9' }, observables: [evil] }),
        // 6: 'not a draft' goes to quarantine with its raw text
        'garbage <script>',
      ];
      await intake.accept('s', null, records.map((raw) => ({ raw })));
      await pipeline.drain();
      const db = t.store.db;
      const incidents = await db.selectFrom('incidents').selectAll().orderBy('first_seen').execute();
      assert.equal(incidents.length, 3);
      const [a, b, c] = incidents;
      assert.equal(a!.host, 'ws-1');
      assert.equal(a!.alert_count, 2, 'the repeat is counted on the alert, not as a new alert');
      assert.equal(b!.host, 'ws-2');
      assert.equal(c!.host, 'ws-1');
      const alertsOfA = await db.selectFrom('alerts').select(['id', 'title', 'repeat_count']).where('incident_id', '=', a!.id).orderBy('time').execute();
      assert.deepEqual(alertsOfA.map((x) => x.title), ['Beacon', 'Beacon', 'Download']);
      assert.equal(alertsOfA[0]!.repeat_count, 2);
      const tl = await db.selectFrom('timeline').select('kind').where('incident_id', '=', a!.id).orderBy('at').execute();
      assert.deepEqual(tl.map((x) => x.kind), ['alert', 'repeat', 'alert']);
      // Each incident was handed to enrich once; the repeat made no new work for C.
      const enrich = await db.selectFrom('stage_queue').select('item_id').where('stage', '=', 'enrich').execute();
      assert.deepEqual(enrich.map((e) => e.item_id).sort(), [a!.id, b!.id, c!.id].sort());
      const q = await db.selectFrom('quarantine').selectAll().execute();
      assert.equal(q.length, 1);
      assert.equal(q[0]!.raw, 'garbage <script>');
      assert.equal(q[0]!.reason, 'not a draft');

      // Re-delivery of an alert with the same vendor_id is stored once.
      const dup = draft({ at: 300 * MIN, vendor_id: 'v-1', host: { name: 'ws-9' } });
      await intake.accept('s', null, [{ raw: dup }, { raw: dup }]);
      await pipeline.drain();
      const v = await db.selectFrom('alerts').select('id').where('vendor_id', '=', 'v-1').execute();
      assert.equal(v.length, 1);

      // Repeats in later batches keep counting on the original: two more (one batch each), then two at once.
      const beacon = (at: number) => ({ raw: draft({ at, host: { name: 'ws-1' }, dst: { ip: '203.0.113.9' }, observables: [evil] }) });
      for (const batch of [[beacon(4 * MIN)], [beacon(5 * MIN)], [beacon(6 * MIN), beacon(7 * MIN)]]) {
        await intake.accept('s', null, batch);
        await pipeline.drain();
      }
      const original = await db.selectFrom('alerts').select(['repeat_count', 'last_repeat_at']).where('id', '=', alertsOfA[0]!.id).executeTakeFirstOrThrow();
      assert.deepEqual([Number(original.repeat_count), Number(original.last_repeat_at)], [6, T0 + 7 * MIN]);
      const fingerprint = await db.selectFrom('fingerprints').select('count').where('alert_id', '=', alertsOfA[0]!.id).executeTakeFirstOrThrow();
      assert.equal(Number(fingerprint.count), 6);

      // A closed incident takes no new alerts.
      await db.updateTable('incidents').set({ status: 'closed' }).where('id', '=', c!.id).execute();
      await intake.accept('s', null, [{ raw: draft({ at: 201 * MIN, host: { name: 'ws-1' }, rule: { id: 'r2' }, title: 'Download', dst: { ip: '203.0.113.9' }, observables: [evil] }) }]);
      await pipeline.drain();
      assert.equal((await db.selectFrom('incidents').select('id').execute()).length, 5);
    } finally {
      await intake.close();
      await t.cleanup();
    }
  });
}
