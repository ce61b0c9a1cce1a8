/**
 * An asset inventory behind any JSON HTTP endpoint (a CMDB, an asset service): one GET per subject, the
 * subject sent as a query parameter, and a mapping from dotted paths in the JSON answer to the CSV
 * inventory's answer shape (providers/inventory.ts). Records are re-checked against the subject with the
 * inventory's rules (lib/http-inventory.ts), so a service that searches loosely ("ws-04" → "ws-042") does not
 * put a wrong asset on an incident. One subject names a handful of records: no paging is followed.
 *
 *   - name: cmdb
 *     kind: http_inventory
 *     url: https://cmdb.corp.example/api/v2/assets
 *     bearer_token: ${env:CMDB_TOKEN}
 *     lookup:
 *       host: { hostname: "{value}" }
 *       ip: { ip: "{value}" }
 *     fields:
 *       records: data.items
 *       host: attributes.hostname
 *       ip: attributes.ips[]
 *       mac: attributes.nics[].mac
 *       owner: attributes.owner.login
 *       attributes: { serial: attributes.serial }
 */
import { Type, type Static } from 'typebox';
import { defineProvider, type EnrichmentProvider, type LookupSubject, type ProviderAnswer } from '../provider.js';
import type { ComponentProblem } from '../../component/component.js';
import { providerSettingsSchema } from '../settings.js';
import { SecretString, entryKey, malformedAnswer, openRemote, remoteSettingsSchema, remoteUrlProblems, secretSetting } from '../remote.js';
import { resolveSecretRefs } from '../../config/secrets.js';
import { scalarText } from '../json-read.js';
import { assetAnswer, remoteAsset, type RemoteAsset } from './lib/http-inventory.js';

/** A path in the answer: `a.b.c`; `[]` after a name goes through every element of that array (`nics[].mac`). */
// Names may hold spaces ("custom_fields.MAC Address.value"), not dots or brackets.
const JsonPath = Type.String({ pattern: '^[^.\\[\\]]+(\\[\\])?(\\.[^.\\[\\]]+(\\[\\])?)*$', description: 'Dotted path, [] for every element' });
/** Query parameters for one subject type; `{value}` (and `{type}`) in a value are replaced by the subject. */
const Params = Type.Record(Type.String({ minLength: 1 }), Type.String());

const SUBJECTS = ['host', 'ip', 'mac'] as const;
type InventorySubject = (typeof SUBJECTS)[number];

