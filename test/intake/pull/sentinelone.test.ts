/**
 * The sentinelone puller (pull receiver, vendor sentinelone) against a local server that speaks the
 * Management API v2.1 list endpoints as documented: ApiToken auth, createdAt__gte + sortBy/sortOrder, limit,
 * pagination.nextCursor, {"errors": [...]} bodies, 429 with Retry-After.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { s1AlertId, s1ListServer, s1ThreatId } from '../../support/contracts/sentinelone_alerts.js';
import { waitState, withPullRig } from '../../support/pull.js';
import { readCursorValue } from '../../../src/store/cursors.js';
import { createReceivers } from '../../../src/intake/registry.js';
import { loadDetectors, normalizeRecord } from '../../../src/detectors/lib/registry.js';
import type { Logger } from '../../../src/util/log.js';

const TOKEN = 's1-api-token-5be0c7d2a9';
process.env['FIDO_TEST_S1_TOKEN'] = TOKEN;
const entry = (url: string, more: Record<string, unknown> = {}) => ({ vendor: 'sentinelone', url, api_token: '${env:FIDO_TEST_S1_TOKEN}', page_size: 4, ...more });
type Rec = { id?: string; threatInfo?: { threatName: string; updatedAt: string }; alertInfo?: { alertId: string } };
const names = (records: unknown[]) => (records as Rec[]).map((r) => (r.threatInfo ? `t${BigInt(r.id!) - BigInt(s1ThreatId(0))}` : `a${BigInt(r.alertInfo!.alertId) - BigInt(s1AlertId(0))}`));
const range = (p: string, a: number, b: number) => Array.from({ length: b - a + 1 }, (_, i) => `${p}${a + i}`);

test('sentinelone: threats since the start arrive once, oldest first, following nextCursor; they parse as S1 threats', async () => {
  const s1 = await s1ListServer({ token: TOKEN });
  try {
    s1.addThreats(1, 10);
    await withPullRig(async ({ receiver, waitRecords, intake }) => {
      const r = await receiver(entry(s1.url));
      assert.deepEqual(names(await waitRecords(10)), range('t', 1, 10), 'every threat once, oldest first');
      assert.ok(intake.batchSizes.filter((n) => n > 0).every((n) => n <= 4), `pages of at most page_size: ${intake.batchSizes}`);
      s1.addThreats(11, 13);
      assert.deepEqual(names(await waitRecords(13)), range('t', 1, 13), 'later threats arrive from the watermark');
      const first = s1.requests[0]!;
      assert.equal(first.path, '/web/api/v2.1/threats');
      assert.equal(first.query.get('sortBy'), 'createdAt');
      assert.equal(first.query.get('sortOrder'), 'asc');
      assert.equal(first.query.get('limit'), '4');
      assert.ok(Math.abs(Date.now() - 24 * 3600_000 - Date.parse(first.query.get('createdAt__gte') ?? '')) < 600_000, 'a first run starts 24 h back');
      assert.equal(s1.requests[1]!.query.get('cursor') !== null, true, 'the second page follows nextCursor');
      assert.equal(s1.requests[1]!.query.get('createdAt__gte'), first.query.get('createdAt__gte'), 'within one sweep the time bound stays');
      assert.ok(s1.requests.every((q) => q.headers.authorization === `ApiToken ${TOKEN}` && !q.query.toString().includes(TOKEN)), 'the token in the header only');
      const s = await waitState(r, 'caught up', (x) => x.records === 13 && x.lag_ms === 0);
      assert.equal(s.state, 'running');
      assert.match(s.cursor ?? '', /^threats >= 20\d\d-.*519Z$/, `the cursor names the newest threat time: ${s.cursor}`);
      const parsed = normalizeRecord(await loadDetectors(), intake.committed[0]!, 'auto');
      assert.ok('alerts' in parsed, JSON.stringify(parsed));
      assert.equal(parsed.detector, 'sentinel_one');
      assert.equal(parsed.alerts[0]!.vendor_id, s1ThreatId(1));
      assert.equal(parsed.alerts[0]!.title, 'Trojan: Trojan.1');
      assert.equal(parsed.alerts[0]!.host?.name, 'host-1');
    });
  } finally {
    await s1.close();
  }
});

test('sentinelone: a crash right after a page is committed resumes after that page: every threat once', async () => {
  const s1 = await s1ListServer({ token: TOKEN });
  try {
    s1.addThreats(1, 11);
    await withPullRig(async ({ receiver, waitRecords, intake, store, stop }) => {
      intake.crashAfter = 2;
      const first = await receiver(entry(s1.url));
      await waitRecords(8);
      intake.releaseCrash();
      await stop(first);
      const stored = JSON.parse((await readCursorValue(store.store.db, 'pull:api', 'position'))!) as { feeds: { threats: { next: string | null; w: { newest: string } } } };
      assert.notEqual(stored.feeds.threats.next, null, 'the committed cursor is mid-sweep, at the committed page');
      assert.equal(stored.feeds.threats.w.newest, (s1.threats[7]!['threatInfo'] as { createdAt: string }).createdAt);
      await receiver(entry(s1.url));
      assert.deepEqual(names(await waitRecords(11)), range('t', 1, 11), 'nothing missed, nothing twice');
    });
  } finally {
    await s1.close();
  }
});

test('sentinelone: threats and alerts feeds, each with its own cursor; shared instants across pages and unsorted alerts arrive once', async () => {
  const s1 = await s1ListServer({ token: TOKEN });
  try {
    const base = Date.now() - 60_000;
    s1.addThreats(1, 3, { time: (i) => base + i });
    s1.addThreats(4, 12, { time: () => base + 10 }); // nine in one instant: across two page boundaries
    s1.addThreats(13, 14, { time: (i) => base + i });
    // Alert ids rise while their times fall: the alerts list is in id order, not time order.
    s1.addAlerts(1, 6, { time: (i) => base + 100 - i });
    await withPullRig(async ({ receiver, waitRecords, store }) => {
      const r = await receiver(entry(s1.url, { feeds: ['threats', 'alerts'] }));
      const got = names(await waitRecords(20));
      assert.deepEqual(got.filter((x) => x.startsWith('t')), range('t', 1, 14), 'threats once, in order');
      assert.deepEqual(got.filter((x) => x.startsWith('a')), range('a', 1, 6), 'alerts once, in the list order');
      s1.addAlerts(7, 8, { time: (i) => base + 200 + i });
      s1.addThreats(15, 15, { time: () => base + 300 });
      const all = names(await waitRecords(23));
      assert.equal(new Set(all).size, 23, `nothing twice: ${all}`);
      const alertQueries = s1.requests.filter((q) => q.path === '/web/api/v2.1/cloud-detection/alerts');
      assert.ok(alertQueries.every((q) => q.query.get('sortBy') === 'id' && q.query.get('createdAt__gte') !== null));
      await waitState(r, 'caught up', (x) => x.lag_ms === 0 && x.records === 23);
      const stored = JSON.parse((await readCursorValue(store.store.db, 'pull:api', 'position'))!) as { feeds: Record<string, { w: { newest: string } }> };
      assert.deepEqual(Object.keys(stored.feeds).sort(), ['alerts', 'threats'], 'one cursor object, a cursor per feed');
      assert.equal(stored.feeds['alerts']!.w.newest, (s1.alerts[7]!['alertInfo'] as { createdAt: string }).createdAt);
    });
  } finally {
    await s1.close();
  }
});

test('sentinelone: threat_time updatedAt reads a threat again after it is updated', async () => {
  const s1 = await s1ListServer({ token: TOKEN });
  try {
    s1.addThreats(1, 3);
    await withPullRig(async ({ receiver, waitRecords }) => {
      await receiver(entry(s1.url, { threat_time: 'updatedAt' }));
      await waitRecords(3);
      s1.updateThreat(2, Date.now() - 1000);
      const got = (await waitRecords(4)) as Rec[];
      assert.deepEqual(names(got), ['t1', 't2', 't3', 't2']);
      assert.ok(s1.requests.every((q) => q.query.get('sortBy') === 'updatedAt' && q.query.get('updatedAt__gte') !== null));
    });
  } finally {
    await s1.close();
  }
});

test('sentinelone: a 429 waits for Retry-After and goes on; nothing is lost', async () => {
  const s1 = await s1ListServer({ token: TOKEN, rateLimited: [1, 2] });
  try {
    s1.addThreats(1, 9);
    await withPullRig(async ({ receiver, waitRecords, logs }) => {
      const r = await receiver(entry(s1.url));
      const failing = await waitState(r, 'rate limited', (x) => x.state === 'failing');
      assert.match(failing.error ?? '', /429/, `the status says why: ${failing.error}`);
      assert.deepEqual(names(await waitRecords(9)), range('t', 1, 9));
      const waited = logs.map((l) => JSON.parse(l) as { retry_in_ms?: number; msg: string }).filter((l) => l.msg === 'pull receiver failed; retrying');
      assert.ok(waited.length >= 1 && waited.every((l) => (l.retry_in_ms ?? 0) >= 1000), `it waited the Retry-After second: ${waited.map((l) => l.retry_in_ms)}`);
      await waitState(r, 'running again', (x) => x.state === 'running' && x.error === null);
    });
  } finally {
    await s1.close();
  }
});

test('sentinelone: a refused token is a clear failing status, retried, and never shows the token', async () => {
  const s1 = await s1ListServer({ token: 'another-token-entirely' });
  try {
    s1.addThreats(1, 3);
    await withPullRig(async ({ receiver, logs, intake }) => {
      const r = await receiver(entry(s1.url));
      const s = await waitState(r, 'failing', (x) => x.state === 'failing' && s1.requests.length >= 2);
      assert.match(s.error ?? '', /401.*Authentication Failed/, s.error ?? '');
      assert.equal(intake.committed.length, 0);
      assert.ok(!JSON.stringify(s).includes(TOKEN) && !logs.join('\n').includes(TOKEN), 'the token is in neither the status nor the log');
    });
  } finally {
    await s1.close();
  }
});

test('sentinelone: hostile threat content is stored as data and read as text', async () => {
  const s1 = await s1ListServer({ token: TOKEN });
  const hostile = `<img src=x onerror=alert(1)>'; DELETE FROM alerts; --\u0000\u0008\u001b]0;x\u0007\r\n`;
  try {
    s1.addThreats(1, 1, { extra: () => ({ threatName: hostile, filePath: `C:\\${hostile}.exe` }) });
    await withPullRig(async ({ receiver, waitRecords, intake }) => {
      await receiver(entry(s1.url, { site_ids: ['1234567890123456789'] }));
      const [got] = (await waitRecords(1)) as { threatInfo: { threatName: string } }[];
      assert.equal(got!.threatInfo.threatName, hostile, 'stored byte for byte');
      assert.equal(s1.requests[0]!.query.get('siteIds'), '1234567890123456789');
      const parsed = normalizeRecord(await loadDetectors(), intake.committed[0]!, 'sentinel_one');
      assert.ok('alerts' in parsed, JSON.stringify(parsed));
      assert.ok(parsed.alerts[0]!.title.includes('DELETE FROM alerts'));
    });
  } finally {
    await s1.close();
  }
});

test('sentinelone config: missing token, no url and bad options are refused with the key named', async () => {
  const log = pino({ level: 'silent' }) as unknown as Logger;
  const build = (receiver: Record<string, unknown>) =>
    createReceivers([{ name: 'api', receiver: { kind: 'pull', ...receiver } } as never], { store: null as never, intake: null as never, log, configDir: '/tmp', owner: 'x' });
  const ok = { vendor: 'sentinelone', url: 'https://usea1-acme.sentinelone.net', api_token: '${env:FIDO_TEST_S1_TOKEN}' };
  await assert.rejects(build({ vendor: 'sentinelone', url: ok.url }), /sources\.api\.receiver.*api_token/);
  await assert.rejects(build({ vendor: 'sentinelone', api_token: ok.api_token }), /sources\.api\.receiver\.url: is required for vendor sentinelone/);
  await assert.rejects(build({ ...ok, feeds: ['threats', 'incidents'] }), /sources\.api\.receiver\.feeds/);
  await assert.rejects(build({ ...ok, feeds: ['threats', 'threats'] }), /sources\.api\.receiver\.feeds/);
  await assert.rejects(build({ ...ok, feeds: [] }), /sources\.api\.receiver\.feeds/);
  await assert.rejects(build({ ...ok, threat_time: 'identifiedAt' }), /sources\.api\.receiver\.threat_time/);
  await assert.rejects(build({ ...ok, site_ids: ['1,2'] }), /sources\.api\.receiver\.site_ids/);
  await assert.rejects(build({ ...ok, api_token: '${env:FIDO_TEST_S1_UNSET_X}' }), /sources\.api\.receiver\.api_token/);
});
