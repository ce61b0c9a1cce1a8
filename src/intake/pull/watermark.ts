/**
 * A cursor for APIs that can list records "at or after time T, oldest first" (CrowdStrike, SentinelOne,
 * Microsoft Graph, Carbon Black Cloud): the newest timestamp taken and the ids taken at it, so the next query
 * asks for `>= newest` and skips what it already has. Records that share one timestamp across a page boundary
 * are neither skipped nor taken twice.
 *
 * With `lookbackMs`, the query starts that much before the newest timestamp, and the ids taken inside that
 * window are remembered (at most `maxIds`), so a record the vendor makes visible late, with an older time, is
 * still taken once if it is no older than the window. Past `maxIds` the oldest ids are forgotten and the window
 * shrinks to the remembered ones (`floor`), so nothing is ever taken twice; a late record older than the floor is
 * missed. Timestamps are compared in milliseconds; `since` keeps the vendor's own text for the query.
 */
import { Type } from 'typebox';
import { Duration } from '../../config/schema.js';
import { parseDuration } from '../../config/duration.js';

/** The entry keys of a watermark puller; spread into its pullerSchema. */
export const watermarkSettingsSchema = {
  lookback: Type.Optional(Duration),
  lookback_ids: Type.Optional(Type.Integer({ minimum: 1, maximum: 100_000, description: 'Most ids remembered for the lookback window (default 10000)' })),
};

/** The lookback of an entry in ms (0 without one) and its id bound. */
export function watermarkSettings(c: { name: string; lookback?: string | number; lookback_ids?: number }): { lookbackMs: number; maxIds: number } {
  return { lookbackMs: c.lookback === undefined ? 0 : parseDuration(c.lookback, `sources.${c.name}.receiver.lookback`), maxIds: c.lookback_ids ?? 10_000 };
}

export interface Watermark {
  v: 1;
  /** The newest timestamp taken, as the vendor wrote it (null before the first record). */
  newest: string | null;
  /** [id, epoch ms] of the records taken inside the window (at the newest time when there is no lookback). */
  seen: [string, number][];
  /** Epoch ms before which nothing is read again (the remembered ids were cut at it); null when not cut. */
  floor: number | null;
}

export interface WatermarkItem {
  id: string;
  /** The record's time as the vendor wrote it; unreadable times are taken as the window start (never skipped). */
  time: string;
}

export const emptyWatermark = (): Watermark => ({ v: 1, newest: null, seen: [], floor: null });

const msOf = (t: string): number | null => {
  const ms = Date.parse(t);
  return Number.isFinite(ms) ? ms : null;
};

/** The time the next query starts at (inclusive), in epoch ms; `startAt` before the first record. */
export function queryFrom(w: Watermark, lookbackMs: number, startAt: number): number {
  const newest = w.newest === null ? null : msOf(w.newest);
  if (newest === null) return startAt;
  return Math.max(newest - lookbackMs, w.floor ?? -Infinity);
}

/**
 * The records of a page not taken before, and the watermark after them. `items` are the page's records in
 * any order; the returned `fresh` indexes keep the page's order.
 */
export function advanceWatermark(w: Watermark, items: readonly WatermarkItem[], lookbackMs: number, maxIds = 10_000): { fresh: number[]; next: Watermark } {
  const seen = new Map(w.seen);
  let newest = w.newest;
  let newestMs = newest === null ? null : msOf(newest);
  const fresh: number[] = [];
  items.forEach((item, i) => {
    if (seen.has(item.id)) return;
    const ms = msOf(item.time) ?? newestMs ?? 0;
    if (w.floor !== null && ms < w.floor) return; // before the window we still remember: it may have been taken
    fresh.push(i);
    seen.set(item.id, ms);
    if (newestMs === null || ms > newestMs || (ms === newestMs && newest !== null && item.time > newest)) {
      newestMs = ms;
      newest = item.time;
    }
  });
  if (newestMs === null) return { fresh, next: w };
  const from = newestMs - lookbackMs;
  let kept = [...seen].filter(([, ms]) => ms >= from).sort((a, b) => a[1] - b[1]);
  let floor = w.floor !== null && w.floor >= from ? w.floor : null;
  if (kept.length > maxIds) {
    const cut = kept.length - maxIds;
    // Forget whole milliseconds, oldest first, never the newest one (the next query starts there).
    const cutMs = Math.min(kept[cut - 1]![1], newestMs - 1);
    kept = kept.filter(([, ms]) => ms > cutMs);
    floor = cutMs + 1;
  }
  return { fresh, next: { v: 1, newest, seen: kept, floor } };
}

/** A stored watermark, checked. */
export function watermarkOf(stored: unknown): Watermark {
  const w = stored as Partial<Watermark> | null;
  if (
    w === null ||
    typeof w !== 'object' ||
    w.v !== 1 ||
    !(w.newest === null || typeof w.newest === 'string') ||
    !Array.isArray(w.seen) ||
    !w.seen.every((p) => Array.isArray(p) && typeof p[0] === 'string' && typeof p[1] === 'number') ||
    !(w.floor === null || typeof w.floor === 'number')
  ) {
    throw new Error('stored cursor is not a watermark { v: 1, newest, seen, floor }');
  }
  return w as Watermark;
}
