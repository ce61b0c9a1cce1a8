/**
 * Runs parts of the pipeline in a worker thread of this process, so that `fido start` (one process, DESIGN.md
 * §5) uses both cores: the main thread answers HTTP and writes the intake log while one thread ingests
 * (parses, deduplicates, correlates) and another enriches, scores, decides and acts. Each thread has its own store
 * connection; SQLite's WAL and BEGIN IMMEDIATE serialise their writes exactly as for FIDO_ROLE processes
 * sharing one file. The thread pushes snapshots of its metrics, which the main thread's /metrics merges with
 * its own without asking the thread (whose event loop may be busy with a long batch).
 *
 * The ingest thread is supervised (`parseTimeLimitMs`): it shows which record it is parsing and since when
 * (ParseWatch, shared memory), and a parse still running after twice the parse time limit is stopped the
 * only way a running parse can be, by ending the thread. A new thread takes over with that record set aside
 * (quarantined unparsed, "parse time limit"), so one record cannot hold the log, and the records after it
 * are derived as usual. (Parses that end, however slowly, are set aside inside the thread: parse.ts.)
 *
 * If a thread fails otherwise, the process exits with an error rather than keep accepting alerts nobody
 * processes (what was accepted is in the intake log; the next start processes it).
 */
import { Worker } from 'node:worker_threads';
import type { Logger } from '../util/log.js';
import type { Pipeline } from '../pipeline/runner.js';
import { addMetricsPeer, type MetricsJson } from '../metrics.js';
import { PARSE_TIME_LIMIT } from '../pipeline/ingest/parse.js';
import type { FromPipelineThread, PipelineThreadData, ToPipelineThread } from './protocol.js';

export interface PipelineThread {
  /** Stands in for the in-process pipeline: wake() reaches the thread; drain() and runBatch() are not offered. */
  pipeline: Pipeline;
  stop(): Promise<void>;
}

export interface SupervisionOptions {
  /** Supervise the thread's parses (the ingest thread): stop a parse that runs twice this long. */
  parseTimeLimitMs?: number;
  /** The thread's entry module (default pipeline-entry.mjs); tests give one that parses as they need. */
  entry?: URL;
}

/** How often the supervisor looks at the parse watch. */
const WATCH_INTERVAL_MS = 100;

interface Running {
  worker: Worker;
  send(m: ToPipelineThread): void;
  /** Resolves once the thread said 'ready'; rejects if it failed before. */
  ready: Promise<void>;
  /** The thread's last pushed metrics: kept until stop, so its series never vanish while it runs late. */
  metrics: MetricsJson;
  /** Ended on purpose (stop, or replaced after a stopped parse): its exit is not a failure. */
  ending: boolean;
  exited: boolean;
  onStopped: (() => void) | null;
}

