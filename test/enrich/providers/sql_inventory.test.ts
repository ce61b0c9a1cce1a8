/**
 * sql_inventory against the real servers of this machine: PostgreSQL (postgres://postgres@127.0.0.1:5432/test,
 * a schema of its own per run), MariaDB (root@127.0.0.1:3306/test, a table of its own per run) and a SQLite file
 * in a temp dir. On PostgreSQL and MariaDB the provider connects as a read-only role the test creates (SELECT
 * on the one table), as the docs tell users to. Everything created is dropped after.
 *
 * Server behaviour relied on: PostgreSQL default_transaction_read_only and statement_timeout
 * (https://www.postgresql.org/docs/current/runtime-config-client.html), pg_cancel_backend on one's own sessions
 * (https://www.postgresql.org/docs/current/functions-admin.html); MariaDB max_statement_time, error 1969
 * (https://mariadb.com/kb/en/aborting-statements/), SET SESSION TRANSACTION READ ONLY and KILL QUERY on one's
 * own threads (https://mariadb.com/kb/en/kill/); better-sqlite3's readonly/fileMustExist options.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import mysql from 'mysql2/promise';
import Sqlite from 'better-sqlite3';
import sqlInventory from '../../../src/enrich/providers/sql_inventory.js';
import { prepareQuery } from '../../../src/enrich/providers/lib/sql-query.js';
import { RemoteError } from '../../../src/enrich/remote.js';
import { entryProblem } from '../../../src/component/instantiate.js';
import type { AnyComponent } from '../../../src/component/component.js';
import type { EnrichmentProvider, LookupSubject } from '../../../src/enrich/provider.js';
import { createConfiguredEnricher } from '../../../src/enrich/registry.js';
import { isEnrichmentError } from '../../../src/enrich/layer.js';
import { fileDeps } from '../support.js';

const PG_URL = process.env.FIDO_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const MARIADB = { host: '127.0.0.1', port: 3306, user: 'root', password: '', database: 'test' };
const run = randomBytes(4).toString('hex');
const signal = new AbortController().signal;
const host = (value: string): LookupSubject => ({ type: 'host', value });

type Driver = 'postgres' | 'mariadb' | 'sqlite';

/** One database with the assets table, a read-only login and the driver's SQL for the short name. */
interface TestDb {
  driver: Driver;
  /** The connection as a user writes it: a secret reference for the servers. */
  connection: string;
  /** The same with a wrong password (or, on PostgreSQL that trusts 127.0.0.1, an unknown role). */
  badConnection: string;
  badPassword: string;
  table: string;
  /** The first label of a SQL expression. */
  short: (sql: string) => string;
  /** A SELECT that sleeps 60 s on the server (null: SQLite cannot). */
  sleeper: string | null;
  /** How many such sleeps the server is running now. */
  sleeping(): Promise<number>;
  /** Runs admin SQL (setup, checks). */
  admin(sql: string): Promise<unknown[]>;
  cleanup(): Promise<void>;
}

// hostname, ip, mac, owner, os, criticality, tags, location
const ROWS: Array<[string, string | null, string | null, string | null, string | null, string | null, string[], string]> = [
  ['ws-042.corp.example', '10.0.0.42', 'aa:bb:cc:00:00:42', 'alice', 'Windows 11', 'High', ['pci', 'prod'], 'paris'],
  ['old-ws.corp.example', '10.0.0.42', null, 'bob', null, null, [], 'attic'],
  ['db-01.corp.example', '10.0.0.5', null, 'dba', 'Debian 12', 'critical', ['database'], 'dc1'],
  ['db-01.lab.example', '10.9.0.5', null, 'lab', null, 'low', [], 'lab'],
  ['printer', '10.0.0.9', null, 'facilities', null, 'extreme', [], 'hall'],
];

const lit = (v: string | null) => (v === null ? 'null' : `'${v.replace(/'/g, "''")}'`);
const insertRows = (table: string, tags: (t: string[]) => string) =>
  `insert into ${table} (hostname, ip, mac, owner, os, criticality, tags, location) values ` +
  ROWS.map((r) => `(${[r[0], r[1], r[2], r[3], r[4], r[5]].map(lit).join(', ')}, ${tags(r[6])}, ${lit(r[7])})`).join(', ');

