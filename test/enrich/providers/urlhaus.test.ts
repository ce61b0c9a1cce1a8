/**
 * URLhaus against a local server that speaks its documented API (https://urlhaus-api.abuse.ch/): POST
 * /v1/url/ (url=…), /v1/host/ (host=…), /v1/payload/ (md5_hash= | sha256_hash=), the Auth-Key header, HTTP 200
 * with `query_status` "ok" | "no_results" | "invalid_url" | "unknown_auth_key"… The found URL is URLhaus's
 * own documented example answer (test/fixtures/providers/urlhaus/SOURCE.md).
 *
 * This file also holds the behaviour the three abuse.ch kinds share through providers/lib/abusech.ts (key
 * refused, 429, 5xx, malformed answers, abort, config checks, the layer's cache), run for each kind:
 * malwarebazaar.test.ts and threatfox.test.ts test only what is their own.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import urlhaus from '../../../src/enrich/providers/urlhaus.js';
import malwarebazaar from '../../../src/enrich/providers/malwarebazaar.js';
import threatfox from '../../../src/enrich/providers/threatfox.js';
import type { EnrichmentProvider, LookupSubject } from '../../../src/enrich/provider.js';
import { RemoteError } from '../../../src/enrich/remote.js';
import { entryProblem } from '../../../src/component/instantiate.js';
import type { AnyComponent } from '../../../src/component/component.js';
import { createConfiguredEnricher } from '../../../src/enrich/registry.js';
import { isEnrichmentError } from '../../../src/enrich/layer.js';
import { abortEndsHungRequest } from '../../support/contract-checks.js';
import { startContract, type ContractReply, type ContractRequest, type ContractServer } from '../../support/contract.js';
import { fileDeps, uniqueName } from '../support.js';

const KEY = 'abusech-test-key-7d41f0c2';
process.env.FIDO_TEST_ABUSECH_KEY = KEY;
const signal = new AbortController().signal;
const read = (p: string) => JSON.parse(readFileSync(new URL(`../../fixtures/providers/${p}`, import.meta.url), 'utf8')) as Record<string, unknown>;
const URL_ANSWER = read('urlhaus/url.json');
const LISTED_URL = URL_ANSWER.url as string;
const OFFLINE_URL = 'http://offline.example.net/dl/invoice.exe';

// A host answer shaped as https://urlhaus-api.abuse.ch/#hostinfo documents it.
const hostAnswer = (statuses: string[]) => ({
  query_status: 'ok',
  urlhaus_reference: 'https://urlhaus.abuse.ch/host/vektorex.com/',
  host: 'vektorex.com',
  firstseen: '2019-01-15 07:09:01 UTC',
  url_count: String(statuses.length),
  blacklists: { spamhaus_dbl: 'not listed', surbl: 'not listed' },
  urls: statuses.map((s, i) => ({
    id: String(121319 - i),
    urlhaus_reference: `https://urlhaus.abuse.ch/url/${121319 - i}/`,
    url: `http://vektorex.com/source/Z/${i}.exe`,
    url_status: s,
    date_added: `2019-02-1${i} 07:45:05 UTC`,
    threat: 'malware_download',
    reporter: 'abuse_ch',
    larted: 'false',
    takedown_time_seconds: '',
    tags: i === 0 ? ['AZORult', 'exe'] : ['exe', 'Loki'],
  })),
});

// A payload answer shaped as https://urlhaus-api.abuse.ch/#payloadinfo documents it.
const PAYLOAD = {
  query_status: 'ok',
  md5_hash: '1585ad28f7d1e0ca696e6c6c2f1d008a',
  sha256_hash: '35e304d10d53834e3e41035d12122773c9a4d183a24e03f980ad3e6b2ecde7fa',
  file_type: 'exe',
  file_size: '241664',
  signature: 'Gozi',
  firstseen: '2019-01-19 13:59:06',
  lastseen: '2019-01-19 14:48:08',
  url_count: '2',
  urls: [
    { url_id: '105243', url: 'http://a.example/x.doc', url_status: 'offline', urlhaus_reference: 'https://urlhaus.abuse.ch/url/105243/', firstseen: '2019-01-19', lastseen: '' },
    { url_id: '105214', url: 'http://b.example/y.doc', url_status: 'offline', urlhaus_reference: 'https://urlhaus.abuse.ch/url/105214/', firstseen: '2019-01-19', lastseen: '' },
  ],
};

/** The URLhaus API as documented, for the subjects above; everything else is unknown to it. */
function urlhausApi(req: ContractRequest): ContractReply {
  if (req.method !== 'POST') return { json: { query_status: 'http_post_expected' } };
  if (req.headers['auth-key'] !== KEY) return { status: 401, json: { query_status: 'unknown_auth_key' } };
  if (req.path === '/v1/url/') {
    const url = req.form.get('url') ?? '';
    if (url === LISTED_URL) return { json: URL_ANSWER };
    if (url === OFFLINE_URL) return { json: { ...URL_ANSWER, url: OFFLINE_URL, url_status: 'offline', last_online: '2019-01-21 10:00:00 UTC' } };
    return { json: { query_status: /^https?:\/\//.test(url) ? 'no_results' : 'invalid_url' } };
  }
  if (req.path === '/v1/host/') {
    const host = req.form.get('host');
    if (host === 'vektorex.com') return { json: hostAnswer(['online', 'offline']) };
    if (host === '198.51.100.7') return { json: { ...hostAnswer(['offline', 'offline']), host } };
    return { json: { query_status: 'no_results' } };
  }
  if (req.path === '/v1/payload/') {
    if (req.form.get('md5_hash') === PAYLOAD.md5_hash || req.form.get('sha256_hash') === PAYLOAD.sha256_hash) return { json: PAYLOAD };
    return { json: { query_status: 'no_results' } };
  }
  return { status: 404, body: 'Not Found' };
}

type Kind = typeof urlhaus | typeof malwarebazaar | typeof threatfox;

async function open(kind: Kind, url: string, name = uniqueName(kind.kind)): Promise<EnrichmentProvider> {
  const entry = { name, kind: kind.kind, api_key: '${env:FIDO_TEST_ABUSECH_KEY}', url, allow_private: true };
  return (kind as AnyComponent).create(entry as never, fileDeps(tmpdir()) as never) as Promise<EnrichmentProvider>;
}

async function withUrlhaus(fn: (p: EnrichmentProvider, server: ContractServer) => Promise<void>): Promise<void> {
  const server = await startContract(urlhausApi);
  const p = await open(urlhaus, `${server.url}/v1`);
  try {
    await fn(p, server);
  } finally {
    await p.close?.();
    await server.close();
  }
}

test('urlhaus: POSTs url= to /v1/url/ with the Auth-Key header; an online URL is malicious', async () => {
  await withUrlhaus(async (p, server) => {
    assert.equal(p.external, true);
    assert.deepEqual(p.subjects, ['url', 'domain', 'ip', 'md5', 'sha256']);
    const a = await p.lookup({ type: 'url', value: LISTED_URL }, signal);
    const req = server.requests[0]!;
    assert.equal(req.method, 'POST');
    assert.equal(req.path, '/v1/url/');
    assert.equal(req.headers['auth-key'], KEY);
    assert.match(String(req.headers['content-type']), /application\/x-www-form-urlencoded/);
    assert.deepEqual([...req.form.keys()], ['url']);
    assert.equal(req.form.get('url'), LISTED_URL);
    assert.equal([...req.query.keys()].length, 0);
    assert.ok(!req.body.includes(KEY), 'the key travels in the header only');

    assert.equal(a.found, true);
    assert.equal(a.data.verdict, 'malicious');
    assert.equal(a.data.score, 100);
    assert.deepEqual(a.data.tags, ['emotet', 'epoch2', 'heodo', 'malware_download']);
    assert.deepEqual(a.data.references, ['https://urlhaus.abuse.ch/url/105821/']);
    assert.equal(a.data.first_seen, '2019-01-19T01:33:26.000Z');
    assert.equal(a.data.last_seen, null);
    const detail = a.data.detail as { url_status: string; host: string; payload_count: number; payloads: Array<{ signature: string | null; sha256: string }> };
    assert.equal(detail.url_status, 'online');
    assert.equal(detail.host, 'sskymedia.com');
    assert.equal(detail.payload_count, 2);
    assert.equal(detail.payloads[1]!.signature, 'Heodo');
  });
});

test('urlhaus: an offline URL is suspicious; an unknown one is unknown; a refused one is a client error', async () => {
  await withUrlhaus(async (p) => {
    const off = await p.lookup({ type: 'url', value: OFFLINE_URL }, signal);
    assert.equal(off.found, true);
    assert.equal(off.data.verdict, 'suspicious');
    assert.equal(off.data.score, 60);
    assert.equal(off.data.last_seen, '2019-01-21T10:00:00.000Z');

    const none = await p.lookup({ type: 'url', value: 'https://www.example.com/' }, signal);
    assert.equal(none.found, false);
    assert.equal(none.data.verdict, 'unknown');
    assert.equal(none.data.score, 0);

    await assert.rejects(p.lookup({ type: 'url', value: 'not a url' }, signal), (e: unknown) => {
      assert.ok(e instanceof RemoteError);
      assert.equal(e.reason, 'client');
      assert.match(e.message, /invalid_url/);
      return true;
    });
  });
});

test('urlhaus: domains and IPs go to /v1/host/ as host=; online URLs make a host malicious, offline ones suspicious', async () => {
  await withUrlhaus(async (p, server) => {
    const d = await p.lookup({ type: 'domain', value: 'vektorex.com' }, signal);
    assert.equal(server.requests[0]!.path, '/v1/host/');
    assert.equal(server.requests[0]!.form.get('host'), 'vektorex.com');
    assert.equal(d.data.verdict, 'malicious');
    assert.equal(d.data.score, 90);
    assert.deepEqual(d.data.tags, ['AZORult', 'exe', 'malware_download', 'Loki']);
    assert.deepEqual(d.data.references, ['https://urlhaus.abuse.ch/host/vektorex.com/']);
    assert.equal(d.data.first_seen, '2019-01-15T07:09:01.000Z');
    assert.equal(d.data.last_seen, '2019-02-11T07:45:05.000Z');
    assert.deepEqual((d.data.detail as { urls_online: number; url_count: number }).urls_online, 1);

    const ip = await p.lookup({ type: 'ip', value: '198.51.100.7' }, signal);
    assert.equal(server.requests[1]!.form.get('host'), '198.51.100.7');
    assert.equal(ip.data.verdict, 'suspicious');
    assert.equal(ip.data.score, 50);

    assert.equal((await p.lookup({ type: 'domain', value: 'example.org' }, signal)).found, false);
  });
});

test('urlhaus: hashes go to /v1/payload/ as md5_hash= or sha256_hash=; a known payload is malicious', async () => {
  await withUrlhaus(async (p, server) => {
    const byMd5 = await p.lookup({ type: 'md5', value: PAYLOAD.md5_hash }, signal);
    const bySha = await p.lookup({ type: 'sha256', value: PAYLOAD.sha256_hash }, signal);
    assert.deepEqual(server.requests.map((r) => [r.path, [...r.form.keys()].join()]), [
      ['/v1/payload/', 'md5_hash'],
      ['/v1/payload/', 'sha256_hash'],
    ]);
    for (const a of [byMd5, bySha]) {
      assert.equal(a.data.verdict, 'malicious');
      assert.equal(a.data.score, 90);
      assert.deepEqual(a.data.tags, ['Gozi', 'exe']);
      assert.deepEqual(a.data.references, ['https://urlhaus.abuse.ch/url/105243/', 'https://urlhaus.abuse.ch/url/105214/']);
      assert.equal(a.data.first_seen, '2019-01-19T13:59:06.000Z');
      assert.equal((a.data.detail as { file_size: number }).file_size, 241664);
    }
    assert.equal((await p.lookup({ type: 'sha256', value: 'a'.repeat(64) }, signal)).data.verdict, 'unknown');
  });
});

// ---- What the three abuse.ch kinds share (lib/abusech.ts), run for each. ----

/** Per kind: a subject, and an "ok" answer for it. */
const KINDS: Array<{ kind: Kind; base: string; subject: LookupSubject; ok: unknown }> = [
  { kind: urlhaus, base: '/v1', subject: { type: 'url', value: LISTED_URL }, ok: URL_ANSWER },
  { kind: malwarebazaar, base: '/api/v1', subject: { type: 'sha256', value: 'b'.repeat(64) }, ok: read('malwarebazaar/get_info.json') },
  {
    kind: threatfox,
    base: '/api/v1',
    subject: { type: 'domain', value: 'ntpjson.monster' },
    ok: { query_status: 'ok', data: [{ id: '1', ioc: 'ntpjson.monster', ioc_type: 'domain', threat_type: 'botnet_cc', malware_printable: 'X', confidence_level: 100, first_seen: '2021-03-01 10:00:00 UTC' }] },
  },
];

/** One provider of `kind` in front of a server that gives `reply` to everything. */
async function against(k: (typeof KINDS)[number], reply: ContractHandlerLike, fn: (p: EnrichmentProvider, s: ContractServer) => Promise<void>): Promise<void> {
  const server = await startContract(reply);
  const p = await open(k.kind, `${server.url}${k.base}`);
  try {
    await fn(p, server);
  } finally {
    await p.close?.();
    await server.close();
  }
}
type ContractHandlerLike = Parameters<typeof startContract>[0];

const rejectsWith = (reason: string, check: (e: RemoteError) => void = () => {}) => (e: unknown) => {
  assert.ok(e instanceof RemoteError, `expected a RemoteError, got ${String(e)}`);
  assert.equal(e.reason, reason, e.message);
  assert.ok(!e.message.includes(KEY), 'no message carries the key');
  check(e);
  return true;
};

for (const k of KINDS) {
  const kind = k.kind.kind;

  test(`${kind}: a refused key is an auth error, as a 401 or as a 200 "unknown_auth_key", without the key in the message`, async () => {
    await against(k, () => ({ status: 401, json: { query_status: 'unknown_auth_key' } }), async (p) => {
      await assert.rejects(p.lookup(k.subject, signal), rejectsWith('auth', (e) => assert.equal(e.status, 401)));
    });
    await against(k, () => ({ status: 403, body: `Forbidden: bad key ${KEY}` }), async (p) => {
      await assert.rejects(p.lookup(k.subject, signal), rejectsWith('auth', (e) => assert.match(e.message, /\[secret\]/)));
    });
    await against(k, () => ({ json: { query_status: 'unknown_auth_key' } }), async (p) => {
      await assert.rejects(p.lookup(k.subject, signal), rejectsWith('auth'));
    });
  });

  test(`${kind}: 429 is ratelimited with Retry-After; 5xx is a server error; a body that is not the API's is malformed`, async () => {
    await against(k, () => ({ status: 429, headers: { 'retry-after': '30' }, body: 'slow down' }), async (p) => {
      await assert.rejects(p.lookup(k.subject, signal), rejectsWith('ratelimited', (e) => assert.equal(e.retryAfterMs, 30_000)));
    });
    await against(k, () => ({ json: { query_status: 'rate_limited' } }), async (p) => {
      await assert.rejects(p.lookup(k.subject, signal), rejectsWith('ratelimited'));
    });
    await against(k, () => ({ status: 503, body: '<html>maintenance</html>' }), async (p) => {
      await assert.rejects(p.lookup(k.subject, signal), rejectsWith('server', (e) => assert.equal(e.status, 503)));
    });
    await against(k, () => ({ body: '<html>not json</html>' }), async (p) => {
      await assert.rejects(p.lookup(k.subject, signal), rejectsWith('malformed'));
    });
    await against(k, () => ({ json: { data: [] } }), async (p) => {
      await assert.rejects(p.lookup(k.subject, signal), rejectsWith('malformed', (e) => assert.match(e.message, /query_status/)));
    });
  });

  test(`${kind}: an aborted signal ends a request the service never answers`, async () => {
    await against(k, () => ({ hang: true }), async (p, server) => {
      const e = await abortEndsHungRequest((s) => p.lookup(k.subject, s), () => server.requests.length > 0);
      assert.ok(!e.message.includes(KEY), 'no message carries the key');
    });
  });

  test(`${kind}: config errors name the key at fault`, () => {
    const c = k.kind as AnyComponent;
    const at = 'enrichment.providers.x';
    assert.match(entryProblem(c, { name: 'x', kind } as never, at) ?? '', /api_key/);
    assert.match(entryProblem(c, { name: 'x', kind, api_key: 'k', apikey: 'k' } as never, at) ?? '', /^enrichment\.providers\.x\.apikey: /);
    assert.match(entryProblem(c, { name: 'x', kind, api_key: 'k', url: 'https://10.1.2.3/api/' } as never, at) ?? '', /^enrichment\.providers\.x\.url: /);
    assert.equal(entryProblem(c, { name: 'x', kind, api_key: 'k', url: 'https://10.1.2.3/api/', allow_private: true } as never, at), null);
    assert.equal(entryProblem(c, { name: 'x', kind, api_key: '${env:ABUSECH_AUTH_KEY}' } as never, at), null);
  });

  test(`${kind}: through the layer, a second lookup of the same subject is a cache hit that does not reach the service`, async () => {
    const server = await startContract(() => ({ json: k.ok }));
    const name = uniqueName(kind);
    const entry = { name, kind, api_key: '${env:FIDO_TEST_ABUSECH_KEY}', url: `${server.url}${k.base}`, allow_private: true };
    const e = await createConfiguredEnricher([entry], { store: null as never, configDir: tmpdir() });
    try {
      const first = await e.lookup(name, k.subject);
      assert.ok(!isEnrichmentError(first), JSON.stringify(first));
      assert.equal(first.cache, 'miss');
      assert.equal(first.found, true);
      const second = await e.lookup(name, k.subject);
      assert.ok(!isEnrichmentError(second));
      assert.equal(second.cache, 'hit');
      assert.equal(server.requests.length, 1);
    } finally {
      await e.close();
      await server.close();
    }
  });
}
