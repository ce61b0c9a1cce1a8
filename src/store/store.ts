import { join } from 'node:path';
import type { Kysely, Transaction } from 'kysely';
import type { Database } from './schema.js';
import type { DialectName, StoreDialect } from './dialect.js';
import { sqliteDialect } from './sqlite/dialect.js';
import { postgresDialect } from './postgres/dialect.js';
import { migrate } from './migrate.js';
import { AlertDocs } from './alert-docs.js';

export type Db = Kysely<Database>;
export type Tx = Transaction<Database>;

export interface Store {
  readonly db: Db;
  readonly dialect: DialectName;
  /** PostgreSQL claims add FOR UPDATE SKIP LOCKED so that several processes can share the work. */
  readonly skipLocked: boolean;
  /** The alert documents this process has parsed (alert-docs.ts). */
  readonly alertDocs: AlertDocs;
  /** See StoreDialect.watchCommits. */
  watchCommits(onCommit: () => void): () => void;
  /** See StoreDialect.redoable: `fn` commits without waiting for the disk where the dialect can. */
  redoable<T>(fn: (db: Db) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

export interface StoreOptions {
  /** postgres://… selects PostgreSQL; otherwise the SQLite file under dataDir. */
  databaseUrl?: string | undefined;
  dataDir: string;
  sqliteSynchronous?: 'FULL' | 'NORMAL';
  /** Parsed alert documents kept in memory (AlertDocs); default 50,000. */
  cachedAlerts?: number | undefined;
}

export function dialectFor(options: StoreOptions): StoreDialect {
  const url = options.databaseUrl;
  if (url && /^postgres(ql)?:\/\//.test(url)) return postgresDialect({ url });
  if (url && url.startsWith('sqlite:')) return sqliteDialect({ file: url.slice('sqlite:'.length), synchronous: options.sqliteSynchronous });
  if (url) throw new Error(`FIDO_DATABASE_URL: expected postgres://… or sqlite:PATH, got "${url.split(':')[0]}:…"`);
  return sqliteDialect({ file: join(options.dataDir, 'fido.db'), synchronous: options.sqliteSynchronous });
}

/** Opens the store and brings its schema up to date. */
export async function openStore(options: StoreOptions): Promise<Store> {
  const dialect = dialectFor(options);
  await dialect.prepare?.();
  const db = dialect.connect();
  await migrate(db, dialect.name);
  const watchers = new Set<() => void>();
  return {
    db,
    dialect: dialect.name,
    skipLocked: dialect.skipLocked,
    alertDocs: new AlertDocs(options.cachedAlerts),
    redoable: (fn) => (dialect.redoable ? dialect.redoable(db, fn) : fn(db)),
    watchCommits(onCommit) {
      const stop = dialect.watchCommits(onCommit);
      watchers.add(stop);
      return () => {
        watchers.delete(stop);
        stop();
      };
    },
    async close() {
      for (const stop of watchers) stop(); // a LISTEN connection would keep the process alive
      watchers.clear();
      await db.destroy();
    },
  };
}
