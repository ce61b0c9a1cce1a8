/**
 * History from Fido's own store: earlier alerts and incidents that involved the same host, user or indicator
 * within a window (default 30 days), and how analysts judged those incidents. It is `local` (it reads the
 * store, which is already shared between processes) and by default not cached, because it changes with every
 * alert.
 *
 * The answer covers every incident the subject appears in, the current one included, with per-incident
 * alert counts and times, so that the caller can exclude the incident being scored: the enrich stage does
 * that with `excludeIncident()` before it stores the answer, so scoring reads "previous" history directly.
 *
 *   - name: history
 *     kind: history
 *     window: 30d
 */
import { Type, type Static } from 'typebox';
import type { ProviderKind, EnrichmentProvider, ProviderAnswer, LookupSubject } from '../provider.js';
import type { Db } from '../../store/store.js';
import { Duration } from '../../config/schema.js';
import { parseDuration } from '../../config/duration.js';
import { VERDICTS, type Verdict } from '../../model/incident.js';
import { providerSettingsSchema } from '../layer.js';
import { normalizeValue } from '../values.js';
import { iso, isoOrNull } from '../../util/time.js';

const Schema = Type.Object(
  {
    name: Type.String(),
    kind: Type.Literal('history'),
    ...providerSettingsSchema,
    window: Type.Optional(Duration),
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

function variants(subject: LookupSubject): string[] {
  const v = subject.value.trim();
  return [...new Set([v, normalizeValue(subject.type, v) ?? v, v.toLowerCase()])];
}

/** Alerts that mention the subject: as an observable, and for hosts and users also in the alert's own columns. */
async function alertHits(db: Db, subject: LookupSubject, since: number, cap: number): Promise<AlertHit[]> {
  const values = variants(subject);
  const viaObservables = await db
    .selectFrom('observables as o')
    .innerJoin('alerts as a', 'a.id', 'o.alert_id')
    .select(['a.id', 'a.incident_id', 'a.time', 'a.repeat_count'])
    .where('o.type', '=', subject.type)
    .where('o.value', 'in', values)
    .where('o.time', '>=', since)
    .orderBy('o.time', 'desc')
    .limit(cap)
    .execute();
  const column = subject.type === 'host' ? 'host' : subject.type === 'user' ? 'user_name' : null;
  const viaColumn = column
    ? await db
        .selectFrom('alerts')
        .select(['id', 'incident_id', 'time', 'repeat_count'])
        .where(column, 'in', values)
        .where('time', '>=', since)
        .orderBy('time', 'desc')
        .limit(cap)
        .execute()
    : [];
  const byId = new Map<string, AlertHit>();
  for (const a of [...viaObservables, ...viaColumn]) byId.set(a.id, a);
  return [...byId.values()];
}

export async function queryHistory(
  db: Db,
  subject: LookupSubject,
  opts: { now: number; windowMs: number; maxIncidents: number; maxAlerts: number },
): Promise<HistoryData> {
  const since = opts.now - opts.windowMs;
  const hits = await alertHits(db, subject, since, opts.maxAlerts);
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
  const ids = [...perIncident.keys()];
  const rows = [];
  for (let i = 0; i < ids.length; i += CHUNK) {
    rows.push(
      ...(await db
        .selectFrom('incidents')
        .select(['id', 'title', 'status', 'verdict', 'first_seen', 'last_seen', 'score_total'])
        .where('id', 'in', ids.slice(i, i + CHUNK))
        .execute()),
    );
  }
  rows.sort((a, b) => b.last_seen - a.last_seen || (a.id < b.id ? 1 : -1));
  const verdicts = Object.fromEntries(VERDICTS.map((v) => [v, 0])) as Record<Verdict, number>;
  for (const r of rows) if (r.verdict && r.verdict in verdicts) verdicts[r.verdict as Verdict]++;
  const lastTime = Math.max(...hits.map((h) => h.time), -Infinity);
  return {
    window_ms: opts.windowMs,
    since: iso(since),
    alerts: hits.length,
    events: hits.reduce((n, h) => n + h.repeat_count, 0),
    last_seen: Number.isFinite(lastTime) ? iso(lastTime) : null,
    incident_count: rows.length,
    incidents: rows.slice(0, opts.maxIncidents).map((r) => ({
      id: r.id,
      title: r.title,
      status: r.status,
      verdict: (r.verdict as Verdict | null) ?? null,
      first_seen: iso(r.first_seen),
      last_seen: iso(r.last_seen),
      alerts: perIncident.get(r.id)!.alerts,
      events: perIncident.get(r.id)!.events,
      score: r.score_total,
    })),
    verdicts,
    ungrouped: { alerts: ungrouped.alerts, events: ungrouped.events, last_seen: isoOrNull(ungrouped.last) },
    truncated: hits.length >= opts.maxAlerts,
  };
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
  description: "Fido's own history: earlier alerts, incidents and analyst verdicts for the same host, user or indicator",
  configSchema: Schema,
  async create(entry, deps): Promise<EnrichmentProvider> {
    const cfg = entry as unknown as Config;
    const windowMs = parseDuration(cfg.window ?? '30d', 'window');
    const opts = { windowMs, maxIncidents: cfg.max_incidents ?? 50, maxAlerts: cfg.max_alerts ?? 10_000 };
    return {
      name: cfg.name,
      kind: 'history',
      subjects: ['host', 'user', 'ip', 'domain', 'url', 'md5', 'sha1', 'sha256', 'email', 'mac'],
      local: true,
      async lookup(subject): Promise<ProviderAnswer> {
        const data = await queryHistory(deps.store.db, subject, { ...opts, now: deps.now() });
        // History moves with every alert: no caching unless the config asks for it.
        return { found: data.alerts > 0, data: { ...data }, ...(cfg.ttl === undefined ? { ttlMs: 0 } : {}) };
      },
    };
  },
};

export default history;
