/**
 * Enrichment asked by hand over the API (issue 16, items 5 and 8): GET /api/v1/lookup answers what
 * `fido lookup` prints, GET /api/v1/enrichment/providers lists the providers' state. Real store, providers
 * built from config entries (local kinds with files in a temp dir), the API's lazily built enricher.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { buildApi } from '../../src/api/server.js';
import { ensureToken } from '../../src/api/auth.js';
import type { ApiContext } from '../../src/api/context.js';
import { MAX_LOOKUP_SUBJECTS, sharedEnricher } from '../../src/api/routes/enrichment.js';
import { createConfiguredEnricher } from '../../src/enrich/registry.js';
import type { Enricher } from '../../src/enrich/layer.js';
import { periodBounds } from '../../src/enrich/quota.js';
import type { ComponentEntry } from '../../src/component/component.js';
import { openTestStore, tempDir, type TestStore } from '../support/stores.js';
import { TOKENS, auth, apiContext } from '../support/api.js';

/** An answer as parsed JSON: the test reads nested fields freely (the route's schema types the real thing). */
type Json = Record<string, any>;

/** A config's `enrichment.providers`: an indicator list with a quota (and a ttl, so the layer's cache applies), segments, an inventory. */
function providerEntries(dir: string): ComponentEntry[] {
  writeFileSync(join(dir, 'intel.csv'), 'indicator,type,verdict,source\n203.0.113.7,ip,malicious,soc\nevil.example,domain,suspicious,soc\n');
  writeFileSync(join(dir, 'inventory.csv'), 'host,ip,owner,criticality\nweb01.corp.example,10.20.5.21,web-team,high\n');
  return [
    // quota_reserve 0.5: normal lookups could make 2 calls a day, high-priority ones all 4.
    { name: 'soc-intel', kind: 'indicators', file: 'intel.csv', ttl: '1h', quota: { per_day: 4, per_minute: 30 }, quota_reserve: 0.5 },
    { name: 'segments', kind: 'netsegments', segments: [{ cidr: '10.20.0.0/16', name: 'servers', zone: 'internal', criticality: 'high' }] },
    { name: 'assets', kind: 'inventory', file: 'inventory.csv' },
  ] as ComponentEntry[];
}

interface Setup {
  app: FastifyInstance;
  t: TestStore;
  builds: () => number;
}

/** An API over a real store with one token per role (as test/support/api.ts builds it) and an enricher from `entries`. */
async function setup(tc: TestContext, opts: { entries?: (dir: string) => ComponentEntry[]; enricher?: ApiContext['enricher'] | null } = {}): Promise<Setup> {
  const dir = tempDir();
  const t = await openTestStore('sqlite');
  for (const role of ['viewer', 'analyst', 'admin'] as const) await ensureToken(t.store.db, TOKENS[role], role, role);
  let builds = 0;
  const entries = (opts.entries ?? providerEntries)(dir);
  const shared = sharedEnricher(() => {
    builds++;
    return createConfiguredEnricher(entries, { store: t.store, configDir: dir });
  });
  const enricher = opts.enricher === null ? undefined : opts.enricher ?? shared.get;
  const app = await buildApi(
    apiContext(t.store, {
      ...(enricher ? { enricher } : {}),
    }),
  );
  tc.after(async () => {
    await app.close();
    await shared.close();
    await t.cleanup();
  });
  return { app, t, builds: () => builds };
}

const lookupUrl = (...q: string[]) => `/api/v1/lookup?${q.map((x) => `q=${encodeURIComponent(x)}`).join('&')}`;

