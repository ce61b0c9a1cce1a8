import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Sqlite from 'better-sqlite3';
import { Kysely, SqliteDialect } from 'kysely';
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

export function sqliteDialect(config: SqliteConfig): StoreDialect {
  return {
    name: 'sqlite',
    skipLocked: false,
    connect() {
      mkdirSync(dirname(config.file), { recursive: true });
      const db = new Sqlite(config.file);
      db.pragma('journal_mode = WAL');
      db.pragma(`synchronous = ${config.synchronous ?? 'FULL'}`);
      db.pragma('busy_timeout = 10000');
      db.pragma('foreign_keys = ON');
      db.pragma('cache_size = -65536');
      return new Kysely<Database>({ dialect: new SqliteDialect({ database: db }) });
    },
  };
}
