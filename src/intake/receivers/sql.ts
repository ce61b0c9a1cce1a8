/**
 * The `sql` receiver kind: polls a SELECT on PostgreSQL, MySQL/MariaDB or SQLite and hands each row to the
 * intake as one JSON record (column names as keys; see sql/drivers.ts jsonOf for how values are written).
 *
 * - The user writes a plain SELECT. The receiver wraps it: `SELECT * FROM (<query>) q WHERE <cursor> ORDER BY
 *   <cursor columns> LIMIT <batch_size>`, the cursor values bound as parameters (never spliced into SQL).
 *   The connection is read-only where the database allows.
 * - `cursor: { column: id }`: rows with a larger id than the last taken. `cursor: { column: updated_at,
 *   tie_breaker: id }`: rows after the last (timestamp, id) pair, so equal timestamps across a batch boundary
 *   are neither skipped nor repeated. Rows whose cursor columns are NULL are skipped.
 * - The cursor is committed with the rows (`accept(…, { cursor })`): a crash or restart resumes exactly after
 *   the last committed row; no row is missed or delivered twice.
 * - Rows committed late with an older key: see sql/cursor.ts. With `lookback` (timestamp cursors), each poll
 *   re-reads from (newest timestamp taken − lookback) and skips the pairs the cursor remembers. A row is taken,
 *   once, if when a poll first sees it its timestamp is at most `lookback` older than the newest taken, and not
 *   older than the oldest remembered pair (the cursor keeps at most `lookback_keys`); otherwise it is missed.
 *   Without `lookback`, any row that becomes visible behind the cursor is missed.
 * - Errors (connection, query, a cursor value of the wrong type) are logged, shown in status() and retried with
 *   backoff, reconnecting; they never stop other receivers. Messages never carry the password.
 * - On BackpressureError the same rows are offered again after the advised delay; the cursor does not move.
 * - A lease row `sql:<source>` makes one of several processes sharing a PostgreSQL store poll.
 */
import { Type, type Static } from 'typebox';
import { parseDuration } from '../../config/duration.js';
import { Duration, type SourceConfig } from '../../config/schema.js';
import { defineReceiver, type IntakeRecord, type ReceiverDeps } from '../receiver.js';
import { PolledReceiver } from '../polled.js';
import { advance, buildPoll, cursorText, microsOf, parseCursor, type CursorSpec, type SqlCursor } from '../sql/cursor.js';
import { connect, dialectOf, jsonOf, redactUrl, type Row, type SqlConnection } from '../sql/drivers.js';

// ---------------------------------------------------------------------------------------------------------
// Settings

const Ident = Type.String({ pattern: '^[A-Za-z_][A-Za-z0-9_]{0,62}$', description: "A column name of the query's result, exactly as it comes back" });

export const SqlReceiverSchema = Type.Object(
  {
    name: Type.String(),
    kind: Type.Literal('sql'),
    url: Type.String({
      minLength: 1,
      description: 'postgres://user@host:5432/db, mysql://… or mariadb://…, or sqlite:PATH (relative to the config file); a password in it should be a secret reference',
    }),
    password: Type.Optional(Type.String({ description: 'A secret reference such as ${env:ALERTS_DB_PASSWORD}; overrides the URL\u2019s' })),
    tls: Type.Optional(Type.Boolean({ description: 'Connect with TLS, certificate verified (default false)' })),
    query: Type.String({ minLength: 1, description: 'A plain SELECT (no LIMIT/ORDER needed); the receiver adds the cursor filter, order and limit' }),
    cursor: Type.Object(
      {
        column: Ident,
        tie_breaker: Type.Optional(Ident),
      },
      { additionalProperties: false },
    ),
    interval: Type.Optional(Duration),
    batch_size: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000, description: 'Rows per poll and intake batch (default 500)' })),
    lookback: Type.Optional(Duration),
    lookback_keys: Type.Optional(Type.Integer({ minimum: 1, maximum: 100_000, description: 'Most keys remembered for the lookback window (default 10000)' })),
    detector: Type.Optional(Type.String({ description: "Detector for the rows; default the source's" })),
    query_timeout: Type.Optional(Duration),
  },
  { additionalProperties: false },
);
export type SqlReceiverConfig = Static<typeof SqlReceiverSchema>;

export interface SqlSettings {
  url: string;
  password?: string;
  tls: boolean;
  query: string;
  spec: CursorSpec;
  intervalMs: number;
  batchSize: number;
  queryTimeoutMs: number;
  detector: string | null;
}

const DEFAULTS = { interval: '10s', batch_size: 500, lookback_keys: 10_000, query_timeout: '60s' } as const;
const MIN_INTERVAL_MS = 10;

const key = (c: SqlReceiverConfig, k: string) => `sources.${c.name}.receiver.${k}`;

