/** The score stage on a real store, both dialects: result, incident row, timeline and hand-off to decide. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DIALECTS, openTestStore } from '../support/stores.js';
import { createScoreStage, type StoredScore } from '../../src/pipeline/stages/score.js';
import { resolveProfile } from '../../src/score/index.js';
import type { ClaimedItem } from '../../src/store/queue.js';
import type { Store } from '../../src/store/store.js';
import { alert, enr, incident, insertIncident, T0 } from './fixtures.js';

const items = (...ids: string[]): ClaimedItem[] => ids.map((item_id, i) => ({ id: i + 1, item_id, version: 1, attempts: 1 }));

async function runStage(store: Store, stage: ReturnType<typeof createScoreStage>, claimed: ClaimedItem[]) {
  const computed = await stage.compute(claimed, store.db);
  await store.db.transaction().execute((tx) => stage.write(tx, claimed, computed));
  return computed;
}

for (const dialect of DIALECTS) {
  test(`score stage on ${dialect}: stores the score, updates the incident, hands on to decide`, async () => {
    const t = await openTestStore(dialect);
    try {
      const { store } = t;
      const inc = incident({
        alerts: [alert({ severity: 75, action: 'allowed' })],
        enrichment: [enr('indicators', 'ip', '203.0.113.7', { verdict: 'malicious', sources: ['abuse.ch'] }), enr('inventory', 'host', 'ws-042', { criticality: 'critical' })],
      });
      await insertIncident(store.db, inc);
      const profile = resolveProfile('default');
      const stage = createScoreStage({ store, profile, configVersion: 'cfg-1', now: () => T0 + 5000 });

      const [computed] = await runStage(store, stage, items(inc.id, 'no-such-incident'));
      assert.equal(computed!.score.total, 73);

      const scores = await store.db.selectFrom('scores').selectAll().execute();
      assert.equal(scores.length, 1);
      assert.equal(scores[0]!.total, 73);
      assert.equal(scores[0]!.config_version, 'cfg-1');
      const doc = JSON.parse(scores[0]!.doc) as StoredScore;
      assert.equal(doc.profile_version, profile.version);
      assert.equal(doc.explanation.reduce((a, l) => a + l.points, 0), 73);

      const row = await store.db.selectFrom('incidents').select(['score', 'score_total', 'updated_at']).where('id', '=', inc.id).executeTakeFirstOrThrow();
      assert.equal(row.score_total, 73);
      assert.equal(Number(row.updated_at), T0 + 5000);
      assert.equal((JSON.parse(row.score!) as StoredScore).total, 73);

      const tl = await store.db.selectFrom('timeline').select(['kind', 'summary']).where('incident_id', '=', inc.id).execute();
      assert.deepEqual(tl.map((x) => x.kind), ['scored']);
      assert.match(tl[0]!.summary, /^score 73 \(default\): threat 53, asset 20$/);

      const queued = await store.db.selectFrom('stage_queue').select(['stage', 'item_id']).execute();
      assert.deepEqual(queued, [{ stage: 'decide', item_id: inc.id }]);

      // The same score again is not recorded twice, but the incident still goes to decide.
      await store.db.deleteFrom('stage_queue').execute();
      await runStage(store, stage, items(inc.id));
      assert.equal((await store.db.selectFrom('scores').selectAll().execute()).length, 1);
      assert.equal((await store.db.selectFrom('timeline').selectAll().execute()).length, 1);
      assert.equal((await store.db.selectFrom('stage_queue').selectAll().execute()).length, 1);
    } finally {
      await t.cleanup();
    }
  });
}
