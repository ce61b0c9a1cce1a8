/**
 * The jamf provider against a local server that speaks the Jamf Pro API as documented:
 *   - https://developer.jamf.com/jamf-pro/docs/client-credentials (POST /api/oauth/token, form client_id,
 *     client_secret, grant_type=client_credentials → { access_token, token_type, expires_in })
 *   - https://developer.jamf.com/jamf-pro/reference/get_v1-computers-inventory (section, page, page-size,
 *     RSQL filter on general.name, general.lastIpAddress, general.lastReportedIp, hardware.macAddress…;
 *     answer { totalCount, results: [{ id, general, hardware, userAndLocation, operatingSystem }] })
 * The server evaluates the RSQL filter itself (a small parser below), so a filter that an unescaped value
 * could widen would really widen here.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { abortEndsHungRequest, rejection as rejectsWith } from '../../support/contract-checks.js';
import { startContract, type ContractReply, type ContractRequest, type ContractServer } from '../../support/contract.js';
import jamf, { rsqlQuote } from '../../../src/enrich/providers/jamf.js';
import type { EnrichmentProvider } from '../../../src/enrich/provider.js';
import { createConfiguredEnricher, createProviders } from '../../../src/enrich/registry.js';
import { isEnrichmentError } from '../../../src/enrich/layer.js';
import type { Store } from '../../../src/store/store.js';
import { ManualClock, uniqueName } from '../support.js';

const CLIENT_ID = 'c0ffee00-1111-2222-3333-444455556666';
const SECRET = 'S3cr3t-jamf-client-secret-value';
process.env.FIDO_TEST_JAMF_ID = CLIENT_ID;
process.env.FIDO_TEST_JAMF_SECRET = SECRET;

const COMPUTERS = [
  {
    id: '1',
    udid: 'AAAA-1',
    general: {
      name: 'ws-042',
      lastIpAddress: '198.51.100.7',
      lastReportedIp: '10.20.0.42',
      lastContactTime: '2026-11-27T08:00:00.123Z',
      remoteManagement: { managed: true, managementUsername: 'jamfadmin' },
      site: { id: '3', name: 'Paris' },
    },
    hardware: { model: 'MacBook Pro (14-inch, 2023)', serialNumber: 'C02FIDO0042X', macAddress: '0A:1B:2C:3D:4E:55', altMacAddress: '0a:1b:2c:3d:4e:99' },
    userAndLocation: { username: 'bob', realname: 'Bob Martin', email: 'bob@corp.example' },
    operatingSystem: { name: 'macOS', version: '14.5', build: '23F79' },
  },
  {
    id: '2',
    general: { name: 'ws-043', lastIpAddress: '198.51.100.7', lastReportedIp: '10.20.0.43', lastContactTime: null, remoteManagement: { managed: false }, site: { id: '-1', name: 'None' } },
    hardware: { model: 'MacBook Air', serialNumber: 'FVFFIDO0043Y', macAddress: '0A:1B:2C:3D:4E:56', altMacAddress: null },
    userAndLocation: { username: '', email: 'carol@corp.example' },
    operatingSystem: { name: 'macOS', version: '15.1' },
  },
  {
    id: '3',
    general: { name: 'kiosk-1.corp.example', lastIpAddress: '203.0.113.9', lastReportedIp: '10.30.0.9' },
    hardware: { serialNumber: 'K10SK', macAddress: '0A:1B:2C:3D:4E:57' },
    userAndLocation: {},
    operatingSystem: { name: 'macOS', version: '13.6' },
  },
];

// ---------------------------------------------------------------------------------------------------------
// A small RSQL evaluator: `,` is or, `;` is and (binding tighter), `==` compares (case-insensitively, as
// Jamf's database does); arguments are bare words or double-quoted with backslash escapes.

type Cmp = { field: string; value: string };

function parseRsql(text: string): Cmp[][] {
  let i = 0;
  const ors: Cmp[][] = [[]];
  while (i < text.length) {
    const sel = /^[A-Za-z.]+/.exec(text.slice(i));
    if (!sel) throw new Error(`selector expected at ${i}`);
    i += sel[0].length;
    if (text.slice(i, i + 2) !== '==') throw new Error(`== expected at ${i}`);
    i += 2;
    let value = '';
    if (text[i] === '"') {
      i++;
      for (;;) {
        if (i >= text.length) throw new Error('unterminated string');
        const c = text[i++]!;
        if (c === '\\') value += text[i++] ?? '';
        else if (c === '"') break;
        else value += c;
      }
    } else {
      const bare = /^[^"'(),;=!~<>\s]+/.exec(text.slice(i));
      if (!bare) throw new Error(`argument expected at ${i}`);
      value = bare[0];
      i += value.length;
    }
    ors[ors.length - 1]!.push({ field: sel[0], value });
    if (i >= text.length) break;
    if (text[i] === ',') ors.push([]);
    else if (text[i] !== ';') throw new Error(`, or ; expected at ${i}`);
    i++;
  }
  return ors;
}

function fieldOf(rec: unknown, path: string): unknown {
  return path.split('.').reduce<unknown>((n, k) => (n && typeof n === 'object' ? (n as Record<string, unknown>)[k] : undefined), rec);
}

function matches(rec: unknown, ors: Cmp[][]): boolean {
  return ors.some((and) => and.every((c) => String(fieldOf(rec, c.field) ?? '').toLowerCase() === c.value.toLowerCase()));
}

// ---------------------------------------------------------------------------------------------------------
// The contract server

interface Jamf {
  server: ContractServer;
  /** Tokens issued so far (the last is valid unless `revoke` says otherwise). */
  issued: string[];
  /** Tokens the server no longer accepts. */
  revoked: Set<string>;
  /** Replaces the inventory answer (429, 500, malformed, hang…) while set. */
  override: ((req: ContractRequest) => ContractReply) | null;
  expiresIn: number;
  tokenRequests(): ContractRequest[];
  inventoryRequests(): ContractRequest[];
}

