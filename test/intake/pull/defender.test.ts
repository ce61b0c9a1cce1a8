/**
 * The defender puller (pull receiver, vendor defender) against a local server that speaks Microsoft Graph
 * security alerts_v2 and the Defender for Endpoint alerts API as documented: client-credentials tokens,
 * `<lastUpdate> ge` filters, $top, @odata.nextLink (Graph) or $skip (MDE), no ordering guarantee (newest first),
 * 401 InvalidAuthenticationToken, 429 with Retry-After.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { defenderAlertsServer, type DefenderApi } from '../../support/contracts/defender_alerts.js';
import { waitState, withPullRig } from '../../support/pull.js';
import { waitFor } from '../../support/wait.js';
import { readCursorValue } from '../../../src/store/cursors.js';
import { createReceivers } from '../../../src/intake/registry.js';
import { loadDetectors, normalizeRecord } from '../../../src/detectors/lib/registry.js';
import type { Logger } from '../../../src/util/log.js';

const TENANT = 'contoso-tenant-0001';
const CLIENT = 'app-7f3e';
const SECRET = 'defender-secret-9c41d2e8';
process.env['FIDO_TEST_DEFENDER_SECRET'] = SECRET;
process.env['FIDO_TEST_DEFENDER_WRONG'] = 'wrong-secret-5b7a1f0c';

const server = (api: DefenderApi, more: Partial<Parameters<typeof defenderAlertsServer>[0]> = {}) => defenderAlertsServer({ api, tenant: TENANT, clientId: CLIENT, secret: SECRET, ...more });
const entry = (url: string, more: Record<string, unknown> = {}) => ({
  vendor: 'defender',
  url,
  token_url: `${url}/${TENANT}/oauth2/v2.0/token`,
  tenant_id: TENANT,
  client_id: CLIENT,
  client_secret: '${env:FIDO_TEST_DEFENDER_SECRET}',
  page_size: 3,
  ...more,
});
type Rec = { id: string; lastUpdateDateTime?: string; lastUpdateTime?: string };
const ids = (records: unknown[]) => records.map((r) => (r as Rec).id);
const sorted = (xs: string[]) => [...xs].sort();
const range = (a: number, b: number) => Array.from({ length: b - a + 1 }, (_, i) => `alert-${a + i}`);
const cursorOf = async (db: Parameters<typeof readCursorValue>[0]) => JSON.parse((await readCursorValue(db, 'pull:api', 'position')) ?? 'null') as { from: string; next: string | null; seen: [string, number][] } | null;

test('defender (graph): alerts since the start arrive once over several nextLink pages; later alerts and updates follow; records parse as Defender alerts', async () => {
  const ms = await server('graph');
  try {
    ms.add(1, 8);
    await withPullRig(async ({ receiver, waitRecords, intake, store }) => {
      const r = await receiver(entry(ms.url));
      const first = await waitRecords(8);
      assert.deepEqual(sorted(ids(first)), sorted(range(1, 8)), 'every alert once');
      assert.deepEqual(ids(first), range(1, 8).reverse(), "in the vendor's order (newest first)");
      assert.ok(intake.batchSizes.filter((n) => n > 0).every((n) => n <= 3), `pages of at most page_size: ${intake.batchSizes}`);
      const list = ms.listRequests();
      const f0 = list[0]!.query.get('$filter') ?? '';
      assert.ok(f0.startsWith('lastUpdateDateTime ge '), f0);
      assert.ok(Math.abs(Date.now() - 24 * 3600_000 - Date.parse(f0.slice('lastUpdateDateTime ge '.length))) < 600_000, 'a first run starts 24 h back');
      assert.equal(list[0]!.query.get('$top'), '3');
      assert.equal(list[1]!.query.get('$skip'), '3', 'the second page is the nextLink');
      assert.ok(list.every((q) => q.headers.authorization?.startsWith('Bearer eyJ0eXAi.graph-token-')), 'a bearer token on every call');
      await waitState(r, 'caught up', (x) => x.records === 8 && x.lag_ms === 0);
      const c = await cursorOf(store.store.db);
      assert.equal(c?.next, null, 'between queries');
      const newest = ms.alerts.find((a) => a.id === 'alert-8')!.updated;
      assert.equal(Date.parse(c!.from), newest, 'the watermark moved to the newest alert of the finished query');
      // New alerts, and an old alert updated: the update is a new version, taken once.
      ms.add(9, 10);
      ms.update('alert-2', Date.now());
      const all = await waitRecords(11);
      assert.deepEqual(sorted(ids(all.slice(8))), sorted(['alert-9', 'alert-10', 'alert-2']));
      const more = await waitFor('two more polls', () => ms.listRequests().length >= list.length + 4);
      assert.ok(more);
      assert.equal(intake.committed.length, 11, 'polling on repeats nothing');
      // The real detector reads a stored record.
      const reg = await loadDetectors();
      const out = normalizeRecord(reg, intake.committed[0]!, 'auto', { receivedAt: '2026-12-07T10:00:00Z' });
      assert.ok('alerts' in out, JSON.stringify(out).slice(0, 300));
      assert.equal(out.detector, 'microsoft_defender');
      const a = out.alerts[0]!;
      assert.equal(a.vendor_id, 'alert-8');
      assert.equal(a.title, 'Suspicious activity 8');
      assert.equal(a.severity, 75);
      assert.equal(a.host?.name, 'ws-042.corp.example');
      assert.equal(a.file?.sha256, '8963a19fb992ad9a76576c5638fd68292cffb9aaac29eb8285f9abf6196a7dec');
    });
  } finally {
    await ms.close();
  }
});

test('defender (graph): a crash right after a page is committed resumes inside the same query: every alert once', async () => {
  const ms = await server('graph');
  try {
    ms.add(1, 8);
    await withPullRig(async ({ receiver, waitRecords, intake, store, stop }) => {
      intake.crashAfter = 2;
      const first = await receiver(entry(ms.url));
      await waitRecords(6);
      intake.releaseCrash();
      await stop(first);
      const c = await cursorOf(store.store.db);
      assert.equal(new URLSearchParams(c?.next ?? '').get('$skip'), '6', 'the committed cursor holds the next page of the query');
      assert.equal(c?.seen.length, 6);
      // An alert arrives while Fido is down: positions shift by one (the list is newest first).
      ms.add(9, 9);
      await receiver(entry(ms.url));
      const all = await waitRecords(9);
      await waitFor('caught up', async () => (await cursorOf(store.store.db))?.next === null);
      assert.deepEqual(sorted(ids(intake.committed.map((x) => JSON.parse(x) as unknown))), sorted(range(1, 9)), `nothing missed, nothing twice: ${ids(all)}`);
    });
  } finally {
    await ms.close();
  }
});

test('defender (graph): alerts sharing one lastUpdateDateTime across page boundaries, and later polls at that time, are taken once', async () => {
  const ms = await server('graph', { noNextLink: true });
  try {
    const t = Date.now() - 30_000;
    ms.add(1, 7, 0, t);
    await withPullRig(async ({ receiver, waitRecords, intake }) => {
      await receiver(entry(ms.url));
      await waitRecords(7);
      const n = ms.listRequests().length;
      assert.ok(ms.listRequests().some((q) => q.query.get('$skip') === '3'), 'without a nextLink a full page goes on by $skip');
      await waitFor('two more queries at the same time', () => ms.listRequests().length >= n + 2);
      assert.ok(ms.listRequests().slice(n).every((q) => Date.parse((q.query.get('$filter') ?? '').slice('lastUpdateDateTime ge '.length)) === t), 'the next queries start at that time');
      ms.add(8, 8, 0, t);
      await waitRecords(8);
      await waitFor('another query', () => ms.listRequests().length >= n + 6);
      assert.deepEqual(sorted(ids(intake.committed.map((x) => JSON.parse(x) as unknown))), sorted(range(1, 8)));
    });
  } finally {
    await ms.close();
  }
});

test('defender (graph): an alert updated while a query is paged is not lost (no ordering is assumed)', async () => {
  const ms = await server('graph', {
    override: (r) => {
      // When the second page is asked for, an alert of the first page (already read) is updated, and then one
      // of the last page: the query meets a time newer than the first update, yet must not move past it.
      if (r.query.get('$skip') === '3' && ms.alerts.find((a) => a.id === 'alert-7')!.updated < Date.now() - 1000) {
        const now = Date.now();
        ms.update('alert-7', now);
        ms.update('alert-1', now + 1);
      }
      return undefined;
    },
  });
  try {
    ms.add(1, 7, Date.now() - 3600_000);
    await withPullRig(async ({ receiver, waitRecords }) => {
      await receiver(entry(ms.url));
      const all = await waitRecords(8);
      assert.deepEqual(sorted(ids(all)), sorted([...range(1, 7), 'alert-7']), 'the updated alert is read again by the next query');
      assert.equal(ids(all).filter((x) => x === 'alert-1').length, 1, 'alert-1 was met in its new version only');
      const seven = all.filter((x) => (x as Rec).id === 'alert-7') as Rec[];
      assert.notEqual(seven[0]!.lastUpdateDateTime, seven[1]!.lastUpdateDateTime, 'two versions');
    });
  } finally {
    await ms.close();
  }
});

test('defender (graph): with lookback, an alert made visible late with an older lastUpdateDateTime is taken once', async () => {
  const ms = await server('graph');
  try {
    const t = Date.now() - 120_000;
    ms.add(1, 4, t);
    await withPullRig(async ({ receiver, waitRecords, intake }) => {
      await receiver(entry(ms.url, { lookback: '1m' }));
      await waitRecords(4);
      const n = ms.listRequests().length;
      await waitFor('more polls', () => ms.listRequests().length >= n + 2);
      ms.alerts.push({ id: 'alert-late', created: t + 2, updated: t + 2, title: 'late' }); // older than the watermark (t + 4)
      await waitRecords(5);
      const m = ms.listRequests().length;
      await waitFor('more polls', () => ms.listRequests().length >= m + 3);
      assert.deepEqual(sorted(ids(intake.committed.map((x) => JSON.parse(x) as unknown))), sorted([...range(1, 4), 'alert-late']), 'each once');
    });
  } finally {
    await ms.close();
  }
});

test('defender (graph): an expired token mid-run gets a new token and goes on', async () => {
  const ms = await server('graph');
  try {
    ms.add(1, 4);
    await withPullRig(async ({ receiver, waitRecords, intake }) => {
      const r = await receiver(entry(ms.url));
      await waitRecords(4);
      ms.expireAll();
      ms.add(5, 6);
      await waitRecords(6);
      assert.equal(ms.issued(), 2, 'one new token');
      const refused = ms.requests.filter((q) => q.headers.authorization === 'Bearer eyJ0eXAi.graph-token-1' && q.path.startsWith('/v1.0'));
      assert.ok(refused.length >= 2, 'the first token was used, then refused');
      assert.equal(intake.committed.length, 6);
      const s = r.status!();
      assert.equal(s.state, 'running');
    });
  } finally {
    await ms.close();
  }
});

test('defender (graph): a 429 waits for Retry-After and goes on; nothing is lost', async () => {
  const ms = await server('graph', { rateLimited: [2] }); // token, page 1, then page 2 is throttled
  try {
    ms.add(1, 6);
    await withPullRig(async ({ receiver, waitRecords, logs }) => {
      const r = await receiver(entry(ms.url));
      const failing = await waitState(r, 'rate limited', (x) => x.state === 'failing');
      assert.match(failing.error ?? '', /429/);
      assert.deepEqual(sorted(ids(await waitRecords(6))), sorted(range(1, 6)));
      const waited = logs.map((l) => JSON.parse(l) as { retry_in_ms?: number; msg: string }).filter((l) => l.msg === 'pull receiver failed; retrying');
      assert.ok(waited.length >= 1 && waited.every((l) => (l.retry_in_ms ?? 0) >= 900), `it waited as Retry-After said: ${waited.map((l) => l.retry_in_ms)}`);
    });
  } finally {
    await ms.close();
  }
});

test('defender: a refused client secret is a failing status naming it; the secret is in neither status nor log', async () => {
  const ms = await server('graph');
  try {
    ms.add(1, 2);
    await withPullRig(async ({ receiver, logs, intake }) => {
      const r = await receiver(entry(ms.url, { client_secret: '${env:FIDO_TEST_DEFENDER_WRONG}' }));
      const s = await waitState(r, 'failing', (x) => x.state === 'failing' && ms.requests.length >= 2);
      assert.match(s.error ?? '', /401.*invalid_client/, s.error ?? '');
      assert.equal(intake.committed.length, 0);
      assert.ok(ms.listRequests().length === 0, 'no list call without a token');
      const text = JSON.stringify(s) + logs.join('\n');
      assert.ok(!text.includes('wrong-secret-5b7a1f0c') && !text.includes(SECRET), 'no secret shown');
      assert.ok(text.includes('[secret]'), 'the echoed secret was cut out');
    });
  } finally {
    await ms.close();
  }
});

test('defender: a nextLink to another origin is refused; the cursor does not move', async () => {
  const ms = await server('graph', {
    override: (r) => (r.path === '/v1.0/security/alerts_v2' && String(r.headers.authorization).startsWith('Bearer ') ? { json: { value: [], '@odata.nextLink': 'https://attacker.example/v1.0/security/alerts_v2?$skip=1' } } : undefined),
  });
  try {
    await withPullRig(async ({ receiver, store }) => {
      const r = await receiver(entry(ms.url));
      const s = await waitState(r, 'failing', (x) => x.state === 'failing');
      assert.match(s.error ?? '', /nextLink points elsewhere/);
      assert.equal(await readCursorValue(store.store.db, 'pull:api', 'position'), undefined);
    });
  } finally {
    await ms.close();
  }
});

test('defender (mde): /api/alerts with lastUpdateTime, $expand=evidence and $skip paging; hostile content stored as data; MDE alerts parse', async () => {
  const ms = await server('mde');
  try {
    ms.add(1, 6);
    const hostile = '<script>alert(1)</script>\'; DROP TABLE alerts;--\u0000\u001b[31m';
    ms.alerts.find((a) => a.id === 'alert-3')!.title = hostile;
    await withPullRig(async ({ receiver, waitRecords, intake }) => {
      await receiver(entry(ms.url, { api: 'mde', page_size: 2 }));
      const all = await waitRecords(6);
      assert.deepEqual(sorted(ids(all)), sorted(range(1, 6)));
      const list = ms.listRequests();
      assert.ok((list[0]!.query.get('$filter') ?? '').startsWith('lastUpdateTime ge '));
      assert.equal(list[0]!.query.get('$expand'), 'evidence');
      assert.deepEqual(list.slice(0, 4).map((q) => q.query.get('$skip')), [null, '2', '4', '6'], 'pages by $skip (MDE sends no nextLink)');
      assert.equal((all.find((x) => (x as Rec).id === 'alert-3') as { title: string }).title, hostile, 'stored byte for byte');
      const reg = await loadDetectors();
      const raw = intake.committed.find((x) => x.includes('"alert-5"'))!;
      const out = normalizeRecord(reg, raw, 'auto', { receivedAt: '2026-12-07T10:00:00Z' });
      assert.ok('alerts' in out && out.detector === 'microsoft_defender', JSON.stringify(out).slice(0, 300));
      assert.equal(out.alerts[0]!.host?.name, 'testserver4');
      assert.equal(out.alerts[0]!.vendor_id, 'alert-5');
      assert.equal(ms.requests.find((q) => q.path.endsWith('/token'))!.form.get('scope'), 'https://api.securitycenter.microsoft.com/.default');
    });
  } finally {
    await ms.close();
  }
});

test('defender config: missing or bad keys are refused with the key named', async () => {
  const log = pino({ level: 'silent' }) as unknown as Logger;
  const build = (receiver: Record<string, unknown>) =>
    createReceivers([{ name: 'api', receiver: { kind: 'pull', ...receiver } } as never], { store: null as never, intake: null as never, log, configDir: '/tmp', owner: 'x' });
  const ok = { vendor: 'defender', tenant_id: TENANT, client_id: CLIENT, client_secret: '${env:FIDO_TEST_DEFENDER_SECRET}' };
  const { client_secret: _omit, ...noSecret } = ok;
  await assert.rejects(build(noSecret), /sources\.api\.receiver.*client_secret/);
  await assert.rejects(build({ ...ok, api: 'atp' }), /sources\.api\.receiver\.api/);
  await assert.rejects(build({ ...ok, token_url: 'http://127.0.0.1:9/t' }), /sources\.api\.receiver\.token_url: .*(private|loopback)/i);
  await assert.rejects(build({ ...ok, client_secret: '${env:FIDO_TEST_DEFENDER_UNSET}' }), /sources\.api\.receiver\.client_secret/);
  await assert.rejects(build({ ...ok, tenant_id: '../evil' }), /sources\.api\.receiver\.tenant_id/);
  await assert.rejects(build({ ...ok, lookback: 'later' }), /sources\.api\.receiver.*lookback/);
});
