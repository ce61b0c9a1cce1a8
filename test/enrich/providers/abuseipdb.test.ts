/**
 * AbuseIPDB provider against a local server that speaks API v2's CHECK endpoint as documented at
 * https://docs.abuseipdb.com/#check-endpoint (request: GET /api/v2/check?ipAddress=…&maxAgeInDays=…, headers
 * `Key` and `Accept: application/json`; answer {"data":{…abuseConfidenceScore…}}), its JSON:API error shape
 * {"errors":[{"detail","status"}]} (https://docs.abuseipdb.com/#error-handling) and its 429 with Retry-After and
 * X-RateLimit-Limit/Remaining/Reset (https://docs.abuseipdb.com/#rate-limit-headers).
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import abuseipdb from '../../../src/enrich/providers/abuseipdb.js';
import { createConfiguredEnricher, createProviders } from '../../../src/enrich/registry.js';
import { isEnrichmentError } from '../../../src/enrich/layer.js';
import type { EnrichmentProvider } from '../../../src/enrich/provider.js';
import type { Store } from '../../../src/store/store.js';
import { abortEndsHungRequest, rejection } from '../../support/contract-checks.js';
import { startContract, type ContractHandler, type ContractServer } from '../../support/contract.js';
import { dataDir, fileDeps } from '../support.js';

const KEY = 'abuseipdb-test-key-5f0c2a';
const NOW = Date.UTC(2026, 11, 7, 8, 0, 0);
const ip = (value: string) => ({ type: 'ip' as const, value });
const signal = new AbortController().signal;

/** A CHECK answer as documented, with the given fields over a clean, unreported address. */
function check(over: Record<string, unknown>): { json: unknown } {
  return {
    json: {
      data: {
        ipAddress: '118.25.6.39',
        isPublic: true,
        ipVersion: 4,
        isWhitelisted: false,
        abuseConfidenceScore: 0,
        countryCode: 'CN',
        usageType: 'Data Center/Web Hosting/Transit',
        isp: 'Tencent Cloud Computing (Beijing) Co. Ltd',
        domain: 'tencent.com',
        hostnames: [],
        isTor: false,
        totalReports: 0,
        numDistinctUsers: 0,
        lastReportedAt: null,
        ...over,
      },
    },
  };
}

async function setup(t: TestContext, handler: ContractHandler): Promise<{ server: ContractServer; p: EnrichmentProvider }> {
  const server = await startContract(handler);
  const p = await abuseipdb.create({ name: 'abuse', kind: 'abuseipdb', api_key: KEY, url: `${server.url}/api/v2`, allow_private: true }, fileDeps(dataDir({}), () => NOW));
  t.after(async () => {
    await p.close?.();
    await server.close();
  });
  return { server, p };
}

test('abuseipdb: the request is the documented GET with the key in a header, and a high score is malicious', async (t) => {
  const { server, p } = await setup(t, () =>
    check({ abuseConfidenceScore: 100, totalReports: 812, numDistinctUsers: 97, lastReportedAt: '2026-12-06T22:15:03+00:00', isTor: true }),
  );
  const a = await p.lookup(ip('118.25.6.39'), signal);
  const [req] = server.requests;
  assert.equal(server.requests.length, 1);
  assert.equal(req!.method, 'GET');
  assert.equal(req!.path, '/api/v2/check');
  assert.deepEqual([...req!.query.entries()], [['ipAddress', '118.25.6.39'], ['maxAgeInDays', '90']]);
  assert.equal(req!.headers.key, KEY);
  assert.equal(req!.headers.accept, 'application/json');
  assert.equal(req!.body, '');
  assert.ok(!req!.path.includes(KEY) && !req!.query.toString().includes(KEY), 'key not in the URL');

  assert.equal(a.found, true);
  assert.equal(a.data.verdict, 'malicious');
  assert.equal(a.data.score, 100);
  assert.deepEqual(a.data.tags, ['tor', 'Data Center/Web Hosting/Transit']);
  assert.deepEqual(a.data.references, ['https://www.abuseipdb.com/check/118.25.6.39']);
  assert.equal(a.data.last_seen, '2026-12-06T22:15:03.000Z');
  assert.deepEqual(a.data.detail, {
    usage_type: 'Data Center/Web Hosting/Transit',
    isp: 'Tencent Cloud Computing (Beijing) Co. Ltd',
    domain: 'tencent.com',
    country_code: 'CN',
    total_reports: 812,
    distinct_reporters: 97,
    is_whitelisted: false,
    is_tor: true,
  });
});

