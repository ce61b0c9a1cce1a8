/**
 * History from Fido's own store: earlier alerts and incidents that involved the same host, user or indicator
 * within a window (default 30 days), and how analysts judged those incidents. It is `local` (it reads the
 * store, which is already shared between processes) and by default not cached, because it changes with every
 * alert. An incident that grows keeps its history answers for `refresh` (default 30s) before they are asked
 * again: re-reading the history of every subject whenever an alert joined cost more than the rest of the
 * enrichment. A new incident always gets its history as of now.
 *
 * It reads incident_observables (store/observations.ts): per incident, how many alerts carried the subject and
 * when the last did; the window applies to that last time, so an incident active in the window counts with
 * all its alerts that carried the subject.
 *
 * The answer covers every incident the subject appears in, the current one included, with per-incident
 * alert counts and times, so that the caller can exclude the incident being scored: the enrich stage does
 * that with `excludeIncident()` before it stores the answer, so scoring reads "previous" history directly.
 *
 *   - name: history
 *     kind: history
 *     window: 30d
 *     refresh: 30s
 */
import { sql } from 'kysely';
import { Type } from 'typebox';
import { defineProvider, type EnrichmentProvider, type ProviderAnswer, type LookupSubject } from '../provider.js';
import type { Db } from '../../store/store.js';
import { Duration } from '../../config/schema.js';
import { parseDuration } from '../../config/duration.js';
import { VERDICTS, type Verdict } from '../../model/incident.js';
import { providerSettingsSchema } from '../settings.js';
import { normalizeValue } from '../values.js';
import { iso } from '../../util/time.js';
import { padToPow2, pow2ChunksOf } from '../../util/chunks.js';

const Schema = Type.Object(
  {
    name: Type.String(),
    kind: Type.Literal('history'),
    ...providerSettingsSchema,
    window: Type.Optional(Duration),
    /** How long an incident keeps a history answer before it is asked again (0s: every time an alert joins). */
    refresh: Type.Optional(Duration),
    max_incidents: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, description: 'Incidents listed per answer (counts cover all)' })),
    max_alerts: Type.Optional(
      Type.Integer({ minimum: 100, description: 'Incidents (per spelling of the subject) read per lookup before counts are marked truncated' }),
    ),
  },
  { additionalProperties: false },
);

export interface HistoryIncident {
  id: string;
  title: string;
  status: string;
  verdict: Verdict | null;
  first_seen: string;
  last_seen: string;
  /** Alerts of this incident that involve the subject. */
  alerts: number;
  events: number;
  score: number | null;
}

export interface HistoryData {
  window_ms: number;
  since: string;
  /** Alerts involving the subject in the window (repeats folded into one alert). */
  alerts: number;
  /** Alerts counting their repeats. */
  events: number;
  last_seen: string | null;
  incident_count: number;
  /** Newest first, at most max_incidents. */
  incidents: HistoryIncident[];
  verdicts: Record<Verdict, number>;
  /** Alerts not (yet) grouped into an incident. */
  ungrouped: { alerts: number; events: number; last_seen: string | null };
  /** The scan hit max_alerts incidents: counts are lower bounds. */
  truncated: boolean;
}

/** One incident's alerts that carried a subject (incident_observables rows; the subject's spellings counted once: addHit). */
interface IncidentHit {
  incident_id: string;
  alerts: number;
  events: number;
  last_seen: number;
}

const CHUNK = 400;
/** Subjects per statement: each adds a part to a UNION ALL (SQLite allows 500). */
const SUBJECTS_PER_QUERY = 100;

interface HistoryOptions {
  now: number;
  windowMs: number;
  maxIncidents: number;
  /** Rows (incident × spelling of the subject) read per lookup before counts are marked truncated. */
  maxAlerts: number;
}

function variants(subject: LookupSubject): string[] {
  const v = subject.value.trim();
  return [...new Set([v, normalizeValue(subject.type, v) ?? v, v.toLowerCase()])];
}

type HitRow = { incident_id: string; type: string; value: string; alerts: number; events: number; last_seen: number };
const HIT_COLUMNS = sql`"incident_id", "type", "value", "alerts", "events", "last_seen"`;
/**
 * Rows an alert (or its repeats) carried. Enrichment also records the hosts and users it resolved addresses
 * to (pipeline/stages/enrich.ts: no alert, counts 0); history counts what alerts said, so those are left out:
 * otherwise an incident's history would depend on which incidents were enriched before it.
 */
