/**
 * Real stores for tests: a fresh SQLite file in a temp dir, and a fresh schema on the PostgreSQL server of
 * this machine (FIDO_TEST_PG_URL, default postgres://postgres@127.0.0.1:5432/test). Both are dropped after.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { openStore, type Store } from '../../src/store/store.js';
import type { DialectName } from '../../src/store/dialect.js';

export const PG_URL = process.env.FIDO_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
export const DIALECTS: readonly DialectName[] = ['sqlite', 'postgres'];

export interface TestStore {
  store: Store;
  /** The FIDO_DATABASE_URL that reaches this store (for child processes). */
  url: string;
  dataDir: string;
  cleanup(): Promise<void>;
}

export function tempDir(prefix = 'fido-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export async function openTestStore(dialect: DialectName): Promise<TestStore> {
  const dataDir = tempDir();
  if (dialect === 'sqlite') {
    const url = `sqlite:${join(dataDir, 'fido.db')}`;
    return testStore(await openStore({ databaseUrl: url, dataDir, sqliteSynchronous: 'NORMAL' }), url, dataDir);
  }
  const schema = `fido_t_${randomBytes(6).toString('hex')}`;
  const u = new URL(PG_URL);
  u.searchParams.set('schema', schema);
  const url = u.toString();
  return testStore(await openStore({ databaseUrl: url, dataDir }), url, dataDir, async () => {
    const c = new pg.Client({ connectionString: PG_URL });
    await c.connect();
    await c.query(`drop schema if exists ${schema} cascade`);
    await c.end();
  });
}

/** Cleanup closes the store, then drops what else the store left (`dropRest`: a PostgreSQL schema), then the data dir. */
function testStore(store: Store, url: string, dataDir: string, dropRest?: () => Promise<void>): TestStore {
  return {
    store,
    url,
    dataDir,
    async cleanup() {
      await store.close();
      await dropRest?.();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Where a test store lives (a SQLite file, or a PostgreSQL schema of its own), and how to remove it. */
export interface StorePlace {
  dialect: DialectName;
  url: string;
  dataDir: string;
  drop(): Promise<void>;
}

export function newStorePlace(dialect: DialectName): StorePlace {
  const dataDir = tempDir('fido-migrate-');
  if (dialect === 'sqlite') return { dialect, url: `sqlite:${join(dataDir, 'fido.db')}`, dataDir, drop: async () => rmSync(dataDir, { recursive: true, force: true }) };
  const schema = `fido_t_${randomBytes(6).toString('hex')}`;
  const u = new URL(PG_URL);
  u.searchParams.set('schema', schema);
  return {
    dialect,
    url: u.toString(),
    dataDir,
    async drop() {
      const c = new pg.Client({ connectionString: PG_URL });
      await c.connect();
      await c.query(`drop schema if exists ${schema} cascade`);
      await c.end();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
