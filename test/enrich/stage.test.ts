import { test } from 'node:test';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { DIALECTS, openTestStore } from '../support/stores.js';
import { claim, complete, enqueue, type ClaimedItem } from '../../src/store/queue.js';
import { loadIncidentDetail } from '../../src/store/incidents.js';
import type { Store } from '../../src/store/store.js';
import { createEnricher, isEnrichmentError } from '../../src/enrich/layer.js';
import { createConfiguredEnricher, createProviders } from '../../src/enrich/registry.js';
import { createEnrichStage, incidentSubjects, lookupAll } from '../../src/pipeline/stages/enrich.js';
import type { Stage } from '../../src/pipeline/stage.js';
import type { DialectName } from '../../src/store/dialect.js';
import type { Enricher } from '../../src/enrich/layer.js';
import type { HistoryData } from '../../src/enrich/providers/history.js';
import type { ComponentEntry } from '../../src/config/schema.js';
import { ManualClock, dataDir, insertAlert, insertIncident, scripted } from './support.js';
import { foldObservations } from '../../src/store/observations.js';

const NOW = Date.parse('2026-11-27T12:00:00Z');
const DAY = 86_400_000;
const SHA = '2da3a3a1b63431feef4eb46ed6243ba18deab63183665e9ae8bb72b3460f5d1a';

const ENTRIES: ComponentEntry[] = [
  { name: 'segments', kind: 'netsegments', segments: [{ name: 'workstations', cidr: '10.1.0.0/16', zone: 'corporate', criticality: 'medium' }] },
  { name: 'inventory', kind: 'inventory', file: 'inventory.csv' },
  { name: 'indicators', kind: 'indicators', file: 'indicators.csv' },
  { name: 'history', kind: 'history', window: '30d' },
];

function files(): string {
  return dataDir({
    'inventory.csv': 'host,ip,owner,criticality\nws-042.corp.example,10.1.2.3,alice,medium\n',
    // 198.51.100.77 is the indicator that later alerts bring (known, so that its answers are stored).
    'indicators.csv': `indicator,type,verdict,source\n203.0.113.7,ip,malicious,demo\nevil.example,domain,malicious,demo\n${SHA},sha256,malicious,demo\n198.51.100.77,ip,suspicious,demo\n`,
  });
}

async function seed(store: Store): Promise<void> {
  const db = store.db;
  await insertIncident(db, { id: 'I-prev', time: NOW - 5 * DAY, host: 'ws-042', verdict: 'true_positive' });
  await insertAlert(db, { id: 'P1', incident: 'I-prev', time: NOW - 5 * DAY, host: 'ws-042', observables: [['ip', '203.0.113.7', 'dst']] });
  await insertIncident(db, { id: 'I1', time: NOW - 60_000, host: 'ws-042', user: 'alice' });
  await insertAlert(db, {
    id: 'A1',
    incident: 'I1',
    time: NOW - 60_000,
    host: 'ws-042',
    user: 'alice',
    observables: [
      ['ip', '10.1.2.3', 'src'],
      ['ip', '203.0.113.7', 'dst'],
      ['domain', 'cdn.evil.example', 'dst'],
      ['sha256', SHA, 'file'],
    ],
  });
  await insertAlert(db, {
    id: 'A2',
    incident: 'I1',
    time: NOW - 30_000,
    host: 'ws-042',
    observables: [
      ['ip', '203.0.113.7', 'dst'],
      ['url', 'http://evil.example/payload.exe', 'url'],
    ],
  });
}

/** One batch as the runner does it: claim, compute, write + complete in one transaction, afterCommit. */
async function runOnce<T>(store: Store, stage: Stage<T>, limit = 10): Promise<void> {
  const items = await claim(store, 'enrich', 'test-worker', limit, 60_000, NOW);
  const computed = await stage.compute(items, store.db);
  await store.db.transaction().execute(async (tx) => {
    await stage.write(tx, items, computed);
    await complete(tx, items);
  });
  stage.afterCommit?.(items, computed);
}

/** A seeded store (seed()) with the ENTRIES providers on a manual clock; everything closed after `fn`. */
async function withSeeded(dialect: DialectName, fn: (r: { store: Store; clock: ManualClock; dir: string; enricher: Enricher }) => Promise<void>): Promise<void> {
  const t = await openTestStore(dialect);
  const clock = new ManualClock(NOW);
  const dir = files();
  try {
    await seed(t.store);
    const enricher = await createConfiguredEnricher(ENTRIES, { store: t.store, configDir: dir, clock });
    try {
      await fn({ store: t.store, clock, dir, enricher });
    } finally {
      await enricher.close();
    }
  } finally {
    await t.cleanup();
  }
}


