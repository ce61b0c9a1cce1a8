/**
 * The geoip provider (src/enrich/providers/geoip.ts) against the databases Fido installs (the real data: 8.8.8.8 is
 * Google's, 1.1.1.1 Cloudflare's) and against tiny MMDBs written here (test/fixtures/providers/geoip/write-mmdb.ts)
 * in the documented record shapes, read by the real maxmind reader:
 *   - GeoLite2/GeoIP City: https://dev.maxmind.com/geoip/docs/databases/city-and-country/city-binary (city, country,
 *     registered_country, subdivisions, location with latitude/longitude/accuracy_radius; names per language);
 *   - GeoLite2-ASN: autonomous_system_number, autonomous_system_organization (https://dev.maxmind.com/geoip/docs/databases/asn);
 *   - ip-location-db city MMDBs: flat country_code, city, state1, state2, latitude, longitude, postcode, timezone
 *     (https://github.com/sapics/ip-location-db/blob/main/geolite2-city-mmdb/README.md).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Command } from 'commander';
import geoip, { DEFAULT_ASN_CSV, DEFAULT_COUNTRY_DB } from '../../../src/enrich/providers/geoip.js';
import { parseAsnCsv } from '../../../src/enrich/providers/lib/geo-asn.js';
import type { EnrichmentProvider } from '../../../src/enrich/provider.js';
import { createConfiguredEnricher, createProviders, providerKinds } from '../../../src/enrich/registry.js';
import { isEnrichmentError } from '../../../src/enrich/layer.js';
import { lookupAll } from '../../../src/pipeline/stages/enrich.js';
import { parseConfigText } from '../../../src/config/validate.js';
import { register } from '../../../src/cli/commands/lookup.js';
import { dataDir, fileDeps } from '../support.js';
import { openTestStore, tempDir } from '../../support/stores.js';
import { writeMmdb, type MmdbValue } from '../../fixtures/providers/geoip/write-mmdb.js';

const ip = (value: string) => ({ type: 'ip' as const, value });
const signal = new AbortController().signal;

/** One provider on the installed databases for the whole file: its ASN tables take about a second to load. */
let installed: Promise<EnrichmentProvider> | null = null;
const defaults = () => (installed ??= geoip.create({ name: 'geo', kind: 'geoip' }, fileDeps(process.cwd())));

const CITY: Array<[string, MmdbValue]> = [
  [
    '8.8.8.0/24',
    {
      city: { geoname_id: 5375480, names: { en: 'Mountain View', de: 'Mountain View' } },
      country: { geoname_id: 6252001, iso_code: 'US', names: { en: 'United States', de: 'Vereinigte Staaten' } },
      location: { accuracy_radius: 1000, latitude: 37.386, longitude: -122.0838, time_zone: 'America/Los_Angeles' },
      subdivisions: [{ geoname_id: 5332921, iso_code: 'CA', names: { en: 'California', de: 'Kalifornien' } }],
    },
  ],
  // Anycast: no located country, only the registrant's.
  ['1.1.1.0/24', { registered_country: { geoname_id: 2077456, iso_code: 'AU', names: { en: 'Australia' } } }],
  ['2001:4860::/32', { city: { names: { en: 'Ashburn' } }, country: { iso_code: 'US', names: { en: 'United States' } }, location: { latitude: 39.0437, longitude: -77.4875 } }],
  // A private range with data: the provider must never ask.
  ['10.0.0.0/8', { country: { iso_code: 'ZZ', names: { en: 'Nowhere' } }, city: { names: { en: 'Intranet' } } }],
];

