/**
 * The intake log writer. Every receiver funnels records through `accept`; calls that arrive in the same
 * tick are group-committed in one transaction (the records and the receivers' new positions), which is what
 * makes single-record HTTP posts cheap. A promise resolves only after its transaction committed, at the
 * store's full durability: the log is the truth everything else is derived from.
 */
import type { Store } from '../store/store.js';
import { appendRecords, INGEST_CURSOR, lockForAppend, logBacklogRecords } from '../store/log.js';
import { ulid } from '../util/ulid.js';
import { intakeAlerts, intakeCommitFailedRecords, intakeCommitFailures, intakeDuplicates } from '../metrics.js';
import { errorContext, log } from '../util/log.js';
import { writeCursorRows, type CursorRow } from '../store/cursors.js';
import { BackpressureError, type AcceptResult, type IntakeRecord, type IntakeWriter } from './receiver.js';

export interface IntakeWriterOptions {
  /** Records not yet ingested beyond which accept() refuses with BackpressureError. */
  maxBacklog: number;
  /** How often the backlog count is refreshed from the store (it is shared with other processes). */
  backlogRefreshMs?: number;
  /** Called after each commit, e.g. to wake the normalize stage. */
  onCommit?: () => void;
}

interface Pending {
  source: string;
  detector: string | null;
  records: readonly IntakeRecord[];
  ids: string[];
  cursor: CursorRow | undefined;
  resolve: (r: AcceptResult) => void;
  reject: (e: unknown) => void;
}

export interface ManagedIntakeWriter extends IntakeWriter {
  /** Current backlog estimate: last count from the store plus what this process queued since. */
  backlog(): number;
  close(): Promise<void>;
}

export function createIntakeWriter(store: Store, options: IntakeWriterOptions): ManagedIntakeWriter {
  let pending: Pending[] = [];
  let scheduled = false;
  let flushing: Promise<void> = Promise.resolve();
  let counted = 0;
  let sinceCount = 0;
  let closed = false;

  let refreshFailing = false;
  const refresh = async () => {
    counted = await logBacklogRecords(store.db, INGEST_CURSOR);
    sinceCount = 0;
    refreshFailing = false;
  };
  // The estimate stays usable on a failed refresh; said once per run of failures, not every 250 ms.
  const refreshFailed = (e: unknown) => {
    if (!refreshFailing) log.warn({ err: errorContext(e) }, 'intake: the backlog count could not be read; using the last one');
    refreshFailing = true;
  };
  const timer = setInterval(() => void refresh().catch(refreshFailed), options.backlogRefreshMs ?? 250);
  timer.unref();
  void refresh().catch(refreshFailed);

  async function flush(): Promise<void> {
    scheduled = false;
    const batch = pending;
    pending = [];
    if (batch.length === 0) return;
    const now = Date.now();
    const rows = batch.flatMap((p) =>
      p.records.map((r, i) => ({ id: p.ids[i]!, source: p.source, detector: p.detector, received_at: now, raw: r.raw, raw_base64: r.raw_base64 ?? null, dedup_key: r.key ?? null })),
    );
    let skipped = new Set<string>();
    try {
      await store.db.transaction().execute(async (tx) => {
        await lockForAppend(tx, store.dialect);
        skipped = await appendRecords(tx, rows);
        await writeCursorRows(tx, batch.flatMap((p) => (p.cursor ? [p.cursor] : [])));
      });
    } catch (e) {
      commitFailed(batch, rows, e);
      for (const p of batch) p.reject(e);
      return;
    }
    sinceCount += rows.length - skipped.size;
    for (const p of batch) {
      const duplicates = skipped.size === 0 ? 0 : p.ids.filter((id) => skipped.has(id)).length;
      if (duplicates > 0) intakeDuplicates.inc({ source: p.source }, duplicates);
      intakeAlerts.inc({ source: p.source }, p.records.length - duplicates);
      p.resolve(duplicates > 0 ? { ids: p.ids, duplicates } : { ids: p.ids });
    }
    if (rows.length > skipped.size) options.onCommit?.();
  }

  /**
   * Nothing fails silently: the receivers answer 503 or retry, and the operator sees why. The line says which
   * sources, how many records and bytes, and the error (bounded); never record text, which is attacker data
   * and may hold secrets.
   */
  function commitFailed(batch: readonly Pending[], rows: ReadonlyArray<{ raw: string | NodeJS.ArrayBufferView }>, e: unknown): void {
    const sources = new Map<string, { records: number; detector: string | null }>();
    for (const p of batch) {
      const s = sources.get(p.source) ?? { records: 0, detector: p.detector };
      s.records += p.records.length;
      sources.set(p.source, s);
    }
    for (const [source, s] of sources) {
      intakeCommitFailures.inc({ source });
      if (s.records > 0) intakeCommitFailedRecords.inc({ source }, s.records);
    }
    log.error(
      {
        err: errorContext(e),
        sources: Object.fromEntries(sources),
        records: rows.length,
        bytes: rows.reduce((n, r) => n + Buffer.byteLength(r.raw), 0),
        requests: batch.length,
        cursors: batch.filter((p) => p.cursor).map((p) => p.cursor!.receiver),
      },
      'intake commit failed: records refused (receivers retry; HTTP answers 503)',
    );
  }

  function schedule() {
    if (scheduled) return;
    scheduled = true;
    // Chain flushes: one transaction at a time, each taking everything that queued up meanwhile.
    setImmediate(() => {
      flushing = flushing.then(flush, flush);
    });
  }

  return {
    backlog: () => counted + sinceCount + pending.reduce((n, p) => n + p.records.length, 0),
    accept(source, detector, records, position) {
      if (closed) return Promise.reject(new Error('intake is shutting down'));
      if (records.length === 0 && !position?.cursor) return Promise.resolve({ ids: [] });
      if (records.length > 0 && this.backlog() + records.length > options.maxBacklog) {
        return Promise.reject(new BackpressureError(Math.max(1, Math.ceil(this.backlog() / 20_000))));
      }
      return new Promise<AcceptResult>((resolve, reject) => {
        const t = Date.now();
        pending.push({ source, detector, records, ids: records.map(() => ulid(t)), cursor: position?.cursor, resolve, reject });
        schedule();
      });
    },
    async close() {
      closed = true;
      clearInterval(timer);
      if (pending.length) schedule();
      await new Promise((r) => setImmediate(r));
      await flushing;
    },
  };
}
