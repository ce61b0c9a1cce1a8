/**
 * The `file` receiver kind: tails one log file and hands its lines to the intake (DESIGN.md §4).
 *
 * - Only complete lines are read: a partial last line waits for its newline. `\r\n` endings lose the `\r`;
 *   blank lines are skipped (they carry nothing). A UTF-8 byte order mark at the very start is dropped.
 * - `format: jsonl` expects one JSON value per line. A line that is not valid JSON is still handed over as
 *   its raw text, so the pipeline quarantines it with that text (nothing is silently dropped); the receiver
 *   only logs how many there were. `format: lines` hands over text lines as they are.
 * - A line longer than `max_line_bytes` is handed over cut at the limit (on a UTF-8 character boundary) and
 *   the rest of it, through its newline, is skipped. Each such line is logged and counted in
 *   `fido_file_lines_truncated_total{source}`. Keep the limit at or below `intake.max_record_bytes`.
 * - Acknowledging means persisting the cursor (device + inode, byte offset, a hash of the file's first bytes)
 *   in `receiver_cursors`, in the same commit as the batch's records (`accept(…, { cursor })`): after a crash
 *   the file is read on from exactly where the intake log ends, so no line is lost or delivered twice.
 * - Rotation by rename (+ a new file at the path): the open descriptor is read to its end, and kept a further
 *   poll interval for a writer that has not reopened yet; a final line without newline is then handed over;
 *   then the new file is read from offset 0. If Fido was down during a rotation, the old file is found again
 *   by device + inode among the files beside the path whose names start with the path's name (app.log.1,
 *   app.log-20260101), and its unread tail is read first. A rotated file moved to another directory or
 *   compressed before Fido saw it is not found: its unread tail is lost (logged).
 * - Truncation (copytruncate): the size dropping below the offset, or the first bytes changing, restarts at 0.
 *   Lines logrotate's copy caught but Fido had not read yet are in the copy, which is not read.
 * - `start_at: end` applies only to a file that exists when this source is first ever started (no cursor):
 *   reading starts at the beginning of its last line, so a line being written is delivered whole. A file
 *   that appears later, or after rotation, is read from the beginning.
 * - On BackpressureError the same batch is offered again after the advised delay; nothing advances meanwhile.
 * - A lease row `file:<source>` in `leases` makes sure that, of several Fido processes sharing a PostgreSQL
 *   store, one tails the file; another takes over when it stops (lease released) or dies (lease expires).
 *   A holder stalled past its lease may overlap with the next one for a batch (duplicates, not loss).
 */
import { open, type FileHandle } from 'node:fs/promises';
import { resolve } from 'node:path';
import { Counter } from 'prom-client';
import { Type, type Static } from 'typebox';
import { parseDuration } from '../../config/duration.js';
import { Duration, type SourceConfig } from '../../config/schema.js';
import { registry } from '../../metrics.js';
import { errorContext, type Logger } from '../../util/log.js';
import { BackpressureError, type IntakeRecord, defineReceiver, type Receiver, type ReceiverDeps } from '../receiver.js';
import { writeCursorRows, type CursorRow } from '../../store/cursors.js';
import { Lease, leasesTable } from '../../store/lease.js';
import { cursorRow, HEAD_BYTES, hashHead, readCursor, receiverName, type FileCursor, type Head } from '../tail/cursor.js';
import { findRotated, headMatches, idOf, lastLineStart, readHead, sameFile, statOrNull, verifiedHead, type FileId } from '../tail/files.js';
import { splitLines, type LineBatch } from '../tail/lines.js';
import { Sleeper } from '../sleeper.js';

// ---------------------------------------------------------------------------------------------------------
// Settings

export const FileReceiverSchema = Type.Object(
  {
    name: Type.String(),
    kind: Type.Literal('file'),
    path: Type.String({ minLength: 1, description: 'The file to tail; a relative path resolves against the config file' }),
    format: Type.Optional(
      Type.Union([Type.Literal('lines'), Type.Literal('jsonl')], {
        description: 'lines (default): text lines; jsonl: one JSON value per line (invalid lines are quarantined)',
      }),
    ),
    start_at: Type.Optional(
      Type.Union([Type.Literal('beginning'), Type.Literal('end')], {
        description: 'For a file never read before: beginning (default) or end (only lines written from now on)',
      }),
    ),
    poll_interval: Type.Optional(Duration),
    max_line_bytes: Type.Optional(
      Type.Integer({ minimum: 256, maximum: 64 * 1024 * 1024, description: 'Longer lines are cut here (default 1 MiB)' }),
    ),
    batch_lines: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000, description: 'Lines per intake batch (default 500)' })),
  },
  { additionalProperties: false },
);
export type FileReceiverConfig = Static<typeof FileReceiverSchema>;