test('geoip: the installed databases answer country and AS for public IPv4 and IPv6 addresses', async () => {
  const p = await defaults();
  assert.deepEqual([p.kind, p.subjects, p.local, p.inMemory, p.external], ['geoip', ['ip'], true, true, undefined]);
  const google = await p.lookup(ip('8.8.8.8'), signal);
  assert.equal(google.found, true);
  assert.deepEqual(google.data, {
    country: 'US',
    country_name: 'United States',
    asn: 15169,
    as_org: 'Google LLC',
    sources: { country: 'geo-whois-asn-country.mmdb', country_name: 'icu', asn: 'asn-ipv4-num.csv' },
  });
  const cloudflare = await p.lookup(ip('1.1.1.1'), signal);
  assert.equal(cloudflare.data.asn, 13335);
  assert.equal(cloudflare.data.as_org, 'Cloudflare, Inc.', 'a quoted org name with a comma');
  assert.equal(typeof cloudflare.data.country, 'string');
  const v6 = await p.lookup(ip('2001:4860:4860::8888'), signal);
  assert.equal(v6.data.country, 'US');
  assert.equal(v6.data.asn, 15169);
  assert.deepEqual(v6.data.sources, { country: 'geo-whois-asn-country.mmdb', country_name: 'icu', asn: 'asn-ipv6.csv' });
  // An IPv4-mapped form is the IPv4 address it carries (the MMDB itself has nothing under ::ffff:0:0/96).
  assert.deepEqual((await p.lookup(ip('::ffff:8.8.8.8'), signal)).data, google.data);
});

test('geoip: private, reserved and non-global addresses are never looked up', async () => {
  const dir = tempDir();
  const p = await geoip.create({ name: 'geo', kind: 'geoip', city_db: writeMmdb(join(dir, 'city.mmdb'), 'GeoLite2-City', CITY) }, fileDeps(dir));
  const cases: Array<[string, RegExp]> = [
    ['10.1.2.3', /private/],
    ['192.168.1.1', /private/],
    ['127.0.0.1', /loopback/],
    ['fe80::1', /link-local/],
    ['100.64.0.1', /carrier-grade NAT/],
    ['fd00::1', /unique local/],
    ['::ffff:10.0.0.1', /IPv4-mapped form of 10\.0\.0\.1/],
  ];
  for (const [value, reason] of cases) {
    const a = await p.lookup(ip(value), signal);
    assert.equal(a.found, false, value);
    assert.equal(a.data.looked_up, false, value);
    assert.match(String(a.data.reason), /^not a public address: /, value);
    assert.match(String(a.data.reason), reason, value);
  }
  assert.deepEqual((await p.lookup(ip('not-an-ip'), signal)).data, { looked_up: false, reason: 'not an IP address' });
});

test('geoip: a city database (GeoLite2-City shape) adds region, city and coordinates, in the configured language', async () => {
  const dir = tempDir();
  writeMmdb(join(dir, 'city.mmdb'), 'GeoLite2-City', CITY);
  const p = await geoip.create({ name: 'geo', kind: 'geoip', city_db: 'city.mmdb', asn_csv: [] }, fileDeps(dir));
  const a = await p.lookup(ip('8.8.8.8'), signal);
  assert.deepEqual(a.data, {
    country: 'US',
    country_name: 'United States',
    region: 'California',
    city: 'Mountain View',
    latitude: 37.386,
    longitude: -122.0838,
    accuracy_km: 1000,
    asn: null,
    as_org: null,
    sources: { country: 'city.mmdb', country_name: 'city.mmdb', city: 'city.mmdb' },
  });
  // Only a registered country: the country, nothing located.
  const anycast = await p.lookup(ip('1.1.1.1'), signal);
  assert.equal(anycast.data.country, 'AU');
  assert.equal(anycast.data.city, null);
  assert.deepEqual(anycast.data.sources, { country: 'city.mmdb', country_name: 'city.mmdb' });
  // Not in the city database: the country database answers, the city fields stay empty.
  const other = await p.lookup(ip('9.9.9.9'), signal);
  assert.equal(typeof other.data.country, 'string');
  assert.equal(other.data.sources && (other.data.sources as Record<string, string>).country, 'geo-whois-asn-country.mmdb');
  assert.deepEqual([other.data.city, other.data.latitude], [null, null]);
  const v6 = await p.lookup(ip('2001:4860:4860::8888'), signal);
  assert.deepEqual([v6.data.city, v6.data.latitude, v6.data.longitude], ['Ashburn', 39.0437, -77.4875]);

  const de = await geoip.create({ name: 'geo', kind: 'geoip', city_db: 'city.mmdb', asn_csv: [], language: 'de' }, fileDeps(dir));
  const d = await de.lookup(ip('8.8.8.8'), signal);
  assert.deepEqual([d.data.country_name, d.data.region, d.data.city], ['Vereinigte Staaten', 'Kalifornien', 'Mountain View']);
  // A name the database lacks in that language falls back to English, then to ICU for a bare code.
  assert.equal((await de.lookup(ip('2001:4860:4860::8888'), signal)).data.country_name, 'United States');
});

