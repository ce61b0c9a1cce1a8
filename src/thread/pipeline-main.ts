/**
 * The pipeline thread's body: loads the config, starts the stages and the action executor on their own
 * store connection, answers the main thread's wake-ups and stop, and pushes its metrics to the main thread.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { loadConfig } from '../config/load.js';
import { startFido } from '../app.js';
import { registry } from '../metrics.js';
import { nameThisThread } from '../util/thread-name.js';
import { errorContext, log } from '../util/log.js';
import { METRICS_PUSH_MS, type FromPipelineThread, type PipelineThreadData, type ToPipelineThread } from './protocol.js';

const port = parentPort!;
const data = workerData as PipelineThreadData;
const send = (m: FromPipelineThread) => port.postMessage(m);
// fido-ingest, fido-incidents: what `top -H` and the benchmark's CPU per thread show.
nameThisThread(`fido-${data.parts[0] ?? 'pipeline'}`);

// Pushes run one after another, so that snapshots arrive in the order they were taken (an older one arriving
// last would show counters going down). A failed push leaves the main thread with the previous snapshot.
let pushing = Promise.resolve();
const pushMetrics = () =>
  (pushing = pushing
    .then(async () => send({ type: 'metrics', metrics: await registry.getMetricsAsJSON() }))
    .catch((err: unknown) => log.warn({ err: errorContext(err) }, 'pipeline thread: metrics not pushed; the main thread keeps the previous snapshot')));

try {
  const loaded = await loadConfig(data.configFile, data.env);
  // Metrics are pushed only from here on: the warm-up inside startFido counts and then resets them.
  const fido = await startFido({
    loaded,
    env: data.env,
    parts: data.parts,
    warmUp: data.warmUp,
    ...(data.parseWatch ? { parseSupervision: { watch: new Float64Array(data.parseWatch), setAside: new Map(data.setAside ?? []) } } : {}),
  });
  // On a timer, not on request: the main thread serves /metrics from the last snapshot, even while a long
  // synchronous batch keeps this thread's event loop busy.
  const timer = setInterval(() => void pushMetrics(), METRICS_PUSH_MS);
  port.on('message', (m: ToPipelineThread) => {
    if (m.type === 'wake') fido.pipeline.wake('ingest');
    else if (m.type === 'stop') {
      clearInterval(timer);
      // Whatever stop() says, the main thread is waiting for 'stopped'; the last batches' counts go with it.
      void fido
        .stop()
        .catch((e: unknown) => send({ type: 'failed', error: (e as Error).message }))
        .then(pushMetrics)
        .finally(() => {
          send({ type: 'stopped' });
          port.close();
        });
    }
  });
  await pushMetrics();
  send({ type: 'ready' });
} catch (e) {
  send({ type: 'failed', error: e instanceof Error ? e.message : String(e) });
}
