/**
 * How far the pipeline is behind, in items and in seconds of lag, read from the store when /metrics is
 * scraped: true right after a start, the same whichever process asks, and never a stale copy of another
 * thread's figure. The records behind ingest count for normalize and correlate, which it fuses.
 */
import type { Store } from '../store/store.js';
import { INGEST_CURSOR, logBacklog } from '../store/log.js';
import { backlog, STAGES } from '../store/queue.js';
import { stageBacklog, stageLagSeconds } from '../metrics.js';

export async function measureBacklog(store: Store, now = Date.now()): Promise<void> {
  const lag = (oldest: number | null) => (oldest === null ? 0 : Math.max(0, (now - oldest) / 1000));
  const log = await logBacklog(store.db, INGEST_CURSOR);
  for (const stage of ['normalize', 'correlate'] as const) {
    stageBacklog.set({ stage }, log.records);
    stageLagSeconds.set({ stage }, lag(log.oldestReceivedAt));
  }
  const queued = await backlog(store.db);
  for (const stage of STAGES) {
    stageBacklog.set({ stage }, queued[stage].items);
    stageLagSeconds.set({ stage }, lag(queued[stage].oldest));
  }
}
