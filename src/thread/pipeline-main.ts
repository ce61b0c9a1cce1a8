/**
 * The pipeline thread's body: loads the config, starts the stages and the action executor on their own
 * store connection, and answers the main thread's wake-ups, metric requests and stop.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { loadConfig } from '../config/load.js';
import { startFido } from '../app.js';
import { registry } from '../metrics.js';
import type { FromPipelineThread, PipelineThreadData, ToPipelineThread } from './protocol.js';

const port = parentPort!;
const data = workerData as PipelineThreadData;
const send = (m: FromPipelineThread) => port.postMessage(m);

try {
  const loaded = await loadConfig(data.configFile, data.env);
  const fido = await startFido({ loaded, env: data.env, parts: ['worker', 'actions'], warmUp: data.warmUp });
  port.on('message', (m: ToPipelineThread) => {
    if (m.type === 'wake') fido.pipeline.wake('normalize');
    else if (m.type === 'metrics') void registry.getMetricsAsJSON().then((metrics) => send({ type: 'metrics', id: m.id, metrics }));
    else if (m.type === 'stop') {
      // Whatever stop() says, the main thread is waiting for 'stopped'.
      void fido
        .stop()
        .catch((e: unknown) => send({ type: 'failed', error: (e as Error).message }))
        .finally(() => {
          send({ type: 'stopped' });
          port.close();
        });
    }
  });
  send({ type: 'ready' });
} catch (e) {
  send({ type: 'failed', error: e instanceof Error ? e.message : String(e) });
}
