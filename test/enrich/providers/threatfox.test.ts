/**
 * ThreatFox against a local server that speaks its documented API (https://threatfox.abuse.ch/api/#search-ioc,
 * #search-hash): POST /api/v1/ with a JSON body {"query":"search_ioc","search_term":…} or
 * {"query":"search_hash","hash":…}, the Auth-Key header, HTTP 200 with `query_status` "ok" (a `data` list of
 * IOCs) | "no_result" | "illegal_search_term"… The IOC records follow the documented example (id, ioc,
 * threat_type, ioc_type, malware_printable, confidence_level, first_seen "… UTC", last_seen, reference, tags).
 * Key refused, 429, 5xx, malformed answers, abort, config checks and the layer's cache are tested for every
 * abuse.ch kind in urlhaus.test.ts (shared code).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tmpdir } from 'node:os';
import threatfox from '../../../src/enrich/providers/threatfox.js';
import type { EnrichmentProvider } from '../../../src/enrich/provider.js';
import { RemoteError } from '../../../src/enrich/remote.js';
import { startContract, type ContractReply, type ContractRequest, type ContractServer } from '../../support/contract.js';
import { fileDeps } from '../support.js';

const KEY = 'tf-test-key-0c5d88e4';
const signal = new AbortController().signal;
const SHA256 = 'b325c92fa540edeb89b95dbfd4400c1cb33599c66859a87aead820e568a2ebe7';

const ioc = (o: { ioc: string } & Record<string, unknown>) => ({
  threat_type_desc: 'Indicator that identifies a botnet command&control server (C&C)',
  malware: 'win.cobalt_strike',
  malware_alias: 'Agentemis,BEACON,CobaltStrike',
  malware_malpedia: 'https://malpedia.caad.fkie.fraunhofer.de/details/win.cobalt_strike',
  last_seen: null,
  reference: null,
  reporter: 'abuse_ch',
  tags: null,
  ...o,
});

const C2 = [
  ioc({ id: '12', ioc: '139.180.203.104:443', threat_type: 'botnet_cc', ioc_type: 'ip:port', malware_printable: 'Cobalt Strike', confidence_level: 75, first_seen: '2020-12-06 09:10:23 UTC', tags: ['CobaltStrike'] }),
  ioc({ id: '13', ioc: '139.180.203.104:8080', threat_type: 'botnet_cc', ioc_type: 'ip:port', malware_printable: 'Cobalt Strike', confidence_level: 100, first_seen: '2020-12-07 10:00:00 UTC', last_seen: '2021-01-02 03:04:05 UTC', reference: 'https://twitter.com/example/status/1' }),
  // Same IP, another port and family: the answer covers all of the IP's IOCs.
  ioc({ id: '14', ioc: '139.180.203.104:80', threat_type: 'botnet_cc', ioc_type: 'ip:port', malware_printable: 'Other', confidence_level: 50, first_seen: '2020-12-08 10:00:00 UTC' }),
];
const DOMAIN = ioc({ id: '20', ioc: 'ntpjson.monster', threat_type: 'payload_delivery', ioc_type: 'domain', malware_printable: 'ClearFake', confidence_level: 50, first_seen: '2021-03-01 10:00:00 UTC', tags: ['clearfake'] });

/** The ThreatFox API as documented; search_ioc without exact_match matches substrings, as the service does. */
function threatfoxApi(req: ContractRequest): ContractReply {
  if (req.headers['auth-key'] !== KEY) return { status: 401, json: { query_status: 'unknown_auth_key' } };
  if (req.method !== 'POST' || req.path !== '/api/v1/') return { status: 404, body: 'Not Found' };
  const q = req.json as { query?: string; search_term?: string; exact_match?: boolean; hash?: string };
  const found = (data: unknown[]) => (data.length ? { json: { query_status: 'ok', data } } : { json: { query_status: 'no_result', data: 'Your search did not yield any results' } });
  if (q.query === 'search_ioc') {
    const term = q.search_term ?? '';
    if (term.length < 3 || /\s/.test(term)) return { json: { query_status: 'illegal_search_term' } };
    return found([...C2, DOMAIN].filter((i) => (q.exact_match ? i.ioc === term : i.ioc.includes(term))));
  }
  if (q.query === 'search_hash') return found(q.hash === SHA256 ? C2.slice(0, 2) : []);
  return { json: { query_status: 'unknown_query' } };
}

