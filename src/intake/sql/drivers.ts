/**
 * The databases the `sql` receiver polls, behind one small interface: PostgreSQL (pg), MySQL/MariaDB (mysql2)
 * and SQLite (better-sqlite3). Each connection is read-only where the database allows, answers in UTC, and
 * hands back column values in a driver-independent shape (see `Cell`), so that a row's JSON and the cursor
 * values bound back into the next query do not depend on which driver read them.
 */
import { resolve } from 'node:path';
import Database from 'better-sqlite3';
import mysql from 'mysql2/promise';
import pg from 'pg';

export type Dialect = 'postgres' | 'mysql' | 'sqlite';

/**
 * A timestamp column's value as the database printed it (`text`, bound back verbatim: it keeps microseconds a
 * JS Date would lose) and its ISO 8601 form for the record's JSON.
 */
export class SqlTimestamp {
  constructor(
    readonly text: string,
    readonly iso: string,
  ) {}
}

/** A column value as read: JSON-able values, bigints, timestamps, bytes, or nested JSON (pg json/arrays). */
export type Cell = null | boolean | number | bigint | string | SqlTimestamp | Uint8Array | Date | readonly Cell[] | { readonly [k: string]: Cell };
export type Row = Record<string, Cell>;
/** What a query binds: never values spliced into SQL text. */
export type Param = string | number | bigint;

export interface SqlConnection {
  readonly dialect: Dialect;
  query(sql: string, params: readonly Param[]): Promise<Row[]>;
  close(): Promise<void>;
}

export interface ConnectOptions {
  /** postgres://…, mysql://…, mariadb://…, sqlite:PATH (relative to `configDir`). */
  url: string;
  /** Overrides the URL's password (a resolved secret reference). */
  password?: string;
  /** Use TLS (certificate and host name verified). */
  tls: boolean;
  configDir: string;
  connectTimeoutMs: number;
  queryTimeoutMs: number;
}

export function dialectOf(url: string): Dialect | null {
  if (/^postgres(ql)?:\/\//i.test(url)) return 'postgres';
  if (/^(mysql|mariadb):\/\//i.test(url)) return 'mysql';
  if (/^sqlite:/i.test(url)) return 'sqlite';
  return null;
}

/** The URL without its password, for logs and status. */
export function redactUrl(url: string): string {
  if (dialectOf(url) === 'sqlite') return url;
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return url.replace(/\/\/[^@/]*@/, '//***@');
  }
}

/** Quotes a column name (already checked to be a plain identifier) for the dialect. */
export const quoteIdent = (d: Dialect, name: string): string => (d === 'mysql' ? `\`${name}\`` : `"${name}"`);

export async function connect(o: ConnectOptions): Promise<SqlConnection> {
  const dialect = dialectOf(o.url);
  if (dialect === 'postgres') return connectPg(o);
  if (dialect === 'mysql') return connectMysql(o);
  if (dialect === 'sqlite') return openSqlite(o);
  throw new Error('url: must start with postgres://, mysql://, mariadb:// or sqlite:');
}

// ---------------------------------------------------------------------------------------------------------
// PostgreSQL

const PG_INT8 = 20;
const PG_TIMESTAMP = 1114;
const PG_TIMESTAMPTZ = 1184;
const PG_DATE = 1082;

/** int8 as a number when exact, else a bigint (pg's default is a string, indistinguishable from text). */
const pgTypes = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    if (oid === PG_INT8) return (s: string): Cell => toIntCell(BigInt(s));
    if (oid === PG_TIMESTAMP || oid === PG_TIMESTAMPTZ) return (s: string): Cell => new SqlTimestamp(s, isoOf(s));
    if (oid === PG_DATE) return (s: string): Cell => s;
    return pg.types.getTypeParser(oid, format ?? 'text');
  },
} as unknown as pg.CustomTypesConfig;

async function connectPg(o: ConnectOptions): Promise<SqlConnection> {
  const client = new pg.Client({
    connectionString: o.url,
    ...(o.password !== undefined ? { password: o.password } : {}),
    ssl: o.tls ? { rejectUnauthorized: true } : false,
    types: pgTypes,
    connectionTimeoutMillis: o.connectTimeoutMs,
    query_timeout: o.queryTimeoutMs,
    // UTC so that timestamptz prints the same whatever the server's zone; read-only as a safety net.
    options: '-c TimeZone=UTC -c default_transaction_read_only=on',
    application_name: 'fido-sql-receiver',
  });
  // An idle connection that breaks emits 'error'; the next query fails and the receiver reconnects.
  client.on('error', () => undefined);
  await client.connect();
  return {
    dialect: 'postgres',
    async query(sql, params) {
      const res = await client.query<Row>({ text: sql, values: params.map((p) => (typeof p === 'bigint' ? p.toString() : p)) });
      return res.rows;
    },
    close: () => client.end(),
  };
}

