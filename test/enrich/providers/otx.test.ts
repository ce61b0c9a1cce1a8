// AlienVault OTX DirectConnect API v1, as documented at https://otx.alienvault.com/api ("Indicators": GET
// /api/v1/indicators/{IPv4|IPv6|domain|hostname|url|file}/{indicator}/{section}, section "general" with
// pulse_info {count, pulses[{id,name,tags,references,created,modified,malware_families}], references} and
// validation [{source,message,name}]; the key in the X-OTX-API-KEY header) and the OTXv2 SDK
// (github.com/AlienVault-OTX/OTX-Python-SDK, OTXv2.py: same paths and header). Errors are Django REST framework
// bodies {"detail": "…"}: 403 for a bad key, 429 "Request was throttled. Expected available in N seconds.".
// The contract server below answers that way; its indicators and pulses are made up (no fixtures copied).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import otx, { otxScore, otxSection } from '../../../src/enrich/providers/otx.js';
import { entryProblem } from '../../../src/component/instantiate.js';
import { createConfiguredEnricher, createProviders } from '../../../src/enrich/registry.js';
import { isEnrichmentError } from '../../../src/enrich/layer.js';
import type { EnrichmentProvider } from '../../../src/enrich/provider.js';
import type { AnyComponent } from '../../../src/component/component.js';
import type { IntelData } from '../../../src/enrich/intel.js';
import { abortEndsHungRequest, expectErrorCases, rejection } from '../../support/contract-checks.js';
import { startContract, type ContractReply, type ContractRequest } from '../../support/contract.js';
import { dataDir, fileDeps, uniqueName } from '../support.js';

const KEY = 'otx-test-key-9a8b7c6d5e4f';
const SHA1 = '3395856ce81f2b7382dee72602f798b642f14140';
const BAD_URL = 'http://bad.example.net/a/b.php?c=1';

const pulse = (id: string, n: number, extra: Record<string, unknown> = {}) => ({
  id,
  name: `campaign ${n}`,
  tags: ['botnet', `t${n}`],
  references: [`https://blog.example.org/report-${n}`],
  created: `2026-0${n}-01T10:00:00.000000`,
  modified: `2026-0${n}-15T10:00:00.000000`,
  malware_families: [{ id: 'Emotet', display_name: 'Emotet', target: null }],
  ...extra,
});
const general = (indicator: string, pulses: unknown[], extra: Record<string, unknown> = {}) => ({
  indicator,
  type_title: 'x',
  pulse_info: { count: pulses.length, pulses, references: pulses.length ? ['https://abuse.example.org/list'] : [], related: {} },
  validation: [],
  sections: ['general'],
  ...extra,
});

/** What OTX knows, by section and indicator; anything else is a valid indicator no pulse mentions. */
const KNOWN: Record<string, Record<string, unknown>> = {
  IPv4: {
    '198.51.100.23': general('198.51.100.23', [1, 2, 3, 4, 5, 6].map((n) => pulse(`p${n}`, n))),
    // A public address (the layer keeps documentation ranges away from external providers).
    '185.220.101.1': general('185.220.101.1', [1, 2, 3, 4, 5].map((n) => pulse(`p${n}`, n))),
  },
  IPv6: { '2001:db8::7': general('2001:db8::7', [pulse('p1', 1)]) },
  // Allowlisted, even though two pulses name it.
  domain: { 'example.com': general('example.com', [pulse('p1', 1), pulse('p2', 2)], { validation: [{ source: 'whitelist', message: 'Whitelisted domain', name: 'Whitelisted domain' }] }) },
  hostname: { 'cdn.bad-site.net': general('cdn.bad-site.net', [pulse('p3', 3), pulse('p4', 4)]) },
  file: { [SHA1]: general(SHA1, [pulse('p1', 1), pulse('p2', 2)]) },
  url: { [BAD_URL]: general(BAD_URL, [pulse('p5', 5)]) },
};

let forced: ContractReply | null = null;
const server = await startContract((req: ContractRequest) => {
  const key = req.headers['x-otx-api-key'];
  if (!key) return { status: 403, json: { detail: 'Authentication credentials were not provided.' } };
  if (key !== KEY) return { status: 403, json: { detail: `Invalid API key ${String(key)}` } };
  if (forced) return forced;
  const m = /^\/api\/v1\/indicators\/(IPv4|IPv6|domain|hostname|url|file)\/([^/]+)\/general$/.exec(req.path);
  if (!m) return { status: 404, json: { detail: 'Not found.' } };
  const value = decodeURIComponent(m[2]!);
  return { json: KNOWN[m[1]!]?.[value] ?? general(value, []) };
});
after(() => server.close());

