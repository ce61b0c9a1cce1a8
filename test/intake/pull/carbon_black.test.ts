/**
 * The carbon_black puller (pull receiver, vendor carbon_black) against a local server that speaks the Carbon
 * Black Cloud Alerts API v7 search as documented: X-Auth-Token "<secret>/<id>", time_range on
 * backend_timestamp, 1-based start + rows, sort ASC, {results, num_found}, 401 for a bad key, 429.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { cbAlertsServer } from '../../support/contracts/carbon_black_alerts.js';
import { waitState, withPullRig } from '../../support/pull.js';
import { waitFor } from '../../support/wait.js';
import { readCursorValue } from '../../../src/store/cursors.js';
import { createReceivers } from '../../../src/intake/registry.js';
import { loadDetectors, normalizeRecord } from '../../../src/detectors/lib/registry.js';
import type { Logger } from '../../../src/util/log.js';

const ORG = 'ABCD1234';
const ID = 'ZX1Y2W3V4U';
const KEY = 'cbc-secret-7d3f9a1e0b2c';
process.env['FIDO_TEST_CBC_KEY'] = KEY;
process.env['FIDO_TEST_CBC_ID'] = ID;
process.env['FIDO_TEST_CBC_TOKEN'] = `${KEY}/${ID}`;
process.env['FIDO_TEST_CBC_WRONG'] = 'cbc-wrong-4e8b2a6d9c1f';

const entry = (url: string, more: Record<string, unknown> = {}) => ({
  vendor: 'carbon_black',
  url,
  org_key: ORG,
  api_id: '${env:FIDO_TEST_CBC_ID}',
  api_secret_key: '${env:FIDO_TEST_CBC_KEY}',
  page_size: 3,
  ...more,
});
type Body = { time_range: { start: string; end: string }; start: number; rows: number; sort: unknown; criteria?: unknown };
const ids = (records: unknown[]) => records.map((r) => (r as { id: string }).id);
const range = (a: number, b: number) => Array.from({ length: b - a + 1 }, (_, i) => `cb-${a + i}`);
const committedIds = (committed: string[]) => ids(committed.map((x) => JSON.parse(x) as unknown));

test('carbon_black: alerts since the start arrive once, oldest first, page by page; later alerts follow; records parse as Carbon Black alerts', async () => {
  const cb = await cbAlertsServer({ orgKey: ORG, token: `${KEY}/${ID}` });
  try {
    cb.add(1, 8);
    await withPullRig(async ({ receiver, waitRecords, intake }) => {
      const r = await receiver(entry(cb.url, { criteria: { minimum_severity: 3 } }));
      assert.deepEqual(ids(await waitRecords(8)), range(1, 8), 'every alert once, oldest first');
      assert.ok(intake.batchSizes.filter((n) => n > 0).every((n) => n <= 3), `pages of at most page_size: ${intake.batchSizes}`);
      const first = cb.requests[0]!;
      assert.equal(first.path, `/api/alerts/v7/orgs/${ORG}/alerts/_search`);
      assert.equal(first.method, 'POST');
      assert.equal(first.headers['x-auth-token'], `${KEY}/${ID}`);
      const b = first.json as Body;
      assert.deepEqual(b.sort, [{ field: 'backend_timestamp', order: 'ASC' }]);
      assert.deepEqual(b.criteria, { minimum_severity: 3 });
      assert.equal(b.start, 1);
      assert.equal(b.rows, 3);
      assert.ok(Math.abs(Date.now() - 24 * 3600_000 - Date.parse(b.time_range.start)) < 600_000, 'a first run starts 24 h back');
      assert.ok(Math.abs(Date.now() - 30_000 - Date.parse(b.time_range.end)) < 600_000, 'the range ends 30 s back');
      assert.equal((cb.requests[1]!.json as Body).time_range.start, cb.alerts[2]!.backend_timestamp, 'the next page starts at the newest time taken');
      cb.add(9, 11, Date.now() - 60_000);
      assert.deepEqual(ids(await waitRecords(11)), range(1, 11));
      await waitState(r, 'caught up', (x) => x.records === 11 && x.lag_ms === 0);
      const reg = await loadDetectors();
      const out = normalizeRecord(reg, intake.committed[0]!, 'auto', { receivedAt: '2026-12-07T10:00:00Z' });
      assert.ok('alerts' in out, JSON.stringify(out).slice(0, 300));
      assert.equal(out.detector, 'carbon_black_cloud');
      const a = out.alerts[0]!;
      assert.equal(a.vendor_id, 'cb-1');
      assert.equal(a.event_type, 'CB_ANALYTICS');
      assert.equal(a.severity, 50);
      assert.equal(a.host?.name, 'Kognos-W19-CB-3');
      assert.equal(a.file?.sha256, '3b463c94b52414cfaad61ecdac64ca84eaea1ab4be69f75834aaa7701ab5e7d0');
    });
  } finally {
    await cb.close();
  }
});

test('carbon_black: a crash right after a page is committed resumes after that page: every alert once', async () => {
  const cb = await cbAlertsServer({ orgKey: ORG, token: `${KEY}/${ID}` });
  try {
    cb.add(1, 8);
    await withPullRig(async ({ receiver, waitRecords, intake, store, stop }) => {
      intake.crashAfter = 2;
      const first = await receiver(entry(cb.url));
      await waitRecords(5); // page 2 starts at cb-3's time: cb-3 again (skipped), cb-4, cb-5
      intake.releaseCrash();
      await stop(first);
      const c = JSON.parse((await readCursorValue(store.store.db, 'pull:api', 'position'))!) as { mark: { newest: string; seen: [string, number][] } };
      assert.equal(c.mark.newest, cb.alerts[4]!.backend_timestamp, 'the committed cursor is the one of the committed page');
      assert.deepEqual(c.mark.seen.map((s) => s[0]), ['cb-5']);
      await receiver(entry(cb.url));
      await waitRecords(8);
      assert.deepEqual(committedIds(intake.committed), range(1, 8), 'nothing missed, nothing twice');
    });
  } finally {
    await cb.close();
  }
});

test('carbon_black: alerts sharing one backend_timestamp across page boundaries are taken once; later polls repeat none', async () => {
  const cb = await cbAlertsServer({ orgKey: ORG, token: `${KEY}/${ID}` });
  try {
    const t = Date.now() - 90_000;
    cb.add(1, 2, t - 10);
    cb.add(3, 9, 0, t); // seven at one millisecond, pages of three
    await withPullRig(async ({ receiver, waitRecords, intake }) => {
      await receiver(entry(cb.url));
      await waitRecords(9);
      assert.ok(cb.requests.some((q) => (q.json as Body).start > 1), 'a page wholly at the watermark time reads on by row');
      const n = cb.requests.length;
      await waitFor('more polls', () => cb.requests.length >= n + 4);
      cb.add(10, 11, 0, t + 3); // two more, sharing a later millisecond
      await waitRecords(11);
      const m = cb.requests.length;
      await waitFor('more polls', () => cb.requests.length >= m + 4);
      assert.deepEqual([...committedIds(intake.committed)].sort(), [...range(1, 11)].sort(), 'each once');
    });
  } finally {
    await cb.close();
  }
});

test('carbon_black: with lookback, an alert made visible late at an already-read time is taken once', async () => {
  const cb = await cbAlertsServer({ orgKey: ORG, token: `${KEY}/${ID}` });
  try {
    const t = Date.now() - 90_000;
    cb.add(3, 9, 0, t); // seven at one millisecond, pages of three
    await withPullRig(async ({ receiver, waitRecords, intake }) => {
      await receiver(entry(cb.url, { lookback: '1m' }));
      await waitRecords(7);
      const n = cb.requests.length;
      await waitFor('more polls', () => cb.requests.length >= n + 3);
      cb.add(10, 10, 0, t); // sorts first at that millisecond, visible only now
      cb.add(11, 11, 0, t + 2);
      await waitRecords(9);
      const m = cb.requests.length;
      await waitFor('more polls', () => cb.requests.length >= m + 4);
      assert.deepEqual([...committedIds(intake.committed)].sort(), [...range(3, 11)].sort(), 'each once');
      assert.ok(cb.requests.slice(m).every((q) => Date.parse((q.json as Body).time_range.start) <= t + 2 - 60_000), 'the query starts a lookback before the watermark');
    });
  } finally {
    await cb.close();
  }
});

test('carbon_black: a 429 waits for Retry-After and goes on; nothing is lost', async () => {
  const cb = await cbAlertsServer({ orgKey: ORG, token: `${KEY}/${ID}`, rateLimited: [1] });
  try {
    cb.add(1, 6);
    await withPullRig(async ({ receiver, waitRecords, logs }) => {
      const r = await receiver(entry(cb.url));
      const failing = await waitState(r, 'rate limited', (x) => x.state === 'failing');
      assert.match(failing.error ?? '', /429/);
      assert.deepEqual(ids(await waitRecords(6)), range(1, 6));
      const waited = logs.map((l) => JSON.parse(l) as { retry_in_ms?: number; msg: string }).filter((l) => l.msg === 'pull receiver failed; retrying');
      assert.ok(waited.length >= 1 && waited.every((l) => (l.retry_in_ms ?? 0) >= 900), `it waited as Retry-After said: ${waited.map((l) => l.retry_in_ms)}`);
    });
  } finally {
    await cb.close();
  }
});

test('carbon_black: a refused key is a failing status naming it; the key is in neither status nor log', async () => {
  const cb = await cbAlertsServer({ orgKey: ORG, token: `${KEY}/${ID}` });
  try {
    cb.add(1, 2);
    await withPullRig(async ({ receiver, logs, intake }) => {
      const r = await receiver(entry(cb.url, { api_secret_key: '${env:FIDO_TEST_CBC_WRONG}' }));
      const s = await waitState(r, 'failing', (x) => x.state === 'failing' && cb.requests.length >= 2);
      assert.match(s.error ?? '', /401.*refused/, s.error ?? '');
      assert.equal(intake.committed.length, 0);
      const text = JSON.stringify(s) + logs.join('\n');
      assert.ok(!text.includes('cbc-wrong-4e8b2a6d9c1f') && !text.includes(KEY), 'no key shown');
    });
  } finally {
    await cb.close();
  }
});

test('carbon_black: one api_token reference works; hostile alert content is stored as data', async () => {
  const cb = await cbAlertsServer({ orgKey: ORG, token: `${KEY}/${ID}` });
  try {
    const hostile = '<img src=x onerror=alert(1)>\'; DELETE FROM alerts;--\u0000\u0007\u001b[2J';
    cb.add(1, 3, Date.now() - 120_000, undefined, { reason: hostile, device_name: '"><script>x</script>' });
    await withPullRig(async ({ receiver, waitRecords }) => {
      const { api_id: _i, api_secret_key: _k, ...rest } = entry(cb.url);
      await receiver({ ...rest, api_token: '${env:FIDO_TEST_CBC_TOKEN}' });
      const all = (await waitRecords(3)) as { reason: string; device_name: string }[];
      assert.ok(all.every((a) => a.reason === hostile && a.device_name === '"><script>x</script>'), 'byte for byte');
    });
  } finally {
    await cb.close();
  }
});

test('carbon_black config: missing or conflicting credentials and bad keys are refused with the key named', async () => {
  const log = pino({ level: 'silent' }) as unknown as Logger;
  const build = (receiver: Record<string, unknown>) =>
    createReceivers([{ name: 'api', receiver: { kind: 'pull', ...receiver } } as never], { store: null as never, intake: null as never, log, configDir: '/tmp', owner: 'x' });
  const ok = { vendor: 'carbon_black', url: 'https://defense.conferdeploy.net', org_key: ORG, api_id: '${env:FIDO_TEST_CBC_ID}', api_secret_key: '${env:FIDO_TEST_CBC_KEY}' };
  const { api_secret_key: _k, ...noKey } = ok;
  await assert.rejects(build(noKey), /sources\.api\.receiver\.api_secret_key: is required/);
  await assert.rejects(build({ ...ok, api_token: '${env:FIDO_TEST_CBC_TOKEN}' }), /sources\.api\.receiver\.api_token: give either/);
  await assert.rejects(build({ ...ok, org_key: 'ABC/../x' }), /sources\.api\.receiver\.org_key/);
  await assert.rejects(build({ ...ok, criteria: 'severity:3' }), /sources\.api\.receiver\.criteria/);
  await assert.rejects(build({ ...ok, api_secret_key: '${env:FIDO_TEST_CBC_UNSET}' }), /sources\.api\.receiver\.api_secret_key/);
  const { url: _u, ...noUrl } = ok;
  await assert.rejects(build(noUrl), /sources\.api\.receiver\.url: is required for vendor carbon_black/);
});
