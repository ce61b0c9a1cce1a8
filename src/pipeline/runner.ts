/**
 * Runs the pipeline: ingest (the intake log → alerts and incidents, ingest/index.ts) and the incident stages
 * after it (enrich → score → decide), which claim changed incidents from the work queue (store/queue.ts),
 * compute, then write the result, the next hand-off and the claim's completion in ONE transaction. A failed
 * stage batch is retried item by item so that one poisonous incident cannot hold up the others; items that
 * keep failing back off, with their error visible in the queue.
 *
 * Steps run in lanes: a lane is a run of consecutive steps that one loop takes in pipeline order, a batch
 * of each per pass, so what a pass's first step takes reaches the lane's last step in the same pass. A
 * stage that waits on outside services (`awaitsServices`: enrichment lookups) starts a new lane, so ingest
 * keeps going while it waits.
 *
 * A lane passes again at once while it finds work, and otherwise sleeps until it is woken: by an upstream
 * step's commit here (each step names the steps it hands on to), by `wake()` (intake in this process), or by
 * the store reporting another connection's commit (another process or thread). The idle timeout only
 * bounds how long a missed signal can delay work.
 *
 * On SQLite (one writer at a time), a `storeOnly` stage's batch is claimed, computed and written in ONE write
 * transaction instead: no lease to write and clear, no separate commit for the claim. Enrichment (which
 * waits on services) and decisions (which wait on the policy sandbox's thread) keep the lease, so the write
 * lock is never held while waiting on anything but the store.
 */
import type { Store } from '../store/store.js';
import { claim, claimInTransaction, complete, hasDueItems, release, type ClaimedItem, type StageName } from '../store/queue.js';
import type { Stage } from './stage.js';
import type { Ingest } from './ingest/index.js';
import { stageProcessed, stageSeconds } from '../metrics.js';
import { errorContext, type Logger } from '../util/log.js';

/** What a lane runs: ingest or a queue stage. */
export type StepName = 'ingest' | StageName;

export interface PipelineOptions {
  store: Store;
  /** The log consumer that feeds the stages; absent in tests that drive the stages alone. */
  ingest?: Ingest;
  stages: ReadonlyArray<Stage<any>>; // eslint-disable-line @typescript-eslint/no-explicit-any -- each stage has its own Computed type
  owner: string;
  log: Logger;
  leaseMs?: number;
  /** Longest sleep of an idle stage without a wake-up (a safety net: wake-ups normally come first). */
  idleMs?: number;
  /**
   * Work the stages only once ingest has found nothing to do for this long (ms): for a thread whose job is
   * ingest and that helps another with incident passes when it would otherwise sit idle. Not at once: in a
   * burst ingest catches up with intake for moments, and a pass started then held it up for hundreds of
   * milliseconds (the burst was slower with the help than without).
   */
  stagesWhenIngestIdleFor?: number;
}

export interface Pipeline {
  start(): void;
  stop(): Promise<void>;
  /** Wakes idle loops (all, or the one that runs the step named), e.g. ingest after intake committed. */
  wake(step?: StepName): void;
  /** Processes until every stage finds nothing to do (for the CLI and tests). */
  drain(maxRounds?: number): Promise<void>;
  /** Runs one batch of one stage; returns how many items it finished. */
  runBatch(stage: Stage<unknown>): Promise<number>;
}

interface Step {
  name: StepName;
  next: readonly StepName[];
  awaitsServices: boolean;
  run(): Promise<number>;
}

const backoffMs = (attempts: number) => Math.min(60_000, 250 * 2 ** Math.min(attempts, 8));

export function createPipeline(opts: PipelineOptions): Pipeline {
  const { store, stages, owner, log, ingest } = opts;
  const leaseMs = opts.leaseMs ?? 60_000;
  const idleMs = opts.idleMs ?? 1000;
  let running = false;
  const loops: Promise<void>[] = [];
  const idleFor = ingest ? opts.stagesWhenIngestIdleFor : undefined;
  /** Whether ingest has found nothing since its last work (see stagesWhenIngestIdleFor); false before its first batch. */
  let idle = false;
  /**
   * Set by the timer that runs once ingest has been idle for `idleFor`, cleared when it works again. A flag
   * rather than a comparison of clocks: a timer due in 50 ms may fire when Date.now() says 49, and a stage
   * held back then slept until something else woke it.
   */
  let released = false;
  let helpTimer: NodeJS.Timeout | undefined;
  const held = () => idleFor !== undefined && !released;
  const steps: Step[] = stages.map((s) => ({
    name: s.name,
    next: s.next,
    awaitsServices: s.awaitsServices ?? false,
    run: () => (held() ? Promise.resolve(0) : runBatch(s)),
  }));
  if (ingest) {
    steps.unshift({
      name: 'ingest',
      next: ['enrich'],
      awaitsServices: false,
      run: async () => {
        const n = await ingest.runBatch();
        if (n > 0) {
          idle = false;
          released = false;
          clearTimeout(helpTimer);
          wakeStep('enrich');
        } else if (!idle && idleFor !== undefined) {
          // Stages held back while ingest worked may go once it has been idle long enough.
          idle = true;
          clearTimeout(helpTimer);
          helpTimer = setTimeout(() => {
            if (!idle) return;
            released = true;
            for (const s of stages) wakeStep(s.name);
          }, idleFor);
        }
        return n;
      },
    });
  }
  /** Lanes: runs of steps, split before each stage that awaits outside services. */
  const lanes: Step[][] = [];
  for (const s of steps) {
    if (s.awaitsServices || lanes.length === 0) lanes.push([]);
    lanes.at(-1)!.push(s);
  }
  const laneOf = new Map<StepName, number>(lanes.flatMap((lane, i) => lane.map((s) => [s.name, i] as const)));

  /** Per step: work may be waiting (set by a wake-up, cleared when its lane passes). */
  const signalled = new Map<StepName, boolean>(steps.map((s) => [s.name, true]));
  /** Per lane: wakes it from its idle sleep. */
  const sleepers = new Map<number, () => void>();
  const wakeStep = (name: StepName) => {
    signalled.set(name, true);
    const lane = laneOf.get(name);
    if (lane !== undefined) sleepers.get(lane)?.();
  };
  const wakeAll = () => {
    for (const s of steps) wakeStep(s.name);
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
    for (const next of stage.next) wakeStep(next);
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
      log.warn({ stage: stage.name, err: errorContext(e), items: items.length }, 'batch failed; retrying items one by one');
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
    // Not released, the items come back when their lease ends; the log says why they waited longer.
    await release(store.db, items, msg, Date.now() + backoffMs(items[0]?.attempts ?? 1)).catch((err: unknown) =>
      log.warn({ stage: stage.name, items: items.length, err: errorContext(err) }, 'stage items not released after a failure; they are retried when their lease ends'),
    );
  }

  async function runLane(lane: Step[], index: number) {
    while (running) {
      for (const s of lane) signalled.set(s.name, false);
      let busy = false;
      for (const step of lane) {
        if (!running) break;
        try {
          busy = (await step.run()) > 0 || busy;
        } catch (e) {
          log.error({ stage: step.name, err: errorContext(e) }, 'stage loop error');
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
      clearTimeout(helpTimer);
      unwatch();
      wakeAll();
      await Promise.all(loops.splice(0));
      await ingest?.stop();
    },
    wake(step?: StepName) {
      if (step) wakeStep(step);
      else wakeAll();
    },
    async drain(maxRounds = 10_000) {
      for (let round = 0; round < maxRounds; round++) {
        let n = 0;
        for (const s of steps) n += await s.run();
        if (n === 0) return;
      }
    },
  };
}
