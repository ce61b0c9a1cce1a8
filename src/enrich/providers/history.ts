/**
 * History from Fido's own store: earlier alerts and incidents that involved the same host, user or indicator
 * within a window (default 30 days), and how analysts judged those incidents. It is `local` (it reads the
 * store, which is already shared between processes) and by default not cached, because it changes with every
 * alert. An incident that grows keeps its history answers for `refresh` (default 30s) before they are asked
 * again: re-reading the history of every subject whenever an alert joined cost more than the rest of the
 * enrichment. A new incident always gets its history as of now.
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
import { sql, type RawBuilder } from 'kysely';
import { Type, type Static } from 'typebox';
import type { ProviderKind, EnrichmentProvider, ProviderAnswer, LookupSubject } from '../provider.js';
import type { Db } from '../../store/store.js';
import { Duration } from '../../config/schema.js';
import { parseDuration } from '../../config/duration.js';
import { VERDICTS, type Verdict } from '../../model/incident.js';
import { providerSettingsSchema } from '../layer.js';
import { normalizeValue } from '../values.js';
import { iso, isoOrNull } from '../../util/time.js';
import { chunksOf } from '../../util/chunks.js';

const Schema = Type.Object(
  {
    name: Type.String(),
    kind: Type.Literal('history'),
    ...providerSettingsSchema,
    window: Type.Optional(Duration),
    /** How long an incident keeps a history answer before it is asked again (0s: every time an alert joins). */
    refresh: Type.Optional(Duration),
    max_incidents: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, description: 'Incidents listed per answer (counts cover all)' })),
    max_alerts: Type.Optional(Type.Integer({ minimum: 100, description: 'Alerts read per lookup before counts are marked truncated' })),
  },
  { additionalProperties: false },
);
type Config = Static<typeof Schema>;

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
  /** The alert scan hit max_alerts: counts are lower bounds. */
  truncated: boolean;
}

interface AlertHit {
  id: string;
  incident_id: string | null;
  time: number;
  repeat_count: number;
}

const CHUNK = 400;
/** Subjects per statement: each adds one or two parts to a UNION ALL (SQLite allows 500). */
const SUBJECTS_PER_QUERY = 100;

interface HistoryOptions {
  now: number;
  windowMs: number;
  maxIncidents: number;
  maxAlerts: number;
}

function variants(subject: LookupSubject): string[] {
  const v = subject.value.trim();
  return [...new Set([v, normalizeValue(subject.type, v) ?? v, v.toLowerCase()])];
}

/** Alerts that mention each subject: as an observable, and for hosts and users also in the alert's own columns. */
async function alertHits(db: Db, subjects: readonly LookupSubject[], since: number, cap: number): Promise<AlertHit[][]> {
  return (await alertHitsTogether(db, subjects, since, cap)) ?? (await alertHitsApart(db, subjects, since, cap));
}

const HIT_COLUMNS = sql`a."id", a."incident_id", a."time", a."repeat_count"`;
/** The alert column a host or user subject is also found in. */
const columnOf = (s: LookupSubject) => (s.type === 'host' ? 'host' : s.type === 'user' ? 'user_name' : null);

/**
 * Every subject in one statement (one part per observable type and alert column) that reads at most `cap`
 * rows: when it does not need them all, no subject has more than `cap` rows, so no subject's own LIMIT would
 * have cut anything and the answer is exact. Null when there are more: then each subject needs its own LIMIT.
 */
async function alertHitsTogether(db: Db, subjects: readonly LookupSubject[], since: number, cap: number): Promise<AlertHit[][] | null> {
  // Where a row comes from (an observable type, or ":host" / ":user_name" for the alert columns) and the
  // value it matched → the subjects it belongs to.
  const owners = new Map<string, number[]>();
  const values = new Map<string, Set<string>>();
  const own = (source: string, value: string, i: number) => {
    const k = `${source}\u0000${value}`;
    const list = owners.get(k);
    if (!list) owners.set(k, [i]);
    else if (list[list.length - 1] !== i) list.push(i);
    const set = values.get(source);
    if (set) set.add(value);
    else values.set(source, new Set([value]));
  };
  subjects.forEach((s, i) => {
    const column = columnOf(s);
    for (const v of variants(s)) {
      own(s.type, v, i);
      if (column) own(`:${column}`, v, i);
    }
  });
  const parts = [...values].map(([source, set]) => {
    const list = sql.join([...set]);
    if (!source.startsWith(':')) {
      return sql`select o."type" as "source", o."value" as "value", ${HIT_COLUMNS}
        from "observables" o join "alerts" a on a."id" = o."alert_id"
        where o."type" = ${source} and o."value" in (${list}) and o."time" >= ${since}`;
    }
    const column = sql.ref(`a.${source.slice(1)}`);
    return sql`select ${sql.lit(source)} as "source", ${column} as "value", ${HIT_COLUMNS}
      from "alerts" a where ${column} in (${list}) and a."time" >= ${since}`;
  });
  if (parts.length === 0) return subjects.map(() => []);
  const { rows } = await sql<AlertHit & { source: string; value: string }>`${sql.join(parts, sql` union all `)} limit ${cap + 1}`.execute(db);
  if (rows.length > cap) return null;
  const byId = subjects.map(() => new Map<string, AlertHit>());
  for (const r of rows) {
    const hit = { id: r.id, incident_id: r.incident_id, time: Number(r.time), repeat_count: Number(r.repeat_count) };
    for (const i of owners.get(`${r.source}\u0000${r.value}`) ?? []) byId[i]!.set(r.id, hit);
  }
  return byId.map((m) => [...m.values()]);
}

