/**
 * Runs stages: a stage claims a batch, computes, then writes the result, the next hand-off and the claim's
 * completion in ONE transaction. A failed batch is retried item by item so that one poisonous item cannot
 * hold up the others; items that keep failing back off, with their error visible in the queue.
 *
 * Stages run in lanes: a lane is a run of consecutive stages that one loop takes in pipeline order, a batch
 * of each per pass, so what a pass's first stage takes reaches the lane's last stage in the same pass. A
 * stage that waits on outside services (`awaitsServices`: enrichment lookups) starts a new lane, so the
 * stages before it keep going while it waits. (With a loop per stage, every stage's batch was interleaved
 * with all the others' and took as long as all of them together: an alert waited that long at each stage.)
 *
 * A lane passes again at once while it finds work, and otherwise sleeps until it is woken: by an upstream
 * stage's commit here (each stage names the stages it hands on to), by `wake()` (intake in this process),
 * or by the store reporting another connection's commit (another process or thread). The idle timeout only
 * bounds how long a missed signal can delay work. Claiming only when told saves empty claims — at small
 * batches those were most of the queries.
 *
 * On SQLite (one writer at a time), a `storeOnly` stage's batch is claimed, computed and written in ONE write
 * transaction instead: no lease to write and clear, no separate commit for the claim — at the small batches
 * of a steady trickle those were a third of a stage's cost. Enrichment (which waits on services) and
 * decisions (which wait on the policy sandbox's thread) keep the lease, so the write lock is never held
 * while waiting on anything but the store; so does normalize, whose parsing would hold the lock that intake
 * needs to acknowledge (bench: intake 9,000–11,000 alerts/s instead of 16,000–19,000 in a burst).
 */
import type { Store } from '../store/store.js';
import { claim, claimInTransaction, complete, hasDueItems, release, backlog, type ClaimedItem, type StageName, STAGES } from '../store/queue.js';
import type { Stage } from './stage.js';
import { stageBacklog, stageProcessed, stageSeconds } from '../metrics.js';
import type { Logger } from '../util/log.js';

export interface PipelineOptions {
  store: Store;
  stages: ReadonlyArray<Stage<any>>; // eslint-disable-line @typescript-eslint/no-explicit-any -- each stage has its own Computed type
  owner: string;
  log: Logger;
  leaseMs?: number;
  /** Longest sleep of an idle stage without a wake-up (a safety net: wake-ups normally come first). */
  idleMs?: number;
}

export interface Pipeline {
  start(): void;
  stop(): Promise<void>;
  /** Wakes idle stage loops (all, or the one named), e.g. after intake committed. */
  wake(stage?: StageName): void;
  /** Processes until every stage finds nothing to do (for the CLI and tests). */
  drain(maxRounds?: number): Promise<void>;
  /** Runs one batch of one stage; returns how many items it finished. */
  runBatch(stage: Stage<unknown>): Promise<number>;
}

const backoffMs = (attempts: number) => Math.min(60_000, 250 * 2 ** Math.min(attempts, 8));

