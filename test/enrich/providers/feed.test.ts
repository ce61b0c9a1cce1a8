// Feed provider (kind `feed`). The servers below speak the documented formats:
//  - TAXII 2.1 (OASIS, https://docs.oasis-open.org/cti/taxii/v2.1/os/taxii-v2.1-os.html): discovery (§4.1) →
//    API root (§4.2, `versions`) → collections (§5.1) → Get Objects (§5.3) with the envelope {more, next,
//    objects}, `added_after`/`limit`/`next`/`match[type]` parameters and X-TAXII-Date-Added-First/Last headers;
//    `Accept: application/taxii+json;version=2.1` (406 otherwise, §1.6.8), HTTP basic auth (401 otherwise).
//  - STIX 2.1 bundles and indicator patterns (https://docs.oasis-open.org/cti/stix/v2.1/os/stix-v2.1-os.html).
//  - abuse.ch Feodo Tracker (https://feodotracker.abuse.ch/blocklist/) and URLhaus CSV (https://urlhaus.abuse.ch/api/).
// Fixtures: test/fixtures/providers/feed (SOURCE.md); all indicator values are made up.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import feed, { type FeedProvider } from '../../../src/enrich/providers/feed.js';
import { parseStixPattern } from '../../../src/enrich/providers/lib/stix-pattern.js';
import { entryProblem } from '../../../src/component/instantiate.js';
import { createConfiguredEnricher } from '../../../src/enrich/registry.js';
import { isEnrichmentError } from '../../../src/enrich/layer.js';
import type { ProviderDeps, LookupSubject } from '../../../src/enrich/provider.js';
import type { AnyComponent } from '../../../src/component/component.js';
import type { IntelData } from '../../../src/enrich/intel.js';
import type { ObservableType } from '../../../src/model/observable.js';
import { startContract, type ContractReply, type ContractServer } from '../../support/contract.js';
import { dataDir, fileDeps, uniqueName } from '../support.js';

const fixture = (name: string) => readFileSync(new URL(`../../fixtures/providers/feed/${name}`, import.meta.url), 'utf8');
const BUNDLE = fixture('bundle.json');
const FEODO = fixture('ipblocklist.csv');
const URLHAUS = fixture('urlhaus.csv');
const signal = new AbortController().signal;
const s = (type: ObservableType, value: string): LookupSubject => ({ type, value });
const intel = (data: Record<string, unknown>) => data as unknown as IntelData;
const NOW = Date.UTC(2026, 10, 30, 12, 0, 0);

async function make(cfg: Record<string, unknown>, deps: ProviderDeps): Promise<FeedProvider> {
  return (await feed.create({ name: 'feed', kind: 'feed', ...cfg } as Parameters<typeof feed.create>[0], deps)) as FeedProvider;
}

async function ask(p: FeedProvider, type: ObservableType, value: string) {
  const a = await p.lookup(s(type, value), signal);
  return { found: a.found, ...intel(a.data) };
}