export interface FileSettings {
  /** Absolute path of the file. */
  path: string;
  format: 'lines' | 'jsonl';
  startAt: 'beginning' | 'end';
  pollMs: number;
  maxLineBytes: number;
  batchLines: number;
}

const DEFAULTS = { format: 'lines', start_at: 'beginning', poll_interval: '1s', max_line_bytes: 1024 * 1024, batch_lines: 500 } as const;
const MIN_POLL_MS = 10;
const LEASE_MS = 30_000;

const pollIntervalMs = (value: FileReceiverConfig) => parseDuration(value.poll_interval ?? DEFAULTS.poll_interval, `sources.${value.name}.receiver.poll_interval`);

/** A checked entry with its defaults applied. */
export function resolveSettings(value: FileReceiverConfig, configDir: string): FileSettings {
  const pollMs = pollIntervalMs(value);
  if (pollMs < MIN_POLL_MS) throw new Error(`sources.${value.name}.receiver.poll_interval: must be at least ${MIN_POLL_MS}ms`);
  return {
    path: resolve(configDir, value.path),
    format: value.format ?? DEFAULTS.format,
    startAt: value.start_at ?? DEFAULTS.start_at,
    pollMs,
    maxLineBytes: value.max_line_bytes ?? DEFAULTS.max_line_bytes,
    batchLines: value.batch_lines ?? DEFAULTS.batch_lines,
  };
}

export const fileLinesTruncated = new Counter({
  name: 'fido_file_lines_truncated_total',
  help: 'Lines longer than max_line_bytes, handed over cut at the limit, by source',
  labelNames: ['source'] as const,
  registers: [registry],
});

// ---------------------------------------------------------------------------------------------------------
// The receiver.

interface Tail extends FileId, FileCursor {
  /**
   * The bytes `head` hashes, kept so that the head grows from bytes actually read: re-reading them from the
   * file later could hash a rewrite's content and hide it.
   */
  headBytes: Buffer;
  fh: FileHandle;
  file: string;
  /** The path names another file now (rotated or removed): read this one to its end, then switch. */
  draining: boolean;
  /** Idle polls since draining found nothing new. */
  quietPolls: number;
}

/** Idle polls a rotated file gets before its final partial line is handed over and the switch happens. */
const QUIET_POLLS = 1;
const MAX_BACKOFF_MS = 30_000;

export class FileReceiver implements Receiver {
  private readonly log: Logger;
  private readonly lease: Lease;
  private readonly detector: string | null;
  /** Holds one over-long line plus a byte, so it is recognised as such. */
  private readonly buf: Buffer;
  private tail: Tail | null = null;
  /** Acknowledged position; undefined until loaded under the lease, null when no file is being followed. */
  private cursor: FileCursor | null | undefined = undefined;
  /** The cursor moved since it was last written. */
  private dirty = false;
  /** No cursor was ever stored: start_at decides where a file that exists now is read from. */
  private applyStartAt = false;
  private waitingLogged = false;
  private stopping = false;
  private loop: Promise<void> | null = null;
  private readonly naps = new Sleeper();

  constructor(
    private readonly source: SourceConfig,
    private readonly settings: FileSettings,
    private readonly deps: ReceiverDeps,
  ) {
    this.log = deps.log.child({ receiver: 'file', source: source.name, path: settings.path });
    // One tailing process per source on a shared store.
    this.lease = new Lease(leasesTable(deps.store.db, receiverName(source.name)), deps.owner, LEASE_MS);
    this.detector = source.detector && source.detector !== 'auto' ? source.detector : null;
    this.buf = Buffer.alloc(Math.max(64 * 1024, settings.maxLineBytes + 1));
  }

  /** Starts the background tail; problems (missing file, database down) are logged and retried there. */
  async start(): Promise<void> {
    if (this.loop) return;
    this.stopping = false;
    this.naps.reset();
    this.loop = this.run();
  }

