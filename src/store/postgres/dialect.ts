import pg from 'pg';
import { Kysely, PostgresDialect } from 'kysely';
import type { Database } from '../schema.js';
import type { StoreDialect } from '../dialect.js';

// int8 columns (epoch-ms times, counts) come back as strings by default; every value we store fits a double.
pg.types.setTypeParser(20, (v) => Number(v));

export interface PostgresConfig {
  /** postgres://user@host:port/db; an optional `?schema=name` puts Fido's tables in that schema. */
  url: string;
  poolSize?: number;
}

/** Splits our own `schema` parameter off the URL, since libpq does not know it. */
export function parsePostgresUrl(url: string): { connectionString: string; schema: string | null } {
  const u = new URL(url);
  const schema = u.searchParams.get('schema');
  u.searchParams.delete('schema');
  if (schema !== null && !/^[a-z_][a-z0-9_]{0,62}$/.test(schema)) {
    throw new Error(`FIDO_DATABASE_URL: schema "${schema}" must be a lower-case identifier`);
  }
  return { connectionString: u.toString(), schema };
}

export function postgresDialect(config: PostgresConfig): StoreDialect {
  const { connectionString, schema } = parsePostgresUrl(config.url);
  const poolConfig: pg.PoolConfig = { connectionString, max: config.poolSize ?? 10 };
  if (schema) poolConfig.options = `-c search_path=${schema}`;
  return {
    name: 'postgres',
    skipLocked: true,
    async prepare() {
      if (!schema) return;
      const client = new pg.Client({ connectionString });
      await client.connect();
      try {
        await client.query(`create schema if not exists ${schema}`);
      } finally {
        await client.end();
      }
    },
    connect() {
      return new Kysely<Database>({ dialect: new PostgresDialect({ pool: new pg.Pool(poolConfig) }) });
    },
    watchCommits(onCommit) {
      return listen(poolConfig, WORK_CHANNEL, onCommit);
    },
  };
}

/** The channel the stage_queue and actions insert triggers notify (migration 0002). */
export const WORK_CHANNEL = 'fido_work';

/**
 * LISTEN on its own connection, reconnecting after a second when the connection drops; while it is down
 * the idle loops' timeout still finds the work, only later.
 */
function listen(poolConfig: pg.PoolConfig, channel: string, onNotify: () => void): () => void {
  let client: pg.Client | null = null;
  let stopped = false;
  let retry: NodeJS.Timeout | null = null;
  const hangUp = (c: pg.Client) => {
    c.removeAllListeners();
    c.on('error', () => undefined);
    void c.end().catch(() => undefined);
  };
  const connect = () => {
    if (stopped) return;
    const c = new pg.Client(poolConfig);
    client = c;
    const again = () => {
      hangUp(c);
      if (client === c) client = null;
      if (!stopped && !retry) retry = setTimeout(() => ((retry = null), connect()), 1000).unref();
    };
    c.on('notification', () => onNotify());
    c.on('error', again);
    c.on('end', again);
    c.connect()
      .then(() => c.query(`listen ${channel}`))
      .then(() => onNotify()) // anything committed while not listening
      .catch(again);
  };
  connect();
  return () => {
    stopped = true;
    if (retry) clearTimeout(retry);
    if (client) hangUp(client);
    client = null;
  };
}
