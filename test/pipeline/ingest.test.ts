/**
 * ingest (src/pipeline/ingest): the intake log → alerts, duplicates, context events and quarantine, grouped
 * into incidents, one transaction per batch with the log cursor. Real stores, both dialects.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DIALECTS, openTestStore, type TestStore } from '../support/stores.js';
import { createIntakeWriter } from '../../src/intake/writer.js';
import { createPipeline } from '../../src/pipeline/runner.js';
import { createIngest, type CorrelateSettings, type RecordNormalizer } from '../../src/pipeline/ingest/index.js';
import { derivedId } from '../../src/pipeline/ingest/parse.js';
import { loadIncidentDetail, loadIncidentDetails } from '../../src/store/incidents.js';
import { recordFate } from '../../src/store/fates.js';
import { INGEST_CURSOR, readCursor } from '../../src/store/log.js';
import type { AlertDraft } from '../../src/model/alert.js';
import { log } from '../../src/util/log.js';
import { registry } from '../../src/metrics.js';

// Records in these tests are AlertDrafts as JSON, so correlation is tested apart from any vendor format.
const draftNormalizer: RecordNormalizer = {
  normalize(text) {
    if (text.startsWith('ctx:')) return { detector: 'draft', context: [{ kind: 'dhcp', time: new Date(T0).toISOString(), data: { lease: text.slice(4) }, observables: [] }] };
    if (text.startsWith('two:')) {
      const d = JSON.parse(text.slice(4)) as AlertDraft;
      return { detector: 'draft', alerts: [d, { ...d, title: `${d.title} (2)`, rule: { id: 'r-second' } }] };
    }
    try {
      return { detector: 'draft', alerts: [JSON.parse(text) as AlertDraft] };
    } catch {
      return { error: 'not a draft' };
    }
  },
};

const WINDOWS: CorrelateSettings = { dedupWindowMs: 10 * 60_000, groupWindowMs: 60 * 60_000 };
const ingestOf = (t: TestStore, owner = 'test', normalizer = draftNormalizer, maxFingerprints?: number, maxGroupKeys?: number) =>
  createIngest({ store: t.store, normalizer, correlation: WINDOWS, owner, log, batchSize: 100, maxFingerprints, maxGroupKeys });

const MIN = 60_000;
const T0 = Date.parse('2026-11-27T10:00:00Z');
function draft(over: Partial<AlertDraft> & { at: number }): string {
  const { at, ...rest } = over;
  const d: AlertDraft = { time: new Date(T0 + at).toISOString(), title: 'Beacon', severity: 60, rule: { id: 'r1' }, observables: [], ...rest };
  return JSON.stringify(d);
}

for (const dialect of DIALECTS) {
  test(`ingest on ${dialect}: every record's fate, dedup by fingerprint and vendor id, grouping by entity and indicator, windows`, async () => {
    const t = await openTestStore(dialect);
    const intake = createIntakeWriter(t.store, { maxBacklog: 1e9 });
    const pipeline = createPipeline({ store: t.store, ingest: ingestOf(t), stages: [], owner: 'test', log });
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
      const { ids } = await intake.accept('s', null, records.map((raw) => ({ raw })));
      await pipeline.drain();
      const db = t.store.db;
      const incidents = await db.selectFrom('incidents').selectAll().orderBy('first_seen').execute();
      assert.equal(incidents.length, 3);
      const [a, b, c] = incidents;
      assert.equal(a!.host, 'ws-1');
      assert.equal(a!.alert_count, 2, 'the repeat is counted on the alert, not as a new alert');
      assert.equal(b!.host, 'ws-2');
      assert.equal(c!.host, 'ws-1');
      const alertsOfA = await db.selectFrom('alerts').select(['id', 'title', 'repeat_count', 'duplicate_of', 'raw']).where('incident_id', '=', a!.id).orderBy('time').execute();
      assert.deepEqual(alertsOfA.map((x) => x.title), ['Beacon', 'Beacon', 'Download']);
      assert.equal(alertsOfA[0]!.repeat_count, 2);
      assert.deepEqual(alertsOfA.map((x) => x.duplicate_of), [null, alertsOfA[0]!.id, null]);
      assert.ok(alertsOfA.every((x) => x.raw === ''), 'the raw text is stored once, in the log');
      const detail = (await loadIncidentDetail(db, a!.id))!;
      assert.deepEqual(detail.timeline.filter((x) => x.kind === 'alert' || x.kind === 'repeat').map((x) => x.kind), ['alert', 'repeat', 'alert']);
      assert.equal(detail.alerts[0]!.raw, records[0], 'the alert reads its raw text from the log');

      // Every id the intake returned has one fate.
      const fates = await Promise.all(ids.map((id) => recordFate(db, id)));
      assert.deepEqual(fates.map((f) => f!.fate), ['alert', 'duplicate', 'alert', 'alert', 'alert', 'quarantined']);
      const repeat = fates[1]!;
      assert.ok(repeat.fate === 'duplicate' && repeat.duplicate_of === ids[0] && repeat.repeat_count === 2);
      const garbage = fates[5]!;
      assert.ok(garbage.fate === 'quarantined' && garbage.raw === 'garbage <script>' && garbage.reason === 'not a draft');
      assert.equal(await readCursor(db, INGEST_CURSOR), 6);
      // Each incident was handed to enrich once; the repeat made no new work for C.
      const enrich = await db.selectFrom('stage_queue').select('item_id').where('stage', '=', 'enrich').execute();
      assert.deepEqual(enrich.map((e) => e.item_id).sort(), [a!.id, b!.id, c!.id].sort());
      // Re-delivery of an alert with the same vendor_id: once within a batch, once in a later one. The first is
      // the alert; the others are duplicates of it, in its incident, and make no new work.
      const dup = draft({ at: 300 * MIN, vendor_id: 'v-1', host: { name: 'ws-9' } });
      const first = await intake.accept('s', null, [{ raw: dup }, { raw: dup }]);
      await pipeline.drain();
      const later = await intake.accept('s', null, [{ raw: dup }]);
      await pipeline.drain();
      const v = await db.selectFrom('alerts').select(['id', 'incident_id']).where('vendor_id', '=', 'v-1').execute();
      assert.deepEqual(v.map((x) => x.id), [first.ids[0]]);
      for (const id of [first.ids[1]!, later.ids[0]!]) {
        const f = await recordFate(db, id);
        assert.ok(f?.fate === 'duplicate' && f.duplicate_of === first.ids[0] && f.alert.incident_id === v[0]!.incident_id, JSON.stringify(f));
      }

      // Repeats in later batches keep counting on the original: two more (one batch each), then two at once.
      const beacon = (at: number) => ({ raw: draft({ at, host: { name: 'ws-1' }, dst: { ip: '203.0.113.9' }, observables: [evil] }) });
      for (const batch of [[beacon(4 * MIN)], [beacon(5 * MIN)], [beacon(6 * MIN), beacon(7 * MIN)]]) {
        await intake.accept('s', null, batch);
        await pipeline.drain();
      }
      const original = await db.selectFrom('alerts').select(['repeat_count', 'last_repeat_at']).where('id', '=', alertsOfA[0]!.id).executeTakeFirstOrThrow();
      assert.deepEqual([Number(original.repeat_count), Number(original.last_repeat_at)], [6, T0 + 7 * MIN]);

      // A closed incident takes no new alerts.
      await db.updateTable('incidents').set({ status: 'closed' }).where('id', '=', c!.id).execute();
      await intake.accept('s', null, [{ raw: draft({ at: 201 * MIN, host: { name: 'ws-1' }, rule: { id: 'r2' }, title: 'Download', dst: { ip: '203.0.113.9' }, observables: [evil] }) }]);
      await pipeline.drain();
      assert.equal((await db.selectFrom('incidents').select('id').execute()).length, 5);

      // A context event, and a record with two alerts: each id (the second derived from the record's) answers.
      const more = await intake.accept('s', null, [{ raw: 'ctx:10.0.0.9' }, { raw: `two:${draft({ at: 400 * MIN, host: { name: 'ws-7' } })}` }]);
      assert.equal((await recordFate(db, more.ids[0]!))!.fate, 'pending', 'pending until ingest reaches it');
      await pipeline.drain();
      const ctx = await recordFate(db, more.ids[0]!);
      assert.ok(ctx?.fate === 'context' && ctx.kind === 'dhcp' && ctx.raw === 'ctx:10.0.0.9', JSON.stringify(ctx));
      const second = await recordFate(db, derivedId(more.ids[1]!, 1));
      assert.ok(second?.fate === 'alert' && second.alert.title === 'Beacon (2)');
      assert.equal(await recordFate(db, '01ARZ3NDEKTSV4RRFFQ69G5FAV'), null, 'an id never accepted is unknown');
    } finally {
      await intake.close();
      await t.cleanup();
    }
  });
}

for (const dialect of DIALECTS) {
  test(`ingest on ${dialect}: a worker whose lease ran out cannot commit; the log is derived once`, async () => {
    const t = await openTestStore(dialect);
    const intake = createIntakeWriter(t.store, { maxBacklog: 1e9 });
    const a = ingestOf(t, 'worker-a');
    const b = ingestOf(t, 'worker-b');
    try {
      const rec = (i: number) => ({ raw: draft({ at: i * MIN, host: { name: `h${i}` } }) });
      await intake.accept('s', null, [rec(1), rec(2)]);
      assert.equal(await a.runBatch(), 2);
      await intake.accept('s', null, [rec(3)]);
      assert.equal(await b.runBatch(), 0, 'b waits: a holds the lease');
      // a stalls past its lease; b takes the log over and goes on.
      await t.store.db.updateTable('pipeline_cursors').set({ lease_until: 0 }).execute();
      assert.equal(await b.runBatch(), 1);
      await intake.accept('s', null, [rec(4)]);
      // a wakes up believing it still holds the lease: its commit is refused and rolled back whole.
      assert.equal(await a.runBatch(), 0);
      assert.equal(await b.runBatch(), 1);
      const alerts = await t.store.db.selectFrom('alerts').select('id').execute();
      assert.equal(alerts.length, 4, 'each record derived exactly once');
      assert.equal(await readCursor(t.store.db, INGEST_CURSOR), 4);
    } finally {
      await a.stop();
      await b.stop();
      await intake.close();
      await t.cleanup();
    }
  });
}

for (const dialect of DIALECTS) {
  test(`ingest on ${dialect}: the dedup state is rebuilt from the alerts by the next worker, and forgets beyond its bound without losing alerts`, async () => {
    const t = await openTestStore(dialect);
    const db = t.store.db;
    const intake = createIntakeWriter(t.store, { maxBacklog: 1e9 });
    const workers: Array<ReturnType<typeof ingestOf>> = [];
    /** A worker of its own (a process started anew): ingests what waits, then gives the log up. */
    const ingestAll = async (owner: string, maxFingerprints?: number) => {
      const w = ingestOf(t, owner, draftNormalizer, maxFingerprints);
      workers.push(w);
      while ((await w.runBatch()) > 0);
      await w.stop();
    };
    const fate = async (id: string) => {
      const f = await recordFate(db, id);
      assert.ok(f, `${id} has a fate`);
      return f;
    };
    const beacon = (at: number, vendor_id?: string) => ({ raw: draft({ at, host: { name: 'ws-1' }, dst: { ip: '203.0.113.9' }, ...(vendor_id ? { vendor_id } : {}) }) });
    try {
      const [original] = (await intake.accept('s', null, [beacon(0)])).ids;
      const [repeat] = (await intake.accept('s', null, [beacon(MIN, 'v-2')])).ids;
      await ingestAll('w1');
      // The repeat delivered again (same vendor id): a duplicate of the repeat, which names the original.
      const [again] = (await intake.accept('s', null, [beacon(MIN, 'v-2')])).ids;
      await ingestAll('w2');
      const f = await fate(again!);
      assert.ok(f.fate === 'duplicate' && f.duplicate_of === repeat, JSON.stringify(f));

      // A third worker knows the original only from the alert rows: the next repeat still counts on it.
      const [third] = (await intake.accept('s', null, [beacon(2 * MIN)])).ids;
      await ingestAll('w3');
      const g = await fate(third!);
      assert.ok(g.fate === 'duplicate' && g.duplicate_of === original && g.repeat_count === 3, JSON.stringify(g));

      // A worker that may remember one fingerprint: another alert's pushes the beacon's out, and the next
      // beacon becomes an alert of its own, in the original's incident (same host and destination).
      const w4 = ingestOf(t, 'w4', draftNormalizer, 1);
      workers.push(w4);
      await intake.accept('s', null, [{ raw: draft({ at: 3 * MIN, host: { name: 'ws-2' }, rule: { id: 'r9' } }) }]);
      while ((await w4.runBatch()) > 0);
      const [fourth] = (await intake.accept('s', null, [beacon(4 * MIN)])).ids;
      while ((await w4.runBatch()) > 0);
      const h = await fate(fourth!);
      const first = await fate(original!);
      assert.ok(h.fate === 'alert' && first.fate === 'alert' && h.alert.incident_id === first.alert.incident_id, `${JSON.stringify(h)} ${JSON.stringify(first)}`);
      const count = await db.selectFrom('alerts').select('repeat_count').where('id', '=', original!).executeTakeFirstOrThrow();
      assert.equal(Number(count.repeat_count), 3, 'the forgotten original counts no more repeats');
    } finally {
      for (const w of workers) await w.stop();
      await intake.close();
      await t.cleanup();
    }
  });
}