/** Incidents that share subjects with I1 and with each other (ws-042, 203.0.113.7, bob). */
async function seedMore(store: Store): Promise<void> {
  const db = store.db;
  await insertIncident(db, { id: 'I2', time: NOW - 50_000, host: 'ws-042' });
  await insertAlert(db, { id: 'B1', incident: 'I2', time: NOW - 50_000, host: 'ws-042', observables: [['ip', '203.0.113.7', 'dst'], ['ip', '198.51.100.5', 'dst']] });
  await insertIncident(db, { id: 'I3', time: NOW - 40_000, user: 'bob' });
  await insertAlert(db, { id: 'C1', incident: 'I3', time: NOW - 40_000, user: 'bob', observables: [['ip', '203.0.113.7', 'dst'], ['ip', '10.1.2.3', 'src']] });
  await insertAlert(db, { id: 'C2', incident: 'I3', time: NOW - 39_000, host: '10.1.2.3', user: 'bob' });
}

/** Everything the stage writes, in a stable order. */
async function written(store: Store) {
  const rows = await store.db.selectFrom('enrichments').selectAll().orderBy('incident_id').orderBy('provider').orderBy('subject_type').orderBy('subject_value').execute();
  const timeline = await store.db.selectFrom('timeline').select(['incident_id', 'at', 'summary']).where('kind', '=', 'enriched').orderBy('incident_id').execute();
  const queue = await store.db.selectFrom('stage_queue').select(['stage', 'item_id']).orderBy('stage').orderBy('item_id').execute();
  // How each answer was obtained (cache) differs by batching on purpose: a subject shared in a batch is coalesced.
  return { rows: rows.map(({ cache: _cache, ...r }) => ({ ...r, fetched_at: Number(r.fetched_at) })), timeline: timeline.map((x) => ({ ...x, at: Number(x.at) })), queue };
}