async function startJamf(): Promise<Jamf> {
  const j: Jamf = {
    server: null as unknown as ContractServer,
    issued: [],
    revoked: new Set(),
    override: null,
    expiresIn: 1199,
    tokenRequests: () => j.server.requests.filter((r) => r.path === '/api/oauth/token'),
    inventoryRequests: () => j.server.requests.filter((r) => r.path === '/api/v1/computers-inventory'),
  };
  j.server = await startContract((req) => {
    if (req.method === 'POST' && req.path === '/api/oauth/token') {
      const f = req.form;
      if (f.get('grant_type') !== 'client_credentials') return { status: 400, json: { error: 'unsupported_grant_type' } };
      if (f.get('client_id') !== CLIENT_ID || f.get('client_secret') !== SECRET) return { status: 401, json: { error: 'invalid_client' } };
      const token = `eyJ.token-${j.issued.length + 1}`;
      j.issued.push(token);
      return { json: { access_token: token, scope: 'api-role:2', token_type: 'Bearer', expires_in: j.expiresIn } };
    }
    if (req.method === 'GET' && req.path === '/api/v1/computers-inventory') {
      const auth = req.headers.authorization ?? '';
      const token = auth.replace(/^Bearer /, '');
      if (!j.issued.includes(token) || j.revoked.has(token)) return { status: 401, json: { httpStatus: 401, errors: [] } };
      if (j.override) return j.override(req);
      let ors: Cmp[][];
      try {
        ors = parseRsql(req.query.get('filter') ?? '');
      } catch (e) {
        return { status: 400, json: { httpStatus: 400, errors: [{ code: 'INVALID_RSQL_FILTER', description: String(e) }] } };
      }
      const all = COMPUTERS.filter((c) => matches(c, ors));
      const size = Number(req.query.get('page-size') ?? 100);
      const page = Number(req.query.get('page') ?? 0);
      return { json: { totalCount: all.length, results: all.slice(page * size, (page + 1) * size) } };
    }
    return { status: 404, json: { httpStatus: 404, errors: [] } };
  });
  return j;
}

const entry = (url: string, extra: Record<string, unknown> = {}) => ({
  name: 'jamf',
  kind: 'jamf' as const,
  url,
  allow_private: true,
  client_id: '${env:FIDO_TEST_JAMF_ID}',
  client_secret: '${env:FIDO_TEST_JAMF_SECRET}',
  ...extra,
});

async function withJamf(fn: (j: Jamf, p: EnrichmentProvider, clock: { t: number }) => Promise<void>): Promise<void> {
  const j = await startJamf();
  const clock = { t: Date.UTC(2026, 11, 7, 9, 0, 0) };
  const p = await jamf.create(entry(j.server.url), { store: null as unknown as Store, configDir: '/nonexistent', now: () => clock.t });
  try {
    await fn(j, p, clock);
  } finally {
    await p.close?.();
    await j.server.close();
  }
}

const signal = () => new AbortController().signal;

// ---------------------------------------------------------------------------------------------------------