test('feed: STIX patterns — OR forms are read, AND/FOLLOWEDBY/qualifiers give nothing', () => {
  assert.deepEqual(parseStixPattern("[ipv4-addr:value = '198.51.100.7']"), { ok: true, indicators: [{ type: 'ip', value: '198.51.100.7' }], dropped: 0 });
  assert.deepEqual(parseStixPattern("[file:hashes.'SHA-256' = 'ab' OR file:hashes.MD5='cd'] OR ([url:value = 'http://x.example/it\\'s'])"), {
    ok: true,
    indicators: [
      { type: 'sha256', value: 'ab' },
      { type: 'md5', value: 'cd' },
      { type: 'url', value: "http://x.example/it's" },
    ],
    dropped: 0,
  });
  assert.deepEqual(parseStixPattern("[ipv4-addr:value ISSUBSET '203.0.113.0/24' OR file:name = 'a.exe']"), {
    ok: true,
    indicators: [{ type: 'cidr', value: '203.0.113.0/24' }],
    dropped: 1,
  });
  assert.deepEqual(parseStixPattern("[email-addr:value = 'a@b.example' OR file:hashes.\"SHA-1\" = 'ef']").ok, true);
  const reason = (p: string) => {
    const r = parseStixPattern(p);
    return r.ok ? 'ok' : r.reason;
  };
  assert.equal(reason("[ipv4-addr:value = '1.2.3.4' AND network-traffic:dst_port = 443]"), 'conjunction');
  assert.equal(reason("[domain-name:value = 'a.example'] AND [url:value = 'http://b.example/']"), 'conjunction');
  assert.equal(reason("[domain-name:value = 'a.example'] FOLLOWEDBY [url:value = 'http://b.example/']"), 'conjunction');
  assert.equal(reason("[domain-name:value = 'a.example'] REPEATS 5 TIMES"), 'qualifier');
  assert.equal(reason("[domain-name:value = 'a.example'] START t'2026-01-01T00:00:00Z' STOP t'2026-02-01T00:00:00Z'"), 'qualifier');
  assert.equal(reason("[domain-name:value != 'a.example']"), 'unsupported');
  assert.equal(reason("[domain-name:value LIKE '%.example']"), 'unsupported');
  assert.equal(reason("[domain-name:value = 'a.example'"), 'syntax');
  assert.equal(reason("ipv4-addr:value = '1.2.3.4'"), 'syntax');
});

test('feed: a STIX bundle file — every indicator type, the verdict/score mapping, and what is dropped', async () => {
  const dir = dataDir({ 'bundle.json': BUNDLE });
  const p = await make({ format: 'stix', file: 'bundle.json', name: 'isac' }, fileDeps(dir, () => NOW));
  try {
    const c2 = await ask(p, 'ip', '198.51.100.7');
    assert.equal(c2.found, true);
    assert.equal(c2.verdict, 'malicious');
    assert.equal(c2.score, 90); // confidence
    assert.deepEqual(c2.tags, ['malicious-activity', 'qakbot', 'c2']);
    assert.deepEqual(c2.references, ['https://isac.example/reports/qakbot-2026-02']); // the reference without a url is not a link
    assert.equal(c2.first_seen, '2026-02-01T10:00:00.000Z');
    assert.equal(c2.last_seen, '2026-03-04T12:30:00.000Z');
    assert.equal(c2.detail.feed, 'isac');
    assert.deepEqual(c2.detail.matches, [
      { indicator: '198.51.100.7', type: 'ip', match: 'exact', id: 'indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f', verdict: 'malicious', name: 'QakBot C2' },
    ]);

    const phish = await ask(p, 'domain', 'www.login-verify.example');
    assert.equal(phish.verdict, 'suspicious'); // anomalous-activity
    assert.equal(phish.score, 60);
    assert.equal((phish.detail.matches as Array<{ match: string }>)[0]!.match, 'parent_domain');
    assert.equal((await ask(p, 'url', 'http://cdn.phish.example/kit/index.php')).verdict, 'suspicious');

    const sha = await ask(p, 'sha256', 'aec070645fe53ee3b3763059376134f058cc337247c978add178b6ccdfb0019f');
    assert.equal(sha.verdict, 'malicious');
    assert.equal(sha.score, 75); // no confidence: the default
    assert.equal((await ask(p, 'md5', '3f1a6f3e8a2c7d9b6c0e4f5a1b2c3d4e')).found, true);

    const range = await ask(p, 'ip', '203.0.113.50');
    assert.equal(range.score, 40);
    assert.equal((range.detail.matches as Array<{ match: string }>)[0]!.match, 'cidr');
    assert.equal((await ask(p, 'ip', '2001:db8:bad::1')).found, true);
    assert.equal((await ask(p, 'email', 'billing@invoices-now.example')).verdict, 'malicious');

    const benign = await ask(p, 'domain', 'updates.vendor.example');
    assert.equal(benign.found, true);
    assert.equal(benign.verdict, 'harmless');
    assert.equal(benign.score, 0);

    // Expired, revoked, an AND pattern, a snort pattern: unknown.
    for (const [type, value] of [['ip', '198.51.100.200'], ['domain', 'revoked.example'], ['ip', '198.51.100.99'], ['ip', '198.51.100.98']] as const) {
      const a = await ask(p, type, value);
      assert.equal(a.found, false, value);
      assert.equal(a.verdict, 'unknown');
      assert.equal(a.detail.feed, 'isac');
    }
    assert.equal((await ask(p, 'ip', '192.0.2.1')).found, false);
    const st = p.status();
    assert.equal(st.indicators, 6);
    assert.deepEqual(st.skipped, { revoked: 1, expired: 1, pattern_conjunction: 1, pattern_type: 1 });
    // The same data at the same time gives the same revision in any process.
    const again = await make({ format: 'stix', file: 'bundle.json', name: 'isac' }, fileDeps(dir, () => NOW));
    assert.equal(await again.revision!(), await p.revision!());
    await again.close!();
  } finally {
    await p.close!();
  }
});