test("geoip: ip-location-db's flat city records, a country DB as city_db, an IPv4-only DB", async () => {
  const dir = tempDir();
  writeMmdb(join(dir, 'dbip-city.mmdb'), 'ip-location-db city', [
    ['8.8.8.0/24', { city: 'Mountain View', country_code: 'US', latitude: 37.4056, longitude: -122.0775, state1: 'California', postcode: '94043', timezone: 'America/Los_Angeles' }],
  ]);
  const p = await geoip.create({ name: 'geo', kind: 'geoip', city_db: 'dbip-city.mmdb', asn_csv: [] }, fileDeps(dir));
  const a = await p.lookup(ip('8.8.8.8'), signal);
  assert.deepEqual([a.data.country, a.data.region, a.data.city, a.data.latitude, a.data.longitude], ['US', 'California', 'Mountain View', 37.4056, -122.0775]);
  // A country-only database as city_db: the country, and no made-up place.
  const q = await geoip.create({ name: 'geo', kind: 'geoip', city_db: DEFAULT_COUNTRY_DB(), asn_csv: [] }, fileDeps(dir));
  const b = await q.lookup(ip('8.8.8.8'), signal);
  assert.deepEqual([b.data.country, b.data.city, b.data.latitude], ['US', null, null]);
  assert.deepEqual(b.data.sources, { country: 'geo-whois-asn-country.mmdb', country_name: 'icu' });
  // An IPv4-only database is not asked about IPv6 addresses (the reader would answer for their first 32 bits).
  const v4only = DEFAULT_COUNTRY_DB().replace(/\.mmdb$/, '-ipv4.mmdb');
  const r = await geoip.create({ name: 'geo', kind: 'geoip', country_db: v4only, asn_csv: [] }, fileDeps(dir));
  assert.equal((await r.lookup(ip('8.8.8.8'), signal)).data.country, 'US');
  assert.deepEqual(await r.lookup(ip('2001:4860:4860::8888'), signal), { found: false, data: { reason: 'not in the databases', databases: ['geo-whois-asn-country-ipv4.mmdb'] } });
});

test('geoip: asn_db (GeoLite2-ASN shape) instead of the CSVs', async () => {
  const dir = tempDir();
  writeMmdb(join(dir, 'asn.mmdb'), 'GeoLite2-ASN', [
    ['8.8.8.0/24', { autonomous_system_number: 15169, autonomous_system_organization: 'GOOGLE' }],
    ['2606:4700::/32', { autonomous_system_number: 13335, autonomous_system_organization: 'CLOUDFLARENET' }],
  ]);
  const p = await geoip.create({ name: 'geo', kind: 'geoip', asn_db: 'asn.mmdb' }, fileDeps(dir));
  const a = await p.lookup(ip('8.8.8.8'), signal);
  assert.deepEqual([a.data.asn, a.data.as_org, (a.data.sources as Record<string, string>).asn], [15169, 'GOOGLE', 'asn.mmdb']);
  assert.equal((await p.lookup(ip('2606:4700::1111'), signal)).data.asn, 13335);
  // Not in asn.mmdb: no AS, the installed CSVs are not consulted.
  const b = await p.lookup(ip('1.1.1.1'), signal);
  assert.deepEqual([b.found, b.data.asn, b.data.as_org], [true, null, null]);
});