const CARRIED = sql`("alerts" > 0 or "events" > 0)`;

/**
 * The incidents whose alerts carried each subject within the window (an observable of the alert, or for hosts
 * and users its own host or user), from incident_observables: one row per incident and indicator however
 * many alerts it has, so a lookup costs what the subject's incidents number, not its alerts.
 */
async function incidentHits(db: Db, subjects: readonly LookupSubject[], since: number, cap: number): Promise<{ hits: IncidentHit[][]; truncated: boolean[] }> {
  const together = await hitsTogether(db, subjects, since, cap);
  if (!together) return hitsApart(db, subjects, since, cap);
  // A subject with `cap` rows or more may have more than were wanted: it alone is read with its own
  // newest-first LIMIT. (Before, one such subject, a C2 address in every incident, sent every subject of
  // the batch down that path: a statement part per subject instead of one per type.)
  const heavy = together.heavy;
  if (heavy.length === 0) return together;
  const apart = await hitsApart(db, heavy.map((i) => subjects[i]!), since, cap);
  heavy.forEach((i, k) => {
    together.hits[i] = apart.hits[k]!;
    together.truncated[i] = apart.truncated[k]!;
  });
  return together;
}

/** Adds a row to a subject's hits (its spellings may each have a row for the same incident: counted once). */
function addHit(hits: Map<string, IncidentHit>, r: HitRow): void {
  const h = hits.get(r.incident_id);
  const row = { incident_id: r.incident_id, alerts: Number(r.alerts), events: Number(r.events), last_seen: Number(r.last_seen) };
  if (!h) hits.set(r.incident_id, row);
  else {
    h.alerts = Math.max(h.alerts, row.alerts);
    h.events = Math.max(h.events, row.events);
    h.last_seen = Math.max(h.last_seen, row.last_seen);
  }
}

/** Rows one statement of hitsTogether may read (beyond it, every subject is read apart). */
const TOGETHER_ROWS = 50_000;

/**
 * Every subject in one statement (one part per type), which reads at most max(cap, TOGETHER_ROWS) rows:
 * exact for each subject with fewer than `cap` rows (its own LIMIT would have cut nothing); `heavy` lists
 * the others (by index), whose hits the caller reads again with their LIMIT. Null when there are more rows.
 */
async function hitsTogether(
  db: Db,
  subjects: readonly LookupSubject[],
  since: number,
  cap: number,
): Promise<{ hits: IncidentHit[][]; truncated: boolean[]; heavy: number[] } | null> {
  const owners = new Map<string, number[]>();
  const values = new Map<string, Set<string>>();
  subjects.forEach((s, i) => {
    for (const v of variants(s)) {
      const k = `${s.type}\u0000${v}`;
      const list = owners.get(k);
      if (!list) owners.set(k, [i]);
      else if (list[list.length - 1] !== i) list.push(i);
      const set = values.get(s.type);
      if (set) set.add(v);
      else values.set(s.type, new Set([v]));
    }
  });
  const parts = [...values].map(
    ([type, set]) => sql`select ${HIT_COLUMNS} from "incident_observables" where "type" = ${type} and "value" in (${sql.join(padToPow2([...set]))}) and "last_seen" >= ${since} and ${CARRIED}`,
  );
  if (parts.length === 0) return { hits: subjects.map(() => []), truncated: subjects.map(() => false), heavy: [] };
  const most = Math.max(cap, TOGETHER_ROWS);
  const { rows } = await sql<HitRow>`${sql.join(parts, sql` union all `)} limit ${most + 1}`.execute(db);
  if (rows.length > most) return null;
  const byIncident = subjects.map(() => new Map<string, IncidentHit>());
  const read = subjects.map(() => 0); // rows per subject, its spellings together (hitsApart's LIMIT counts so)
  for (const r of rows) {
    for (const i of owners.get(`${r.type}\u0000${r.value}`) ?? []) {
      read[i]!++;
      addHit(byIncident[i]!, r);
    }
  }
  const heavy = read.flatMap((n, i) => (n >= cap ? [i] : []));
  return { hits: byIncident.map((m) => [...m.values()]), truncated: subjects.map(() => false), heavy };
}

/**
 * Each subject with its own newest-first LIMIT, up to SUBJECTS_PER_QUERY subjects per statement. The
 * statement's text depends only on how many subjects it has (a power of two; each subject's variants padded
 * to three, its literal its place in the statement), so a few prepared statements serve every batch: before,
 * each batch prepared its own statements of tens of kilobytes, which pushed the rest out of the cache.
 */
