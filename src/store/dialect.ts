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
  /**
   * Calls `onCommit` soon after another connection (process or thread) commits work (queue hand-offs,
   * outbox rows), so that idle loops can sleep instead of polling. Returns the function that stops watching.
   * SQLite: `PRAGMA data_version` checked every few milliseconds. PostgreSQL: LISTEN on the channel that
   * the queue's insert trigger notifies.
   */
  watchCommits(onCommit: () => void): () => void;
  /**
   * Runs `fn` on one connection whose commits may be lost in a power failure (never in a process crash)
   * because they would be redone: pipeline claims and stage results, which are recomputed from the intake
   * log. The log is one file, so any later durable commit (intake, the outbox) makes them durable too.
   * `fn` must use only the `db` it is given. SQLite: synchronous=NORMAL for the duration (no fsync per
   * commit). Leave it out to commit as usual.
   */
  redoable?<T>(db: Kysely<Database>, fn: (db: Kysely<Database>) => Promise<T>): Promise<T>;
}
