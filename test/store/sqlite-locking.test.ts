/**
 * The SQLite store sharing one file between connections (threads of `fido start`, FIDO_ROLE processes):
 * waiting for another connection's write lock must not stop the thread, empty claims must not take the
 * lock, and redoable commits relax durability only while they run.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { rmSync } from 'node:fs';
import Sqlite from 'better-sqlite3';
import { sql } from 'kysely';
import { openStore, type Store } from '../../src/store/store.js';
import { backlog, claim, enqueue } from '../../src/store/queue.js';
import { DIALECTS, openTestStore, tempDir } from '../support/stores.js';

async function withFileStore(fn: (store: Store, other: Sqlite.Database) => Promise<void>): Promise<void> {
  const dir = tempDir();
  const store = await openStore({ databaseUrl: `sqlite:${join(dir, 'fido.db')}`, dataDir: dir, sqliteSynchronous: 'FULL' });
  // Another connection to the same file, as another thread or process has.
  const other = new Sqlite(join(dir, 'fido.db'));
  try {
    await fn(store, other);
  } finally {
    if (other.inTransaction) other.exec('rollback');
    other.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

test('sqlite store: a write waits for another connection’s lock without stopping the thread', () =>
  withFileStore(async (store, other) => {
    other.exec('begin immediate');
    // The lock is released by a timer on THIS thread: if waiting for the lock blocked the thread (SQLite's own
    // busy handler sleeps inside the call), the timer could not run until the wait gave up with SQLITE_BUSY.
    let ticks = 0;
    const ticker = setInterval(() => ticks++, 1);
    setTimeout(() => other.exec('rollback'), 50);
    try {
      await enqueue(store.db, 'enrich', ['a'], 1000);
    } finally {
      clearInterval(ticker);
    }
    assert.ok(ticks > 0, 'the thread ran timers while the write waited');
    assert.equal((await backlog(store.db)).enrich.items, 1);
  }));

test('sqlite store: an empty claim does not wait for the write lock; a claim with work does', () =>
  withFileStore(async (store, other) => {
    other.exec('begin immediate');
    // Nothing queued: the claim finds out by reading and returns at once, lock or no lock.
    assert.deepEqual(await claim(store, 'enrich', 'w', 10, 60_000), []);
    other.exec('rollback');

    await enqueue(store.db, 'enrich', ['a'], 1000);
    other.exec('begin immediate');
    let claimed = false;
    const pending = claim(store, 'enrich', 'w', 10, 60_000, 2000).then((items) => {
      claimed = true;
      return items;
    });
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(claimed, false, 'the claim waits while another connection holds the lock');
    other.exec('rollback');
    assert.deepEqual((await pending).map((i) => i.item_id), ['a']);
  }));

test('sqlite store: redoable work commits with synchronous=NORMAL, and FULL holds before and after', () =>
  withFileStore(async (store) => {
    const level = async (db: Store['db']) => (await sql<{ synchronous: number }>`pragma synchronous`.execute(db)).rows[0]!.synchronous;
    assert.equal(await level(store.db), 2); // FULL
    const inside = await store.redoable(async (db) => {
      await db.transaction().execute((tx) => enqueue(tx, 'enrich', ['a'], 1000));
      return level(db);
    });
    assert.equal(inside, 1); // NORMAL
    assert.equal(await level(store.db), 2);
    // A failure inside restores FULL too.
    await assert.rejects(store.redoable(() => Promise.reject(new Error('boom'))), /boom/);
    assert.equal(await level(store.db), 2);
    assert.equal((await backlog(store.db)).enrich.items, 1);
  }));

test('sqlite store: statement journals stay in memory; the WAL is checkpointed every 10,000 pages', () =>
  withFileStore(async (store) => {
    const pragma = async (name: string) => Object.values((await sql.raw<Record<string, number>>(`pragma ${name}`).execute(store.db)).rows[0]!)[0];
    assert.equal(await pragma('temp_store'), 2); // MEMORY
    assert.equal(await pragma('wal_autocheckpoint'), 10_000);
    assert.equal(await pragma('journal_mode'), 'wal');
  }));

for (const dialect of DIALECTS) {
  test(`store on ${dialect}: redoable work is committed like any other`, async () => {
    const t = await openTestStore(dialect);
    try {
      const n = await t.store.redoable(async (db) => {
        await db.transaction().execute((tx) => enqueue(tx, 'score', ['x', 'y'], 1000));
        return (await backlog(db)).score.items;
      });
      assert.equal(n, 2);
      assert.equal((await backlog(t.store.db)).score.items, 2);
    } finally {
      await t.cleanup();
    }
  });
}
