/**
 * What differs between the embedded SQLite store and the PostgreSQL scale-out store. Each dialect is one
 * folder implementing this interface; `sqlite/dialect.ts` is the reference implementation.
 */
import type { Kysely } from 'kysely';
import type { Database } from './schema.js';

export type DialectName = 'sqlite' | 'postgres';

export interface StoreDialect {
  readonly name: DialectName;
  /** Opens the connection (pool) and returns a Kysely instance over it. */
  connect(): Kysely<Database>;
  /** Row-lock hint for claims: "for update skip locked" on PostgreSQL, nothing on SQLite (one writer). */
  readonly skipLocked: boolean;
  /** Called once before migrations, e.g. to create the schema named in the URL. */
  prepare?(): Promise<void>;
}
