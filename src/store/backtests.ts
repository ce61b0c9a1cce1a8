/** Backtests kept after they ran (migration 0027): the newest first, each with its whole report. */
import type { BacktestReport } from '../backtest/run.js';
import type { Db } from './store.js';
import { ulid } from '../util/ulid.js';

/** How many are kept: older ones go when a new one is stored. */
export const KEPT_BACKTESTS = 100;

export interface StoredBacktest {
  id: string;
  created_at: string;
  actor: string;
  /** The policy text tried (YAML or JSON as posted); null: the configured policy. */
  policy: string | null;
  profile: string | null;
}

export async function saveBacktest(db: Db, b: { actor: string; policy: string | null; profile: string | null; report: BacktestReport }, now = Date.now()): Promise<string> {
  const id = ulid();
  await db.insertInto('backtests').values({ id, created_at: now, actor: b.actor, policy: b.policy, profile: b.profile, report: JSON.stringify(b.report) }).execute();
  const keep = db.selectFrom('backtests').select('id').orderBy('id', 'desc').limit(KEPT_BACKTESTS);
  await db.deleteFrom('backtests').where('id', 'not in', keep).execute();
  return id;
}

type Row = { id: string; created_at: number | string; actor: string; policy: string | null; profile: string | null; report: string };

const stored = (r: Row): StoredBacktest & { report: BacktestReport } => ({
  id: r.id,
  created_at: new Date(Number(r.created_at)).toISOString(),
  actor: r.actor,
  policy: r.policy,
  profile: r.profile,
  report: JSON.parse(r.report) as BacktestReport,
});

/** The newest `limit`, with their reports' figures but not their lists of changed incidents. */
export async function listBacktests(db: Db, limit: number): Promise<Array<StoredBacktest & { report: Omit<BacktestReport, 'changed'> }>> {
  const rows = await db.selectFrom('backtests').selectAll().orderBy('id', 'desc').limit(limit).execute();
  return rows.map((r) => {
    const { report, ...rest } = stored(r);
    const { changed: _changed, ...figures } = report;
    return { ...rest, report: figures };
  });
}

export async function getBacktest(db: Db, id: string): Promise<(StoredBacktest & { report: BacktestReport }) | null> {
  const r = await db.selectFrom('backtests').selectAll().where('id', '=', id).executeTakeFirst();
  return r ? stored(r) : null;
}
