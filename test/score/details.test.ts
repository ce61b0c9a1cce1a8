/**
 * Reading and writing incidents a batch at a time (store/incidents.ts), both dialects: loadIncidentDetails
 * gives each incident what loadIncidentDetail gives it — alert and timeline caps included — and leaves out
 * only the parts not asked for, with or without the parsed-document cache (AlertDocs); updateIncidents and
 * updateRows set each row's own values.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DIALECTS, openTestStore } from '../support/stores.js';
import { addTimeline, loadIncidentDetail, loadIncidentDetails, updateIncidents } from '../../src/store/incidents.js';
import type { Db } from '../../src/store/store.js';
import { updateRows } from '../../src/store/update-rows.js';
import { AlertDocs } from '../../src/store/alert-docs.js';
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
      approval_due_at: null,
      approval_default: null,
      denied_by: null,
      denial_reason: null,
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
      assert.deepEqual([a.decisions.length, a.actions.length, a.timeline.length], [1, 1, 3]);
      // Its two alerts are on the timeline as stored, beside the timeline's own row.
      assert.deepEqual(a.timeline.filter((x) => x.kind === 'alert').map((x) => x.alert_id), a.alerts.map((x) => x.id));
      assert.equal(a.alerts[0]!.raw, '{}');
      assert.deepEqual(many.get(ID('B'))!.alerts.map((x) => x.title), ['b6', 'b5', 'b4', 'b3']);
      const all = many.get(ID('C'))!.timeline;
      assert.equal(all.length, 1000);
      const tl = all.filter((x) => x.kind !== 'alert' || x.alert_id === undefined);
      assert.equal(tl[0]!.summary, 't1002');
      assert.equal(tl.at(-1)!.summary, all.length === tl.length ? 't3' : 't4', 'the oldest entries, its alert among them');

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

      // Correlate's columns: millisecond times need 64 bits on PostgreSQL; host and user take null.
      const late = T0 + 3_000_000_000;
      await updateIncidents(db, [{ id: ID('A'), alert_count: 9, severity: 80, first_seen: T0 - 1, last_seen: late, host: 'ws-9', user_name: null }], T0 + 5);
      const a = await db.selectFrom('incidents').select(['alert_count', 'severity', 'first_seen', 'last_seen', 'host', 'user_name']).where('id', '=', ID('A')).executeTakeFirstOrThrow();
      assert.deepEqual({ ...a, first_seen: Number(a.first_seen), last_seen: Number(a.last_seen) }, { alert_count: 9, severity: 80, first_seen: T0 - 1, last_seen: late, host: 'ws-9', user_name: null });

      // A column null on some rows and a number on others, and one null on every row.
      await updateIncidents(
        db,
        [
          { id: ID('A'), score_total: null, host: null, user_name: null },
          { id: ID('B'), score_total: 41, host: null, user_name: null },
          { id: ID('C'), score_total: 7, host: null, user_name: null },
        ],
        T0 + 6,
      );
      const three = await db.selectFrom('incidents').select(['id', 'score_total', 'host', 'user_name', 'updated_at']).orderBy('id').execute();
      assert.deepEqual(
        three.map((r) => [r.id, r.score_total === null ? null : Number(r.score_total), r.host, r.user_name, Number(r.updated_at)]),
        [
          [ID('A'), null, null, null, T0 + 6],
          [ID('B'), 41, null, null, T0 + 6],
          [ID('C'), 7, null, null, T0 + 6],
        ],
      );
    } finally {
      await t.cleanup();
    }
  });

  test(`updateRows on ${dialect}: hundreds of alerts, each its own incident and stamp, in chunks`, async () => {
    const t = await openTestStore(dialect);
    try {
      const { db } = t.store;
      await seed(db);
      const ids = (await db.selectFrom('alerts').select('id').orderBy('id').execute()).map((r) => r.id);
      // More rows than one statement takes (400), ids that do not exist, and a value with SQL in it.
      const updates = [...ids, ...Array.from({ length: 450 }, (_, i) => `no-such-alert-${i}`)].map((id, i) =>
        i % 2 ? { id, incident_id: `inc-${i}'); drop table alerts; --` } : { id, incident_id: `inc-${i}`, decided_at: T0 + i },
      );
      await updateRows(db, 'alerts', updates);
      const rows = await db.selectFrom('alerts').select(['id', 'incident_id', 'decided_at']).orderBy('id').execute();
      assert.deepEqual(
        rows.map((r) => [r.id, r.incident_id, r.decided_at === null ? null : Number(r.decided_at)]),
        ids.map((id, i) => [id, i % 2 ? `inc-${i}'); drop table alerts; --` : `inc-${i}`, i % 2 ? null : T0 + i]),
      );
    } finally {
      await t.cleanup();
    }
  });

  test(`AlertDocs on ${dialect}: documents read once, then from memory; frozen; bounded`, async () => {
    const t = await openTestStore(dialect);
    try {
      const { db } = t.store;
      await seed(db);
      const parts = { raw: false, history: false, enrichment: false } as const;
      const plain = await loadIncidentDetails(db, [ID('A'), ID('B')], { parts });
      const docs = new AlertDocs(100);
      const viaDocs = await loadIncidentDetails(db, [ID('A'), ID('B')], { parts, docs });
      assert.deepEqual(viaDocs, plain);
      assert.equal(docs.size, 9);
      // Held documents are not read again (the store's copy is changed behind the cache's back to show it)…
      const a0 = plain.get(ID('A'))!.alerts[0]!;
      await db.updateTable('alerts').set({ doc: JSON.stringify({ ...a0, title: 'changed in the store' }) }).where('id', '=', a0.id).execute();
      assert.equal((await loadIncidentDetails(db, [ID('A')], { parts, docs })).get(ID('A'))!.alerts[0]!.title, 'a0');
      assert.equal((await loadIncidentDetails(db, [ID('A')], { parts })).get(ID('A'))!.alerts[0]!.title, 'changed in the store');
      // …and they are shared, so nobody may change them.
      const shared = (await docs.load(db, [a0.id])).get(a0.id)!;
      assert.throws(() => ((shared.observables as unknown as unknown[]).length = 0), TypeError);
      assert.throws(() => ((shared as { title: string }).title = 'x'), TypeError);
      // Asking for raw records bypasses the cache (raw is not kept).
      assert.equal((await loadIncidentDetails(db, [ID('A')], { parts: { ...parts, raw: true }, docs })).get(ID('A'))!.alerts[0]!.raw, '{}');

      const small = new AlertDocs(2);
      const ids = (await db.selectFrom('alerts').select('id').orderBy('id').limit(3).execute()).map((r) => r.id);
      assert.equal((await small.load(db, [...ids, 'no-such-alert'])).size, 3);
      assert.equal(small.size, 2);
      small.remember('remembered', { ...a0, raw: 'not kept' });
      assert.equal(small.size, 2);
      const got = (await small.load(db, ['remembered'])).get('remembered')!;
      assert.equal(got.title, 'a0');
      assert.equal('raw' in got, false);
    } finally {
      await t.cleanup();
    }
  });
}
