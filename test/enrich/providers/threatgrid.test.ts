// Cisco Secure Malware Analytics (Threat Grid) API v2 submission search, as documented in the Threat Grid portal
// help (https://panacea.threatgrid.com/mask/doc, "Submission Search": GET /api/v2/search/submissions?q=…&term=…
// &state=succ, answer {"api_version":2,"id":…,"data":{"current_item_count","index","items_per_page",
// "items":[{"item":{"sample","md5","sha1","sha256","filename","state","submitted_at","tags","analysis":
// {"threat_score","behaviors":[{"name","title","threat"}]}}}]}}) and Cisco's integration guide
// (github.com/CiscoSecurity/tg-00-integration-workflows, docs/source/tg/query.rst). Errors come as
// {"api_version":2,"error":{"code","message","errors"}}. The key goes as `Authorization: Bearer` (see the
// provider's header comment), never as v2's `api_key` query parameter. Samples and scores below are made up.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import threatgrid, { threatgridVerdict } from '../../../src/enrich/providers/threatgrid.js';
import { entryProblem } from '../../../src/component/instantiate.js';
import { createConfiguredEnricher, createProviders } from '../../../src/enrich/registry.js';
import { isEnrichmentError } from '../../../src/enrich/layer.js';
import type { EnrichmentProvider } from '../../../src/enrich/provider.js';
import type { AnyComponent } from '../../../src/component/component.js';
import type { IntelData } from '../../../src/enrich/intel.js';
import { abortEndsHungRequest, expectErrorCases, rejection } from '../../support/contract-checks.js';
import { startContract, type ContractReply, type ContractRequest } from '../../support/contract.js';
import { dataDir, fileDeps, uniqueName } from '../support.js';

const KEY = 'tg-test-key-0f1e2d3c4b5a';
const MAL = 'a'.repeat(64);
const CLEAN = 'b'.repeat(64);
const MID_MD5 = 'c'.repeat(32);
const PENDING_SHA1 = 'd'.repeat(40);

const item = (sample: string, hashes: { sha256: string; md5?: string; sha1?: string }, submitted_at: string, analysis: Record<string, unknown>, tags: string[] = []) => ({
  item: { sample, md5: hashes.md5 ?? '0'.repeat(32), sha1: hashes.sha1 ?? '0'.repeat(40), sha256: hashes.sha256, filename: `${sample}.exe`, state: 'succ', status: 'job_done', submitted_at, tags, analysis },
});

const ITEMS = [
  // Oldest first on purpose: the provider must find the latest itself.
  item('s-old', { sha256: MAL }, '2026-01-02T08:00:00Z', { threat_score: 60, behaviors: [] }),
  item('s-new', { sha256: MAL }, '2026-03-04T09:30:00Z', {
    threat_score: 95,
    behaviors: [
      { name: 'registry-autorun-key-modified', title: 'Process Modified Autorun Registry Key Value', threat: 60 },
      { name: 'ransomware-known-file-name', title: 'Ransomware Known File Name', threat: 100 },
    ],
  }, ['emotet']),
  item('s-clean', { sha256: CLEAN }, '2026-02-01T00:00:00Z', { threat_score: 20, behaviors: [] }),
  item('s-mid', { sha256: 'e'.repeat(64), md5: MID_MD5 }, '2026-02-02T00:00:00Z', { threat_score: 60, behaviors: [{ name: 'pe-packed', title: 'Packed PE', threat: 40 }] }),
  item('s-pending', { sha256: 'f'.repeat(64), sha1: PENDING_SHA1 }, '2026-02-03T00:00:00Z', { behaviors: [] }),
];

const tgError = (code: number, message: string): ContractReply => ({ status: code, json: { api_version: 2, id: 1, error: { code, message, errors: [{ code, message }] } } });

let forced: ContractReply | null = null;
const server = await startContract((req: ContractRequest) => {
  const auth = req.headers.authorization;
  if (auth !== `Bearer ${KEY}`) return tgError(401, `Authentication failed for ${String(auth)}`);
  if (forced) return forced;
  if (req.path !== '/api/v2/search/submissions') return { status: 404, body: 'Not Found' };
  const q = req.query.get('q') ?? '';
  const items = ITEMS.filter((i) => [i.item.sha256, i.item.md5, i.item.sha1].includes(q));
  return { json: { api_version: 2, id: 7, data: { current_item_count: items.length, index: 0, items_per_page: 20, items } } };
});
after(() => server.close());

const entry = (extra: Record<string, unknown> = {}) => ({ name: 'sandbox', kind: 'threatgrid', api_key: KEY, url: server.url, allow_private: true, ...extra });
const dir = dataDir({});
const make = async (extra: Record<string, unknown> = {}): Promise<EnrichmentProvider> => (await createProviders([entry(extra)], { store: null as never, configDir: dir }))[0]!;
const signal = new AbortController().signal;
const intel = (d: Record<string, unknown>) => d as unknown as IntelData;