test('feed: an indicator stops answering when its valid_until passes, and the revision changes', async () => {
  let now = NOW;
  const bundle = {
    type: 'bundle',
    id: 'bundle--1',
    objects: [
      { type: 'indicator', id: 'indicator--short', spec_version: '2.1', created: '2026-11-01T00:00:00Z', modified: '2026-11-01T00:00:00Z', pattern: "[domain-name:value = 'brief.example']", pattern_type: 'stix', valid_from: '2026-11-01T00:00:00Z', valid_until: '2026-12-01T00:00:00Z' },
    ],
  };
  const p = await make({ format: 'stix', file: 'b.json' }, fileDeps(dataDir({ 'b.json': JSON.stringify(bundle) }), () => now));
  const before = await p.revision!();
  assert.equal((await ask(p, 'domain', 'brief.example')).found, true);
  now = Date.UTC(2026, 11, 1, 0, 0, 1);
  assert.equal((await ask(p, 'domain', 'brief.example')).found, false);
  assert.notEqual(await p.revision!(), before);
  await p.close!();
});

test('feed: a bad file stops start with the file named; config errors name the key', async () => {
  const dir = dataDir({ 'bad.json': '{"type": "bundle", "objects": [' });
  await assert.rejects(make({ format: 'stix', file: 'bad.json' }, fileDeps(dir)), /bad\.json: not JSON/);
  await assert.rejects(make({ format: 'text', file: 'missing.txt' }, fileDeps(dir)), /missing\.txt: cannot read: ENOENT/);

  const kind = feed as unknown as AnyComponent;
  const at = 'enrichment.providers.f';
  const problem = (e: Record<string, unknown>) => entryProblem(kind, { name: 'f', kind: 'feed', ...e }, at) ?? '';
  assert.match(problem({ format: 'csv', file: 'x.csv' }), /^enrichment\.providers\.f\.format: /);
  assert.match(problem({ format: 'taxii', url: 'https://taxii.example/taxii2/' }), /^enrichment\.providers\.f\.collection: a taxii feed needs/);
  assert.match(problem({ format: 'feodo' }), /^enrichment\.providers\.f\.file: a feodo feed needs a file or a url/);
  assert.match(problem({ format: 'feodo', file: 'a.csv', url: 'https://x.example/a.csv' }), /^enrichment\.providers\.f\.file: give either/);
  assert.match(problem({ format: 'feodo', url: 'http://127.0.0.1/a.csv' }), /^enrichment\.providers\.f\.url: .*not a public address/);
  assert.match(problem({ format: 'feodo', url: 'https://x.example/a.csv', collection: 'c' }), /^enrichment\.providers\.f\.collection: .*taxii only/);
  assert.match(problem({ format: 'taxii', url: 'https://taxii.example/taxii2/', collection: 'c', username: 'u' }), /^enrichment\.providers\.f\.password: /);
  assert.match(problem({ format: 'taxii', url: 'https://taxii.example/taxii2/', collection: 'c', api_root: 'https://other.example/api1/' }), /^enrichment\.providers\.f\.api_root: must be on the same server/);
  assert.match(problem({ format: 'text', url: 'https://x.example/l.txt', interval: 'hourly' }), /^enrichment\.providers\.f\.interval/);
  assert.equal(problem({ format: 'taxii', url: 'https://taxii.example/taxii2/', collection: 'c', username: 'u', password: '${env:TAXII_PASS}', interval: '15m' }), '');
  assert.equal(problem({ format: 'feodo', url: 'https://feodotracker.abuse.ch/downloads/ipblocklist.csv', cache_dir: 'feeds' }), '');
});

