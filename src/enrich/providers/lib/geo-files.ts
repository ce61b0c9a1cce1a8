/**
 * Database files of the geoip provider (MMDB, range CSVs): checked at start so that a missing file fails the
 * configuration with its key and path, loaded now or on first use (the ASN CSVs take a second and tens of MB,
 * which a Fido that never sees a public address should not pay), and reloaded when their size or mtime
 * changes (checked at most once per `checkEveryMs`). A reload that fails keeps the data already loaded, as
 * localfile.ts does for text files: a half-copied database update never empties the answers.
 */
import { createHash } from 'node:crypto';
import { statSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { log } from '../../../util/log.js';
import { DataFileError } from '../../localfile.js';

export interface DbFile<T> {
  /** The config key that named it (country_db, asn_csv…), for messages. */
  readonly key: string;
  readonly path: string;
  /** The data, loading it first if needed (and reloading it if the file changed). */
  get(): Promise<T>;
  /** path + size + mtime as now on disk (checked at most once per checkEveryMs): changes when the data may. */
  identity(): Promise<string>;
}

/** Thrown for a file that a config key names and that cannot be used; the message names both. */
export class DbFileError extends Error {
  override readonly name = 'DbFileError';
  constructor(
    readonly key: string,
    readonly path: string,
    reason: string,
    /** The reason already names the file (and line): `file:line: …` from a DataFileError. */
    located = false,
  ) {
    super(located ? `${key}: ${reason}` : `${key}: ${path}: ${reason}`);
  }
}

export function dbFile<T>(
  key: string,
  path: string,
  load: (path: string) => Promise<T>,
  opts: { now: () => number; checkEveryMs?: number },
): DbFile<T> {
  const checkEvery = opts.checkEveryMs ?? 1000;
  let onDisk = statIdentity(key, path);
  let lastCheck = opts.now();
  let loaded: { data: T; identity: string } | null = null;
  let loading: Promise<T> | null = null;
  // The version of the file that failed to load, so that it is not parsed again on every lookup.
  let failure: { identity: string; error: DbFileError } | null = null;
  let statWarned = false;

  async function refreshStat(): Promise<void> {
    const now = opts.now();
    if (now - lastCheck < checkEvery && now >= lastCheck) return;
    lastCheck = now;
    try {
      const st = await stat(path);
      onDisk = `${path}\u0000${st.size}\u0000${st.mtimeMs}`;
      statWarned = false;
    } catch (e) {
      // Gone for now (being replaced?): keep serving what is loaded.
      if (!statWarned) log.warn({ file: path, err: (e as Error).message }, 'geoip: cannot stat database file; keeping the loaded data');
      statWarned = true;
    }
  }

  function startLoad(identity: string): Promise<T> {
    const t0 = performance.now();
    loading ??= load(path)
      .then((data) => {
        loaded = { data, identity };
        failure = null;
        log.info({ file: path, ms: Math.round(performance.now() - t0) }, 'geoip: loaded database file');
        return data;
      })
      .catch((e: unknown) => {
        const error = e instanceof DbFileError ? e : new DbFileError(key, path, (e as Error).message, e instanceof DataFileError);
        failure = { identity, error };
        if (!loaded) throw error;
        log.warn({ file: path, err: error.message }, 'geoip: reload failed; keeping the previous data');
        return loaded.data;
      })
      .finally(() => {
        loading = null;
      });
    return loading;
  }

  return {
    key,
    path,
    async identity() {
      await refreshStat();
      return onDisk;
    },
    async get() {
      await refreshStat();
      if (loading) return loading;
      if (loaded?.identity === onDisk) return loaded.data;
      if (failure?.identity === onDisk) {
        if (loaded) return loaded.data;
        throw failure.error;
      }
      return startLoad(onDisk);
    },
  };
}

/** The file's identity now; a missing or unreadable file throws naming key and path. */
function statIdentity(key: string, path: string): string {
  try {
    const st = statSync(path);
    if (!st.isFile()) throw new DbFileError(key, path, 'not a file');
    return `${path}\u0000${st.size}\u0000${st.mtimeMs}`;
  } catch (e) {
    if (e instanceof DbFileError) throw e;
    throw new DbFileError(key, path, `cannot read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

/** One short hash of several identities: the provider's revision(). */
export function identityHash(identities: readonly string[]): string {
  return createHash('sha256').update(identities.join('\n')).digest('hex').slice(0, 16);
}
