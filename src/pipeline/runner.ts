/**
 * Runs stages: one loop per stage claims a batch, computes, then writes the result, the next hand-off and
 * the claim's completion in ONE transaction. A failed batch is retried item by item so that one poisonous
 * item cannot hold up the others; items that keep failing back off, with their error visible in the queue.
 *
 * A loop claims again at once while it finds full batches, and otherwise sleeps until it is woken: by its
 * upstream stage's commit here (each stage names the stages it hands on to), by `wake()` (intake in this
 * process), or by the store reporting another connection's commit (another process or thread). The idle
 * timeout only bounds how long a missed signal can delay work. Claiming only when told saves an empty
 * claim per stage per batch elsewhere — at small batches that was most of the queries.
 */
import type { Store } from '../store/store.js';
import { claim, complete, release, backlog, type ClaimedItem, type StageName, STAGES } from '../store/queue.js';
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
  /** Per stage: work may be waiting (set by a wake-up, cleared when its loop claims). */
  const signalled = new Map<StageName, boolean>(stages.map((s) => [s.name, true]));
  const sleepers = new Map<StageName, () => void>();
  const wakeStage = (name: StageName) => {
    signalled.set(name, true);
    sleepers.get(name)?.();
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
    stage.afterCommit?.(items, computed);
    stageProcessed.inc({ stage: stage.name }, items.length);
    for (const next of stage.next) wakeStage(next);
  }

  async function runBatch(stage: Stage<unknown>): Promise<number> {
    const items = await store.redoable((db) => claim({ db, skipLocked: store.skipLocked }, stage.name, owner, stage.batchSize, leaseMs));
    if (items.length === 0) return 0;
    const end = stageSeconds.startTimer({ stage: stage.name });
    try {
      await commit(stage, items, await stage.compute(items));
      return items.length;
    } catch (e) {
      if (items.length === 1) {
        await fail(stage, items, e);
        return 0;
      }
      log.warn({ stage: stage.name, err: (e as Error).message, items: items.length }, 'batch failed; retrying items one by one');
      let done = 0;
      for (const item of items) {
        try {
          await commit(stage, [item], await stage.compute([item]));
          done++;
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

  async function loop(stage: Stage<unknown>) {
    while (running) {
      signalled.set(stage.name, false);
      let n = 0;
      try {
        n = await runBatch(stage);
      } catch (e) {
        log.error({ stage: stage.name, err: (e as Error).message }, 'stage loop error');
      }
      // A full batch means more may be waiting; otherwise sleep unless something was signalled meanwhile.
      if (n >= stage.batchSize || signalled.get(stage.name) || !running) continue;
      await new Promise<void>((resolve) => {
        const t = setTimeout(done, idleMs);
        function done() {
          clearTimeout(t);
          sleepers.delete(stage.name);
          resolve();
        }
        sleepers.set(stage.name, done);
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
      for (const s of stages) loops.push(loop(s));
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