async function hitsApart(db: Db, subjects: readonly LookupSubject[], since: number, cap: number): Promise<{ hits: IncidentHit[][]; truncated: boolean[] }> {
  const byIncident = subjects.map(() => new Map<string, IncidentHit>());
  const counted = subjects.map(() => 0);
  let from = 0;
  for (const chunk of pow2ChunksOf(subjects, SUBJECTS_PER_QUERY)) {
    const parts = chunk.map(
      (subject, i) => sql`select * from (
          select ${HIT_COLUMNS}, ${sql.lit(i)} as "subject" from "incident_observables"
          where "type" = ${subject.type} and "value" in (${sql.join(threeVariants(subject))}) and "last_seen" >= ${since} and ${CARRIED}
          order by "last_seen" desc limit ${cap}) h`,
    );
    const { rows } = await sql<HitRow & { subject: number }>`${sql.join(parts, sql` union all `)}`.execute(db);
    for (const r of rows) {
      counted[from + Number(r.subject)]!++;
      addHit(byIncident[from + Number(r.subject)]!, r);
    }
    from += chunk.length;
  }
  return { hits: byIncident.map((m) => [...m.values()]), truncated: counted.map((n) => n >= cap) };
}

/** variants(), always three (the last repeated; a repeat changes nothing in IN). */
function threeVariants(subject: LookupSubject): string[] {
  const v = variants(subject);
  while (v.length < 3) v.push(v[v.length - 1]!);
  return v;
}

type IncidentRow = { id: string; title: string; status: string; verdict: string | null; first_seen: number; last_seen: number; score_total: number | null };
/** An incident row and, once some subject lists it, its times as text (built once however many list it). */
type Listed = { row: IncidentRow; times?: { first_seen: string; last_seen: string } };

async function incidentRows(db: Db, ids: readonly string[]): Promise<Map<string, Listed>> {
  const out = new Map<string, Listed>();
  for (const chunk of pow2ChunksOf(ids, CHUNK)) {
    const rows = await db
      .selectFrom('incidents')
      .select(['id', 'title', 'status', 'verdict', 'first_seen', 'last_seen', 'score_total'])
      .where('id', 'in', chunk)
      .execute();
    for (const r of rows) out.set(r.id, { row: r });
  }
  return out;
}

function summarize(hits: readonly IncidentHit[], truncated: boolean, incidents: ReadonlyMap<string, Listed>, since: string, opts: HistoryOptions): HistoryData {
  const perIncident = new Map(hits.map((h) => [h.incident_id, h]));
  const listed = [...perIncident.keys()].flatMap((id) => incidents.get(id) ?? []);
  listed.sort((a, b) => b.row.last_seen - a.row.last_seen || (a.row.id < b.row.id ? 1 : -1));
  const verdicts = Object.fromEntries(VERDICTS.map((v) => [v, 0])) as Record<Verdict, number>;
  for (const { row: r } of listed) if (r.verdict && r.verdict in verdicts) verdicts[r.verdict as Verdict]++;
  const lastTime = Math.max(...hits.map((h) => h.last_seen), -Infinity);
  return {
    window_ms: opts.windowMs,
    since,
    alerts: hits.reduce((n, h) => n + h.alerts, 0),
    events: hits.reduce((n, h) => n + h.events, 0),
    last_seen: Number.isFinite(lastTime) ? iso(lastTime) : null,
    incident_count: listed.length,
    incidents: listed.slice(0, opts.maxIncidents).map((l) => ({
      id: l.row.id,
      title: l.row.title,
      status: l.row.status,
      verdict: (l.row.verdict as Verdict | null) ?? null,
      ...(l.times ??= { first_seen: iso(l.row.first_seen), last_seen: iso(l.row.last_seen) }),
      alerts: perIncident.get(l.row.id)!.alerts,
      events: perIncident.get(l.row.id)!.events,
      score: l.row.score_total,
    })),
    verdicts,
    // Every alert is grouped since migration 0004; kept in the answer's shape for its readers.
    ungrouped: { alerts: 0, events: 0, last_seen: null },
    truncated,
  };
}