const entry = (extra: Record<string, unknown> = {}) => ({ name: 'otx', kind: 'otx', api_key: KEY, url: server.url, allow_private: true, ...extra });
const dir = dataDir({});
const make = async (extra: Record<string, unknown> = {}): Promise<EnrichmentProvider> => (await createProviders([entry(extra)], { store: null as never, configDir: dir }))[0]!;
const signal = new AbortController().signal;
const intel = (d: Record<string, unknown>) => d as unknown as IntelData;

test('otx: an IP in six pulses is malicious, and exactly the documented request', async () => {
  const p = await make();
  const from = server.requests.length;
  const a = await p.lookup({ type: 'ip', value: '198.51.100.23' }, signal);
  const req = server.requests[from]!;
  assert.equal(req.method, 'GET');
  assert.equal(req.path, '/api/v1/indicators/IPv4/198.51.100.23/general');
  assert.equal(req.headers['x-otx-api-key'], KEY);
  assert.equal([...req.query.keys()].length, 0);
  assert.equal(req.headers.authorization, undefined);
  assert.equal(p.external, true);
  assert.deepEqual(p.quota, { per_hour: 10_000 });

  assert.equal(a.found, true);
  const d = intel(a.data);
  assert.equal(d.verdict, 'malicious');
  assert.equal(d.score, 90);
  assert.deepEqual(d.tags, ['botnet', 't1', 't2', 't3', 't4', 't5', 't6', 'Emotet']);
  assert.equal(d.references[0], 'https://otx.alienvault.com/indicator/ip/198.51.100.23');
  assert.equal(d.references[1], 'https://otx.alienvault.com/pulse/p1');
  assert.ok(d.references.includes('https://abuse.example.org/list'));
  assert.ok(d.references.includes('https://blog.example.org/report-6'));
  assert.equal(d.first_seen, '2026-01-01T10:00:00.000Z');
  assert.equal(d.last_seen, '2026-06-15T10:00:00.000Z');
  assert.equal(d.detail.pulses, 6);
  await p.close?.();
});

test('otx: sections by subject; suspicious, allowlisted (harmless) and unknown answers', async () => {
  assert.equal(otxSection({ type: 'domain', value: 'www.example.co.uk' }).api, 'hostname');
  assert.equal(otxSection({ type: 'domain', value: 'example.co.uk' }).api, 'domain');
  assert.equal(otxScore(1), 40);
  assert.equal(otxScore(4), 70);
  assert.equal(otxScore(5), 80);
  assert.equal(otxScore(50), 100);
  const p = await make();
  const from = server.requests.length;
  const file = intel((await p.lookup({ type: 'sha1', value: SHA1 }, signal)).data);
  assert.equal(server.requests[from]!.path, `/api/v1/indicators/file/${SHA1}/general`);
  assert.equal(file.verdict, 'suspicious');
  assert.equal(file.score, 50);

  const allowed = await p.lookup({ type: 'domain', value: 'example.com' }, signal);
  assert.equal(server.requests[from + 1]!.path, '/api/v1/indicators/domain/example.com/general');
  assert.equal(allowed.found, true);
  assert.equal(intel(allowed.data).verdict, 'harmless');
  assert.equal(intel(allowed.data).score, 0);
  assert.deepEqual(intel(allowed.data).detail.allowlisted, ['whitelist']);

  const host = intel((await p.lookup({ type: 'domain', value: 'cdn.bad-site.net' }, signal)).data);
  assert.equal(server.requests[from + 2]!.path, '/api/v1/indicators/hostname/cdn.bad-site.net/general');
  assert.equal(host.verdict, 'suspicious');
  assert.equal(host.references[0], 'https://otx.alienvault.com/indicator/hostname/cdn.bad-site.net');

  const v6 = intel((await p.lookup({ type: 'ip', value: '2001:db8::7' }, signal)).data);
  assert.equal(server.requests[from + 3]!.path, '/api/v1/indicators/IPv6/2001%3Adb8%3A%3A7/general');
  assert.equal(v6.verdict, 'suspicious');

  const url = intel((await p.lookup({ type: 'url', value: BAD_URL }, signal)).data);
  assert.equal(server.requests[from + 4]!.path, `/api/v1/indicators/url/${encodeURIComponent(BAD_URL)}/general`);
  assert.equal([...server.requests[from + 4]!.query.keys()].length, 0, 'the URL is one path segment, its query stays inside it');
  assert.equal(url.verdict, 'suspicious');

  const unknown = await p.lookup({ type: 'ip', value: '203.0.113.50' }, signal);
  assert.equal(unknown.found, false);
  assert.equal(intel(unknown.data).verdict, 'unknown');
  await p.close?.();
});

