/**
 * Nothing stalls the pipeline (issue 16, item 5): a batch of lookups waits for answers at most its budget; a
 * service that answers late (or never) holds back only the incidents that asked it, its late answer lands
 * in the cache, and those incidents are enriched again.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createEnricher, isEnrichmentError } from '../../src/enrich/layer.js';
import { createEnrichStage } from '../../src/pipeline/stages/enrich.js';
import { claim, complete, enqueue } from '../../src/store/queue.js';
import { openTestStore } from '../support/stores.js';
import { waitFor } from '../support/wait.js';
import { loadIncidentDetail } from '../../src/store/incidents.js';
import { ManualClock, insertAlert, insertIncident, scripted, settle } from './support.js';

const NOW = Date.parse('2026-12-07T09:00:00Z');
const found = (what: string) => ({ found: true, data: { what } });

function gate() {
  let open!: () => void;
  const opened = new Promise<void>((r) => (open = r));
  return { open, opened };
}

test('a batch hands on what it has after its budget; the late answer is cached and reported by list', async () => {
  const clock = new ManualClock(NOW);
  const g = gate();
  const slow = scripted('sandbox', async () => (await g.opened, found('late')), { subjects: ['sha256'] });
  const fast = scripted('segments', () => found('now'), { subjects: ['ip', 'sha256'] });
  const e = createEnricher({ providers: [slow, fast], clock });
  const late: number[][] = [];
  const hash = { type: 'sha256' as const, value: 'a'.repeat(64) };
  const batch = e.lookupBatch([[{ type: 'ip', value: '10.0.0.1' }], [hash]], undefined, { within: 3000, onLate: (lists) => late.push([...lists]) });
  await settle();
  await clock.advance(3000);
  const [first, second] = await batch;
  assert.equal(first!.length, 1);
  assert.equal(isEnrichmentError(first![0]!), false, 'the incident that did not ask the slow service is complete');
  const byProvider = Object.fromEntries(second!.map((r) => [r.provider, r]));
  assert.equal(isEnrichmentError(byProvider.segments!), false);
  const pending = byProvider.sandbox!;
  assert.ok(isEnrichmentError(pending) && pending.result === 'timeout');
  assert.match(pending.error, /no answer within the batch's 3000ms; still asked/);
  assert.deepEqual(late, [], 'not yet: the slow lookup still runs');
  g.open();
  await settle(10);
  assert.deepEqual(late, [[1]], 'the list that asked it');
  const again = await e.lookup('sandbox', hash);
  assert.ok(!isEnrichmentError(again) && again.cache === 'hit' && again.data.what === 'late');
  assert.equal(slow.calls.length, 1, 'asked once');
  await e.close();
});

test('enrich stage: an incident waiting on a silent service waits at most its budget, without holding back the others', async () => {
  const t = await openTestStore('sqlite');
  const clock = new ManualClock(NOW);
  const g = gate();
  const slow = scripted('sandbox', async () => (await g.opened, found('verdict')), { subjects: ['sha256'] });
  const fast = scripted('segments', () => found('zone'), { subjects: ['ip'] });
  const enricher = createEnricher({ providers: [slow, fast], clock, store: t.store });
  try {
    const db = t.store.db;
    await insertIncident(db, { id: 'IH', time: NOW, host: '10.0.0.5' });
    await insertAlert(db, { id: 'AH', incident: 'IH', time: NOW, host: '10.0.0.5', observables: [['sha256', 'b'.repeat(64), 'file']] });
    await insertIncident(db, { id: 'IP', time: NOW, host: '10.0.0.6' });
    await insertAlert(db, { id: 'AP', incident: 'IP', time: NOW, host: '10.0.0.6' });
    await enqueue(db, 'enrich', ['IH', 'IP'], NOW);
    const stage = createEnrichStage({ store: t.store, enricher, now: clock.now, answerWithinMs: 2000, firstWaitMs: 50 });
    /** One batch as the runner does it; the manual clock moves `step` while the batch waits. */
    const run = async (step: number) => {
      const items = await claim(t.store, 'enrich', 'w', 10, 60_000, clock.now());
      const computing = stage.compute(items, db);
      await settle(20);
      await clock.advance(step);
      const computed = await computing;
      await db.transaction().execute(async (tx) => {
        await stage.write(tx, items, computed);
        await complete(tx, items);
      });
      return items.map((i) => i.item_id).sort();
    };
    const queued = async (name: string) =>
      (await db.selectFrom('stage_queue').select(['item_id', 'available_at']).where('stage', '=', name).execute()).map((r) => [r.item_id, Number(r.available_at) - NOW]);
    const rows = async () =>
      (await db.selectFrom('enrichments').select(['incident_id', 'provider', 'error']).orderBy('incident_id').orderBy('provider').execute()).map((r) => [
        r.incident_id,
        r.provider,
        r.error?.replace(/:.*/, '') ?? 'ok',
      ]);

    assert.deepEqual(await run(50), ['IH', 'IP']);
    assert.deepEqual(await queued('score'), [['IP', 50]], 'the incident that needs no slow answer goes on at once');
    assert.deepEqual(await queued('enrich'), [['IH', 2000]], 'the one waiting is back in the queue, due when its budget is spent');
    assert.deepEqual(await rows(), [['IP', 'segments', 'ok']], 'nothing written for it yet');

    // Its budget is spent and the service is still silent: it goes on with what it has.
    await clock.advance(1950);
    assert.deepEqual(await run(50), ['IH']);
    assert.deepEqual(await rows(), [
      ['IH', 'sandbox', 'timeout'],
      ['IH', 'segments', 'ok'],
      ['IP', 'segments', 'ok'],
    ]);
    assert.deepEqual((await queued('score')).map(([id]) => id).sort(), ['IH', 'IP']);
    assert.deepEqual(await queued('enrich'), []);

    // The answer comes: the incident is enriched again, from the cache.
    g.open();
    // (The bound only catches a hang: the answer lands, then the incident is queued, whenever the machine gets to it.)
    const again = await waitFor('the incident to be queued again', async () => ((await queued('enrich')).length > 0 ? queued('enrich') : undefined), 30_000);
    assert.deepEqual(again.map(([id]) => id), ['IH'], 'only the incident that waited on it');
    await clock.advance(60_000);
    assert.deepEqual(await run(0), ['IH']);
    assert.deepEqual((await rows()).filter(([id]) => id === 'IH'), [
      ['IH', 'sandbox', 'ok'],
      ['IH', 'segments', 'ok'],
    ]);
    assert.equal(slow.calls.length, 1, 'the service was asked once');
    // The incident page says how each answer was obtained: the late one from the cache, the others from the source.
    const cacheOf = async (id: string) => (await loadIncidentDetail(db, id))!.enrichment.map((e) => [e.provider, 'cache' in e ? e.cache : 'error']);
    assert.deepEqual(await cacheOf('IH'), [
      ['sandbox', 'hit'],
      ['segments', 'hit'], // asked in the pass that deferred it, kept by the cache for the one that wrote
    ]);
    assert.deepEqual(await cacheOf('IP'), [['segments', 'miss']]);
  } finally {
    await enricher.close();
    await t.cleanup();
  }
});
