/**
 * The figures behind the dashboard's overview and configuration pages (issue 18, items 4 and 5): what came
 * in, what was decided and closed, and how often each policy rule decided. Read-only, and cheap on a large
 * store: every query starts from an index range bounded by the window, never from a whole table.
 *
 *   alerts by detector   the alerts' primary key: an alert's id begins with its record's ULID, whose time is
 *                        when the record was accepted, so the window is an id range (ALERT_ID_SLACK_MS wider
 *                        on each side), then filtered on received_at exactly (on SQLite, the rows stored
 *                        between the range's first and last: see alertsByDetector);
 *   incidents            incidents_q_first_seen (first_seen, id) for the window; each one's first and latest
 *                        decision from decisions_incident (incident_id, id), one seek each;
 *   top lists            incidents_q_last_seen (last_seen, id), then incident_observables by its primary key;
 *   automation           audit_at (at) for the closes in the window; the timeline (incident_id, at) and
 *                        actions_incident for what people did to those incidents;
 *   rule hits            decisions by id from the first id of the period, found by a binary search on the
 *                        primary key (ids and created_at grow together), then filtered on created_at.
 *
 * The pure parts (windows, buckets, percentiles, who is a person) are exported for the tests.
 */
import { sql } from 'kysely';
import type { Db, Store } from './store.js';
import { encodeBase32 } from '../util/ulid.js';
import { INGEST_CURSOR, logBacklog } from './log.js';
import { backlog, STAGES, type StageName } from './queue.js';

export const OVERVIEW_WINDOWS = ['24h', '7d', '30d'] as const;
export type OverviewWindow = (typeof OVERVIEW_WINDOWS)[number];

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
/** Each window's span and bucket width. */
export const WINDOW_SPANS: Record<OverviewWindow, { spanMs: number; bucketMs: number }> = {
  '24h': { spanMs: DAY, bucketMs: HOUR },
  '7d': { spanMs: 7 * DAY, bucketMs: 6 * HOUR },
  '30d': { spanMs: 30 * DAY, bucketMs: DAY },
};
/** Entries in each top list. */
export const TOP_N = 10;
/** How far an alert id's time may be from its received_at (a record's id is made when accepted, received_at at its commit). */
export const ALERT_ID_SLACK_MS = 60_000;
/** Intake records read (newest first) to find each source's last record time. */
export const LAST_RECORD_SCAN = 5_000;
/** The outcome series of incidents not decided yet. */
export const UNDECIDED = 'undecided';
/** Timeline kinds that only a person's act writes (store/incident-workflow.ts), each summary "<actor>: …". */
const PERSON_TIMELINE_KINDS = ['verdict', 'status', 'updated', 'note', 'merged'] as const;

export interface WindowBounds {
  window: OverviewWindow;
  /** First bucket's start (epoch ms). */
  from: number;
  /** End of the last bucket, which holds `now` (epoch ms). */
  to: number;
  bucketMs: number;
  /** Each bucket's start. */
  starts: number[];
}

/** The window ending with the bucket that holds `now`; buckets are aligned on multiples of their width (UTC). */
export function windowBounds(window: OverviewWindow, now: number): WindowBounds {
  const { spanMs, bucketMs } = WINDOW_SPANS[window];
  const to = Math.floor(now / bucketMs) * bucketMs + bucketMs;
  const from = to - spanMs;
  const starts = Array.from({ length: spanMs / bucketMs }, (_, i) => from + i * bucketMs);
  return { window, from, to, bucketMs, starts };
}

/** The bucket of time `t`, or -1 outside the window. */
export function bucketOf(b: Pick<WindowBounds, 'from' | 'to' | 'bucketMs'>, t: number): number {
  if (t < b.from || t >= b.to) return -1;
  return Math.floor((t - b.from) / b.bucketMs);
}

/** Nearest-rank percentile of ascending `sorted` (p in 0…100); null when empty. */
export function percentile(sorted: readonly number[], p: number): number | null {
  if (sorted.length === 0) return null;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!;
}

/**
 * The actor of a timeline summary "<actor>: …" when it is one of `people` (a name may itself hold ": ", so
 * every prefix ending before a ": " is tried).
 */
