/**
 * GET /api/v1/configuration (issue 18, item 5) on SQLite and PostgreSQL: the configuration the process runs
 * with (the demo's, loaded with a secret reference resolved), providers built from config entries, decisions
 * made by the real pipeline plus older ones seeded at known times; then the sources, providers with quota and
 * cache, rules in order with their hits, and the kill switch are checked — and that no secret appears.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { buildApi } from '../../src/api/server.js';
import { ensureToken } from '../../src/api/auth.js';
import { sharedEnricher } from '../../src/api/routes/enrichment.js';
import { createConfiguredEnricher } from '../../src/enrich/registry.js';
import { loadConfig } from '../../src/config/load.js';
import { setKillSwitch } from '../../src/actions/kill-switch.js';
import { defaultSandbox } from '../../src/policy/sandbox.js';
import type { ComponentEntry } from '../../src/component/component.js';
import type { SourceConfig } from '../../src/config/schema.js';
import type { Db } from '../../src/store/store.js';
import { sql } from 'kysely';
import { firstDecisionIdSince, ruleHits } from '../../src/store/overview.js';
import { DIALECTS, openTestStore, tempDir, type TestStore } from '../support/stores.js';
import { TOKENS, auth, apiContext } from '../support/api.js';
import { seedHistory, writeTryConfig } from '../support/backtest-history.js';

/** An answer as parsed JSON: the test reads nested fields freely (the route's schema types the real thing). */
type Json = Record<string, any>;

const DAY = 86_400_000;
const SECRET = 'Zq8-overview-secret-value-771';
const RECEIVER_SECRET = 'receiver-password-4f1c9e';
/** A receiver no process has reported on. */
const UNREPORTED = { state: 'unknown', owner: null, last_record_at: null, records: null, lag_ms: null, error: null, cursor: null, reported_at: null };

/** The demo configuration with busy-medium (writeTryConfig), its webhook secret a reference to an environment variable. */
async function loadedConfig(dir: string) {
  const file = writeTryConfig(dir);
  const text = readFileSync(file, 'utf8');
  assert.ok(text.includes('secret: demo-webhook-secret'), 'the demo configuration has a webhook secret to replace');
  writeFileSync(file, text.replace('secret: demo-webhook-secret', 'secret: ${env:FIDO_TEST_WEBHOOK_SECRET}'));
  const loaded = await loadConfig(file, { ...process.env, FIDO_TEST_WEBHOOK_SECRET: SECRET });
  assert.ok(JSON.stringify(loaded.config).includes(SECRET), 'the loaded configuration holds the resolved secret');
  return loaded;
}

function providerEntries(dir: string): ComponentEntry[] {
  writeFileSync(join(dir, 'intel.csv'), 'indicator,type,verdict,source\n203.0.113.7,ip,malicious,soc\n');
  return [
    { name: 'soc-intel', kind: 'indicators', file: 'intel.csv', ttl: '1h', quota: { per_day: 4 } },
    { name: 'segments', kind: 'netsegments', segments: [{ cidr: '10.20.0.0/16', name: 'servers', zone: 'internal', criticality: 'high' }] },
  ] as ComponentEntry[];
}

const SOURCES: SourceConfig[] = [
  { name: 'dmz-suricata', detector: 'suricata' },
  // A receiver section holds whatever its kind takes (here a made-up password): none of it is shown.
  { name: 'edr-files', receiver: { kind: 'file', path: '/var/log/edr.json', password: RECEIVER_SECRET } as SourceConfig['receiver'] },
];

