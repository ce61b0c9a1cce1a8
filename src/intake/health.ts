/**
 * Receivers under supervision (issue 19 item 7): each is started on its own, so one that cannot start (its broker
 * is down, its port is taken) is retried with backoff while the others run; each one's status (Receiver.status, or
 * what the supervisor knows) is written to the store every few seconds, so the API, /metrics and `fido receivers`
 * of every process read the same health. A row a process stopped refreshing is reported `unknown`.
 */
import type { Store } from '../store/store.js';
import type { Logger } from '../util/log.js';
import type { SourceConfig } from '../config/schema.js';
import type { Receiver, ReceiverStatus } from './receiver.js';
import { errorContext } from '../util/log.js';

export interface RunningReceiver {
  source: string;
  kind: string;
  receiver: Receiver;
}

export interface SupervisorOptions {
  /** How often the statuses are written (default 5 s). */
  reportEveryMs?: number;
  /** First wait before a failed start is tried again; doubles up to 5 minutes (default 5 s). */
  retryStartMs?: number;
}

const MAX_RETRY_MS = 5 * 60_000;
const MAX_ERROR_CHARS = 500;

export class ReceiverSupervisor {
  private readonly started = new Map<string, boolean>();
  private readonly startErrors = new Map<string, string>();
  private readonly retries = new Map<string, NodeJS.Timeout>();
  private reportTimer: NodeJS.Timeout | null = null;
  private stopped = false;

  constructor(
    private readonly store: Store,
    readonly receivers: readonly RunningReceiver[],
    private readonly owner: string,
    private readonly log: Logger,
    private readonly opts: SupervisorOptions = {},
  ) {}

  /** Starts every receiver; never throws (a failed start is retried and reported). */
  async start(): Promise<void> {
    await Promise.all(this.receivers.map((r) => this.startOne(r, this.opts.retryStartMs ?? 5000)));
    await this.report();
    this.reportTimer = setInterval(() => void this.report(), this.opts.reportEveryMs ?? 5000);
    this.reportTimer.unref();
  }

  private async startOne(r: RunningReceiver, wait: number): Promise<void> {
    if (this.stopped) return;
    try {
      await r.receiver.start();
      this.started.set(r.source, true);
      this.startErrors.delete(r.source);
    } catch (err) {
      const message = (err instanceof Error ? err.message : String(err)).slice(0, MAX_ERROR_CHARS);
      this.startErrors.set(r.source, `could not start: ${message}`);
      this.log.error({ source: r.source, kind: r.kind, err: errorContext(err), retry_in_ms: wait }, 'receiver: start failed; the others run, this one is retried');
      // Whatever it opened before failing is closed before the next try.
      await r.receiver.stop().catch(() => undefined);
      const t = setTimeout(() => {
        this.retries.delete(r.source);
        void this.startOne(r, Math.min(MAX_RETRY_MS, wait * 2));
      }, wait);
      t.unref();
      this.retries.set(r.source, t);
    }
  }

  /** Each receiver's status now: its own, or (before it started, or for a kind that reports none) the supervisor's. */
  statuses(): Array<RunningReceiver & { status: ReceiverStatus }> {
    return this.receivers.map((r) => {
      const startError = this.startErrors.get(r.source);
      const own = this.started.get(r.source) ? r.receiver.status?.() : undefined;
      const status: ReceiverStatus = startError
        ? { state: 'failing', last_record_at: null, records: 0, lag_ms: null, error: startError, cursor: null }
        : own ?? { state: this.stopped ? 'stopped' : this.started.get(r.source) ? 'running' : 'paused', last_record_at: null, records: 0, lag_ms: null, error: null, cursor: null };
      return { ...r, status: this.stopped ? { ...status, state: 'stopped' } : status };
    });
  }

  /** Writes every status (one upsert per receiver); a failed write is logged and tried again at the next tick. */
  async report(now = Date.now()): Promise<void> {
    try {
      for (const r of this.statuses()) {
        const s = r.status;
        const row = {
          kind: r.kind,
          owner: this.owner,
          state: s.state,
          last_record_at: s.last_record_at,
          records: s.records,
          lag_ms: s.lag_ms === null ? null : Math.round(s.lag_ms),
          error: s.error === null ? null : s.error.slice(0, MAX_ERROR_CHARS),
          cursor: s.cursor === null ? null : s.cursor.slice(0, MAX_ERROR_CHARS),
          updated_at: now,
        };
        await this.store.db
          .insertInto('receiver_status')
          .values({ source: r.source, ...row })
          .onConflict((oc) => oc.column('source').doUpdateSet(row))
          .execute();
      }
    } catch (err) {
      this.log.warn({ err: errorContext(err) }, 'receivers: their health could not be written; tried again at the next report');
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.reportTimer) clearInterval(this.reportTimer);
    for (const t of this.retries.values()) clearTimeout(t);
    this.retries.clear();
    for (const r of this.receivers) {
      await r.receiver.stop().catch((err: unknown) => this.log.warn({ source: r.source, err: errorContext(err) }, 'receiver: stop failed'));
    }
    await this.report();
  }
}

/** One source's receiver as `GET /receivers` and `fido receivers` show it. */
export interface ReceiverHealth {
  /** The source's name. */
  name: string;
  kind: string;
  state: ReceiverStatus['state'] | 'unknown';
  /** The process that reported it (null for HTTP intake, which every API process serves). */
  owner: string | null;
  last_record_at: number | null;
  records: number | null;
  lag_ms: number | null;
  error: string | null;
  cursor: string | null;
  /** When the status was written (null: never). */
  reported_at: number | null;
}

/** A status not refreshed for this many report periods is from a process that is gone. */
export const STALE_AFTER_MS = 30_000;

/**
 * Every configured source's receiver: the stored status of the ones that run a task of their own (stale ones are
 * `unknown`), and for HTTP intake the newest record received (`lastRecords`: source → epoch ms).
 */
export async function readReceiverHealth(
  store: Store,
  sources: Iterable<SourceConfig>,
  lastRecords: ReadonlyMap<string, number>,
  /** This process takes HTTP intake: its HTTP sources are running (another process's are not seen from here). */
  httpHere: boolean,
  now = Date.now(),
): Promise<ReceiverHealth[]> {
  const rows = new Map((await store.db.selectFrom('receiver_status').selectAll().execute()).map((r) => [r.source, r]));
  const out: ReceiverHealth[] = [];
  for (const s of sources) {
    const kind = s.receiver?.kind ?? 'http';
    const row = rows.get(s.name);
    const last = lastRecords.get(s.name) ?? null;
    if (kind === 'http' || !row) {
      out.push({ name: s.name, kind, state: kind === 'http' && httpHere ? 'running' : 'unknown', owner: null, last_record_at: last, records: null, lag_ms: null, error: null, cursor: null, reported_at: null });
      continue;
    }
    const reportedAt = Number(row.updated_at);
    const stale = now - reportedAt > STALE_AFTER_MS && row.state !== 'stopped';
    out.push({
      name: s.name,
      kind,
      state: stale ? 'unknown' : (row.state as ReceiverStatus['state']),
      owner: row.owner,
      last_record_at: row.last_record_at === null ? last : Number(row.last_record_at),
      records: Number(row.records),
      lag_ms: row.lag_ms === null ? null : Number(row.lag_ms),
      error: row.error,
      cursor: row.cursor,
      reported_at: reportedAt,
    });
  }
  return out;
}