test('threatgrid: the latest submission of a malicious hash, and the key only in the Authorization header', async () => {
  const p = await make();
  const from = server.requests.length;
  const a = await p.lookup({ type: 'sha256', value: MAL }, signal);
  const req = server.requests[from]!;
  assert.equal(req.method, 'GET');
  assert.equal(req.path, '/api/v2/search/submissions');
  assert.equal(req.query.get('q'), MAL);
  assert.equal(req.query.get('term'), 'checksum');
  assert.equal(req.query.get('state'), 'succ');
  assert.equal(req.query.get('api_key'), null);
  assert.ok(![...req.query.values()].includes(KEY));
  assert.equal(req.headers.authorization, `Bearer ${KEY}`);
  assert.equal(p.external, true);
  assert.deepEqual(p.subjects, ['md5', 'sha1', 'sha256']);

  assert.equal(a.found, true);
  const d = intel(a.data);
  assert.equal(d.verdict, 'malicious');
  assert.equal(d.score, 95);
  assert.deepEqual(d.tags, ['emotet', 'ransomware-known-file-name', 'registry-autorun-key-modified']);
  assert.deepEqual(d.references, [`${server.url}/mask/samples/s-new`]);
  assert.equal(d.first_seen, '2026-01-02T08:00:00.000Z');
  assert.equal(d.last_seen, '2026-03-04T09:30:00.000Z');
  assert.equal(d.detail.submissions, 2);
  assert.equal(d.detail.sample, 's-new');
  await p.close?.();
});

test('threatgrid: verdict thresholds; harmless, suspicious, unknown and pending answers', async () => {
  assert.equal(threatgridVerdict(75), 'malicious');
  assert.equal(threatgridVerdict(74), 'suspicious');
  assert.equal(threatgridVerdict(50), 'suspicious');
  assert.equal(threatgridVerdict(49), 'harmless');
  const p = await make();
  const clean = intel((await p.lookup({ type: 'sha256', value: CLEAN }, signal)).data);
  assert.equal(clean.verdict, 'harmless');
  assert.equal(clean.score, 20);
  const mid = intel((await p.lookup({ type: 'md5', value: MID_MD5 }, signal)).data);
  assert.equal(mid.verdict, 'suspicious');
  assert.equal(server.requests.at(-1)!.query.get('q'), MID_MD5);

  const unknown = await p.lookup({ type: 'sha256', value: '9'.repeat(64) }, signal);
  assert.equal(unknown.found, false);
  assert.equal(intel(unknown.data).verdict, 'unknown');
  assert.equal(unknown.ttlMs, undefined, 'an unknown hash is cached for the negative TTL');

  const pending = await p.lookup({ type: 'sha1', value: PENDING_SHA1 }, signal);
  assert.equal(pending.found, false);
  assert.equal(intel(pending.data).detail.pending, true);
  assert.equal(pending.ttlMs, 300_000);
  await p.close?.();
});

test('threatgrid: a submission that only mentions the hash does not speak for it', async () => {
  const p = await make();
  // What a search without term=checksum finds: a dropper whose own checksum is another.
  forced = { json: { api_version: 2, id: 8, data: { current_item_count: 1, index: 0, items_per_page: 20, items: [item('s-dropper', { sha256: '1'.repeat(64) }, '2026-01-01T00:00:00Z', { threat_score: 100 })] } } };
  try {
    const a = await p.lookup({ type: 'sha256', value: MAL }, signal);
    assert.equal(a.found, false);
  } finally {
    forced = null;
    await p.close?.();
  }
});

test('threatgrid: errors map to reasons (also inside a 200) and never carry the key', async () => {
  const bad = await make({ api_key: 'not-the-key-1234' });
  const auth = await rejection(bad.lookup({ type: 'sha256', value: MAL }, signal));
  assert.equal(auth.reason, 'auth');
  assert.ok(!auth.message.includes('not-the-key-1234'), auth.message);
  await bad.close?.();

  const p = await make();
  const cases: Array<[ContractReply, string, number | undefined]> = [
    [{ ...tgError(429, 'Rate limit exceeded'), headers: { 'retry-after': '45' } }, 'ratelimited', 45_000],
    [{ status: 200, json: { api_version: 2, id: 9, error: { code: 429, message: 'Rate limit exceeded' } } }, 'ratelimited', undefined],
    [{ status: 200, json: { api_version: 2, id: 9, error: { code: 403, message: 'Forbidden' } } }, 'auth', undefined],
    [tgError(500, 'Internal error'), 'server', undefined],
    [{ status: 404, body: 'Not Found' }, 'not_found', undefined],
    [{ status: 200, body: '<html>' }, 'malformed', undefined],
    [{ status: 200, json: { api_version: 2, data: {} } }, 'malformed', undefined],
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

test('threatgrid: an aborted signal ends a request the service never answers', async () => {
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

test('threatgrid: config errors name the key', () => {
  const kind = threatgrid as unknown as AnyComponent;
  const at = 'enrichment.providers.sandbox';
  assert.match(entryProblem(kind, { name: 'sandbox', kind: 'threatgrid' }, at) ?? '', /api_key/);
  assert.match(entryProblem(kind, { name: 'sandbox', kind: 'threatgrid', api_key: KEY, url: 'http://10.0.0.5/' }, at) ?? '', /^enrichment\.providers\.sandbox\.url: /);
  assert.equal(entryProblem(kind, { name: 'sandbox', kind: 'threatgrid', api_key: KEY, url: 'http://10.0.0.5/', allow_private: true }, at), null);
});

test('threatgrid: through the layer, a second lookup is a cache hit that never reaches the service', async () => {
  const name = uniqueName('tg');
  const enricher = await createConfiguredEnricher([{ ...entry(), name }], { ...fileDeps(dir), store: null as never });
  const from = server.requests.length;
  try {
    const first = await enricher.lookup(name, { type: 'sha256', value: MAL });
    const second = await enricher.lookup(name, { type: 'sha256', value: MAL });
    assert.ok(!isEnrichmentError(first) && !isEnrichmentError(second), JSON.stringify([first, second]));
    assert.equal(second.cache, 'hit');
    assert.equal(intel(second.data).score, 95);
    assert.equal(server.requests.length - from, 1);
  } finally {
    await enricher.close();
  }
});