  /** Lets an in-flight batch finish and its cursor be written, then closes the file and releases the lease. */
  async stop(): Promise<void> {
    if (!this.loop) return;
    this.stopping = true;
    this.naps.stop();
    await this.loop;
    this.loop = null;
  }

  private async run(): Promise<void> {
    let failures = 0;
    while (!this.stopping) {
      try {
        const more = await this.iterate();
        failures = 0;
        if (!more) await this.naps.sleep(this.settings.pollMs);
      } catch (e) {
        failures++;
        const delay = Math.min(this.settings.pollMs * 2 ** failures, MAX_BACKOFF_MS);
        this.log.error({ err: e, retry_in_ms: delay }, 'file receiver failed; retrying');
        await this.naps.sleep(delay);
      }
    }
    await this.shutdown();
  }

  /** One turn: hold the lease, have a file open, move one batch. True when there may be more to do at once. */
  private async iterate(): Promise<boolean> {
    if (!(await this.holdLease())) return false;
    await this.flushCursor();
    if (!this.tail && !(await this.resume())) return false;
    return this.step();
  }

  /** Keeps the lease; on taking it, loads the cursor (another process may have moved it); on losing it, lets go. */
  private async holdLease(): Promise<boolean> {
    const had = this.cursor !== undefined;
    const held = await this.lease.hold();
    if (held && !had) {
      const stored = await readCursor(this.deps.store.db, this.source.name);
      if (stored === null) this.log.error('stored cursor is unreadable; treating the file as never seen');
      this.cursor = stored ?? null;
      this.applyStartAt = stored == null;
      this.log.info({ cursor: this.cursor }, 'lease taken; tailing');
    } else if (!held && had) {
      this.log.warn('lease lost to another process; no longer tailing');
      await this.closeTail();
      this.cursor = undefined;
      this.dirty = false;
    }
    return held;
  }

  /** Opens the file to read next, where the cursor says; false when there is none (yet). */
  private async resume(): Promise<boolean> {
    const { path } = this.settings;
    const atPath = await statOrNull(path);
    if (atPath && !atPath.isFile()) throw new Error(`${path} is not a regular file`);
    const cursor = this.cursor ?? null;
    if (cursor && atPath && sameFile(idOf(atPath), cursor)) return this.openAt(path, cursor, false);
    if (cursor) {
      const moved = await findRotated(path, cursor);
      if (moved) {
        this.log.info({ rotated_to: moved }, 'file was rotated while stopped; reading the rest of the old one first');
        return this.openAt(moved, cursor, true);
      }
      this.log.warn({ cursor }, 'the file last read is gone; its unread lines, if any, cannot be recovered');
      this.cursor = null;
    }
    if (!atPath) {
      this.applyStartAt = false; // a file that appears later is new: all of it is read
      if (!this.waitingLogged) this.log.info('waiting for the file to exist');
      this.waitingLogged = true;
      return false;
    }
    return this.openNew(path, this.applyStartAt && this.settings.startAt === 'end');
  }

  /** Re-opens a file we have a cursor for; a truncation or replacement seen meanwhile restarts it at 0. */
  private async openAt(file: string, cursor: FileCursor, draining: boolean): Promise<boolean> {
    const fh = await open(file, 'r');
    try {
      const st = await fh.stat({ bigint: true });
      if (!sameFile(idOf(st), cursor)) {
        await fh.close(); // renamed between stat and open: look again next turn
        return false;
      }
      const headBytes = Number(st.size) >= cursor.offset ? await verifiedHead(fh, cursor.head) : null;
      if (headBytes) {
        this.setTail({ ...cursor, headBytes, fh, file, draining, quietPolls: 0 });
      } else if (draining) {
        await fh.close(); // a rotated file that changed under us is not ours to re-read: go on to the path
        this.cursor = null;
        return false;
      } else {
        this.log.warn({ offset: cursor.offset }, 'file was truncated or replaced while stopped; reading from the start');
        this.setTail({ ...idOf(st), offset: 0, skip: false, ...headOf(Buffer.alloc(0)), fh, file, draining, quietPolls: 0 });
        this.dirty = true;
      }
      return true;
    } catch (e) {
      await fh.close();
      throw e;
    }
  }