async function setup(tc: TestContext, dialect: 'sqlite' | 'postgres'): Promise<{ app: FastifyInstance; t: TestStore }> {
  const dir = tempDir();
  const t = await openTestStore(dialect);
  for (const role of ['viewer', 'admin'] as const) await ensureToken(t.store.db, TOKENS[role], role, role);
  const loaded = await loadedConfig(dir);
  const shared = sharedEnricher(() => createConfiguredEnricher(providerEntries(dir), { store: t.store, configDir: dir }));
  const app = await buildApi(
    apiContext(t.store, {
      sources: new Map(SOURCES.map((s) => [s.name, s])),
      configVersion: loaded.version,
      enricher: shared.get,
      policyConfig: { config: loaded.config, dir: loaded.dir, file: loaded.file, text: loaded.text },
    }),
  );
  tc.after(async () => {
    await app.close();
    await shared.close();
    await t.cleanup();
  });
  return { app, t };
}

async function decision(db: Db, rule: string, outcome: string, at: number): Promise<void> {
  await db.insertInto('decisions').values({ incident_id: 'OLD', rule, outcome, doc: '{}', dry_run: 0, config_version: 'old', created_at: at }).execute();
}

const get = (app: FastifyInstance, role: 'viewer' | null = 'viewer') =>
  app.inject({ method: 'GET', url: '/api/v1/configuration', headers: role ? auth(role) : {} });

