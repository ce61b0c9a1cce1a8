import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createEnricher, isEnrichmentError, type LookupResult } from '../../src/enrich/layer.js';
import { systemClock } from '../../src/enrich/limits.js';
import { resolveSettings } from '../../src/enrich/settings.js';
import type { Enrichment, EnrichmentError } from '../../src/model/enrichment.js';
import { DIALECTS, openTestStore } from '../support/stores.js';
import { CountingClock, ManualClock, metric, scripted, settle, uniqueName } from './support.js';

const ip = (value: string) => ({ type: 'ip' as const, value });

function ok(r: LookupResult): Enrichment {
  assert.ok(!isEnrichmentError(r), `expected an answer, got ${JSON.stringify(r)}`);
  return r;
}
function failed(r: LookupResult): EnrichmentError {
  assert.ok(isEnrichmentError(r), `expected an error, got ${JSON.stringify(r)}`);
  return r;
}

test('settings: durations parse, defaults differ for local and remote providers', () => {
  const s = resolveSettings({ ttl: '2h', negative_ttl: 30, timeout: '1500ms', rate_per_second: 2.5 }, false);
  assert.equal(s.ttlMs, 7_200_000);
  assert.equal(s.negativeTtlMs, 30_000);
  assert.equal(s.timeoutMs, 1500);
  assert.equal(s.rateBurst, 3);
  assert.ok(resolveSettings(undefined, true).ttlMs < resolveSettings(undefined, false).ttlMs);
  assert.throws(() => resolveSettings({ ttl: 'soon' }, false), /ttl: "soon" is not a duration/);
});

test('TTL and negative TTL expire on the injected clock', async () => {
  const clock = new ManualClock();
  const name = uniqueName('ttl');
  const p = scripted(name, (s) => (s.value === '192.0.2.1' ? { found: true, data: { n: 1 } } : { found: false, data: {} }));
  const e = createEnricher({ providers: [p], clock, settings: { [name]: { ttl: '60s', negative_ttl: '10s' } } });

  assert.equal(ok(await e.lookup(name, ip('192.0.2.1'))).cache, 'miss');
  assert.equal(ok(await e.lookup(name, ip('192.0.2.2'))).cache, 'miss');
  assert.equal(ok(await e.lookup(name, ip('192.0.2.1'))).cache, 'hit');
  const neg = ok(await e.lookup(name, ip('192.0.2.2')));
  assert.equal(neg.cache, 'hit');
  assert.equal(neg.found, false);
  assert.equal(p.calls.length, 2);

  await clock.advance(10_000); // the negative answer expires, the positive one holds
  assert.equal(ok(await e.lookup(name, ip('192.0.2.2'))).cache, 'miss');
  assert.equal(ok(await e.lookup(name, ip('192.0.2.1'))).cache, 'hit');
  await clock.advance(50_000);
  const again = ok(await e.lookup(name, ip('192.0.2.1')));
  assert.equal(again.cache, 'miss');
  assert.equal(again.fetched_at, new Date(clock.now()).toISOString());
  assert.equal(p.calls.length, 4);
  assert.equal(await metric(name, 'hit'), 3);
  assert.equal(await metric(name, 'miss'), 4);
  await e.close();
});

test('an answer can set its own TTL; 0 means never cached', async () => {
  const clock = new ManualClock();
  const name = uniqueName('ttl0');
  const p = scripted(name, () => ({ found: true, data: {}, ttlMs: 0 }));
  const e = createEnricher({ providers: [p], clock });
  await e.lookup(name, ip('192.0.2.1'));
  await e.lookup(name, ip('192.0.2.1'));
  assert.equal(p.calls.length, 2);
  await e.close();
});

test('50 concurrent identical lookups make one call; 49 report coalesced', async () => {
  const name = uniqueName('coalesce');
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const p = scripted(name, async () => {
    await gate;
    return { found: true, data: { verdict: 'malicious' } };
  });
  const e = createEnricher({ providers: [p] });
  const all = Promise.all(Array.from({ length: 50 }, () => e.lookup(name, ip('203.0.113.7'))));
  await settle();
  release();
  const results = (await all).map(ok);
  assert.equal(p.calls.length, 1);
  assert.equal(results.filter((r) => r.cache === 'miss').length, 1);
  assert.equal(results.filter((r) => r.cache === 'coalesced').length, 49);
  assert.ok(results.every((r) => r.data.verdict === 'malicious'));
  assert.equal(await metric(name, 'coalesced'), 49);
  assert.equal(await metric(name, 'miss'), 1);
  await e.close();
});

