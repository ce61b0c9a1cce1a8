/**
 * The three databases a SQL inventory (providers/sql_inventory.ts) can ask, behind one small interface: run a
 * prepared query (lib/sql-query.ts) with the subject bound as its only parameter, honour the lookup's
 * AbortSignal, and fail with a RemoteError whose message names the provider and never holds the connection
 * string or its password.
 *
 * Every session is read-only whatever the role may do (PostgreSQL `default_transaction_read_only`, MariaDB
 * `SET SESSION TRANSACTION READ ONLY`, SQLite opened read-only) and bounded by `statement_timeout`. An abort
 * answers at once; the statement still running on the server is cancelled from a second connection
 * (pg_cancel_backend / KILL QUERY, both allowed to a role on its own sessions) so that a hung query does not
 * hold a pool slot until its timeout.
 */
import { statSync } from 'node:fs';
import pg from 'pg';
import mysql from 'mysql2/promise';
import Sqlite from 'better-sqlite3';
import { RemoteError, type RemoteErrorReason } from '../../remote.js';
import { log } from '../../../util/log.js';
import type { PreparedQuery, SqlDialect } from './sql-query.js';
import type { SqlRow } from './sql-asset.js';

export interface SqlSource {
  run(query: PreparedQuery, value: string, signal: AbortSignal): Promise<SqlRow[]>;
  close(): Promise<void>;
}

export interface SqlSourceOptions {
  /** The provider's name, for messages. */
  name: string;
  driver: SqlDialect;
  /** postgres:// or mysql:// URL (secrets resolved), or the SQLite file's absolute path. */
  connection: string;
  poolSize: number;
  statementTimeoutMs: number;
}

export function openSqlSource(o: SqlSourceOptions): SqlSource {
  const fail = failure(o);
  switch (o.driver) {
    case 'postgres':
      return postgresSource(o, fail);
    case 'mariadb':
      return mariadbSource(o, fail);
    case 'sqlite':
      return sqliteSource(o, fail);
  }
}

type Fail = (e: unknown) => RemoteError;

/** Error codes: PostgreSQL SQLSTATEs and MariaDB errnos that mean "who you are is refused". */
const AUTH_CODES = new Set(['28P01', '28000', '42501', 'ER_ACCESS_DENIED_ERROR', 'ER_DBACCESS_DENIED_ERROR', 'ER_TABLEACCESS_DENIED_ERROR']);
const TRANSPORT_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'PROTOCOL_CONNECTION_LOST']);
const TIMEOUT_CODES = new Set(['57014', 'ER_STATEMENT_TIMEOUT']);

/** Driver error → RemoteError naming the provider, with every secret of the connection cut out. */
function failure(o: SqlSourceOptions): Fail {
  const secrets = new Set<string>([o.connection]);
  if (o.driver !== 'sqlite') {
    try {
      const u = new URL(o.connection);
      if (u.password) {
        secrets.add(u.password);
        secrets.add(decodeURIComponent(u.password));
      }
    } catch {
      /* not a URL: the whole string is already cut out */
    }
  }
  const cut = [...secrets].filter((s) => s.length >= 3).sort((a, b) => b.length - a.length);
  const scrub = (t: string) => cut.reduce((s, secret) => s.split(secret).join('[secret]'), t);
  return (e) => {
    if (e instanceof RemoteError) return e;
    const err = e as { message?: string; code?: string; errno?: number };
    // mysql2 has no name for MariaDB's 1969 (max_statement_time exceeded): go by number.
    const code = err.errno === 1969 ? 'ER_STATEMENT_TIMEOUT' : String(err.code ?? '');
    let reason: RemoteErrorReason = 'server';
    let message = err.message ?? String(e);
    if (AUTH_CODES.has(code)) reason = 'auth';
    else if (TRANSPORT_CODES.has(code)) reason = 'transport';
    else if (TIMEOUT_CODES.has(code)) message = `statement_timeout (${o.statementTimeoutMs}ms) exceeded: ${message}`;
    return new RemoteError(`sql_inventory "${o.name}" (${o.driver}): ${scrub(message)}`, reason);
  };
}