for (const dialect of DIALECTS) {
  test(`ingest on ${dialect}: the grouping keys are read back from their log by the next worker, and a key forgotten groups apart without losing alerts`, async () => {
    const t = await openTestStore(dialect);
    const intake = createIntakeWriter(t.store, { maxBacklog: 1e9 });
    const workers: Array<ReturnType<typeof ingestOf>> = [];
    /** A worker of its own (a process started anew) that ingests what waits. */
    const worker = async (owner: string, maxGroupKeys?: number) => {
      const w = ingestOf(t, owner, draftNormalizer, undefined, maxGroupKeys);
      workers.push(w);
      while ((await w.runBatch()) > 0);
      return w;
    };
    const incidentOf = async (id: string) => {
      const f = await recordFate(t.store.db, id);
      assert.ok(f?.fate === 'alert', `${id}: ${JSON.stringify(f)}`);
      return f.alert.incident_id;
    };
    // Host ws-1 talking to 203.0.113.9, under a different rule each time: no repeats, one shared key.
    const toC2 = (at: number, rule: string) => ({ raw: draft({ at, title: `Beacon ${rule}`, rule: { id: rule }, host: { name: 'ws-1' }, observables: [{ type: 'ip', value: '203.0.113.9', role: 'dst' }] }) });
    try {
      const [first] = (await intake.accept('s', null, [toC2(0, 'r1')])).ids;
      await (await worker('w1')).stop();
      const [second] = (await intake.accept('s', null, [toC2(MIN, 'r2')])).ids;
      await (await worker('w2')).stop();
      const incident = await incidentOf(first!);
      assert.equal(await incidentOf(second!), incident, 'the second worker knew the key host:ws-1|ip:203.0.113.9 from the log');

      // A worker that may remember one key: an alert of another host pushes ws-1's keys out, and the next
      // ws-1 alert opens an incident of its own. Nothing is lost: every alert is stored, each in one incident.
      const [other] = (await intake.accept('s', null, [{ raw: draft({ at: 2 * MIN, host: { name: 'ws-2' }, rule: { id: 'r9' } }) }])).ids;
      const w3 = await worker('w3', 1);
      const [third] = (await intake.accept('s', null, [toC2(3 * MIN, 'r3')])).ids;
      while ((await w3.runBatch()) > 0);
      const apart = await incidentOf(third!);
      assert.ok(apart && apart !== incident, 'grouped apart once the key was forgotten');
      assert.ok((await incidentOf(other!)) !== incident);
      const alerts = await t.store.db.selectFrom('alerts').select('id').execute();
      assert.equal(alerts.length, 4);
    } finally {
      for (const w of workers) await w.stop();
      await intake.close();
      await t.cleanup();
    }
  });
}

