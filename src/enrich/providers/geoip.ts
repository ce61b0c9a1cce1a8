/**
 * Geography and ownership of public IP addresses, from database files on this machine: country (and its
 * name), optionally region, city and coordinates, and the autonomous system (number and organisation), each
 * with the database it came from. Nothing is downloaded, ever: out of the box it answers from the databases
 * Fido ships (@ip-location-db/geo-whois-asn-country-mmdb, CC0, for the country; @ip-location-db/asn,
 * CC BY 4.0 by RouteViews, DB-IP and the NRO, for the AS), and a site may point it at its own MaxMind or
 * DB-IP files. Private and reserved addresses are never looked up: they have no geography.
 *
 *   - name: geo
 *     kind: geoip
 *     # all optional; these are the defaults but for city_db and asn_db
 *     country_db: /var/lib/GeoIP/GeoLite2-Country.mmdb
 *     city_db: /var/lib/GeoIP/GeoLite2-City.mmdb
 *     asn_db: /var/lib/GeoIP/GeoLite2-ASN.mmdb    # or asn_csv: [asn-ipv4-num.csv, asn-ipv6.csv]
 *     language: en
 */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { basename } from 'node:path';
import { Type } from 'typebox';
import { Reader, type Response } from 'maxmind';
import { defineProvider, type EnrichmentProvider, type ProviderAnswer } from '../provider.js';
import { providerSettingsSchema } from '../settings.js';
import { resolveDataPath } from '../localfile.js';
import { classifyAddress, describeAddress } from '../../util/outbound.js';
import { parseAsnCsv, type AsnTable } from './lib/geo-asn.js';
import { dbFile, identityHash, type DbFile } from './lib/geo-files.js';

const Path = (description: string) => Type.String({ minLength: 1, description });

const Schema = Type.Object(
  {
    name: Type.String(),
    kind: Type.Literal('geoip'),
    ...providerSettingsSchema,
    country_db: Type.Optional(Path('MMDB with the country (default: the installed geo-whois-asn-country database)')),
    city_db: Type.Optional(Path('MMDB with city, region and coordinates (GeoLite2-City, DB-IP city, ip-location-db city)')),
    asn_db: Type.Optional(Path('MMDB with the AS (GeoLite2-ASN, ip-location-db asn); instead of asn_csv')),
    asn_csv: Type.Optional(
      Type.Union([Path('range CSV: start,end,asn,org'), Type.Array(Path('range CSV: start,end,asn,org'))], {
        description: 'Range CSVs (default: the installed @ip-location-db/asn files); [] for no AS answers',
      }),
    ),
    language: Type.Optional(Type.String({ minLength: 2, description: 'Language of names the databases carry (default en)' })),
  },
  { additionalProperties: false },
);

const require = createRequire(import.meta.url);
/** The installed default databases (npm dependencies, resolved like modules: no node_modules path assumed). */
export const DEFAULT_COUNTRY_DB = (): string => require.resolve('@ip-location-db/geo-whois-asn-country-mmdb/geo-whois-asn-country.mmdb');
export const DEFAULT_ASN_CSV = (): string[] => [
  require.resolve('@ip-location-db/asn/asn-ipv4-num.csv'),
  require.resolve('@ip-location-db/asn/asn-ipv6.csv'),
];

type Rec = Record<string, unknown>;
const obj = (v: unknown): Rec | undefined => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Rec) : undefined);
const str = (v: unknown): string | null => (typeof v === 'string' && v !== '' ? v : null);
const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

/** Two record shapes are read: MaxMind's (GeoIP2/GeoLite2, also DB-IP's MMDBs) and ip-location-db's flat one. */
function nameOf(node: unknown, lang: string): string | null {
  const names = obj(obj(node)?.names);
  return str(names?.[lang]) ?? str(names?.en);
}

function countryOf(r: Rec, lang: string): { code: string; name: string | null } | null {
  // registered_country: anycast and satellite networks have no located country, only the registrant's.
  const node = obj(r.country)?.iso_code ? r.country : obj(r.registered_country)?.iso_code ? r.registered_country : undefined;
  const code = str(obj(node)?.iso_code) ?? str(r.country_code);
  return code ? { code: code.toUpperCase(), name: nameOf(node, lang) } : null;
}

interface Place {
  region: string | null;
  city: string | null;
  latitude: number | null;
  longitude: number | null;
  accuracy_km: number | null;
}

function placeOf(r: Rec, lang: string): Place | null {
  const loc = obj(r.location);
  const sub = Array.isArray(r.subdivisions) ? r.subdivisions[0] : undefined;
  const p: Place = {
    region: nameOf(sub, lang) ?? str(r.state1),
    city: nameOf(r.city, lang) ?? str(r.city),
    latitude: num(loc?.latitude) ?? num(r.latitude),
    longitude: num(loc?.longitude) ?? num(r.longitude),
    accuracy_km: num(loc?.accuracy_radius),
  };
  return Object.values(p).some((v) => v !== null) ? p : null;
}

const icuNames = new Map<string, string | null>();
/** A country's name from Node's ICU data, for databases that carry only the code (remembered: ~250 codes). */
function icuCountryName(code: string, lang: string): string | null {
  const key = `${lang}:${code}`;
  let name = icuNames.get(key);
  if (name === undefined) {
    try {
      name = new Intl.DisplayNames([lang, 'en'], { type: 'region', fallback: 'none' }).of(code) ?? null;
    } catch {
      name = null; // not a region code ICU knows, or not a language tag
    }
    icuNames.set(key, name);
  }
  return name;
}