export function personOfSummary(summary: string, people: ReadonlySet<string>): string | null {
  for (let i = summary.indexOf(': '); i >= 0; i = summary.indexOf(': ', i + 1)) {
    const name = summary.slice(0, i);
    if (people.has(name)) return name;
  }
  return null;
}

/** The smallest id string of an alert accepted at or after `t` (a ULID's first 10 characters are its time). */
export function alertIdFloor(t: number): string {
  return encodeBase32(Math.max(0, t), 10);
}

// ───────────────────────── series ─────────────────────────

export interface OverviewSeries {
  t: number[];
  alerts_by_detector: Record<string, number[]>;
  incidents_by_outcome: Record<string, number[]>;
}

export interface TimeToDecision {
  n: number;
  p50_ms: number | null;
  p90_ms: number | null;
}

const num = (v: unknown): number => Number(v ?? 0);

/**
 * Alerts received in the window, per detector and bucket (repeats included: each is an alert received). The
 * bucket is cast to an integer: SQLite binds a JavaScript number as a real, so the division would not truncate.
 *
 * On SQLite, the id range gives the range of rowids those alerts were stored under (from the primary key's
 * index alone), and that range of the table is read in order: alerts are stored as they are received, so it
 * holds the window's alerts and few others, and reading it costs no lookup per alert (measured 2–3 times
 * faster than following the index to each row). PostgreSQL follows the primary key's range.
 */
export async function alertsByDetector(store: Pick<Store, 'db' | 'dialect'>, b: WindowBounds): Promise<Record<string, number[]>> {
  const lo = alertIdFloor(b.from - ALERT_ID_SLACK_MS);
  const hi = alertIdFloor(b.to + ALERT_ID_SLACK_MS);
  let range = sql`"id" >= ${lo} and "id" < ${hi}`;
  if (store.dialect === 'sqlite') {
    const r = await sql<{ lo: number | null; hi: number | null }>`select min("rowid") as "lo", max("rowid") as "hi" from "alerts" where "id" >= ${lo} and "id" < ${hi}`.execute(store.db);
    const bounds = r.rows[0];
    if (bounds?.lo == null || bounds.hi == null) return {};
    range = sql`"rowid" between ${bounds.lo} and ${bounds.hi}`;
  }
  const rows = await sql<{ detector: string; bucket: number | string; n: number | string }>`
    select "detector", cast(("received_at" - ${b.from}) / ${b.bucketMs} as bigint) as "bucket", count(*) as "n"
    from "alerts"
    where ${range} and "received_at" >= ${b.from} and "received_at" < ${b.to}
    group by 1, 2`.execute(store.db);
  const out: Record<string, number[]> = {};
  for (const r of rows.rows) {
    const i = num(r.bucket);
    if (i < 0 || i >= b.starts.length) continue;
    (out[r.detector] ??= b.starts.map(() => 0))[i]! += num(r.n);
  }
  return sortKeys(out);
}

export interface WindowIncident {
  first_seen: number;
  /** Its latest decision's outcome; null: not decided. */
  outcome: string | null;
  /** When its first decision was made; null: none. */
  first_decided_at: number | null;
}

/** Incidents first seen in the window (merged ones apart: their alerts count in the incident they joined). */
export async function windowIncidents(db: Db, b: WindowBounds): Promise<WindowIncident[]> {
  const rows = await sql<{ first_seen: number | string; outcome: string | null; first_decided_at: number | string | null }>`
    select i."first_seen",
      (select d."outcome" from "decisions" d where d."incident_id" = i."id" order by d."id" desc limit 1) as "outcome",
      (select d."created_at" from "decisions" d where d."incident_id" = i."id" order by d."id" limit 1) as "first_decided_at"
    from "incidents" i
    where i."first_seen" >= ${b.from} and i."first_seen" < ${b.to} and i."merged_into" is null`.execute(db);
  return rows.rows.map((r) => ({ first_seen: num(r.first_seen), outcome: r.outcome, first_decided_at: r.first_decided_at === null ? null : num(r.first_decided_at) }));
}