// ---------------------------------------------------------------------------------------------------------
// MySQL / MariaDB

async function connectMysql(o: ConnectOptions): Promise<SqlConnection> {
  const u = new URL(o.url.replace(/^mariadb:/i, 'mysql:'));
  const conn = await mysql.createConnection({
    host: u.hostname,
    port: u.port ? Number(u.port) : 3306,
    user: decodeURIComponent(u.username),
    password: o.password ?? decodeURIComponent(u.password),
    database: decodeURIComponent(u.pathname.replace(/^\//, '')) || undefined,
    ...(o.tls ? { ssl: { rejectUnauthorized: true } } : {}),
    connectTimeout: o.connectTimeoutMs,
    supportBigNumbers: true,
    bigNumberStrings: false,
    dateStrings: true,
    timezone: 'Z',
    // DATETIME/TIMESTAMP keep their printed text (microseconds included); the rest as mysql2 reads it.
    typeCast: (field, next) => {
      if (field.type === 'DATETIME' || field.type === 'TIMESTAMP') {
        const s = field.string();
        return s === null ? null : new SqlTimestamp(s, isoOf(s));
      }
      if (field.type === 'LONGLONG') {
        const v: unknown = next();
        return typeof v === 'string' ? BigInt(v) : v;
      }
      return next();
    },
  });
  conn.on('error', () => undefined);
  try {
    await conn.query("SET time_zone = '+00:00'");
    await conn.query('SET SESSION TRANSACTION READ ONLY');
  } catch (e) {
    conn.destroy();
    throw e;
  }
  return {
    dialect: 'mysql',
    async query(sql, params) {
      const [rows] = await conn.execute({ sql, timeout: o.queryTimeoutMs }, params as Param[]);
      return rows as Row[];
    },
    close: () => conn.end(),
  };
}

// ---------------------------------------------------------------------------------------------------------
// SQLite

async function openSqlite(o: ConnectOptions): Promise<SqlConnection> {
  const path = resolve(o.configDir, o.url.replace(/^sqlite:(\/\/(?=\/))?/i, ''));
  const db = new Database(path, { readonly: true, fileMustExist: true, timeout: o.queryTimeoutMs });
  return {
    dialect: 'sqlite',
    async query(sql, params) {
      // Integers as bigints: exact beyond 2^53; toIntCell turns them back into numbers where exact.
      const rows = db.prepare(sql).safeIntegers(true).all(...params) as Record<string, unknown>[];
      return rows.map((r) => {
        const out: Row = {};
        for (const [k, v] of Object.entries(r)) out[k] = typeof v === 'bigint' ? toIntCell(v) : (v as Cell);
        return out;
      });
    },
    async close() {
      db.close();
    },
  };
}

// ---------------------------------------------------------------------------------------------------------
// Values

/** An integer as a number when exact, else a bigint. */
export const toIntCell = (v: bigint): number | bigint => (v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v);

const TS = /^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}:\d{2}(?:\.\d+)?)(Z|[+-]\d{2}(?::?\d{2})?)?$/;

/** A printed timestamp in ISO 8601: `T` between date and time, zone `Z` or ±HH:MM when it has one. */
export function isoOf(text: string): string {
  const m = TS.exec(text);
  if (!m) return text; // infinity, BC dates…: kept as printed
  const zone = m[3] === undefined ? '' : /^[+-]00(:?00)?$/.test(m[3]) || m[3] === 'Z' ? 'Z' : m[3].length === 3 ? `${m[3]}:00` : m[3].replace(/^([+-]\d{2})(\d{2})$/, '$1:$2');
  return `${m[1]}T${m[2]}${zone}`;
}

/**
 * A row as JSON-able values, the same whatever the driver: integers beyond 2^53 and decimals as strings
 * (exact), timestamps in ISO 8601, bytes in base64, Dates in ISO 8601 UTC, non-finite floats as strings.
 */
export function jsonOf(v: Cell): unknown {
  if (v === null || typeof v === 'boolean' || typeof v === 'string') return v;
  if (typeof v === 'number') return Number.isFinite(v) ? v : String(v);
  if (typeof v === 'bigint') return v.toString();
  if (v instanceof SqlTimestamp) return v.iso;
  if (v instanceof Date) return Number.isNaN(v.getTime()) ? null : v.toISOString();
  if (v instanceof Uint8Array) return Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64');
  if (Array.isArray(v)) return v.map(jsonOf);
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v as Record<string, Cell>)) out[k] = jsonOf(x);
  return out;
}
