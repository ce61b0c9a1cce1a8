/**
 * Parsing on a thread of its own (the ingest thread's helper): ingest hands it a batch of records and derives
 * the batch before while it parses, so that parsing (a fifth of ingest's time) is no longer on the thread
 * every record waits for. What it returns is what parseRecords returns on the ingest thread (the same pure
 * function, the same detectors and settings), with each record given by its place in the batch instead of
 * copied back, and each alert's document also as the JSON text the alert row stores.
 *
 * Supervision is unchanged: the thread writes the ingest thread's parse watch (shared memory), so a parse that
 * does not end is seen by the same supervisor (thread/pipeline.ts), which ends the ingest thread and with it
 * this one. If this thread fails otherwise, ingest parses on its own thread again (ingest/index.ts).
 */
import { Worker } from 'node:worker_threads';
import type { JsonMapping } from '../../config/schema.js';
import type { LogRecord } from '../../store/log.js';
import type { Parsed, ParseOptions } from './parse.js';

/** What the parse thread is started with (all of it plain data: it crosses to the thread by copy). */
export interface ParseThreadData {
  jsonMappings: readonly JsonMapping[];
  /** source name → zone of its zone-less timestamps (as ingest's `timeZones`). */
  timeZones: Array<[string, string]>;
  timeLimitMs?: number;
  /** The ingest thread's parse watch (ParseWatch's buffer), when it is supervised. */
  watch?: SharedArrayBuffer;
  setAside?: Array<[number, string]>;
}

/** Parses batches of records for ingest, in the order asked. */
export interface RecordParser {
  parse(records: readonly LogRecord[]): Promise<Parsed>;
  close(): Promise<void>;
}

/** A batch's parse as it crosses back: records by their index in the batch. */
export interface ParsedOnWire {
  alerts: Array<{ at: number; alert: Parsed['alerts'][number]['alert']; fingerprint: string; json: string }>;
  context: Array<{ at: number; id: string; event: Parsed['context'][number]['event']; detector: string }>;
  quarantine: Array<{ at: number; reason: string; detector: string | null }>;
}

export type ToParseThread = { id: number; records: readonly LogRecord[] };
export type FromParseThread = { type: 'ready' } | { type: 'parsed'; id: number; parsed: ParsedOnWire } | { type: 'failed'; id?: number; error: string };

/** Puts the batch's own records back into a parse that crossed from the thread. */
export function fromWire(records: readonly LogRecord[], wire: ParsedOnWire): Parsed {
  return {
    alerts: wire.alerts.map((a) => ({ alert: a.alert, fingerprint: a.fingerprint, record: records[a.at]!, json: a.json })),
    context: wire.context.map((c) => ({ id: c.id, event: c.event, detector: c.detector, record: records[c.at]! })),
    quarantine: wire.quarantine.map((q) => ({ reason: q.reason, detector: q.detector, record: records[q.at]! })),
  };
}

/** The other way (parse-thread-main.ts): records by their index in the batch, every alert's JSON text beside it. */
export function toWire(records: readonly LogRecord[], parsed: Parsed): ParsedOnWire {
  const at = new Map<LogRecord, number>(records.map((r, i) => [r, i]));
  return {
    alerts: parsed.alerts.map((a) => ({ at: at.get(a.record)!, alert: a.alert, fingerprint: a.fingerprint, json: JSON.stringify(a.alert) })),
    context: parsed.context.map((c) => ({ at: at.get(c.record)!, id: c.id, event: c.event, detector: c.detector })),
    quarantine: parsed.quarantine.map((q) => ({ at: at.get(q.record)!, reason: q.reason, detector: q.detector })),
  };
}

/** The parse options a thread rebuilds from its data (the watch over the shared buffer, the set-aside records). */
export function parseOptionsOf(data: ParseThreadData): ParseOptions {
  return {
    ...(data.timeLimitMs !== undefined ? { timeLimitMs: data.timeLimitMs } : {}),
    ...(data.watch ? { watch: new Float64Array(data.watch) } : {}),
    ...(data.setAside ? { setAside: new Map(data.setAside) } : {}),
  };
}

/** Starts the parse thread; resolves once it has loaded the detectors. */
export async function startParseThread(data: ParseThreadData): Promise<RecordParser> {
  const worker = new Worker(new URL('./parse-thread-entry.mjs', import.meta.url), { workerData: data });
  const waiting = new Map<number, { records: readonly LogRecord[]; resolve: (p: Parsed) => void; reject: (e: Error) => void }>();
  let next = 1;
  let broken: Error | null = null;
  const failAll = (e: Error) => {
    broken ??= e;
    for (const w of waiting.values()) w.reject(broken);
    waiting.clear();
  };
  /** The batch answered; the process is kept alive by the thread only while a batch waits. */
  const answered = (id: number) => {
    const w = waiting.get(id);
    waiting.delete(id);
    if (waiting.size === 0) worker.unref();
    return w;
  };
  const ready = new Promise<void>((resolve, reject) => {
    worker.on('message', (m: FromParseThread) => {
      if (m.type === 'ready') resolve();
      else if (m.type === 'parsed') {
        const w = answered(m.id);
        w?.resolve(fromWire(w.records, m.parsed));
      } else {
        const e = new Error(`parse thread: ${m.error}`);
        if (m.id === undefined) {
          reject(e);
          failAll(e);
        } else answered(m.id)?.reject(e);
      }
    });
    worker.on('error', (e) => {
      reject(e);
      failAll(e);
    });
    worker.on('exit', (code) => {
      const e = new Error(`parse thread exited with code ${code}`);
      reject(e);
      failAll(e);
    });
  });
  await ready;
  worker.unref();
  return {
    parse(records) {
      if (broken) return Promise.reject(broken);
      const id = next++;
      return new Promise<Parsed>((resolve, reject) => {
        waiting.set(id, { records, resolve, reject });
        worker.ref();
        worker.postMessage({ id, records } satisfies ToParseThread);
      });
    },
    async close() {
      broken ??= new Error('parse thread closed');
      await worker.terminate();
    },
  };
}
