/**
 * What every receiver that polls under a lease shares (receivers/sql.ts, the vendor API pullers of pull/):
 * the start/stop lifecycle, the loop with backoff, a sleep that stop() cuts short, the lease that makes one of
 * several processes sharing a PostgreSQL store poll, a committed cursor loaded when the lease is taken, and
 * `deliver`, which hands a batch to the intake with its new cursor in the same commit and holds it through
 * backpressure. A subclass writes `poll` (one turn: read upstream, deliver) and, if it holds connections,
 * `disconnect`. Reference subclass: receivers/sql.ts.
 */
import { Lease, leasesTable } from '../store/lease.js';
import { readCursorValue, type CursorRow } from '../store/cursors.js';
import { errorContext, type Logger } from '../util/log.js';
import { BackpressureError, type IntakeRecord, type Receiver, type ReceiverDeps, type ReceiverStatus } from './receiver.js';
import { Sleeper } from './sleeper.js';

const LEASE_MS = 30_000;
const DEFAULT_MAX_BACKOFF_MS = 60_000;
const CURSOR_KEY = 'position';

export interface PolledSettings {
  /** Pause between polls that found nothing more to read. */
  intervalMs: number;
  /** Forced detector for the records, or null for auto-detection. */
  detector: string | null;
  /** Longest wait after repeated failures (default 60 s). */
  maxBackoffMs?: number;
}

/** A failure that says when to try again (an upstream 429 with Retry-After): the loop waits that long, not its backoff. */
export interface RetryLater {
  retryAfterMs?: number | undefined;
}

export abstract class PolledReceiver<C> implements Receiver {
  protected readonly log: Logger;
  /** The committed position: undefined until loaded under the lease, null when nothing was ever committed. */
  protected cursor: C | null | undefined = undefined;
  protected stopping = false;
  protected st: ReceiverStatus = { state: 'stopped', last_record_at: null, records: 0, lag_ms: null, error: null, cursor: null };
  private readonly lease: Lease;
  private loop: Promise<void> | null = null;
  private readonly naps = new Sleeper();

  /** `name` is the receiver's row in leases and receiver_cursors ("sql:alerts", "okta:okta-prod"); `kind` names it in logs. */
  constructor(
    protected readonly kind: string,
    protected readonly name: string,
    protected readonly sourceName: string,
    protected readonly settings: PolledSettings,
    protected readonly deps: ReceiverDeps,
    log: Logger,
  ) {
    this.log = log;
    this.lease = new Lease(leasesTable(deps.store.db, name), deps.owner, LEASE_MS);
  }

  /** One turn under the lease: read upstream and deliver. True when more is waiting (poll again at once). */
  protected abstract poll(): Promise<boolean>;
  /** The stored cursor text as C; throws when it cannot be read (the receiver then fails visibly, it never restarts from scratch). */
  protected abstract parseCursor(stored: string): C;
  /** The cursor as short text for status and logs. */
  protected abstract describeCursor(cursor: C | null): string | null;
  /** Closes upstream connections (after a failure, and on stop). */
  protected async disconnect(): Promise<void> {}
  /**
   * The wait between polls that found nothing more. A receiver that can be told of new data (IMAP IDLE) waits
   * for that instead, up to `ms`; it must end promptly once `stopRequested` was called.
   */
  protected waitForMore(ms: number): Promise<void> {
    return this.sleep(ms);
  }

  /** A sleep that stop() cuts short. */
  protected sleep(ms: number): Promise<void> {
    return this.naps.sleep(ms);
  }
  /** Called by stop() before it waits for the loop: cut short a wait or call of the receiver's own. */
  protected stopRequested(): void {}
  /** A failure as it may be shown and logged (subclasses cut secrets out). */
  protected errorText(e: unknown): string {
    return e instanceof Error ? e.message : String(e);
  }

  async start(): Promise<void> {
    if (this.loop) return;
    this.stopping = false;
    this.naps.reset();
    this.st = { ...this.st, state: 'running' };
    this.loop = this.run();
  }