for (const dialect of DIALECTS) {
  test(`enrich stage on ${dialect}: looks up an incident's subjects, stores answers, hands on to score`, async () => {
    const t = await openTestStore(dialect);
    const clock = new ManualClock(NOW);
    const dir = files();
    try {
      const { store } = t;
      await seed(store);
      await enqueue(store.db, 'enrich', ['I1', 'I-gone'], NOW);
      const enricher = await createConfiguredEnricher(ENTRIES, { store, configDir: dir, clock });
      await runOnce(store, createEnrichStage({ store, enricher, now: clock.now }));
      await enricher.close();

      const detail = (await loadIncidentDetail(store.db, 'I1'))!;
      const get = (provider: string, subject: string) => {
        const e = detail.enrichment.find((x) => x.provider === provider && `${x.subject.type}:${x.subject.value}` === subject);
        assert.ok(e, `no ${provider} answer for ${subject}`);
        assert.ok(!('error' in e), `${provider} ${subject} failed: ${JSON.stringify(e)}`);
        return e as Extract<typeof e, { data: unknown }>;
      };
      assert.equal(get('segments', 'ip:10.1.2.3').data.segment, 'workstations');
      assert.equal(get('inventory', 'host:ws-042').data.owner, 'alice');
      assert.equal(get('inventory', 'ip:10.1.2.3').found, true);
      assert.equal(get('indicators', 'ip:203.0.113.7').data.verdict, 'malicious');
      assert.equal(get('indicators', 'domain:cdn.evil.example').found, true);
      assert.equal(get('indicators', `sha256:${SHA}`).found, true);
      assert.equal(get('indicators', 'url:http://evil.example/payload.exe').found, true);
      // Nothing known about an indicator is not stored; about the incident's host or user it is.
      assert.equal(detail.enrichment.find((x) => x.provider === 'segments' && x.subject.value === '203.0.113.7'), undefined);

      // History is stored as *previous* history: the incident being enriched is not in it.
      const hostHistory = get('history', 'host:ws-042');
      const h = hostHistory.data as unknown as HistoryData;
      assert.deepEqual(h.incidents.map((i) => i.id), ['I-prev']);
      assert.equal(h.verdicts.true_positive, 1);
      assert.equal(get('history', 'user:alice').found, false, 'alice has no earlier incident');
      assert.equal(get('history', 'ip:203.0.113.7').found, true);

      const timeline = detail.timeline.filter((x) => x.kind === 'enriched');
      assert.equal(timeline.length, 1);
      assert.match(timeline[0]!.summary, /^enriched 7 subjects with 4 providers: \d+ found$/);
      const queue = await store.db.selectFrom('stage_queue').select(['stage', 'item_id']).orderBy('stage').execute();
      assert.deepEqual(queue, [{ stage: 'score', item_id: 'I1' }], 'I1 goes on to score; a vanished incident is dropped');
      const rows = await store.db.selectFrom('enrichments').select('incident_id').distinct().execute();
      assert.deepEqual(rows.map((r) => r.incident_id), ['I1']);

      // Second run: the indicator source fails and the segments provider was removed from the config.
      const failing = scripted('indicators', () => {
        throw new Error('feed unavailable');
      }, { subjects: ['ip', 'domain', 'url', 'sha256'] });
      const kept = await createProviders(ENTRIES.filter((e) => e.name === 'inventory' || e.name === 'history'), { store, configDir: dir, clock });
      const enricher2 = createEnricher({ providers: [...kept, failing], store, clock });
      await enqueue(store.db, 'enrich', ['I1'], NOW);
      await runOnce(store, createEnrichStage({ store, enricher: enricher2, now: clock.now }));
      await enricher2.close();

      const after = await store.db.selectFrom('enrichments').selectAll().where('incident_id', '=', 'I1').execute();
      assert.equal(after.filter((r) => r.provider === 'segments').length, 0, 'rows of a removed provider are deleted');
      const ind = after.find((r) => r.provider === 'indicators' && r.subject_value === '203.0.113.7')!;
      assert.equal(ind.error, null, 'a failure does not overwrite an earlier good answer');
      assert.equal(JSON.parse(ind.data).verdict, 'malicious');
      const detail2 = (await loadIncidentDetail(store.db, 'I1'))!;
      assert.match(detail2.timeline.filter((x) => x.kind === 'enriched')[1]!.summary, /failed \(indicators error ×\d+\)/);
    } finally {
      await t.cleanup();
    }
  });

  test(`enrich stage on ${dialect}: subjects are capped, taking each type in turn`, async () => {
    const t = await openTestStore(dialect);
    try {
      const { store } = t;
      await seed(store);
      const ips = Array.from({ length: 300 }, (_, i) => ['ip', `198.51.100.${i % 250}`, 'dst'] as [string, string, string]);
      await insertAlert(store.db, { id: 'A3', incident: 'I1', time: NOW, observables: ips.slice(0, 250) });
      const capped = await incidentSubjects(store.db, { id: 'I1', host: 'ws-042', user_name: 'alice' }, 5);
      assert.deepEqual(
        capped.subjects.map((s) => `${s.type}:${s.value}`),
        ['host:ws-042', 'user:alice', 'ip:203.0.113.7', 'domain:cdn.evil.example', `url:http://evil.example/payload.exe`],
      );
      assert.equal(capped.total, 2 + 252 + 3);
      const all = await incidentSubjects(store.db, { id: 'I1', host: 'ws-042', user_name: 'alice' }, 1000);
      assert.equal(all.subjects.length, all.total);
    } finally {
      await t.cleanup();
    }
  });

  test(`enrich stage on ${dialect}: a batch stores exactly what enriching each incident alone stores`, async () => {
    const batched = await openTestStore(dialect);
    const alone = await openTestStore(dialect);
    const dir = files();
    try {
      for (const [t, limit] of [
        [batched, 10],
        [alone, 1],
      ] as const) {
        const { store } = t;
        await seed(store);
        await seedMore(store);
        await enqueue(store.db, 'enrich', ['I1', 'I2', 'I3', 'I-prev'], NOW);
        const clock = new ManualClock(NOW);
        const enricher = await createConfiguredEnricher(ENTRIES, { store, configDir: dir, clock });
        const stage = createEnrichStage({ store, enricher, now: clock.now });
        for (let i = 0; i < 4; i++) await runOnce(store, stage, limit);
        await enricher.close();
      }
      const a = await written(batched.store);
      const b = await written(alone.store);
      assert.equal(a.rows.length, b.rows.length);
      assert.ok(a.rows.length > 20, `${a.rows.length} rows`);
      // Not-found answers are stored about hosts and users only.
      assert.deepEqual(a.rows.filter((r) => !r.found && r.subject_type !== 'host' && r.subject_type !== 'user'), []);
      assert.deepEqual(a, b);
      assert.equal(a.timeline.length, 4);
      // Shared subjects were looked up once for the batch; each incident still gets its own history.
      const c2 = a.rows.filter((r) => r.provider === 'history' && r.subject_value === '203.0.113.7');
      assert.deepEqual(c2.map((r) => [r.incident_id, (JSON.parse(r.data) as HistoryData).incidents.map((i) => i.id)]), [
        ['I-prev', ['I3', 'I2', 'I1']],
        ['I1', ['I3', 'I2', 'I-prev']],
        ['I2', ['I3', 'I1', 'I-prev']],
        ['I3', ['I2', 'I1', 'I-prev']],
      ]);
    } finally {
      await batched.cleanup();
      await alone.cleanup();
    }
  });

  // With a revision, the answers still current when the cap drops are not asked again: they must go all the same.
  for (const revision of [false, true]) test(`enrich stage on ${dialect}: stale rows go when the cap drops${revision ? ' (provider with a revision)' : ''}; rows past one statement are all written`, async () => {
    const t = await openTestStore(dialect);
    const clock = new ManualClock(NOW);
    try {
      const { store } = t;
      await seed(store);
      const ips = Array.from({ length: 130 }, (_, i) => ['ip', `198.51.100.${i}`, 'dst'] as [string, string, string]);
      await insertAlert(store.db, { id: 'A3', incident: 'I1', time: NOW, observables: ips });
      const answers = scripted('answers', (s) => ({ found: true, data: { v: s.value } }), { subjects: ['ip', 'host', 'user'], local: true, inMemory: true });
      if (revision) answers.revision = () => Promise.resolve('r1');
      const failing = scripted('failing', () => {
        throw new Error('down');
      }, { subjects: ['ip'], local: true, inMemory: true });
      const enricher = createEnricher({ providers: [answers, failing], store, clock, settings: { failing: { breaker_failures: 1000 } } });
      await enqueue(store.db, 'enrich', ['I1'], NOW);
      await runOnce(store, createEnrichStage({ store, enricher, now: clock.now, maxSubjects: 500 }));
      const all = await store.db.selectFrom('enrichments').selectAll().where('incident_id', '=', 'I1').execute();
      // ws-042, alice and 132 IPs (130 + 10.1.2.3 and 203.0.113.7) answered; every IP failed: more than one statement each.
      assert.equal(all.filter((r) => r.provider === 'answers').length, 134);
      assert.equal(all.filter((r) => r.provider === 'failing' && r.error !== null).length, 132);

      await enqueue(store.db, 'enrich', ['I1'], NOW);
      await runOnce(store, createEnrichStage({ store, enricher, now: clock.now, maxSubjects: 3 }));
      const kept = await store.db.selectFrom('enrichments').select(['provider', 'subject_type', 'subject_value']).where('incident_id', '=', 'I1').orderBy('provider').orderBy('subject_value').execute();
      assert.deepEqual(kept.map((r) => `${r.provider} ${r.subject_type}:${r.subject_value}`), [
        'answers ip:203.0.113.7',
        'answers user:alice',
        'answers host:ws-042',
        'failing ip:203.0.113.7',
      ]);
      await enricher.close();
    } finally {
      await t.cleanup();
    }
  });

  test(`enrich stage on ${dialect}: an incident past the candidate limit gets the subjects it gets alone`, async () => {
    const t = await openTestStore(dialect);
    try {
      const { store } = t;
      await seed(store);
      await insertIncident(store.db, { id: 'I-big', time: NOW });
      const flood = Array.from({ length: 5001 }, (_, i) => ['ip', `10.200.${i >> 8}.${i & 255}`, 'dst'] as [string, string, string]);
      await insertAlert(store.db, { id: 'F1', incident: 'I-big', time: NOW, observables: flood });
      const asked = scripted('asked', () => ({ found: false, data: {} }), { subjects: ['ip', 'host', 'user', 'domain', 'url', 'sha256'], local: true, inMemory: true });
      const stage = createEnrichStage({ store, enricher: createEnricher({ providers: [asked] }) });
      const item = (id: string) => ({ item_id: id }) as ClaimedItem;
      const together = await stage.compute([item('I1'), item('I-big')], store.db);
      const apart = [...(await stage.compute([item('I1')], store.db)), ...(await stage.compute([item('I-big')], store.db))];
      const view = (list: typeof together) => list.map((e) => [e.incidentId, e.subjects, e.omitted, e.results.map((r) => `${r.subject.type}:${r.subject.value}`)]);
      assert.deepEqual(view(together), view(apart));
      assert.deepEqual([together[1]!.subjects, together[1]!.omitted], [200, 4800], 'the flood is read up to the candidate limit');
      assert.deepEqual([together[0]!.subjects, together[0]!.omitted], [7, 0]);
      const big = await incidentSubjects(store.db, { id: 'I-big', host: null, user_name: null }, 200);
      assert.equal(big.total, 5000);
    } finally {
      await t.cleanup();
    }
  });

  test(`enrich stage on ${dialect}: a worker finds the answers another worker stored, current, and does not ask again`, () =>
    withSeeded(dialect, async ({ store, clock, enricher }) => {
      // Two stages: two workers (processes).
      const [a, b] = [createEnrichStage({ store, enricher, now: clock.now }), createEnrichStage({ store, enricher, now: clock.now })];
      const run = async (stage: typeof a) => {
        await enqueue(store.db, 'enrich', ['I1'], NOW);
        await runOnce(store, stage);
      };
      await run(a);
      // b enriches after a new alert: the new indicator's answers are b's.
      clock.t += 60_000;
      await insertAlert(store.db, { id: 'A3', incident: 'I1', time: clock.t, host: 'ws-042', observables: [['ip', '198.51.100.77', 'dst']] });
      await run(b);
      const byB = await store.db.selectFrom('enrichments').select(['provider', 'fetched_at']).where('subject_value', '=', '198.51.100.77').execute();
      assert.deepEqual(byB.map((r) => r.provider), ['indicators']);
      // a runs again, past history's reuse period (a refresh): it must find b's answers current and leave
      // them as they are, not ask about the indicator again and rewrite them.
      clock.t += 60_000;
      await run(a);
      assert.deepEqual(await store.db.selectFrom('enrichments').select(['provider', 'fetched_at']).where('subject_value', '=', '198.51.100.77').execute(), byB);
    }));

  test(`enrich stage on ${dialect}: a pass asks only the indicators new since the last, whichever worker makes it; a new revision or provider makes it whole, a lapsed reuse period a refresh`, async () => {
    const t = await openTestStore(dialect);
    const clock = new ManualClock(NOW);
    try {
      const { store } = t;
      let rev = 'r1';
      // One provider with a data revision (a file), one without that may reuse its answers for 30 s (history).
      // Both know every subject (answers that found nothing about an indicator are not stored).
      const fixed = { ...scripted('fixed', () => ({ found: true, data: { rev } }), { subjects: ['ip', 'host'], local: true, inMemory: true }), revision: async () => rev };
      const timed = { ...scripted('timed', () => ({ found: true, data: {} }), { subjects: ['ip', 'host'], local: true, inMemory: true }), reuseMs: 30_000 };
      const enricher = createEnricher({ providers: [fixed, timed], clock });
      const asked = () => {
        const out = { fixed: fixed.calls.map((c) => c.value).sort(), timed: timed.calls.map((c) => c.value).sort() };
        fixed.calls.length = 0;
        timed.calls.length = 0;
        return out;
      };
      let seq = 0;
      const alert = async (ip: string) => {
        seq++;
        await insertAlert(store.db, { id: `A${seq}`, incident: 'I1', time: clock.t, host: 'ws-1', observables: [['ip', ip, 'dst']], seq });
      };
      /** One pass; whether it was whole and how many subjects it asked about (the timeline says so too). */
      const pass = async (stage: ReturnType<typeof createEnrichStage>) => {
        await enqueue(store.db, 'enrich', ['I1'], NOW);
        const items = await claim(store, 'enrich', 'test-worker', 10, 60_000, NOW);
        const [e] = await stage.compute(items, store.db);
        await store.db.transaction().execute(async (tx) => {
          await stage.write(tx, items, [e!]);
          await complete(tx, items);
        });
        stage.afterCommit?.(items, [e!]);
        return { whole: e!.whole, subjects: e!.subjects };
      };
      const answered = async () => (await store.db.selectFrom('enrichments').select(['provider', 'subject_value']).where('incident_id', '=', 'I1').execute()).map((r) => `${r.provider} ${r.subject_value}`).sort();
      await insertIncident(store.db, { id: 'I1', time: NOW, host: 'ws-1' });
      const stage = createEnrichStage({ store, enricher, now: clock.now });

      await alert('203.0.113.7');
      assert.deepEqual(await pass(stage), { whole: true, subjects: 2 });
      assert.deepEqual(asked(), { fixed: ['203.0.113.7', 'ws-1'], timed: ['203.0.113.7', 'ws-1'] }, 'the first pass is whole');

      clock.t += 1000;
      await alert('198.51.100.1');
      assert.deepEqual(await pass(stage), { whole: false, subjects: 1 });
      assert.deepEqual(asked(), { fixed: ['198.51.100.1'], timed: ['198.51.100.1'] }, 'then only what is new');
      assert.deepEqual(await answered(), ['fixed 198.51.100.1', 'fixed 203.0.113.7', 'fixed ws-1', 'timed 198.51.100.1', 'timed 203.0.113.7', 'timed ws-1'], 'the other answers stay');
      assert.deepEqual(await pass(stage), { whole: false, subjects: 0 });
      assert.deepEqual(asked(), { fixed: [], timed: [] }, 'nothing new, nothing asked');

      // The file changed: the next pass is whole, and asks the provider with the revision again about everything.
      rev = 'r2';
      clock.t += 1000;
      await alert('198.51.100.2');
      assert.deepEqual(await pass(stage), { whole: true, subjects: 4 });
      assert.deepEqual(asked(), { fixed: ['198.51.100.1', '198.51.100.2', '203.0.113.7', 'ws-1'], timed: ['198.51.100.2'] });

      // The reuse period lapsed: a refresh asks the provider without a revision about every subject again,
      // the one with a revision only about the new one (its answers are current by revision), and removes nothing.
      clock.t += 30_000;
      await alert('198.51.100.3');
      assert.deepEqual(await pass(stage), { whole: false, subjects: 5 });
      assert.deepEqual(asked(), { fixed: ['198.51.100.3'], timed: ['198.51.100.1', '198.51.100.2', '198.51.100.3', '203.0.113.7', 'ws-1'] });
      assert.equal((await answered()).length, 10, 'five subjects, two providers: nothing removed');

      // Another worker (or a restart) goes on from the incident's last pass over every subject, which is kept
      // with the incident: it asks only about what is new.
      clock.t += 1000;
      await alert('198.51.100.4');
      assert.deepEqual(await pass(createEnrichStage({ store, enricher, now: clock.now })), { whole: false, subjects: 1 });
      assert.deepEqual(asked(), { fixed: ['198.51.100.4'], timed: ['198.51.100.4'] });
      assert.equal(Number((await store.db.selectFrom('incidents').select('enriched_seq').where('id', '=', 'I1').executeTakeFirstOrThrow()).enriched_seq), seq);

      // A failure stored for the provider with a revision is asked again at the next refresh.
      await store.db.updateTable('enrichments').set({ error: 'timeout: late', revision: null, found: 0 }).where('provider', '=', 'fixed').where('subject_value', '=', 'ws-1').execute();
      clock.t += 30_000;
      await alert('198.51.100.5');
      assert.deepEqual(await pass(stage), { whole: false, subjects: 7 });
      assert.deepEqual(asked().fixed, ['198.51.100.5', 'ws-1']);

      // Another set of providers (here one more) makes the next pass whole, whichever worker makes it.
      const extra = scripted('extra', () => ({ found: true, data: {} }), { subjects: ['ip'], local: true, inMemory: true });
      const more = createEnricher({ providers: [fixed, timed, extra], clock });
      clock.t += 1000;
      await alert('198.51.100.6');
      assert.deepEqual(await pass(createEnrichStage({ store, enricher: more, now: clock.now })), { whole: true, subjects: 8 });
      assert.deepEqual(
        extra.calls.map((c) => c.value).sort(),
        ['198.51.100.1', '198.51.100.2', '198.51.100.3', '198.51.100.4', '198.51.100.5', '198.51.100.6', '203.0.113.7'],
      );

      // Indicators that ingest logged while behind (observation_log, not folded yet): the new one is asked
      // about, the one the incident had is not; a whole pass asks about them all; folded, nothing is new.
      const logged = async (ip: string) => {
        seq++;
        await insertAlert(store.db, { id: `A${seq}`, incident: 'I1', time: clock.t, host: 'ws-1', observables: [['ip', ip, 'dst']], seq, logged: true });
      };
      // (Back to the two providers: the first pass is whole, the set having changed.)
      const later = createEnrichStage({ store, enricher, now: clock.now });
      clock.t += 1000;
      assert.equal((await pass(later)).whole, true);
      await logged('198.51.100.7');
      await logged('203.0.113.7');
      asked();
      assert.deepEqual(await pass(later), { whole: false, subjects: 1 });
      assert.deepEqual(asked(), { fixed: ['198.51.100.7'], timed: ['198.51.100.7'] });
      await logged('198.51.100.8');
      rev = 'r3';
      assert.deepEqual(await pass(later), { whole: true, subjects: 10 });
      assert.deepEqual(asked().fixed, ['198.51.100.1', '198.51.100.2', '198.51.100.3', '198.51.100.4', '198.51.100.5', '198.51.100.6', '198.51.100.7', '198.51.100.8', '203.0.113.7', 'ws-1']);
      await store.db.transaction().execute((tx) => foldObservations(tx));
      assert.deepEqual(await pass(later), { whole: false, subjects: 0 });
      await more.close();
      await enricher.close();
    } finally {
      await t.cleanup();
    }
  });

  test(`enrich stage on ${dialect}: nothing found about an indicator is not stored (about a host it is), and an answer that stops finding goes`, async () => {
    const t = await openTestStore(dialect);
    try {
      const { store } = t;
      let rev = 'r1';
      let known = true;
      const p = { ...scripted('p', (s) => ({ found: s.type === 'ip' && s.value === '198.51.100.1' && known, data: { rev } }), { subjects: ['ip', 'host'], local: true, inMemory: true }), revision: async () => rev };
      const enricher = createEnricher({ providers: [p] });
      await insertIncident(store.db, { id: 'I1', time: NOW, host: 'ws-1' });
      await insertAlert(store.db, { id: 'A1', incident: 'I1', time: NOW, host: 'ws-1', observables: [['ip', '198.51.100.1', 'dst'], ['ip', '198.51.100.2', 'dst']], seq: 1 });
      const stage = createEnrichStage({ store, enricher });
      const stored = async () =>
        (await store.db.selectFrom('enrichments').select(['subject_value', 'found']).where('incident_id', '=', 'I1').orderBy('subject_value').execute()).map((r) => `${r.subject_value} ${Number(r.found)}`);
      await enqueue(store.db, 'enrich', ['I1'], NOW);
      await runOnce(store, stage);
      assert.deepEqual(p.calls.map((c) => c.value).sort(), ['198.51.100.1', '198.51.100.2', 'ws-1']);
      assert.deepEqual(await stored(), ['198.51.100.1 1', 'ws-1 0']);
      // The provider's data changes and it no longer knows the address: the answer stored about it goes.
      known = false;
      rev = 'r2';
      await enqueue(store.db, 'enrich', ['I1'], NOW);
      await runOnce(store, stage);
      assert.deepEqual(await stored(), ['ws-1 0']);
      const notes = await store.db.selectFrom('timeline').select('summary').where('incident_id', '=', 'I1').where('kind', '=', 'enriched').orderBy('id').execute();
      assert.deepEqual(notes.map((n) => n.summary), ['enriched 3 subjects with 1 provider: 1 found', 'enriched 3 subjects with 1 provider: 0 found']);
      await enricher.close();
    } finally {
      await t.cleanup();
    }
  });

  // An incident that grows keeps its history answers for `refresh`; new subjects are always asked.
  for (const refresh of ['30s', '0s']) test(`enrich stage on ${dialect}: history answers are asked again after refresh (${refresh})`, async () => {
    const t = await openTestStore(dialect);
    const clock = new ManualClock(NOW);
    try {
      await seed(t.store);
      const entries = ENTRIES.map((e) => (e.kind === 'history' ? { ...e, refresh } : e));
      const enricher = await createConfiguredEnricher(entries, { store: t.store, configDir: files(), clock });
      const stage = createEnrichStage({ store: t.store, enricher, now: clock.now });
      const history = async (value: string) => {
        const row = await t.store.db.selectFrom('enrichments').select(['data', 'fetched_at']).where('incident_id', '=', 'I1').where('provider', '=', 'history').where('subject_value', '=', value).executeTakeFirst();
        return row && { incidents: (JSON.parse(row.data) as HistoryData).incidents.map((i) => i.id).sort(), fetched_at: Number(row.fetched_at) };
      };
      const enrichI1 = async () => {
        await enqueue(t.store.db, 'enrich', ['I1'], NOW);
        await runOnce(t.store, stage);
      };
      try {
        await enrichI1();
        assert.deepEqual((await history('203.0.113.7'))?.incidents, ['I-prev']);
        // Elsewhere, another incident sees the same indicator: its history changes.
        await insertIncident(t.store.db, { id: 'I9', time: clock.t + 5_000, host: 'ws-077' });
        await insertAlert(t.store.db, { id: 'N1', incident: 'I9', time: clock.t + 5_000, host: 'ws-077', observables: [['ip', '203.0.113.7', 'dst'], ['ip', '198.51.100.77', 'dst']] });
        // 10 s later an alert joins I1 with a new indicator: that one is asked about; the stored answer
        // about 203.0.113.7 is kept within the refresh period (and asked again when there is none).
        clock.t += 10_000;
        await insertAlert(t.store.db, { id: 'A3', incident: 'I1', time: clock.t, host: 'ws-042', observables: [['ip', '198.51.100.77', 'dst']] });
        await enrichI1();
        assert.deepEqual(await history('198.51.100.77'), { incidents: ['I9'], fetched_at: clock.t });
        assert.deepEqual((await history('203.0.113.7'))?.incidents, refresh === '0s' ? ['I-prev', 'I9'] : ['I-prev']);
        // Past the refresh period it is asked again.
        clock.t += 30_000;
        await enrichI1();
        assert.deepEqual((await history('203.0.113.7'))?.incidents, ['I-prev', 'I9']);
      } finally {
        await enricher.close();
      }
    } finally {
      await t.cleanup();
    }
  });

  test(`enrich stage on ${dialect}: a re-run writes only what changed and notes only a change`, () =>
    withSeeded(dialect, async ({ store, clock, dir, enricher }) => {
      const stage = createEnrichStage({ store, enricher, now: clock.now });
      const enrichI1 = async () => {
        await enqueue(store.db, 'enrich', ['I1'], NOW); // runOnce claims as of NOW
        await runOnce(store, stage);
      };
      const rows = () => store.db.selectFrom('enrichments').select(['provider', 'subject_type', 'subject_value', 'fetched_at']).where('incident_id', '=', 'I1').execute();
      const notes = async () => (await store.db.selectFrom('timeline').select('at').where('incident_id', '=', 'I1').where('kind', '=', 'enriched').execute()).length;
      await enrichI1();
      const first = await rows();
      assert.ok(first.length > 8, `${first.length} answers`);
      assert.equal(await notes(), 1);

      // Nothing new: every answer is the same, so nothing is rewritten and the timeline gets no copy —
      // but the incident still goes on to score (its alerts may have changed).
      clock.t += 60_000;
      await store.db.deleteFrom('stage_queue').execute();
      await enrichI1();
      assert.deepEqual(await rows(), first);
      assert.equal(await notes(), 1);
      assert.deepEqual((await store.db.selectFrom('stage_queue').select('item_id').where('stage', '=', 'score').execute()).map((r) => r.item_id), ['I1']);

      // A new alert with a new indicator: its answers are added, the others stay as they were.
      clock.t += 60_000;
      await insertAlert(store.db, { id: 'A3', incident: 'I1', time: clock.t, host: 'ws-042', observables: [['ip', '198.51.100.77', 'dst']] });
      await enrichI1();
      const third = await rows();
      const added = third.filter((r) => Number(r.fetched_at) === clock.t);
      assert.ok(added.length >= 1 && added.every((r) => r.subject_value === '198.51.100.77'), JSON.stringify(added));
      assert.deepEqual(third.filter((r) => Number(r.fetched_at) !== clock.t).map((r) => ({ ...r, fetched_at: Number(r.fetched_at) })), first.map((r) => ({ ...r, fetched_at: Number(r.fetched_at) })));
      assert.equal(await notes(), 2);

      // The inventory file changes: its answers (and only those) are asked again, at the new revision.
      const before = await store.db.selectFrom('enrichments').select(['provider', 'revision']).where('incident_id', '=', 'I1').where('provider', '=', 'inventory').execute();
      writeFileSync(join(dir, 'inventory.csv'), 'host,ip,owner,criticality\nws-042.corp.example,10.1.2.3,bob,high\n');
      clock.t += 60_000; // past the provider's once-a-second look at its file
      await enrichI1();
      const fourth = await store.db.selectFrom('enrichments').selectAll().where('incident_id', '=', 'I1').execute();
      assert.equal(JSON.parse(fourth.find((r) => r.provider === 'inventory' && r.subject_value === 'ws-042')!.data).owner, 'bob');
      const rewritten = fourth.filter((r) => Number(r.fetched_at) === clock.t);
      assert.deepEqual([...new Set(rewritten.map((r) => r.provider))], ['inventory']);
      assert.equal(rewritten.length, before.length, 'every inventory answer, nothing else');
      assert.equal(new Set(rewritten.map((r) => r.revision)).size, 1);
      assert.notEqual(rewritten[0]!.revision, before[0]!.revision);
      assert.equal(await notes(), 3);
    }));
}

test('lookupAll asks every provider that answers each subject type, in order', async () => {
  const a = scripted('a', () => ({ found: true, data: {} }), { subjects: ['ip'] });
  const b = scripted('b', () => ({ found: false, data: {} }), { subjects: ['ip', 'user'] });
  const e = createEnricher({ providers: [a, b] });
  const r = await lookupAll(e, [
    { type: 'ip', value: '192.0.2.1' },
    { type: 'user', value: 'alice' },
    { type: 'sha1', value: 'db015aaa2886d3296fca69994ce4df69de9a6f92' },
  ]);
  assert.deepEqual(r.map((x) => [x.provider, x.subject.type, !isEnrichmentError(x) && x.found]), [
    ['a', 'ip', true],
    ['b', 'ip', false],
    ['b', 'user', false],
  ]);
  await e.close();
});
