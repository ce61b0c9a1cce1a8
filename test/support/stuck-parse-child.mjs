// The parse thread of test/support/stuck-parse-entry.mjs (STUCK_IN=parse-thread): names itself, shows the
// supervisor's watch that it parses record `seq`, and never ends.
import { writeFileSync } from 'node:fs';
import { workerData } from 'node:worker_threads';

writeFileSync('/proc/thread-self/comm', 'fido-stuck-par');
const watch = new Float64Array(workerData.parseWatch);
watch[1] = Date.now();
watch[0] = workerData.seq;
for (;;); // the parse that never ends
