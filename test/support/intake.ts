/**
 * The receiving side of receiver tests: the real IntakeWriter into a real store, recording what it committed,
 * able to simulate a process that dies right after a commit (the receiver never learns it was accepted).
 */
import type { AcceptOptions, AcceptResult, IntakeRecord, IntakeWriter } from '../../src/intake/receiver.js';
import type { ManagedIntakeWriter } from '../../src/intake/writer.js';

/** The real writer, recording what it committed; can simulate a crash right after a commit. */
export class RecordingIntake implements IntakeWriter {
  readonly committed: string[] = [];
  readonly batchSizes: number[] = [];
  /** After this many more commits, the next accept commits and then never returns (the process "dies"). */
  crashAfter = Infinity;
  private crashed: ((e: Error) => void) | null = null;

  constructor(readonly writer: ManagedIntakeWriter) {}

  async accept(source: string, detector: string | null, records: readonly IntakeRecord[], options?: AcceptOptions): Promise<AcceptResult> {
    const result = await this.writer.accept(source, detector, records, options);
    this.committed.push(...records.map((r) => r.raw));
    this.batchSizes.push(records.length);
    // Only batches with records count: a cursor-only commit (a page of nothing new) is not where a test crashes.
    if (records.length > 0 && this.crashAfter-- <= 1) {
      this.crashAfter = Infinity;
      // Committed, but the receiver never learns it: what a kill between accept and the next poll leaves.
      await new Promise<never>((_, reject) => (this.crashed = reject));
    }
    return result;
  }

  /** Lets a "crashed" receiver's loop end (it sees an error, so it advances nothing). */
  releaseCrash(): void {
    this.crashed?.(new Error('simulated crash'));
    this.crashed = null;
  }

  /** The raw text of every committed record, in order. */
  texts(): string[] {
    return [...this.committed];
  }

  ids(): string[] {
    return this.committed.map((r) => String((JSON.parse(r) as { id: unknown }).id));
  }
}

