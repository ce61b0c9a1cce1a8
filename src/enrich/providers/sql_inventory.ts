/**
 * Asset inventory in a SQL database (PostgreSQL, MariaDB or SQLite): a configured SELECT answers host names,
 * IPs and MACs with the CSV inventory's answer (providers/inventory.ts: host, ips, macs, owner, os,
 * criticality, tags, attributes, matched_by). The query names its columns host, ip, mac, owner, os,
 * criticality, tags (any other column becomes an attribute) and takes the subject through ONE named
 * placeholder, `:value`, always sent as a bound parameter. It may be used several times in the query.
 *
 *   - name: cmdb
 *     kind: sql_inventory
 *     driver: postgres                         # postgres | mariadb | sqlite
 *     connection: ${env:CMDB_DATABASE_URL}     # postgres://fido_ro:…@cmdb.corp.example/cmdb; sqlite: a file path
 *     queries:
 *       host: select hostname as host, ip, owner, os, criticality, tags from assets
 *             where lower(hostname) = :value or split_part(lower(hostname), '.', 1) = :value
 *       ip: select hostname as host, ip, owner, os, criticality, tags from assets where ip = :value
 *     pool_size: 4
 *     statement_timeout: 3s
 *
 * `query:` (one query, for the `subjects:` it lists, default host) replaces `queries:` when one SELECT serves.
 * Values arrive normalised: host names lower-cased without a trailing dot, canonical IPs, MACs as
 * aa:bb:cc:dd:ee:ff; the query compares them with the database's form. Connect as a read-only role
 * (docs/providers/sql_inventory.md); the session is made read-only and time-bounded besides.
 */
import { Type } from 'typebox';
import { defineProvider, type EnrichmentProvider, type LookupSubject, type ProviderAnswer } from '../provider.js';
import type { ComponentProblem } from '../../component/component.js';
import type { ObservableType } from '../../model/observable.js';
import { providerSettingsSchema } from '../settings.js';
import { Duration } from '../../config/schema.js';
import { parseDuration } from '../../config/duration.js';
import { isSecretRef, resolveSecretRefs } from '../../config/secrets.js';
import { SecretString } from '../remote.js';
import { resolveDataPath } from '../localfile.js';
import { canonicalIp, hostKeys, normalizeMac } from '../values.js';
import { prepareQuery, type PreparedQuery, type SqlDialect } from './lib/sql-query.js';
import { answerFromRows } from './lib/sql-asset.js';
import { openSqlSource } from './lib/sql-drivers.js';

const SUBJECTS = ['host', 'ip', 'mac'] as const;
type Subject = (typeof SUBJECTS)[number];

const Query = Type.String({ minLength: 1, description: 'One SELECT; :value is where the subject goes' });

const Schema = Type.Object(
  {
    name: Type.String(),
    kind: Type.Literal('sql_inventory'),
    ...providerSettingsSchema,
    driver: Type.Union([Type.Literal('postgres'), Type.Literal('mariadb'), Type.Literal('sqlite')]),
    connection: Type.String({
      ...SecretString,
      description: 'postgres:// or mysql:// URL as a secret reference (${env:NAME} / ${file:/path}); for sqlite, the file path',
    }),
    query: Type.Optional(Query),
    subjects: Type.Optional(
      Type.Array(Type.Union(SUBJECTS.map((s) => Type.Literal(s))), { minItems: 1, uniqueItems: true, description: 'What `query` answers (default: host)' }),
    ),
    queries: Type.Optional(
      Type.Object({ host: Type.Optional(Query), ip: Type.Optional(Query), mac: Type.Optional(Query) }, { additionalProperties: false, minProperties: 1 }),
    ),
    pool_size: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, description: 'Connections at most (default 4)' })),
    statement_timeout: Type.Optional(Duration),
  },
  { additionalProperties: false },
);

type Config = {
  driver: SqlDialect;
  connection: string;
  query?: string;
  subjects?: Subject[];
  queries?: Partial<Record<Subject, string>>;
};

const DEFAULT_POOL = 4;
/** Below the layer's default 10 s for remote providers, so the server gives up before the lookup does. */
const DEFAULT_STATEMENT_TIMEOUT = '5s';

/** The configured queries by subject, with their config key (for messages). */
function configuredQueries(cfg: Config): Array<{ subject: Subject; key: string; text: string }> {
  if (cfg.query !== undefined) return (cfg.subjects ?? ['host']).map((subject) => ({ subject, key: 'query', text: cfg.query! }));
  return SUBJECTS.flatMap((subject) => {
    const text = cfg.queries?.[subject];
    return text === undefined ? [] : [{ subject, key: `queries.${subject}`, text }];
  });
}

