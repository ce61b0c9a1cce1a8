/**
 * POST /api/v1/backtests and GET /api/v1/incidents/{id}/explain over a real store whose incidents were
 * decided by the real pipeline (test/support/backtest-history.ts), with the configuration the process
 * runs with in ctx.policyConfig.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { parse } from 'yaml';
import { buildApi } from '../../src/api/server.js';
import { ensureToken } from '../../src/api/auth.js';
import { readConfigFile } from '../../src/cli/input.js';
import { defaultSandbox } from '../../src/policy/sandbox.js';
import { openTestStore, type TestStore } from '../support/stores.js';
import { TOKENS, auth, apiContext } from '../support/api.js';
import { lowerThreshold, rowCounts, seedHistory, writeTryConfig } from '../support/backtest-history.js';
import type { BacktestReport } from '../../src/backtest/run.js';
import type { IncidentExplanation } from '../../src/backtest/explain.js';

let t: TestStore;
let app: FastifyInstance;
let bare: FastifyInstance;

async function api(withConfig: boolean): Promise<FastifyInstance> {
  const file = writeTryConfig(t.dataDir);
  return buildApi(
    apiContext(t.store, {
      ...(withConfig ? { policyConfig: { ...readConfigFile(file), file, dir: dirname(file) } } : {}),
    }),
  );
}

before(async () => {
  t = await openTestStore('sqlite');
  for (const role of ['viewer', 'analyst', 'admin'] as const) await ensureToken(t.store.db, TOKENS[role], role, role);
  await seedHistory(t.store);
  app = await api(true);
  bare = await api(false);
});
after(async () => {
  await app.close();
  await bare.close();
  await defaultSandbox().close();
  await t.cleanup();
});

const post = (body: unknown, role: keyof typeof TOKENS = 'analyst', on = app) => on.inject({ method: 'POST', url: '/api/v1/backtests', headers: auth(role), payload: body as object });

async function incidentsWhere(pred: (score: number, rule: string) => boolean): Promise<string[]> {
  const rows = await t.store.db.selectFrom('incidents').select(['id', 'score_total', 'decision']).orderBy('last_seen').orderBy('id').execute();
  return rows.filter((r) => pred(r.score_total ?? 0, (JSON.parse(r.decision ?? '{}') as { rule?: string }).rule ?? '')).map((r) => r.id);
}

test('a changed rule posted as YAML flips exactly the incidents it should; as JSON, the same; nothing is written', async () => {
  const before = await rowCounts(t.store);
  // The configured policy (writeTryConfig) has busy-medium before notify-medium; posted rules replace it all.
  const yamlText = lowerThreshold(30);
  const res = await post({ policy: yamlText, since: '1d', limit: 1000 });
  assert.equal(res.statusCode, 200, res.body);
  const report = res.json<BacktestReport>();
  const flipped = await incidentsWhere((s, rule) => s >= 30 && s < 50 && rule === '(default)');
  assert.ok(flipped.length > 0);
  assert.deepEqual(report.changed.map((c) => c.id), flipped);
  assert.equal(report.counts.changed, flipped.length);
  assert.equal(report.counts.actions_added, flipped.length);
  assert.equal(report.truncated, false);
  // The same rules as JSON ({"rules": [...]}) give the same answer.
  const asJson = await post({ policy: parse(yamlText) as object, since: '1d', limit: 1000 });
  assert.equal(asJson.statusCode, 200, asJson.body);
  assert.deepEqual(asJson.json<BacktestReport>().changed.map((c) => c.id), flipped);
  // limit lists fewer; every one is still counted.
  const few = (await post({ policy: yamlText, since: '1d', limit: 2 })).json<BacktestReport & { id: string }>();
  assert.deepEqual([few.changed.length, few.counts.changed], [2, flipped.length]);
  assert.deepEqual(await rowCounts(t.store), before, 'nothing was written');
  // Each run is kept, newest first, with who ran it and what was tried.
  const kept = await app.inject({ method: 'GET', url: '/api/v1/backtests?limit=2', headers: auth('viewer') });
  assert.equal(kept.statusCode, 200, kept.body);
  const items = kept.json<{ items: Array<{ id: string; actor: string; policy: string | null; report: Record<string, unknown> }> }>().items;
  assert.deepEqual(items.map((b) => b.id), [few.id, asJson.json<{ id: string }>().id], 'the newest first');
  assert.equal(items[0]!.actor, 'analyst', 'who ran it');
  assert.equal(items[0]!.policy, yamlText, 'the policy text as posted');
  assert.equal((items[0]!.report.counts as { changed: number }).changed, flipped.length, 'its figures');
  assert.ok(!('changed' in items[0]!.report), 'the list leaves out the changed incidents');
  const one = await app.inject({ method: 'GET', url: `/api/v1/backtests/${few.id}`, headers: auth('viewer') });
  assert.deepEqual(one.json<{ report: BacktestReport }>().report.changed.map((c) => c.id), flipped.slice(0, 2), 'one backtest has its whole report');
  assert.equal((await app.inject({ method: 'GET', url: '/api/v1/backtests/01ARZ3NDEKTSV4RRFFQ69G5FAV', headers: auth('viewer') })).statusCode, 404);
});

test('a profile alone rescores with the configured policy; the window bounds what is replayed', async () => {
  const res = await post({ profile: 'loud', since: '1d', limit: 1000 });
  assert.equal(res.statusCode, 200, res.body);
  const r = res.json<BacktestReport>();
  assert.equal(r.profile?.name, 'loud');
  assert.ok(r.counts.score_changed > 0 && r.changed.every((c) => c.score.new! > c.score.old!));
  // A window in the past holds none of the incidents.
  const empty = (await post({ profile: 'loud', since: '2020-01-01', until: '2020-02-01' })).json<BacktestReport>();
  assert.equal(empty.counts.incidents, 0);
});

test('bad input is a 400 that names the problem (and the line); roles and configuration are checked', async () => {
  const bad = await post({ policy: 'rules:\n  - name: broken\n    when: score.total >=\n' });
  assert.equal(bad.statusCode, 400);
  assert.match(bad.json<{ message: string }>().message, /policy:3: rule "broken": when: /);
  assert.match((await post({ policy: 'rules:\n  - name: p\n    when: "true"\n    then: [{ action: pager }]\n' })).json<{ message: string }>().message, /unknown action target "pager"/);
  assert.match((await post({ profile: 'nope' })).json<{ message: string }>().message, /scoring profile "nope": unknown profile/);
  assert.match((await post({ profile: 'loud', since: 'last week' })).json<{ message: string }>().message, /since: expected a duration/);
  assert.match((await post({ profile: 'loud', since: '1d', until: '2d' })).json<{ message: string }>().message, /until .* must be after since/);
  assert.equal((await post({})).statusCode, 400);
  assert.equal((await post({ profile: 'loud', extra: 1 })).statusCode, 400);
  assert.equal((await post({ profile: 'loud' }, 'viewer')).statusCode, 403);
  assert.equal((await app.inject({ method: 'POST', url: '/api/v1/backtests', payload: { profile: 'loud' } })).statusCode, 401);
  assert.equal((await post({ profile: 'loud' }, 'analyst', bare)).statusCode, 503, 'without the configuration: unavailable');
});

test('explain names the matching rule, and the first false part of a rule that did not match', async () => {
  const [quiet] = await incidentsWhere((s, rule) => s >= 30 && s < 50 && rule === '(default)');
  const res = await app.inject({ method: 'GET', url: `/api/v1/incidents/${quiet}/explain`, headers: auth('viewer') });
  assert.equal(res.statusCode, 200, res.body);
  const x = res.json<IncidentExplanation>();
  assert.equal(x.incident.id, quiet);
  assert.equal(x.incident.decision?.rule, '(default)');
  assert.equal(x.decision.rule, '(default)');
  const busy = x.rules.find((r) => r.rule === 'busy-medium')!;
  const written = readFileSync(writeTryConfig(t.dataDir), 'utf8').split('\n');
  assert.deepEqual([busy.result, busy.reason, busy.origin.line], ['no-match', 'incident.alert_count >= 5 is false', written.indexOf('    - name: busy-medium') + 1]);
  const [loud] = await incidentsWhere((s) => s >= 50 && s < 75);
  const y = (await app.inject({ method: 'GET', url: `/api/v1/incidents/${loud}/explain`, headers: auth('viewer') })).json<IncidentExplanation>();
  assert.deepEqual([y.decision.rule, y.rules.find((r) => r.decides)?.reason], ['notify-medium', 'when is true: score.total >= 50.0']);
  assert.equal((await app.inject({ method: 'GET', url: '/api/v1/incidents/01ARZ3NDEKTSV4RRFFQ69G5FAV/explain', headers: auth('viewer') })).statusCode, 404);
});

test('the OpenAPI document describes both routes', async () => {
  const doc = (await app.inject({ method: 'GET', url: '/api/v1/openapi.json' })).json<{
    paths: Record<string, Record<string, { summary: string; requestBody?: unknown; responses: Record<string, { content?: Record<string, { schema: { properties?: object } }> }> }>>;
  }>();
  const backtests = doc.paths['/api/v1/backtests']?.post;
  assert.ok(backtests?.requestBody, 'POST /backtests with its body');
  assert.match(backtests.summary, /at most 100,000/, 'the cap is documented');
  assert.ok(backtests.responses['200']?.content?.['application/json']?.schema.properties && 'counts' in backtests.responses['200'].content['application/json'].schema.properties);
  assert.ok(doc.paths['/api/v1/incidents/{id}/explain']?.get?.responses['200'], 'GET /incidents/{id}/explain');
});
