import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Sqlite from 'better-sqlite3';
import { CompiledQuery, Kysely, sql, SqliteDialect, SqliteDriver, type DatabaseConnection, type Driver, type QueryResult } from 'kysely';
import type { Database } from '../schema.js';
import type { StoreDialect } from '../dialect.js';
import { statementTimes } from '../sql-times.js';

export interface SqliteConfig {
  /** Path of the database file. */
  file: string;
  /**
   * FULL (default) makes every acknowledged commit survive power loss; NORMAL only survives process crashes
   * but is faster. Either way WAL lets the API read while the pipeline writes.
   */
  synchronous?: 'FULL' | 'NORMAL';
}

/** How often an idle process looks for other connections' commits (a read of a counter in shared memory). */
const WATCH_INTERVAL_MS = 5;
/** How long a statement waits for another connection's write lock before it fails with SQLITE_BUSY. */
const LOCK_TIMEOUT_MS = 10_000;

export function sqliteDialect(config: SqliteConfig): StoreDialect {
  let handle: Sqlite.Database | null = null;
  return {
    name: 'sqlite',
    skipLocked: false,
    watchCommits(onCommit) {
      // data_version changes only for commits made by OTHER connections: our own are signalled in process.
      const version = () => (handle?.open ? handle.pragma('data_version', { simple: true }) : null);
      let last = version();
      const timer = setInterval(() => {
        const v = version();
        if (v !== last && last !== null && v !== null) onCommit();
        last = v;
      }, WATCH_INTERVAL_MS);
      timer.unref();
      return () => clearInterval(timer);
    },
    async redoable(db, fn) {
      if (config.synchronous === 'NORMAL') return fn(db);
      return db.connection().execute(async (conn) => {
        await sql`pragma synchronous = NORMAL`.execute(conn);
        try {
          return await fn(conn);
        } finally {
          await sql`pragma synchronous = FULL`.execute(conn);
        }
      });
    },
    connect() {
      mkdirSync(dirname(config.file), { recursive: true });
      const db = new Sqlite(config.file);
      handle = db;
      db.pragma('journal_mode = WAL');
      db.pragma(`synchronous = ${config.synchronous ?? 'FULL'}`);
      db.pragma(`busy_timeout = ${LOCK_TIMEOUT_MS}`);
      db.pragma('foreign_keys = ON');
      db.pragma('cache_size = -65536');
      // Multi-row statements keep a statement journal (to undo just that statement); past 64 KiB SQLite put
      // it in a temporary file, a fifth of everything the pipeline wrote. In memory, it is never written.
      db.pragma('temp_store = MEMORY');
      // Checkpoint the WAL every ~40 MB instead of every ~4 MB: a page the pipeline rewrites many times
      // between two checkpoints is copied into the database once. With the above, the pipeline writes ~35%
      // fewer bytes and takes ~10% less time (bench/stages.ts).
      db.pragma('wal_autocheckpoint = 10000');
      // From here on a locked database is waited for by PatientConnection, without blocking the thread.
      db.pragma('busy_timeout = 0');
      return new Kysely<Database>({ dialect: new ImmediateSqliteDialect({ database: withStatementCache(db) }) });
    },
  };
}

/**
 * Kysely prepares every query anew; preparing costs more than running most of ours. The same SQL text
 * (parameters are bound, so the text repeats) reuses its prepared statement. Bounded by count and by the
 * length of the texts held: a multi-row insert of hundreds of rows is a statement of tens of kilobytes whose
 * compiled program is larger still, and a burst prepares one per batch size it meets (bench: held by count
 * alone, each connection's cache grew by hundreds of megabytes over a 300,000-alert burst).
 */
function withStatementCache(db: Sqlite.Database, max = 2000, maxChars = 2_000_000): Sqlite.Database {
  const cache = new Map<string, Sqlite.Statement>();
  let chars = 0;
  const prepare = db.prepare.bind(db);
  return new Proxy(db, {
    get(target, prop, receiver) {
      if (prop !== 'prepare') return Reflect.get(target, prop, receiver) as unknown;
      return (sql: string) => {
        let stmt = cache.get(sql);
        if (stmt) {
          cache.delete(sql);
        } else {
          stmt = prepare(sql);
          chars += sql.length;
          while (cache.size > 0 && (cache.size >= max || chars > maxChars)) {
            const oldest = cache.keys().next().value!;
            cache.delete(oldest);
            chars -= oldest.length;
          }
        }
        cache.set(sql, stmt);
        return stmt;
      };
    },
  });
}

/**
 * Transactions take the write lock when they begin (BEGIN IMMEDIATE). With a plain BEGIN a transaction that
 * reads and then writes fails at once with SQLITE_BUSY when another process (FIDO_ROLE=api beside
 * FIDO_ROLE=worker on one file) committed in between, instead of waiting for the lock; every Fido
 * transaction writes, so nothing is lost by taking the lock up front.
 */
class ImmediateSqliteDriver extends SqliteDriver {
  readonly #patient = new WeakMap<DatabaseConnection, PatientConnection>();
  override async acquireConnection(): Promise<DatabaseConnection> {
    const connection = await super.acquireConnection();
    let patient = this.#patient.get(connection);
    if (!patient) this.#patient.set(connection, (patient = new PatientConnection(connection)));
    return patient;
  }
  override async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('begin immediate'));
  }
}

/**
 * Waits for another connection's write lock (SQLITE_BUSY) by retrying every few milliseconds instead of in
 * SQLite's busy handler, which sleeps inside the call and so stops the whole thread: the intake thread then
 * answered no request while the pipeline thread committed, and the pipeline could not compute meanwhile.
 * Only a statement that did not start can be BUSY (transactions take the lock in BEGIN IMMEDIATE, and WAL
 * readers do not wait), so retrying it is safe.
 */
class PatientConnection implements DatabaseConnection {
  readonly #times = statementTimes();
  constructor(private readonly inner: DatabaseConnection) {}

  executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
    return this.#times ? this.#times.time(query.sql, () => this.#patiently<R>(query)) : this.#patiently<R>(query);
  }

  async #patiently<R>(query: CompiledQuery): Promise<QueryResult<R>> {
    const deadline = Date.now() + LOCK_TIMEOUT_MS;
    for (let delay = 1; ; delay = Math.min(delay * 2, 4)) {
      try {
        return await this.inner.executeQuery<R>(query);
      } catch (e) {
        if ((e as { code?: string }).code !== 'SQLITE_BUSY' || Date.now() > deadline) throw e;
      }
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }

  streamQuery<R>(query: CompiledQuery, chunkSize?: number): AsyncIterableIterator<QueryResult<R>> {
    return this.inner.streamQuery<R>(query, chunkSize);
  }
}

class ImmediateSqliteDialect extends SqliteDialect {
  readonly #config: ConstructorParameters<typeof SqliteDialect>[0];
  constructor(config: ConstructorParameters<typeof SqliteDialect>[0]) {
    super(config);
    this.#config = config;
  }
  override createDriver(): Driver {
    return new ImmediateSqliteDriver(this.#config);
  }
}
