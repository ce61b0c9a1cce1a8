/**
 * The store an offline command reads (backtest, policy explain): the one the configuration's processes use
 * (FIDO_DATABASE_URL, else FIDO_DATA_DIR/fido.db, as `fido start` opens it). Unlike `fido start`, a missing
 * embedded store is an error, not a new empty one: there would be nothing to read, and a typo in
 * FIDO_DATA_DIR should not leave a database behind.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { FidoConfig } from '../config/schema.js';
import { openStore, type Store } from '../store/store.js';
import { BacktestInputError } from './sources.js';

export async function openExistingStore(config: FidoConfig): Promise<Store> {
  const dataDir = resolve(process.env.FIDO_DATA_DIR ?? './data');
  const databaseUrl = process.env.FIDO_DATABASE_URL || undefined;
  const file = databaseUrl?.startsWith('sqlite:') ? databaseUrl.slice('sqlite:'.length) : databaseUrl ? null : join(dataDir, 'fido.db');
  if (file !== null && file !== ':memory:' && !existsSync(file)) {
    throw new BacktestInputError(`no store at ${file} (set FIDO_DATA_DIR or FIDO_DATABASE_URL to the one Fido runs with)`);
  }
  return openStore({ databaseUrl, dataDir, sqliteSynchronous: config.store?.sqlite_synchronous });
}
