// A worker for test/util/thread-name.test.ts: names itself with the real helper (through tsx, as Fido's
// threads load it), says so, and waits to be looked at.
import { register } from 'tsx/esm/api';
import { parentPort, workerData } from 'node:worker_threads';

register();
const { nameThisThread } = await import('../../src/util/thread-name.ts');
nameThisThread(workerData.name);
parentPort.postMessage('named');
parentPort.once('message', () => parentPort.close());