  /** Starts on a file not read before: from 0, or for start_at end from its last line. */
  private async openNew(path: string, fromEnd: boolean): Promise<boolean> {
    let fh: FileHandle;
    try {
      fh = await open(path, 'r');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw e;
    }
    try {
      const st = await fh.stat({ bigint: true });
      const offset = fromEnd ? await lastLineStart(fh, Number(st.size), this.settings.maxLineBytes + 1) : 0;
      const headBytes = await readHead(fh, Math.min(offset, HEAD_BYTES));
      this.setTail({ ...idOf(st), offset, skip: false, ...headOf(headBytes), fh, file: path, draining: false, quietPolls: 0 });
      // Persist the choice now: a restart must resume here, not apply start_at again.
      this.dirty = true;
      this.applyStartAt = false;
      this.waitingLogged = false;
      this.log.info({ offset }, 'reading file');
      return true;
    } catch (e) {
      await fh.close();
      throw e;
    }
  }

  /** Reads and delivers one batch; notices a rewrite in place, and at the end of the data, rotation. */
  private async step(): Promise<boolean> {
    const tail = this.tail!;
    const { batch, headPart } = await this.read(tail, tail.draining && tail.quietPolls >= QUIET_POLLS);
    // Checked after the read: if the file is still ours now, it was when the chunk was read.
    if (await this.restartIfRewritten(tail)) return true;
    if (batch.consumed === 0) return this.atEnd(tail);
    const moved = advanced(tail, batch, headPart);
    // The records and the position after them are one commit: a crash can neither lose nor repeat a line.
    if (batch.records.length > 0 && !(await this.deliver(batch.records, cursorRow(this.source.name, cursorOf({ ...tail, ...moved }))))) return false;
    this.advance(tail, batch, moved, batch.records.length > 0);
    await this.flushCursor();
    return true;
  }

  /** One chunk at the cursor, cut into a batch; plus the bytes it adds to the head while that is short. */
  private async read(tail: Tail, flush: boolean): Promise<{ batch: LineBatch; headPart: Buffer | null }> {
    const { bytesRead } = await tail.fh.read(this.buf, 0, this.buf.length, tail.offset);
    const chunk = this.buf.subarray(0, bytesRead);
    const batch = splitLines(chunk, tail.skip, {
      format: this.settings.format,
      maxLineBytes: this.settings.maxLineBytes,
      batchLines: this.settings.batchLines,
      atFileStart: tail.offset === 0,
      flush: flush && bytesRead < this.buf.length,
    });
    const growsHead = tail.offset < HEAD_BYTES && tail.headBytes.length === tail.offset;
    const headPart = growsHead ? Buffer.from(chunk.subarray(0, Math.min(batch.consumed, HEAD_BYTES - tail.offset))) : null;
    return { batch, headPart };
  }

  /**
   * Hands a batch to the intake. On backpressure, waits as advised and offers the same batch again. False when
   * it gave up (stopping, or the lease went elsewhere): the batch was not accepted and nothing advances.
   */
  private async deliver(records: readonly IntakeRecord[], cursor: CursorRow): Promise<boolean> {
    for (let attempt = 1; ; attempt++) {
      if (this.stopping) return false;
      try {
        await this.deps.intake.accept(this.source.name, this.detector, records, { cursor });
        if (attempt > 1) this.log.info({ attempts: attempt }, 'backpressure over; batch accepted');
        return true;
      } catch (e) {
        if (!(e instanceof BackpressureError)) throw e;
        const wait = Math.min(Math.max(e.retryAfterSeconds * 1000, this.settings.pollMs), MAX_BACKOFF_MS);
        if (attempt === 1) this.log.warn({ retry_in_ms: wait }, 'intake backpressure; holding the batch');
        await this.naps.sleep(wait);
        if (!(await this.holdLease())) return false;
      }
    }
  }

  /**
   * The batch is accepted: move the in-memory cursor. `stored` when the intake commit wrote it already;
   * otherwise (a batch of only blank lines) it is written right after, or retried next turn.
   */
  private advance(tail: Tail, batch: LineBatch, moved: Partial<Tail>, stored: boolean): void {
    Object.assign(tail, moved);
    tail.quietPolls = 0;
    this.cursor = cursorOf(tail);
    this.dirty = !stored;
    if (batch.truncated > 0) {
      fileLinesTruncated.inc({ source: this.source.name }, batch.truncated);
      this.log.warn({ lines: batch.truncated, max_line_bytes: this.settings.maxLineBytes }, 'over-long lines handed over cut');
    }
    if (batch.invalidJson > 0) this.log.warn({ lines: batch.invalidJson }, 'lines that are not JSON handed over as raw text');
  }