/**
 * A literal connection URL: the right scheme and, in the entry as written (`asWritten`), no password in clear.
 * `fido start` resolves secret references before building providers, so the built entry holds the password
 * it was given by reference: only the text as written can tell the two apart.
 */
function connectionProblem(cfg: Config, asWritten: boolean): string | undefined {
  if (cfg.driver === 'sqlite' || isSecretRef(cfg.connection)) return undefined;
  // A password spliced in from a reference (postgres://fido_ro:${env:PW}@…) is fine; a literal one is not.
  const REF = 'secret-reference';
  let u: URL;
  try {
    u = new URL(cfg.connection.replace(/\$\{(env|file):[^{}]+\}/g, REF));
  } catch {
    return `is not a URL (${cfg.driver === 'postgres' ? 'postgres://user@host:5432/db' : 'mysql://user@host:3306/db'}) nor a secret reference`;
  }
  const schemes = cfg.driver === 'postgres' ? ['postgres:', 'postgresql:'] : ['mysql:', 'mariadb:'];
  if (!schemes.includes(u.protocol)) return `must start with ${schemes.map((s) => `${s}//`).join(' or ')} for driver ${cfg.driver}`;
  if (asWritten && u.password && u.password !== REF) {
    return 'holds a password in clear; put the URL or its password in ${env:NAME} or ${file:/path}';
  }
  return undefined;
}

function checkConfig(cfg: Config, asWritten = true): ComponentProblem[] {
  const out: ComponentProblem[] = [];
  if ((cfg.query === undefined) === (cfg.queries === undefined)) {
    out.push({ key: 'query', message: 'set either query (with subjects) or queries (one per subject), not both nor neither' });
  }
  if (cfg.subjects && cfg.query === undefined) out.push({ key: 'subjects', message: 'only goes with query (queries name their subjects)' });
  for (const q of configuredQueries(cfg)) {
    const r = prepareQuery(q.text, cfg.driver);
    if ('problem' in r && !out.some((p) => p.key === q.key)) out.push({ key: q.key, message: r.problem });
  }
  const conn = connectionProblem(cfg, asWritten);
  if (conn) out.push({ key: 'connection', message: conn });
  return out;
}

/** The subject in the form the query compares with; null when it is not a valid value of its type. */
function boundValue(s: LookupSubject): string | null {
  switch (s.type) {
    case 'host':
      return s.value.trim() ? hostKeys(s.value).full : null;
    case 'ip':
      return canonicalIp(s.value);
    case 'mac':
      return normalizeMac(s.value);
    default:
      return null;
  }
}

const sqlInventory = defineProvider({
  kind: 'sql_inventory',
  description: 'Asset inventory in PostgreSQL, MariaDB or SQLite: host, IP or MAC → owner, OS, criticality, tags (a read-only SELECT)',
  schema: Schema,
  check: (cfg) => checkConfig(cfg),
  async create(cfg, deps): Promise<EnrichmentProvider> {
    const key = `enrichment.providers.${cfg.name}`;
    const problem = checkConfig(cfg, false)[0];
    if (problem) throw new Error(`${key}.${problem.key}: ${problem.message}`);
    const prepared = new Map<ObservableType, PreparedQuery>();
    for (const q of configuredQueries(cfg)) prepared.set(q.subject, prepareQuery(q.text, cfg.driver) as PreparedQuery);
    // A whole reference or one inside the URL (postgres://fido_ro:${env:PW}@…).
    const resolved = resolveSecretRefs(cfg.connection, `${key}.connection`);
    const source = openSqlSource({
      name: cfg.name,
      driver: cfg.driver,
      connection: cfg.driver === 'sqlite' ? resolveDataPath(resolved, deps.configDir) : resolved,
      poolSize: cfg.pool_size ?? DEFAULT_POOL,
      statementTimeoutMs: parseDuration(cfg.statement_timeout ?? DEFAULT_STATEMENT_TIMEOUT, `${key}.statement_timeout`),
    });
    return {
      name: cfg.name,
      kind: 'sql_inventory',
      subjects: [...prepared.keys()],
      local: false,
      async lookup(subject, signal): Promise<ProviderAnswer> {
        const q = prepared.get(subject.type);
        const value = boundValue(subject);
        if (!q || value === null) return { found: false, data: {} };
        const rows = await source.run(q, value, signal);
        return answerFromRows(rows, { type: subject.type, value }, `${cfg.driver}:${subject.type} query`);
      },
      close: () => source.close(),
    };
  },
});

export default sqlInventory;
