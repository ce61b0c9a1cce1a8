/** The store a CLI command works on: FIDO_DATABASE_URL, else the SQLite file under FIDO_DATA_DIR (./data). */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { openStore, type Store } from '../store/store.js';

/** Runs `fn` on the store, or says there is none (exit 1) instead of creating an empty one. */
export async function withCliStore(command: string, fn: (store: Store) => Promise<void>): Promise<void> {
  const dataDir = resolve(process.env.FIDO_DATA_DIR ?? './data');
  if (!process.env.FIDO_DATABASE_URL && !existsSync(join(dataDir, 'fido.db'))) {
    process.stderr.write(`fido ${command}: no store at ${dataDir} (set FIDO_DATA_DIR or FIDO_DATABASE_URL)\n`);
    process.exitCode = 1;
    return;
  }
  const store = await openStore({ databaseUrl: process.env.FIDO_DATABASE_URL, dataDir });
  try {
    await fn(store);
  } finally {
    await store.close();
  }
}