test('the concurrency limit is respected and waiting lookups are served in turn', async () => {
  const name = uniqueName('conc');
  const p = scripted(name, async () => {
    await new Promise((r) => setTimeout(r, 5));
    return { found: true, data: {} };
  });
  const e = createEnricher({ providers: [p], settings: { [name]: { concurrency: 3 } } });
  const results = await Promise.all(Array.from({ length: 20 }, (_, i) => e.lookup(name, ip(`192.0.2.${i + 1}`))));
  assert.equal(results.filter((r) => !isEnrichmentError(r)).length, 20);
  assert.equal(p.maxActive, 3);
  assert.equal(e.state(name).in_flight, 0);
  await e.close();
});

test('a lookup that cannot get a concurrency slot within queue_wait reports ratelimited', async () => {
  const clock = new ManualClock();
  const name = uniqueName('slots');
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const p = scripted(name, async () => {
    await gate;
    return { found: true, data: {} };
  });
  const e = createEnricher({ providers: [p], clock, settings: { [name]: { concurrency: 1, queue_wait: '1s', timeout: '1h' } } });
  const first = e.lookup(name, ip('192.0.2.1'));
  const second = e.lookup(name, ip('192.0.2.2'));
  await settle();
  assert.equal(e.state(name).waiting, 1);
  await clock.advance(1000);
  assert.equal(failed(await second).result, 'ratelimited');
  release();
  ok(await first);
  assert.equal(await metric(name, 'ratelimited'), 1);
  await e.close();
});

test('rate limit: over the bucket with no time to wait reports ratelimited at once, without calling', async () => {
  const clock = new ManualClock();
  const name = uniqueName('rate');
  const p = scripted(name, () => ({ found: true, data: {} }));
  const e = createEnricher({ providers: [p], clock, settings: { [name]: { rate_per_second: 1, rate_burst: 2, max_wait: '500ms' } } });
  ok(await e.lookup(name, ip('192.0.2.1')));
  ok(await e.lookup(name, ip('192.0.2.2')));
  // The next token is 1000 ms away, longer than max_wait: no waiting, no spinning, just the answer.
  const r = failed(await e.lookup(name, ip('192.0.2.3')));
  assert.equal(r.result, 'ratelimited');
  assert.match(r.error, /rate limit of 1\/s/);
  assert.equal(clock.pending, 0);
  assert.equal(p.calls.length, 2);
  assert.equal(await metric(name, 'ratelimited'), 1);
  await clock.advance(1000);
  ok(await e.lookup(name, ip('192.0.2.3')));
  await e.close();
});

test('rate limit: a lookup whose token is due within max_wait sleeps exactly until then', async () => {
  const clock = new ManualClock();
  const name = uniqueName('ratewait');
  const p = scripted(name, () => ({ found: true, data: {} }));
  const e = createEnricher({ providers: [p], clock, settings: { [name]: { rate_per_second: 10, rate_burst: 1, max_wait: '1s' } } });
  ok(await e.lookup(name, ip('192.0.2.1')));
  let done = false;
  const second = e.lookup(name, ip('192.0.2.2')).then((r) => ((done = true), r));
  await settle();
  assert.equal(done, false);
  assert.equal(clock.pending, 1, 'one timer, no polling');
  await clock.advance(99);
  assert.equal(done, false);
  await clock.advance(1);
  assert.equal(ok(await second).cache, 'miss');
  assert.equal(p.calls.length, 2);
  await e.close();
});

test('a lookup past its timeout reports timeout and aborts the provider signal', async () => {
  const name = uniqueName('timeout');
  let seen: AbortSignal | null = null;
  const p = scripted(name, (_s, signal) => {
    seen = signal;
    return new Promise(() => undefined); // never answers, ignores the signal
  });
  const e = createEnricher({ providers: [p], clock: systemClock, settings: { [name]: { timeout: '50ms' } } });
  // The provider never answers: only the layer's timeout can end the lookup.
  const r = failed(await e.lookup(name, ip('192.0.2.1')));
  assert.equal(r.result, 'timeout');
  assert.equal((seen as AbortSignal | null)?.aborted, true);
  assert.equal(await metric(name, 'error'), 1);
  await e.close();
});