export async function startPipelineThread(data: PipelineThreadData, log: Logger, opts: SupervisionOptions = {}): Promise<PipelineThread> {
  const entry = opts.entry ?? new URL('./pipeline-entry.mjs', import.meta.url);
  const supervised = opts.parseTimeLimitMs !== undefined;
  const watchBuffer = supervised ? new SharedArrayBuffer(2 * Float64Array.BYTES_PER_ELEMENT) : undefined;
  const watch = watchBuffer ? new Float64Array(watchBuffer) : undefined;
  const setAside: Array<[number, string]> = [...(data.setAside ?? [])];
  let stopping = false;
  let started = false; // failures before the first 'ready' reject the start instead
  let replacing = false;

  function launch(threadData: PipelineThreadData): Running {
    const worker = new Worker(entry, {
      workerData: threadData,
      // A larger young generation: the stages allocate many short-lived rows and objects per batch, and
      // scavenging less often cut the pipeline's time by about 6% (bench/stages.ts with --max-semi-space-size).
      resourceLimits: { maxYoungGenerationSizeMb: 192 },
    });
    const r: Running = { worker, send: (m) => worker.postMessage(m), ready: Promise.resolve(), metrics: [], ending: false, exited: false, onStopped: null };
    r.ready = new Promise<void>((resolve, reject) => {
      worker.on('message', (m: FromPipelineThread) => {
        if (m.type === 'ready') resolve();
        else if (m.type === 'metrics') r.metrics = m.metrics;
        else if (m.type === 'stopped') r.onStopped?.();
        else if (m.type === 'failed') {
          reject(new Error(`pipeline thread: ${m.error}`));
          if (stopping) log.error({ err: m.error }, 'the pipeline thread did not stop cleanly');
          fail(r, m.error);
        }
      });
      worker.on('error', (e) => {
        reject(e);
        fail(r, e.message);
      });
      worker.on('exit', (code) => {
        r.exited = true;
        reject(new Error(`pipeline thread exited with code ${code}`));
        r.onStopped?.();
        fail(r, `exited with code ${code}`);
      });
    });
    return r;
  }

  /** A failure while running (not starting, not stopping, not replaced on purpose) stops the process. */
  function fail(r: Running, error: string) {
    if (!started || stopping || r.ending) return;
    log.fatal({ err: error }, 'the pipeline thread failed; stopping (accepted alerts stay in the intake log)');
    process.exitCode = 1;
    process.kill(process.pid, 'SIGTERM');
  }

  const threadData = (): PipelineThreadData => ({ ...data, ...(watchBuffer ? { parseWatch: watchBuffer, setAside } : {}) });
  let current = launch(threadData());
  await current.ready;
  started = true;
  const removePeers = [addMetricsPeer(() => current.metrics)];

  /** Ends the thread stuck on record `seq` and starts another that sets the record aside. */
  async function replace(seq: number, ms: number): Promise<void> {
    replacing = true;
    const reason = `${PARSE_TIME_LIMIT}: parsing went on for more than ${ms} ms and was stopped`;
    log.error({ seq, parse_ms: ms }, 'a parse overran the parse time limit; replacing the ingest thread and setting the record aside');
    setAside.push([seq, reason]);
    const old = current;
    old.ending = true;
    // Its counts go on being served (without its gauges, which the new thread reports), so no counter resets.
    const counted = old.metrics.filter((m) => String(m.type) !== 'gauge');
    removePeers.push(addMetricsPeer(() => counted));
    await old.worker.terminate();
    if (watch) watch[0] = 0;
    if (stopping) return;
    current = launch({ ...threadData(), warmUp: false });
    try {
      await current.ready;
    } catch (e) {
      fail(current, `the replacement ingest thread did not start: ${(e as Error).message}`);
      return;
    }
    replacing = false;
    current.send({ type: 'wake' });
  }

  const limit = opts.parseTimeLimitMs ?? 0;
  const watchdog = watch
    ? setInterval(() => {
        if (replacing || stopping) return;
        const seq = watch[0]!;
        const ms = Date.now() - watch[1]!;
        if (seq > 0 && ms > 2 * limit) void replace(seq, Math.round(ms));
      }, Math.min(WATCH_INTERVAL_MS, limit))
    : undefined;
  watchdog?.unref();

  const notHere = (what: string) => () => Promise.reject(new Error(`${what}: the pipeline runs in its own thread`));
  return {
    pipeline: {
      start() {},
      wake: () => current.send({ type: 'wake' }),
      stop: async () => {},
      drain: notHere('drain'),
      runBatch: notHere('runBatch'),
    },
    async stop() {
      if (stopping) return;
      stopping = true;
      if (watchdog) clearInterval(watchdog);
      const r = current;
      r.ending = true;
      if (!r.exited) {
        await new Promise<void>((resolve) => {
          r.onStopped = resolve;
          r.send({ type: 'stop' });
        });
      }
      for (const remove of removePeers) remove();
      await r.worker.terminate();
    },
  };
}