test('a host lookup gets a token by client credentials, then asks computers-inventory with a bearer token', async () => {
  await withJamf(async (j, p) => {
    const a = await p.lookup({ type: 'host', value: 'ws-042' }, signal());
    assert.deepEqual(a, {
      found: true,
      data: {
        host: 'ws-042',
        ips: ['10.20.0.42', '198.51.100.7'],
        macs: ['0a:1b:2c:3d:4e:55', '0a:1b:2c:3d:4e:99'],
        owner: 'bob',
        os: 'macOS 14.5',
        criticality: null,
        tags: [],
        attributes: {
          serialNumber: 'C02FIDO0042X',
          model: 'MacBook Pro (14-inch, 2023)',
          managed: 'true',
          lastContactTime: '2026-11-27T08:00:00.123Z',
          site: 'Paris',
          email: 'bob@corp.example',
          jamfId: '1',
        },
        last_seen: '2026-11-27T08:00:00.123Z',
        matched_by: 'host',
        source: 'jamf:computer/1',
      },
    });
    const [tok] = j.tokenRequests();
    assert.ok(tok);
    assert.equal(tok.method, 'POST');
    assert.match(String(tok.headers['content-type']), /application\/x-www-form-urlencoded/);
    assert.deepEqual(Object.fromEntries(tok.form), { client_id: CLIENT_ID, client_secret: SECRET, grant_type: 'client_credentials' });
    assert.equal([...tok.query].length, 0, 'nothing in the token URL');
    const [inv] = j.inventoryRequests();
    assert.ok(inv);
    assert.equal(inv.method, 'GET');
    assert.equal(inv.headers.authorization, 'Bearer eyJ.token-1');
    assert.deepEqual(inv.query.getAll('section'), ['GENERAL', 'HARDWARE', 'USER_AND_LOCATION', 'OPERATING_SYSTEM']);
    assert.equal(inv.query.get('page'), '0');
    assert.equal(inv.query.get('page-size'), '100');
    assert.equal(inv.query.get('filter'), 'general.name=="ws-042"');
    for (const r of j.server.requests) {
      const url = `${r.path}?${r.query.toString()}`;
      assert.ok(!url.includes(SECRET) && !url.includes(CLIENT_ID), 'no credential in a URL');
      assert.equal(r.headers.cookie, undefined);
    }
    assert.ok(!inv.body.includes(SECRET), 'the secret only goes to the token endpoint');
  });
});

test('the token is kept until shortly before it expires, then fetched again', async () => {
  await withJamf(async (j, p, clock) => {
    j.expiresIn = 300;
    await p.lookup({ type: 'host', value: 'ws-042' }, signal());
    clock.t += 250_000; // inside 300 s less the margin
    await p.lookup({ type: 'host', value: 'ws-043' }, signal());
    assert.equal(j.tokenRequests().length, 1);
    clock.t += 30_000; // 280 s: within the 30 s margin before expiry
    await p.lookup({ type: 'host', value: 'ws-042' }, signal());
    assert.equal(j.tokenRequests().length, 2);
    assert.equal(j.inventoryRequests().at(-1)?.headers.authorization, 'Bearer eyJ.token-2');
  });
});

test('concurrent lookups share one token request', async () => {
  await withJamf(async (j, p) => {
    const r = await Promise.all(['ws-042', 'ws-043', 'nope'].map((h) => p.lookup({ type: 'host', value: h }, signal())));
    assert.deepEqual(r.map((a) => a.found), [true, true, false]);
    assert.equal(j.tokenRequests().length, 1);
  });
});

test('a token the server no longer accepts (401) is replaced once; a second 401 is an auth error', async () => {
  await withJamf(async (j, p) => {
    await p.lookup({ type: 'host', value: 'ws-042' }, signal());
    j.revoked.add('eyJ.token-1');
    const a = await p.lookup({ type: 'host', value: 'ws-043' }, signal());
    assert.equal(a.found, true);
    assert.equal(j.tokenRequests().length, 2);
    assert.deepEqual(j.inventoryRequests().map((r) => r.headers.authorization), ['Bearer eyJ.token-1', 'Bearer eyJ.token-1', 'Bearer eyJ.token-2']);

    // Every token refused (the client lost its privileges mid-way): one retry only, then auth.
    j.override = () => ({ status: 401, json: { httpStatus: 401, errors: [] } });
    const before = j.inventoryRequests().length;
    await rejectsWith(p.lookup({ type: 'host', value: 'ws-042' }, signal()), 'auth');
    assert.equal(j.inventoryRequests().length - before, 2);
  });
});