test('GET /lookup answers what fido lookup prints: per provider answer, source, age, cache and the provider state', async (tc) => {
  const { app, builds } = await setup(tc);
  const r = await app.inject({ url: lookupUrl('ip:203.0.113.7', '10.20.5.21', 'Evil.Example', 'user:alice'), headers: auth('analyst') });
  assert.equal(r.statusCode, 200, r.body);
  const body = r.json() as { subjects: string[]; items: Json[] };
  // A bare value is typed by its shape and normalised; a subject no provider answers (user) has no answers.
  assert.deepEqual(body.subjects, ['ip:203.0.113.7', 'ip:10.20.5.21', 'domain:evil.example', 'user:alice']);
  assert.deepEqual(
    body.items.map((a) => [a.subject, a.provider, a.result]),
    [
      ['ip:203.0.113.7', 'soc-intel', 'found'],
      ['ip:203.0.113.7', 'segments', 'not_found'],
      ['ip:203.0.113.7', 'assets', 'not_found'],
      ['ip:10.20.5.21', 'soc-intel', 'not_found'],
      ['ip:10.20.5.21', 'segments', 'found'],
      ['ip:10.20.5.21', 'assets', 'found'],
      ['domain:evil.example', 'soc-intel', 'found'],
    ],
  );
  const intel = body.items[0]!;
  assert.equal(intel.source, 'indicators/soc-intel');
  assert.equal(intel.kind, 'indicators');
  assert.equal(intel.data.verdict, 'malicious');
  assert.equal(intel.cache, 'miss');
  assert.equal(intel.found, true);
  assert.ok(Math.abs(Date.parse(intel.fetched_at) - Date.now()) < 60_000, intel.fetched_at);
  assert.equal(typeof intel.age_seconds, 'number');
  assert.equal(intel.state.breaker, 'closed');
  // Three calls to soc-intel (two IPs and a domain) against a day of 4 of which normal lookups may use 2:
  // all three were made, so they were asked with high priority.
  const day = (intel.state.quota as Json[]).find((q) => q.period === 'day')!;
  assert.deepEqual([day.limit, day.normal_limit, day.used, day.remaining], [4, 2, 3, 1]);
  assert.equal(day.resets_at, new Date(periodBounds('day', Date.now()).end).toISOString());
  assert.equal(body.items.find((a) => a.provider === 'assets' && a.result === 'found')!.data.owner, 'web-team');

  // Asked again: the cache answers, the provider is not called and the quota not spent; the enricher is the same one.
  const again = (await app.inject({ url: lookupUrl('203.0.113.7'), headers: auth('analyst') })).json() as { items: Json[] };
  const cached = again.items.find((a) => a.provider === 'soc-intel')!;
  assert.equal(cached.cache, 'hit');
  assert.equal(cached.fetched_at, intel.fetched_at);
  assert.equal((cached.state.quota as Json[]).find((q) => q.period === 'day')!.used, 3);
  assert.equal(builds(), 1, 'one enricher for the life of the API');

  // Only the named providers.
  const only = (await app.inject({ url: `${lookupUrl('ip:10.20.5.21')}&provider=segments`, headers: auth('admin') })).json() as { items: Json[] };
  assert.deepEqual(only.items.map((a) => [a.provider, a.data.segment]), [['segments', 'servers']]);
});

