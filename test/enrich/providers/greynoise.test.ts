/**
 * GreyNoise provider against a local server that speaks the Community API as documented at
 * https://docs.greynoise.io/reference/get_v3-community-ip (GET /v3/community/{ip}, header `key`; answer
 * {ip, noise, riot, classification, name, link, last_seen, message}; 404 {…, "message": "IP not observed
 * scanning the internet or contained in RIOT data set."}; 401 on a bad key; 429 when the community limit is hit).
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import greynoise from '../../../src/enrich/providers/greynoise.js';
import { createConfiguredEnricher, createProviders } from '../../../src/enrich/registry.js';
import { isEnrichmentError } from '../../../src/enrich/layer.js';
import type { EnrichmentProvider } from '../../../src/enrich/provider.js';
import type { Store } from '../../../src/store/store.js';
import { abortEndsHungRequest, rejection } from '../../support/contract-checks.js';
import { startContract, type ContractHandler, type ContractServer } from '../../support/contract.js';
import { dataDir, fileDeps } from '../support.js';

const KEY = 'greynoise-community-key-77c1';
const NOW = Date.UTC(2026, 11, 7, 8, 0, 0);
const ip = (value: string) => ({ type: 'ip' as const, value });
const signal = new AbortController().signal;
const NOT_OBSERVED = 'IP not observed scanning the internet or contained in RIOT data set.';

/** What the Community API says about a few addresses, in its documented shapes. */
const KNOWN: Record<string, Record<string, unknown>> = {
  '45.83.66.10': { noise: true, riot: false, classification: 'malicious', name: 'unknown', last_seen: '2026-12-06' },
  '1.1.1.1': { noise: false, riot: true, classification: 'benign', name: 'Cloudflare Public DNS', last_seen: '2026-12-06' },
  '71.6.135.131': { noise: true, riot: false, classification: 'benign', name: 'Shodan.io', last_seen: '2026-12-05' },
  '92.63.197.153': { noise: true, riot: false, classification: 'unknown', name: 'unknown', last_seen: '2026-11-30' },
};

const communityApi: ContractHandler = (req) => {
  const addr = decodeURIComponent(req.path.replace('/v3/community/', ''));
  const known = KNOWN[addr];
  if (!known) return { status: 404, json: { ip: addr, noise: false, riot: false, message: NOT_OBSERVED } };
  return { json: { ip: addr, ...known, link: `https://viz.greynoise.io/ip/${addr}`, message: 'Success' } };
};

async function setup(t: TestContext, handler: ContractHandler, apiKey: string | null = KEY): Promise<{ server: ContractServer; p: EnrichmentProvider }> {
  const server = await startContract(handler);
  const p = await greynoise.create(
    { name: 'gn', kind: 'greynoise', url: server.url, allow_private: true, ...(apiKey ? { api_key: apiKey } : {}) },
    fileDeps(dataDir({}), () => NOW),
  );
  t.after(async () => {
    await p.close?.();
    await server.close();
  });
  return { server, p };
}

test('greynoise: the documented GET with the key in the "key" header; a malicious scanner is malicious', async (t) => {
  const { server, p } = await setup(t, communityApi);
  const a = await p.lookup(ip('45.83.66.10'), signal);
  const [req] = server.requests;
  assert.equal(server.requests.length, 1);
  assert.equal(req!.method, 'GET');
  assert.equal(req!.path, '/v3/community/45.83.66.10');
  assert.equal(req!.query.toString(), '');
  assert.equal(req!.headers.key, KEY);
  assert.equal(req!.body, '');
  assert.equal(req!.headers.authorization, undefined);

  assert.equal(a.found, true);
  assert.equal(a.data.verdict, 'malicious');
  assert.equal(a.data.score, 90);
  assert.deepEqual(a.data.tags, ['scanner', 'greynoise:malicious']);
  assert.deepEqual(a.data.references, ['https://viz.greynoise.io/ip/45.83.66.10']);
  assert.equal(a.data.last_seen, '2026-12-06T00:00:00.000Z');
  assert.deepEqual(a.data.detail, { noise: true, riot: false, classification: 'malicious', name: 'unknown', message: 'Success' });
});

test('greynoise: RIOT and benign scanners are harmless, unclassified noise is suspicious, 404 is unknown', async (t) => {
  const { server, p } = await setup(t, communityApi);
  const riot = await p.lookup(ip('1.1.1.1'), signal);
  assert.deepEqual([riot.found, riot.data.verdict, riot.data.score, riot.data.tags], [true, 'harmless', 0, ['business-service', 'greynoise:benign']]);
  assert.equal((riot.data.detail as Record<string, unknown>).name, 'Cloudflare Public DNS');
  const shodan = await p.lookup(ip('71.6.135.131'), signal);
  assert.deepEqual([shodan.data.verdict, shodan.data.tags], ['harmless', ['scanner', 'greynoise:benign']]);
  const noise = await p.lookup(ip('92.63.197.153'), signal);
  assert.deepEqual([noise.found, noise.data.verdict, noise.data.score], [true, 'suspicious', 50]);
  const unseen = await p.lookup(ip('8.8.4.4'), signal);
  assert.deepEqual([unseen.found, unseen.data.verdict, unseen.data.score], [false, 'unknown', 0]);
  assert.deepEqual(unseen.data.detail, { message: NOT_OBSERVED });
  // IPv6: the Community API answers IPv4 only, so nothing is sent.
  const v6 = await p.lookup(ip('2001:4860:4860::8888'), signal);
  assert.deepEqual([v6.found, v6.data.verdict], [false, 'unknown']);
  assert.equal(server.requests.length, 4);
});