test('an IP is looked up on the reported and the last seen address; a shared NAT address names the others', async () => {
  await withJamf(async (j, p) => {
    const a = await p.lookup({ type: 'ip', value: '10.20.0.43' }, signal());
    assert.equal(a.data.host, 'ws-043');
    assert.equal(a.data.owner, 'carol@corp.example', 'the email when there is no user name');
    assert.equal(a.data.last_seen, null);
    assert.equal(a.data.matched_by, 'ip');
    assert.equal(j.inventoryRequests()[0]?.query.get('filter'), 'general.lastReportedIp=="10.20.0.43",general.lastIpAddress=="10.20.0.43"');
    const nat = await p.lookup({ type: 'ip', value: '198.51.100.7' }, signal());
    assert.equal(nat.found, true);
    assert.equal(nat.data.host, 'ws-042');
    assert.deepEqual(nat.data.also, ['ws-043']);
    assert.equal((await p.lookup({ type: 'ip', value: '10.99.0.1' }, signal())).found, false);
  });
});

test('more matches than one page are counted, not followed', async () => {
  await withJamf(async (j, p) => {
    j.override = () => ({ json: { totalCount: 250, results: [COMPUTERS[0], COMPUTERS[1]] } });
    const a = await p.lookup({ type: 'ip', value: '198.51.100.7' }, signal());
    assert.equal(a.data.total, 250);
    assert.equal(j.inventoryRequests().length, 1);
  });
});

test('a MAC in Fido form finds the MAC Jamf keeps in upper case', async () => {
  await withJamf(async (j, p) => {
    const a = await p.lookup({ type: 'mac', value: '0a:1b:2c:3d:4e:56' }, signal());
    assert.equal(a.data.host, 'ws-043');
    assert.equal(a.data.matched_by, 'mac');
    assert.equal(j.inventoryRequests()[0]?.query.get('filter'), 'hardware.macAddress=="0A:1B:2C:3D:4E:56",hardware.macAddress=="0a:1b:2c:3d:4e:56"');
  });
});

test('host names follow the inventory rules: an FQDN finds the short name, never another domain', async () => {
  await withJamf(async (j, p) => {
    const a = await p.lookup({ type: 'host', value: 'ws-042.corp.example' }, signal());
    assert.equal(a.data.host, 'ws-042');
    assert.equal(a.data.matched_by, 'short_name');
    assert.equal(j.inventoryRequests()[0]?.query.get('filter'), 'general.name=="ws-042.corp.example",general.name=="ws-042"');
    assert.equal((await p.lookup({ type: 'host', value: 'kiosk-1.corp.example' }, signal())).data.host, 'kiosk-1.corp.example');
    // Jamf's == is exact: the short name of a computer Jamf knows by its FQDN is not found.
    assert.equal((await p.lookup({ type: 'host', value: 'kiosk-1' }, signal())).found, false);
    assert.equal((await p.lookup({ type: 'host', value: 'kiosk-1.lab.example' }, signal())).found, false);
    assert.deepEqual(await p.lookup({ type: 'host', value: 'unknown-9' }, signal()), { found: false, data: {} });
  });
});

test('RSQL values are quoted and escaped: a hostile value finds nothing and adds no clause', async () => {
  assert.equal(rsqlQuote('a"b\\c'), '"a\\"b\\\\c"');
  await withJamf(async (j, p) => {
    const hostile = 'zz\\",general.name=="ws-042";hardware.macAddress==x,general.name==ws-043';
    const a = await p.lookup({ type: 'host', value: hostile }, signal());
    assert.equal(a.found, false);
    const sent = j.inventoryRequests()[0]?.query.get('filter') ?? '';
    const parsed = parseRsql(sent);
    // Two alternatives (the full value and its "short name"), each one comparison of general.name with the
    // literal text: nothing the value said became RSQL.
    assert.equal(parsed.length, 2);
    for (const and of parsed) {
      assert.equal(and.length, 1);
      assert.equal(and[0]!.field, 'general.name');
    }
    assert.equal(parsed[0]![0]!.value, hostile.toLowerCase());
    // A `*` (a wildcard to Jamf, whatever the quoting) is never sent.
    const before = j.server.requests.length;
    assert.deepEqual(await p.lookup({ type: 'host', value: 'ws-*' }, signal()), { found: false, data: {} });
    assert.equal(j.server.requests.length, before);
  });
});

