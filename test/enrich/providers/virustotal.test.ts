// VirusTotal API v3, as documented: objects https://docs.virustotal.com/reference/files (and /reference/url,
// /reference/domains-1, /reference/ip-object), URL identifiers https://docs.virustotal.com/reference/url (unpadded
// base64url of the URL), authentication https://docs.virustotal.com/reference/authentication (x-apikey header),
// errors https://docs.virustotal.com/reference/errors ({"error":{"code","message"}}; NotFoundError 404,
// WrongCredentialsError / AuthenticationRequiredError 401, QuotaExceededError / TooManyRequestsError 429).
// The contract server below answers the way those pages describe; its objects are made up (no fixtures copied).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import virustotal, { vtUrlId, vtVerdict } from '../../../src/enrich/providers/virustotal.js';
import { entryProblem } from '../../../src/component/instantiate.js';
import { createConfiguredEnricher, createProviders } from '../../../src/enrich/registry.js';
import { isEnrichmentError } from '../../../src/enrich/layer.js';
import type { EnrichmentProvider, LookupSubject } from '../../../src/enrich/provider.js';
import type { AnyComponent } from '../../../src/component/component.js';
import type { IntelData } from '../../../src/enrich/intel.js';
import { abortEndsHungRequest, expectErrorCases, rejection } from '../../support/contract-checks.js';
import { startContract, type ContractReply, type ContractRequest } from '../../support/contract.js';
import { dataDir, fileDeps, uniqueName } from '../support.js';

const KEY = 'vt-test-key-5f0c1e2d3a4b';
const MAL = '275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f';
const CLEAN_URL = 'https://example.com/download?id=1';
const T0 = 1_700_000_000; // seconds, as the API gives times

const stats = (malicious: number, suspicious: number, harmless: number, undetected: number) => ({ malicious, suspicious, harmless, undetected, timeout: 2, 'type-unsupported': 5 });

/** The objects the service knows, by collection and id. */
const OBJECTS: Record<string, Record<string, Record<string, unknown>>> = {
  files: {
    [MAL]: {
      type: 'file',
      id: MAL,
      attributes: {
        last_analysis_stats: stats(60, 2, 0, 10),
        tags: ['peexe', 'overlay'],
        reputation: -87,
        popular_threat_classification: { suggested_threat_label: 'trojan.emotet/geodo' },
        first_submission_date: T0,
        last_analysis_date: T0 + 86_400,
      },
    },
  },
  urls: {
    [vtUrlId(CLEAN_URL)]: { type: 'url', id: 'b1c2d3', attributes: { last_analysis_stats: stats(0, 0, 70, 20), tags: [], reputation: 0, last_analysis_date: T0 } },
  },
  domains: {
    'example.com': { type: 'domain', id: 'example.com', attributes: { last_analysis_stats: stats(0, 1, 66, 25), reputation: 5, tags: ['parked'] } },
  },
  ip_addresses: {
    '203.0.113.9': { type: 'ip_address', id: '203.0.113.9', attributes: { last_analysis_stats: stats(0, 0, 0, 0) } },
  },
};

const vtError = (status: number, code: string, message: string): ContractReply => ({ status, json: { error: { code, message } } });

/** Replies forced by a test for the requests to come (an error, a hang). */
let forced: ContractReply | null = null;
const server = await startContract((req: ContractRequest) => {
  const key = req.headers['x-apikey'];
  if (!key) return vtError(401, 'AuthenticationRequiredError', 'X-Apikey header is missing');
  // The real service does not echo the key; this one does, to prove no message carries it.
  if (key !== KEY) return vtError(401, 'WrongCredentialsError', `Wrong API key ${String(key)}`);
  if (forced) return forced;
  const m = /^\/api\/v3\/(files|urls|domains|ip_addresses)\/([^/]+)$/.exec(req.path);
  if (!m) return { status: 404, body: 'no such route' };
  const data = OBJECTS[m[1]!]?.[decodeURIComponent(m[2]!)];
  return data ? { json: { data } } : vtError(404, 'NotFoundError', `Resource "${m[2]}" not found`);
});
after(() => server.close());

const entry = (extra: Record<string, unknown> = {}) => ({ name: 'vt', kind: 'virustotal', api_key: KEY, url: server.url, allow_private: true, ...extra });
const dir = dataDir({});
const make = async (extra: Record<string, unknown> = {}): Promise<EnrichmentProvider> => (await createProviders([entry(extra)], { store: null as never, configDir: dir }))[0]!;
const signal = new AbortController().signal;
const intel = (d: Record<string, unknown>) => d as unknown as IntelData;