// ---- downloads: one server for the plain feeds ----

const TOKEN = 'abusech-auth-key-5e1f0c9d8b7a';
let feodoText = FEODO;
let feodoReply: ContractReply | null = null;
let files: ContractServer;

before(async () => {
  files = await startContract((req) => {
    if (req.path === '/feodo.csv') return feodoReply ?? { body: feodoText, headers: { 'content-type': 'text/csv' } };
    if (req.path === '/urlhaus.csv') return { body: URLHAUS, headers: { 'content-type': 'text/csv' } };
    if (req.path === '/list.txt') return { body: '# my list\n198.51.100.44\nevil[.]example  # defanged\n2001:db8:44::/48\nnot an indicator\n' };
    if (req.path === '/keyed.csv') return req.headers['auth-key'] === TOKEN ? { body: FEODO } : { status: 401, json: { query_status: 'unknown_auth_key' } };
    if (req.path === '/bundle.json') return { body: 'this is not json' };
    if (req.path === '/broken.csv') return { body: '"2026-01-01","198.51.100.1","443","online","2026-01-02","x"\n"unterminated,\n' };
    if (req.path === '/hang') return { hang: true };
    return { status: 404, body: 'not found' };
  });
});
after(() => files.close());

const download = (path: string, extra: Record<string, unknown> = {}) => ({ url: `${files.url}${path}`, allow_private: true, ...extra });

test('feed: the Feodo Tracker CSV — the request, the answer, and a key sent as a header only', async () => {
  const from = files.requests.length;
  const p = await make({ format: 'feodo', name: 'feodo', ...download('/feodo.csv') }, fileDeps(dataDir({}), () => NOW));
  try {
    const st = await p.refresh();
    assert.equal(st.lastError, null);
    assert.equal(st.indicators, 3);
    const reqs = files.requests.slice(from);
    assert.ok(reqs.length >= 1 && reqs.every((r) => r.method === 'GET' && r.path === '/feodo.csv' && [...r.query].length === 0));
    assert.equal(reqs[0]!.headers.authorization, undefined);
    const a = await ask(p, 'ip', '198.51.100.23');
    assert.equal(a.verdict, 'malicious');
    assert.equal(a.score, 75);
    assert.deepEqual(a.tags, ['QakBot', 'botnet_cc']);
    assert.deepEqual(a.references, ['https://feodotracker.abuse.ch/browse/host/198.51.100.23/']);
    assert.equal(a.first_seen, '2026-03-02T11:04:51.000Z');
    assert.equal(a.last_seen, '2026-11-30T00:00:00.000Z');
    assert.deepEqual((a.detail.matches as Array<Record<string, unknown>>)[0], {
      indicator: '198.51.100.23', type: 'ip', match: 'exact', id: 'line 10', verdict: 'malicious', malware: 'QakBot', port: 443, c2_status: 'online',
    });
    assert.equal((await ask(p, 'url', 'https://203.0.113.9:2222/gate')).found, true); // a URL by its host address
    assert.equal((await ask(p, 'ip', '198.51.100.24')).found, false);
  } finally {
    await p.close!();
  }

  // abuse.ch's Auth-Key: in its header, never in the URL; a refused key is reported without the key.
  const keyed = await make({ format: 'feodo', ...download('/keyed.csv', { token: TOKEN, token_header: 'Auth-Key' }) }, fileDeps(dataDir({})));
  const wrong = await make({ format: 'feodo', ...download('/keyed.csv', { token: 'wrong-key-123456', token_header: 'Auth-Key' }) }, fileDeps(dataDir({})));
  try {
    assert.equal((await keyed.refresh()).indicators, 3);
    const st = await wrong.refresh();
    assert.match(st.lastError ?? '', /401.*refused/);
    assert.ok(!st.lastError!.includes('wrong-key-123456'));
    assert.ok(files.requests.every((r) => !r.query.toString().includes(TOKEN)));
    await assert.rejects(wrong.lookup(s('ip', '198.51.100.23'), signal), /feed feed has no data yet: .*401/);
  } finally {
    await keyed.close!();
    await wrong.close!();
  }
});