  /** Lets an in-flight batch finish (its cursor is committed with it), then disconnects and releases the lease. */
  async stop(): Promise<void> {
    if (!this.loop) return;
    this.stopping = true;
    this.naps.stop();
    this.stopRequested();
    await this.loop;
    this.loop = null;
    this.st = { ...this.st, state: 'stopped' };
  }

  status(): ReceiverStatus {
    return { ...this.st };
  }

  private async run(): Promise<void> {
    let failures = 0;
    const maxBackoff = this.settings.maxBackoffMs ?? DEFAULT_MAX_BACKOFF_MS;
    while (!this.stopping) {
      try {
        let more = false;
        if (await this.holdLease()) more = await this.poll();
        else this.st = { ...this.st, state: 'paused', error: null };
        failures = 0;
        if (!more) await this.waitForMore(this.settings.intervalMs);
      } catch (e) {
        if (this.stopping) break; // an upstream call cut short by stop()
        failures++;
        const told = (e as RetryLater).retryAfterMs;
        const backoff = Math.min(Math.max(this.settings.intervalMs, 100) * 2 ** (failures - 1), maxBackoff);
        const delay = told !== undefined ? Math.min(Math.max(told, 100), maxBackoff * 10) : backoff;
        const message = this.errorText(e);
        this.st = { ...this.st, state: 'failing', error: message };
        this.log.error({ error: message, retry_in_ms: delay }, `${this.kind} receiver failed; retrying`);
        await this.disconnect().catch(() => undefined);
        await this.naps.sleep(delay);
      }
    }
    await this.disconnect().catch(() => undefined);
    await this.lease.release().catch((e: unknown) => this.log.warn({ err: errorContext(e) }, 'releasing the lease failed'));
    this.cursor = undefined;
  }

  /** Keeps the lease; on taking it, loads the cursor (another process may have moved it). */
  protected async holdLease(): Promise<boolean> {
    const had = this.cursor !== undefined;
    const held = await this.lease.hold();
    if (held && !had) {
      const stored = await readCursorValue(this.deps.store.db, this.name, CURSOR_KEY);
      this.cursor = stored === undefined ? null : this.parseCursor(stored);
      this.st.cursor = this.describeCursor(this.cursor);
      this.log.info({ cursor: this.st.cursor }, 'lease taken; polling');
    } else if (!held && had) {
      this.log.warn('lease lost to another process; no longer polling');
      this.cursor = undefined;
    }
    return held;
  }

  /**
   * Hands `records` to the intake with `next` as the cursor, in one commit, and moves the cursor. On
   * backpressure waits as advised and offers the same batch again. False when it gave up (stopping, or the
   * lease went elsewhere): nothing was accepted and the cursor did not move.
   */
  protected async deliver(records: readonly IntakeRecord[], next: C): Promise<boolean> {
    const row: CursorRow = { receiver: this.name, key: CURSOR_KEY, value: JSON.stringify(next), updated_at: Date.now() };
    for (let attempt = 1; ; attempt++) {
      if (this.stopping) return false;
      try {
        await this.deps.intake.accept(this.sourceName, this.settings.detector, records, { cursor: row });
        break;
      } catch (e) {
        if (!(e instanceof BackpressureError)) throw e;
        const wait = Math.min(Math.max(e.retryAfterSeconds * 1000, this.settings.intervalMs), this.settings.maxBackoffMs ?? DEFAULT_MAX_BACKOFF_MS);
        if (attempt === 1) this.log.warn({ retry_in_ms: wait }, 'intake backpressure; holding the batch');
        this.st = { ...this.st, state: 'paused' };
        await this.naps.sleep(wait);
        if (!(await this.holdLease())) return false;
      }
    }
    this.cursor = next;
    if (records.length > 0) {
      this.st.records += records.length;
      this.st.last_record_at = Date.now();
    }
    this.st = { ...this.st, state: 'running', error: null, cursor: this.describeCursor(next) };
    return true;
  }

}