for (const dialect of DIALECTS) {
  test(`ingest on ${dialect}: while behind, indicators are logged and read with the folded ones; folded past a bound and once caught up`, async () => {
    const t = await openTestStore(dialect);
    const db = t.store.db;
    const intake = createIntakeWriter(t.store, { maxBacklog: 1e9 });
    let lag = 0;
    const ingest = createIngest({ store: t.store, normalizer: draftNormalizer, correlation: WINDOWS, owner: 'test', log, batchSize: 2, foldRows: 5, now: () => Date.now() + lag });
    const logged = async () => Number((await db.selectFrom('observation_log').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n);
    const folded = async () => Number((await db.selectFrom('incident_observables').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n);
    /** ws-1's incident's indicators, as the incident page and enrich read them: value → alerts. */
    const indicators = async () => {
      const inc = await db.selectFrom('incidents').select('id').where('host', '=', 'ws-1').executeTakeFirstOrThrow();
      const d = (await loadIncidentDetails(db, [inc.id], { parts: { indicators: true } })).get(inc.id);
      return d?.indicators?.map((i) => i.value).sort();
    };
    const toDst = (i: number) => ({
      raw: draft({ at: i * 1000, host: { name: 'ws-1' }, dst: { ip: `198.18.0.${i}` }, observables: [{ type: 'ip', value: `198.18.0.${i}`, role: 'dst' }] }),
    });
    try {
      // Keeping up: upserted at once.
      await intake.accept('s', null, [toDst(1)]);
      assert.equal(await ingest.runBatch(), 1);
      assert.deepEqual([await logged(), await folded()], [0, 2], 'ws-1 and 198.18.0.1, in the table');

      // Behind (the records waited 3 s): each batch's indicators go to the log, and the incident's page shows them.
      await intake.accept('s', null, [toDst(2), toDst(3), toDst(4), toDst(5), toDst(6), toDst(7)]);
      lag = 3000;
      assert.equal(await ingest.runBatch(), 2);
      assert.deepEqual([await logged(), await folded()], [3, 2], 'ws-1 again, 198.18.0.2 and .3: one log row each');
      assert.deepEqual(await indicators(), ['198.18.0.1', '198.18.0.2', '198.18.0.3', 'ws-1']);
      assert.equal(await ingest.runBatch(), 2);
      assert.equal(await logged(), 6);
      // Past the bound (5 rows), the log is folded before the next batch, even though ingest is still behind.
      assert.equal(await ingest.runBatch(), 2);
      assert.deepEqual([await logged(), await folded()], [3, 6], 'the six rows folded into ws-1 and five addresses; this batch logged');
      const ws1 = await db.selectFrom('incident_observables').select(['alerts', 'first_seq']).where('value', '=', 'ws-1').executeTakeFirstOrThrow();
      assert.deepEqual([Number(ws1.alerts), Number(ws1.first_seq)], [5, 1], 'the counts added up; first brought by record 1');

      // Caught up: the next read finds nothing and folds the rest. Nothing counted twice, nothing lost.
      assert.equal(await ingest.runBatch(), 0);
      assert.deepEqual([await logged(), await folded()], [0, 8]);
      const all = await db.selectFrom('incident_observables').select(['value', 'alerts']).orderBy('value').execute();
      assert.deepEqual(
        all.map((r) => [r.value, Number(r.alerts)]),
        [...[1, 2, 3, 4, 5, 6, 7].map((i) => [`198.18.0.${i}`, 1]), ['ws-1', 7]],
      );
      assert.deepEqual(await indicators(), [...[1, 2, 3, 4, 5, 6, 7].map((i) => `198.18.0.${i}`), 'ws-1']);
    } finally {
      await ingest.stop();
      await intake.close();
      await t.cleanup();
    }
  });
}

test('ingest: a record that makes its batch fail is found by halving and quarantined with the error; the rest go on', async () => {
  const t = await openTestStore('sqlite');
  const intake = createIntakeWriter(t.store, { maxBacklog: 1e9 });
  // The detector yields an alert the store refuses (no title): the write fails, not the parse.
  const poisonous: RecordNormalizer = {
    normalize: (text, detector, opts) =>
      text === 'poison' ? { detector: 'draft', alerts: [{ ...(JSON.parse(draft({ at: 0 })) as AlertDraft), title: null as unknown as string }] } : draftNormalizer.normalize(text, detector, opts),
  };
  const ingest = ingestOf(t, 'w', poisonous);
  try {
    const records = [1, 2, 3].map((i) => ({ raw: draft({ at: i * MIN, host: { name: `h${i}` } }) }));
    const { ids } = await intake.accept('s', null, [...records, { raw: 'poison' }, { raw: draft({ at: 9 * MIN, host: { name: 'h9' } }) }]);
    for (let rounds = 0; (await readCursor(t.store.db, INGEST_CURSOR)) < 5; rounds++) {
      assert.ok(rounds < 30, 'ingest got past the poisonous record');
      await ingest.runBatch();
    }
    const fates = await Promise.all(ids.map((id) => recordFate(t.store.db, id)));
    assert.deepEqual(fates.map((f) => f!.fate), ['alert', 'alert', 'alert', 'quarantined', 'alert']);
    const q = fates[3]!;
    assert.ok(q.fate === 'quarantined' && /^ingest failed: /.test(q.reason) && q.raw === 'poison', JSON.stringify(q));
  } finally {
    await ingest.stop();
    await intake.close();
    await t.cleanup();
  }
});

test('ingest: a record whose parse overruns the parse time limit is quarantined with its raw text, counted, and not parsed again', async () => {
  const t = await openTestStore('sqlite');
  const intake = createIntakeWriter(t.store, { maxBacklog: 1e9 });
  let slowParses = 0;
  // Stands in for a parser that is not linear on some shape: the record 'slow' takes 60 ms on the clock the
  // limit reads (counted, not waited for, so that a busy machine cannot change the outcome).
  let clock = 0;
  const slow: RecordNormalizer = {
    normalize(text, detector, opts) {
      if (text !== 'slow') return draftNormalizer.normalize(text, detector, opts);
      slowParses++;
      clock += 60;
      return draftNormalizer.normalize(draft({ at: 0, host: { name: 'slow' } }), detector, opts);
    },
  };
  const ingest = createIngest({ store: t.store, normalizer: slow, correlation: WINDOWS, owner: 'w', log, batchSize: 100, parse: { timeLimitMs: 20, clock: () => clock } });
  try {
    const before = (await registry.getSingleMetricAsString('fido_parse_time_limit_total')).match(/source="s"} (\d+)/)?.[1] ?? '0';
    const { ids } = await intake.accept('s', null, [{ raw: draft({ at: MIN, host: { name: 'h1' } }) }, { raw: 'slow' }, { raw: draft({ at: 2 * MIN, host: { name: 'h2' } }) }]);
    assert.equal(await ingest.runBatch(), 3, 'one batch: the slow record did not stop the others');
    assert.equal(await ingest.runBatch(), 0, 'and it is not parsed again');
    assert.equal(slowParses, 1);
    const fates = await Promise.all(ids.map((id) => recordFate(t.store.db, id)));
    assert.deepEqual(fates.map((f) => f!.fate), ['alert', 'quarantined', 'alert']);
    const q = fates[1]!;
    assert.ok(q.fate === 'quarantined' && q.reason === 'parse time limit: parsing took 60 ms (limit 20 ms)' && q.raw === 'slow', JSON.stringify(q));
    const after = (await registry.getSingleMetricAsString('fido_parse_time_limit_total')).match(/source="s"} (\d+)/)?.[1];
    assert.equal(Number(after), Number(before) + 1);
  } finally {
    await ingest.stop();
    await intake.close();
    await t.cleanup();
  }
});

