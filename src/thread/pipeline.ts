/**
 * Runs parts of the pipeline in a worker thread of this process, so that `fido start` (one process, DESIGN.md
 * §5) uses both cores: the main thread answers HTTP and writes the intake log while one thread ingests
 * (parses, deduplicates, correlates) and another enriches, scores, decides and acts. Each thread has its own store
 * connection; SQLite's WAL and BEGIN IMMEDIATE serialise their writes exactly as for FIDO_ROLE processes
 * sharing one file. The thread pushes snapshots of its metrics, which the main thread's /metrics merges with
 * its own without asking the thread (whose event loop may be busy with a long batch).
 *
 * If the thread fails, the process exits with an error rather than keep accepting alerts nobody processes
 * (what was accepted is in the intake log; the next start processes it).
 */
import { Worker } from 'node:worker_threads';
import type { Logger } from '../util/log.js';
import type { Pipeline } from '../pipeline/runner.js';
import { addMetricsPeer, type MetricsJson } from '../metrics.js';
import type { FromPipelineThread, PipelineThreadData, ToPipelineThread } from './protocol.js';

export interface PipelineThread {
  /** Stands in for the in-process pipeline: wake() reaches the thread; drain() and runBatch() are not offered. */
  pipeline: Pipeline;
  stop(): Promise<void>;
}

export async function startPipelineThread(data: PipelineThreadData, log: Logger): Promise<PipelineThread> {
  const worker = new Worker(new URL('./pipeline-entry.mjs', import.meta.url), {
    workerData: data,
    // A larger young generation: the stages allocate many short-lived rows and objects per batch, and
    // scavenging less often cut the pipeline's time by about 6% (bench/stages.ts with --max-semi-space-size).
    resourceLimits: { maxYoungGenerationSizeMb: 192 },
  });
  const send = (m: ToPipelineThread) => worker.postMessage(m);
  // The thread's last pushed metrics: kept until stop, so its series never vanish while it runs late.
  let metrics: MetricsJson = [];
  let stopping = false;
  let running = false; // failures before 'ready' reject the start instead
  let exited = false;
  let onStopped: (() => void) | null = null;

  const ready = new Promise<void>((resolve, reject) => {
    worker.on('message', (m: FromPipelineThread) => {
      if (m.type === 'ready') resolve();
      else if (m.type === 'metrics') metrics = m.metrics;
      else if (m.type === 'stopped') onStopped?.();
      else if (m.type === 'failed') {
        reject(new Error(`pipeline thread: ${m.error}`));
        if (stopping) log.error({ err: m.error }, 'the pipeline thread did not stop cleanly');
        fail(m.error);
      }
    });
    worker.on('error', (e) => {
      reject(e);
      fail(e.message);
    });
    worker.on('exit', (code) => {
      exited = true;
      reject(new Error(`pipeline thread exited with code ${code}`));
      onStopped?.();
      fail(`exited with code ${code}`);
    });
  });

  /** A failure while running (not starting, not stopping) stops the process. */
  function fail(error: string) {
    if (!running || stopping) return;
    log.fatal({ err: error }, 'the pipeline thread failed; stopping (accepted alerts stay in the intake log)');
    process.exitCode = 1;
    process.kill(process.pid, 'SIGTERM');
  }

  await ready;
  running = true;
  const removePeer = addMetricsPeer(() => metrics);

  const notHere = (what: string) => () => Promise.reject(new Error(`${what}: the pipeline runs in its own thread`));
  return {
    pipeline: {
      start() {},
      wake: () => send({ type: 'wake' }),
      stop: async () => {},
      drain: notHere('drain'),
      runBatch: notHere('runBatch'),
    },
    async stop() {
      if (stopping) return;
      stopping = true;
      if (!exited) {
        await new Promise<void>((resolve) => {
          onStopped = resolve;
          send({ type: 'stop' });
        });
      }
      removePeer();
      await worker.terminate();
    },
  };
}