export function createPipeline(opts: PipelineOptions): Pipeline {
  const { store, stages, owner, log } = opts;
  const leaseMs = opts.leaseMs ?? 60_000;
  const idleMs = opts.idleMs ?? 1000;
  let running = false;
  const loops: Promise<void>[] = [];
  /** Lanes: runs of stages, split before each stage that awaits outside services. */
  const lanes: Stage<unknown>[][] = [];
  for (const s of stages) {
    if (s.awaitsServices || lanes.length === 0) lanes.push([]);
    lanes.at(-1)!.push(s);
  }
  const laneOf = new Map<StageName, number>(lanes.flatMap((lane, i) => lane.map((s) => [s.name, i] as const)));

  /** Per stage: work may be waiting (set by a wake-up, cleared when its lane passes). */
  const signalled = new Map<StageName, boolean>(stages.map((s) => [s.name, true]));
  /** Per lane: wakes it from its idle sleep. */
  const sleepers = new Map<number, () => void>();
  const wakeStage = (name: StageName) => {
    signalled.set(name, true);
    const lane = laneOf.get(name);
    if (lane !== undefined) sleepers.get(lane)?.();
  };
  const wakeAll = () => {
    for (const s of stages) wakeStage(s.name);
  };
  let unwatch = () => {};

  // Claims and stage results are redone after a lost commit, so they need not wait for the disk (see
  // StoreDialect.redoable): at small batches the waits were most of a stage's time.
  async function commit(stage: Stage<unknown>, items: readonly ClaimedItem[], computed: unknown) {
    await store.redoable((db) =>
      db.transaction().execute(async (tx) => {
        await stage.write(tx, items, computed);
        await complete(tx, items);
      }),
    );
    committed(stage, items, computed);
  }

  /**
   * Claims, computes and writes in one transaction (store-only stages on SQLite); `only` narrows the claim
   * to that item. Tells `onClaim` what it claimed before computing, so that a failure knows the items.
   */
  async function runWhole(stage: Stage<unknown>, only?: ClaimedItem, onClaim?: (items: readonly ClaimedItem[]) => void) {
    let computed: unknown;
    const items = await store.redoable((db) =>
      db.transaction().execute(async (tx) => {
        const claimed = await claimInTransaction(tx, stage.name, only ? 1 : stage.batchSize, only ? { onlyIds: [only.id] } : {});
        if (claimed.length === 0) return claimed;
        onClaim?.(claimed);
        computed = await stage.compute(claimed, tx);
        await stage.write(tx, claimed, computed);
        await complete(tx, claimed);
        return claimed;
      }),
    );
    if (items.length > 0) committed(stage, items, computed);
    return items.length;
  }

  function committed(stage: Stage<unknown>, items: readonly ClaimedItem[], computed: unknown) {
    stage.afterCommit?.(items, computed);
    stageProcessed.inc({ stage: stage.name }, items.length);
    for (const next of stage.next) wakeStage(next);
  }

  async function runBatch(stage: Stage<unknown>): Promise<number> {
    const whole = stage.storeOnly === true && store.dialect === 'sqlite';
    let items: readonly ClaimedItem[] = [];
    if (whole) {
      // A read first: a stage woken by every commit would otherwise take the write lock for nothing.
      if (!(await hasDueItems(store.db, stage.name))) return 0;
    } else {
      items = await store.redoable((db) => claim({ db, skipLocked: store.skipLocked }, stage.name, owner, stage.batchSize, leaseMs));
      if (items.length === 0) return 0;
    }
    const run = async (only?: ClaimedItem): Promise<number> => {
      if (whole) return only ? runWhole(stage, only) : runWhole(stage, undefined, (claimed) => (items = claimed));
      const batch = only ? [only] : items;
      await commit(stage, batch, await stage.compute(batch, store.db));
      return batch.length;
    };
    const end = stageSeconds.startTimer({ stage: stage.name });
    try {
      return await run();
    } catch (e) {
      if (items.length === 0) throw e; // nothing was claimed: the claim itself failed
      if (items.length === 1) {
        await fail(stage, items, e);
        return 0;
      }
      log.warn({ stage: stage.name, err: (e as Error).message, items: items.length }, 'batch failed; retrying items one by one');
      let done = 0;
      for (const item of items) {
        try {
          done += await run(item);
        } catch (err) {
          await fail(stage, [item], err);
        }
      }
      return done;
    } finally {
      end();
    }
  }

  async function fail(stage: Stage<unknown>, items: readonly ClaimedItem[], e: unknown) {
    const msg = e instanceof Error ? e.message : String(e);
    log.error({ stage: stage.name, item: items[0]?.item_id, attempts: items[0]?.attempts, err: msg }, 'stage item failed');
    await release(store.db, items, msg, Date.now() + backoffMs(items[0]?.attempts ?? 1)).catch(() => undefined);
  }

  async function runLane(lane: Stage<unknown>[], index: number) {
    while (running) {
      for (const s of lane) signalled.set(s.name, false);
      let busy = false;
      for (const stage of lane) {
        if (!running) break;
        try {
          busy = (await runBatch(stage)) > 0 || busy;
        } catch (e) {
          log.error({ stage: stage.name, err: (e as Error).message }, 'stage loop error');
        }
      }
      // Work done means more may be waiting; otherwise sleep unless something was signalled meanwhile.
      if (busy || lane.some((s) => signalled.get(s.name)) || !running) continue;
      await new Promise<void>((resolve) => {
        const t = setTimeout(done, idleMs);
        function done() {
          clearTimeout(t);
          sleepers.delete(index);
          resolve();
        }
        sleepers.set(index, done);
      });
    }
  }

  const gauge = setInterval(() => {
    backlog(store.db)
      .then((b) => {
        for (const s of STAGES) stageBacklog.set({ stage: s }, b[s]);
      })
      .catch(() => undefined);
  }, 1000);
  gauge.unref();

  return {
    runBatch,
    start() {
      if (running) return;
      running = true;
      unwatch = store.watchCommits(wakeAll);
      lanes.forEach((lane, i) => loops.push(runLane(lane, i)));
    },
    async stop() {
      running = false;
      clearInterval(gauge);
      unwatch();
      wakeAll();
      await Promise.all(loops.splice(0));
    },
    wake(stage?: StageName) {
      if (stage) wakeStage(stage);
      else wakeAll();
    },
    async drain(maxRounds = 10_000) {
      for (let round = 0; round < maxRounds; round++) {
        let n = 0;
        for (const s of stages) n += await runBatch(s);
        if (n === 0) return;
      }
    },
  };
}