test('ingest: a record its supervisor set aside is quarantined without being parsed, and the rest are derived', async () => {
  const t = await openTestStore('sqlite');
  const intake = createIntakeWriter(t.store, { maxBacklog: 1e9 });
  const never: RecordNormalizer = {
    normalize(text, detector, opts) {
      if (text === 'hang') throw new Error('the record set aside was parsed');
      return draftNormalizer.normalize(text, detector, opts);
    },
  };
  try {
    const { ids } = await intake.accept('s', null, [{ raw: draft({ at: MIN, host: { name: 'h1' } }) }, { raw: 'hang' }, { raw: draft({ at: 2 * MIN, host: { name: 'h2' } }) }]);
    const seqs = await t.store.db.selectFrom('intake').select(['id', 'seq']).where('id', 'in', ids).execute();
    const hang = Number(seqs.find((r) => r.id === ids[1])!.seq);
    const reason = 'parse time limit: parsing went on for more than 2000 ms and was stopped';
    const ingest = createIngest({ store: t.store, normalizer: never, correlation: WINDOWS, owner: 'w', log, parse: { setAside: new Map([[hang, reason]]) } });
    assert.equal(await ingest.runBatch(), 3);
    await ingest.stop();
    const fates = await Promise.all(ids.map((id) => recordFate(t.store.db, id)));
    assert.deepEqual(fates.map((f) => f!.fate), ['alert', 'quarantined', 'alert']);
    assert.ok(fates[1]!.fate === 'quarantined' && fates[1]!.reason === reason && fates[1]!.raw === 'hang', JSON.stringify(fates[1]));
  } finally {
    await intake.close();
    await t.cleanup();
  }
});

