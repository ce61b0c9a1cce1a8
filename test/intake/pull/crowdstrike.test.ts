/**
 * The crowdstrike puller (pull receiver, vendor crowdstrike) against a local server that speaks the Falcon
 * Alerts API v2 as documented: OAuth2 client credentials, FQL query for composite ids sorted by a time field,
 * entities by POST, 401 for a revoked token, 429 with X-RateLimit-RetryAfter.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { falconAlertsServer } from '../../support/contracts/crowdstrike_alerts.js';
import { waitState, withPullRig } from '../../support/pull.js';
import { waitFor } from '../../support/wait.js';
import { readCursorValue } from '../../../src/store/cursors.js';
import { createReceivers } from '../../../src/intake/registry.js';
import { loadDetectors, normalizeRecord } from '../../../src/detectors/lib/registry.js';
import { fqlString } from '../../../src/intake/pull/vendors/crowdstrike.js';
import type { Logger } from '../../../src/util/log.js';

const CLIENT_ID = 'falcon-client-3c9e1d';
const SECRET = 'falcon-secret-7f2a9b41d0';
process.env['FIDO_TEST_FALCON_ID'] = CLIENT_ID;
process.env['FIDO_TEST_FALCON_SECRET'] = SECRET;
const entry = (url: string, more: Record<string, unknown> = {}) => ({
  vendor: 'crowdstrike',
  url,
  client_id: '${env:FIDO_TEST_FALCON_ID}',
  client_secret: '${env:FIDO_TEST_FALCON_SECRET}',
  page_size: 4,
  ...more,
});
const ids = (records: unknown[]) => records.map((r) => (r as { agent_id: string }).agent_id);
const range = (a: number, b: number) => Array.from({ length: b - a + 1 }, (_, i) => `aid${a + i}`);

test('crowdstrike: alerts since the start arrive once, in order, page by page, and parse as Falcon alerts', async () => {
  const cs = await falconAlertsServer({ clientId: CLIENT_ID, secret: SECRET });
  try {
    cs.add(1, 10);
    await withPullRig(async ({ receiver, waitRecords, intake }) => {
      const r = await receiver(entry(cs.url, { member_cid: 'child-cid-1' }));
      assert.deepEqual(ids(await waitRecords(10)), range(1, 10), 'every alert once, oldest first');
      assert.ok(intake.batchSizes.filter((n) => n > 0).every((n) => n <= 4), `pages of at most page_size: ${intake.batchSizes}`);
      cs.add(11, 13);
      assert.deepEqual(ids(await waitRecords(13)), range(1, 13), 'later alerts are polled from the watermark');
      const queries = cs.requests.filter((q) => q.path === '/alerts/queries/alerts/v2');
      const first = queries[0]!;
      assert.equal(first.query.get('sort'), 'created_timestamp.asc');
      assert.equal(first.query.get('limit'), '4');
      const m = /^created_timestamp:>='([^']+)'$/.exec(first.query.get('filter') ?? '');
      assert.ok(m, `an FQL time filter: ${first.query.get('filter')}`);
      assert.ok(Math.abs(Date.now() - 24 * 3600_000 - Date.parse(m[1]!)) < 600_000, 'a first run starts 24 h back');
      const entities = cs.requests.filter((q) => q.path === '/alerts/entities/alerts/v2');
      assert.ok(entities.every((q) => Array.isArray((q.json as { composite_ids: unknown }).composite_ids)));
      assert.equal(cs.tokens(), 1, 'one token serves the whole run (expires_in 1799)');
      assert.equal(cs.tokenForms[0]!.get('member_cid'), 'child-cid-1', 'member_cid goes with the token request');
      assert.ok(cs.requests.every((q) => !q.query.toString().includes(SECRET) && !String(q.headers.authorization ?? '').includes(SECRET)), 'the secret only in the token form');
      const s = await waitState(r, 'caught up', (x) => x.records === 13 && x.lag_ms === 0);
      assert.equal(s.state, 'running');
      assert.match(s.cursor ?? '', /^created_timestamp >= 20\d\d-.*456Z$/, `the cursor names the newest timestamp: ${s.cursor}`);
      const reg = await loadDetectors();
      const parsed = normalizeRecord(reg, intake.committed[0]!, 'auto');
      assert.ok('alerts' in parsed, JSON.stringify(parsed));
      assert.equal(parsed.detector, 'crowdstrike');
      const a = parsed.alerts[0]!;
      assert.equal(a.vendor_id, 'cid0:ind:aid1:1001-10-1');
      assert.equal(a.title, 'Credential dumping 1');
      assert.equal(a.host?.name, 'WS-1');
      assert.equal(a.severity_label, 'critical');
    });
  } finally {
    await cs.close();
  }
});

test('crowdstrike: a crash right after a page is committed resumes after that page: every alert once', async () => {
  const cs = await falconAlertsServer({ clientId: CLIENT_ID, secret: SECRET });
  try {
    cs.add(1, 11);
    await withPullRig(async ({ receiver, waitRecords, intake, store, stop }) => {
      intake.crashAfter = 2;
      const first = await receiver(entry(cs.url));
      // Page 1 takes alerts 1-4; page 2 asks from alert 4's time again and takes 5-7 (4 is skipped by id).
      await waitRecords(7);
      intake.releaseCrash();
      await stop(first);
      const stored = JSON.parse((await readCursorValue(store.store.db, 'pull:api', 'position'))!) as { w: { newest: string; seen: [string, number][] } };
      assert.equal(stored.w.newest, cs.alerts[6]!.created_timestamp, 'the committed watermark is the one of the committed page');
      assert.deepEqual(stored.w.seen.map(([id]) => id), [cs.alerts[6]!.composite_id]);
      await receiver(entry(cs.url));
      assert.deepEqual(ids(await waitRecords(11)), range(1, 11), 'nothing missed, nothing twice');
    });
  } finally {
    await cs.close();
  }
});

test('crowdstrike: alerts sharing a timestamp across page boundaries (even more than a page of them) arrive once', async () => {
  const cs = await falconAlertsServer({ clientId: CLIENT_ID, secret: SECRET });
  try {
    const base = Date.now() - 60_000;
    cs.add(1, 3, { baseMs: base });
    cs.add(4, 6, { fixedMs: base + 10 }); // straddles the first page boundary
    cs.add(7, 16, { fixedMs: base + 20 }); // ten in one instant: more than a page
    cs.add(17, 18, { baseMs: base + 30 - 17 });
    await withPullRig(async ({ receiver, waitRecords }) => {
      const r = await receiver(entry(cs.url));
      assert.deepEqual(ids(await waitRecords(18)), range(1, 18));
      await waitState(r, 'caught up', (x) => x.lag_ms === 0 && x.records === 18);
      const queries = () => cs.requests.filter((q) => q.path === '/alerts/queries/alerts/v2');
      const offsets = queries().map((q) => q.query.get('offset'));
      assert.ok(offsets.some((o) => o !== '0'), `a page all in one instant is stepped past with offset: ${offsets}`);
      const done = queries().length;
      const later = await waitFor('the next poll', () => queries()[done]);
      assert.equal(later.query.get('offset'), '0', 'back to offset 0 once the timestamp moved');
      assert.match(later.query.get('filter') ?? '', new RegExp(`>='${cs.alerts[17]!.created_timestamp.slice(0, 23)}Z'$`), 'polling from the newest alert');
    });
  } finally {
    await cs.close();
  }
});

test('crowdstrike: a token revoked mid-run is replaced (401 → new token) and nothing is lost', async () => {
  const cs = await falconAlertsServer({ clientId: CLIENT_ID, secret: SECRET, revokeAt: [3] });
  try {
    cs.add(1, 9);
    await withPullRig(async ({ receiver, waitRecords }) => {
      const r = await receiver(entry(cs.url));
      assert.deepEqual(ids(await waitRecords(9)), range(1, 9));
      assert.equal(cs.tokens(), 2, 'a second token after the 401');
      const s = await waitState(r, 'caught up', (x) => x.lag_ms === 0);
      assert.equal(s.error, null, 'the retry hid the expired token from the status');
    });
  } finally {
    await cs.close();
  }
});

test('crowdstrike: a 429 waits until X-RateLimit-RetryAfter and goes on; nothing is lost', async () => {
  const cs = await falconAlertsServer({ clientId: CLIENT_ID, secret: SECRET, rateLimited: [2, 3] });
  try {
    cs.add(1, 9);
    await withPullRig(async ({ receiver, waitRecords, logs }) => {
      const r = await receiver(entry(cs.url));
      const failing = await waitState(r, 'rate limited', (x) => x.state === 'failing');
      assert.match(failing.error ?? '', /429/, `the status says why: ${failing.error}`);
      assert.deepEqual(ids(await waitRecords(9)), range(1, 9));
      const waited = logs.map((l) => JSON.parse(l) as { retry_in_ms?: number; msg: string }).filter((l) => l.msg === 'pull receiver failed; retrying');
      assert.ok(waited.length >= 1 && waited.every((l) => (l.retry_in_ms ?? 0) > 20), `it waited as Falcon said, not its 20 ms interval: ${waited.map((l) => l.retry_in_ms)}`);
      await waitState(r, 'running again', (x) => x.state === 'running' && x.error === null);
    });
  } finally {
    await cs.close();
  }
});

test('crowdstrike: refused client credentials are a clear failing status, retried, and never show the secret', async () => {
  const cs = await falconAlertsServer({ clientId: CLIENT_ID, secret: 'another-secret-entirely' });
  try {
    cs.add(1, 3);
    await withPullRig(async ({ receiver, logs, intake }) => {
      const r = await receiver(entry(cs.url));
      const s = await waitState(r, 'failing', (x) => x.state === 'failing' && cs.requests.length >= 2);
      assert.match(s.error ?? '', /oauth2\/token answered 401/, s.error ?? '');
      assert.equal(intake.committed.length, 0);
      assert.ok(cs.requests.every((q) => q.path === '/oauth2/token'), 'no API call without a token');
      const text = JSON.stringify(s) + logs.join('\n');
      assert.ok(!text.includes(SECRET) && !text.includes('another-secret-entirely'), 'the secret is in neither the status nor the log');
    });
  } finally {
    await cs.close();
  }
});

test('crowdstrike: hostile alert content is stored as data; product filters are FQL-escaped', async () => {
  const cs = await falconAlertsServer({ clientId: CLIENT_ID, secret: SECRET });
  const hostile = `<script>alert(1)</script>'; DROP TABLE alerts; --\u0000\u0007\u001b[31m\r\n`;
  try {
    cs.add(1, 2, { extra: (i) => ({ display_name: `${hostile}${i}`, product: i === 1 ? "ep'p\\x" : 'epp' }) });
    await withPullRig(async ({ receiver, waitRecords, intake }) => {
      await receiver(entry(cs.url, { products: ["ep'p\\x", 'idp'] }));
      const got = (await waitRecords(1)) as { display_name: string; agent_id: string }[];
      assert.deepEqual(got.map((a) => a.agent_id), ['aid1'], 'only the alert of the escaped product value matched');
      assert.equal(got[0]!.display_name, `${hostile}1`, 'stored byte for byte');
      const filter = cs.requests.find((q) => q.path === '/alerts/queries/alerts/v2')!.query.get('filter')!;
      assert.ok(filter.startsWith(`product:['ep\\'p\\\\x','idp']+created_timestamp:>='`), filter);
      const reg = await loadDetectors();
      const parsed = normalizeRecord(reg, intake.committed[0]!, 'crowdstrike');
      assert.ok('alerts' in parsed, JSON.stringify(parsed));
      assert.ok(parsed.alerts[0]!.title.includes('DROP TABLE'), 'the detector reads it as text');
    });
  } finally {
    await cs.close();
  }
  assert.equal(fqlString("a'b\\c"), "'a\\'b\\\\c'");
});

test('crowdstrike config: missing credentials and bad options are refused with the key named', async () => {
  const log = pino({ level: 'silent' }) as unknown as Logger;
  const build = (receiver: Record<string, unknown>) =>
    createReceivers([{ name: 'api', receiver: { kind: 'pull', ...receiver } } as never], { store: null as never, intake: null as never, log, configDir: '/tmp', owner: 'x' });
  const ok = { vendor: 'crowdstrike', client_id: '${env:FIDO_TEST_FALCON_ID}', client_secret: '${env:FIDO_TEST_FALCON_SECRET}' };
  await assert.rejects(build({ vendor: 'crowdstrike', client_id: 'x' }), /sources\.api\.receiver.*client_secret/);
  await assert.rejects(build({ ...ok, cloud: 'mars-1' }), /sources\.api\.receiver\.cloud/);
  await assert.rejects(build({ ...ok, cloud: 'eu-1', url: 'https://api.eu-1.crowdstrike.com' }), /sources\.api\.receiver\.cloud: set either url or cloud/);
  await assert.rejects(build({ ...ok, time_field: 'timestamp' }), /sources\.api\.receiver\.time_field/);
  await assert.rejects(build({ ...ok, products: [] }), /sources\.api\.receiver\.products/);
  await assert.rejects(build({ ...ok, client_secret: '${env:FIDO_TEST_FALCON_UNSET_X}' }), /sources\.api\.receiver\.client_secret/);
});