test('geoip: range CSVs with text or numeric bounds, quoted orgs, any order; errors name file and line', async () => {
  const t = parseAsnCsv(
    Buffer.from(
      [
        'start,end,asn,org',
        '16777216,16777471,13335,"Cloudflare, Inc."',
        '35309568,35313663,201907,"LLC ""SPUTNIK"""',
        '8.8.4.0,8.8.4.255,15169,Google LLC',
        '2001:4860::,2001:4860:ffff:ffff:ffff:ffff:ffff:ffff,15169,Google LLC',
        '3.0.0.0,3.0.0.255,16509,',
        '',
      ].join('\r\n'),
    ),
    'asn.csv',
  );
  assert.deepEqual([t.rows, t.orgCount], [5, 3]);
  assert.deepEqual(t.lookup('1.0.0.1'), { asn: 13335, org: 'Cloudflare, Inc.', range: '1.0.0.0-1.0.0.255' });
  assert.equal(t.lookup('2.26.200.1')?.org, 'LLC "SPUTNIK"');
  assert.equal(t.lookup('8.8.4.4')?.asn, 15169);
  assert.deepEqual(t.lookup('3.0.0.9'), { asn: 16509, org: null, range: '3.0.0.0-3.0.0.255' });
  assert.equal(t.lookup('8.8.5.0'), null);
  assert.equal(t.lookup('0.0.0.1'), null);
  assert.equal(t.lookup('2001:4860:4860::8888')?.asn, 15169);
  assert.equal(t.lookup('2001:4861::1'), null);
  // Numeric IPv6 bounds (the -num file): 128-bit integers, told apart from IPv4 by the file name.
  const v6 = parseAsnCsv(Buffer.from('42540528726795050063891204319802818560,42540528727329395276160870415022948351,2500,WIDE Project\n'), 'asn-ipv6-num.csv');
  assert.deepEqual(v6.lookup('2001:200::1'), { asn: 2500, org: 'WIDE Project', range: '2001:200:0:0:0:0:0:0-2001:200:1b9:ffff:ffff:ffff:ffff:ffff' });
  assert.throws(() => parseAsnCsv(Buffer.from('1.0.0.0,1.0.0.255,13335,x\n1.0.1.0,nope,1,y\n'), 'a.csv'), /^DataFileError: a\.csv:2: "nope" is not an address/);
  assert.throws(() => parseAsnCsv(Buffer.from('1.0.0.0,1.0.0.255,AS13335,x\n'), 'a.csv'), /a\.csv:1: "AS13335" is not an AS number/);
  assert.throws(() => parseAsnCsv(Buffer.from('1.0.0.0,2001::,1,x\n'), 'a.csv'), /a\.csv:1: .*same family/);

  const dir = dataDir({ 'mine.csv': '9.9.9.0,9.9.9.255,19281,Quad9\n' });
  const p = await geoip.create({ name: 'geo', kind: 'geoip', asn_csv: 'mine.csv' }, fileDeps(dir));
  const a = await p.lookup(ip('9.9.9.9'), signal);
  assert.deepEqual([a.data.asn, a.data.as_org, (a.data.sources as Record<string, string>).asn], [19281, 'Quad9', 'mine.csv']);
  // A bad row surfaces on the lookup that loads the file, naming key, file and line.
  const bad = dataDir({ 'bad.csv': '9.9.9.0,9.9.9.255,x,Quad9\n' });
  const q = await geoip.create({ name: 'geo', kind: 'geoip', asn_csv: 'bad.csv' }, fileDeps(bad));
  const named = { message: `asn_csv: ${join(bad, 'bad.csv')}:1: "x" is not an AS number` };
  await assert.rejects(q.lookup(ip('9.9.9.9'), signal), named);
  // Until the file changes, the same error (the file is not parsed again for every lookup).
  await assert.rejects(q.lookup(ip('9.9.9.8'), signal), named);
});

