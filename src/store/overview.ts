/**
 * The figures behind the dashboard's overview and configuration pages (issue 18, items 4 and 5): what came
 * in, what was decided and closed, and how often each policy rule decided. Read-only, and cheap on a large
 * store: every query starts from an index range bounded by the window, never from a whole table.
 *
 *   alerts by detector   alert_counts (hour, detector), the hourly counts ingest keeps (migration 0026);
 *   incidents            incidents_q_first_seen (first_seen, id) for the window; each one's first and latest
 *                        decision from decisions_incident (incident_id, id), one seek each;
 *   top lists            incidents_q_last_seen (last_seen, id), then incident_observables by its primary key;
 *   automation           audit_at (at) for the closes in the window; the timeline (incident_id, at) and
 *                        actions_incident for what people did to those incidents;
 *   rule hits            decisions_rule (rule, created_at): a range per rule and period, a seek for the last.
 *   decided              decisions by id from the first id of the window, found by a binary search on the
 *                        primary key (ids and created_at grow together), then filtered on created_at.
 *
 * The pure parts (windows, buckets, percentiles, who is a person) are exported for the tests.
 */
import { sql } from 'kysely';
import type { Db, Store } from './store.js';
import { INGEST_CURSOR, logBacklog } from './log.js';
import { backlog, STAGES, type StageName } from './queue.js';
import { insertRows } from './insert-rows.js';

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
export function personOfSummary(summary: string, people: People): string | null {
  for (let i = summary.indexOf(': '); i >= 0; i = summary.indexOf(': ', i + 1)) {
    const name = summary.slice(0, i);
    if (people.has(name)) return name;
  }
  return null;
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
 * Alerts received in the window, per detector and bucket (repeats included: each is an alert received), from
 * the hourly counts ingest keeps (alert_counts, migration 0026): at most 720 rows per detector for 30 days,
 * read on its primary key. Buckets are whole hours, so each hour falls in exactly one.
 */
export async function alertsByDetector(store: Pick<Store, 'db'>, b: WindowBounds): Promise<Record<string, number[]>> {
  const rows = await store.db.selectFrom('alert_counts').select(['hour', 'detector', 'n']).where('hour', '>=', b.from).where('hour', '<', b.to).execute();
  const out: Record<string, number[]> = {};
  for (const r of rows) {
    const i = bucketOf(b, num(r.hour));
    if (i < 0) continue;
    (out[r.detector] ??= b.starts.map(() => 0))[i]! += num(r.n);
  }
  return sortKeys(out);
}

interface HourCount {
  hour: number;
  detector: string;
  n: number;
}

/**
 * Adds stored alert rows to the hourly counts, in the caller's transaction: ingest calls it with the rows of
 * each batch it inserts into alerts (and a test that seeds alerts directly must too). A batch is mostly an
 * hour or two of few detectors, so the tally is a map per hour with the last row hit checked first: nothing
 * is allocated per alert.
 */
export async function countAlerts(db: Db, alerts: ReadonlyArray<{ readonly received_at: number; readonly detector: string }>): Promise<void> {
  if (alerts.length === 0) return;
  const hours = new Map<number, Map<string, HourCount>>();
  let last: HourCount | undefined;
  for (const a of alerts) {
    const hour = a.received_at - (a.received_at % HOUR);
    if (last !== undefined && last.hour === hour && last.detector === a.detector) {
      last.n++;
      continue;
    }
    let detectors = hours.get(hour);
    if (!detectors) hours.set(hour, (detectors = new Map()));
    last = detectors.get(a.detector);
    if (last) last.n++;
    else detectors.set(a.detector, (last = { hour, detector: a.detector, n: 1 }));
  }
  const rows: HourCount[] = [];
  for (const detectors of hours.values()) for (const r of detectors.values()) rows.push(r);
  // In key order, so that concurrent writers take the rows' locks in the same order (PostgreSQL).
  rows.sort((x, y) => x.hour - y.hour || (x.detector < y.detector ? -1 : x.detector > y.detector ? 1 : 0));
  await insertRows(db, 'alert_counts', ['hour', 'detector', 'n'], rows, { onConflict: ALERT_COUNTS_UPSERT });
}

const ALERT_COUNTS_UPSERT = 'on conflict ("hour", "detector") do update set "n" = "alert_counts"."n" + excluded."n"';

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
  // One pass over the window's indicators for all three lists (a window function ranks each), not one per list.
  // CROSS JOIN: SQLite joins in the order written, so it walks the window's incidents and reads their
  // indicators, instead of every value of the type (incident_observables_value) and then each incident.
  // PostgreSQL plans a cross join with conditions like any other.
  const rows = await sql<{ type: string; value: string; incidents: number | string; alerts: number | string }>`
    select "type", "value", "incidents", "alerts" from (
      select "type", "value", "incidents", "alerts",
        row_number() over (partition by case when "type" in ('host', 'user') then "type" else '' end order by "incidents" desc, "alerts" desc, "value") as "rank"
      from (
        select o."type", o."value", count(*) as "incidents", sum(o."alerts") as "alerts"
        from "incidents" i cross join "incident_observables" o
        where o."incident_id" = i."id" and i."last_seen" >= ${b.from} and o."last_seen" >= ${b.from}
        group by o."type", o."value"
      ) g
    ) r
    where "rank" <= ${TOP_N}
    order by "incidents" desc, "alerts" desc, "value"`.execute(db);
  const out = { hosts: [] as TopEntry[], users: [] as TopEntry[], indicators: [] as TopEntry[] };
  for (const r of rows.rows) {
    const entry = { value: r.value, incidents: num(r.incidents), alerts: num(r.alerts) };
    if (r.type === 'host') out.hosts.push(entry);
    else if (r.type === 'user') out.users.push(entry);
    else out.indicators.push({ ...entry, type: r.type });
  }
  return out;
}