test('GET /enrichment/providers lists every provider with kind, locality, breaker and the shared quota counts', async (tc) => {
  const { app, t } = await setup(tc);
  assert.equal((await app.inject({ url: lookupUrl('ip:203.0.113.7'), headers: auth('analyst') })).statusCode, 200);
  const r = await app.inject({ url: '/api/v1/enrichment/providers', headers: auth('viewer') });
  assert.equal(r.statusCode, 200, r.body);
  const items = (r.json() as { items: Json[] }).items;
  assert.deepEqual(
    items.map((p) => [p.provider, p.kind, p.local, p.external, p.share_internal, p.breaker, p.paused_until]),
    [
      ['soc-intel', 'indicators', true, false, false, 'closed', null],
      ['segments', 'netsegments', true, false, false, 'closed', null],
      ['assets', 'inventory', true, false, false, 'closed', null],
    ],
  );
  assert.ok(items[1]!.subjects.includes('ip'));
  assert.equal(items[1]!.quota, null, 'no quota configured');
  const quota = items[0]!.quota as Json[];
  assert.deepEqual(
    quota.map((q) => [q.period, q.limit, q.normal_limit, q.used, q.remaining]),
    [
      ['day', 4, 2, 1, 3],
      ['minute', 30, 30, 1, 29],
    ],
  );

  // Another Fido process spent more of the day: the counts shown are the store's, not only this process's.
  const start = periodBounds('day', Date.now()).start;
  await t.store.db.updateTable('enrich_quota').set({ used: 3 }).where('provider', '=', 'soc-intel').where('period', '=', 'day').where('start', '=', start).execute();
  const after = (await app.inject({ url: '/api/v1/enrichment/providers', headers: auth('viewer') })).json() as { items: Json[] };
  const day = (after.items[0]!.quota as Json[]).find((q) => q.period === 'day')!;
  assert.deepEqual([day.used, day.remaining], [3, 1]);
  // And an answer's state says the same.
  const answer = (await app.inject({ url: lookupUrl('ip:203.0.113.7'), headers: auth('analyst') })).json() as { items: Json[] };
  assert.equal((answer.items[0]!.state.quota as Json[]).find((q) => q.period === 'day')!.used, 3);
});

test('auth: a token is needed, lookups need analyst, the provider list viewer', async (tc) => {
  const { app, builds } = await setup(tc);
  const url = lookupUrl('ip:203.0.113.7');
  assert.equal((await app.inject({ url })).statusCode, 401);
  assert.equal((await app.inject({ url, headers: { authorization: 'Bearer not-a-real-token-at-all' } })).statusCode, 401);
  const viewer = await app.inject({ url, headers: auth('viewer') });
  assert.equal(viewer.statusCode, 403);
  assert.match(viewer.json().message, /analyst/);
  assert.equal((await app.inject({ url: '/api/v1/enrichment/providers' })).statusCode, 401);
  assert.equal(builds(), 0, 'nothing is built for a refused request');
  assert.equal((await app.inject({ url: '/api/v1/enrichment/providers', headers: auth('viewer') })).statusCode, 200);
});

test('bad input is refused with 400 naming the bad subject, the limit or the unknown provider', async (tc) => {
  const { app } = await setup(tc);
  const bad = async (url: string, pattern: RegExp) => {
    const r = await app.inject({ url, headers: auth('analyst') });
    assert.equal(r.statusCode, 400, `${url}: ${r.body}`);
    assert.equal(r.json().error, 'bad_request');
    assert.match(r.json().message, pattern, url);
    return r.json() as Json;
  };
  await bad(lookupUrl('ip:203.0.113.7', 'ip:300.1.1.1'), /^querystring\/q: "ip:300\.1\.1\.1": "300\.1\.1\.1" is not a valid ip/);
  await bad(lookupUrl('sha256:abc'), /q: .*not a valid sha256/);
  await bad(lookupUrl('whatever'), /q: "whatever": say what it is as TYPE:VALUE/);
  await bad('/api/v1/lookup', /q/);
  await bad('/api/v1/lookup?q=', /q/);
  const many = Array.from({ length: MAX_LOOKUP_SUBJECTS + 1 }, (_, i) => `ip:198.51.100.${i + 1}`);
  await bad(lookupUrl(...many), new RegExp(`querystring/q must NOT have more than ${MAX_LOOKUP_SUBJECTS} items`));
  assert.equal((await app.inject({ url: lookupUrl(...many.slice(0, MAX_LOOKUP_SUBJECTS)), headers: auth('analyst') })).statusCode, 200, 'the limit itself is fine');
  const unknown = await bad(`${lookupUrl('ip:203.0.113.7')}&provider=nope`, /provider: no provider named "nope"/);
  assert.deepEqual(unknown.allowed, ['soc-intel', 'segments', 'assets']);
  await bad(`${lookupUrl('ip:203.0.113.7')}&color=red`, /unknown parameter "color"/);
});