test('greynoise: without an api_key no key header is sent', async (t) => {
  const { server, p } = await setup(t, communityApi, null);
  assert.equal((await p.lookup(ip('1.1.1.1'), signal)).data.verdict, 'harmless');
  assert.equal(server.requests[0]!.headers.key, undefined);
});

test('greynoise: a refused key is "auth" without the key in its message', async (t) => {
  const { p } = await setup(t, () => ({ status: 401, json: { message: `Authentication required: key ${KEY} is not valid` } }));
  const e = await rejection(p.lookup(ip('45.83.66.10'), signal));
  assert.deepEqual([e.reason, e.status], ['auth', 401]);
  assert.ok(!e.message.includes(KEY), e.message);
});

test('greynoise: 429 is "ratelimited", paused by Retry-After or else until the daily reset at midnight UTC', async (t) => {
  const limit = {
    plan: 'community',
    'rate-limit': '50-lookups/day',
    plan_url: 'https://greynoise.io/pricing',
    message: 'You have hit your daily rate limit of 50 requests. Please upgrade your plan at https://greynoise.io/pricing.',
  };
  const { p } = await setup(t, (_req, n) => ({ status: 429, ...(n === 0 ? { headers: { 'retry-after': '60' } } : {}), json: limit }));
  const first = await rejection(p.lookup(ip('45.83.66.10'), signal));
  assert.deepEqual([first.reason, first.retryAfterMs], ['ratelimited', 60_000]);
  const second = await rejection(p.lookup(ip('45.83.66.10'), signal));
  assert.deepEqual([second.reason, second.retryAfterMs], ['ratelimited', 16 * 3_600_000]);
});

test('greynoise: 5xx is "server", 400 is "client", other shapes are "malformed"', async (t) => {
  const replies = [
    { status: 500, json: { message: 'internal error' } },
    { status: 400, json: { message: 'Request is not a valid routable IPv4 address' } },
    { status: 200, body: 'not json' },
    { status: 200, json: { ip: '45.83.66.10', message: 'Success' } },
    { status: 404, body: 'Not Found' },
  ];
  const { p } = await setup(t, (_req, n) => replies[n]!);
  const reasons = [];
  for (let i = 0; i < replies.length; i++) reasons.push((await rejection(p.lookup(ip('45.83.66.10'), signal))).reason);
  // A 404 that is not GreyNoise's JSON answer (a proxy's page) is not "not observed".
  assert.deepEqual(reasons, ['server', 'client', 'malformed', 'malformed', 'not_found']);
});

test('greynoise: an aborted signal ends a hung request', async (t) => {
  const { server, p } = await setup(t, () => ({ hang: true }));
  await abortEndsHungRequest((s) => p.lookup(ip('45.83.66.10'), s), () => server.requests.length > 0);
});

test('greynoise: config errors name the key at fault; external with the community quota', async () => {
  const deps = { store: null as unknown as Store, configDir: dataDir({}) };
  await assert.rejects(createProviders([{ name: 'g', kind: 'greynoise', api_key: '' }], deps), /^Error: enrichment\.providers\.g\.api_key: /);
  await assert.rejects(createProviders([{ name: 'g', kind: 'greynoise', url: 'ftp://api.greynoise.io' }], deps), /^Error: enrichment\.providers\.g\.url: only http and https/);
  await assert.rejects(createProviders([{ name: 'g', kind: 'greynoise', url: 'http://169.254.169.254/', allow_private: true }], deps), /^Error: enrichment\.providers\.g\.url: /);
  const [p] = await createProviders([{ name: 'g', kind: 'greynoise' }], deps);
  assert.deepEqual([p!.external, p!.quota, p!.subjects], [true, { per_day: 50 }, ['ip']]);
  await p!.close?.();
});

test('greynoise: through the layer, a second lookup (found or not) is a cache hit', async (t) => {
  const server = await startContract(communityApi);
  const enricher = await createConfiguredEnricher([{ name: 'gn', kind: 'greynoise', api_key: KEY, url: server.url, allow_private: true }], {
    store: null as unknown as Store,
    configDir: dataDir({}),
  });
  t.after(async () => {
    await enricher.close();
    await server.close();
  });
  for (const addr of ['45.83.66.10', '8.8.4.4']) {
    const first = await enricher.lookup('gn', ip(addr));
    const second = await enricher.lookup('gn', ip(addr));
    assert.ok(!isEnrichmentError(first) && !isEnrichmentError(second));
    assert.deepEqual([first.cache, second.cache], ['miss', 'hit']);
  }
  assert.equal(server.requests.length, 2);
});