test('geoip: configuration errors name the key and the path', async () => {
  const dir = dataDir({ 'not.mmdb': 'this is not a database' });
  const build = (entry: Record<string, unknown>) => createProviders([{ name: 'geo', kind: 'geoip', ...entry } as never], { store: null as never, configDir: dir });
  await assert.rejects(build({ country_db: 'missing.mmdb' }), { message: `enrichment.providers.geo: country_db: ${join(dir, 'missing.mmdb')}: cannot read: ENOENT` });
  await assert.rejects(build({ city_db: '/nonexistent/city.mmdb' }), { message: 'enrichment.providers.geo: city_db: /nonexistent/city.mmdb: cannot read: ENOENT' });
  await assert.rejects(build({ asn_csv: ['missing.csv'] }), { message: `enrichment.providers.geo: asn_csv: ${join(dir, 'missing.csv')}: cannot read: ENOENT` });
  await assert.rejects(build({ asn_db: 'not.mmdb' }), (e: Error) => e.message.startsWith(`enrichment.providers.geo: asn_db: ${join(dir, 'not.mmdb')}: not a MaxMind DB file`));
  await assert.rejects(build({ country_db: '.' }), { message: `enrichment.providers.geo: country_db: ${dir}: not a file` });
  await assert.rejects(build({ asn_db: 'a.mmdb', asn_csv: 'b.csv' }), { message: 'enrichment.providers.geo.asn_db: set asn_db or asn_csv, not both' });

  const text = [
    'enrichment:',
    '  providers:',
    '    - { name: a, kind: geoip, city_db: city.mmdb, asn_csv: [x.csv, y.csv], language: de, ttl: 1h }',
    '    - { name: b, kind: geoip, citydb: city.mmdb }',
    '    - { name: c, kind: geoip, asn_db: x.mmdb, asn_csv: y.csv }',
  ].join('\n');
  const r = parseConfigText(text, { receivers: [], providers: providerKinds, actions: [] });
  const errors = r.errors.map((e) => `${e.key}@${e.line}: ${e.message}`);
  assert.equal(errors.length, 2, errors.join('\n'));
  assert.match(errors[0]!, /^enrichment\.providers\[1\]\.citydb@4: unknown key/);
  assert.match(errors[1]!, /^enrichment\.providers\[2\]\.asn_db@5: set asn_db or asn_csv, not both/);
});

test('geoip: revision follows the database files, and a changed file is served after the next check', async () => {
  const dir = tempDir();
  const city = join(dir, 'city.mmdb');
  writeMmdb(city, 'GeoLite2-City', CITY);
  copyFileSync(DEFAULT_COUNTRY_DB(), join(dir, 'country.mmdb'));
  let now = 1_000_000;
  const deps = fileDeps(dir, () => now);
  const entry = { name: 'geo', kind: 'geoip' as const, country_db: 'country.mmdb', city_db: 'city.mmdb', asn_csv: [] };
  const p = await geoip.create(entry, deps);
  const r1 = await p.revision!();
  assert.match(r1, /^[0-9a-f]{16}$/);
  assert.equal(await (await geoip.create(entry, deps)).revision!(), r1, 'the same files: the same revision in every instance');
  assert.notEqual(await (await geoip.create({ ...entry, language: 'de' }, deps)).revision!(), r1, 'other names: another revision');
  assert.equal((await p.lookup(ip('8.8.8.8'), signal)).data.city, 'Mountain View');

  writeMmdb(city, 'GeoLite2-City', [['8.8.8.0/24', { city: { names: { en: 'Somewhere Else' } }, country: { iso_code: 'US' } }]]);
  assert.equal(await p.revision!(), r1, 'not checked again within a second');
  now += 1_000;
  const r2 = await p.revision!();
  assert.notEqual(r2, r1);
  assert.equal((await p.lookup(ip('8.8.8.8'), signal)).data.city, 'Somewhere Else');
  // A broken update keeps the data already loaded.
  writeFileSync(city, 'half-copied');
  now += 1_000;
  assert.notEqual(await p.revision!(), r2);
  assert.equal((await p.lookup(ip('8.8.8.8'), signal)).data.city, 'Somewhere Else');
});