test('abuseipdb: score thresholds, whitelisted is harmless, never reported is unknown; IPv6 and max_age_days', async (t) => {
  const answers: Record<string, Record<string, unknown>> = {
    '198.51.100.1': { abuseConfidenceScore: 40, totalReports: 3 },
    '198.51.100.2': { abuseConfidenceScore: 10, totalReports: 1 },
    '8.8.8.8': { abuseConfidenceScore: 3, totalReports: 2, isWhitelisted: true, usageType: 'Content Delivery Network' },
    '2001:4860:4860::8888': { abuseConfidenceScore: 0, totalReports: 0, ipVersion: 6 },
  };
  const server = await startContract((req) => check(answers[req.query.get('ipAddress') ?? ''] ?? {}));
  const p = await abuseipdb.create(
    { name: 'abuse', kind: 'abuseipdb', api_key: KEY, url: `${server.url}/api/v2`, allow_private: true, max_age_days: 30 },
    fileDeps(dataDir({}), () => NOW),
  );
  t.after(async () => {
    await p.close?.();
    await server.close();
  });
  const suspicious = await p.lookup(ip('198.51.100.1'), signal);
  assert.deepEqual([suspicious.found, suspicious.data.verdict, suspicious.data.score], [true, 'suspicious', 40]);
  const low = await p.lookup(ip('198.51.100.2'), signal);
  assert.deepEqual([low.found, low.data.verdict, low.data.score], [true, 'harmless', 10]);
  const listed = await p.lookup(ip('8.8.8.8'), signal);
  assert.deepEqual([listed.found, listed.data.verdict, listed.data.tags], [true, 'harmless', ['whitelisted', 'Content Delivery Network']]);
  const unknown = await p.lookup(ip('2001:4860:4860::8888'), signal);
  assert.deepEqual([unknown.found, unknown.data.verdict, unknown.data.score], [false, 'unknown', 0]);
  assert.equal((unknown.data.detail as Record<string, unknown>).total_reports, 0);
  assert.equal(server.requests[3]!.query.get('ipAddress'), '2001:4860:4860::8888');
  assert.ok(server.requests.every((r) => r.query.get('maxAgeInDays') === '30'));
});

test('abuseipdb: a refused key is "auth" and its message never carries the key', async (t) => {
  // AbuseIPDB echoes nothing secret, but a proxy in front of it might: the key is cut out all the same.
  const { p } = await setup(t, () => ({
    status: 401,
    json: { errors: [{ detail: `Authentication failed. Your API key (${KEY}) is either missing, incorrect, or revoked.`, status: 401 }] },
  }));
  const e = await rejection(p.lookup(ip('118.25.6.39'), signal));
  assert.equal(e.reason, 'auth');
  assert.equal(e.status, 401);
  assert.match(e.message, /Authentication failed/);
  assert.ok(!e.message.includes(KEY), e.message);
});

test('abuseipdb: 429 is "ratelimited" with the pause from Retry-After, else from X-RateLimit-Reset', async (t) => {
  const limited = { errors: [{ detail: 'Daily rate limit of 1000 requests exceeded for this endpoint. See headers for additional details.', status: 429 }] };
  const resetAt = NOW / 1000 + 3600;
  const { p } = await setup(t, (_req, n) => ({
    status: 429,
    headers: {
      'x-ratelimit-limit': '1000',
      'x-ratelimit-remaining': '0',
      'x-ratelimit-reset': String(resetAt),
      ...(n === 0 ? { 'retry-after': '29' } : {}),
    },
    json: limited,
  }));
  const first = await rejection(p.lookup(ip('118.25.6.39'), signal));
  assert.deepEqual([first.reason, first.status, first.retryAfterMs], ['ratelimited', 429, 29_000]);
  const second = await rejection(p.lookup(ip('118.25.6.39'), signal));
  assert.deepEqual([second.reason, second.retryAfterMs], ['ratelimited', 3_600_000]);
});

