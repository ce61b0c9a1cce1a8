/** Read side of incidents: the list the API pages through and the detail every later stage reads. */
import type { Db } from './store.js';
import { insertRows } from './insert-rows.js';
import type { Alert } from '../model/alert.js';
import type { ActionRecord, ActionState } from '../model/action.js';
import type { Decision } from '../model/decision.js';
import type { Enrichment } from '../model/enrichment.js';
import type { Incident, IncidentDetail, IncidentStatus, TimelineEntry, Verdict } from '../model/incident.js';
import type { ObservableType } from '../model/observable.js';
import type { Score } from '../model/score.js';
import { sql, type Selectable, type SelectQueryBuilder } from 'kysely';
import type { Database } from './schema.js';
import type { ActionTable, AlertTable, EnrichmentTable, IncidentTable, IncidentWorkflowColumns, TimelineTable } from './schema.js';
import { iso } from '../util/time.js';
import { parseStored } from '../util/json.js';
import { updateRows, type RowUpdate } from './update-rows.js';
import type { AlertDocs } from './alert-docs.js';
import { pow2ChunksOf } from '../util/chunks.js';
import { coveringAlertIds, emptyDigest, readDigest, type IncidentDigest } from '../correlate/digest.js';
import { rawForm, type RawForm } from './log.js';
import { incidentObservations } from './observations.js';
import { incidentAssets } from '../enrich/assets.js';

export function toIncident(row: Selectable<IncidentTable> & Partial<IncidentWorkflowColumns>): Incident {
  return {
    id: row.id,
    title: row.title,
    status: row.status as IncidentStatus,
    verdict: (row.verdict as Verdict | null) ?? null,
    first_seen: iso(row.first_seen),
    last_seen: iso(row.last_seen),
    alert_count: row.alert_count,
    host: row.host,
    user: row.user_name,
    score: parseStored<Score>(row.score, 'incident score'),
    decision: parseStored<Decision>(row.decision, 'incident decision'),
    assignee: row.assignee ?? null,
    severity_override: row.severity_override ?? null,
    merged_into: row.merged_into ?? null,
    updated_at: iso(Number(row.updated_at)),
  };
}

/** An alert row as the API shows it; with its record's `raw_base64` read (null or not), how it was received too. */
export function toAlert(
  row: Pick<AlertTable, 'doc' | 'raw' | 'repeat_count' | 'incident_id'> & { raw_base64?: string | null },
): Alert & { repeat_count: number; incident_id: string | null } & Partial<RawForm> {
  const doc = parseStored<Alert>(row.doc, 'alert')!;
  return { ...doc, raw: row.raw, ...(row.raw_base64 === undefined ? {} : rawForm(row.raw_base64)), repeat_count: row.repeat_count, incident_id: row.incident_id };
}

export function toAction(row: ActionTable): ActionRecord {
  return {
    id: row.id,
    incident_id: row.incident_id,
    kind: row.kind,
    target: row.target,
    idempotency_key: row.idempotency_key,
    params: parseStored<Record<string, unknown>>(row.params, 'action params') ?? {},
    state: row.state as ActionState,
    attempts: row.attempts,
    last_error: row.last_error,
    created_at: iso(row.created_at),
    updated_at: iso(row.updated_at),
    approved_by: row.approved_by,
    approval_due_at: row.approval_due_at === null ? null : iso(Number(row.approval_due_at)),
    approval_default: row.approval_default === 'approve' || row.approval_default === 'deny' ? row.approval_default : null,
    denied_by: row.denied_by,
    denial_reason: row.denial_reason,
    dry_run: row.dry_run === 1,
    undo_of: row.undo_of ?? null,
    expires_at: row.expires_at === null || row.expires_at === undefined ? null : iso(Number(row.expires_at)),
    undo_after_ms: row.undo_after_ms == null ? null : Number(row.undo_after_ms),
    follow_of: row.follow_of ?? null,
    follow_event: row.follow_event === 'update' || row.follow_event === 'close' ? row.follow_event : null,
    held_by: row.held_by ?? null,
  };
}

