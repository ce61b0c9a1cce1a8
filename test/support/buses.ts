/**
 * Shared harness of the message-bus receiver tests (nats, rabbitmq): a real store and the real intake writer,
 * wrapped so a test can push back (BackpressureError) or act right after a commit (before the receiver acks).
 */
import { pino } from 'pino';
import { BackpressureError, type AcceptOptions, type AcceptResult, type IntakeRecord, type IntakeWriter, type ReceiverDeps } from '../../src/intake/receiver.js';
import { createIntakeWriter, type ManagedIntakeWriter } from '../../src/intake/writer.js';
import type { Logger } from '../../src/util/log.js';
import { openTestStore, type TestStore } from './stores.js';

export class BusIntake implements IntakeWriter {
  readonly writer: ManagedIntakeWriter;
  /** Calls refused with backpressure before the next one is let through. */
  refuse = 0;
  refused = 0;
  /** Runs once, after the next commit and before accept resolves (i.e. before any ack). */
  afterCommit: (() => Promise<void>) | null = null;

  constructor(readonly t: TestStore) {
    this.writer = createIntakeWriter(t.store, { maxBacklog: 1e9 });
  }

  async accept(source: string, detector: string | null, records: readonly IntakeRecord[], options?: AcceptOptions): Promise<AcceptResult> {
    if (this.refuse > 0) {
      this.refuse--;
      this.refused++;
      throw new BackpressureError(0);
    }
    const result = await this.writer.accept(source, detector, records, options);
    const hook = this.afterCommit;
    this.afterCommit = null;
    await hook?.();
    return result;
  }

  /** What the intake log holds, in order: the exact bytes of each record. */
  async stored(): Promise<Buffer[]> {
    const rows = await this.t.store.db.selectFrom('intake').select(['raw', 'raw_base64']).orderBy('seq').execute();
    return rows.map((r) => (r.raw_base64 ? Buffer.from(r.raw_base64, 'base64') : Buffer.from(String(r.raw), 'utf8')));
  }

  async storedText(): Promise<string[]> {
    return (await this.stored()).map((b) => b.toString('utf8'));
  }
}

export interface BusRig {
  t: TestStore;
  intake: BusIntake;
  deps: ReceiverDeps;
  logs: string[];
}

export async function withBusRig(fn: (rig: BusRig) => Promise<void>): Promise<void> {
  const t = await openTestStore('sqlite');
  const logs: string[] = [];
  const log = pino({ level: 'debug' }, { write: (s: string) => void logs.push(s) }) as unknown as Logger;
  const intake = new BusIntake(t);
  try {
    await fn({ t, intake, logs, deps: { store: t.store, intake, log, configDir: t.dataDir, owner: 'test' } });
  } finally {
    await intake.writer.close();
    await t.cleanup();
  }
}

/** Each value that occurs more than once, with its count. */
export function duplicates(values: readonly string[]): Map<string, number> {
  const seen = new Map<string, number>();
  for (const v of values) seen.set(v, (seen.get(v) ?? 0) + 1);
  return new Map([...seen].filter(([, n]) => n > 1));
}

/** Runs `fn` with `receiver` started, and stops it whatever happens. */
export async function run(receiver: { start(): Promise<void>; stop(): Promise<void> }, fn: () => Promise<void>): Promise<void> {
  await receiver.start();
  try {
    await fn();
  } finally {
    await receiver.stop();
  }
}

/** `count` JSON message bodies, numbered, with odd spacing (bytes must survive as sent). */
export const bodies = (prefix: string, count: number): string[] => Array.from({ length: count }, (_, i) => `{"event":"${prefix}-${i}",  "n": ${i} }`);