for (const dialect of DIALECTS) {
  test(`ingest on ${dialect}: while behind, changed incidents wait to be worked together; once caught up, all are due`, async () => {
    const t = await openTestStore(dialect);
    const intake = createIntakeWriter(t.store, { maxBacklog: 1e9 });
    // Ingest's clock, set against the records' real receive times: `lag` ms after them.
    let clock = Date.now();
    const lagBy = (ms: number) => (clock = Date.now() + ms);
    const COALESCE = 2000;
    const ingest = createIngest({ store: t.store, normalizer: draftNormalizer, correlation: WINDOWS, owner: 'test', log, batchSize: 4, coalesceMs: COALESCE, now: () => clock });
    const queued = async () =>
      new Map(
        (await t.store.db.selectFrom('stage_queue').innerJoin('incidents', 'incidents.id', 'stage_queue.item_id').select(['incidents.host', 'stage_queue.available_at', 'stage_queue.attempts']).where('stage', '=', 'enrich').execute()).map(
          (r) => [r.host, { due: Number(r.available_at), attempts: r.attempts }],
        ),
      );
    try {
      const rec = (host: string, i: number) => ({ raw: draft({ at: i * MIN, host: { name: host } }) });
      // Not behind (the record has just arrived): due at once.
      await intake.accept('s', null, [rec('h0', 0)]);
      lagBy(0);
      assert.equal(await ingest.runBatch(), 1);
      const h0Due = clock;
      assert.equal((await queued()).get('h0')?.due, h0Due);

      // A burst: its records have waited 3 s when ingest reads them. h0, already waiting and due, keeps its
      // place; h1-h3 wait COALESCE (the lag, at most COALESCE).
      await intake.accept('s', null, [rec('h0', 1), rec('h1', 2), rec('h2', 3), rec('h3', 4), rec('h4', 5), rec('h5', 6), rec('h6', 7), rec('h7', 8)]);
      lagBy(3000);
      assert.equal(await ingest.runBatch(), 4);
      let q = await queued();
      assert.equal(q.get('h0')?.due, h0Due, 'an incident already due stays due');
      for (const h of ['h1', 'h2', 'h3']) assert.equal(q.get(h)?.due, clock + COALESCE, `${h} waits while ingest is behind`);
      // A failing incident backing off is not brought forward by what follows.
      const retryAt = clock + 60_000;
      const h1 = (await t.store.db.selectFrom('incidents').select('id').where('host', '=', 'h1').executeTakeFirstOrThrow()).id;
      await t.store.db.updateTable('stage_queue').set({ attempts: 2, available_at: retryAt }).where('item_id', '=', h1).execute();

      // Behind by 1.5 s: the wait is the lag. This batch empties the log; the next read finds nothing and
      // makes everything waiting due.
      const received = Number((await t.store.db.selectFrom('intake').select('received_at').orderBy('seq', 'desc').executeTakeFirstOrThrow()).received_at);
      clock = received + 1500;
      assert.equal(await ingest.runBatch(), 4);
      q = await queued();
      for (const h of ['h4', 'h5', 'h6', 'h7']) assert.equal(q.get(h)?.due, clock + 1500);
      clock += 100;
      assert.equal(await ingest.runBatch(), 0);
      q = await queued();
      for (const h of ['h2', 'h3', 'h4', 'h5', 'h6', 'h7']) assert.equal(q.get(h)?.due, clock, `${h} is due once ingest caught up`);
      assert.deepEqual(q.get('h1'), { due: retryAt, attempts: 2 }, 'the backing-off incident keeps its retry time');

      // A batch that is no longer behind after a burst does the same within its own transaction.
      await intake.accept('s', null, [rec('h8', 9), rec('h9', 10), rec('h10', 11), rec('h11', 12)]);
      lagBy(5000);
      assert.equal(await ingest.runBatch(), 4);
      assert.equal((await queued()).get('h8')?.due, clock + COALESCE);
      await intake.accept('s', null, [rec('h12', 13)]);
      lagBy(0);
      assert.equal(await ingest.runBatch(), 1);
      q = await queued();
      for (const h of ['h8', 'h9', 'h10', 'h11', 'h12']) assert.equal(q.get(h)?.due, clock);
    } finally {
      await ingest.stop();
      await intake.close();
      await t.cleanup();
    }
  });
}
