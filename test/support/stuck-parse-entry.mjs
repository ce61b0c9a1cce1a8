// A pipeline thread for test/thread/supervise.test.ts that speaks the real protocol (thread/protocol.ts) and
// gets stuck parsing record 7 — forever, in a loop nothing inside the thread can stop — unless its
// supervisor set record 7 aside (with env STUCK_IN=parse-thread, in a thread of its own, as ingest's parse thread). It pushes a counter so the test can see that the counts of a replaced
// thread are kept: 5 before it gets stuck, 2 from the thread that replaces it.
import { parentPort, Worker, workerData } from 'node:worker_threads';

const STUCK_SEQ = 7;
const watch = new Float64Array(workerData.parseWatch);
const setAside = new Map(workerData.setAside ?? []);
const replacement = setAside.has(STUCK_SEQ);
const counter = (value) => [{ name: 'fido_test_parsed_total', help: 'test', type: 'counter', aggregator: 'sum', values: [{ value, labels: {} }] }];

parentPort.postMessage({ type: 'metrics', metrics: counter(replacement ? 2 : 5) });
parentPort.on('message', (m) => {
  if (m.type === 'wake' && !replacement && workerData.env?.STUCK_IN === 'parse-thread') {
    // As ingest with its parse thread: the parse that never ends runs in a thread of this thread's own,
    // which writes the same watch, while this one only waits.
    new Worker(new URL('./stuck-parse-child.mjs', import.meta.url), { workerData: { parseWatch: workerData.parseWatch, seq: STUCK_SEQ } });
  } else if (m.type === 'wake' && !replacement) {
    watch[1] = Date.now();
    watch[0] = STUCK_SEQ;
    for (;;); // the parse that never ends
  }
  if (m.type === 'wake' && replacement) {
    parentPort.postMessage({ type: 'metrics', metrics: [...counter(2), { name: 'fido_test_set_aside', help: 'test', type: 'gauge', aggregator: 'sum', values: [{ value: 1, labels: { reason: String(setAside.get(STUCK_SEQ)) } }] }] });
  }
  if (m.type === 'stop') {
    parentPort.postMessage({ type: 'stopped' });
    parentPort.close();
  }
});
parentPort.postMessage({ type: 'ready' });