test('virustotal: a malicious file hash, and exactly the documented request', async () => {
  const p = await make();
  const from = server.requests.length;
  const a = await p.lookup({ type: 'sha256', value: MAL }, signal);
  const req = server.requests[from]!;
  assert.equal(req.method, 'GET');
  assert.equal(req.path, `/api/v3/files/${MAL}`);
  assert.equal(req.headers['x-apikey'], KEY);
  assert.equal([...req.query.keys()].length, 0, 'no query parameters');
  assert.ok(!req.path.includes(KEY));
  assert.equal(req.headers.authorization, undefined);
  assert.equal(req.headers.cookie, undefined);
  assert.equal(p.external, true);
  assert.deepEqual(p.quota, { per_minute: 4, per_day: 500, per_month: 15_500 });

  assert.equal(a.found, true);
  const d = intel(a.data);
  assert.equal(d.verdict, 'malicious');
  // 60 malicious + 1 (half of 2 suspicious) of 72 counted engines; timeouts and unsupported left out.
  assert.equal(d.score, Math.round(75 + (25 * 61) / 72));
  assert.deepEqual(d.tags, ['peexe', 'overlay', 'trojan.emotet/geodo']);
  assert.deepEqual(d.references, [`https://www.virustotal.com/gui/file/${MAL}`]);
  assert.equal(d.first_seen, new Date(T0 * 1000).toISOString());
  assert.equal(d.last_seen, new Date((T0 + 86_400) * 1000).toISOString());
  assert.deepEqual(d.detail, { engines: { malicious: 60, suspicious: 2, harmless: 0, undetected: 10 }, reputation: -87, threat_label: 'trojan.emotet/geodo' });
  await p.close?.();
});

test('virustotal: URL ids are unpadded base64url; harmless, suspicious and never-analysed answers', async () => {
  assert.equal(vtUrlId('http://a.example/?x=1'), 'aHR0cDovL2EuZXhhbXBsZS8_eD0x');
  assert.ok(!vtUrlId('ab').includes('='));
  const p = await make();
  const from = server.requests.length;
  const url = intel((await p.lookup({ type: 'url', value: CLEAN_URL }, signal)).data);
  assert.equal(server.requests[from]!.path, `/api/v3/urls/${vtUrlId(CLEAN_URL)}`);
  assert.equal(url.verdict, 'harmless');
  assert.equal(url.score, 0);
  assert.deepEqual(url.references, ['https://www.virustotal.com/gui/url/b1c2d3']);
  assert.equal(url.first_seen, null);

  const domain = intel((await p.lookup({ type: 'domain', value: 'example.com' }, signal)).data);
  assert.equal(server.requests[from + 1]!.path, '/api/v3/domains/example.com');
  assert.equal(domain.verdict, 'suspicious');
  assert.ok(domain.score >= 25 && domain.score < 75);
  assert.deepEqual(domain.references, ['https://www.virustotal.com/gui/domain/example.com']);

  const ip = await p.lookup({ type: 'ip', value: '203.0.113.9' }, signal);
  assert.equal(server.requests[from + 2]!.path, '/api/v3/ip_addresses/203.0.113.9');
  assert.equal(ip.found, true);
  assert.equal(intel(ip.data).verdict, 'unknown');
  assert.deepEqual(intel(ip.data).references, ['https://www.virustotal.com/gui/ip-address/203.0.113.9']);
  await p.close?.();
});

test('virustotal: the verdict thresholds', () => {
  assert.equal(vtVerdict({ malicious: 3, suspicious: 0, harmless: 60, undetected: 10 }).verdict, 'malicious');
  assert.equal(vtVerdict({ malicious: 2, suspicious: 0, harmless: 60, undetected: 10 }).verdict, 'suspicious');
  assert.equal(vtVerdict({ malicious: 0, suspicious: 1, harmless: 60, undetected: 10 }).verdict, 'suspicious');
  assert.deepEqual(vtVerdict({ malicious: 0, suspicious: 0, harmless: 60, undetected: 10 }), { verdict: 'harmless', score: 0 });
  assert.deepEqual(vtVerdict({ malicious: 0, suspicious: 0, harmless: 0, undetected: 0 }), { verdict: 'unknown', score: 0 });
  assert.equal(vtVerdict({ malicious: 70, suspicious: 0, harmless: 0, undetected: 0 }).score, 100);
  assert.ok(vtVerdict({ malicious: 2, suspicious: 70, harmless: 0, undetected: 0 }).score <= 74);
});

