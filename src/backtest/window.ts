/**
 * The time window of a backtest: `--since 30d` (a duration back from now) or an ISO date/time; `--until`
 * the same, default now. Shared by the CLI and the API so both read a window the same way.
 */
import { parseDuration, DURATION_PATTERN } from '../config/duration.js';
import { BacktestInputError } from './sources.js';

const DURATION = new RegExp(DURATION_PATTERN);

/** A point in time from "30d", "12h" (that long before `now`) or an ISO 8601 date or date-time. */
export function pointInTime(value: string, key: string, now: number): number {
  if (DURATION.test(value)) return now - parseDuration(value, key);
  const t = /^\d{4}-\d{2}-\d{2}/.test(value) ? Date.parse(value) : NaN;
  if (Number.isNaN(t)) throw new BacktestInputError(`${key}: expected a duration back from now (30d, 12h) or an ISO date (2026-01-31, 2026-01-31T12:00:00Z), got "${value}"`);
  return t;
}

export function backtestWindow(since: string, until: string | undefined, now: number): { since: number; until: number } {
  const from = pointInTime(since, 'since', now);
  const to = until === undefined ? now : pointInTime(until, 'until', now);
  if (to <= from) throw new BacktestInputError(`until (${new Date(to).toISOString()}) must be after since (${new Date(from).toISOString()})`);
  return { since: from, until: to };
}