test('circuit breaker: opens after N failures, half-opens after the cool-down, closes on success', async () => {
  const clock = new ManualClock();
  const name = uniqueName('breaker');
  let healthy = false;
  const p = scripted(name, () => {
    if (!healthy) throw new Error('upstream 503');
    return { found: true, data: {} };
  });
  const e = createEnricher({ providers: [p], clock, settings: { [name]: { breaker_failures: 3, breaker_cooldown: '30s' } } });
  for (let i = 1; i <= 3; i++) assert.equal(failed(await e.lookup(name, ip(`192.0.2.${i}`))).error, 'upstream 503');
  assert.equal(e.state(name).breaker, 'open');
  const refused = failed(await e.lookup(name, ip('192.0.2.9')));
  assert.equal(refused.result, 'open_circuit');
  assert.equal(p.calls.length, 3, 'an open circuit does not call the provider');

  await clock.advance(30_000);
  assert.equal(e.state(name).breaker, 'half_open');
  // A failed trial re-opens the circuit for another cool-down.
  assert.equal(failed(await e.lookup(name, ip('192.0.2.10'))).result, 'error');
  assert.equal(e.state(name).breaker, 'open');
  assert.equal(failed(await e.lookup(name, ip('192.0.2.11'))).result, 'open_circuit');

  await clock.advance(30_000);
  healthy = true;
  ok(await e.lookup(name, ip('192.0.2.12')));
  assert.equal(e.state(name).breaker, 'closed');
  assert.equal(e.state(name).consecutive_failures, 0);
  ok(await e.lookup(name, ip('192.0.2.13')));
  await e.close();
});

test('half-open lets exactly one trial call through', async () => {
  const clock = new ManualClock();
  const name = uniqueName('trial');
  let fail = true;
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const p = scripted(name, async () => {
    if (fail) throw new Error('down');
    await gate;
    return { found: true, data: {} };
  });
  const e = createEnricher({ providers: [p], clock, settings: { [name]: { breaker_failures: 1, breaker_cooldown: '5s', timeout: '1h' } } });
  failed(await e.lookup(name, ip('192.0.2.1')));
  await clock.advance(5000);
  fail = false;
  const trial = e.lookup(name, ip('192.0.2.2'));
  await settle();
  assert.equal(failed(await e.lookup(name, ip('192.0.2.3'))).result, 'open_circuit');
  release();
  ok(await trial);
  assert.equal(e.state(name).breaker, 'closed');
  await e.close();
});

test('unsupported subject types are refused without a call', async () => {
  const name = uniqueName('types');
  const p = scripted(name, () => ({ found: true, data: {} }), { subjects: ['ip'] });
  const e = createEnricher({ providers: [p] });
  assert.equal(e.providersFor('domain').length, 0);
  assert.equal(failed(await e.lookup(name, { type: 'domain', value: 'evil.example' })).result, 'error');
  assert.equal(p.calls.length, 0);
  await e.close();
});

test('close() ends lookups in flight and closes providers', async () => {
  const name = uniqueName('close');
  let closed = false;
  const p = scripted(name, () => new Promise(() => undefined));
  p.close = async () => {
    closed = true;
  };
  const e = createEnricher({ providers: [p], settings: { [name]: { timeout: '1h' } } });
  const pending = e.lookup(name, ip('192.0.2.1'));
  await settle();
  await e.close();
  assert.equal(failed(await pending).error, 'enricher closed');
  assert.equal(closed, true);
});

test('in-memory providers are called directly: no timer, no cache, fresh answers, still counted', async () => {
  const clock = new CountingClock();
  const name = uniqueName('direct');
  const p = scripted(name, (s) => ({ found: s.value === '192.0.2.1', data: { at: clock.now() } }), { local: true, inMemory: true });
  const e = createEnricher({ providers: [p], clock });
  const first = ok(await e.lookup(name, ip('192.0.2.1')));
  await clock.advance(1000);
  const second = ok(await e.lookup(name, ip('192.0.2.1')));
  assert.equal(p.calls.length, 2, 'no cache in front of an in-memory provider');
  assert.deepEqual([first.cache, second.cache], ['miss', 'miss']);
  assert.equal(second.fetched_at, new Date(clock.now()).toISOString());
  assert.deepEqual(second.data, { at: clock.now() });
  assert.equal(clock.sleeps, 0, 'no timeout timer');
  assert.equal(e.state(name).in_flight, 0);
  assert.equal(await metric(name, 'miss'), 2);
  await e.close();
});