test('abuseipdb: 5xx is "server", 422 is "client", and answers of another shape are "malformed"', async (t) => {
  const replies = [
    { status: 503, body: 'upstream unavailable' },
    { status: 422, json: { errors: [{ detail: 'The ip address must be a valid IPv4 or IPv6 address (e.g. 8.8.8.8 or 2001:4860:4860::8888).', status: 422, source: { parameter: 'ipAddress' } }] } },
    { status: 200, body: '<html>maintenance</html>' },
    { status: 200, json: { data: { ipAddress: '118.25.6.39' } } },
    { status: 200, json: { errors: [{ detail: 'Too Many Requests', status: 429 }] } },
  ];
  const { p } = await setup(t, (_req, n) => replies[n]!);
  const reasons = [];
  for (let i = 0; i < replies.length; i++) reasons.push((await rejection(p.lookup(ip('118.25.6.39'), signal))).reason);
  assert.deepEqual(reasons, ['server', 'client', 'malformed', 'malformed', 'ratelimited']);
});

test('abuseipdb: an aborted signal ends a request the service never answers', async (t) => {
  const { server, p } = await setup(t, () => ({ hang: true }));
  await abortEndsHungRequest((s) => p.lookup(ip('118.25.6.39'), s), () => server.requests.length > 0);
});

test('abuseipdb: config errors name the key at fault', async () => {
  const deps = { store: null as unknown as Store, configDir: dataDir({}) };
  await assert.rejects(createProviders([{ name: 'a', kind: 'abuseipdb' }], deps), /^Error: enrichment\.providers\.a.*api_key/);
  await assert.rejects(createProviders([{ name: 'a', kind: 'abuseipdb', api_key: KEY, max_age_days: 0 }], deps), /^Error: enrichment\.providers\.a\.max_age_days: /);
  await assert.rejects(createProviders([{ name: 'a', kind: 'abuseipdb', api_key: KEY, api_kee: 1 }], deps), /^Error: enrichment\.providers\.a/);
  // A private address needs allow_private (an on-premises mirror, a test double).
  await assert.rejects(createProviders([{ name: 'a', kind: 'abuseipdb', api_key: KEY, url: 'http://127.0.0.1:9/api/v2' }], deps), /^Error: enrichment\.providers\.a\.url: /);
  await assert.rejects(createProviders([{ name: 'a', kind: 'abuseipdb', api_key: '${env:FIDO_TEST_UNSET_ABUSEIPDB_KEY}' }], deps), /api_key: environment variable FIDO_TEST_UNSET_ABUSEIPDB_KEY is not set/);
  const [p] = await createProviders([{ name: 'a', kind: 'abuseipdb', api_key: KEY }], deps);
  assert.deepEqual([p!.external, p!.quota, p!.subjects], [true, { per_day: 1000 }, ['ip']]);
  await p!.close?.();
});

test('abuseipdb: through the layer, with the key from the environment, a second lookup is a cache hit', async (t) => {
  const server = await startContract(() => check({ abuseConfidenceScore: 88, totalReports: 12 }));
  process.env.FIDO_TEST_ABUSEIPDB_KEY = KEY;
  const enricher = await createConfiguredEnricher(
    [{ name: 'abuse', kind: 'abuseipdb', api_key: '${env:FIDO_TEST_ABUSEIPDB_KEY}', url: `${server.url}/api/v2`, allow_private: true }],
    { store: null as unknown as Store, configDir: dataDir({}) },
  );
  t.after(async () => {
    delete process.env.FIDO_TEST_ABUSEIPDB_KEY;
    await enricher.close();
    await server.close();
  });
  const first = await enricher.lookup('abuse', ip('118.25.6.39'));
  const second = await enricher.lookup('abuse', ip('118.25.6.39'));
  assert.ok(!isEnrichmentError(first) && !isEnrichmentError(second));
  assert.equal(first.cache, 'miss');
  assert.equal(second.cache, 'hit');
  assert.equal(second.data.verdict, 'malicious');
  assert.equal(server.requests.length, 1);
  assert.equal(server.requests[0]!.headers.key, KEY);
});
