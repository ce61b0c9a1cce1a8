/**
 * MISP provider against a local server that speaks MISP's attributes restSearch as documented at
 * https://www.misp-project.org/openapi/#tag/Attributes/operation/restSearchAttributes: POST
 * /attributes/restSearch with a JSON filter (returnFormat, value, type, to_ids, includeEventTags, limit),
 * headers Authorization (the auth key), Accept and Content-Type application/json; answer
 * {"response":{"Attribute":[…]}} where each attribute carries event_id, to_ids, timestamp (epoch seconds as a
 * string), first_seen/last_seen, its Event and its Tag list; 403 {"name":"Authentication failed…"} on a bad key.
 * The attributes below are written for the test in that shape.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import misp from '../../../src/enrich/providers/misp.js';
import { createConfiguredEnricher, createProviders } from '../../../src/enrich/registry.js';
import { isEnrichmentError } from '../../../src/enrich/layer.js';
import type { EnrichmentProvider, LookupSubject } from '../../../src/enrich/provider.js';
import type { Store } from '../../../src/store/store.js';
import { abortEndsHungRequest, rejection } from '../../support/contract-checks.js';
import { startContract, type ContractHandler, type ContractServer } from '../../support/contract.js';
import { selfSignedCert, type Cert } from '../../support/servers.js';
import { dataDir, fileDeps } from '../support.js';

const KEY = 'mispAuthKey0123456789abcdefghijklmnopqrst';
const signal = new AbortController().signal;
const subject = (type: LookupSubject['type'], value: string): LookupSubject => ({ type, value });

const event = (id: string, info: string, threat: string, extra: Record<string, unknown> = {}) => ({
  id,
  org_id: '1',
  orgc_id: '3',
  distribution: '1',
  info,
  uuid: `5f6a0000-0000-4000-8000-0000000000${id}`,
  threat_level_id: threat,
  ...extra,
});
const ATTRIBUTES: Array<Record<string, unknown>> = [
  {
    id: '101',
    event_id: '12',
    object_id: '0',
    category: 'Network activity',
    type: 'ip-dst',
    value: '45.83.66.10',
    to_ids: true,
    timestamp: '1764892800',
    first_seen: null,
    last_seen: null,
    deleted: false,
    Event: event('12', 'Emotet C2 December', '1'),
    Tag: [
      { id: '2', name: 'tlp:amber', colour: '#FFC000', numerical_value: null, inherited: 1 },
      { id: '40', name: 'misp-galaxy:malpedia="Emotet"', colour: '#0088cc', numerical_value: null },
    ],
  },
  {
    id: '102',
    event_id: '15',
    object_id: '0',
    category: 'Network activity',
    type: 'domain|ip',
    value: 'bad.example|45.83.66.10',
    to_ids: false,
    timestamp: '1764979200',
    first_seen: '2025-11-01T00:00:00.000000+00:00',
    last_seen: '2025-12-06T10:00:00.000000+00:00',
    deleted: false,
    Event: event('15', 'Emotet spam wave', '2'),
    Tag: [{ id: '3', name: 'tlp:green', colour: '#33FF00', inherited: 1 }],
  },
  {
    id: '201',
    event_id: '20',
    object_id: '0',
    category: 'Network activity',
    type: 'domain',
    value: 'phish.example.net',
    to_ids: '0',
    timestamp: '1764288000',
    Event: event('20', 'Phishing kit', '3', { Tag: [{ id: '9', name: 'type:OSINT' }] }),
  },
];

/** restSearch as MISP runs it, on the attributes above: value (either half of a composite), type, to_ids, limit. */
const restSearch: ContractHandler = (req) => {
  if (req.headers.authorization !== KEY) {
    return {
      status: 403,
      json: {
        name: 'Authentication failed. Please make sure you pass the API key of an API enabled user along in the Authorization header.',
        message: 'Authentication failed. Please make sure you pass the API key of an API enabled user along in the Authorization header.',
        url: '/attributes/restSearch',
      },
    };
  }
  if (req.method !== 'POST' || req.path !== '/attributes/restSearch') return { status: 404, json: { name: 'Not Found', message: 'Not Found', url: req.path } };
  const f = req.json as { value: string; type: string[]; to_ids?: boolean; limit: number };
  const found = ATTRIBUTES.filter(
    (a) =>
      String(a.value).split('|').includes(f.value) &&
      f.type.includes(String(a.type)) &&
      (f.to_ids === undefined || [true, '1', 1].includes(a.to_ids as never) === f.to_ids),
  ).slice(0, f.limit);
  return { json: { response: { Attribute: found } } };
};