  private async flushCursor(): Promise<void> {
    if (!this.dirty || !this.cursor) return;
    await writeCursorRows(this.deps.store.db, [cursorRow(this.source.name, this.cursor)]);
    this.dirty = false;
  }

  /**
   * Checked after every read, not only when idle: a file truncated and written past the old offset between
   * two polls (copytruncate) must not be read from the middle. Size below the offset or changed first bytes
   * mean new content: the chunk is dropped and reading starts again at 0.
   */
  private async restartIfRewritten(tail: Tail): Promise<boolean> {
    const st = await tail.fh.stat({ bigint: true });
    if (Number(st.size) >= tail.offset && (await headMatches(tail.fh, tail.head))) return false;
    this.log.warn({ offset: tail.offset, size: Number(st.size) }, 'file truncated or rewritten; reading from the start');
    Object.assign(tail, { offset: 0, skip: false, ...headOf(Buffer.alloc(0)) });
    this.cursor = cursorOf(tail);
    this.dirty = true;
    return true;
  }

  /** Nothing new to read: notice rotation (or finish a rotated file). */
  private async atEnd(tail: Tail): Promise<boolean> {
    if (tail.draining) return this.drainIdle(tail);
    const atPath = await statOrNull(this.settings.path);
    if (atPath && sameFile(idOf(atPath), tail)) return false;
    this.log.info('file rotated or removed; reading the old one to its end');
    tail.draining = true;
    return true; // read once more: lines written just before the rename
  }

  /**
   * A rotated file with nothing new: wait QUIET_POLLS for a writer that has not reopened yet (the next read
   * also hands over a final line without newline), then switch to whatever is at the path, from 0.
   */
  private async drainIdle(tail: Tail): Promise<boolean> {
    tail.quietPolls++;
    if (tail.quietPolls <= QUIET_POLLS) return false;
    this.log.info({ offset: tail.offset }, 'finished the rotated file');
    await this.closeTail();
    this.cursor = null; // it is done; do not find it again beside the path
    this.applyStartAt = false;
    return true;
  }

  private setTail(tail: Tail): void {
    this.tail = tail;
    this.cursor = cursorOf(tail);
  }

  private async closeTail(): Promise<void> {
    const tail = this.tail;
    this.tail = null;
    await tail?.fh.close();
  }

  private async shutdown(): Promise<void> {
    try {
      if (this.cursor !== undefined) await this.flushCursor();
    } catch (e) {
      this.log.error({ err: errorContext(e) }, 'could not write the cursor on stop; the last batch may be read again');
    }
    await this.closeTail().catch((e: unknown) => this.log.warn({ err: errorContext(e) }, 'closing the file failed'));
    await this.lease.release().catch((e: unknown) => this.log.warn({ err: errorContext(e) }, 'releasing the lease failed'));
    this.cursor = undefined;
  }

}

const headOf = (headBytes: Buffer): { head: Head; headBytes: Buffer } => ({ head: hashHead(headBytes), headBytes });
/** Where the tail is once `batch` is consumed (the head grows while the file's first bytes are being read). */
const advanced = (tail: Tail, batch: LineBatch, headPart: Buffer | null): Pick<Tail, 'offset' | 'skip'> & Partial<Tail> => ({
  offset: tail.offset + batch.consumed,
  skip: batch.skip,
  ...(headPart && headPart.length > 0 ? headOf(Buffer.concat([tail.headBytes, headPart])) : {}),
});
const cursorOf = (t: Tail): FileCursor => ({ dev: t.dev, ino: t.ino, offset: t.offset, skip: t.skip, head: t.head });

const fileReceiver = defineReceiver({
  kind: 'file',
  description: 'Tails a log file (text or JSON lines), following rotation and truncation',
  schema: FileReceiverSchema,
  check: (config) => (pollIntervalMs(config) < MIN_POLL_MS ? [{ key: 'poll_interval', message: `must be at least ${MIN_POLL_MS}ms` }] : []),
  create: async (config, deps) => new FileReceiver(deps.source, resolveSettings(config, deps.configDir), deps),
});
export default fileReceiver;