test('an in-memory provider whose config sets a cache or limit key goes through the whole layer', async () => {
  const clock = new CountingClock();
  const cached = uniqueName('direct-ttl');
  const limited = uniqueName('direct-timeout');
  const a = scripted(cached, () => ({ found: true, data: {} }), { local: true, inMemory: true });
  const b = scripted(limited, () => ({ found: true, data: {} }), { local: true, inMemory: true });
  const e = createEnricher({ providers: [a, b], clock, settings: { [cached]: { ttl: '1m' }, [limited]: { timeout: '2s' } } });
  ok(await e.lookup(cached, ip('192.0.2.1')));
  assert.equal(ok(await e.lookup(cached, ip('192.0.2.1'))).cache, 'hit');
  assert.equal(a.calls.length, 1);
  const sleeps = clock.sleeps;
  ok(await e.lookup(limited, ip('192.0.2.1')));
  assert.equal(clock.sleeps, sleeps + 1, 'the configured timeout is armed');
  await e.close();
});

test('the breaker still guards an in-memory provider, and close() ends its lookups', async () => {
  const clock = new ManualClock();
  const name = uniqueName('direct-breaker');
  let signal: AbortSignal | null = null;
  const p = scripted(
    name,
    (_s, sig) => {
      signal = sig;
      throw new Error('index corrupt');
    },
    { local: true, inMemory: true },
  );
  const e = createEnricher({ providers: [p], clock, settings: { [name]: { breaker_failures: 2 } } });
  assert.equal(failed(await e.lookup(name, ip('192.0.2.1'))).error, 'index corrupt');
  assert.equal(failed(await e.lookup(name, ip('192.0.2.2'))).result, 'error');
  assert.equal(failed(await e.lookup(name, ip('192.0.2.3'))).result, 'open_circuit');
  assert.equal(p.calls.length, 2);
  assert.equal(await metric(name, 'error'), 3);
  assert.equal((signal as AbortSignal | null)?.aborted, false);
  await e.close();
  assert.equal((signal as AbortSignal | null)?.aborted, true, 'the signal it got aborts on close');
  await clock.advance(60_000);
  assert.equal(failed(await e.lookup(name, ip('192.0.2.4'))).error, 'enricher closed');
  assert.equal(p.calls.length, 2);
});

test('lookupBatch answers like a lookup per subject and provider, asking each provider+subject once', async () => {
  const a = uniqueName('batch-a');
  const b = uniqueName('batch-b');
  const pa = scripted(a, (s) => ({ found: true, data: { v: s.value } }), { subjects: ['ip'], local: true, inMemory: true });
  const pb = scripted(b, (s) => ({ found: s.type === 'user', data: {} }), { subjects: ['ip', 'user'] });
  const e = createEnricher({ providers: [pa, pb] });
  const user = { type: 'user' as const, value: 'alice' };
  const r = await e.lookupBatch([[ip('192.0.2.1'), user], [ip('192.0.2.1')], [], [{ type: 'md5', value: 'd41d8cd98f00b204e9800998ecf8427e' }]]);
  assert.deepEqual(
    r.map((list) => list.map((x) => [x.provider, `${x.subject.type}:${x.subject.value}`, ok(x).cache])),
    [
      [
        [a, 'ip:192.0.2.1', 'miss'],
        [b, 'ip:192.0.2.1', 'miss'],
        [b, 'user:alice', 'miss'],
      ],
      [
        [a, 'ip:192.0.2.1', 'coalesced'],
        [b, 'ip:192.0.2.1', 'coalesced'],
      ],
      [],
      [],
    ],
  );
  assert.deepEqual(ok(r[1]![0]!).data, { v: '192.0.2.1' });
  assert.equal(pa.calls.length, 1);
  assert.equal(pb.calls.length, 2);
  assert.deepEqual([await metric(a, 'miss'), await metric(a, 'coalesced'), await metric(b, 'miss'), await metric(b, 'coalesced')], [1, 1, 2, 1]);
  await e.close();
});