/** Incidents per bucket (of first_seen) and latest decision outcome, "undecided" for those without one. */
export function incidentsByOutcome(b: WindowBounds, incidents: readonly WindowIncident[]): Record<string, number[]> {
  const out: Record<string, number[]> = {};
  for (const inc of incidents) {
    const i = bucketOf(b, inc.first_seen);
    if (i < 0) continue;
    (out[inc.outcome ?? UNDECIDED] ??= b.starts.map(() => 0))[i]! += 1;
  }
  return sortKeys(out);
}

/** First decision time minus first_seen, over the decided incidents of the window (negative spans count as 0). */
export function timeToDecision(incidents: readonly WindowIncident[]): TimeToDecision {
  const spans = incidents
    .filter((i) => i.first_decided_at !== null)
    .map((i) => Math.max(0, i.first_decided_at! - i.first_seen))
    .sort((a, b) => a - b);
  return { n: spans.length, p50_ms: percentile(spans, 50), p90_ms: percentile(spans, 90) };
}

// ───────────────────────── top lists ─────────────────────────

export interface TopEntry {
  value: string;
  type?: string;
  incidents: number;
  alerts: number;
}

/**
 * The hosts, users and other indicators of the most incidents active in the window (last_seen at or after
 * its start) that carried them within it; `alerts` sums those incidents' alerts carrying the value.
 */
export async function topValues(db: Db, b: WindowBounds): Promise<{ hosts: TopEntry[]; users: TopEntry[]; indicators: TopEntry[] }> {
  // CROSS JOIN: SQLite joins in the order written, so it walks the window's incidents and reads their
  // indicators, instead of every value of the type (incident_observables_value) and then each incident.
  // PostgreSQL plans a cross join with conditions like any other.
  const top = async (typeCondition: ReturnType<typeof sql>, withType: boolean) => {
    const rows = await sql<{ type: string; value: string; incidents: number | string; alerts: number | string }>`
      select ${withType ? sql`o."type"` : sql`min(o."type")`} as "type", o."value", count(*) as "incidents", sum(o."alerts") as "alerts"
      from "incidents" i cross join "incident_observables" o
      where o."incident_id" = i."id" and i."last_seen" >= ${b.from} and o."last_seen" >= ${b.from} and ${typeCondition}
      group by ${withType ? sql`o."type", o."value"` : sql`o."value"`}
      order by count(*) desc, sum(o."alerts") desc, o."value"
      limit ${TOP_N}`.execute(db);
    return rows.rows.map((r) => ({ value: r.value, ...(withType ? { type: r.type } : {}), incidents: num(r.incidents), alerts: num(r.alerts) }));
  };
  return {
    hosts: await top(sql`o."type" = 'host'`, false),
    users: await top(sql`o."type" = 'user'`, false),
    indicators: await top(sql`o."type" not in ('host', 'user')`, true),
  };
}

// ───────────────────────── automation ─────────────────────────

export interface Automation {
  closed: number;
  closed_without_person: number;
  rate: number | null;
}

interface CloseEvent {
  incidentId: string;
  at: number;
  actor: string;
}

/** The closes an audit row records: a verdict or status change to closed, or the incidents merged away. */
export function closesOfAudit(row: { at: number; actor: string; action: string; subject: string; detail: string }): CloseEvent[] {
  let d: Record<string, unknown>;
  try {
    d = JSON.parse(row.detail) as Record<string, unknown>;
  } catch {
    return [];
  }
  const at = Number(row.at);
  if (row.action === 'incident.verdict') return d.status === 'closed' ? [{ incidentId: row.subject, at, actor: row.actor }] : [];
  if (row.action === 'incident.update') {
    const s = d.status as { to?: unknown } | undefined;
    return s?.to === 'closed' ? [{ incidentId: row.subject, at, actor: row.actor }] : [];
  }
  if (row.action === 'incident.merge' && Array.isArray(d.from)) {
    return d.from.filter((x): x is string => typeof x === 'string').map((incidentId) => ({ incidentId, at, actor: row.actor }));
  }
  return [];
}

/** People: the web app's accounts (users); an API token is a script's or an integration's, so not one. */
export async function peopleNames(db: Db): Promise<Set<string>> {
  const rows = await db.selectFrom('users').select('name').execute();
  return new Set(rows.map((r) => r.name));
}