/** Everything known about one incident, in the shape of GET /incidents/{id}; with its merged assets. */
export async function loadIncidentDetail(
  db: Db,
  id: string,
  opts: { alertLimit?: number; assets?: AssetSettings } = {},
): Promise<IncidentDetail | null> {
  return (await loadIncidentDetails(db, [id], opts)).get(id) ?? null;
}

/**
 * One page of an incident's alerts (repeats included), oldest first by alert time as the detail lists them:
 * the alerts after `after` (an alert id of the previous page), and the cursor of the next page if any.
 */
export async function loadIncidentAlerts(
  db: Db,
  incidentId: string,
  page: { limit: number; after?: string },
): Promise<{ items: Alert[]; next_cursor: string | null; total: number }> {
  let q = oldestAlerts(db.selectFrom('alerts').select(['id', 'repeat_count', 'incident_id', 'doc', 'raw', 'intake_id', 'time']), [incidentId], page.limit + 1);
  if (page.after) {
    const from = await db.selectFrom('alerts').select(['time', 'id']).where('id', '=', page.after).where('incident_id', '=', incidentId).executeTakeFirst();
    if (!from) return { items: [], next_cursor: null, total: await countAlerts(db, incidentId) };
    q = q.where((eb) => eb.or([eb('time', '>', from.time), eb.and([eb('time', '=', from.time), eb('id', '>', from.id)])]));
  }
  const rows = await q.execute();
  const shown = rows.slice(0, page.limit);
  await fillRaw(db, shown);
  return {
    items: shown.map((r) => toAlert(r)),
    next_cursor: rows.length > page.limit ? shown[shown.length - 1]!.id : null,
    total: await countAlerts(db, incidentId),
  };
}

/** Alert rows of the incident, repeats included (what the detail's alerts list and pages through). */
export async function countAlerts(db: Db, incidentId: string): Promise<number> {
  const r = await db.selectFrom('alerts').select((eb) => eb.fn.countAll<number>().as('n')).where('incident_id', '=', incidentId).executeTakeFirst();
  return Number(r?.n ?? 0);
}

/** What loadIncidentDetails reads besides the incident row; each part defaults to true. */
export interface DetailParts {
  /**
   * The alerts: true, the oldest first, at most `alertLimit`; 'covering', the alerts that stand for the whole
   * incident (its digest's: each rule's most severe and the newest by arrival, in arrival order), what the
   * stages that score and decide read. Without them `alerts` is empty.
   */
  alerts?: boolean | 'covering';
  /** Each alert's raw record. Without it `raw` is '' (scoring and rules never look at it). */
  raw?: boolean;
  /** The enrichment rows; 'found' reads only those that found something (no misses, no errors). */
  enrichment?: boolean | 'found';
  /** Decisions, actions and the timeline. Without it the three are empty. */
  history?: boolean;
  /**
   * Every indicator of the incident's alerts (incidentObservations: folded and logged), newest first, at
   * most INDICATOR_LIMIT: `indicators`. Default false.
   */
  indicators?: boolean;
  /**
   * `assets`: each machine the inventories' stored answers describe, merged (enrich/assets.ts); the key is
   * left out when there is none. Needs `enrichment`. Default: true when no parts are given (the whole detail,
   * what people read), false when they are (the stages name what they read and do not read this).
   */
  assets?: boolean;
}

/** How the detail merges inventory answers (config enrichment.assets); by default freshness alone decides. */
export interface AssetSettings {
  /** Provider names, most trusted first. */
  precedence?: readonly string[];
  /** Answers older than this are left out (listed as stale); null or absent: no limit. */
  maxAgeMs?: number | null;
  /** The time max_age counts back from (default: now). */
  now?: () => number;
}

/** Indicators read per incident for the rules (policy/context.ts lists at most 500 observables). */
const INDICATOR_LIMIT = 500;