/**
 * Each subject with its own newest-first LIMIT, as a query of its own would read it, in one statement per
 * SUBJECTS_PER_QUERY subjects: a UNION ALL with one part per subject and source.
 */
async function alertHitsApart(db: Db, subjects: readonly LookupSubject[], since: number, cap: number): Promise<AlertHit[][]> {
  const byId = subjects.map(() => new Map<string, AlertHit>());
  for (let from = 0; from < subjects.length; from += SUBJECTS_PER_QUERY) {
    const parts: RawBuilder<unknown>[] = [];
    for (let i = from; i < Math.min(subjects.length, from + SUBJECTS_PER_QUERY); i++) {
      const subject = subjects[i]!;
      const values = sql.join(variants(subject));
      parts.push(sql`select * from (
          select ${HIT_COLUMNS}, ${sql.lit(i)} as "subject"
          from "observables" o join "alerts" a on a."id" = o."alert_id"
          where o."type" = ${subject.type} and o."value" in (${values}) and o."time" >= ${since}
          order by o."time" desc limit ${cap}) h`);
      const column = columnOf(subject);
      if (column) {
        parts.push(sql`select * from (
            select ${HIT_COLUMNS}, ${sql.lit(i)} as "subject"
            from "alerts" a where ${sql.ref(`a.${column}`)} in (${values}) and a."time" >= ${since}
            order by a."time" desc limit ${cap}) h`);
      }
    }
    const { rows } = await sql<AlertHit & { subject: number }>`${sql.join(parts, sql` union all `)}`.execute(db);
    for (const r of rows) byId[Number(r.subject)]!.set(r.id, { id: r.id, incident_id: r.incident_id, time: Number(r.time), repeat_count: Number(r.repeat_count) });
  }
  return byId.map((m) => [...m.values()]);
}

type IncidentRow = { id: string; title: string; status: string; verdict: string | null; first_seen: number; last_seen: number; score_total: number | null };
/** An incident row and, once some subject lists it, its times as text (built once however many list it). */
type Listed = { row: IncidentRow; times?: { first_seen: string; last_seen: string } };

async function incidentRows(db: Db, ids: readonly string[]): Promise<Map<string, Listed>> {
  const out = new Map<string, Listed>();
  for (const chunk of chunksOf(ids, CHUNK)) {
    const rows = await db
      .selectFrom('incidents')
      .select(['id', 'title', 'status', 'verdict', 'first_seen', 'last_seen', 'score_total'])
      .where('id', 'in', chunk)
      .execute();
    for (const r of rows) out.set(r.id, { row: r });
  }
  return out;
}

function summarize(hits: readonly AlertHit[], incidents: ReadonlyMap<string, Listed>, since: string, opts: HistoryOptions): HistoryData {
  const perIncident = new Map<string, { alerts: number; events: number }>();
  const ungrouped = { alerts: 0, events: 0, last: null as number | null };
  for (const h of hits) {
    if (h.incident_id === null) {
      ungrouped.alerts++;
      ungrouped.events += h.repeat_count;
      ungrouped.last = Math.max(ungrouped.last ?? 0, h.time);
      continue;
    }
    const c = perIncident.get(h.incident_id) ?? { alerts: 0, events: 0 };
    c.alerts++;
    c.events += h.repeat_count;
    perIncident.set(h.incident_id, c);
  }
  const listed = [...perIncident.keys()].flatMap((id) => incidents.get(id) ?? []);
  listed.sort((a, b) => b.row.last_seen - a.row.last_seen || (a.row.id < b.row.id ? 1 : -1));
  const verdicts = Object.fromEntries(VERDICTS.map((v) => [v, 0])) as Record<Verdict, number>;
  for (const { row: r } of listed) if (r.verdict && r.verdict in verdicts) verdicts[r.verdict as Verdict]++;
  const lastTime = Math.max(...hits.map((h) => h.time), -Infinity);
  return {
    window_ms: opts.windowMs,
    since,
    alerts: hits.length,
    events: hits.reduce((n, h) => n + h.repeat_count, 0),
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
    ungrouped: { alerts: ungrouped.alerts, events: ungrouped.events, last_seen: isoOrNull(ungrouped.last) },
    truncated: hits.length >= opts.maxAlerts,
  };
}

/** The history of each subject, in the order given; a few statements however many subjects. */
export async function queryHistoryMany(db: Db, subjects: readonly LookupSubject[], opts: HistoryOptions): Promise<HistoryData[]> {
  if (subjects.length === 0) return [];
  const start = windowStart(opts.now, opts.windowMs);
  const hits = await alertHits(db, subjects, start, opts.maxAlerts);
  const ids = new Set<string>();
  for (const list of hits) for (const h of list) if (h.incident_id !== null) ids.add(h.incident_id);
  const incidents = await incidentRows(db, [...ids]);
  const since = iso(start);
  return hits.map((list) => summarize(list, incidents, since, opts));
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

const history: ProviderKind = {
  kind: 'history',
  local: true,
  description: "Fido's own history: earlier alerts, incidents and analyst verdicts for the same host, user or indicator",
  configSchema: Schema,
  async create(entry, deps): Promise<EnrichmentProvider> {
    const cfg = entry as unknown as Config;
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
    };
  },
};

export default history;