const chunks = <T>(xs: readonly T[], n: number): T[][] => Array.from({ length: Math.ceil(xs.length / n) }, (_, i) => xs.slice(i * n, i * n + n));

/**
 * Incidents closed in the window (their last close in it, and still closed), and how many of them no person
 * touched: neither the close nor, up to it, any verdict, status or other change, note or merge on the
 * timeline, nor an approval or denial of any of its actions was a person's (peopleNames).
 */
export async function automation(db: Db, b: Pick<WindowBounds, 'from' | 'to'>, people?: ReadonlySet<string>): Promise<Automation> {
  const audits = await db
    .selectFrom('audit_log')
    .select(['at', 'actor', 'action', 'subject', 'detail'])
    .where('at', '>=', b.from)
    .where('at', '<', b.to)
    .where('action', 'in', ['incident.verdict', 'incident.update', 'incident.merge'])
    .execute();
  const last = new Map<string, CloseEvent>();
  for (const row of audits) for (const c of closesOfAudit(row)) if ((last.get(c.incidentId)?.at ?? -Infinity) <= c.at) last.set(c.incidentId, c);
  if (last.size === 0) return { closed: 0, closed_without_person: 0, rate: null };
  const who = people ?? (await peopleNames(db));
  const closed = new Set<string>();
  const touched = new Set<string>();
  for (const ids of chunks([...last.keys()], 500)) {
    const rows = await db.selectFrom('incidents').select('id').where('id', 'in', ids).where('status', '=', 'closed').execute();
    for (const r of rows) closed.add(r.id);
    if (who.size === 0) continue;
    const timeline = await db
      .selectFrom('timeline')
      .select(['incident_id', 'at', 'summary'])
      .where('incident_id', 'in', ids)
      .where('kind', 'in', PERSON_TIMELINE_KINDS)
      .execute();
    for (const t of timeline) if (Number(t.at) <= last.get(t.incident_id)!.at && personOfSummary(t.summary, who)) touched.add(t.incident_id);
    const acts = await db
      .selectFrom('actions')
      .select(['incident_id', 'approved_by', 'denied_by'])
      .where('incident_id', 'in', ids)
      .where((eb) => eb.or([eb('approved_by', 'is not', null), eb('denied_by', 'is not', null)]))
      .execute();
    for (const a of acts) if ((a.approved_by !== null && who.has(a.approved_by)) || (a.denied_by !== null && who.has(a.denied_by))) touched.add(a.incident_id);
  }
  let without = 0;
  for (const id of closed) if (!who.has(last.get(id)!.actor) && !touched.has(id)) without++;
  return { closed: closed.size, closed_without_person: without, rate: closed.size ? without / closed.size : null };
}

// ───────────────────────── backlog, receivers ─────────────────────────

export interface OverviewBacklog {
  ingest: { records: number; oldest_received_at: number | null; lag_seconds: number };
  stages: Record<StageName, { items: number; oldest_at: number | null; lag_seconds: number }>;
}

/** How far the pipeline is behind: what pipeline/backlog.ts measures for /metrics, as numbers. */
export async function pipelineBacklog(db: Db, now: number): Promise<OverviewBacklog> {
  const lag = (oldest: number | null) => (oldest === null ? 0 : Math.max(0, Math.round((now - oldest) / 1000)));
  const log = await logBacklog(db, INGEST_CURSOR);
  const queued = await backlog(db);
  const stages = Object.fromEntries(
    STAGES.map((s) => [s, { items: queued[s].items, oldest_at: queued[s].oldest, lag_seconds: lag(queued[s].oldest) }]),
  ) as OverviewBacklog['stages'];
  return { ingest: { records: log.records, oldest_received_at: log.oldestReceivedAt, lag_seconds: lag(log.oldestReceivedAt) }, stages };
}

/** Per source: when its newest record among the LAST_RECORD_SCAN newest of the log was received. */
export async function lastRecordTimes(db: Db): Promise<Map<string, number>> {
  const rows = await sql<{ source: string; at: number | string }>`
    select r."source", max(r."received_at") as "at"
    from (select "source", "received_at" from "intake" order by "seq" desc limit ${LAST_RECORD_SCAN}) r
    group by r."source"`.execute(db);
  return new Map(rows.rows.map((r) => [r.source, num(r.at)]));
}

