/**
 * /metrics merges the pipeline thread's metrics from the last snapshot it pushed: a thread whose event loop is
 * blocked (a long synchronous batch) neither delays the answer nor takes its series out of it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import { addMetricsPeer, metricsText, stageProcessed, type MetricsJson } from '../../src/metrics.js';

// A peer thread like the pipeline's: counts, pushes a snapshot, then blocks until the test lets it go on.
const PEER = `
const { parentPort, workerData } = require('node:worker_threads');
const { Counter, Registry } = require(workerData.promClient);
const registry = new Registry();
const processed = new Counter({ name: 'fido_stage_processed_total', help: 'h', labelNames: ['stage'], registers: [registry] });
const gate = new Int32Array(workerData.gate);
(async () => {
  for (;;) {
    processed.inc({ stage: 'decide' }, 10);
    parentPort.postMessage(await registry.getMetricsAsJSON());
    Atomics.wait(gate, 0, 0); // blocked: answers nothing, pushes nothing
    Atomics.store(gate, 0, 0);
  }
})();
`;

const decide = (text: string) => Number(/^fido_stage_processed_total\{stage="decide"\} (\d+)$/m.exec(text)?.[1] ?? NaN);

test("metricsText serves a blocked peer thread's last snapshot, summed with this thread's series, until the peer is removed", { timeout: 30_000 }, async () => {
  const gate = new SharedArrayBuffer(4);
  const worker = new Worker(PEER, { eval: true, workerData: { gate, promClient: createRequire(import.meta.url).resolve('prom-client') } });
  let last: MetricsJson = [];
  const pushed = () => new Promise<void>((resolve) => worker.once('message', (m: MetricsJson) => ((last = m), resolve())));
  const removePeer = addMetricsPeer(() => last);
  try {
    stageProcessed.inc({ stage: 'decide' }, 1); // this thread's share of the same series
    await pushed();

    // The peer is now blocked for good: every scrape still answers, with its series, and they do not drop.
    for (let i = 0; i < 3; i++) assert.equal(decide(await metricsText()), 11);

    // It goes on and pushes again: the next scrape has the new count.
    const next = pushed();
    Atomics.store(new Int32Array(gate), 0, 1);
    Atomics.notify(new Int32Array(gate), 0);
    await next;
    assert.equal(decide(await metricsText()), 21);

    // Removed (the thread stopped): only this thread's count remains.
    removePeer();
    assert.equal(decide(await metricsText()), 1);
  } finally {
    removePeer();
    await worker.terminate();
  }
});