function problems(c: SqlReceiverConfig): { key: string; message: string }[] {
  const out: { key: string; message: string }[] = [];
  // A URL that is one secret reference as a whole is checked once resolved (create), not by `config validate`.
  if (!dialectOf(c.url) && !/^\$\{(env|file):/.test(c.url)) out.push({ key: 'url', message: 'must start with postgres://, mysql://, mariadb:// or sqlite:' });
  const dur = (k: 'interval' | 'lookback' | 'query_timeout') => {
    try {
      return c[k] === undefined ? null : parseDuration(c[k], key(c, k));
    } catch (e) {
      out.push({ key: k, message: (e as Error).message });
      return null;
    }
  };
  const interval = dur('interval');
  if (interval !== null && interval < MIN_INTERVAL_MS) out.push({ key: 'interval', message: `must be at least ${MIN_INTERVAL_MS}ms` });
  const lookback = dur('lookback');
  if (lookback && !c.cursor.tie_breaker) out.push({ key: 'lookback', message: 'needs a timestamp cursor with a tie_breaker (cursor: { column: updated_at, tie_breaker: id })' });
  dur('query_timeout');
  if (c.cursor.tie_breaker === c.cursor.column) out.push({ key: 'cursor.tie_breaker', message: 'must differ from cursor.column' });
  return out;
}

export function resolveSettings(c: SqlReceiverConfig, source: SourceConfig): SqlSettings {
  const p = problems(c);
  if (p.length) throw new Error(`${key(c, p[0]!.key)}: ${p[0]!.message}`);
  return {
    url: c.url,
    ...(c.password !== undefined ? { password: c.password } : {}),
    tls: c.tls ?? false,
    query: c.query,
    spec: {
      column: c.cursor.column,
      tieBreaker: c.cursor.tie_breaker ?? null,
      lookbackMs: c.lookback ? parseDuration(c.lookback, key(c, 'lookback')) : 0,
      maxKeys: c.lookback_keys ?? DEFAULTS.lookback_keys,
    },
    intervalMs: parseDuration(c.interval ?? DEFAULTS.interval, key(c, 'interval')),
    batchSize: c.batch_size ?? DEFAULTS.batch_size,
    queryTimeoutMs: parseDuration(c.query_timeout ?? DEFAULTS.query_timeout, key(c, 'query_timeout')),
    detector: c.detector ?? (source.detector && source.detector !== 'auto' ? source.detector : null),
  };
}

export const receiverName = (source: string): string => `sql:${source}`;

// ---------------------------------------------------------------------------------------------------------
// The receiver

export class SqlReceiver extends PolledReceiver<SqlCursor> {
  /** Strings that must never reach a log or status: the password, wherever it came from. */
  private readonly secrets: string[];
  private conn: SqlConnection | null = null;

  constructor(
    source: SourceConfig,
    private readonly sql: SqlSettings,
    deps: ReceiverDeps,
  ) {
    super('sql', receiverName(source.name), source.name, { intervalMs: sql.intervalMs, detector: sql.detector }, deps, deps.log.child({ receiver: 'sql', source: source.name, url: redactUrl(sql.url) }));
    this.secrets = [sql.password, ...urlPasswords(sql.url)].filter((s): s is string => !!s && s.length > 0);
  }

  protected parseCursor(stored: string): SqlCursor {
    return parseCursor(stored, this.sql.spec);
  }

  protected describeCursor(c: SqlCursor | null): string | null {
    return cursorText(c);
  }

  /** One poll: be connected, read and deliver a batch. True when there may be more at once. */
  protected async poll(): Promise<boolean> {
    this.conn ??= await connect({
      url: this.sql.url,
      ...(this.sql.password !== undefined ? { password: this.sql.password } : {}),
      tls: this.sql.tls,
      configDir: this.deps.configDir,
      connectTimeoutMs: 10_000,
      queryTimeoutMs: this.sql.queryTimeoutMs,
    });
    const { spec, batchSize } = this.sql;
    const poll = buildPoll(this.conn.dialect, this.sql.query, spec, this.cursor ?? null, batchSize);
    let rows: Row[];
    try {
      rows = await this.conn.query(poll.sql, poll.params);
    } catch (e) {
      throw new Error(`query failed: ${(e as Error).message}`);
    }
    const { take, next } = advance(spec, this.cursor ?? null, rows, batchSize);
    if (take.length > 0 && next) {
      const records: IntakeRecord[] = take.map((r) => ({ raw: JSON.stringify(jsonOf(r)) }));
      if (!(await this.deliver(records, next))) return false;
    }
    // A full page means more is waiting: poll again at once.
    const more = take.length >= batchSize;
    this.st = { ...this.st, state: 'running', error: null, cursor: cursorText(this.cursor ?? null), lag_ms: this.lag(more) };
    return more;
  }

  /** 0 when the last poll drained the query; else how old the newest row taken is (timestamp cursors). */
  private lag(more: boolean): number | null {
    if (!more) return 0;
    const m = this.cursor ? microsOf(this.cursor.last[0]!) : null;
    return m === null ? null : Math.max(0, Date.now() - Math.floor(m / 1000));
  }

  protected override errorText(e: unknown): string {
    let out = super.errorText(e);
    for (const s of this.secrets) out = out.split(s).join('***');
    if (this.sql.url) out = out.split(this.sql.url).join(redactUrl(this.sql.url));
    return out;
  }

  protected override async disconnect(): Promise<void> {
    const c = this.conn;
    this.conn = null;
    await c?.close().catch(() => undefined);
  }
}

/** The URL's password as written and decoded. */
function urlPasswords(url: string): string[] {
  if (dialectOf(url) === 'sqlite') return [];
  try {
    const p = new URL(url).password;
    return p ? [p, decodeURIComponent(p)] : [];
  } catch {
    return [];
  }
}

const sqlReceiver = defineReceiver({
  kind: 'sql',
  description: 'Polls a SELECT on PostgreSQL, MySQL/MariaDB or SQLite past a committed cursor, one JSON record per row',
  schema: SqlReceiverSchema,
  check: problems,
  create: async (config, deps) => new SqlReceiver(deps.source, resolveSettings(config, deps.source), deps),
});
export default sqlReceiver;