async function setup(t: TestContext, handler: ContractHandler, extra: Record<string, unknown> = {}): Promise<{ server: ContractServer; p: EnrichmentProvider }> {
  const server = await startContract(handler);
  const p = await misp.create({ name: 'misp', kind: 'misp', url: server.url, api_key: KEY, allow_private: true, ...extra } as never, fileDeps(dataDir({})));
  t.after(async () => {
    await p.close?.();
    await server.close();
  });
  return { server, p };
}

test('misp: the documented restSearch POST; a to_ids match is malicious, with tags, event links and times', async (t) => {
  const { server, p } = await setup(t, restSearch);
  const a = await p.lookup(subject('ip', '45.83.66.10'), signal);
  const [req] = server.requests;
  assert.equal(req!.method, 'POST');
  assert.equal(req!.path, '/attributes/restSearch');
  assert.equal(req!.query.toString(), '');
  assert.equal(req!.headers.authorization, KEY);
  assert.equal(req!.headers.accept, 'application/json');
  assert.equal(req!.headers['content-type'], 'application/json');
  assert.deepEqual(req!.json, {
    returnFormat: 'json',
    value: '45.83.66.10',
    type: ['ip-src', 'ip-dst', 'ip-src|port', 'ip-dst|port', 'domain|ip'],
    includeEventTags: true,
    enforceWarninglist: true,
    limit: 50,
  });

  assert.equal(a.found, true);
  assert.equal(a.data.verdict, 'malicious');
  assert.equal(a.data.score, 90);
  assert.deepEqual(a.data.tags, ['tlp:amber', 'misp-galaxy:malpedia="Emotet"', 'tlp:green']);
  assert.deepEqual(a.data.references, [`${server.url}/events/view/12`, `${server.url}/events/view/15`]);
  // first_seen from the analyst's first_seen (earlier than the other attribute's timestamp), last_seen likewise.
  assert.equal(a.data.first_seen, '2025-11-01T00:00:00.000Z');
  assert.equal(a.data.last_seen, '2025-12-06T10:00:00.000Z');
  assert.deepEqual(a.data.detail, {
    attributes: 2,
    ids_attributes: 1,
    events: 2,
    event_info: ['Emotet C2 December', 'Emotet spam wave'],
    threat_level: 'high',
    categories: ['Network activity'],
  });
});