/** Rejects as soon as `signal` aborts; `cancel` then stops the server's work in the background. */
async function abortable<T>(work: Promise<T>, signal: AbortSignal, cancel: () => Promise<void>): Promise<T> {
  let onAbort!: () => void;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => {
      reject(signal.reason as Error);
      cancel().catch((e: unknown) => log.debug({ err: (e as Error).message }, 'sql_inventory: cancelling an aborted query failed'));
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
  // Aborted while waiting for a connection: the listener above will never fire.
  if (signal.aborted) onAbort();
  // The losing side of the race must not become an unhandled rejection.
  aborted.catch(() => undefined);
  work.catch(() => undefined);
  try {
    return await Promise.race([work, aborted]);
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
}

/**
 * The URL without its `options` parameter, and the server options with ours last: pg lets the URL's `options`
 * replace the config's, and the last `-c` of a setting wins, so a URL cannot turn the read-only session off.
 */
function postgresConnection(url: string, statementTimeoutMs: number): { connectionString: string; options: string } {
  const ours = `-c default_transaction_read_only=on -c statement_timeout=${Math.ceil(statementTimeoutMs)}`;
  try {
    const u = new URL(url);
    const theirs = u.searchParams.get('options');
    u.searchParams.delete('options');
    return { connectionString: u.toString(), options: theirs ? `${theirs} ${ours}` : ours };
  } catch {
    return { connectionString: url, options: ours };
  }
}

function postgresSource(o: SqlSourceOptions, fail: Fail): SqlSource {
  const { connectionString, options } = postgresConnection(o.connection, o.statementTimeoutMs);
  const base: pg.ClientConfig = { connectionString, application_name: 'fido-sql-inventory', connectionTimeoutMillis: Math.max(o.statementTimeoutMs, 5_000) };
  // Read-only and bounded for every session, whatever the role is granted.
  const pool = new pg.Pool({ ...base, options, max: o.poolSize, idleTimeoutMillis: 60_000 });
  // An idle connection dropped by the server must not crash the process; the next lookup reconnects.
  pool.on('error', (e) => log.warn({ provider: o.name, err: fail(e).message }, 'sql_inventory: idle connection lost'));
  return {
    async run(q, value, signal) {
      signal.throwIfAborted();
      let client: pg.PoolClient;
      try {
        client = await pool.connect();
      } catch (e) {
        throw fail(e);
      }
      const pid = (client as unknown as { processID: number | null }).processID;
      const cancel = async () => {
        if (!pid) return;
        const c = new pg.Client(base);
        await c.connect();
        try {
          await c.query('select pg_cancel_backend($1)', [pid]);
        } finally {
          await c.end();
        }
      };
      const work = client.query<SqlRow>({ text: q.sql, values: [value] }).then((r) => r.rows);
      // The connection returns to the pool when the statement ends, cancelled or not.
      work.then(
        () => client.release(),
        (e: unknown) => client.release(isBroken(e) ? (e as Error) : undefined),
      );
      try {
        return await abortable(work, signal, cancel);
      } catch (e) {
        if (signal.aborted) throw signal.reason;
        throw fail(e);
      }
    },
    close: () => pool.end(),
  };
}

/** A statement error leaves the connection usable; a lost connection must not go back to the pool. */
function isBroken(e: unknown): boolean {
  const { code, errno } = e as { code?: string; errno?: number };
  return (!code && errno === undefined) || TRANSPORT_CODES.has(String(code));
}

function mariadbSource(o: SqlSourceOptions, fail: Fail): SqlSource {
  // mysql2 reads user, password, host, port and database from the URL; mariadb:// is the same protocol.
  const uri = o.connection.replace(/^mariadb:/i, 'mysql:');
  const pool = mysql.createPool({ uri, connectionLimit: o.poolSize, dateStrings: true, supportBigNumbers: true, bigNumberStrings: true, connectTimeout: Math.max(o.statementTimeoutMs, 5_000) });
  // Sessions already set up, by their driver connection (the promise wrapper is new at each getConnection).
  const ready = new WeakSet<object>();
  const session = (conn: mysql.PoolConnection) => (conn as unknown as { connection: object }).connection;
  return {
    async run(q, value, signal) {
      signal.throwIfAborted();
      let conn: mysql.PoolConnection;
      try {
        conn = await pool.getConnection();
      } catch (e) {
        throw fail(e);
      }
      if (!ready.has(session(conn))) {
        try {
          // Once per session: read-only, and MariaDB's statement limit (seconds, fractions allowed).
          await conn.query('SET SESSION TRANSACTION READ ONLY');
          await conn.query('SET SESSION max_statement_time = ?', [o.statementTimeoutMs / 1000]);
          ready.add(session(conn));
        } catch (e) {
          // A session that is not read-only and bounded is never used.
          conn.destroy();
          throw fail(e);
        }
      }
      const threadId = conn.threadId;
      const cancel = async () => {
        const c = await mysql.createConnection({ uri, connectTimeout: 5_000 });
        try {
          await c.query('KILL QUERY ?', [threadId]);
        } finally {
          await c.end();
        }
      };
      const values = Array.from({ length: q.uses }, () => value);
      // execute(): a server-side prepared statement, so the value travels apart from the SQL text.
      const work = conn.execute(q.sql, values).then(([rows]) => rows as SqlRow[]);
      work.then(
        () => conn.release(),
        (e: unknown) => {
          if (isBroken(e)) conn.destroy();
          else conn.release();
        },
      );
      try {
        return await abortable(work, signal, cancel);
      } catch (e) {
        if (signal.aborted) throw signal.reason;
        throw fail(e);
      }
    },
    close: () => pool.end(),
  };
}

/**
 * SQLite answers synchronously, so an abort can only stop a lookup before it starts, and there is no statement
 * timeout: keep such files indexed. A file replaced by a new export (a new inode) is opened again.
 */
function sqliteSource(o: SqlSourceOptions, fail: Fail): SqlSource {
  const open = () => {
    try {
      return { db: new Sqlite(o.connection, { readonly: true, fileMustExist: true }), ino: statSync(o.connection).ino };
    } catch (e) {
      throw fail(e);
    }
  };
  let cur = open();
  const statements = new Map<string, Sqlite.Statement>();
  return {
    async run(q, value, signal) {
      signal.throwIfAborted();
      let ino: number;
      try {
        ino = statSync(o.connection).ino;
      } catch (e) {
        throw fail(e);
      }
      if (ino !== cur.ino) {
        const next = open();
        cur.db.close();
        statements.clear();
        cur = next;
      }
      try {
        let st = statements.get(q.sql);
        if (!st) statements.set(q.sql, (st = cur.db.prepare(q.sql)));
        return st.all({ value }) as SqlRow[];
      } catch (e) {
        throw fail(e);
      }
    },
    async close() {
      cur.db.close();
    },
  };
}