test('feed: URLhaus CSV and text lists', async () => {
  const u = await make({ format: 'urlhaus', ...download('/urlhaus.csv') }, fileDeps(dataDir({}), () => NOW));
  const t = await make({ format: 'text', ...download('/list.txt') }, fileDeps(dataDir({}), () => NOW));
  try {
    assert.equal((await u.refresh()).indicators, 2);
    const a = await ask(u, 'url', 'https://files.bad-cdn.example/payload/setup.msi');
    assert.deepEqual(a.tags, ['malware_download', 'msi', 'RemcosRAT']);
    assert.deepEqual(a.references, ['https://urlhaus.abuse.ch/url/3300100/']);
    assert.equal((a.detail.matches as Array<Record<string, unknown>>)[0]!.url_status, 'offline');
    const st = await t.refresh();
    assert.equal(st.indicators, 3);
    assert.deepEqual(st.skipped, { unrecognised_line: 1 });
    assert.equal((await ask(t, 'domain', 'cdn.evil.example')).found, true);
    assert.equal((await ask(t, 'ip', '2001:db8:44::9')).found, true);
  } finally {
    await u.close!();
    await t.close!();
  }
});

test('feed: a refresh picks up a new indicator; a failed one keeps the old index and says since when', async () => {
  let now = NOW;
  const p = await make({ format: 'feodo', name: 'c2', ...download('/feodo.csv') }, fileDeps(dataDir({}), () => now));
  try {
    await p.refresh();
    const rev1 = await p.revision!();
    assert.equal((await ask(p, 'ip', '198.51.100.88')).found, false);

    feodoText = `${FEODO}"2026-11-30 10:00:00","198.51.100.88","443","online","2026-11-30","Latrodectus"\n`;
    now += 3_600_000;
    assert.equal((await p.refresh()).indicators, 4);
    assert.equal((await ask(p, 'ip', '198.51.100.88')).found, true);
    assert.notEqual(await p.revision!(), rev1);

    for (const [reply, reason] of [
      [{ status: 503, body: 'maintenance' }, /503/],
      [{ status: 429, headers: { 'retry-after': '120' }, body: 'slow down' }, /429.*rate limit/],
      [{ body: '"a","b"\n"unterminated,\n' }, /unterminated quoted field/],
    ] as Array<[ContractReply, RegExp]>) {
      feodoReply = reply;
      now += 60_000;
      const st = await p.refresh();
      assert.match(st.lastError ?? '', reason);
      assert.equal(st.staleSince, NOW + 3_600_000 + 60_000); // the first failure
      const a = await ask(p, 'ip', '198.51.100.88');
      assert.equal(a.found, true);
      assert.equal(a.detail.stale_since, new Date(NOW + 3_600_000 + 60_000).toISOString());
      assert.match(String(a.detail.refresh_error), reason);
    }
    feodoReply = null;
    const st = await p.refresh();
    assert.equal(st.staleSince, null);
    assert.equal((await ask(p, 'ip', '198.51.100.88')).detail.stale_since, undefined);
  } finally {
    feodoText = FEODO;
    feodoReply = null;
    await p.close!();
  }
});

