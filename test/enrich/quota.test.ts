import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Quota, periodBounds } from '../../src/enrich/quota.js';
import { createEnricher, isEnrichmentError } from '../../src/enrich/layer.js';
import { RemoteError } from '../../src/enrich/remote.js';
import { DIALECTS, openTestStore } from '../support/stores.js';
import { ManualClock, scripted, settle } from './support.js';

const ip = (value: string) => ({ type: 'ip' as const, value });
const found = { found: true, data: { ok: 1 } };

test('quota periods are UTC calendar periods', () => {
  const t = Date.UTC(2026, 11, 31, 23, 59, 30, 500);
  assert.deepEqual(periodBounds('minute', t), { start: Date.UTC(2026, 11, 31, 23, 59), end: Date.UTC(2027, 0, 1) });
  assert.deepEqual(periodBounds('hour', t), { start: Date.UTC(2026, 11, 31, 23), end: Date.UTC(2027, 0, 1) });
  assert.deepEqual(periodBounds('day', t), { start: Date.UTC(2026, 11, 31), end: Date.UTC(2027, 0, 1) });
  assert.deepEqual(periodBounds('month', t), { start: Date.UTC(2026, 11, 1), end: Date.UTC(2027, 0, 1) });
});

test('in memory: the day budget keeps its reserve for high priority, a spent minute refuses, a new day starts again', async () => {
  const q = new Quota('vt', { per_minute: 4, per_day: 10 }, 0.2, null);
  const t0 = Date.UTC(2026, 11, 7, 10, 0, 0);
  // Normal lookups may use 8 of the day's 10, at most 4 a minute.
  for (let i = 0; i < 4; i++) assert.equal(await q.take('normal', t0), null);
  const minute = await q.take('normal', t0);
  assert.equal(minute?.period, 'minute');
  assert.equal(minute?.resetsAt, t0 + 60_000);
  for (let i = 0; i < 4; i++) assert.equal(await q.take('normal', t0 + 60_000), null);
  const reserved = await q.take('normal', t0 + 120_000);
  assert.equal(reserved?.period, 'day');
  assert.equal(reserved?.reserved, true);
  // The refused call gave its minute back: high priority still gets the last two.
  assert.equal(await q.take('high', t0 + 120_000), null);
  assert.equal(await q.take('high', t0 + 120_000), null);
  const spent = await q.take('high', t0 + 120_000);
  assert.equal(spent?.period, 'day');
  assert.equal(spent?.reserved, false);
  assert.equal(spent?.resetsAt, Date.UTC(2026, 11, 8));
  const day = q.state(t0 + 120_000).find((s) => s.period === 'day')!;
  assert.deepEqual([day.limit, day.normal_limit, day.used, day.remaining], [10, 8, 10, 0]);
  assert.equal(await q.take('normal', Date.UTC(2026, 11, 8, 0, 0, 1)), null);
});

for (const dialect of DIALECTS) {
  test(`${dialect}: two processes share one budget through the store, and it survives a restart`, async () => {
    const ts = await openTestStore(dialect);
    try {
      const t = Date.UTC(2026, 11, 7, 10, 0, 0);
      const a = new Quota('otx', { per_day: 5 }, 0, ts.store);
      const b = new Quota('otx', { per_day: 5 }, 0, ts.store);
      const taken = await Promise.all(Array.from({ length: 8 }, (_, i) => (i % 2 ? a : b).take('normal', t)));
      assert.equal(taken.filter((r) => r === null).length, 5, 'exactly the budget, across both');
      // "Restarted": a new instance reads the count from the store.
      const c = new Quota('otx', { per_day: 5 }, 0, ts.store);
      assert.equal((await c.take('high', t + 1000))?.period, 'day');
      assert.equal(c.state(t + 1000)[0]!.used, 5);
      // Another provider has its own budget; the next day starts from zero.
      assert.equal(await new Quota('vt', { per_day: 1 }, 0, ts.store).take('normal', t), null);
      assert.equal(await c.take('normal', t + 86_400_000), null);
      const row = await ts.store.db.selectFrom('enrich_quota').selectAll().where('provider', '=', 'otx').executeTakeFirstOrThrow();
      assert.equal(Number(row.used), 1);
      assert.equal(Number(row.start), Date.UTC(2026, 11, 8));
    } finally {
      await ts.cleanup();
    }
  });
}

