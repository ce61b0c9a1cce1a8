/**
 * The contract of a receiver kind (one file each in receivers/: http, file). A receiver hands raw records to
 * the IntakeWriter and acknowledges upstream (HTTP 202, file offset, IMAP flag…) only after `accept` resolves:
 * that is when the batch is committed. Reference implementation: receivers/file.ts.
 */
import { isUtf8 } from 'node:buffer';
import type { CursorRow } from '../store/cursors.js';
import type { TSchema } from 'typebox';
import type { Component } from '../component/component.js';
import type { SourceConfig } from '../config/schema.js';
import type { Store } from '../store/store.js';
import type { Logger } from '../util/log.js';
import { FidoError } from '../errors.js';

export interface IntakeRecord {
  /** One record as received: a line, or one JSON value as its text stood in the body. */
  raw: string;
  /**
   * The record's exact bytes, base64, when they are not valid UTF-8 (`raw` is then their decoding, with
   * U+FFFD for each invalid sequence: what detectors parse and people read). recordOfBytes sets it.
   */
  raw_base64?: string;
  /**
   * The upstream's identity of this record, the same on every delivery (a JetStream stream sequence, an AMQP
   * message-id): a record whose source already stored this key is not stored again (a redelivery after a crash
   * between the commit and the acknowledgement).
   */
  key?: string;
}

/** A record from the bytes a receiver read: stored byte for byte whatever their encoding. */
export function recordOfBytes(bytes: Buffer): IntakeRecord {
  const raw = bytes.toString('utf8');
  return isUtf8(bytes) ? { raw } : { raw, raw_base64: bytes.toString('base64') };
}

export interface AcceptResult {
  /** One id per record, in order (a duplicate's id names nothing: it was not stored). */
  ids: string[];
  /** How many keyed records were already in the log and not stored again. */
  duplicates?: number;
}

/** Raised when the backlog is past its bound: receivers back off (HTTP answers 429/503 with Retry-After). */
export class BackpressureError extends FidoError {
  override name = 'BackpressureError';
  declare readonly retryAfterSeconds: number;
  constructor(retryAfterSeconds: number) {
    super('backpressure', `intake backlog is full; retry after ${retryAfterSeconds}s`, { retryAfterSeconds });
  }
}

/**
 * How long a receiver holding a batch the intake refused waits before offering it again: the intake's advice
 * when it pushed back (`backpressure`), else a backoff on `attempt`; both within [minMs, maxMs].
 */
export function holdDelay(e: unknown, attempt: number, minMs = 250, maxMs = 30_000): { ms: number; backpressure: boolean } {
  if (e instanceof BackpressureError) return { ms: Math.min(Math.max(e.retryAfterSeconds * 1000, minMs), maxMs), backpressure: true };
  return { ms: Math.min(minMs * 2 ** Math.min(attempt, 10), maxMs), backpressure: false };
}

export interface IntakeWriter {
  /**
   * Durably appends records for `source` (detector: a forced detector name, or null for auto-detection)
   * and resolves with their ids once committed. Concurrent calls are group-committed. Throws
   * BackpressureError when the backlog is over its bound.
   */
  accept(source: string, detector: string | null, records: readonly IntakeRecord[], options?: AcceptOptions): Promise<AcceptResult>;
}

export interface AcceptOptions {
  /** The receiver's position after these records: stored in the same commit as they are. */
  cursor?: CursorRow;
}

export interface ReceiverDeps {
  store: Store;
  intake: IntakeWriter;
  log: Logger;
  /** Directory of the config file: relative paths resolve against it. */
  configDir: string;
  /** Unique name of this process, for leases when several processes share a PostgreSQL store. */
  owner: string;
}

export interface Receiver {
  start(): Promise<void>;
  stop(): Promise<void>;
  /** What the receiver knows of itself now (issue 19: the API, metrics and `fido receivers` read it). */
  status?(): ReceiverStatus;
}

/** A receiver's health: cheap to compute (no I/O), so it can be read on every request. */
export interface ReceiverStatus {
  state: 'running' | 'paused' | 'stopped' | 'failing';
  /** When the last record was accepted (epoch ms), null before the first. */
  last_record_at: number | null;
  /** Records accepted since start. */
  records: number;
  /** How far behind its upstream it is (ms), where the upstream says (a broker's oldest message, a poll's newest row). */
  lag_ms: number | null;
  /** The last error, until the next success; never a secret. */
  error: string | null;
  /** Its position upstream as text (an offset, an id, a UID), where it has one. */
  cursor: string | null;
}

/** What a receiver is built with: the deps of every receiver, and the source it receives for. */
export interface ReceiverBuild extends ReceiverDeps {
  source: SourceConfig;
}

/**
 * A receiver kind: one file in receivers/ that default-exports `defineReceiver({…})` (component/component.ts).
 * Its entry is the source's `receiver:` section with the source's name. `create` returns null when the kind
 * needs no background task (http: the API routes serve it).
 */
export type ReceiverComponent<S extends TSchema = TSchema> = Component<S, ReceiverBuild, Receiver | null>;

/** Declares a receiver kind; its `create` gets the entry typed by its schema. */
export function defineReceiver<S extends TSchema>(component: ReceiverComponent<S>): ReceiverComponent<S> {
  return component;
}