test('lookupBatch gives a provider with lookupMany one call for the batch; lookup still asks one subject', async () => {
  const name = uniqueName('many');
  const p = scripted(name, (s) => ({ found: true, data: { one: s.value } }), {
    subjects: ['ip', 'user'],
    many: (subjects) => subjects.map((s) => ({ found: s.type === 'ip', data: { many: s.value } })),
  });
  const e = createEnricher({ providers: [p] });
  const r = await e.lookupBatch([[ip('192.0.2.1'), { type: 'user', value: 'bob' }], [ip('192.0.2.2'), ip('192.0.2.1')]]);
  assert.deepEqual(p.batches.map((b) => b.map((s) => s.value)), [['192.0.2.1', 'bob', '192.0.2.2']]);
  assert.equal(p.calls.length, 0);
  assert.deepEqual(r.map((list) => list.map((x) => [ok(x).data.many, ok(x).found, ok(x).cache])), [
    [
      ['192.0.2.1', true, 'miss'],
      ['bob', false, 'miss'],
    ],
    [
      ['192.0.2.2', true, 'miss'],
      ['192.0.2.1', true, 'coalesced'],
    ],
  ]);
  assert.deepEqual(ok(await e.lookup(name, ip('192.0.2.9'))).data, { one: '192.0.2.9' });
  assert.equal(p.calls.length, 1);
  assert.equal(await metric(name, 'miss'), 4);
  await e.close();
});

test('lookupMany: cached subjects are not asked again, and a lookup in flight is joined', async () => {
  const clock = new ManualClock();
  const name = uniqueName('many-cache');
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const p = scripted(
    name,
    async () => {
      await gate;
      return { found: true, data: { via: 'lookup' } };
    },
    { many: (subjects) => subjects.map(() => ({ found: true, data: { via: 'many' } })) },
  );
  const e = createEnricher({ providers: [p], clock, settings: { [name]: { ttl: '1m', timeout: '1h' } } });
  ok(await (await e.lookupBatch([[ip('192.0.2.1')]]))[0]![0]!);
  const single = e.lookup(name, ip('192.0.2.3'));
  await settle();
  const batch = e.lookupBatch([[ip('192.0.2.1'), ip('192.0.2.2'), ip('192.0.2.3')]]);
  await settle();
  release();
  const [[one, two, three]] = (await batch) as [[LookupResult, LookupResult, LookupResult]];
  assert.deepEqual([ok(one).cache, ok(two).cache, ok(three).cache], ['hit', 'miss', 'coalesced']);
  assert.equal(ok(three).data.via, 'lookup');
  assert.equal(ok(await single).cache, 'miss');
  assert.deepEqual(p.batches.map((b) => b.map((s) => s.value)), [['192.0.2.1'], ['192.0.2.2']]);
  await e.close();
});

test('lookupMany: a failure or a malformed answer fails each subject and counts once towards the breaker', async () => {
  const name = uniqueName('many-fail');
  let mode: 'throw' | 'short' = 'throw';
  const p = scripted(name, () => ({ found: true, data: {} }), {
    many: (subjects) => {
      if (mode === 'throw') throw new Error('store unavailable');
      return subjects.slice(1).map(() => ({ found: true, data: {} }));
    },
  });
  const e = createEnricher({ providers: [p], settings: { [name]: { breaker_failures: 3 } } });
  const [r] = (await e.lookupBatch([[ip('192.0.2.1'), ip('192.0.2.2')]])) as [LookupResult[]];
  assert.deepEqual(r.map((x) => [failed(x).result, failed(x).error, x.subject.value]), [
    ['error', 'store unavailable', '192.0.2.1'],
    ['error', 'store unavailable', '192.0.2.2'],
  ]);
  assert.equal(e.state(name).consecutive_failures, 1);
  mode = 'short';
  const [r2] = (await e.lookupBatch([[ip('192.0.2.1'), ip('192.0.2.2')]])) as [LookupResult[]];
  assert.ok(r2.every((x) => failed(x).error === 'provider returned a malformed answer'));
  assert.equal(e.state(name).consecutive_failures, 2);
  assert.equal(await metric(name, 'error'), 4);
  await e.close();
});