// ───────────────────────── rules, cache ─────────────────────────

export interface RuleHits {
  hits_24h: number;
  hits_7d: number;
  last_hit_at: number | null;
}

/** How far back rule hits are looked for: last_hit_at is null for a rule that decided nothing in this time. */
export const RULE_HISTORY_MS = 30 * DAY;

/**
 * The first decisions id at or after time `t`, by a binary search on the primary key (decisions are
 * numbered as they are made, so created_at grows with the id); null when none is as recent.
 */
export async function firstDecisionIdSince(db: Db, t: number): Promise<number | null> {
  const bounds = await db.selectFrom('decisions').select((eb) => [eb.fn.min('id').as('lo'), eb.fn.max('id').as('hi')]).executeTakeFirst();
  if (bounds?.lo == null || bounds.hi == null) return null;
  let lo = Number(bounds.lo);
  let hi = Number(bounds.hi) + 1;
  while (lo < hi) {
    const mid = Math.floor((lo + hi) / 2);
    const row = await db.selectFrom('decisions').select(['id', 'created_at']).where('id', '>=', mid).orderBy('id').limit(1).executeTakeFirst();
    if (!row || Number(row.id) >= hi) hi = mid;
    else if (Number(row.created_at) >= t) hi = mid;
    else lo = Number(row.id) + 1;
  }
  const at = await db.selectFrom('decisions').select('id').where('id', '>=', lo).orderBy('id').limit(1).executeTakeFirst();
  return at ? Number(at.id) : null;
}

/**
 * Decisions per rule (the decisions' `rule`: the deciding rule, "(fallback)" or "(none)") in the last 24 hours
 * and 7 days, and each one's newest within RULE_HISTORY_MS. Decisions made a little out of order (several
 * processes) are found through a margin of ten minutes on the search.
 */
export async function ruleHits(db: Db, now: number): Promise<Map<string, RuleHits>> {
  const since = now - RULE_HISTORY_MS;
  const first = await firstDecisionIdSince(db, since - 10 * 60_000);
  const out = new Map<string, RuleHits>();
  if (first === null) return out;
  const rows = await sql<{ rule: string; h24: number | string; h7: number | string; last: number | string }>`
    select "rule",
      sum(case when "created_at" >= ${now - DAY} then 1 else 0 end) as "h24",
      sum(case when "created_at" >= ${now - 7 * DAY} then 1 else 0 end) as "h7",
      max("created_at") as "last"
    from "decisions" where "id" >= ${first} and "created_at" >= ${since}
    group by "rule"`.execute(db);
  for (const r of rows.rows) out.set(r.rule, { hits_24h: num(r.h24), hits_7d: num(r.h7), last_hit_at: num(r.last) });
  return out;
}

/** Cache entries counted per provider at most. */
export const CACHE_COUNT_CAP = 100_000;

export interface CacheFigures {
  /** Answers kept in the shared cache (at most CACHE_COUNT_CAP counted). */
  entries: number;
  /** Of those, not yet expired. */
  live: number;
  exact: boolean;
}

/** A provider's entries in the shared answer cache (enrich_cache's primary key range), counted up to the cap. */
export async function cacheFigures(store: Pick<Store, 'db'>, provider: string, now: number): Promise<CacheFigures> {
  const r = await sql<{ n: number | string; live: number | string | null }>`
    select count(*) as "n", sum(case when c."expires_at" > ${now} then 1 else 0 end) as "live"
    from (select "expires_at" from "enrich_cache" where "provider" = ${provider} limit ${CACHE_COUNT_CAP + 1}) c`.execute(store.db);
  const n = num(r.rows[0]?.n);
  const live = num(r.rows[0]?.live);
  return n > CACHE_COUNT_CAP ? { entries: CACHE_COUNT_CAP, live: Math.min(live, CACHE_COUNT_CAP), exact: false } : { entries: n, live, exact: true };
}

function sortKeys<T>(o: Record<string, T>): Record<string, T> {
  return Object.fromEntries(Object.entries(o).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}