test('misp: matches not for detection are suspicious, no match is unknown, ids_only sends to_ids', async (t) => {
  const { server, p } = await setup(t, restSearch);
  const phish = await p.lookup(subject('domain', 'phish.example.net'), signal);
  assert.deepEqual([phish.found, phish.data.verdict, phish.data.score, phish.data.tags], [true, 'suspicious', 50, ['type:OSINT']]);
  assert.equal((phish.data.detail as Record<string, unknown>).threat_level, 'low');
  assert.equal(phish.data.last_seen, new Date(1764288000 * 1000).toISOString());
  assert.deepEqual((server.requests[0]!.json as { type: string[] }).type, ['domain', 'hostname', 'domain|ip']);

  const clean = await p.lookup(subject('sha256', 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'), signal);
  assert.deepEqual([clean.found, clean.data.verdict, clean.data.score], [false, 'unknown', 0]);
  assert.deepEqual((server.requests[1]!.json as { type: string[] }).type, ['sha256', 'filename|sha256']);

  const strict = await setup(t, restSearch, { ids_only: true, limit: 5, enforce_warninglist: false });
  const notIds = await strict.p.lookup(subject('domain', 'phish.example.net'), signal);
  assert.equal(notIds.found, false);
  assert.deepEqual(strict.server.requests[0]!.json, {
    returnFormat: 'json',
    value: 'phish.example.net',
    type: ['domain', 'hostname', 'domain|ip'],
    includeEventTags: true,
    enforceWarninglist: false,
    limit: 5,
    to_ids: true,
  });
});

test('misp: a refused key is "auth" and its message never carries the key', async (t) => {
  const { p } = await setup(t, () => ({ status: 403, json: { name: 'Authentication failed.', message: `Authentication failed for key ${KEY}.`, url: '/attributes/restSearch' } }));
  const e = await rejection(p.lookup(subject('ip', '45.83.66.10'), signal));
  assert.deepEqual([e.reason, e.status], ['auth', 403]);
  assert.match(e.message, /Authentication failed/);
  assert.ok(!e.message.includes(KEY), e.message);
});

test('misp: 429 (a proxy in front) is "ratelimited" with Retry-After, 5xx "server", other shapes "malformed"', async (t) => {
  const replies = [
    { status: 429, headers: { 'retry-after': '15' }, json: { message: 'Too Many Requests' } },
    { status: 500, json: { name: 'An Internal Error Has Occurred.', message: 'An Internal Error Has Occurred.', url: '/attributes/restSearch' } },
    { status: 200, body: '<!DOCTYPE html><title>Users - Login</title>' },
    { status: 200, json: { response: { Attribute: 'none' } } },
    { status: 200, json: { name: 'x' } },
  ];
  const { p } = await setup(t, (_req, n) => replies[n]!);
  const errors = [];
  for (let i = 0; i < replies.length; i++) errors.push(await rejection(p.lookup(subject('ip', '45.83.66.10'), signal)));
  assert.deepEqual(errors.map((e) => e.reason), ['ratelimited', 'server', 'malformed', 'malformed', 'malformed']);
  assert.equal(errors[0]!.retryAfterMs, 15_000);
});

test('misp: an aborted signal ends a hung search', async (t) => {
  const { server, p } = await setup(t, () => ({ hang: true }));
  await abortEndsHungRequest((s) => p.lookup(subject('url', 'http://phish.example.net/login'), s), () => server.requests.length > 0);
});

test('misp: a self-signed instance is trusted through tls_ca_file, and refused without it', async (t) => {
  const dir = dataDir({});
  const cert: Cert = selfSignedCert(dir);
  const server = await startContract(restSearch, { tls: cert });
  const entry = { name: 'misp', kind: 'misp', url: server.url, api_key: KEY, allow_private: true };
  const [trusted, untrusted] = await createProviders(
    [
      { ...entry, tls_ca_file: 'server.crt' },
      { ...entry, name: 'misp-untrusted' },
    ],
    { store: null as unknown as Store, configDir: dir },
  );
  t.after(async () => {
    await trusted!.close?.();
    await untrusted!.close?.();
    await server.close();
  });
  assert.equal((await trusted!.lookup(subject('ip', '45.83.66.10'), signal)).data.verdict, 'malicious');
  assert.equal((await rejection(untrusted!.lookup(subject('ip', '45.83.66.10'), signal))).reason, 'transport');
});

test('misp: config errors name the key; external by default, false when the instance is the organisation\'s', async () => {
  const deps = { store: null as unknown as Store, configDir: dataDir({}) };
  await assert.rejects(createProviders([{ name: 'm', kind: 'misp', api_key: KEY }], deps), /^Error: enrichment\.providers\.m.*url/);
  await assert.rejects(createProviders([{ name: 'm', kind: 'misp', url: 'https://misp.example.org' }], deps), /^Error: enrichment\.providers\.m.*api_key/);
  await assert.rejects(createProviders([{ name: 'm', kind: 'misp', url: 'https://misp.example.org', api_key: KEY, limit: 0 }], deps), /^Error: enrichment\.providers\.m\.limit: /);
  await assert.rejects(createProviders([{ name: 'm', kind: 'misp', url: 'https://10.1.2.3', api_key: KEY }], deps), /^Error: enrichment\.providers\.m\.url: /);
  await assert.rejects(
    createProviders([{ name: 'm', kind: 'misp', url: 'https://misp.example.org', api_key: KEY, tls_ca_file: 'missing.pem' }], deps),
    /^Error: enrichment\.providers\.m\.tls_ca_file: cannot read .*missing\.pem: ENOENT/,
  );
  const [shared, own] = await createProviders(
    [
      { name: 'm', kind: 'misp', url: 'https://misp.example.org', api_key: KEY },
      { name: 'own', kind: 'misp', url: 'https://10.1.2.3', allow_private: true, api_key: KEY, external: false },
    ],
    deps,
  );
  assert.deepEqual([shared!.external, own!.external, shared!.quota], [true, false, undefined]);
  assert.deepEqual(shared!.subjects, ['ip', 'domain', 'url', 'md5', 'sha1', 'sha256', 'email']);
  await shared!.close?.();
  await own!.close?.();
});

test('misp: through the layer, a second lookup is a cache hit', async (t) => {
  const server = await startContract(restSearch);
  const enricher = await createConfiguredEnricher([{ name: 'misp', kind: 'misp', url: server.url, api_key: KEY, allow_private: true }], {
    store: null as unknown as Store,
    configDir: dataDir({}),
  });
  t.after(async () => {
    await enricher.close();
    await server.close();
  });
  const first = await enricher.lookup('misp', subject('domain', 'phish.example.net'));
  const second = await enricher.lookup('misp', subject('domain', 'phish.example.net'));
  assert.ok(!isEnrichmentError(first) && !isEnrichmentError(second));
  assert.deepEqual([first.cache, second.cache, second.data.verdict], ['miss', 'hit', 'suspicious']);
  assert.equal(server.requests.length, 1);
});
