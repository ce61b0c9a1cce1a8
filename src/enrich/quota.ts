/**
 * A provider's quota: calls allowed per minute, hour, day and month (a free tier's "4 per minute, 500 per
 * day"), counted in calendar periods (UTC), as the services count them. The counts live in the store's
 * `enrich_quota` table when there is a store, so every Fido process and every restart shares one budget;
 * without a store (a test, a one-off lookup) they are kept in memory.
 *
 * Priority: the last `reserve` share of each hour, day and month is kept for high-priority lookups (an incident
 * of high severity); normal lookups stop short of it, so that a flood of low-severity alerts cannot spend the
 * day's budget before the incident that matters arrives. The minute's budget is shared by all: a lookup that
 * finds it spent may wait for the next minute (the layer's `max_wait`); a spent hour, day or month is not
 * waited for, the lookup is skipped and says until when.
 *
 * Taking a call takes one from every period, longest first; if a shorter period is spent, the ones already
 * taken are given back, so a refused call costs nothing. The database step is one conditional upsert per
 * period, atomic on both SQLite and PostgreSQL.
 */
import { sql } from 'kysely';
import type { Store } from '../store/store.js';
import type { ProviderQuota } from './provider.js';
import { iso } from '../util/time.js';
import { errorContext, log } from '../util/log.js';

export const QUOTA_PERIODS = ['month', 'day', 'hour', 'minute'] as const;
export type QuotaPeriod = (typeof QUOTA_PERIODS)[number];
export type LookupPriority = 'high' | 'normal';

const KEY_OF: Record<QuotaPeriod, keyof ProviderQuota> = { month: 'per_month', day: 'per_day', hour: 'per_hour', minute: 'per_minute' };

export interface QuotaPeriodState {
  period: QuotaPeriod;
  limit: number;
  /** What normal-priority lookups may use; the rest is reserved for high-priority ones. */
  normal_limit: number;
  used: number;
  remaining: number;
  resets_at: string;
}

export type QuotaRefusal = { period: QuotaPeriod; resetsAt: number; reserved: boolean };

/** Start and end (ms) of the UTC period that holds `now`. */
export function periodBounds(period: QuotaPeriod, now: number): { start: number; end: number } {
  const d = new Date(now);
  switch (period) {
    case 'minute': {
      const start = now - (now % 60_000);
      return { start, end: start + 60_000 };
    }
    case 'hour': {
      const start = now - (now % 3_600_000);
      return { start, end: start + 3_600_000 };
    }
    case 'day': {
      const start = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate());
      return { start, end: start + 86_400_000 };
    }
    case 'month':
      return { start: Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1), end: Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1) };
  }
}

export class Quota {
  private readonly limits: Array<{ period: QuotaPeriod; limit: number; normal: number }>;
  /** The last count seen per period (the store's, when there is one). */
  private readonly seen = new Map<QuotaPeriod, { start: number; used: number }>();

  constructor(
    readonly provider: string,
    quota: ProviderQuota,
    reserve: number,
    private readonly store: Store | null,
  ) {
    this.limits = QUOTA_PERIODS.flatMap((period) => {
      const limit = quota[KEY_OF[period]];
      if (limit === undefined) return [];
      // The minute is shared by all: reserving part of it would only slow everything down.
      // The reserve rounds up (it is what must be left), computed so that 5 × 0.2 is 1, not 1.0000000000000002.
      const normal = period === 'minute' ? limit : Math.max(0, limit - Math.ceil(Math.round(limit * reserve * 1e6) / 1e6));
      return [{ period, limit, normal }];
    });
  }

  get empty(): boolean {
    return this.limits.length === 0;
  }

  /** Takes one call from every period, or says which period is spent and when it resets. */
  async take(priority: LookupPriority, now: number): Promise<QuotaRefusal | null> {
    const taken: Array<{ period: QuotaPeriod; start: number }> = [];
    for (const { period, limit, normal } of this.limits) {
      const { start, end } = periodBounds(period, now);
      const allowed = priority === 'high' ? limit : normal;
      if (!(await this.takeOne(period, start, allowed))) {
        for (const t of taken) await this.giveBack(t.period, t.start);
        return { period, resetsAt: end, reserved: allowed < limit && this.usedIn(period, start) < limit };
      }
      taken.push({ period, start });
    }
    return null;
  }

  state(now: number): QuotaPeriodState[] {
    return this.limits.map(({ period, limit, normal }) => {
      const { start, end } = periodBounds(period, now);
      const used = this.usedIn(period, start);
      return { period, limit, normal_limit: normal, used, remaining: Math.max(0, limit - used), resets_at: iso(end) };
    });
  }

  private usedIn(period: QuotaPeriod, start: number): number {
    const s = this.seen.get(period);
    return s && s.start === start ? s.used : 0;
  }

  private async takeOne(period: QuotaPeriod, start: number, allowed: number): Promise<boolean> {
    if (!this.store) {
      const used = this.usedIn(period, start);
      if (used >= allowed) return false;
      this.seen.set(period, { start, used: used + 1 });
      return true;
    }
    try {
      // A row of an older period starts again from 1; a row of this period grows only while under `allowed`.
      const r = await sql<{ used: number }>`
        insert into enrich_quota (provider, period, start, used) values (${this.provider}, ${period}, ${start}, 1)
        on conflict (provider, period) do update set
          used = case when enrich_quota.start = excluded.start then enrich_quota.used + 1 else 1 end,
          start = excluded.start
        where enrich_quota.start <> excluded.start or enrich_quota.used < ${allowed}
        returning used`.execute(this.store.db);
      const row = r.rows[0];
      if (row) {
        this.seen.set(period, { start, used: Number(row.used) });
        return true;
      }
      await this.refresh(period, start);
      return false;
    } catch (e) {
      // The count is a budget, not a safety property: if the store cannot count, fall back to memory rather
      // than stopping enrichment.
      log.warn({ provider: this.provider, err: errorContext(e) }, 'enrich quota: count not stored; counting in memory');
      const used = this.usedIn(period, start);
      if (used >= allowed) return false;
      this.seen.set(period, { start, used: used + 1 });
      return true;
    }
  }

  private async refresh(period: QuotaPeriod, start: number): Promise<void> {
    const row = await this.store!.db
      .selectFrom('enrich_quota')
      .select(['start', 'used'])
      .where('provider', '=', this.provider)
      .where('period', '=', period)
      .executeTakeFirst();
    if (row && Number(row.start) === start) this.seen.set(period, { start, used: Number(row.used) });
  }

  private async giveBack(period: QuotaPeriod, start: number): Promise<void> {
    const s = this.seen.get(period);
    if (s && s.start === start && s.used > 0) s.used--;
    if (!this.store) return;
    try {
      await this.store.db
        .updateTable('enrich_quota')
        .set((eb) => ({ used: eb('used', '-', 1) }))
        .where('provider', '=', this.provider)
        .where('period', '=', period)
        .where('start', '=', start)
        .where('used', '>', 0)
        .execute();
    } catch (e) {
      log.warn({ provider: this.provider, err: errorContext(e) }, 'enrich quota: a call not made was not given back');
    }
  }
}

/** Why a lookup was not made, for its EnrichmentError. */
export function quotaRefusalText(r: QuotaRefusal): string {
  const what = r.reserved ? `the rest of this ${r.period}'s quota is reserved for high-priority lookups` : `the ${r.period}'s quota is spent`;
  return `${what}; it resets at ${iso(r.resetsAt)}`;
}
