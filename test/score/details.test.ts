/**
 * Reading and writing incidents a batch at a time (store/incidents.ts), both dialects: loadIncidentDetails
 * gives each incident what loadIncidentDetail gives it — alert and timeline caps included — and leaves out
 * only the parts not asked for; updateIncidents sets each incident's own values.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DIALECTS, openTestStore } from '../support/stores.js';
import { addTimeline, loadIncidentDetail, loadIncidentDetails, updateIncidents } from '../../src/store/incidents.js';
import type { Db } from '../../src/store/store.js';
import { alert, enr, incident, insertIncident, T0 } from './fixtures.js';

const ID = (c: string) => `01JDDETAILS${c.repeat(15)}`;

async function seed(db: Db) {
  const a = incident({
    id: ID('A'),
    alerts: [alert({ title: 'a1', time: new Date(T0 + 2000).toISOString() }), alert({ title: 'a0', time: new Date(T0).toISOString() })],
    enrichment: [
      enr('inventory', 'host', 'ws-042', { criticality: 'high' }),
      enr('allowlist', 'ip', '10.0.0.2', {}, false),
      enr('allowlist', 'host', '10.0.0.1', {}, false),
      enr('allowlist', 'ip', '10.0.0.1', {}, false),
    ],
  });
  // More alerts than the cap used below: the oldest ones are read.
  const big = incident({ id: ID('B'), alerts: Array.from({ length: 7 }, (_, i) => alert({ title: `b${i}`, time: new Date(T0 + (7 - i) * 1000).toISOString() })) });
  const c = incident({ id: ID('C'), alerts: [alert({ title: 'c0' })] });
  for (const d of [a, big, c]) await insertIncident(db, d);
  await db.insertInto('enrichments').values({ incident_id: a.id, provider: 'history', subject_type: 'ip', subject_value: '10.0.0.9', found: 0, data: '{}', error: 'timeout', fetched_at: T0 }).execute();
  await db.insertInto('decisions').values({ incident_id: a.id, rule: 'r', outcome: 'log', doc: JSON.stringify({ rule: 'r', outcome: 'log', actions: [], dry_run: false, config_version: 'v' }), dry_run: 0, config_version: 'v', created_at: T0 }).execute();
  await db
    .insertInto('actions')
    .values({
      id: '01JDACTION0000000000000001',
      incident_id: a.id,
      decision_id: null,
      kind: 'email',
      target: 'soc-mail',
      idempotency_key: `${a.id}:email:soc-mail`,
      params: '{}',
      state: 'pending',
      approval: 'auto',
      dry_run: 0,
      attempts: 0,
      next_attempt_at: T0,
      lease_owner: null,
      lease_until: null,
      last_error: null,
      result: null,
      approved_by: null,
      created_at: T0,
      updated_at: T0,
    })
    .execute();
  await addTimeline(db, [{ incident_id: a.id, at: T0, kind: 'scored', summary: 'score 1' }]);
  // Over the timeline cap (1000): the oldest entries are read.
  await addTimeline(db, Array.from({ length: 1003 }, (_, i) => ({ incident_id: c.id, at: T0 + 1003 - i, kind: 'alert' as const, summary: `t${i}` })));
}

for (const dialect of DIALECTS) {
  test(`loadIncidentDetails on ${dialect}: each incident as loadIncidentDetail reads it, caps included`, async () => {
    const t = await openTestStore(dialect);
    try {
      const { db } = t.store;
      await seed(db);
      const many = await loadIncidentDetails(db, [ID('A'), 'no-such-incident', ID('C'), ID('B'), ID('A')], { alertLimit: 4 });
      assert.deepEqual([...many.keys()].sort(), [ID('A'), ID('B'), ID('C')]);
      for (const id of [ID('A'), ID('B'), ID('C')]) assert.deepEqual(many.get(id), await loadIncidentDetail(db, id, { alertLimit: 4 }), id);

      const a = many.get(ID('A'))!;
      assert.deepEqual(a.alerts.map((x) => x.title), ['a0', 'a1']);
      assert.deepEqual(
        a.enrichment.map((e) => `${e.provider}:${e.subject.type}:${e.subject.value}`),
        ['allowlist:host:10.0.0.1', 'allowlist:ip:10.0.0.1', 'allowlist:ip:10.0.0.2', 'history:ip:10.0.0.9', 'inventory:host:ws-042'],
      );
      assert.equal((a.enrichment[3] as { error?: string }).error, 'timeout');
      assert.deepEqual([a.decisions.length, a.actions.length, a.timeline.length], [1, 1, 1]);
      assert.equal(a.alerts[0]!.raw, '{}');
      assert.deepEqual(many.get(ID('B'))!.alerts.map((x) => x.title), ['b6', 'b5', 'b4', 'b3']);
      const tl = many.get(ID('C'))!.timeline;
      assert.equal(tl.length, 1000);
      assert.equal(tl[0]!.summary, 't1002');
      assert.equal(tl[999]!.summary, 't3');

      // Parts left out are empty; the incident row is always there.
      const lean = await loadIncidentDetails(db, [ID('A'), ID('B')], { parts: { raw: false, history: false, enrichment: false } });
      const la = lean.get(ID('A'))!;
      assert.deepEqual([la.enrichment, la.decisions, la.actions, la.timeline], [[], [], [], []]);
      assert.deepEqual(la.alerts.map((x) => [x.title, x.raw]), [['a0', ''], ['a1', '']]);
      assert.equal(lean.get(ID('B'))!.alerts.length, 7);
      const found = await loadIncidentDetails(db, [ID('A'), ID('B')], { parts: { enrichment: 'found' } });
      assert.deepEqual(found.get(ID('A'))!.enrichment, a.enrichment.filter((e) => 'found' in e && e.found));
      assert.deepEqual(found.get(ID('A'))!.enrichment.map((e) => e.provider), ['inventory']);
      const rowOnly = await loadIncidentDetails(db, [ID('A')], { parts: { alerts: false, enrichment: false, history: false } });
      const { alerts: _a, enrichment: _e, decisions: _d, actions: _x, timeline: _t, ...row } = a;
      assert.deepEqual(rowOnly.get(ID('A')), { ...row, alerts: [], enrichment: [], decisions: [], actions: [], timeline: [] });
      assert.equal((await loadIncidentDetails(db, [])).size, 0);
    } finally {
      await t.cleanup();
    }
  });

  test(`updateIncidents on ${dialect}: each incident gets its own values; columns not given keep theirs`, async () => {
    const t = await openTestStore(dialect);
    try {
      const { db } = t.store;
      await seed(db);
      await updateIncidents(db, [{ id: ID('A'), score: '{"total":72}', score_total: 72 }, { id: ID('B'), decision: '{"rule":"x"}' }], T0 + 1);
      await updateIncidents(db, [{ id: ID('C'), score: null, score_total: null, decision: '{"rule":"y"}' }], T0 + 2);
      const rows = await db.selectFrom('incidents').select(['id', 'score', 'score_total', 'decision', 'updated_at']).orderBy('id').execute();
      assert.deepEqual(
        rows.map((r) => [r.id, r.score, r.score_total, r.decision, Number(r.updated_at)]),
        [
          [ID('A'), '{"total":72}', 72, null, T0 + 1],
          [ID('B'), null, null, '{"rule":"x"}', T0 + 1],
          [ID('C'), null, null, '{"rule":"y"}', T0 + 2],
        ],
      );
      await updateIncidents(db, [{ id: ID('B'), score: 'later', score_total: 5 }], T0 + 3);
      const b = await db.selectFrom('incidents').select(['score', 'score_total', 'decision']).where('id', '=', ID('B')).executeTakeFirstOrThrow();
      assert.deepEqual(b, { score: 'later', score_total: 5, decision: '{"rule":"x"}' });
      await updateIncidents(db, [], T0 + 4); // nothing to do
    } finally {
      await t.cleanup();
    }
  });
}
