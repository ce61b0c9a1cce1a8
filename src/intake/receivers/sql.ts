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
import { readCursorValue, type CursorRow } from '../../store/cursors.js';
import { Lease, leasesTable } from '../../store/lease.js';
import { errorContext, type Logger } from '../../util/log.js';
import { BackpressureError, defineReceiver, type IntakeRecord, type Receiver, type ReceiverDeps, type ReceiverStatus } from '../receiver.js';
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
const LEASE_MS = 30_000;
const MAX_BACKOFF_MS = 60_000;
const CURSOR_KEY = 'position';

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

export class SqlReceiver implements Receiver {
  private readonly log: Logger;
  private readonly lease: Lease;
  /** Strings that must never reach a log or status: the password, wherever it came from. */
  private readonly secrets: string[];
  private conn: SqlConnection | null = null;
  /** Committed position; undefined until loaded under the lease. */
  private cursor: SqlCursor | null | undefined = undefined;
  private stopping = false;
  private loop: Promise<void> | null = null;
  private wake: (() => void) | null = null;
  private st: ReceiverStatus = { state: 'stopped', last_record_at: null, records: 0, lag_ms: null, error: null, cursor: null };

  constructor(
    private readonly source: SourceConfig,
    private readonly settings: SqlSettings,
    private readonly deps: ReceiverDeps,
  ) {
    this.log = deps.log.child({ receiver: 'sql', source: source.name, url: redactUrl(settings.url) });
    this.lease = new Lease(leasesTable(deps.store.db, receiverName(source.name)), deps.owner, LEASE_MS);
    this.secrets = [settings.password, ...urlPasswords(settings.url)].filter((s): s is string => !!s && s.length > 0);
  }

  async start(): Promise<void> {
    if (this.loop) return;
    this.stopping = false;
    this.st = { ...this.st, state: 'running' };
    this.loop = this.run();
  }

  /** Lets an in-flight batch finish (its cursor is committed with it), then disconnects and releases the lease. */
  async stop(): Promise<void> {
    if (!this.loop) return;
    this.stopping = true;
    this.wake?.();
    await this.loop;
    this.loop = null;
    this.st = { ...this.st, state: 'stopped' };
  }

  status(): ReceiverStatus {
    return { ...this.st };
  }

  private async run(): Promise<void> {
    let failures = 0;
    while (!this.stopping) {
      try {
        const more = await this.iterate();
        failures = 0;
        if (!more) await this.sleep(this.settings.intervalMs);
      } catch (e) {
        failures++;
        const delay = Math.min(Math.max(this.settings.intervalMs, 100) * 2 ** (failures - 1), MAX_BACKOFF_MS);
        const message = this.redact(e instanceof Error ? e.message : String(e));
        this.st = { ...this.st, state: 'failing', error: message };
        this.log.error({ error: message, retry_in_ms: delay }, 'sql receiver failed; retrying');
        await this.disconnect();
        await this.sleep(delay);
      }
    }
    await this.shutdown();
  }

  /** One poll: hold the lease, be connected, read and deliver a batch. True when there may be more at once. */
  private async iterate(): Promise<boolean> {
    if (!(await this.holdLease())) {
      this.st = { ...this.st, state: 'paused', error: null };
      return false;
    }
    this.conn ??= await connect({
      url: this.settings.url,
      ...(this.settings.password !== undefined ? { password: this.settings.password } : {}),
      tls: this.settings.tls,
      configDir: this.deps.configDir,
      connectTimeoutMs: 10_000,
      queryTimeoutMs: this.settings.queryTimeoutMs,
    });
    const { spec, batchSize } = this.settings;
    const poll = buildPoll(this.conn.dialect, this.settings.query, spec, this.cursor ?? null, batchSize);
    let rows: Row[];
    try {
      rows = await this.conn.query(poll.sql, poll.params);
    } catch (e) {
      throw new Error(`query failed: ${(e as Error).message}`);
    }
    const { take, next } = advance(spec, this.cursor ?? null, rows, batchSize);
    if (take.length > 0 && next) {
      const records: IntakeRecord[] = take.map((r) => ({ raw: JSON.stringify(jsonOf(r)) }));
      if (!(await this.deliver(records, this.cursorRow(next)))) return false;
      this.cursor = next;
      this.st.records += records.length;
      this.st.last_record_at = Date.now();
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

  private cursorRow(c: SqlCursor): CursorRow {
    return { receiver: receiverName(this.source.name), key: CURSOR_KEY, value: JSON.stringify(c), updated_at: Date.now() };
  }

  /** Keeps the lease; on taking it, loads the cursor (another process may have moved it). */
  private async holdLease(): Promise<boolean> {
    const had = this.cursor !== undefined;
    const held = await this.lease.hold();
    if (held && !had) {
      const stored = await readCursorValue(this.deps.store.db, receiverName(this.source.name), CURSOR_KEY);
      this.cursor = stored === undefined ? null : parseCursor(stored, this.settings.spec);
      this.st.cursor = cursorText(this.cursor);
      this.log.info({ cursor: this.st.cursor }, 'lease taken; polling');
    } else if (!held && had) {
      this.log.warn('lease lost to another process; no longer polling');
      this.cursor = undefined;
    }
    return held;
  }

  /** Hands a batch to the intake; on backpressure waits and offers it again. False when it gave up. */
  private async deliver(records: readonly IntakeRecord[], cursor: CursorRow): Promise<boolean> {
    for (let attempt = 1; ; attempt++) {
      if (this.stopping) return false;
      try {
        await this.deps.intake.accept(this.source.name, this.settings.detector, records, { cursor });
        return true;
      } catch (e) {
        if (!(e instanceof BackpressureError)) throw e;
        const wait = Math.min(Math.max(e.retryAfterSeconds * 1000, this.settings.intervalMs), MAX_BACKOFF_MS);
        if (attempt === 1) this.log.warn({ retry_in_ms: wait }, 'intake backpressure; holding the batch');
        this.st = { ...this.st, state: 'paused' };
        await this.sleep(wait);
        if (!(await this.holdLease())) return false;
      }
    }
  }

  private redact(text: string): string {
    let out = text;
    for (const s of this.secrets) out = out.split(s).join('***');
    if (this.settings.url) out = out.split(this.settings.url).join(redactUrl(this.settings.url));
    return out;
  }

  private async disconnect(): Promise<void> {
    const c = this.conn;
    this.conn = null;
    await c?.close().catch(() => undefined);
  }

  private async shutdown(): Promise<void> {
    await this.disconnect();
    await this.lease.release().catch((e: unknown) => this.log.warn({ err: errorContext(e) }, 'releasing the lease failed'));
    this.cursor = undefined;
  }

  /** A sleep that stop() cuts short. */
  private sleep(ms: number): Promise<void> {
    if (this.stopping) return Promise.resolve();
    return new Promise((done) => {
      const finish = (): void => {
        clearTimeout(timer);
        if (this.wake === finish) this.wake = null;
        done();
      };
      const timer = setTimeout(finish, ms);
      this.wake = finish;
    });
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
