/**
 * The loop every message-bus receiver (nats, rabbitmq) runs: fetch a batch, hand it to the intake, and
 * acknowledge each message ONLY after `accept` resolved. The bus-specific part is a BusSession.
 *
 * - Delivery is at least once: a crash (or a lost connection) between the commit and the acks re-delivers
 *   those messages. A message with a `key` (its identity upstream) is stored under it, and the intake log
 *   stores a key once per source, so its redelivery is not stored again (counted as `duplicates`); one without
 *   becomes a duplicate record. Redeliveries are counted (`redelivered`) and logged.
 * - A batch that the intake refuses (BackpressureError, or a failed commit) is held unacknowledged and offered
 *   again after the advised delay; nothing more is fetched meanwhile, so the broker keeps the rest. Held
 *   messages get `keepAlive` so that the broker does not re-deliver them elsewhere while we wait.
 * - A message the intake cannot store (over `maxMessageBytes`) is rejected for good (JetStream term,
 *   AMQP reject without requeue: dead-lettered when the queue has a dead-letter exchange), with a log line
 *   saying why; it never blocks the messages behind it.
 * - A broken session (connection dropped, channel closed) is closed and opened again with backoff; a held
 *   batch whose session broke is given up (the broker re-delivers it).
 */
import type { CursorRow } from '../../store/cursors.js';
import { errorContext, type Logger } from '../../util/log.js';
import { holdDelay, recordOfBytes, type Receiver, type ReceiverDeps, type ReceiverStatus } from '../receiver.js';
import { Sleeper } from '../sleeper.js';

export interface BusMessage {
  body: Buffer;
  /** The broker's id for the message (stream sequence, delivery tag…), for logs. */
  id: string;
  /** The publisher's id when it set one (Nats-Msg-Id, AMQP message-id), for logs. */
  messageId: string | null;
  /** Its identity upstream, the same on every redelivery and never shared with another message: the record's dedup key. */
  key: string | null;
  /** True when the broker delivered it before (it may already be in the intake log). */
  redelivered: boolean;
  /** When it was published (epoch ms), when the broker says. */
  publishedAt: number | null;
  ack(): Promise<void>;
  /** Never deliver it again (dead-letter where the broker can). */
  reject(reason: string): Promise<void>;
  /** Give it back for re-delivery (on stop, with a batch not accepted). */
  release(): Promise<void>;
  /** Tell the broker we still work on it (JetStream: +WPI), so its ack timer restarts. */
  keepAlive(): void;
}

export interface BusSession {
  /** Up to `max` messages; resolves empty after a bounded wait when there are none. */
  fetch(max: number): Promise<BusMessage[]>;
  /** False once the connection or channel under it is gone: its messages can no longer be acknowledged. */
  usable(): boolean;
  /** Messages waiting upstream, as last seen (no I/O). */
  pending(): number | null;
  /** How often held messages need `keepAlive` (half the broker's ack timeout), or null when never. */
  keepAliveMs(): number | null;
  /** The receiver's position after `batch`, committed with its records, where the bus has one. */
  cursorAfter(batch: readonly BusMessage[]): CursorRow | undefined;
  close(): Promise<void>;
}

export interface BusSettings {
  kind: string;
  batch: number;
  maxMessageBytes: number;
}

const MIN_RETRY_MS = 250;

/** Best effort: a broken connection shows in the next ack or fetch. */
function keepAlive(batch: readonly BusMessage[]): void {
  for (const m of batch) {
    try {
      m.keepAlive();
    } catch {
      return;
    }
  }
}
const MAX_BACKOFF_MS = 30_000;

export class BusReceiver implements Receiver {
  private readonly log: Logger;
  private readonly detector: string | null;
  private session: BusSession | null = null;
  private loop: Promise<void> | null = null;
  private stopping = false;
  private readonly naps = new Sleeper();
  private state: ReceiverStatus['state'] = 'stopped';
  private lastRecordAt: number | null = null;
  private records = 0;
  private lagMs: number | null = null;
  private error: string | null = null;
  private cursor: string | null = null;
  /** Counters for tests and operators: messages seen again, rejected as unstorable, acks that failed. */
  readonly counts = { redelivered: 0, duplicates: 0, rejected: 0, ackFailed: 0, empty: 0 };

  constructor(
    private readonly sourceName: string,
    detector: string | undefined,
    private readonly settings: BusSettings,
    private readonly open: () => Promise<BusSession>,
    private readonly deps: ReceiverDeps,
    logFields: Record<string, unknown>,
  ) {
    this.log = deps.log.child({ receiver: settings.kind, source: sourceName, ...logFields });
    this.detector = detector && detector !== 'auto' ? detector : null;
  }

  async start(): Promise<void> {
    if (this.loop) return;
    this.stopping = false;
    this.naps.reset();
    this.state = 'running';
    this.loop = this.run();
  }

  /** Lets an in-flight accept finish and its acks go out, gives back a held batch, closes the session. */
  async stop(): Promise<void> {
    if (!this.loop) return;
    this.stopping = true;
    this.naps.stop();
    await this.loop;
    this.loop = null;
    this.state = 'stopped';
  }

  status(): ReceiverStatus {
    return { state: this.state, last_record_at: this.lastRecordAt, records: this.records, lag_ms: this.lagMs, error: this.error, cursor: this.cursor };
  }

  /** Messages waiting upstream (JetStream num_pending, AMQP message count), as last seen. */
  pending(): number | null {
    return this.session?.pending() ?? null;
  }

  /**
   * Drops the broker connection at once, as a crash would: its unacknowledged messages go back to the broker
   * (tests use it between a commit and its acks). The loop reconnects.
   */
  async disconnect(): Promise<void> {
    await this.session?.close();
  }