test('refused client credentials are an auth error that names neither the secret nor the id', async () => {
  const j = await startJamf();
  process.env.FIDO_TEST_JAMF_BAD = 'wrong-secret-value-123';
  const p = await jamf.create(entry(j.server.url, { client_secret: '${env:FIDO_TEST_JAMF_BAD}' }), { store: null as unknown as Store, configDir: '/', now: Date.now });
  try {
    const e = await rejectsWith(p.lookup({ type: 'host', value: 'ws-042' }, signal()), 'auth');
    assert.equal(e.status, 401);
    assert.ok(!e.message.includes('wrong-secret-value-123') && !e.message.includes(CLIENT_ID), e.message);
    assert.equal(j.inventoryRequests().length, 0);
  } finally {
    await p.close?.();
    await j.server.close();
  }
});

test('429 is ratelimited with Retry-After, 5xx is server, a body that is not the documented one is malformed', async () => {
  await withJamf(async (j, p) => {
    j.override = () => ({ status: 429, headers: { 'retry-after': '7' }, json: { httpStatus: 429, errors: [] } });
    const e = await rejectsWith(p.lookup({ type: 'host', value: 'ws-042' }, signal()), 'ratelimited');
    assert.equal(e.retryAfterMs, 7000);
    j.override = () => ({ status: 500, json: { httpStatus: 500, errors: [{ code: 'INTERNAL' }] } });
    await rejectsWith(p.lookup({ type: 'host', value: 'ws-042' }, signal()), 'server');
    j.override = () => ({ status: 200, body: '<html>maintenance</html>' });
    await rejectsWith(p.lookup({ type: 'host', value: 'ws-042' }, signal()), 'malformed');
    j.override = () => ({ json: { totalCount: 1 } });
    await rejectsWith(p.lookup({ type: 'host', value: 'ws-042' }, signal()), 'malformed');
    j.override = () => ({ status: 400, json: { httpStatus: 400, errors: [{ code: 'INVALID_RSQL_FILTER' }] } });
    await rejectsWith(p.lookup({ type: 'host', value: 'ws-042' }, signal()), 'client');
  });
});

test('a token answer without access_token is malformed', async () => {
  const s = await startContract(() => ({ json: { token_type: 'Bearer' } }));
  const p = await jamf.create(entry(s.url), { store: null as unknown as Store, configDir: '/', now: Date.now });
  try {
    await rejectsWith(p.lookup({ type: 'host', value: 'ws-042' }, signal()), 'malformed');
  } finally {
    await p.close?.();
    await s.close();
  }
});

test('an aborted signal ends a request the server never answers', async () => {
  await withJamf(async (j, p) => {
    j.override = () => ({ hang: true });
    await abortEndsHungRequest((sig) => p.lookup({ type: 'host', value: 'ws-042' }, sig), () => j.inventoryRequests().length > 0);
  });
});

test('config errors name the key: a missing secret, a private url without allow_private', async () => {
  const deps = { store: null as unknown as Store, configDir: '/' };
  const { client_secret: _omit, ...noSecret } = entry('https://example.jamfcloud.com');
  await assert.rejects(createProviders([noSecret as never], deps), /enrichment\.providers\.jamf.*client_secret/);
  await assert.rejects(createProviders([entry('http://10.0.0.5:8443', { allow_private: false })], deps), /enrichment\.providers\.jamf\.url: /);
  await assert.rejects(createProviders([entry('https://example.jamfcloud.com', { extra: 1 })], deps), /enrichment\.providers\.jamf/);
  assert.deepEqual(jamf.check?.(entry('ftp://example.jamfcloud.com')).map((p) => p.key), ['url']);
});

test('through the layer: the second lookup of a subject is a cache hit and does not reach Jamf', async () => {
  const j = await startJamf();
  const name = uniqueName('jamf');
  const enricher = await createConfiguredEnricher([{ ...entry(j.server.url), name }], { store: null as unknown as Store, configDir: '/', clock: new ManualClock() });
  try {
    const first = await enricher.lookup(name, { type: 'host', value: 'ws-042' });
    assert.ok(!isEnrichmentError(first));
    assert.equal(first.cache, 'miss');
    assert.equal(first.data.owner, 'bob');
    const second = await enricher.lookup(name, { type: 'host', value: 'ws-042' });
    assert.ok(!isEnrichmentError(second));
    assert.equal(second.cache, 'hit');
    assert.equal(j.inventoryRequests().length, 1);
    assert.deepEqual(enricher.providersFor('mac').map((p) => p.name), [name]);
    assert.equal(enricher.providers[0]?.external, undefined, 'the organisation\'s own service: not external');
  } finally {
    await enricher.close();
    await j.server.close();
  }
});