export interface DetailOptions {
  /** Alerts per incident (default 500). */
  alertLimit?: number;
  parts?: DetailParts;
  /** Where parsed alert documents are kept between calls (the pipeline's stages pass the store's). */
  docs?: AlertDocs;
  /** For the `assets` part. */
  assets?: AssetSettings;
}

/** Incidents per round of queries (bounds the IN lists). */
const DETAIL_CHUNK = 500;
const TIMELINE_LIMIT = 1000;

/**
 * loadIncidentDetail for many incidents with a few queries per part (IN lists) instead of several per
 * incident; the stages read their whole batch this way, and only the parts they use. Returns id → detail;
 * ids that do not exist are absent. Each detail is what loadIncidentDetail gives for it, minus the parts
 * left out (empty lists).
 */
export async function loadIncidentDetails(db: Db, ids: readonly string[], opts: DetailOptions = {}): Promise<Map<string, IncidentDetail>> {
  const out = new Map<string, IncidentDetail>();
  const unique = [...new Set(ids)];
  for (const chunk of pow2ChunksOf(unique, DETAIL_CHUNK)) await loadChunk(db, chunk, opts, out);
  return out;
}

async function loadChunk(db: Db, chunk: string[], opts: DetailOptions, out: Map<string, IncidentDetail>): Promise<void> {
  const parts = { alerts: true, raw: true, enrichment: true, history: true, indicators: false, assets: opts.parts === undefined, ...opts.parts };
  // Documents come from the cache when one is given and the raw records are not wanted (they are not kept).
  const docs = parts.raw ? undefined : opts.docs;
  const alertLimit = opts.alertLimit ?? 500;
  const rows = await db.selectFrom('incidents').selectAll().where('id', 'in', chunk).execute();
  if (rows.length === 0) return;
  const ids = rows.map((r) => r.id);
  // Read once: the covering alerts are chosen from it, and the detail carries it.
  const digests = new Map(rows.map((r) => [r.id, r.digest ? readDigest(r.digest) : undefined]));
  const none = Promise.resolve([]);
  const alertColumns = (q: SelectQueryBuilder<Database, 'alerts', object>) =>
    q
      .select(['id', 'repeat_count', 'incident_id'])
      .$if(!docs, (qb) => qb.select('doc'))
      .$if(parts.raw, (qb) => qb.select(['raw', 'intake_id']));
  const [alerts, enrich, decisions, actions, timeline, arrivals, indicators] = await Promise.all([
    parts.alerts === 'covering'
      ? coveringAlerts(db, digests, () => alertColumns(db.selectFrom('alerts')), alertLimit)
      : parts.alerts
      ? limitedPerIncident(db, ['alerts'], ids, alertLimit, (some, limit) =>
          oldestAlerts(alertColumns(db.selectFrom('alerts')), some, limit).execute(),
        )
      : none,
    parts.enrichment
      ? db
          .selectFrom('enrichments')
          .selectAll()
          .where('incident_id', 'in', ids)
          // A literal, not a parameter: only then can SQLite use the partial index enrichments_found.
          .$if(parts.enrichment === 'found', (qb) => qb.where(sql<boolean>`"found" = 1`))
          .orderBy('incident_id')
          .orderBy('provider')
          .orderBy('subject_value')
          .orderBy('subject_type')
          .execute()
      : none,
    parts.history ? db.selectFrom('decisions').select(['incident_id', 'doc', 'created_at']).where('incident_id', 'in', ids).orderBy('incident_id').orderBy('id').execute() : none,
    parts.history ? db.selectFrom('actions').selectAll().where('incident_id', 'in', ids).orderBy('incident_id').orderBy('created_at').orderBy('id').execute() : none,
    parts.history
      ? limitedPerIncident(db, ['timeline'], ids, TIMELINE_LIMIT, (some, limit) => {
          let q = db
            .selectFrom('timeline')
            .selectAll()
            .where('incident_id', 'in', some)
            .$if(some.length > 1, (qb) => qb.orderBy('incident_id'))
            .orderBy('at')
            .orderBy('id');
          if (limit !== undefined) q = q.limit(limit);
          return q.execute();
        })
      : none,
    // Alerts and repeats are on the timeline as they are stored, not as timeline rows of their own.
    parts.history
      ? limitedPerIncident(db, ['alerts'], ids, TIMELINE_LIMIT, (some, limit) =>
          oldestAlerts(db.selectFrom('alerts').select(['id', 'incident_id', 'time', 'detector', 'title', 'duplicate_of']), some, limit).execute(),
        )
      : none,
    parts.indicators
      ? limitedPerIncident(db, ['incident_observables', 'observation_log'], ids, INDICATOR_LIMIT, async (some, limit) => {
          const byIncident = some.length > 1 ? sql`"incident_id", ` : sql``;
          const { rows } = await sql<{ incident_id: string; type: string; value: string }>`
            select "incident_id", "type", "value" from ${incidentObservations(some)} o
            order by ${byIncident}"last_seen" desc, "type", "value"${limit === undefined ? sql`` : sql` limit ${limit}`}`.execute(db);
          return rows;
        })
      : none,
  ]);
  const byIncident = <R extends { incident_id: string | null }>(list: readonly R[]) => {
    const m = new Map<string, R[]>();
    for (const r of list) {
      if (r.incident_id === null) continue;
      const l = m.get(r.incident_id);
      if (l) l.push(r);
      else m.set(r.incident_id, [r]);
    }
    return (id: string): R[] => m.get(id) ?? [];
  };
  if (parts.raw) await fillRaw(db, alerts as Array<{ raw?: string; intake_id?: string }>);
  const alertsOf = byIncident(alerts);
  const cached = docs ? await docs.load(db, alerts.map((a) => a.id)) : undefined;
  const alertOf = (a: (typeof alerts)[number]): ReturnType<typeof toAlert>[] => {
    if (!cached) return [toAlert({ raw: '', ...a, doc: a.doc! })];
    const doc = cached.get(a.id);
    return doc ? [{ ...(doc as Alert), raw: '', repeat_count: a.repeat_count, incident_id: a.incident_id }] : []; // deleted meanwhile
  };
  const enrichOf = byIncident(enrich);
  const decisionsOf = byIncident(decisions);
  const actionsOf = byIncident(actions);
  const timelineOf = byIncident(timeline);
  const arrivalsOf = byIncident(arrivals);
  const indicatorsOf = byIncident(indicators);
  // An incident's answers mostly share a few fetch times: format each once.
  const fetchedAt = memoIso();
  const mergeOpts = { precedence: opts.assets?.precedence, maxAgeMs: opts.assets?.maxAgeMs ?? null, now: (opts.assets?.now ?? Date.now)() };
  for (const row of rows) {
    const enrichment = enrichOf(row.id).map((e) => toEnrichment(e, fetchedAt));
    // Computed from the stored answers each time, so it follows the current precedence and max_age.
    const assets = parts.assets && parts.enrichment ? incidentAssets(enrichment.filter((e): e is Enrichment => 'data' in e), mergeOpts) : [];
    out.set(row.id, {
      ...toIncident(row),
      digest: digests.get(row.id) ?? emptyDigest(),
      alerts: alertsOf(row.id).flatMap(alertOf),
      enrichment,
      ...(assets.length ? { assets } : {}),
      decisions: decisionsOf(row.id).map((d) => ({ ...parseStored<Decision>(d.doc, 'decision')!, decided_at: iso(d.created_at) })),
      actions: actionsOf(row.id).map(toAction),
      timeline: mergeByTime(arrivalsOf(row.id).map(toArrival), timelineOf(row.id).map(toTimelineEntry), TIMELINE_LIMIT),
      ...(parts.indicators ? { indicators: indicatorsOf(row.id).map((i) => ({ type: i.type as ObservableType, value: i.value })) } : {}),
    });
  }
}