test('without an enricher, or when the providers cannot be built, the routes answer 503 and say why', async (tc) => {
  const none = await setup(tc, { enricher: null });
  const r = await none.app.inject({ url: lookupUrl('ip:203.0.113.7'), headers: auth('analyst') });
  assert.equal(r.statusCode, 503);
  assert.match(r.json().message, /does not do enrichment lookups/);

  // A data file that is missing fails the build; the next request tries again (and succeeds once it is there).
  let dir = '';
  const broken = await setup(tc, {
    entries: (d) => {
      dir = d;
      return [{ name: 'soc-intel', kind: 'indicators', file: 'missing.csv' }] as ComponentEntry[];
    },
  });
  const first = await broken.app.inject({ url: '/api/v1/enrichment/providers', headers: auth('viewer') });
  assert.equal(first.statusCode, 503, first.body);
  assert.match(first.json().message, /enrichment providers could not be built: .*missing\.csv/);
  writeFileSync(join(dir, 'missing.csv'), '203.0.113.7\n');
  const second = await broken.app.inject({ url: lookupUrl('ip:203.0.113.7'), headers: auth('analyst') });
  assert.equal(second.statusCode, 200, second.body);
  assert.equal((second.json() as { items: Json[] }).items[0]!.result, 'found');
  assert.equal(broken.builds(), 2);
});

test('sharedEnricher builds once for concurrent callers, closes what it built, and refuses after close', async () => {
  let builds = 0;
  let closed = 0;
  const fake = { close: async () => void closed++ } as unknown as Enricher;
  const shared = sharedEnricher(async () => {
    builds++;
    await new Promise((r) => setImmediate(r));
    return fake;
  });
  const [a, b] = await Promise.all([shared.get(), shared.get()]);
  assert.equal(a, fake);
  assert.equal(b, fake);
  assert.equal(builds, 1);
  await shared.close();
  assert.equal(closed, 1);
  await assert.rejects(shared.get(), /shutting down/);
  await shared.close();
  assert.equal(closed, 1, 'closed once');
  // Never asked: nothing to close.
  await sharedEnricher(async () => assert.fail('not built')).close();
});

test('the OpenAPI document describes the enrichment routes and what the incident enrichment fields mean', async (tc) => {
  const { app } = await setup(tc);
  type Op = { operationId: string; tags: string[]; responses: Record<string, { content: Record<string, { schema: Json }> }> };
  const doc = (await app.inject({ url: '/api/v1/openapi.json' })).json() as { paths: Record<string, Record<string, Op>> };
  const lookup = doc.paths['/api/v1/lookup']!.get!;
  const providers = doc.paths['/api/v1/enrichment/providers']!.get!;
  assert.deepEqual([lookup.operationId, lookup.tags], ['getLookup', ['enrichment']]);
  assert.deepEqual([providers.operationId, providers.tags], ['getEnrichmentProviders', ['enrichment']]);
  const answer = lookup.responses['200']!.content['application/json']!.schema.properties.items.items;
  for (const key of ['subject', 'source', 'fetched_at', 'age_seconds', 'cache', 'state']) assert.ok(answer.properties[key], key);
  const provider = providers.responses['200']!.content['application/json']!.schema.properties.items.items;
  for (const key of ['kind', 'local', 'external', 'share_internal', 'breaker', 'quota', 'paused_until']) assert.ok(provider.properties[key], key);
  const detail = doc.paths['/api/v1/incidents/{id}']!.get!.responses['200']!.content['application/json']!.schema;
  const fields = detail.properties.enrichment.items.properties as Record<string, { description?: string }>;
  for (const key of ['provider', 'data', 'found', 'fetched_at', 'cache', 'error']) assert.ok(fields[key]!.description, `incident enrichment ${key} is described`);
  assert.match(fields.cache!.description!, /how the stored answer was obtained/);
});
