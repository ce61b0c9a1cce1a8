/**
 * The contract every pipeline stage implements. The runner (runner.ts) claims a batch, calls `compute`
 * outside any transaction (slow I/O such as enrichment lookups belongs there), then opens ONE transaction in
 * which `write` stores the result and enqueues the next stage, and the claim is completed. A `storeOnly`
 * stage on a single-writer store (SQLite) is instead claimed, computed and written in one write transaction
 * (see runner.ts). Stages must be deterministic enough that redoing a batch after a crash is harmless.
 */
import type { ClaimedItem, StageName } from '../store/queue.js';
import type { Db, Tx } from '../store/store.js';

export interface Stage<Computed = unknown> {
  readonly name: StageName;
  /** Items claimed per batch. */
  readonly batchSize: number;
  /** The stages `write` hands items on to: the runner wakes them after each commit. */
  readonly next: readonly StageName[];
  /**
   * True when compute() waits on services outside the store (lookups over the network). The runner then
   * starts a new lane at this stage (runner.ts), so the stages before it keep going while it waits.
   */
  readonly awaitsServices?: boolean;
  /**
   * True when compute() only reads the store (through `db`) and computes briefly: no network, no other
   * thread. On SQLite the runner then claims, computes and writes a batch in one write transaction, which
   * saves the claim's own commit and lease; the write lock is held while it computes, so a stage whose
   * compute is long (normalize parses) should not set it.
   */
  readonly storeOnly?: boolean;
  /** `db`: what to read the store through — the write transaction itself when the batch runs in one. */
  compute(items: readonly ClaimedItem[], db: Db): Promise<Computed>;
  write(tx: Tx, items: readonly ClaimedItem[], computed: Computed): Promise<void>;
  /** Runs after the transaction committed: metrics and in-process notifications only. */
  afterCommit?(items: readonly ClaimedItem[], computed: Computed): void;
}