/**
 * The alerts of each incident's digest (coveringAlertIds), each incident's in arrival order. An incident
 * without a digest (written outside ingest) gets its oldest alerts instead.
 */
async function coveringAlerts<R extends { id: string; incident_id: string | null }>(
  db: Db,
  digests: ReadonlyMap<string, IncidentDigest | undefined>,
  select: () => SelectQueryBuilder<Database, 'alerts', R>,
  limit: number,
): Promise<R[]> {
  const ids = [...digests.values()].flatMap((d) => (d ? coveringAlertIds(d) : []));
  const rows: Array<R & { seq: number | null }> = [];
  for (const chunk of pow2ChunksOf(ids, DETAIL_CHUNK)) rows.push(...((await select().select('seq').where('id', 'in', chunk).execute()) as Array<R & { seq: number | null }>));
  rows.sort((a, b) => (a.incident_id! < b.incident_id! ? -1 : a.incident_id! > b.incident_id! ? 1 : Number(a.seq) - Number(b.seq) || (a.id < b.id ? -1 : 1)));
  const without = [...digests].filter(([, d]) => !d).map(([id]) => id);
  if (without.length) rows.push(...((await limitedPerIncident(db, ['alerts'], without, limit, (some, l) => oldestAlerts(select(), some, l).execute())) as typeof rows));
  return rows;
}