// ───────────────────────── automation ─────────────────────────

export interface Automation {
  closed: number;
  closed_without_person: number;
  rate: number | null;
  decided: number;
  decided_without_person: number;
  decided_rate: number | null;
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

/** Who counts as a person (a Set of names is one). */
export interface People {
  has(actor: string): boolean;
}

/** The actor someone at a shell on the Fido host is recorded as (cli/commands: `cli:<login name>`). */
const CLI_ACTOR = /^cli:[^\s:]+$/;

/**
 * People: the web app's accounts (users) and anyone at a shell on the Fido host (`cli:<login>`); an API
 * token is a script's or an integration's, so not one.
 */
export async function peopleNames(db: Db): Promise<People> {
  const rows = await db.selectFrom('users').select('name').execute();
  const names = new Set(rows.map((r) => r.name));
  return { has: (actor) => names.has(actor) || CLI_ACTOR.test(actor) };
}

const chunks = <T>(xs: readonly T[], n: number): T[][] => Array.from({ length: Math.ceil(xs.length / n) }, (_, i) => xs.slice(i * n, i * n + n));

/**
 * Of `ids`, those a person acted on: a verdict, status or other change (assignee, tags…), note or merge on
 * the timeline, or an approval or denial of one of its actions, by a person. `until` bounds the timeline
 * per incident (the close); without it, everything up to now counts. `ids` at most a few hundred.
 */
async function touchedByPeople(db: Db, ids: readonly string[], who: People, until?: (id: string) => number): Promise<Set<string>> {
  const touched = new Set<string>();
  const timeline = await db
    .selectFrom('timeline')
    .select(['incident_id', 'at', 'summary'])
    .where('incident_id', 'in', ids)
    .where('kind', 'in', PERSON_TIMELINE_KINDS)
    .execute();
  for (const t of timeline) if ((!until || Number(t.at) <= until(t.incident_id)) && personOfSummary(t.summary, who)) touched.add(t.incident_id);
  const acts = await db
    .selectFrom('actions')
    .select(['incident_id', 'approved_by', 'denied_by'])
    .where('incident_id', 'in', ids)
    .where((eb) => eb.or([eb('approved_by', 'is not', null), eb('denied_by', 'is not', null)]))
    .execute();
  for (const a of acts) if ((a.approved_by !== null && who.has(a.approved_by)) || (a.denied_by !== null && who.has(a.denied_by))) touched.add(a.incident_id);
  return touched;
}

/**
 * Automation in the window, two ways (both over the people of peopleNames):
 *
 *   closed     incidents closed in the window (their last close in it, and still closed), and how many of
 *              them no person touched: neither the close nor, up to it, anything touchedByPeople counts;
 *   decided    incidents (not merged away) whose first decision falls in the window, and how many of them no
 *              person has acted on since, up to now (touchedByPeople). Fido decides every incident, so this
 *              one has figures where nothing is ever closed.
 */
export async function automation(db: Db, b: Pick<WindowBounds, 'from' | 'to'>, people?: People): Promise<Automation> {
  const who = people ?? (await peopleNames(db));
  return { ...(await closedAutomation(db, b, who)), ...(await decidedAutomation(db, b, who)) };
}

async function closedAutomation(db: Db, b: Pick<WindowBounds, 'from' | 'to'>, who: People): Promise<Pick<Automation, 'closed' | 'closed_without_person' | 'rate'>> {
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
  const closed = new Set<string>();
  const touched = new Set<string>();
  for (const ids of chunks([...last.keys()], 500)) {
    const rows = await db.selectFrom('incidents').select('id').where('id', 'in', ids).where('status', '=', 'closed').execute();
    for (const r of rows) closed.add(r.id);
    for (const id of await touchedByPeople(db, ids, who, (id) => last.get(id)!.at)) touched.add(id);
  }
  let without = 0;
  for (const id of closed) if (!who.has(last.get(id)!.actor) && !touched.has(id)) without++;
  return { closed: closed.size, closed_without_person: without, rate: closed.size ? without / closed.size : null };
}

/**
 * The incidents decided in the window are read from decisions by id, from the first of the window
 * (firstDecisionIdSince, with the same 10 minutes of slack as the rule hits), filtered on created_at. Then,
 * a few hundred at a time by primary key, those not merged away whose first decision (by id, as
 * windowIncidents reads it: one seek on decisions_incident each) is in the window. Chunks of ids keep
 * PostgreSQL on the keys: joined whole, it read every incident to hash them (320 ms for 30 days at 1,000,000 alerts).
 */
async function decidedAutomation(db: Db, b: Pick<WindowBounds, 'from' | 'to'>, who: People): Promise<Pick<Automation, 'decided' | 'decided_without_person' | 'decided_rate'>> {
  const none = { decided: 0, decided_without_person: 0, decided_rate: null };
  const first = await firstDecisionIdSince(db, b.from - 10 * 60_000);
  if (first === null) return none;
  const inWindow = await db
    .selectFrom('decisions')
    .select('incident_id')
    .distinct()
    .where('id', '>=', first)
    .where('created_at', '>=', b.from)
    .where('created_at', '<', b.to)
    .execute();
  let decided = 0;
  let touched = 0;
  for (const chunk of chunks(inWindow.map((r) => r.incident_id), 500)) {
    const rows = await sql<{ id: string }>`
      select i."id" from "incidents" i
      where i."id" in (${sql.join(chunk)}) and i."merged_into" is null
        and (select e."created_at" from "decisions" e where e."incident_id" = i."id" order by e."id" limit 1) >= ${b.from}`.execute(db);
    if (rows.rows.length === 0) continue;
    decided += rows.rows.length;
    touched += (await touchedByPeople(db, rows.rows.map((r) => r.id), who)).size;
  }
  if (decided === 0) return none;
  const without = decided - touched;
  return { decided, decided_without_person: without, decided_rate: without / decided };
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
 * Each of `rules`' decisions (as the deciding rule: decisions.rule) in the 24 hours and 7 days before `now`,
 * and its newest, however old: one statement per rule, each part a range or a seek on decisions_rule (rule,
 * created_at), migration 0028.
 */
export async function ruleHits(db: Db, now: number, rules: readonly string[]): Promise<Map<string, RuleHits>> {
  const out = new Map<string, RuleHits>();
  for (const rule of new Set(rules)) {
    const r = await sql<{ h24: number | string; h7: number | string; last: number | string | null }>`
      select
        (select count(*) from "decisions" where "rule" = ${rule} and "created_at" >= ${now - DAY}) as "h24",
        (select count(*) from "decisions" where "rule" = ${rule} and "created_at" >= ${now - 7 * DAY}) as "h7",
        (select max("created_at") from "decisions" where "rule" = ${rule}) as "last"`.execute(db);
    const row = r.rows[0];
    out.set(rule, { hits_24h: num(row?.h24), hits_7d: num(row?.h7), last_hit_at: row?.last == null ? null : num(row.last) });
  }
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