for (const dialect of DIALECTS) {
  test(`[${dialect}] GET /configuration: sources, providers with quota and cache, rules in order with hits, kill switch; no secret`, async (tc) => {
    const { app, t } = await setup(tc, dialect);
    const db = t.store.db;
    const now0 = Date.now();
    // Older decisions first, in time order (decisions are numbered as they are made), then the pipeline's.
    await decision(db, 'critical-asset-compromise', 'escalate', now0 - 40 * DAY);
    await decision(db, 'allowlisted', 'log', now0 - 10 * DAY);
    await decision(db, 'allowlisted', 'log', now0 - 3 * DAY);
    await decision(db, 'notify-medium', 'notify', now0 - 2 * DAY);
    await decision(db, 'allowlisted', 'log', now0 - 5 * 3_600_000);
    await seedHistory(t.store, 60);
    const piped = await db.selectFrom('decisions').select(['rule', 'created_at']).where('config_version', '<>', 'old').execute();
    const pipedNotify = piped.filter((d) => d.rule === 'notify-medium').length;
    assert.ok(pipedNotify > 0 && pipedNotify < 60, `the pipeline decided some incidents by notify-medium (${pipedNotify})`);
    await db
      .insertInto('enrich_cache')
      .values([
        { provider: 'soc-intel', key: 'ip:203.0.113.7', found: 1, data: '{}', fetched_at: now0, expires_at: now0 + 3_600_000 },
        { provider: 'soc-intel', key: 'ip:203.0.113.8', found: 0, data: '{}', fetched_at: now0, expires_at: now0 + 3_600_000 },
        { provider: 'soc-intel', key: 'ip:203.0.113.9', found: 0, data: '{}', fetched_at: now0 - 7_200_000, expires_at: now0 - 3_600_000 },
      ])
      .execute();
    await setKillSwitch(t.store, true, 'ana', 'incident in progress');

    const r = await get(app);
    assert.equal(r.statusCode, 200, r.body);
    const c = r.json() as Json;

    assert.deepEqual(
      c.sources,
      [
        { name: 'dmz-suricata', detector: 'suricata', receiver: { ...UNREPORTED, name: 'dmz-suricata', kind: 'http', last_record_at: (c.sources as Json[])[0]!.receiver.last_record_at } },
        { name: 'edr-files', detector: 'auto', receiver: { ...UNREPORTED, name: 'edr-files', kind: 'file' } },
      ],
      'sources in order; http intake is not taken by this process, and no process has reported the file receiver',
    );
    assert.ok((c.sources as Json[])[0]!.receiver.last_record_at >= now0, 'the pipeline history came from dmz-suricata just now');

    assert.deepEqual(c.providers.map((p: Json) => p.provider), ['soc-intel', 'segments'], 'providers in order');
    const intel = c.providers[0] as Json;
    assert.equal(intel.kind, 'indicators', 'its kind');
    assert.deepEqual(intel.quota.map((q: Json) => [q.period, q.limit]), [['day', 4]], 'its quota, as /enrichment/providers reports it');
    assert.deepEqual(intel.cache, { entries: 3, live: 2, exact: true }, 'three cached answers, one expired');
    assert.deepEqual(c.providers[1].cache, { entries: 0, live: 0, exact: true }, 'a local provider has nothing in the shared cache');
    assert.equal(c.providers_error, null, 'described');

    const hits = Object.fromEntries((c.rules as Json[]).map((x) => [x.name, [x.hits_24h, x.hits_7d, x.last_hit_at]]));
    assert.deepEqual((c.rules as Json[]).map((x) => x.name), ['allowlisted', 'critical-asset-compromise', 'busy-medium', 'notify-medium'], 'rules in evaluation order');
    const newestNotify = Math.max(...piped.filter((d) => d.rule === 'notify-medium').map((d) => Number(d.created_at)));
    assert.deepEqual(hits, {
      allowlisted: [1, 2, now0 - 5 * 3_600_000],
      'critical-asset-compromise': [0, 0, now0 - 40 * DAY],
      'busy-medium': [0, 0, null],
      'notify-medium': [pipedNotify, pipedNotify + 1, newestNotify],
    }, 'hits in 24 h and 7 days and the last hit, however old (40 days)');
    const critical = (c.rules as Json[])[1] as Json;
    assert.deepEqual(
      { outcome: critical.outcome, actions: critical.actions, approval: critical.approval, dry_run: critical.dry_run, continue: critical.continue, when: critical.when },
      { outcome: 'escalate', actions: [{ target: 'soc-mail', kind: 'email' }, { target: 'soar-webhook', kind: 'webhook' }], approval: 'required', dry_run: false, continue: false, when: 'score.total >= 75.0' },
      'what the rule does, by target',
    );
    assert.equal(c.rules_error, null, 'the policy compiled');
    assert.equal(c.backtest, null, 'no backtest was run yet');
    assert.deepEqual({ ...c.kill_switch, at: null }, { on: true, actor: 'ana', reason: 'incident in progress', at: null }, 'the kill switch, as GET /kill-switch');

    // Once one is run, the latest backtest shows: who ran it, with its figures.
    const ran = await app.inject({ method: 'POST', url: '/api/v1/backtests', headers: auth('admin'), payload: { profile: 'default', since: '60d' } });
    assert.equal(ran.statusCode, 200, ran.body);
    const after = (await app.inject({ method: 'GET', url: '/api/v1/configuration', headers: auth('viewer') })).json() as Json;
    assert.equal(after.backtest?.id, ran.json().id, 'the latest backtest');
    assert.deepEqual([after.backtest.actor, after.backtest.profile, after.backtest.report.counts], ['admin', 'default', ran.json().counts], 'who ran what, and its figures');

    for (const secret of [SECRET, RECEIVER_SECRET, '/var/log/edr.json', TOKENS.viewer, TOKENS.admin]) {
      assert.ok(!r.body.includes(secret), `the answer does not hold "${secret}"`);
    }
    assert.ok(!/password|secret/i.test(JSON.stringify(Object.keys(flatten(c)))), 'no key names a password or a secret');

    // The overview reports the same providers as /enrichment/providers, and the receivers as here.
    const overview = (await app.inject({ method: 'GET', url: '/api/v1/overview', headers: auth('viewer') })).json() as Json;
    const listed = (await app.inject({ method: 'GET', url: '/api/v1/enrichment/providers', headers: auth('viewer') })).json() as Json;
    const essentials = (ps: Json[]) => ps.map((p) => ({ provider: p.provider, kind: p.kind, subjects: p.subjects, quota: p.quota }));
    assert.deepEqual(essentials(overview.providers), essentials(listed.items), 'providers as /enrichment/providers lists them');
    assert.equal(overview.providers.length, 2, 'both');
    assert.deepEqual(overview.receivers, c.sources.map((s: Json) => s.receiver), 'receivers as /configuration reports them');
    assert.ok(!JSON.stringify(overview).includes(SECRET) && !JSON.stringify(overview).includes(RECEIVER_SECRET), 'no secret in the overview either');

    assert.equal((await get(app, null)).statusCode, 401, 'a token is needed');
    const spec = (await app.inject({ method: 'GET', url: '/api/v1/openapi.json' })).json() as Json;
    const op = spec.paths['/api/v1/configuration']?.get;
    assert.ok(op?.responses['200'].content['application/json'].schema.properties.rules, 'GET /configuration and its schema are in the OpenAPI document');
  });
}