async function postgresDb(): Promise<TestDb> {
  const schema = `fido_sqlinv_${run}`;
  const role = `fido_ro_${run}`;
  const password = `pw-${run}-secret`;
  const c = new pg.Client({ connectionString: PG_URL });
  await c.connect();
  const table = `${schema}.assets`;
  await c.query(`create schema ${schema}`);
  await c.query(`create table ${table} (hostname text not null, ip text, mac text, owner text, os text, criticality text, tags text[], location text)`);
  await c.query(insertRows(table, (t) => `array[${t.map(lit).join(', ')}]::text[]`));
  // Least privilege: a login that may read this one table, nothing else.
  await c.query(`create role ${role} login password '${password}'`);
  await c.query(`grant usage on schema ${schema} to ${role}`);
  await c.query(`grant select on ${table} to ${role}`);
  const u = new URL(PG_URL);
  u.username = role;
  u.password = password;
  process.env[`FIDO_TEST_SQLINV_PG_${run}`] = u.toString();
  const bad = new URL(u);
  bad.username = `nobody_${run}`;
  bad.password = `wrong-${run}-pw`;
  process.env[`FIDO_TEST_SQLINV_PG_BAD_${run}`] = bad.toString();
  return {
    driver: 'postgres',
    connection: `\${env:FIDO_TEST_SQLINV_PG_${run}}`,
    badConnection: `\${env:FIDO_TEST_SQLINV_PG_BAD_${run}}`,
    badPassword: `wrong-${run}-pw`,
    table,
    short: (e) => `split_part(${e}, '.', 1)`,
    sleeper: `select :value::text as host from pg_sleep(60)`,
    sleeping: async () =>
      Number((await c.query(`select count(*) as n from pg_stat_activity where state = 'active' and query like '%pg_sleep(60)%' and pid <> pg_backend_pid()`)).rows[0].n),
    admin: async (sql) => (await c.query(sql)).rows,
    async cleanup() {
      await c.query(`drop schema if exists ${schema} cascade`);
      await c.query(`drop owned by ${role}`);
      await c.query(`drop role if exists ${role}`);
      await c.end();
    },
  };
}

async function mariadbDb(): Promise<TestDb> {
  const table = `sqlinv_${run}`;
  const user = `fido_ro_${run}`;
  const password = `pw-${run}-secret`;
  const c = await mysql.createConnection(MARIADB);
  await c.query(`create table ${table} (hostname varchar(255) not null, ip varchar(64), mac varchar(32), owner varchar(64), os varchar(64), criticality varchar(16), tags varchar(255), location varchar(64))`);
  await c.query(insertRows(table, (t) => lit(t.join(';'))));
  await c.query(`create user '${user}'@'%' identified by '${password}'`);
  await c.query(`grant select on test.${table} to '${user}'@'%'`);
  process.env[`FIDO_TEST_SQLINV_MARIADB_${run}`] = `mysql://${user}:${password}@127.0.0.1:3306/test`;
  process.env[`FIDO_TEST_SQLINV_MARIADB_BAD_${run}`] = `mariadb://${user}:wrong-${run}-pw@127.0.0.1:3306/test`;
  return {
    driver: 'mariadb',
    connection: `\${env:FIDO_TEST_SQLINV_MARIADB_${run}}`,
    badConnection: `\${env:FIDO_TEST_SQLINV_MARIADB_BAD_${run}}`,
    badPassword: `wrong-${run}-pw`,
    table,
    short: (e) => `substring_index(${e}, '.', 1)`,
    sleeper: `select :value as host, sleep(60) as slept`,
    sleeping: async () =>
      Number(((await c.query(`select count(*) as n from information_schema.processlist where info like '%sleep(60)%' and id <> connection_id()`))[0] as Array<{ n: unknown }>)[0]!.n),
    admin: async (sql) => (await c.query(sql))[0] as unknown[],
    async cleanup() {
      await c.query(`drop table if exists ${table}`);
      await c.query(`drop user if exists '${user}'@'%'`);
      await c.end();
    },
  };
}