test('geoip: through the layer, called directly as an in-memory provider; with a ttl, the second lookup is a cache hit', async () => {
  const t = await openTestStore('sqlite');
  try {
    for (const [entry, second] of [
      [{ name: 'geo', kind: 'geoip' }, 'miss'],
      [{ name: 'geo', kind: 'geoip', ttl: '1h' }, 'hit'],
    ] as const) {
      const e = await createConfiguredEnricher([entry], { store: t.store, configDir: process.cwd() });
      try {
        const [a] = await lookupAll(e, [ip('8.8.8.8')]);
        const [b] = await lookupAll(e, [ip('8.8.8.8')]);
        assert.ok(a && b && !isEnrichmentError(a) && !isEnrichmentError(b));
        assert.deepEqual([a.found, a.data.country, a.data.asn, a.cache], [true, 'US', 15169, 'miss']);
        assert.equal(b.cache, second, JSON.stringify(entry));
        const [priv] = await lookupAll(e, [ip('10.1.2.3')]);
        assert.ok(priv && !isEnrichmentError(priv) && priv.found === false);
      } finally {
        await e.close();
      }
    }
  } finally {
    await t.cleanup();
  }
});

test('demo: `fido lookup ip:8.8.8.8 -c demo/fido.yaml` answers with a country and an AS out of the box', async () => {
  const dir = tempDir();
  process.env.FIDO_DATA_DIR = join(dir, 'data');
  delete process.env.FIDO_DATABASE_URL;
  const program = new Command('fido').exitOverride();
  register(program);
  let out = '';
  const write = process.stdout.write.bind(process.stdout);
  // Only the command's text: the test runner reports to its parent on this same stdout, in binary chunks.
  process.stdout.write = ((chunk: string | Uint8Array, ...rest: never[]) => {
    if (typeof chunk !== 'string') return write(chunk, ...rest);
    out += chunk;
    return true;
  }) as typeof process.stdout.write;
  try {
    await program.parseAsync(['lookup', '-c', resolve('demo/fido.yaml'), 'ip:8.8.8.8', 'ip:10.20.5.21'], { from: 'user' });
  } finally {
    process.stdout.write = write;
  }
  const answers = JSON.parse(out) as Array<{ subject: string; kind: string; result: string; data: Record<string, unknown> }>;
  const geo = answers.filter((a) => a.kind === 'geoip');
  assert.deepEqual(geo.map((a) => [a.subject, a.result]), [
    ['ip:8.8.8.8', 'found'],
    ['ip:10.20.5.21', 'not_found'],
  ]);
  assert.equal(geo[0]!.data.country, 'US');
  assert.equal(geo[0]!.data.asn, 15169);
  assert.equal(geo[0]!.data.as_org, 'Google LLC');
  assert.match(String(geo[1]!.data.reason), /private/);
});

test('geoip: the defaults are resolved as package files, not node_modules paths', () => {
  assert.match(DEFAULT_COUNTRY_DB(), /@ip-location-db[/\\]geo-whois-asn-country-mmdb[/\\]geo-whois-asn-country\.mmdb$/);
  assert.deepEqual(DEFAULT_ASN_CSV().map((p) => p.split(/[/\\]/).at(-1)), ['asn-ipv4-num.csv', 'asn-ipv6.csv']);
});