const Schema = Type.Object(
  {
    name: Type.String(),
    kind: Type.Literal('http_inventory'),
    ...providerSettingsSchema,
    ...remoteSettingsSchema,
    url: Type.String({ description: 'The endpoint asked (GET); fixed query parameters may be part of it' }),
    lookup: Type.Object(
      { host: Type.Optional(Params), ip: Type.Optional(Params), mac: Type.Optional(Params) },
      { additionalProperties: false, minProperties: 1, description: 'Per subject type it answers: the query parameters' },
    ),
    bearer_token: Type.Optional(SecretString),
    header: Type.Optional(
      Type.Object(
        { name: Type.String({ pattern: "^[A-Za-z0-9!#$%&'*+.^_`|~-]+$" }), value: SecretString },
        { additionalProperties: false, description: 'An API key header, e.g. { name: X-Api-Key, value: ${env:CMDB_KEY} }' },
      ),
    ),
    fields: Type.Object(
      {
        records: Type.Optional(JsonPath),
        host: JsonPath,
        ip: Type.Optional(JsonPath),
        mac: Type.Optional(JsonPath),
        owner: Type.Optional(JsonPath),
        os: Type.Optional(JsonPath),
        criticality: Type.Optional(JsonPath),
        tags: Type.Optional(JsonPath),
        last_seen: Type.Optional(JsonPath),
        attributes: Type.Optional(Type.Record(Type.String({ minLength: 1 }), JsonPath)),
      },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false },
);
type Config = Static<typeof Schema>;
type Fields = Config['fields'];

/**
 * What a path reaches in `root`: every value, arrays at the end spread into their elements. `present` says
 * whether the path exists at all (an empty list is an answer, a missing key is not).
 */
export function pathValues(root: unknown, path: string): { values: unknown[]; present: boolean } {
  let nodes: unknown[] = [root];
  let present = true;
  for (const seg of path.split('.')) {
    const each = seg.endsWith('[]');
    const name = each ? seg.slice(0, -2) : seg;
    const next: unknown[] = [];
    present = false;
    for (const n of nodes) {
      if (!n || typeof n !== 'object' || !Object.hasOwn(n, name)) continue;
      present = true;
      const v = (n as Record<string, unknown>)[name];
      if (each && Array.isArray(v)) next.push(...(v as unknown[]));
      else if (v !== undefined && v !== null) next.push(v);
    }
    nodes = next;
  }
  return { values: nodes.flatMap((v) => (Array.isArray(v) ? (v as unknown[]) : [v])), present };
}

const first = (record: unknown, path: string | undefined): unknown => (path ? pathValues(record, path).values.find((v) => scalarText(v) !== null) : undefined);
const all = (record: unknown, path: string | undefined): unknown[] => (path ? pathValues(record, path).values : []);

/** One record of the answer → an asset (null without a host name). */
export function mappedAsset(record: unknown, fields: Fields, source: string): RemoteAsset | null {
  const host = scalarText(first(record, fields.host));
  if (!host) return null;
  const attributes: Record<string, unknown> = {};
  for (const [k, p] of Object.entries(fields.attributes ?? {})) attributes[k] = first(record, p);
  const lastSeen = fields.last_seen ? scalarText(first(record, fields.last_seen)) : undefined;
  return remoteAsset({
    host,
    ips: all(record, fields.ip),
    macs: all(record, fields.mac),
    owner: first(record, fields.owner),
    os: first(record, fields.os),
    criticality: first(record, fields.criticality),
    tags: all(record, fields.tags),
    attributes,
    ...(lastSeen !== undefined ? { last_seen: lastSeen } : {}),
    source,
  });
}

/** The query parameters of a subject: `{value}` and `{type}` replaced (URL-encoding is the client's). */
export function subjectQuery(params: Record<string, string>, subject: LookupSubject): Record<string, string> {
  const fill = (t: string) => t.replace(/\{(value|type)\}/g, (_m, k: string) => (k === 'value' ? subject.value : subject.type));
  return Object.fromEntries(Object.entries(params).map(([k, v]) => [fill(k), fill(v)]));
}

function check(cfg: Config): ComponentProblem[] {
  const problems = remoteUrlProblems(cfg);
  if (cfg.bearer_token && cfg.header) problems.push({ key: 'header', message: 'set bearer_token or header, not both' });
  for (const s of SUBJECTS) {
    const params = cfg.lookup[s];
    // Without the subject in the request every lookup would get the same list back.
    if (params && !Object.entries(params).some(([k, v]) => `${k}${v}`.includes('{value}'))) {
      problems.push({ key: `lookup.${s}`, message: 'no parameter carries the subject: put "{value}" in one' });
    }
  }
  return problems;
}

const httpInventory = defineProvider({
  kind: 'http_inventory',
  description: 'Asset inventory behind a JSON HTTP endpoint: host, IP or MAC → owner, OS, criticality, tags (field mapping)',
  schema: Schema,
  check,
  async create(cfg, deps): Promise<EnrichmentProvider> {
    const key = entryKey(cfg);
    const headers: Record<string, string> = {};
    if (cfg.bearer_token) headers.authorization = `Bearer ${secretSetting(cfg.bearer_token, `${key}.bearer_token`)}`;
    // resolveSecretRefs, not secretSetting: a reference inside a value ("Token ${env:X}") is resolved too.
    if (cfg.header) headers[cfg.header.name.toLowerCase()] = resolveSecretRefs(cfg.header.value, `${key}.header.value`);
    // The client appends a request path to its base: the base is the url up to its last "/", the path the rest
    // (the url as written, fixed query included, is what is asked).
    const endpoint = new URL(cfg.url);
    const cut = endpoint.pathname.lastIndexOf('/') + 1;
    const lastSegment = endpoint.pathname.slice(cut);
    endpoint.pathname = endpoint.pathname.slice(0, cut);
    const { client, where: whereOf } = openRemote({ ...cfg, url: endpoint.href }, deps, { headers: () => headers });
    const subjects = SUBJECTS.filter((s) => cfg.lookup[s]);
    const where = whereOf('GET', lastSegment);
    return {
      name: cfg.name,
      kind: 'http_inventory',
      subjects,
      local: false,
      async lookup(subject, signal): Promise<ProviderAnswer> {
        const params = cfg.lookup[subject.type as InventorySubject];
        if (!params) return { found: false, data: {} };
        // A 404 is the service's "no such asset": an answer, cached as one.
        const body = await client.json({ path: lastSegment, query: subjectQuery(params, subject), signal, notFound: 'null' });
        if (body === null) return { found: false, data: {} };
        let records: unknown[];
        if (cfg.fields.records) {
          const r = pathValues(body, cfg.fields.records);
          // A 200 without the records (an error object instead) is not "no asset".
          if (!r.present) throw malformedAnswer(where, `has no "${cfg.fields.records}"`);
          records = r.values;
        } else {
          records = Array.isArray(body) ? body : [body];
        }
        const assets = records.flatMap((rec, i) => mappedAsset(rec, cfg.fields, `${cfg.name}:record/${i}`) ?? []);
        // A subject type the mapping does not carry cannot be re-checked: the service's records stand.
        const unchecked = (subject.type === 'ip' && !cfg.fields.ip) || (subject.type === 'mac' && !cfg.fields.mac);
        return assetAnswer(subject, assets, {}, unchecked);
      },
      close: () => client.close(),
    };
  },
});

export default httpInventory;