test('feed: malformed downloads fail the refresh (not JSON, not CSV)', async () => {
  const j = await make({ format: 'stix', ...download('/bundle.json') }, fileDeps(dataDir({})));
  const c = await make({ format: 'feodo', ...download('/broken.csv') }, fileDeps(dataDir({})));
  try {
    assert.match((await j.refresh()).lastError ?? '', /not JSON/);
    assert.match((await c.refresh()).lastError ?? '', /broken\.csv:2: unterminated quoted field/);
  } finally {
    await j.close!();
    await c.close!();
  }
});

test('feed: closing ends a hung download', async () => {
  const p = await make({ format: 'text', ...download('/hang') }, fileDeps(dataDir({})));
  const pending = p.refresh();
  // Wait until the request is at the server.
  while (!files.requests.some((r) => r.path === '/hang')) await new Promise((r) => setImmediate(r));
  await p.close!();
  assert.match((await pending).lastError ?? '', /aborted/);
});

test('feed: with cache_dir, a restart answers from the last download while the network is down', async () => {
  const cacheDir = dataDir({});
  const name = uniqueName('cached');
  const a = await make({ format: 'feodo', name, cache_dir: cacheDir, ...download('/feodo.csv') }, fileDeps(dataDir({}), () => NOW));
  await a.refresh();
  await a.close!();
  feodoReply = { status: 500, body: 'down' };
  try {
    const b = await make({ format: 'feodo', name, cache_dir: cacheDir, ...download('/feodo.csv') }, fileDeps(dataDir({}), () => NOW + 1000));
    // Before any download finished: the cached copy answers.
    assert.equal((await ask(b, 'ip', '198.51.100.77')).found, true);
    const st = await b.refresh();
    assert.match(st.lastError ?? '', /500/);
    const ans = await ask(b, 'ip', '198.51.100.77');
    assert.equal(ans.found, true);
    assert.equal(ans.detail.updated_at, new Date(NOW).toISOString());
    await b.close!();
  } finally {
    feodoReply = null;
  }
});

test('feed: through the layer, lookups answer from memory and never reach the server', async () => {
  const name = uniqueName('feodo');
  const enricher = await createConfiguredEnricher([{ name, kind: 'feed', format: 'feodo', ...download('/feodo.csv') }], { ...fileDeps(dataDir({})), store: null as never });
  try {
    const p = enricher.providers[0] as FeedProvider;
    assert.equal(p.local, true);
    assert.equal(p.inMemory, true);
    await p.refresh();
    const from = files.requests.length;
    const first = await enricher.lookup(name, s('ip', '198.51.100.23'));
    const second = await enricher.lookup(name, s('ip', '198.51.100.23'));
    assert.ok(!isEnrichmentError(first) && !isEnrichmentError(second), JSON.stringify([first, second]));
    assert.equal(intel(second.data!).verdict, 'malicious');
    // In-memory providers are called directly (every answer fresh), and a lookup never downloads.
    assert.equal(second.cache, 'miss');
    assert.equal(files.requests.length, from);
  } finally {
    await enricher.close();
  }
});

// ---- TAXII 2.1 ----

const TAXII = 'application/taxii+json;version=2.1';
const USER = 'fido';
const PASS = 'taxii-pass-3f9c2a71e0';
const COLLECTION = '91a7b528-80eb-42ed-a74d-c6fbd5a26116';
const taxiiObjects: Array<{ added: string; obj: Record<string, unknown> }> = [];
const indicator = (n: number, pattern: string, extra: Record<string, unknown> = {}) => ({
  type: 'indicator',
  spec_version: '2.1',
  id: `indicator--00000000-0000-4000-8000-${String(n).padStart(12, '0')}`,
  created: '2026-11-01T00:00:00.000Z',
  modified: '2026-11-01T00:00:00.000Z',
  pattern,
  pattern_type: 'stix',
  valid_from: '2026-11-01T00:00:00Z',
  indicator_types: ['malicious-activity'],
  ...extra,
});
const added = (n: number) => `2026-11-2${n}T00:00:00.000000Z`;