/** The history of each subject, in the order given; a few statements however many subjects. */
export async function queryHistoryMany(db: Db, subjects: readonly LookupSubject[], opts: HistoryOptions): Promise<HistoryData[]> {
  if (subjects.length === 0) return [];
  const start = windowStart(opts.now, opts.windowMs);
  const { hits, truncated } = await incidentHits(db, subjects, start, opts.maxAlerts);
  const ids = new Set<string>();
  for (const list of hits) for (const h of list) ids.add(h.incident_id);
  const incidents = await incidentRows(db, [...ids]);
  const since = iso(start);
  return hits.map((list, i) => summarize(list, truncated[i]!, incidents, since, opts));
}

/**
 * The window's start moves in steps (1/100 of the window, at most an hour: a 30-day window is 30 days and
 * up to an hour), so that the answer for a subject stays the same between alerts that change nothing — and
 * an incident re-enriched for every new alert does not rewrite its whole history each time.
 */
export function windowStart(now: number, windowMs: number): number {
  const step = Math.max(1000, Math.min(3_600_000, Math.floor(windowMs / 100)));
  return Math.floor((now - windowMs) / step) * step;
}

export async function queryHistory(db: Db, subject: LookupSubject, opts: HistoryOptions): Promise<HistoryData> {
  return (await queryHistoryMany(db, [subject], opts))[0]!;
}

/**
 * The same history without one incident (the one being enriched or scored): what scoring calls "previous"
 * alerts and incidents. Pure; answers without that incident come back unchanged.
 */
export function excludeIncident(data: HistoryData, incidentId: string): HistoryData {
  const gone = data.incidents.find((i) => i.id === incidentId);
  if (!gone) return data;
  const incidents = data.incidents.filter((i) => i.id !== incidentId);
  const verdicts = { ...data.verdicts };
  if (gone.verdict) verdicts[gone.verdict] = Math.max(0, verdicts[gone.verdict] - 1);
  // Incidents are listed newest first, so the newest remaining activity is in the list or among ungrouped alerts.
  const times = [...incidents.map((i) => i.last_seen), data.ungrouped.last_seen].filter((t): t is string => t !== null);
  return {
    ...data,
    alerts: Math.max(0, data.alerts - gone.alerts),
    events: Math.max(0, data.events - gone.events),
    last_seen: times.length ? times.reduce((a, b) => (a > b ? a : b)) : null,
    incident_count: data.incident_count - 1,
    incidents,
    verdicts,
  };
}

export function isHistoryData(data: Record<string, unknown>): data is Record<string, unknown> & HistoryData {
  return Array.isArray(data.incidents) && typeof data.alerts === 'number' && typeof data.verdicts === 'object';
}

const history = defineProvider({
  kind: 'history',
  local: true,
  description: "Fido's own history: earlier alerts, incidents and analyst verdicts for the same host, user or indicator",
  schema: Schema,
  async create(cfg, deps): Promise<EnrichmentProvider> {
    const windowMs = parseDuration(cfg.window ?? '30d', 'window');
    const opts = { windowMs, maxIncidents: cfg.max_incidents ?? 50, maxAlerts: cfg.max_alerts ?? 10_000 };
    // History moves with every alert: no caching unless the config asks for it.
    const toAnswer = (data: HistoryData): ProviderAnswer => ({ found: data.alerts > 0, data: { ...data }, ...(cfg.ttl === undefined ? { ttlMs: 0 } : {}) });
    const refreshMs = parseDuration(cfg.refresh ?? '30s', 'refresh');
    return {
      name: cfg.name,
      kind: 'history',
      reuseMs: refreshMs,
      subjects: ['host', 'user', 'ip', 'domain', 'url', 'md5', 'sha1', 'sha256', 'email', 'mac'],
      local: true,
      async lookup(subject): Promise<ProviderAnswer> {
        return toAnswer(await queryHistory(deps.store.db, subject, { ...opts, now: deps.now() }));
      },
      async lookupMany(subjects): Promise<ProviderAnswer[]> {
        return (await queryHistoryMany(deps.store.db, subjects, { ...opts, now: deps.now() })).map(toAnswer);
      },
      // An incident's history counts the incident itself; scoring reads what came before it.
      withoutIncident(answer, incidentId): ProviderAnswer {
        if (!isHistoryData(answer.data)) return answer;
        const data = excludeIncident(answer.data, incidentId);
        // Without the incident in it the answer stands as it is (found already says data.alerts > 0).
        return data === answer.data ? answer : { ...answer, data: { ...data }, found: data.alerts > 0 };
      },
    };
  },
});

export default history;