test('layer: quota from the provider default; a spent minute is waited for within max_wait; state shows it', async () => {
  const clock = new ManualClock(Date.UTC(2026, 11, 7, 10, 0, 59));
  const p = { ...scripted('vt', () => found), quota: { per_minute: 1 } };
  const e = createEnricher({ providers: [p], clock, settings: { vt: { max_wait: '2s', ttl: 0 } } });
  assert.equal(isEnrichmentError(await e.lookup('vt', ip('198.51.100.1'))), false);
  // The minute resets in 1 s, within max_wait: the second lookup waits for it.
  const second = e.lookup('vt', ip('198.51.100.2'));
  await settle();
  assert.equal(p.calls.length, 1);
  await clock.advance(1000);
  assert.equal(isEnrichmentError(await second), false);
  assert.equal(p.calls.length, 2);
  // Early in the next minute: 59 s to wait is beyond max_wait, so it is refused and says until when.
  const third = await e.lookup('vt', ip('198.51.100.3'));
  assert.ok(isEnrichmentError(third) && third.result === 'ratelimited');
  assert.match(isEnrichmentError(third) ? third.error : '', /minute's quota is spent; it resets at 2026-12-07T10:02:00/);
  assert.equal(p.calls.length, 2);
  assert.deepEqual(e.state('vt').quota?.map((q) => [q.period, q.used, q.remaining]), [['minute', 1, 0]]);
  await e.close();
});

test('layer: a 429 pauses the provider until its Retry-After without opening the circuit; normal lookups keep the reserve', async () => {
  const clock = new ManualClock(Date.UTC(2026, 11, 7, 10, 0, 0));
  let limited = true;
  const p = scripted('gn', () => {
    if (limited) throw new RemoteError('GET api.example/v3 answered 429', 'ratelimited', 429, 30_000);
    return found;
  });
  const e = createEnricher({ providers: [p], clock, settings: { gn: { breaker_failures: 1, ttl: 0, quota: { per_day: 5 }, quota_reserve: 0.4 } } });
  const first = await e.lookup('gn', ip('198.51.100.1'));
  assert.ok(isEnrichmentError(first) && first.result === 'ratelimited');
  assert.match(isEnrichmentError(first) ? first.error : '', /paused until 2026-12-07T10:00:30/);
  assert.equal(e.state('gn').breaker, 'closed');
  assert.equal(e.state('gn').paused_until, '2026-12-07T10:00:30.000Z');
  limited = false;
  const during = await e.lookup('gn', ip('198.51.100.2'));
  assert.ok(isEnrichmentError(during) && during.result === 'ratelimited');
  assert.equal(p.calls.length, 1, 'no call while paused');
  await clock.advance(30_000);
  // 5 a day, 40% reserved: normal lookups get 3 (the 429'd call counted: it reached the service).
  assert.equal(isEnrichmentError(await e.lookup('gn', ip('198.51.100.3'))), false);
  assert.equal(isEnrichmentError(await e.lookup('gn', ip('198.51.100.4'))), false);
  const reserved = await e.lookup('gn', ip('198.51.100.5'));
  assert.ok(isEnrichmentError(reserved) && /reserved for high-priority/.test(reserved.error));
  assert.equal(isEnrichmentError(await e.lookup('gn', ip('198.51.100.5'), { priority: 'high' })), false);
  // lookupBatch: a subject asked by a high-priority list goes high.
  const batch = await e.lookupBatch([[ip('198.51.100.6')], [ip('198.51.100.6')]], undefined, { priorities: ['normal', 'high'] });
  assert.equal(isEnrichmentError(batch[0]![0]!), false);
  assert.equal(isEnrichmentError(batch[1]![0]!), false);
  await e.close();
});