test('firstDecisionIdSince finds the first decision of a period by binary search', async (tc) => {
  const t = await openTestStore('sqlite');
  tc.after(() => t.cleanup());
  assert.equal(await firstDecisionIdSince(t.store.db, 0), null, 'no decisions');
  for (let i = 0; i < 37; i++) await decision(t.store.db, 'r', 'log', 1000 + i * 10);
  const rows = await t.store.db.selectFrom('decisions').select(['id', 'created_at']).orderBy('id').execute();
  for (const at of [0, 1000, 1001, 1205, 1360, 1361]) {
    const want = rows.find((r) => Number(r.created_at) >= at);
    assert.equal(await firstDecisionIdSince(t.store.db, at), want ? Number(want.id) : null, `first decision at or after ${at}`);
  }
});

for (const dialect of DIALECTS) {
  test(`[${dialect}] ruleHits: 24 h and 7 day counts and the last hit however old, on the decisions_rule index`, async (tc) => {
    const t = await openTestStore(dialect);
    tc.after(() => t.cleanup());
    const db = t.store.db;
    const now = Date.UTC(2026, 11, 7, 12);
    // Not in time order: decisions of several processes may be numbered out of order.
    for (const [rule, at] of [
      ['a', now - 400 * DAY],
      ['a', now - 2 * DAY],
      ['b', now - 90 * DAY],
      ['a', now - DAY + 1],
      ['a', now - 7 * DAY],
      ['a', now - 7 * DAY - 1],
      ['c', now - 1],
    ] as const) await decision(db, rule, 'log', at);
    const hits = await ruleHits(db, now, ['a', 'b', 'never', 'a']);
    assert.deepEqual(
      Object.fromEntries(hits),
      {
        a: { hits_24h: 1, hits_7d: 3, last_hit_at: now - DAY + 1 },
        b: { hits_24h: 0, hits_7d: 0, last_hit_at: now - 90 * DAY },
        never: { hits_24h: 0, hits_7d: 0, last_hit_at: null },
      },
      'per asked rule: the 24 h and 7 day bounds are inclusive, the last hit is exact however old, c is not asked for',
    );
    const indexes =
      dialect === 'sqlite'
        ? await sql<{ name: string }>`select name from sqlite_master where type = 'index' and tbl_name = 'decisions'`.execute(db)
        : await sql<{ name: string }>`select indexname as name from pg_indexes where schemaname = current_schema() and tablename = 'decisions'`.execute(db);
    assert.ok(indexes.rows.some((r) => r.name === 'decisions_rule'), `decisions_rule exists (${indexes.rows.map((r) => r.name).join(', ')})`);
    if (dialect === 'sqlite') {
      const plan = await sql<{ detail: string }>`explain query plan select max("created_at") from "decisions" where "rule" = ${'a'}`.execute(db);
      assert.ok(plan.rows.some((r) => r.detail.includes('decisions_rule')), `the last hit is a seek on it (${plan.rows.map((r) => r.detail).join('; ')})`);
    }
  });
}

/** Every key path of a JSON value. */
function flatten(v: unknown, path = ''): Record<string, true> {
  if (v === null || typeof v !== 'object') return path ? { [path]: true } : {};
  return Object.assign({}, ...Object.entries(v as object).map(([k, x]) => flatten(x, `${path}.${k}`)));
}

test.after(async () => {
  await defaultSandbox().close();
});
