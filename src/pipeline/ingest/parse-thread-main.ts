/**
 * The parse thread's body (parse-thread.ts): the detectors as ingest loads them, then every batch it is
 * given parsed in order and sent back.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { createNormalizer, loadDetectors } from '../../detectors/lib/registry.js';
import { nameThisThread } from '../../util/thread-name.js';
import { parseRecords } from './parse.js';
import { parseOptionsOf, toWire, type FromParseThread, type ParseThreadData, type ToParseThread } from './parse-thread.js';

const port = parentPort!;
const data = workerData as ParseThreadData;
const send = (m: FromParseThread) => port.postMessage(m);
nameThisThread('fido-parse');

try {
  const normalizer = createNormalizer(await loadDetectors({ jsonMappings: data.jsonMappings }));
  const timeZones = new Map(data.timeZones);
  const opts = parseOptionsOf(data);
  port.on('message', (m: ToParseThread) => {
    try {
      send({ type: 'parsed', id: m.id, parsed: toWire(m.records, parseRecords(m.records, normalizer, timeZones, opts)) });
    } catch (e) {
      send({ type: 'failed', id: m.id, error: e instanceof Error ? e.message : String(e) });
    }
  });
  send({ type: 'ready' });
} catch (e) {
  send({ type: 'failed', error: e instanceof Error ? e.message : String(e) });
}
