/** The score stage on a batch of incidents, both dialects: each scored as it would be alone, written together. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DIALECTS, openTestStore } from '../support/stores.js';
import { createScoreStage, summary, type StoredScore } from '../../src/pipeline/stages/score.js';
import { resolveProfile, scoreIncident } from '../../src/score/index.js';
import { loadIncidentDetail } from '../../src/store/incidents.js';
import type { ClaimedItem } from '../../src/store/queue.js';
import type { Store } from '../../src/store/store.js';
import { alert, enr, incident, insertIncident, T0 } from './fixtures.js';

const items = (ids: string[]): ClaimedItem[] => ids.map((item_id, i) => ({ id: i + 1, item_id, version: 1, attempts: 1 }));

async function runStage(store: Store, stage: ReturnType<typeof createScoreStage>, ids: string[]) {
  const computed = await stage.compute(items(ids), store.db);
  await store.db.transaction().execute((tx) => stage.write(tx, items(ids), computed));
  return computed;
}

for (const dialect of DIALECTS) {
  test(`score stage on ${dialect}: a batch scores each incident as alone, and records only the changed ones`, async () => {
    const t = await openTestStore(dialect);
    try {
      const { store } = t;
      const id = (n: number) => `01JDSBATCH${dialect.slice(0, 2).toUpperCase()}${String(n).padStart(14, '0')}`;
      const incidents = [
        incident({ id: id(0), alerts: [alert({ severity: 75, action: 'allowed' })], enrichment: [enr('indicators', 'ip', '203.0.113.7', { verdict: 'malicious', sources: ['abuse.ch'] })] }),
        incident({ id: id(1), alerts: [alert({ severity: 20, action: 'blocked' }), alert({ severity: 40 })], enrichment: [enr('inventory', 'host', 'ws-042', { criticality: 'critical' })] }),
        incident({ id: id(2), alerts: [alert({ severity: 90 })], enrichment: [enr('allowlist', 'host', 'ws-042', { allowlisted: true, entries: [{ match: 'host:ws-042', reason: 'lab' }] })] }),
      ];
      for (const inc of incidents) await insertIncident(store.db, inc);
      const profile = resolveProfile('default');
      const stage = createScoreStage({ store, profile, configVersion: 'cfg-1', now: () => T0 + 5000 });
      const ids = [id(0), 'no-such-incident', id(1), id(2)];

      // What each incident scores on its own, from the store.
      const alone = await Promise.all([id(0), id(1), id(2)].map(async (i) => scoreIncident((await loadIncidentDetail(store.db, i))!, profile, T0 + 5000)));
      const computed = await runStage(store, stage, ids);
      assert.deepEqual(computed.map((c) => [c.incidentId, c.score, c.changed]), [id(0), id(1), id(2)].map((i, k) => [i, alone[k], true]));

      const scores = await store.db.selectFrom('scores').selectAll().orderBy('id').execute();
      assert.deepEqual(scores.map((s) => [s.incident_id, s.total]), alone.map((s, k) => [id(k), s.total]));
      for (const [k, s] of scores.entries()) {
        assert.deepEqual(JSON.parse(s.doc) as StoredScore, { ...alone[k]!, profile_version: profile.version });
        const row = await store.db.selectFrom('incidents').select(['score', 'score_total', 'updated_at']).where('id', '=', s.incident_id).executeTakeFirstOrThrow();
        assert.deepEqual([row.score, row.score_total, Number(row.updated_at)], [s.doc, s.total, T0 + 5000]);
      }
      const tl = await store.db.selectFrom('timeline').select(['incident_id', 'summary']).orderBy('id').execute();
      assert.deepEqual(tl.map((r) => [r.incident_id, r.summary]), alone.map((s, k) => [id(k), summary(s)]));
      const queued = await store.db.selectFrom('stage_queue').select('item_id').where('stage', '=', 'decide').orderBy('item_id').execute();
      assert.deepEqual(queued.map((q) => q.item_id), [id(0), id(1), id(2)]);

      // Again, with one incident's enrichment changed: only that one is recorded, all go on to decide.
      await store.db.deleteFrom('stage_queue').execute();
      await store.db.deleteFrom('enrichments').where('incident_id', '=', id(1)).execute();
      const again = await runStage(store, stage, ids);
      assert.deepEqual(again.map((c) => c.changed), [false, true, false]);
      assert.deepEqual((await store.db.selectFrom('scores').select('incident_id').orderBy('id').execute()).map((s) => s.incident_id), [id(0), id(1), id(2), id(1)]);
      assert.equal((await store.db.selectFrom('stage_queue').selectAll().execute()).length, 3);
    } finally {
      await t.cleanup();
    }
  });
}
