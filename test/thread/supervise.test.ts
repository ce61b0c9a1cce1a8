/**
 * The ingest thread's supervisor (thread/pipeline.ts): a parse that does not end is stopped by replacing the
 * thread, the record is set aside for the new thread (which quarantines it unparsed: test/pipeline/ingest),
 * the process goes on, and the replaced thread's counts stay in /metrics (no counter reset). The thread is a
 * real worker speaking the real protocol that spins forever on one record (test/support/stuck-parse-entry.mjs).
 */
import { test } from 'node:test';
import { readdirSync, readFileSync } from 'node:fs';
import assert from 'node:assert/strict';
import { startPipelineThread } from '../../src/thread/pipeline.js';
import { metricsText } from '../../src/metrics.js';
import { log } from '../../src/util/log.js';
import { waitFor } from '../support/wait.js';

test('a parse that never ends is stopped: the thread is replaced, the record set aside, the counts kept', async () => {
  const entry = new URL('../support/stuck-parse-entry.mjs', import.meta.url);
  const thread = await startPipelineThread({ configFile: '', env: {}, warmUp: false, parts: ['ingest'] }, log, { parseTimeLimitMs: 50, entry });
  try {
    await waitFor('the first thread pushed its count', async () => /fido_test_parsed_total 5\b/.test(await metricsText()));
    thread.pipeline.wake(); // the first thread gets stuck on record 7
    await waitFor('a new thread took over with record 7 set aside', async () => /fido_test_set_aside\{reason="parse time limit: parsing went on for more than \d+ ms and was stopped"\} 1/.test(await metricsText()));
    const text = await metricsText();
    assert.match(text, /fido_test_parsed_total 7\b/, "the replaced thread's count (5) and the new one's (2) are both served");
    assert.equal(process.exitCode ?? 0, 0, 'the process goes on');
  } finally {
    await thread.stop();
  }
});

test('a parse that never ends in the ingest thread\'s parse thread is stopped too: the thread is replaced, its parse thread ends with it', async () => {
  const entry = new URL('../support/stuck-parse-entry.mjs', import.meta.url);
  const threadNames = () => readdirSync('/proc/self/task').map((tid) => readFileSync(`/proc/self/task/${tid}/comm`, 'utf8').trim());
  const thread = await startPipelineThread({ configFile: '', env: { STUCK_IN: 'parse-thread' }, warmUp: false, parts: ['ingest'] }, log, { parseTimeLimitMs: 50, entry });
  try {
    thread.pipeline.wake(); // the first thread's parse thread gets stuck on record 7
    await waitFor('the parse thread started', async () => threadNames().includes('fido-stuck-par'));
    await waitFor('a new thread took over with record 7 set aside', async () => /fido_test_set_aside\{reason="parse time limit: parsing went on for more than \d+ ms and was stopped"\} 1/.test(await metricsText()));
    await waitFor('the stuck parse thread ended with the thread that started it', async () => !threadNames().includes('fido-stuck-par'));
  } finally {
    await thread.stop();
  }
});