async function openMmdb(path: string): Promise<Reader<Response>> {
  const buf = await readFile(path);
  try {
    return new Reader<Response>(buf);
  } catch (e) {
    throw new Error(`not a MaxMind DB file: ${(e as Error).message}`);
  }
}

/**
 * The record for `ip`, or undefined. An IPv4-only database (ip_version 4) is never asked about an IPv6 address:
 * the reader would walk the address's first 32 bits as if they were an IPv4 address and answer for that.
 */
function recordOf(reader: Reader<Response>, ip: string): Rec | undefined {
  if (reader.metadata.ipVersion === 4 && ip.includes(':')) return undefined;
  return obj(reader.get(ip));
}

const loadCsv = async (path: string): Promise<AsnTable> => parseAsnCsv(await readFile(path), path);

const geoip = defineProvider({
  kind: 'geoip',
  local: true,
  description: 'Geography and AS of public IPs from local databases (MMDB, range CSV): country, city, ASN, organisation',
  schema: Schema,
  check(cfg) {
    return cfg.asn_db !== undefined && cfg.asn_csv !== undefined ? [{ key: 'asn_db', message: 'set asn_db or asn_csv, not both' }] : [];
  },
  async create(cfg, deps): Promise<EnrichmentProvider> {
    const lang = cfg.language ?? 'en';
    const at = (p: string) => resolveDataPath(p, deps.configDir);
    const opts = { now: deps.now };
    // MMDBs are opened now (a few ms: the reader keeps the file's bytes and decodes on demand), so a bad file
    // fails at start; the ASN CSVs are only checked to exist, and parsed on the first lookup that needs them.
    const country = dbFile('country_db', cfg.country_db ? at(cfg.country_db) : DEFAULT_COUNTRY_DB(), openMmdb, opts);
    const city = cfg.city_db ? dbFile('city_db', at(cfg.city_db), openMmdb, opts) : null;
    const asnDb = cfg.asn_db ? dbFile('asn_db', at(cfg.asn_db), openMmdb, opts) : null;
    const csvPaths = cfg.asn_db ? [] : cfg.asn_csv === undefined ? DEFAULT_ASN_CSV() : [cfg.asn_csv].flat().map(at);
    // A file named for one family (asn-ipv6.csv) is not loaded for addresses of the other.
    const asnCsv = csvPaths.map((p) => ({ file: dbFile('asn_csv', p, loadCsv, opts), name: basename(p), family: /ipv6/i.test(basename(p)) ? 6 : /ipv4/i.test(basename(p)) ? 4 : 0 }));
    await Promise.all([country.get(), city?.get(), asnDb?.get()]);
    const files: Array<DbFile<unknown>> = [country, ...(city ? [city] : []), ...(asnDb ? [asnDb] : []), ...asnCsv.map((c) => c.file)];

    async function answer(ip: string): Promise<ProviderAnswer> {
      const sources: Record<string, string> = {};
      const data: Record<string, unknown> = { country: null, country_name: null };
      // The city database's country when it has one: it comes from the same record as the city.
      const cityRec = city ? recordOf(await city.get(), ip) : undefined;
      const place = cityRec ? placeOf(cityRec, lang) : null;
      const fromCity = cityRec ? countryOf(cityRec, lang) : null;
      const countryRec = fromCity ? undefined : recordOf(await country.get(), ip);
      const c = fromCity ?? (countryRec ? countryOf(countryRec, lang) : null);
      if (c) {
        data.country = c.code;
        sources.country = basename((fromCity ? city! : country).path);
        data.country_name = c.name ?? icuCountryName(c.code, lang);
        if (data.country_name) sources.country_name = c.name ? sources.country : 'icu';
      }
      if (city) {
        Object.assign(data, place ?? { region: null, city: null, latitude: null, longitude: null, accuracy_km: null });
        if (place) sources.city = basename(city.path);
      }
      Object.assign(data, { asn: null, as_org: null });
      if (asnDb) {
        const r = recordOf(await asnDb.get(), ip);
        const asn = num(r?.autonomous_system_number);
        if (r && asn !== null) {
          Object.assign(data, { asn, as_org: str(r.autonomous_system_organization) });
          sources.asn = basename(asnDb.path);
        }
      }
      const family = ip.includes(':') ? 6 : 4;
      for (const f of asnCsv) {
        if (f.family !== 0 && f.family !== family) continue;
        const hit = (await f.file.get()).lookup(ip);
        if (!hit) continue;
        Object.assign(data, { asn: hit.asn, as_org: hit.org });
        sources.asn = f.name;
        break;
      }
      data.sources = sources;
      const found = data.country !== null || data.asn !== null || place !== null;
      return found ? { found, data } : { found, data: { reason: 'not in the databases', databases: files.map((f) => basename(f.path)) } };
    }

    return {
      name: cfg.name,
      kind: 'geoip',
      subjects: ['ip'],
      local: true,
      inMemory: true,
      revision: async () => identityHash([lang, ...(await Promise.all(files.map(async (f) => `${f.key}=${await f.identity()}`)))]),
      async lookup(subject): Promise<ProviderAnswer> {
        const c = classifyAddress(subject.value);
        if (!c) return { found: false, data: { looked_up: false, reason: 'not an IP address' } };
        // An IPv4-mapped or NAT64 form is public when the IPv4 address it carries is: look that one up.
        if (!c.public) return { found: false, data: { looked_up: false, reason: `not a public address: ${describeAddress(c)}` } };
        return answer(c.embedded ?? c.address);
      },
    };
  },
});

export default geoip;