test('virustotal: NotFoundError is an answer (unknown); a 404 without it is a wrong url', async () => {
  const p = await make();
  const a = await p.lookup({ type: 'md5', value: '44d88612fea8a8f36de82e1278abb02f' }, signal);
  assert.equal(a.found, false);
  assert.equal(intel(a.data).verdict, 'unknown');
  assert.equal(server.requests.at(-1)!.path, '/api/v3/files/44d88612fea8a8f36de82e1278abb02f');
  await p.close?.();
  const wrong = await make({ url: `${server.url}/elsewhere` });
  const e = await rejection(wrong.lookup({ type: 'md5', value: '44d88612fea8a8f36de82e1278abb02f' }, signal));
  assert.equal(e.reason, 'not_found');
  await wrong.close?.();
});

test('virustotal: errors map to reasons and never carry the key', async () => {
  const bad = await make({ api_key: 'not-the-key-1234' });
  const auth = await rejection(bad.lookup({ type: 'sha256', value: MAL }, signal));
  assert.equal(auth.reason, 'auth');
  assert.match(auth.message, /WrongCredentialsError/);
  assert.ok(!auth.message.includes('not-the-key-1234'), auth.message);
  await bad.close?.();

  const p = await make();
  const cases: Array<[ContractReply, string, number | undefined]> = [
    [{ ...vtError(429, 'QuotaExceededError', 'Quota exceeded'), headers: { 'retry-after': '30' } }, 'ratelimited', 30_000],
    [vtError(429, 'TooManyRequestsError', 'Too many requests'), 'ratelimited', undefined],
    [vtError(503, 'TransientError', 'Transient error'), 'server', undefined],
    [vtError(500, 'UnknownError', 'boom'), 'server', undefined],
    [vtError(400, 'InvalidArgumentError', 'bad hash'), 'client', undefined],
    [{ status: 200, body: '<html>maintenance</html>' }, 'malformed', undefined],
    [{ status: 200, json: { data: { id: MAL } } }, 'malformed', undefined],
  ];
  try {
    await expectErrorCases(
      cases,
      (reply) => {
        forced = reply;
      },
      () => p.lookup({ type: 'sha256', value: MAL }, signal),
      KEY,
    );
  } finally {
    forced = null;
    await p.close?.();
  }
});

test('virustotal: an aborted signal ends a request the service never answers', async () => {
  const p = await make();
  forced = { hang: true };
  const from = server.requests.length;
  try {
    await abortEndsHungRequest((s) => p.lookup({ type: 'sha256', value: MAL }, s), () => server.requests.length > from);
  } finally {
    forced = null;
    await p.close?.();
  }
});

test('virustotal: config errors name the key', async () => {
  const kind = virustotal as unknown as AnyComponent;
  const at = 'enrichment.providers.vt';
  assert.match(entryProblem(kind, { name: 'vt', kind: 'virustotal' }, at) ?? '', /api_key/);
  assert.match(entryProblem(kind, { ...entry(), apikey: 'x' }, at) ?? '', /^enrichment\.providers\.vt/);
  assert.match(entryProblem(kind, { name: 'vt', kind: 'virustotal', api_key: KEY, url: 'http://127.0.0.1:9/' }, at) ?? '', /^enrichment\.providers\.vt\.url: /);
  assert.match(entryProblem(kind, { name: 'vt', kind: 'virustotal', api_key: KEY, url: 'ftp://vt.example/' }, at) ?? '', /^enrichment\.providers\.vt\.url: /);
  assert.equal(entryProblem(kind, { name: 'vt', kind: 'virustotal', api_key: '${env:VT_API_KEY}' }, at), null);
  await assert.rejects(createProviders([entry({ api_key: '${env:FIDO_TEST_UNSET_VT_KEY}' })], { store: null as never, configDir: dir }), /enrichment\.providers\.vt\.api_key: environment variable FIDO_TEST_UNSET_VT_KEY is not set/);
});

test('virustotal: through the layer, a second lookup is a cache hit that never reaches the service', async () => {
  const name = uniqueName('vt');
  const enricher = await createConfiguredEnricher([{ ...entry(), name }], { ...fileDeps(dir), store: null as never });
  const subject: LookupSubject = { type: 'sha256', value: MAL };
  const from = server.requests.length;
  try {
    const first = await enricher.lookup(name, subject);
    const second = await enricher.lookup(name, subject);
    assert.ok(!isEnrichmentError(first) && !isEnrichmentError(second), JSON.stringify([first, second]));
    assert.equal(first.cache, 'miss');
    assert.equal(second.cache, 'hit');
    assert.equal(intel(second.data).verdict, 'malicious');
    assert.equal(server.requests.length - from, 1);
  } finally {
    await enricher.close();
  }
});