async function sqliteDb(): Promise<TestDb> {
  const dir = mkdtempSync(join(tmpdir(), 'fido-sqlinv-'));
  const file = join(dir, 'cmdb.sqlite');
  const db = new Sqlite(file);
  db.exec(`create table assets (hostname text not null, ip text, mac text, owner text, os text, criticality text, tags text, location text)`);
  db.exec(insertRows('assets', (t) => lit(t.join(';'))));
  return {
    driver: 'sqlite',
    connection: file,
    badConnection: join(dir, 'missing.sqlite'),
    badPassword: 'no password in a file path',
    table: 'assets',
    short: (e) => `substr(${e}, 1, instr(${e} || '.', '.') - 1)`,
    sleeper: null,
    sleeping: async () => 0,
    admin: async (sql) => {
      const st = db.prepare(sql);
      if (st.reader) return st.all();
      st.run();
      return [];
    },
    async cleanup() {
      db.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

const COLUMNS = 'hostname as host, ip, mac, owner, os, criticality, tags, location';

/** The entry a user would write: one query per subject; the host query matches full and short names both ways. */
function entry(db: TestDb, extra: Record<string, unknown> = {}) {
  return {
    name: `cmdb-${db.driver}`,
    kind: 'sql_inventory' as const,
    driver: db.driver,
    connection: db.connection,
    queries: {
      host:
        `select ${COLUMNS} from ${db.table} where lower(hostname) = :value ` +
        `or ${db.short('lower(hostname)')} = :value or lower(hostname) = ${db.short(':value')} order by hostname`,
      ip: `select ${COLUMNS} from ${db.table} where ip = :value order by hostname;`,
      mac: `select ${COLUMNS} from ${db.table} where mac = :value`,
    },
    pool_size: 2,
    ...extra,
  };
}

async function make(db: TestDb, extra: Record<string, unknown> = {}): Promise<EnrichmentProvider> {
  const e = entry(db, extra);
  const problem = entryProblem(sqlInventory as AnyComponent, e, `enrichment.providers.${e.name}`);
  assert.equal(problem, null);
  return sqlInventory.create(e as never, fileDeps(tmpdir()));
}

const OPEN: Record<Driver, () => Promise<TestDb>> = { postgres: postgresDb, mariadb: mariadbDb, sqlite: sqliteDb };

for (const driver of ['postgres', 'mariadb', 'sqlite'] as const) {
  describe(`sql_inventory on ${driver}`, () => {
    let db: TestDb;
    let p: EnrichmentProvider;
    before(async () => {
      db = await OPEN[driver]();
      p = await make(db);
    });
    after(async () => {
      await p?.close?.();
      await db?.cleanup();
    });

    test('answers host (case-insensitive, short name vs FQDN), IP and MAC in the CSV inventory shape', async () => {
      assert.deepEqual(p.subjects, ['host', 'ip', 'mac']);
      assert.equal(p.local, false);
      assert.notEqual(p.external, true);
      const a = await p.lookup(host('WS-042.Corp.Example.'), signal);
      assert.equal(a.found, true);
      assert.deepEqual(
        { ...a.data, source: undefined },
        {
          host: 'ws-042.corp.example',
          ips: ['10.0.0.42'],
          macs: ['aa:bb:cc:00:00:42'],
          owner: 'alice',
          os: 'Windows 11',
          criticality: 'high',
          tags: ['pci', 'prod'],
          attributes: { location: 'paris' },
          matched_by: 'host',
          source: undefined,
        },
      );
      const short = await p.lookup(host('ws-042'), signal);
      assert.equal(short.data.host, 'ws-042.corp.example');
      assert.equal(short.data.matched_by, 'short_name');
      const bare = await p.lookup(host('printer.corp.example'), signal);
      assert.equal(bare.data.host, 'printer', 'an FQDN finds a bare inventory name');
      assert.equal(bare.data.criticality, null, 'an invalid criticality is left out…');
      assert.match(String(bare.data.warnings), /criticality "extreme"/, '…and said');
      assert.equal((await p.lookup(host('ws-042.lab.example'), signal)).found, false, 'another domain is another host');
      assert.equal((await p.lookup(host('db-01.corp.example'), signal)).data.matched_by, 'host');
      const amb = await p.lookup(host('db-01'), signal);
      assert.equal(amb.found, false);
      assert.deepEqual(amb.data.ambiguous, ['db-01.corp.example', 'db-01.lab.example']);

      const ip = await p.lookup({ type: 'ip', value: '10.0.0.42' }, signal);
      assert.equal(ip.found, true);
      assert.equal(ip.data.matched_by, 'ip');
      assert.deepEqual([ip.data.host, ...(ip.data.also as string[])].sort(), ['old-ws.corp.example', 'ws-042.corp.example']);
      const mac = await p.lookup({ type: 'mac', value: 'AA-BB-CC-00-00-42' }, signal);
      assert.equal(mac.data.host, 'ws-042.corp.example');
      assert.equal(mac.data.matched_by, 'mac');
      assert.equal((await p.lookup({ type: 'ip', value: '10.7.7.7' }, signal)).found, false);
      assert.equal((await p.lookup(host('nowhere'), signal)).found, false);
    });

    test('hostile subject values are bound, never spliced: they find nothing and the table survives', async () => {
      for (const value of ["x' or '1'='1", "'; drop table assets; --", `x"; drop table ${db.table}; --`, "ws-042' --", '%', '\\']) {
        const a = await p.lookup(host(value), signal);
        assert.equal(a.found, false, value);
        assert.equal(a.data.ambiguous, undefined, value);
      }
      // Not an address at all: not even asked.
      assert.equal((await p.lookup({ type: 'ip', value: "10.0.0.42' or 1=1 --" }, signal)).found, false);
      const rows = await db.admin(`select count(*) as n from ${db.table}`);
      assert.equal(Number((rows[0] as { n: unknown }).n), ROWS.length);
    });

    test('a refused login is an error naming the provider, never the password', async () => {
      let bad: EnrichmentProvider | undefined;
      // SQLite fails when it opens the file (create); the servers when the first lookup connects.
      const failure: unknown = await make(db, { connection: db.badConnection }).then(
        (b) => ((bad = b), b.lookup(host('ws-042'), signal).then(() => null, (e: unknown) => e)),
        (e: unknown) => e,
      );
      try {
        assert.ok(failure instanceof RemoteError, String(failure));
        assert.match(failure.message, new RegExp(`^sql_inventory "cmdb-${driver}" \\(${driver}\\): `));
        assert.ok(!failure.message.includes(db.badPassword), failure.message);
        if (driver !== 'sqlite') assert.equal(failure.reason, 'auth');
        assert.equal((await p.lookup(host('ws-042'), signal)).found, true, 'the good login still answers');
      } finally {
        await bad?.close?.();
      }
    });

    test('the session is read-only even for a query that would write', async (t) => {
      // The config check refuses writing statements; a function with side effects slips past any lexer, so the
      // session itself must refuse. SQLite is opened read-only; on the servers the role could not write anyway,
      // so use one that could (the admin) to prove the session setting.
      if (driver === 'sqlite') {
        t.diagnostic('SQLite: the file is opened with readonly: true, and a SELECT has no function that writes');
        return;
      }
      // On PostgreSQL the URL even tries to turn it off: the provider's options come last and win.
      const admin = new URL(PG_URL);
      admin.searchParams.set('options', '-c default_transaction_read_only=off');
      const url = driver === 'postgres' ? admin.toString() : `mysql://root@127.0.0.1:3306/test`;
      process.env[`FIDO_TEST_SQLINV_ADMIN_${run}`] = url;
      const fn = driver === 'postgres' ? `fido_sqlinv_${run}.touch` : `sqlinv_touch_${run}`;
      if (driver === 'postgres') {
        await db.admin(`create function ${fn}(v text) returns text language sql as $$ update ${db.table} set owner = 'mallory' where hostname = v returning hostname $$`);
      } else {
        await db.admin(`create function ${fn}(v varchar(255)) returns varchar(255) modifies sql data begin update ${db.table} set owner = 'mallory' where hostname = v; return v; end`);
      }
      const w = await make(db, { connection: `\${env:FIDO_TEST_SQLINV_ADMIN_${run}}`, queries: { host: `select ${fn}(:value) as host` } });
      try {
        await assert.rejects(w.lookup(host('printer'), signal), (e: Error) => e instanceof RemoteError && /read.only/i.test(e.message));
        const rows = await db.admin(`select owner from ${db.table} where hostname = 'printer'`);
        assert.equal((rows[0] as { owner: string }).owner, 'facilities');
      } finally {
        await w.close?.();
        await db.admin(`drop function ${fn}`);
      }
    });

    test('statement_timeout bounds a slow query; an abort ends a hung one at once and cancels it on the server', { timeout: 30_000 }, async (t) => {
      if (!db.sleeper) {
        const ac = new AbortController();
        ac.abort(new Error('gone'));
        await assert.rejects(p.lookup(host('ws-042'), ac.signal), /gone/);
        t.diagnostic('SQLite answers synchronously: only an abort before the query is honoured');
        return;
      }
      const slow = await make(db, { statement_timeout: '200ms', queries: { host: db.sleeper } });
      try {
        await assert.rejects(slow.lookup(host('ws-042'), signal), (e: Error) => e instanceof RemoteError && /statement_timeout \(200ms\)/.test(e.message));
      } finally {
        await slow.close?.();
      }
      // One connection and a 60 s limit: the IP lookup after the abort gets the connection only if the sleep
      // was cancelled on the server.
      const hung = await make(db, { pool_size: 1, statement_timeout: '60s', queries: { host: db.sleeper, ip: entry(db).queries.ip } });
      try {
        const ac = new AbortController();
        const pending = hung.lookup(host('ws-042'), ac.signal);
        while ((await db.sleeping()) === 0) await new Promise((r) => setTimeout(r, 20)); // until the server runs it
        ac.abort(new Error('lookup timed out'));
        await assert.rejects(pending, /lookup timed out/);
        while ((await db.sleeping()) > 0) await new Promise((r) => setTimeout(r, 20)); // cancelled, not left to run
        assert.equal((await hung.lookup({ type: 'ip', value: '10.0.0.5' }, signal)).data.host, 'db-01.corp.example');
      } finally {
        await hung.close?.();
      }
    });

    test('through the layer: a second lookup of the same subject is a cache hit that does not reach the database', async () => {
      const e = entry(db, { name: `cmdb-layer-${driver}-${run}` });
      const enricher = await createConfiguredEnricher([e], { store: null as never, configDir: tmpdir() });
      try {
        const first = await enricher.lookup(e.name, host('ws-042'));
        assert.ok(!isEnrichmentError(first), JSON.stringify(first));
        assert.equal(first.cache, 'miss');
        assert.equal(first.data.owner, 'alice');
        await db.admin(`update ${db.table} set owner = 'carol' where hostname = 'ws-042.corp.example'`);
        assert.equal((await p.lookup(host('ws-042'), signal)).data.owner, 'carol', 'the database did change');
        const second = await enricher.lookup(e.name, host('ws-042'));
        assert.ok(!isEnrichmentError(second));
        assert.equal(second.cache, 'hit');
        assert.equal(second.data.owner, 'alice');
      } finally {
        await db.admin(`update ${db.table} set owner = 'alice' where hostname = 'ws-042.corp.example'`);
        await enricher.close();
      }
    });
  });
}

describe('sql_inventory config', () => {
  const base = { name: 'cmdb', kind: 'sql_inventory', driver: 'postgres', connection: '${env:CMDB_URL}' };
  const problem = (e: Record<string, unknown>) => entryProblem(sqlInventory as AnyComponent, { ...base, ...e } as never, 'enrichment.providers.cmdb');

  test('only a single SELECT with :value passes, and the error names the key', () => {
    assert.equal(problem({ query: 'select hostname as host from assets where hostname = :value;  -- done' }), null);
    assert.equal(problem({ query: "select ';' as x, hostname as host from assets where note <> ':other' and hostname = :value" }), null);
    assert.equal(problem({ query: 'with a as (select * from assets) select hostname as host from a where hostname = $$x;$$ or hostname = :value::text' }), null);
    const refused: Array<[Record<string, unknown>, RegExp]> = [
      [{ query: 'select * from assets where hostname = :value; drop table assets' }, /^enrichment\.providers\.cmdb\.query: must be a single SELECT/],
      [{ query: 'delete from assets where hostname = :value' }, /\.query: must only read: "delete"/],
      [{ query: 'update assets set owner = null where hostname = :value' }, /\.query: must only read/],
      [{ query: 'select * into copy from assets where hostname = :value' }, /\.query: must only read: "into"/],
      [{ query: 'select * from assets' }, /\.query: needs the placeholder :value/],
      [{ query: 'select * from assets where hostname = ?' }, /\.query: uses "\?"/],
      [{ query: 'select * from assets where hostname = $1' }, /\.query: uses a positional parameter/],
      [{ query: 'select * from assets where hostname = :host' }, /\.query: has the placeholder :host/],
      [{ query: "select * from assets where hostname = ':value" }, /\.query: has an unterminated ' quote/],
      [{ query: 'explain select * from assets where hostname = :value' }, /\.query: must be a SELECT/],
      [{ queries: { host: 'select hostname as host from a where hostname = :value', ip: 'truncate assets' } }, /\.queries\.ip: must only read/],
      [{ query: 'select 1 where 1 = :value', queries: { host: 'select 1 where 1 = :value' } }, /\.query: set either query/],
      [{}, /\.query: set either query/],
      [{ queries: { host: 'select 1 where 1 = :value' }, subjects: ['ip'] }, /\.subjects: only goes with query/],
      [{ query: 'select 1 where 1 = :value', subjects: ['user'] }, /\.subjects\.0: /],
      [{ query: 'select 1 where 1 = :value', connection: 'postgres://fido:hunter22@db/cmdb' }, /\.connection: holds a password in clear/],
      [{ query: 'select 1 where 1 = :value', connection: 'mysql://fido@db/cmdb' }, /\.connection: must start with postgres:\/\//],
      [{ query: 'select 1 where 1 = :value', driver: 'oracle' }, /\.driver: /],
      [{ query: 'select 1 where 1 = :value', pool_size: 0 }, /\.pool_size: /],
      [{ query: 'select 1 where 1 = :value', password: 'x' }, /enrichment\.providers\.cmdb\.password: /],
    ];
    for (const [e, re] of refused) assert.match(problem(e) ?? 'accepted', re, JSON.stringify(e));
    // A password spliced in from a reference is fine.
    assert.equal(problem({ query: 'select 1 where 1 = :value', connection: 'postgres://fido:${env:CMDB_PW}@db/cmdb' }), null);
    // MariaDB strings take backslash escapes: the quote below is escaped, so the ; is inside the string.
    assert.ok(!('problem' in prepareQuery("select 'it\\'s;' as x from t where h = :value", 'mariadb')));
    assert.ok('problem' in prepareQuery("select 'it\\'s;' as x from t where h = :value", 'postgres'));
  });

  test('placeholders become the driver’s own parameters, once per use', () => {
    const q = 'select h as host from t where lower(h) = :value or h = upper(:value)';
    assert.deepEqual(prepareQuery(q, 'postgres'), { sql: 'select h as host from t where lower(h) = $1 or h = upper($1)', uses: 2 });
    assert.deepEqual(prepareQuery(q, 'mariadb'), { sql: 'select h as host from t where lower(h) = ? or h = upper(?)', uses: 2 });
    assert.deepEqual(prepareQuery(q, 'sqlite'), { sql: q, uses: 2 });
    assert.deepEqual(prepareQuery("select x::text from t where y = ':value' and z = :value;", 'postgres'), { sql: "select x::text from t where y = ':value' and z = $1", uses: 1 });
  });
});
