import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Sqlite from 'better-sqlite3';
import { CompiledQuery, Kysely, SqliteDialect, SqliteDriver, type DatabaseConnection, type Driver } from 'kysely';
import type { Database } from '../schema.js';
import type { StoreDialect } from '../dialect.js';

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
    connect() {
      mkdirSync(dirname(config.file), { recursive: true });
      const db = new Sqlite(config.file);
      handle = db;
      db.pragma('journal_mode = WAL');
      db.pragma(`synchronous = ${config.synchronous ?? 'FULL'}`);
      db.pragma('busy_timeout = 10000');
      db.pragma('foreign_keys = ON');
      db.pragma('cache_size = -65536');
      return new Kysely<Database>({ dialect: new ImmediateSqliteDialect({ database: withStatementCache(db) }) });
    },
  };
}

/**
 * Kysely prepares every query anew; preparing costs more than running most of ours. The same SQL text
 * (parameters are bound, so the text repeats) reuses its prepared statement. Bounded: a query whose text
 * varies with an IN-list length adds entries, and the oldest are dropped.
 */
function withStatementCache(db: Sqlite.Database, max = 2000): Sqlite.Database {
  const cache = new Map<string, Sqlite.Statement>();
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
          if (cache.size >= max) cache.delete(cache.keys().next().value!);
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
  override async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('begin immediate'));
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