function taxiiReply(server: () => string, req: { path: string; query: URLSearchParams; headers: Record<string, string | string[] | undefined> }): ContractReply {
  const taxiiJson = (json: unknown, headers: Record<string, string> = {}): ContractReply => ({ json, headers: { 'content-type': TAXII, ...headers } });
  if (req.headers.authorization !== `Basic ${Buffer.from(`${USER}:${PASS}`).toString('base64')}`) {
    return { status: 401, json: { title: 'Unauthorized', http_status: '401' }, headers: { 'www-authenticate': 'Basic realm="taxii"' } };
  }
  if (req.headers.accept !== TAXII) return { status: 406, json: { title: 'Not Acceptable', http_status: '406' } };
  if (req.path === '/taxii2/') return taxiiJson({ title: 'Example ISAC', default: `${server()}/api1/`, api_roots: [`${server()}/api1/`, `${server()}/trustgroup/`] });
  if (req.path === '/api1/') return taxiiJson({ title: 'ISAC indicators', versions: [TAXII], max_content_length: 10_485_760 });
  if (req.path === '/api1/collections/') {
    return taxiiJson({
      collections: [
        { id: '52892447-4d7e-4f70-b94d-d7f22742ff63', title: 'Write only', can_read: false, can_write: true },
        { id: COLLECTION, title: 'High value indicators', can_read: true, can_write: false, media_types: ['application/stix+json;version=2.1'] },
      ],
    });
  }
  if (req.path === `/api1/collections/${COLLECTION}/objects/`) {
    const since = req.query.get('added_after');
    const limit = Number(req.query.get('limit') ?? 100);
    const start = Number(req.query.get('next') ?? 0);
    const type = req.query.get('match[type]');
    const list = taxiiObjects.filter((o) => (!since || o.added > since) && (!type || o.obj.type === type));
    const page = list.slice(start, start + limit);
    const more = start + limit < list.length;
    return taxiiJson(
      { more, ...(more ? { next: String(start + limit) } : {}), ...(page.length ? { objects: page.map((o) => o.obj) } : {}) },
      page.length ? { 'x-taxii-date-added-first': page[0]!.added, 'x-taxii-date-added-last': page[page.length - 1]!.added } : {},
    );
  }
  return { status: 404, json: { title: 'Not Found', http_status: '404' } };
}