/** The alerts of these incidents, each incident's oldest first, at most `limit` (one incident's read). */
function oldestAlerts<O>(q: SelectQueryBuilder<Database, 'alerts', O>, incidentIds: string[], limit: number | undefined): SelectQueryBuilder<Database, 'alerts', O> {
  return q
    .where('incident_id', 'in', incidentIds)
    .$if(incidentIds.length > 1, (qb) => qb.orderBy('incident_id'))
    .orderBy('time')
    .orderBy('id')
    .$if(limit !== undefined, (qb) => qb.limit(limit!));
}

/**
 * Rows of a per-incident list capped at `limit` per incident (oldest first). The incidents within the cap —
 * nearly all — are read with one query; the few over it (their rows in `tables` counted on the incident
 * index: at least as many as the list has) one by one with LIMIT, so a huge incident costs what it always
 * did and no more.
 */
async function limitedPerIncident<R>(
  db: Db,
  tables: ReadonlyArray<'alerts' | 'timeline' | 'incident_observables' | 'observation_log'>,
  ids: string[],
  limit: number,
  read: (ids: string[], limit?: number) => Promise<R[]>,
): Promise<R[]> {
  if (ids.length === 1) return read(ids, limit);
  const counts = new Map<string, number>();
  for (const table of tables) {
    const rows = await db
      .selectFrom(table)
      .select(['incident_id', (eb) => eb.fn.countAll<number>().as('n')])
      .where('incident_id', 'in', ids)
      .groupBy('incident_id')
      .execute();
    for (const r of rows) if (r.incident_id !== null) counts.set(r.incident_id, (counts.get(r.incident_id) ?? 0) + Number(r.n));
  }
  const big = new Set([...counts].flatMap(([id, n]) => (n > limit ? [id] : [])));
  const small = ids.filter((id) => !big.has(id));
  const rows = small.length ? await read(small) : [];
  for (const id of big) if (id !== null) rows.push(...(await read([id], limit)));
  return rows;
}

/**
 * Alerts stored since migration 0004 keep no copy of the raw text: it is their intake record's. Sets each
 * alert's raw text and its record's raw_base64 (toAlert shows how it was received).
 */