  private async run(): Promise<void> {
    let failures = 0;
    while (!this.stopping) {
      try {
        if (!this.session || !this.session.usable()) {
          await this.dropSession();
          this.session = await this.open();
          this.log.info('connected');
        }
        const batch = await this.session.fetch(this.settings.batch);
        failures = 0;
        if (batch.length > 0) await this.handle(this.session, batch);
        else this.lagMs = 0;
        if (this.state === 'failing') {
          this.state = 'running';
          this.error = null;
        }
      } catch (e) {
        failures++;
        const delay = Math.min(MIN_RETRY_MS * 2 ** failures, MAX_BACKOFF_MS);
        this.fail(e);
        this.log.error({ err: errorContext(e), retry_in_ms: delay }, `${this.settings.kind} receiver failed; reconnecting`);
        await this.dropSession();
        await this.naps.sleep(delay);
      }
    }
    await this.dropSession();
  }

  private async handle(session: BusSession, batch: BusMessage[]): Promise<void> {
    const keep: BusMessage[] = [];
    for (const m of batch) {
      if (m.redelivered) this.counts.redelivered++;
      if (m.body.length > this.settings.maxMessageBytes) {
        const reason = `message is ${m.body.length} bytes; the limit is ${this.settings.maxMessageBytes}`;
        this.counts.rejected++;
        this.log.error({ message: m.id, message_id: m.messageId, bytes: m.body.length, limit: this.settings.maxMessageBytes }, 'message too large to store; rejected (not re-delivered)');
        await m.reject(reason);
      } else if (m.body.length === 0) {
        this.counts.empty++; // carries nothing: acknowledged, like a blank line
        await m.ack();
      } else {
        keep.push(m);
      }
    }
    const redelivered = keep.filter((m) => m.redelivered).length;
    if (redelivered > 0) this.log.warn({ messages: redelivered }, 're-delivered messages (after a crash or lost connection; keyed ones already stored are not stored again)');
    if (keep.length === 0) return;
    // A slow commit (or a long backoff) must not let the broker's ack timer re-deliver what we hold.
    const every = session.keepAliveMs();
    const timer = every === null ? null : setInterval(() => keepAlive(keep), every);
    let acks: PromiseSettledResult<void>[];
    try {
      if (!(await this.deliver(session, keep))) return;
      // Committed: only now may the broker forget them.
      acks = await Promise.allSettled(keep.map((m) => m.ack()));
    } finally {
      if (timer) clearInterval(timer);
    }
    const failed = acks.filter((a) => a.status === 'rejected');
    if (failed.length > 0) {
      this.counts.ackFailed += failed.length;
      this.log.warn({ messages: failed.length, err: errorContext((failed[0] as PromiseRejectedResult).reason) }, 'acknowledgements failed after commit; these messages will be re-delivered (duplicates)');
      throw new Error(`${failed.length} acknowledgements failed`);
    }
  }

  /**
   * Offers the batch until the intake takes it. False when given up: stopping (the batch is released for
   * re-delivery) or the session broke (the broker re-delivers it by itself).
   */
  private async deliver(session: BusSession, batch: BusMessage[]): Promise<boolean> {
    const records = batch.map((m) => (m.key === null ? recordOfBytes(m.body) : { ...recordOfBytes(m.body), key: m.key }));
    const cursor = session.cursorAfter(batch);
    for (let attempt = 1; ; attempt++) {
      if (this.stopping) {
        await Promise.allSettled(batch.map((m) => m.release()));
        return false;
      }
      if (!session.usable()) {
        this.log.warn({ messages: batch.length }, 'connection lost while holding a batch; the broker re-delivers it');
        return false;
      }
      let wait: number;
      try {
        const accepted = await this.deps.intake.accept(this.sourceName, this.detector, records, cursor ? { cursor } : undefined);
        this.counts.duplicates += accepted.duplicates ?? 0;
        this.accepted(batch, cursor);
        if (attempt > 1) this.log.info({ attempts: attempt }, 'batch accepted after waiting');
        return true;
      } catch (e) {
        const hold = holdDelay(e, attempt, MIN_RETRY_MS, MAX_BACKOFF_MS);
        wait = hold.ms;
        if (hold.backpressure) {
          this.state = 'paused';
          if (attempt === 1) this.log.warn({ retry_in_ms: wait, messages: batch.length }, 'intake backpressure; holding the batch unacknowledged');
        } else {
          this.fail(e);
          this.log.error({ err: errorContext(e), retry_in_ms: wait }, 'intake refused the batch; holding it unacknowledged');
        }
      }
      keepAlive(batch);
      await this.naps.sleep(wait);
    }
  }

  private accepted(batch: readonly BusMessage[], cursor: CursorRow | undefined): void {
    this.records += batch.length;
    this.lastRecordAt = Date.now();
    this.state = 'running';
    this.error = null;
    if (cursor) this.cursor = cursor.value;
    const published = batch[batch.length - 1]!.publishedAt;
    this.lagMs = published === null ? null : Math.max(0, this.lastRecordAt - published);
  }

  private fail(e: unknown): void {
    this.state = 'failing';
    // The message of a client error; connection URLs are not in it (the password is given apart).
    this.error = e instanceof Error ? e.message.slice(0, 300) : String(e).slice(0, 300);
  }

  private async dropSession(): Promise<void> {
    const s = this.session;
    this.session = null;
    await s?.close().catch((e: unknown) => this.log.warn({ err: errorContext(e) }, 'closing the connection failed'));
  }

}