async function withThreatfox(fn: (p: EnrichmentProvider, server: ContractServer) => Promise<void>): Promise<void> {
  const server = await startContract(threatfoxApi);
  const p = await threatfox.create({ name: 'tf', kind: 'threatfox', api_key: KEY, url: `${server.url}/api/v1`, allow_private: true }, fileDeps(tmpdir()));
  try {
    await fn(p, server);
  } finally {
    await p.close?.();
    await server.close();
  }
}

test('threatfox: an IP is searched loosely and matches its ip:port IOCs only; the highest confidence is the score', async () => {
  await withThreatfox(async (p, server) => {
    assert.equal(p.external, true);
    assert.deepEqual(p.subjects, ['ip', 'domain', 'url', 'md5', 'sha256']);
    const a = await p.lookup({ type: 'ip', value: '139.180.203.104' }, signal);
    const req = server.requests[0]!;
    assert.equal(req.method, 'POST');
    assert.equal(req.path, '/api/v1/');
    assert.equal(req.headers['auth-key'], KEY);
    assert.match(String(req.headers['content-type']), /application\/json/);
    assert.deepEqual(req.json, { query: 'search_ioc', search_term: '139.180.203.104' });
    assert.equal([...req.query.keys()].length, 0);
    assert.ok(!req.body.includes(KEY));

    assert.equal(a.found, true);
    assert.equal(a.data.verdict, 'malicious');
    assert.equal(a.data.score, 100);
    assert.deepEqual(a.data.tags, ['CobaltStrike', 'Cobalt Strike', 'Other']);
    assert.deepEqual(a.data.references, [
      'https://threatfox.abuse.ch/ioc/12/',
      'https://threatfox.abuse.ch/ioc/13/',
      'https://twitter.com/example/status/1',
      'https://threatfox.abuse.ch/ioc/14/',
    ]);
    assert.equal(a.data.first_seen, '2020-12-06T09:10:23.000Z');
    assert.equal(a.data.last_seen, '2021-01-02T03:04:05.000Z');
    const detail = a.data.detail as { malware: string[]; threat_types: string[]; ioc_count: number };
    assert.deepEqual(detail.malware, ['Cobalt Strike', 'Other']);
    assert.deepEqual(detail.threat_types, ['botnet_cc']);
    assert.equal(detail.ioc_count, 3);

    // 139.180.203.10 is a prefix of the IOCs above, not their IP: ThreatFox does not know it.
    const prefix = await p.lookup({ type: 'ip', value: '139.180.203.10' }, signal);
    assert.equal(server.requests.length, 2);
    assert.equal(prefix.found, false);
    assert.equal(prefix.data.verdict, 'unknown');
  });
});

test('threatfox: domains and URLs ask for exact matches; a low confidence is suspicious, never harmless', async () => {
  await withThreatfox(async (p, server) => {
    const d = await p.lookup({ type: 'domain', value: 'ntpjson.monster' }, signal);
    assert.deepEqual(server.requests[0]!.json, { query: 'search_ioc', search_term: 'ntpjson.monster', exact_match: true });
    assert.equal(d.data.verdict, 'suspicious');
    assert.equal(d.data.score, 50);
    assert.deepEqual(d.data.tags, ['clearfake', 'ClearFake']);
    assert.equal(d.data.last_seen, '2021-03-01T10:00:00.000Z');

    const u = await p.lookup({ type: 'url', value: 'http://ntpjson.monster/gate.php' }, signal);
    assert.deepEqual(server.requests[1]!.json, { query: 'search_ioc', search_term: 'http://ntpjson.monster/gate.php', exact_match: true });
    assert.equal(u.found, false);
    assert.equal(u.data.verdict, 'unknown');
  });
});

test('threatfox: hashes use search_hash; an illegal search term is a client error', async () => {
  await withThreatfox(async (p, server) => {
    const h = await p.lookup({ type: 'sha256', value: SHA256 }, signal);
    assert.deepEqual(server.requests[0]!.json, { query: 'search_hash', hash: SHA256 });
    assert.equal(h.data.verdict, 'malicious');
    assert.equal(h.data.score, 100);
    assert.equal((h.data.detail as { ioc_count: number }).ioc_count, 2);

    const md5 = await p.lookup({ type: 'md5', value: 'e'.repeat(32) }, signal);
    assert.deepEqual(server.requests[1]!.json, { query: 'search_hash', hash: 'e'.repeat(32) });
    assert.equal(md5.found, false);

    await assert.rejects(p.lookup({ type: 'domain', value: 'a b' }, signal), (e: unknown) => e instanceof RemoteError && e.reason === 'client' && /illegal_search_term/.test(e.message));
  });
});