test('feed: TAXII 2.1 — discovery, API root, collection, paged objects, then only what was added since', async () => {
  taxiiObjects.length = 0;
  taxiiObjects.push(
    { added: added(1), obj: indicator(1, "[ipv4-addr:value = '198.51.100.61']", { confidence: 85 }) },
    { added: added(2), obj: indicator(2, "[domain-name:value = 'c2.taxii.example']") },
    { added: added(3), obj: { type: 'malware', spec_version: '2.1', id: 'malware--1', name: 'x', is_family: true } },
    { added: added(4), obj: indicator(3, "[url:value = 'http://taxii.example/dl.exe']") },
  );
  let url = '';
  const server = await startContract((req) => taxiiReply(() => url, req));
  url = server.url;
  process.env.FIDO_TEST_TAXII_PASS = PASS;
  const base = { format: 'taxii', url: `${url}/taxii2/`, allow_private: true, collection: 'High value indicators', page_size: 2 };
  const p = await make({ ...base, name: 'isac', username: USER, password: '${env:FIDO_TEST_TAXII_PASS}' }, fileDeps(dataDir({}), () => NOW));
  try {
    const st = await p.refresh();
    assert.equal(st.lastError, null);
    assert.equal(st.indicators, 3);
    assert.equal(st.addedAfter, added(4));
    assert.deepEqual(
      server.requests.map((r) => `${r.path}?${r.query}`),
      [
        '/taxii2/?',
        '/api1/?',
        '/api1/collections/?',
        `/api1/collections/${COLLECTION}/objects/?limit=2&match%5Btype%5D=indicator`,
        `/api1/collections/${COLLECTION}/objects/?limit=2&match%5Btype%5D=indicator&next=2`,
      ],
    );
    for (const r of server.requests) {
      assert.equal(r.method, 'GET');
      assert.equal(r.headers.accept, TAXII);
      assert.ok(String(r.headers.authorization).startsWith('Basic '));
      assert.ok(!`${r.path}${r.query}`.includes(PASS));
    }
    const a = await ask(p, 'ip', '198.51.100.61');
    assert.equal(a.verdict, 'malicious');
    assert.equal(a.score, 85);
    assert.equal((await ask(p, 'domain', 'c2.taxii.example')).found, true);
    assert.equal((await ask(p, 'url', 'http://taxii.example/dl.exe')).found, true);

    // Later: one new indicator, and a new version of indicator 2 that revokes it.
    taxiiObjects.push(
      { added: added(5), obj: indicator(4, "[ipv4-addr:value = '198.51.100.62']") },
      { added: added(6), obj: indicator(2, "[domain-name:value = 'c2.taxii.example']", { modified: '2026-11-26T00:00:00.000Z', revoked: true }) },
    );
    const n = server.requests.length;
    const st2 = await p.refresh();
    assert.equal(st2.lastError, null);
    assert.deepEqual(
      server.requests.slice(n).map((r) => `${r.path}?${r.query}`),
      [`/api1/collections/${COLLECTION}/objects/?added_after=${encodeURIComponent(added(4))}&limit=2&match%5Btype%5D=indicator`],
    );
    assert.equal(st2.addedAfter, added(6));
    assert.equal((await ask(p, 'ip', '198.51.100.62')).found, true);
    assert.equal((await ask(p, 'domain', 'c2.taxii.example')).found, false);
    assert.equal((await ask(p, 'ip', '198.51.100.61')).found, true); // kept from the first poll
    assert.equal(st2.indicators, 3);
    // The server really refuses other media types (what the Accept assertions above rely on).
    const plain = await fetch(`${url}/api1/`, { headers: { accept: 'application/json', authorization: String(server.requests[0]!.headers.authorization) } });
    assert.equal(plain.status, 406);
  } finally {
    await p.close!();
  }

  // Wrong password: 401 reported as refused credentials, without the password; no data, so lookups fail.
  process.env.FIDO_TEST_TAXII_BAD = 'not-the-password-77';
  const bad = await make({ ...base, username: USER, password: '${env:FIDO_TEST_TAXII_BAD}' }, fileDeps(dataDir({})));
  const none = await make({ ...base, collection: 'Nope' }, fileDeps(dataDir({})));
  const other = await make({ ...base, collection: 'Write only', username: USER, password: '${env:FIDO_TEST_TAXII_PASS}' }, fileDeps(dataDir({})));
  const missing = await make({ ...base, collection: 'Nope', username: USER, password: '${env:FIDO_TEST_TAXII_PASS}' }, fileDeps(dataDir({})));
  try {
    const st = await bad.refresh();
    assert.match(st.lastError ?? '', /401.*refused/);
    assert.ok(!st.lastError!.includes('not-the-password-77'));
    await assert.rejects(bad.lookup(s('ip', '198.51.100.61'), signal), /no data yet/);
    assert.match((await none.refresh()).lastError ?? '', /401/);
    assert.match((await other.refresh()).lastError ?? '', /collection "Write only" is not readable/);
    assert.match((await missing.refresh()).lastError ?? '', /\.collection: no collection "Nope" .*High value indicators/);
  } finally {
    await Promise.all([bad, none, other, missing].map((x) => x.close!()));
    await server.close();
  }
});