test('otx: 404 is unknown; errors map to reasons and never carry the key', async () => {
  const bad = await make({ api_key: 'not-the-key-1234' });
  const auth = await rejection(bad.lookup({ type: 'ip', value: '198.51.100.23' }, signal));
  assert.equal(auth.reason, 'auth');
  assert.ok(!auth.message.includes('not-the-key-1234'), auth.message);
  await bad.close?.();

  const p = await make();
  try {
    forced = { status: 404, json: { detail: 'Not found.' } };
    const nf = await p.lookup({ type: 'sha256', value: 'a'.repeat(64) }, signal);
    assert.equal(nf.found, false);
    assert.equal(intel(nf.data).verdict, 'unknown');

    const cases: Array<[ContractReply, string, number | undefined]> = [
      [{ status: 429, json: { detail: 'Request was throttled. Expected available in 12 seconds.' } }, 'ratelimited', 12_000],
      [{ status: 429, headers: { 'retry-after': '60' }, json: { detail: 'Request was throttled.' } }, 'ratelimited', 60_000],
      [{ status: 502, body: 'Bad Gateway' }, 'server', undefined],
      [{ status: 400, json: { detail: 'Invalid indicator' } }, 'client', undefined],
      [{ status: 200, body: 'not json' }, 'malformed', undefined],
      [{ status: 200, json: { indicator: 'x' } }, 'malformed', undefined],
    ];
    await expectErrorCases(
      cases,
      (reply) => {
        forced = reply;
      },
      () => p.lookup({ type: 'ip', value: '198.51.100.23' }, signal),
      KEY,
    );
  } finally {
    forced = null;
    await p.close?.();
  }
});

test('otx: an aborted signal ends a request the service never answers', async () => {
  const p = await make();
  forced = { hang: true };
  const from = server.requests.length;
  try {
    await abortEndsHungRequest((s) => p.lookup({ type: 'ip', value: '198.51.100.23' }, s), () => server.requests.length > from);
  } finally {
    forced = null;
    await p.close?.();
  }
});

test('otx: config errors name the key', async () => {
  const kind = otx as unknown as AnyComponent;
  const at = 'enrichment.providers.otx';
  assert.match(entryProblem(kind, { name: 'otx', kind: 'otx' }, at) ?? '', /api_key/);
  assert.match(entryProblem(kind, { name: 'otx', kind: 'otx', api_key: '' }, at) ?? '', /^enrichment\.providers\.otx\.api_key: /);
  assert.match(entryProblem(kind, { name: 'otx', kind: 'otx', api_key: KEY, url: 'https://user:pw@otx.example/' }, at) ?? '', /^enrichment\.providers\.otx\.url: credentials/);
  assert.equal(entryProblem(kind, { name: 'otx', kind: 'otx', api_key: '${env:OTX_API_KEY}' }, at), null);
});

test('otx: through the layer, a second lookup is a cache hit that never reaches the service', async () => {
  const name = uniqueName('otx');
  const enricher = await createConfiguredEnricher([{ ...entry(), name }], { ...fileDeps(dir), store: null as never });
  const from = server.requests.length;
  try {
    const first = await enricher.lookup(name, { type: 'ip', value: '185.220.101.1' });
    const second = await enricher.lookup(name, { type: 'ip', value: '185.220.101.1' });
    assert.ok(!isEnrichmentError(first) && !isEnrichmentError(second), JSON.stringify([first, second]));
    assert.equal(second.cache, 'hit');
    assert.equal(intel(second.data).verdict, 'malicious');
    assert.equal(server.requests.length - from, 1);
    // external: a private address never leaves.
    assert.ok(isEnrichmentError(await enricher.lookup(name, { type: 'ip', value: '10.1.2.3' })));
    assert.equal(server.requests.length - from, 1);
  } finally {
    await enricher.close();
  }
});