test('lookupMany runs under the timeout', async () => {
  const name = uniqueName('many-timeout');
  const p = scripted(name, () => ({ found: true, data: {} }), { many: () => new Promise(() => undefined) });
  const e = createEnricher({ providers: [p], clock: systemClock, settings: { [name]: { timeout: '50ms' } } });
  const [r] = (await e.lookupBatch([[ip('192.0.2.1'), ip('192.0.2.2')]])) as [LookupResult[]];
  assert.deepEqual(r.map((x) => failed(x).result), ['timeout', 'timeout']);
  await e.close();
});

for (const dialect of DIALECTS) {
  test(`shared cache table on ${dialect}: a second enricher reads what the first fetched`, async () => {
    const t = await openTestStore(dialect);
    try {
      const clock = new ManualClock();
      const name = uniqueName('shared');
      const settings = { [name]: { ttl: '1h', negative_ttl: '5m' } };
      const p1 = scripted(name, (s) => ({ found: s.value === '203.0.113.7', data: { n: 1 } }));
      const p2 = scripted(name, () => ({ found: true, data: { n: 2 } }));
      const e1 = createEnricher({ providers: [p1], store: t.store, clock, settings });
      const e2 = createEnricher({ providers: [p2], store: t.store, clock, settings });

      assert.equal(ok(await e1.lookup(name, ip('203.0.113.7'))).cache, 'miss');
      assert.equal(ok(await e1.lookup(name, ip('203.0.113.8'))).found, false);
      const warm = ok(await e2.lookup(name, ip('203.0.113.7')));
      assert.equal(warm.cache, 'hit');
      assert.deepEqual(warm.data, { n: 1 });
      assert.equal(ok(await e2.lookup(name, ip('203.0.113.8'))).found, false, 'negative answers are shared too');
      assert.equal(p2.calls.length, 0);

      // Past the negative TTL the row is stale: the second process asks its own provider.
      await clock.advance(5 * 60_000);
      assert.equal(ok(await e2.lookup(name, ip('203.0.113.8'))).cache, 'miss');
      assert.equal(p2.calls.length, 1);
      await clock.advance(3_600_000);
      assert.ok((await e2.pruneSharedCache()) >= 1);

      // Answers fetched for a batch (lookupMany) are shared too, and a batch reads what others fetched.
      const many = uniqueName('shared-many');
      const m1 = scripted(many, () => ({ found: true, data: {} }), { many: (subjects) => subjects.map((s) => ({ found: true, data: { v: s.value } })) });
      const m2 = scripted(many, () => ({ found: true, data: {} }), { many: (subjects) => subjects.map(() => ({ found: false, data: {} })) });
      const e4 = createEnricher({ providers: [m1], store: t.store, clock, settings: { [many]: { ttl: '1h' } } });
      const e5 = createEnricher({ providers: [m2], store: t.store, clock, settings: { [many]: { ttl: '1h' } } });
      await e4.lookupBatch([[ip('198.51.100.1'), ip('198.51.100.2')]]);
      const [fromWarm] = (await e5.lookupBatch([[ip('198.51.100.2'), ip('198.51.100.3')]])) as [LookupResult[]];
      assert.deepEqual(fromWarm.map((x) => [ok(x).cache, ok(x).data]), [
        ['hit', { v: '198.51.100.2' }],
        ['miss', {}],
      ]);
      assert.deepEqual(m2.batches.map((b) => b.map((s) => s.value)), [['198.51.100.3']]);
      await Promise.all([e4.close(), e5.close()]);

      // Local providers never use the shared table.
      const local = uniqueName('local');
      const p3 = scripted(local, () => ({ found: true, data: {} }), { local: true });
      const e3 = createEnricher({ providers: [p3], store: t.store, clock });
      await e3.lookup(local, ip('203.0.113.7'));
      const rows = await t.store.db.selectFrom('enrich_cache').select('provider').where('provider', '=', local).execute();
      assert.equal(rows.length, 0);
      await Promise.all([e1.close(), e2.close(), e3.close()]);
    } finally {
      await t.cleanup();
    }
  });
}
