/** nameThisThread names the calling thread only, as the operating system shows it (Linux: /proc). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { Worker } from 'node:worker_threads';

const threadNames = () => readdirSync('/proc/self/task').map((tid) => readFileSync(`/proc/self/task/${tid}/comm`, 'utf8').trim());

test('a thread that names itself shows under that name, cut to 15 bytes; the others keep theirs', async () => {
  const before = readFileSync('/proc/thread-self/comm', 'utf8').trim();
  const worker = new Worker(new URL('../support/named-thread-entry.mjs', import.meta.url), { workerData: { name: 'fido-test-thread-with-a-long-name' } });
  try {
    await new Promise<void>((resolve, reject) => {
      worker.once('message', () => resolve());
      worker.once('error', reject);
    });
    assert.ok(threadNames().includes('fido-test-threa'), threadNames().join(', '));
    assert.equal(readFileSync('/proc/thread-self/comm', 'utf8').trim(), before, 'this thread keeps its name');
  } finally {
    worker.postMessage('done');
    await new Promise((r) => worker.once('exit', r));
  }
});
