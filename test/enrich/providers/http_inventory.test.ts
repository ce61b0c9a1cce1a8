/**
 * The http_inventory provider against local servers. The main one speaks Snipe-IT's hardware API as
 * documented (https://snipe-it.readme.io/reference/api-overview, …/reference/api-throttling; hardware list:
 * GET /api/v1/hardware?search=… with `Authorization: Bearer <token>` → { total, rows: [{ id, name, serial, model: { name },
 * assigned_to: { username }, custom_fields: { "<label>": { field, value } } }] }, 401 { message:
 * "Unauthenticated." }), a real JSON inventory whose free-text search matches loosely; a second one answers a
 * made-up nested shape (data.items[].attributes…) behind an API key header, for the path syntax.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { abortEndsHungRequest, rejection as rejectsWith } from '../../support/contract-checks.js';
import { startContract, type ContractReply, type ContractRequest, type ContractServer } from '../../support/contract.js';
import httpInventory, { pathValues } from '../../../src/enrich/providers/http_inventory.js';
import type { EnrichmentProvider } from '../../../src/enrich/provider.js';
import { createConfiguredEnricher, createProviders } from '../../../src/enrich/registry.js';
import { isEnrichmentError } from '../../../src/enrich/layer.js';
import type { Store } from '../../../src/store/store.js';
import { ManualClock, uniqueName } from '../support.js';

const TOKEN = 'snipe-api-token-0123456789abcdef';
process.env.FIDO_TEST_SNIPE_TOKEN = TOKEN;

const cf = (label: string, value: string | null) => ({ [label]: { field: `_snipeit_${label.toLowerCase().replace(/ /g, '_')}_1`, value, field_format: 'ANY' } });

const ROWS = [
  {
    id: 11,
    name: 'ws-042',
    asset_tag: 'A-0042',
    serial: 'C02FIDO0042X',
    model: { id: 3, name: 'MacBook Pro 14' },
    status_label: { id: 1, name: 'Deployed', status_meta: 'deployed' },
    assigned_to: { id: 7, username: 'bob', name: 'Bob Martin', type: 'user' },
    last_checkout: { datetime: '2026-10-01 09:00:00', formatted: '2026-10-01 9:00AM' },
    custom_fields: { ...cf('IP Address', '10.20.0.42'), ...cf('MAC Address', '0A:1B:2C:3D:4E:55'), ...cf('Operating System', 'macOS 14.5'), ...cf('Criticality', 'High') },
  },
  {
    id: 12,
    name: 'ws-0420',
    serial: 'FVFFIDO0043Y',
    model: { id: 3, name: 'MacBook Air' },
    assigned_to: null,
    custom_fields: { ...cf('IP Address', '10.20.0.142'), ...cf('MAC Address', null), ...cf('Criticality', 'gold') },
  },
  {
    id: 13,
    name: 'srv-db-1.corp.example',
    serial: 'VM-1',
    model: { id: 9, name: 'VMware VM' },
    assigned_to: { id: 8, username: 'dba', type: 'user' },
    custom_fields: { ...cf('IP Address', '10.30.0.5'), ...cf('MAC Address', '00:50:56:aa:bb:cc') },
  },
];

interface Snipe {
  server: ContractServer;
  override: ((req: ContractRequest) => ContractReply) | null;
  hardware(): ContractRequest[];
}

async function startSnipe(): Promise<Snipe> {
  const s: Snipe = { server: null as unknown as ContractServer, override: null, hardware: () => s.server.requests.filter((r) => r.path === '/api/v1/hardware') };
  s.server = await startContract((req) => {
    if (req.headers.authorization !== `Bearer ${TOKEN}`) return { status: 401, json: { message: 'Unauthenticated.' } };
    if (s.override) return s.override(req);
    if (req.method !== 'GET' || req.path !== '/api/v1/hardware') return { status: 404, json: { status: 'error', messages: '404 endpoint not found', payload: null } };
    const q = (req.query.get('search') ?? '').toLowerCase();
    // Snipe-IT's search is a free-text "contains" over many columns.
    const rows = ROWS.filter((r) => JSON.stringify(r).toLowerCase().includes(q));
    const limit = Number(req.query.get('limit') ?? 50);
    return { json: { total: rows.length, rows: rows.slice(0, limit) } };
  });
  return s;
}

const snipeEntry = (url: string, extra: Record<string, unknown> = {}) => ({
  name: 'snipe',
  kind: 'http_inventory' as const,
  url: `${url}/api/v1/hardware?limit=20`,
  allow_private: true,
  bearer_token: '${env:FIDO_TEST_SNIPE_TOKEN}',
  lookup: { host: { search: '{value}' }, ip: { search: '{value}' }, mac: { search: '{value}' } },
  fields: {
    records: 'rows',
    host: 'name',
    ip: 'custom_fields.IP Address.value',
    mac: 'custom_fields.MAC Address.value',
    owner: 'assigned_to.username',
    os: 'custom_fields.Operating System.value',
    criticality: 'custom_fields.Criticality.value',
    last_seen: 'last_checkout.datetime',
    attributes: { serial: 'serial', model: 'model.name', asset_tag: 'asset_tag', status: 'status_label.name' },
  },
  ...extra,
});

const deps = { store: null as unknown as Store, configDir: '/', now: Date.now };
const signal = () => new AbortController().signal;

async function withSnipe(fn: (s: Snipe, p: EnrichmentProvider) => Promise<void>, extra: Record<string, unknown> = {}): Promise<void> {
  const s = await startSnipe();
  const p = await httpInventory.create(snipeEntry(s.server.url, extra) as never, deps);
  try {
    await fn(s, p);
  } finally {
    await p.close?.();
    await s.server.close();
  }
}

// ---------------------------------------------------------------------------------------------------------

test('a host lookup sends the subject as a query parameter with the bearer token and maps the record', async () => {
  await withSnipe(async (s, p) => {
    const a = await p.lookup({ type: 'host', value: 'ws-042' }, signal());
    assert.deepEqual(a, {
      found: true,
      data: {
        host: 'ws-042',
        ips: ['10.20.0.42'],
        macs: ['0a:1b:2c:3d:4e:55'],
        owner: 'bob',
        os: 'macOS 14.5',
        criticality: 'high',
        tags: [],
        attributes: { serial: 'C02FIDO0042X', model: 'MacBook Pro 14', asset_tag: 'A-0042', status: 'Deployed' },
        last_seen: '2026-10-01 09:00:00',
        matched_by: 'host',
        // "ws-0420" came back too (free-text search) but is not this host: not named.
        source: 'snipe:record/0',
      },
    });
    const [r] = s.hardware();
    assert.ok(r);
    assert.equal(r.method, 'GET');
    assert.deepEqual([...r.query], [['limit', '20'], ['search', 'ws-042']], 'the fixed parameter of the url, then the subject');
    assert.equal(r.headers.authorization, `Bearer ${TOKEN}`);
    assert.ok(!`${r.path}?${r.query.toString()}`.includes(TOKEN), 'the token is not in the URL');
    assert.equal(r.body, '');
  });
});

test('IPs and MACs are re-checked against the mapped fields; a loose search hit is not an answer', async () => {
  await withSnipe(async (_s, p) => {
    const ip = await p.lookup({ type: 'ip', value: '10.30.0.5' }, signal());
    assert.equal(ip.data.host, 'srv-db-1.corp.example');
    assert.equal(ip.data.matched_by, 'ip');
    const mac = await p.lookup({ type: 'mac', value: '0a:1b:2c:3d:4e:55' }, signal());
    assert.equal(mac.data.host, 'ws-042');
    // "10.20.0.4" is a substring of 10.20.0.42 and 10.20.0.142: the service returns both, neither is it.
    assert.deepEqual(await p.lookup({ type: 'ip', value: '10.20.0.4' }, signal()), { found: false, data: {} });
    // Short name → FQDN, as the CSV inventory does; an unknown word in criticality stays an attribute.
    const short = await p.lookup({ type: 'host', value: 'srv-db-1' }, signal());
    assert.equal(short.data.matched_by, 'short_name');
    const gold = await p.lookup({ type: 'host', value: 'ws-0420' }, signal());
    assert.equal(gold.data.criticality, null);
    assert.equal((gold.data.attributes as Record<string, string>).criticality, 'gold');
    assert.equal(gold.data.owner, null);
  });
});

test('a hostile subject stays one encoded query value: no extra parameter, no other path', async () => {
  await withSnipe(async (s, p) => {
    const hostile = 'x&search=ws-042&limit=9999#/../../api/v1/users?';
    assert.equal((await p.lookup({ type: 'host', value: hostile }, signal())).found, false);
    const r = s.server.requests.at(-1)!;
    assert.equal(r.path, '/api/v1/hardware');
    assert.deepEqual(r.query.getAll('search'), [hostile]);
    assert.deepEqual(r.query.getAll('limit'), ['20']);
    assert.deepEqual([...r.query.keys()], ['limit', 'search']);
  });
});

test('no record, an empty list or a 404 is "not found", an answer', async () => {
  await withSnipe(async (s, p) => {
    assert.deepEqual(await p.lookup({ type: 'host', value: 'nope-1' }, signal()), { found: false, data: {} });
    s.override = () => ({ status: 404, json: { status: 'error', messages: 'Asset not found' } });
    assert.deepEqual(await p.lookup({ type: 'host', value: 'nope-2' }, signal()), { found: false, data: {} });
  });
});

test('a refused token is an auth error without the token; 429, 5xx and malformed answers are named', async () => {
  const s = await startSnipe();
  process.env.FIDO_TEST_SNIPE_BAD = 'not-the-right-token-42';
  const bad = await httpInventory.create(snipeEntry(s.server.url, { bearer_token: '${env:FIDO_TEST_SNIPE_BAD}' }) as never, deps);
  try {
    const e = await rejectsWith(bad.lookup({ type: 'host', value: 'ws-042' }, signal()), 'auth');
    assert.ok(!e.message.includes('not-the-right-token-42'), e.message);
  } finally {
    await bad.close?.();
    await s.server.close();
  }
  await withSnipe(async (s2, p) => {
    s2.override = () => ({ status: 429, headers: { 'retry-after': '60' }, json: { status: 'error', messages: 'Too Many Requests' } });
    assert.equal((await rejectsWith(p.lookup({ type: 'host', value: 'ws-042' }, signal()), 'ratelimited')).retryAfterMs, 60_000);
    s2.override = () => ({ status: 503, body: 'Service Unavailable' });
    await rejectsWith(p.lookup({ type: 'host', value: 'ws-042' }, signal()), 'server');
    // Snipe-IT reports some errors in a 200: no `rows`, which is not "no asset".
    s2.override = () => ({ json: { status: 'error', messages: 'Unauthorized', payload: null } });
    await rejectsWith(p.lookup({ type: 'host', value: 'ws-042' }, signal()), 'malformed');
    s2.override = () => ({ body: '{"rows": [' });
    await rejectsWith(p.lookup({ type: 'host', value: 'ws-042' }, signal()), 'malformed');
  });
});

test('an aborted signal ends a request the server never answers', async () => {
  await withSnipe(async (s, p) => {
    s.override = () => ({ hang: true });
    await abortEndsHungRequest((sig) => p.lookup({ type: 'host', value: 'ws-042' }, sig), () => s.hardware().length > 0);
  });
});

test('paths: nested arrays with [], arrays at the end spread, a missing key is not an empty list', () => {
  const body = { data: { items: [{ nics: [{ mac: 'a' }, { mac: 'b' }], ips: ['1', '2'] }, { nics: [], ips: [] }] } };
  assert.deepEqual(pathValues(body, 'data.items').values.length, 2);
  assert.deepEqual(pathValues(body, 'data.items[].nics[].mac').values, ['a', 'b']);
  assert.deepEqual(pathValues(body, 'data.items[].ips').values, ['1', '2']);
  assert.deepEqual(pathValues({ data: { items: [] } }, 'data.items'), { values: [], present: true });
  assert.deepEqual(pathValues({ error: 'x' }, 'data.items'), { values: [], present: false });
});

test('an API key header and a nested shape; a MAC the mapping does not carry trusts the service', async () => {
  const KEY = 'cmdb-key-abcdef123456';
  process.env.FIDO_TEST_CMDB_KEY = KEY;
  const server = await startContract((req) => {
    if (req.headers['x-api-key'] !== KEY) return { status: 403, json: { error: 'forbidden' } };
    const host = req.query.get('hostname');
    const mac = req.query.get('mac_address');
    if (host === 'ws-042' || mac) {
      return { json: { data: { items: [{ attributes: { hostname: 'ws-042', ips: ['10.20.0.42', 'fe80::1', 'not-an-ip'], labels: ['laptop', 'vip'] } }] } } };
    }
    return { json: { data: { items: [] } } };
  });
  const p = await httpInventory.create(
    {
      name: 'cmdb',
      kind: 'http_inventory',
      url: `${server.url}/v2/assets`,
      allow_private: true,
      header: { name: 'X-Api-Key', value: '${env:FIDO_TEST_CMDB_KEY}' },
      lookup: { host: { hostname: '{value}' }, mac: { mac_address: '{value}', kind: '{type}' } },
      fields: { records: 'data.items', host: 'attributes.hostname', ip: 'attributes.ips[]', tags: 'attributes.labels' },
    },
    deps,
  );
  try {
    assert.deepEqual(p.subjects, ['host', 'mac']);
    const a = await p.lookup({ type: 'host', value: 'ws-042' }, signal());
    assert.deepEqual(a.data.ips, ['10.20.0.42', 'fe80::1'], 'a value that is no IP is dropped');
    assert.deepEqual(a.data.tags, ['laptop', 'vip']);
    assert.equal(server.requests[0]?.path, '/v2/assets');
    assert.equal(server.requests[0]?.headers.authorization, undefined);
    const m = await p.lookup({ type: 'mac', value: '00:11:22:33:44:55' }, signal());
    assert.equal(m.found, true);
    assert.equal(m.data.matched_by, 'mac');
    assert.deepEqual(Object.fromEntries(server.requests[1]!.query), { mac_address: '00:11:22:33:44:55', kind: 'mac' });
  } finally {
    await p.close?.();
    await server.close();
  }
});

test('config errors name the key', async () => {
  const d = { store: null as unknown as Store, configDir: '/' };
  const base = snipeEntry('https://cmdb.corp.example');
  const problem = (e: Record<string, unknown>) => createProviders([e as never], d).then(
    () => 'no error',
    (err: Error) => err.message,
  );
  assert.match(await problem({ ...base, lookup: { host: { search: 'ws-042' } } }), /^enrichment\.providers\.snipe\.lookup\.host: .*\{value\}/);
  assert.match(await problem({ ...base, header: { name: 'X-Api-Key', value: 'k' } }), /^enrichment\.providers\.snipe\.header: /);
  assert.match(await problem({ ...base, fields: { ...base.fields, host: 'a..b' } }), /^enrichment\.providers\.snipe\.fields\.host: /);
  assert.match(await problem({ ...base, lookup: {} }), /^enrichment\.providers\.snipe\.lookup: /);
  assert.match(await problem({ ...base, lookup: { user: { q: '{value}' } } }), /^enrichment\.providers\.snipe\.lookup/);
  assert.match(await problem({ ...base, allow_private: false, url: 'http://192.168.1.10/api/v1/hardware' }), /^enrichment\.providers\.snipe\.url: /);
  const { fields: _f, ...noFields } = base;
  assert.match(await problem(noFields), /^enrichment\.providers\.snipe.*fields/);
});

test('through the layer: the second lookup of a subject is a cache hit and does not reach the service', async () => {
  const s = await startSnipe();
  const name = uniqueName('snipe');
  const enricher = await createConfiguredEnricher([{ ...snipeEntry(s.server.url), name }], { store: null as unknown as Store, configDir: '/', clock: new ManualClock() });
  try {
    const first = await enricher.lookup(name, { type: 'ip', value: '10.20.0.42' });
    assert.ok(!isEnrichmentError(first));
    assert.equal(first.data.host, 'ws-042');
    const second = await enricher.lookup(name, { type: 'ip', value: '10.20.0.42' });
    assert.ok(!isEnrichmentError(second));
    assert.equal(second.cache, 'hit');
    assert.equal(s.hardware().length, 1);
  } finally {
    await enricher.close();
    await s.server.close();
  }
});