async function fillRaw(db: Db, alerts: Array<{ raw?: string; intake_id?: string; raw_base64?: string | null }>): Promise<void> {
  const wanted = [...new Set(alerts.flatMap((a) => (a.intake_id ? [a.intake_id] : [])))];
  const records = new Map<string, { raw: string; raw_base64: string | null }>();
  for (const chunk of pow2ChunksOf(wanted, DETAIL_CHUNK)) {
    for (const r of await db.selectFrom('intake').select(['id', 'raw', 'raw_base64']).where('id', 'in', chunk).execute()) records.set(r.id, r);
  }
  for (const a of alerts) {
    const record = a.intake_id ? records.get(a.intake_id) : undefined;
    if (a.raw === '') a.raw = record?.raw ?? '';
    a.raw_base64 = record?.raw_base64 ?? null;
  }
}

function memoIso(): (ms: number) => string {
  const seen = new Map<number, string>();
  return (ms) => {
    let s = seen.get(ms);
    if (s === undefined) seen.set(ms, (s = iso(ms)));
    return s;
  };
}

function toEnrichment(e: EnrichmentTable, isoOf: (ms: number) => string): IncidentDetail['enrichment'][number] {
  const subject = { type: e.subject_type as ObservableType, value: e.subject_value };
  if (e.error) return { provider: e.provider, subject, fetched_at: isoOf(e.fetched_at), error: e.error };
  const en: Enrichment = {
    provider: e.provider,
    subject,
    data: parseStored<Record<string, unknown>>(e.data, 'enrichment') ?? {},
    found: e.found === 1,
    fetched_at: isoOf(e.fetched_at),
    // How it was obtained when stored; answers stored before migration 0015 did not say (read as a hit).
    cache: e.cache === 'miss' || e.cache === 'coalesced' ? e.cache : 'hit',
  };
  return en;
}

function toArrival(a: Pick<AlertTable, 'id' | 'time' | 'detector' | 'title' | 'duplicate_of'>): TimelineEntry {
  return a.duplicate_of
    ? { at: iso(Number(a.time)), kind: 'repeat', summary: `repeat of ${a.duplicate_of}: ${a.title}`.slice(0, 1000), alert_id: a.id }
    : { at: iso(Number(a.time)), kind: 'alert', summary: `${a.detector}: ${a.title}`.slice(0, 1000), alert_id: a.id };
}

/** Two lists in time order merged into one (the first wins ties), at most `limit` long. */
function mergeByTime(a: readonly TimelineEntry[], b: readonly TimelineEntry[], limit: number): TimelineEntry[] {
  const out: TimelineEntry[] = [];
  let i = 0;
  let j = 0;
  while (out.length < limit && (i < a.length || j < b.length)) {
    if (j >= b.length || (i < a.length && a[i]!.at <= b[j]!.at)) out.push(a[i++]!);
    else out.push(b[j++]!);
  }
  return out;
}

function toTimelineEntry(t: Selectable<TimelineTable>): TimelineEntry {
  return {
    at: iso(t.at),
    kind: t.kind as TimelineEntry['kind'],
    summary: t.summary,
    ...(t.alert_id ? { alert_id: t.alert_id } : {}),
    ...(t.action_id ? { action_id: t.action_id } : {}),
  };
}

/** Per-incident values the stages write (score and decision; correlate's counters and times). */
export type IncidentUpdate = RowUpdate<'incidents'>;

/**
 * Sets each incident's own values, and `updated_at` on all, with one statement per chunk (update-rows.ts).
 * Ids must be distinct. A column only some updates carry keeps its value on the others.
 */
export async function updateIncidents(db: Db, updates: readonly IncidentUpdate[], updatedAt: number): Promise<void> {
  await updateRows(db, 'incidents', updates, { updated_at: updatedAt });
}

export async function addTimeline(
  db: Db,
  entries: ReadonlyArray<{ incident_id: string; at: number; kind: TimelineEntry['kind']; summary: string; alert_id?: string | null; action_id?: string | null }>,
): Promise<void> {
  const rows = entries.map((e) => ({ ...e, summary: e.summary.slice(0, 1000) }));
  await insertRows(db, 'timeline', ['incident_id', 'at', 'kind', 'summary', 'alert_id', 'action_id'], rows);
}
