/**
 * What analysts do to incidents (issue 18): change status, assignee, tags and severity override; write notes;
 * record verdicts (one or in bulk, through the same function); merge incidents. Each change is on the
 * incident's timeline and in the audit log with who made it, in the caller's transaction.
 */
import { CORRELATION_LOCK } from './locks.js';
import type { Selectable } from 'kysely';
import type { Db, Tx } from './store.js';
import type { DialectName } from './dialect.js';
import type { Database } from './schema.js';
import type { Incident, IncidentNote, IncidentStatus, Verdict } from '../model/incident.js';
import type { ObservableType } from '../model/observable.js';
import { addTimeline, toIncident } from './incidents.js';
import { audit } from './audit.js';
import { insertRows } from './insert-rows.js';
import { enqueue } from './queue.js';
import { incidentObservations } from './observations.js';
import { foldAlert, emptyDigest, writeDigest } from '../correlate/digest.js';
import { closeOnVerdict } from '../actions/follow.js';
import { undoOnVerdict } from '../actions/undo.js';
import { FidoError } from '../errors.js';
import { parseStored } from '../util/json.js';
import { iso } from '../util/time.js';
import { ulid } from '../util/ulid.js';
import { sql } from 'kysely';

/** Tags per incident, at most. */
export const MAX_TAGS = 50;

type IncidentRow = Selectable<Database['incidents']>;

/** An incident as the workflow routes answer: with its tags. */
export type WorkflowIncident = Incident & { tags: string[] };

/** Thrown when If-Match names another version than the stored one (the API answers 412). */
export class StaleIncident extends Error {
  constructor(readonly current: string) {
    super(`the incident was changed meanwhile (updated_at is now ${current}); read it again and retry`);
  }
}

export async function tagsOf(db: Db, id: string): Promise<string[]> {
  const rows = await db.selectFrom('incident_tags').select('tag').where('incident_id', '=', id).orderBy('tag').execute();
  return rows.map((r) => r.tag);
}

/** What a list of incidents shows beside each row: its tags, detectors and sources (two indexed reads per page). */
export async function labelsOf(db: Db, ids: readonly string[]): Promise<Map<string, { tags: string[]; detectors: string[]; sources: string[] }>> {
  const out = new Map(ids.map((id) => [id, { tags: [] as string[], detectors: [] as string[], sources: [] as string[] }]));
  if (ids.length === 0) return out;
  const tags = await db.selectFrom('incident_tags').select(['incident_id', 'tag']).where('incident_id', 'in', ids).orderBy('tag').execute();
  for (const t of tags) out.get(t.incident_id)?.tags.push(t.tag);
  const facets = await db.selectFrom('incident_facets').select(['incident_id', 'facet', 'value']).where('incident_id', 'in', ids).orderBy('value').execute();
  for (const f of facets) out.get(f.incident_id)?.[f.facet === 'detector' ? 'detectors' : 'sources'].push(f.value);
  return out;
}

export async function workflowIncident(db: Db, row: IncidentRow): Promise<WorkflowIncident> {
  return { ...toIncident(row), tags: await tagsOf(db, row.id) };
}

async function incidentRow(tx: Db, id: string): Promise<IncidentRow> {
  const row = await tx.selectFrom('incidents').selectAll().where('id', '=', id).executeTakeFirst();
  if (!row) throw new FidoError('not_found', `no incident ${id}`);
  return row;
}

/** What PATCH /incidents/{id} and bulk `set` change; absent keys are left as they are. */
export interface IncidentPatch {
  status?: IncidentStatus;
  /** null: unassigned. */
  assignee?: string | null;
  /** Tags to add and to remove (a tag in both is removed); added tags already there and removed ones absent are no-ops. */
  tags?: { add?: readonly string[]; remove?: readonly string[] };
  /** 0–100; null: back to the computed severity. */
  severity_override?: number | null;
}

/**
 * Applies `patch` to incident `id` as `actor`. With `expected` (the If-Match: the incident's updated_at, ms),
 * a stored incident of another version is refused (StaleIncident). Only what actually changes is written, on
 * the timeline (a status change as `status`, the rest as one `updated` entry) and audited; updated_at moves
 * when anything does. Throws not_found, or bad_request past MAX_TAGS.
 */
export async function updateIncident(tx: Tx, id: string, patch: IncidentPatch, actor: string, now: number, expected?: number): Promise<IncidentRow> {
  const row = await incidentRow(tx, id);
  if (expected !== undefined && Number(row.updated_at) !== expected) throw new StaleIncident(iso(Number(row.updated_at)));
  const set: { status?: string; assignee?: string | null; severity_override?: number | null } = {};
  const changes: Record<string, unknown> = {};
  const said: string[] = [];
  if (patch.status !== undefined && patch.status !== row.status) {
    set.status = patch.status;
    changes.status = { from: row.status, to: patch.status };
  }
  if (patch.assignee !== undefined && patch.assignee !== row.assignee) {
    set.assignee = patch.assignee;
    changes.assignee = { from: row.assignee, to: patch.assignee };
    said.push(patch.assignee === null ? 'unassigned' : `assigned to ${patch.assignee}`);
  }
  if (patch.severity_override !== undefined && patch.severity_override !== row.severity_override) {
    set.severity_override = patch.severity_override;
    changes.severity_override = { from: row.severity_override, to: patch.severity_override };
    said.push(patch.severity_override === null ? 'severity override cleared' : `severity set to ${patch.severity_override}`);
  }
  let tagChange: { added: string[]; removed: string[] } | undefined;
  if (patch.tags) {
    const have = new Set(await tagsOf(tx, id));
    const remove = new Set(patch.tags.remove ?? []);
    const added = [...new Set(patch.tags.add ?? [])].filter((t) => !have.has(t) && !remove.has(t));
    const removed = [...remove].filter((t) => have.has(t));
    if (have.size + added.length - removed.length > MAX_TAGS) {
      throw new FidoError('bad_request', `an incident has at most ${MAX_TAGS} tags; this would make ${have.size + added.length - removed.length}`);
    }
    if (added.length || removed.length) {
      tagChange = { added, removed };
      changes.tags = tagChange;
      said.push(['tags', ...added.map((t) => `+${t}`), ...removed.map((t) => `-${t}`)].join(' '));
    }
  }
  if (Object.keys(changes).length === 0) return row;
  // Compare-and-set on updated_at: a change made meanwhile (another analyst, the pipeline) is not overwritten blindly.
  const updated = await tx
    .updateTable('incidents')
    // Strictly later than the version read, so that If-Match tells two changes in one millisecond apart.
    .set({ ...set, updated_at: Math.max(now, Number(row.updated_at) + 1) })
    .where('id', '=', id)
    .where('updated_at', '=', row.updated_at)
    .returningAll()
    .executeTakeFirst();
  if (!updated) throw new FidoError('conflict', `incident ${id} was changed meanwhile; read it again and retry`);
  if (tagChange) {
    await insertRows(tx, 'incident_tags', ['incident_id', 'tag'], tagChange.added.map((tag) => ({ incident_id: id, tag })), { onConflict: 'on conflict do nothing' });
    if (tagChange.removed.length) await tx.deleteFrom('incident_tags').where('incident_id', '=', id).where('tag', 'in', tagChange.removed).execute();
  }
  const timeline: Array<{ incident_id: string; at: number; kind: 'status' | 'updated'; summary: string }> = [];
  if (set.status) timeline.push({ incident_id: id, at: now, kind: 'status', summary: `${actor}: status ${row.status} → ${set.status}` });
  if (said.length) timeline.push({ incident_id: id, at: now, kind: 'updated', summary: `${actor}: ${said.join('; ')}` });
  await addTimeline(tx, timeline);
  await audit(tx, actor, 'incident.update', id, changes);
  return updated;
}

/** A verdict as POST /incidents/{id}/verdict and bulk verdicts take it. */
export interface VerdictInput {
  verdict: Verdict;
  /** Default: triaged for a true positive, closed otherwise. */
  status?: IncidentStatus;
  note?: string;
}

/**
 * Records a verdict in the caller's transaction: the incident's verdict and status, the timeline, the audit
 * log, the note (as a note row too), and the verdict's consequences — a false positive undoes what can be
 * undone (undoOnVerdict), tickets and pages opened about it are closed (closeOnVerdict). Returns the updated
 * row, or null for an unknown incident. The caller runs ApiContext.onVerdict after the commit.
 */
export async function applyVerdict(tx: Tx, id: string, v: VerdictInput, actor: string, now: number): Promise<IncidentRow | null> {
  const status = v.status ?? (v.verdict === 'true_positive' ? 'triaged' : 'closed');
  const r = await tx.updateTable('incidents').set({ verdict: v.verdict, status, updated_at: now }).where('id', '=', id).returningAll().executeTakeFirst();
  if (!r) return null;
  await addTimeline(tx, [{ incident_id: id, at: now, kind: 'verdict', summary: `${actor}: ${v.verdict}, ${status}${v.note ? ` (${v.note.slice(0, 300)})` : ''}` }]);
  await audit(tx, actor, 'incident.verdict', id, { verdict: v.verdict, status, note: v.note ?? null });
  if (v.note) await insertNote(tx, id, actor, v.note, now);
  // A false positive takes back what Fido did about it, in the verdict's transaction (never one without the other).
  await undoOnVerdict(tx, id, v.verdict, actor, now);
  // Tickets and pages opened about it are closed, saying by whom and why.
  await closeOnVerdict(tx, id, { verdict: v.verdict, by: actor, ...(v.note ? { note: v.note } : {}) }, now);
  return r;
}

// ───────────────────────── notes ─────────────────────────

async function insertNote(tx: Db, incidentId: string, author: string, body: string, now: number): Promise<IncidentNote> {
  const id = ulid(now);
  await tx.insertInto('incident_notes').values({ id, incident_id: incidentId, author, body, created_at: now }).execute();
  return { id, incident_id: incidentId, author, body, created_at: iso(now) };
}

/** Adds a note (body kept as given) with its timeline entry and audit row; moves updated_at; throws not_found. */
export async function addNote(tx: Tx, incidentId: string, author: string, body: string, now: number): Promise<IncidentNote> {
  const row = await incidentRow(tx, incidentId);
  const note = await insertNote(tx, incidentId, author, body, now);
  // The incident changed (its timeline grew): the change feed shows it, and an If-Match read before is stale.
  await tx.updateTable('incidents').set({ updated_at: Math.max(now, Number(row.updated_at) + 1) }).where('id', '=', incidentId).execute();
  await addTimeline(tx, [{ incident_id: incidentId, at: now, kind: 'note', summary: `${author}: ${body.slice(0, 300)}` }]);
  // The body is the analyst's text, not a secret, but it can be long: the audit row names the note.
  await audit(tx, author, 'incident.note', incidentId, { note: note.id, length: body.length });
  return note;
}

/** Notes of an incident, newest first; `after` is the last note id of the previous page. */
export async function listNotes(db: Db, incidentId: string, page: { limit: number; after?: string }): Promise<{ items: IncidentNote[]; next_cursor: string | null }> {
  let q = db.selectFrom('incident_notes').selectAll().where('incident_id', '=', incidentId).orderBy('created_at', 'desc').orderBy('id', 'desc').limit(page.limit + 1);
  if (page.after) {
    const from = await db.selectFrom('incident_notes').select(['created_at', 'id']).where('id', '=', page.after).where('incident_id', '=', incidentId).executeTakeFirst();
    if (!from) return { items: [], next_cursor: null };
    q = q.where((eb) => eb.or([eb('created_at', '<', from.created_at), eb.and([eb('created_at', '=', from.created_at), eb('id', '<', from.id)])]));
  }
  const rows = await q.execute();
  const shown = rows.slice(0, page.limit);
  return {
    items: shown.map((n) => ({ id: n.id, incident_id: n.incident_id, author: n.author, body: n.body, created_at: iso(Number(n.created_at)) })),
    next_cursor: rows.length > page.limit ? shown[shown.length - 1]!.id : null,
  };
}

// ───────────────────────── observables ─────────────────────────

export interface IndicatorVerdict {
  provider: string;
  /** Whether the provider knew it (absent on an error). */
  found?: boolean;
  /** The provider's verdict when it gives one (intel providers: malicious, suspicious, harmless). */
  verdict?: string;
  error?: string;
  fetched_at: string;
  age_seconds: number;
}

export interface IncidentIndicator {
  type: ObservableType;
  value: string;
  /** Alerts that carried it, and events counting their repeats. */
  alerts: number;
  events: number;
  first_seen: string;
  last_seen: string;
  enrichment: IndicatorVerdict[];
}

/** The position after an indicator in the order listed: last_seen desc, type, value. */
interface IndicatorCursor {
  l: number;
  t: string;
  v: string;
}

export function indicatorCursor(i: { last_seen: number; type: string; value: string }): string {
  return Buffer.from(JSON.stringify({ l: i.last_seen, t: i.type, v: i.value } satisfies IndicatorCursor)).toString('base64url');
}

function readIndicatorCursor(text: string): IndicatorCursor {
  try {
    const c = JSON.parse(Buffer.from(text, 'base64url').toString('utf8')) as Partial<IndicatorCursor>;
    if (typeof c.l === 'number' && typeof c.t === 'string' && typeof c.v === 'string') return { l: c.l, t: c.t, v: c.v };
  } catch {
    // answered below
  }
  throw new FidoError('bad_request', 'cursor is not a next_cursor of this list');
}

/**
 * An incident's indicators with their sightings (folded and logged, added up) and each provider's answer
 * about them, newest sighting first. `after` is the previous page's next_cursor.
 */
export async function listIndicators(
  db: Db,
  incidentId: string,
  page: { limit: number; after?: string; now: number },
): Promise<{ items: IncidentIndicator[]; next_cursor: string | null }> {
  const c = page.after ? readIndicatorCursor(page.after) : undefined;
  const after = c ? sql`where "last_seen" < ${c.l} or ("last_seen" = ${c.l} and ("type" > ${c.t} or ("type" = ${c.t} and "value" > ${c.v})))` : sql``;
  const { rows } = await sql<{ type: string; value: string; alerts: number; events: number; first_seen: number; last_seen: number }>`
    select "type", "value", "alerts", "events", "first_seen", "last_seen" from ${incidentObservations([incidentId])} o
    ${after} order by "last_seen" desc, "type", "value" limit ${page.limit + 1}`.execute(db);
  const shown = rows.slice(0, page.limit).map((r) => ({ ...r, last_seen: Number(r.last_seen), first_seen: Number(r.first_seen) }));
  const answers = shown.length
    ? await db
        .selectFrom('enrichments')
        .select(['provider', 'subject_type', 'subject_value', 'found', 'data', 'error', 'fetched_at'])
        .where('incident_id', '=', incidentId)
        .where('subject_value', 'in', [...new Set(shown.map((s) => s.value))])
        .orderBy('provider')
        .execute()
    : [];
  const byKey = new Map<string, IndicatorVerdict[]>();
  for (const a of answers) {
    const fetched = Number(a.fetched_at);
    const data = a.error ? undefined : parseStored<Record<string, unknown>>(a.data, 'enrichment');
    const v: IndicatorVerdict = {
      provider: a.provider,
      ...(a.error ? { error: a.error } : { found: a.found === 1 }),
      ...(typeof data?.verdict === 'string' ? { verdict: data.verdict } : {}),
      fetched_at: iso(fetched),
      age_seconds: Math.max(0, Math.floor((page.now - fetched) / 1000)),
    };
    const key = `${a.subject_type}\u0000${a.subject_value}`;
    byKey.set(key, [...(byKey.get(key) ?? []), v]);
  }
  const last = shown[shown.length - 1];
  return {
    items: shown.map((s) => ({
      type: s.type as ObservableType,
      value: s.value,
      alerts: Number(s.alerts),
      events: Number(s.events),
      first_seen: iso(s.first_seen),
      last_seen: iso(s.last_seen),
      enrichment: byKey.get(`${s.type}\u0000${s.value}`) ?? [],
    })),
    next_cursor: rows.length > page.limit && last ? indicatorCursor(last) : null,
  };
}

// ───────────────────────── merge ─────────────────────────


/** Incidents merged into one at a time, at most. */
export const MAX_MERGE = 50;
const ALERT_PAGE = 1000;

/**
 * Merges incidents `from` into `into`, in the caller's transaction: their alerts, indicators (counts added
 * up), enrichment answers, timeline, notes, tags, detector and source facets and actions move to `into`; the
 * grouping keys' log maps their keys to `into` (what a worker that reads the log back correlates by); each
 * of them is closed with
 * `merged_into` and a note saying so. `into` gets its counts, times and digest again and is queued to be
 * enriched, scored and decided again. Throws not_found (an unknown id), bad_request (`into` among `from`),
 * conflict (an incident already merged).
 */
export async function mergeIncidents(tx: Tx, dialect: DialectName, into: string, from: readonly string[], actor: string, now: number): Promise<IncidentRow> {
  // Ingest's correlation lock (pipeline/ingest/index.ts CORRELATION_LOCK): no batch places alerts in these
  // incidents or logs their indicators while they move. SQLite has one writer at a time.
  if (dialect === 'postgres') await sql`select pg_advisory_xact_lock(${CORRELATION_LOCK})`.execute(tx);
  const ids = [...new Set(from)];
  if (ids.includes(into)) throw new FidoError('bad_request', `an incident cannot be merged into itself (${into} is in from)`);
  const target = await incidentRow(tx, into);
  if (target.merged_into) throw new FidoError('conflict', `incident ${into} was merged into ${target.merged_into}; merge into that one`);
  const rows = await tx.selectFrom('incidents').selectAll().where('id', 'in', ids).execute();
  const missing = ids.filter((id) => !rows.some((r) => r.id === id));
  if (missing.length) throw new FidoError('not_found', `no incident ${missing.join(', ')}`);
  const merged = rows.find((r) => r.merged_into);
  if (merged) throw new FidoError('conflict', `incident ${merged.id} was already merged into ${merged.merged_into}`);

  await tx.updateTable('alerts').set({ incident_id: into }).where('incident_id', 'in', ids).execute();
  await moveObservations(tx, into, ids);
  // Answers about the same subject: the survivor's own are kept (it is enriched again below anyway).
  await tx
    .deleteFrom('enrichments')
    .where('incident_id', 'in', ids)
    .where(({ exists, selectFrom }) =>
      exists(
        selectFrom('enrichments as s')
          .select('s.provider')
          .where('s.incident_id', '=', into)
          .whereRef('s.provider', '=', 'enrichments.provider')
          .whereRef('s.subject_type', '=', 'enrichments.subject_type')
          .whereRef('s.subject_value', '=', 'enrichments.subject_value'),
      ),
    )
    .execute();
  await tx.updateTable('enrichments').set({ incident_id: into }).where('incident_id', 'in', ids).execute();
  for (const table of ['timeline', 'incident_notes', 'actions', 'incident_key_log'] as const) {
    await tx.updateTable(table).set({ incident_id: into }).where('incident_id', 'in', ids).execute();
  }
  const tags = await tx.selectFrom('incident_tags').select('tag').distinct().where('incident_id', 'in', ids).execute();
  await insertRows(tx, 'incident_tags', ['incident_id', 'tag'], tags.map((t) => ({ incident_id: into, tag: t.tag })), { onConflict: 'on conflict do nothing' });
  await tx.deleteFrom('incident_tags').where('incident_id', 'in', ids).execute();
  // The queue's detector and source filters follow the alerts (incident_facets, migration 0023).
  await sql`insert into "incident_facets" ("incident_id", "facet", "value")
    select distinct cast(${into} as text), "facet", "value" from "incident_facets" where "incident_id" in (${sql.join(ids)})
    on conflict do nothing`.execute(tx);
  await tx.deleteFrom('incident_facets').where('incident_id', 'in', ids).execute();

  const all = [target, ...rows];
  const pending = all.flatMap((r) => (r.pending_since === null ? [] : [Number(r.pending_since)]));
  const updated = await tx
    .updateTable('incidents')
    .set({
      alert_count: all.reduce((n, r) => n + r.alert_count, 0),
      first_seen: Math.min(...all.map((r) => Number(r.first_seen))),
      last_seen: Math.max(...all.map((r) => Number(r.last_seen))),
      severity: Math.max(...all.map((r) => r.severity)),
      last_seq: Math.max(...all.map((r) => Number(r.last_seq))),
      // Enrichment asks about indicators newer than this: the least enriched of them bounds what was asked.
      enriched_seq: Math.min(...all.map((r) => Number(r.enriched_seq))),
      pending_since: pending.length ? Math.min(...pending) : null,
      host: target.host ?? rows.find((r) => r.host)?.host ?? null,
      user_name: target.user_name ?? rows.find((r) => r.user_name)?.user_name ?? null,
      digest: await rebuildDigest(tx, into),
      updated_at: now,
    })
    .where('id', '=', into)
    .returningAll()
    .executeTakeFirstOrThrow();
  await tx
    .updateTable('incidents')
    .set({ status: 'closed', merged_into: into, alert_count: 0, pending_since: null, digest: null, updated_at: now })
    .where('id', 'in', ids)
    .execute();
  for (const id of ids) {
    await insertNote(tx, id, actor, `merged into ${into}`, now);
    await addTimeline(tx, [{ incident_id: id, at: now, kind: 'merged', summary: `${actor}: merged into ${into}` }]);
  }
  await addTimeline(tx, [{ incident_id: into, at: now, kind: 'merged', summary: `${actor}: merged ${ids.join(', ')} into this incident`.slice(0, 1000) }]);
  await audit(tx, actor, 'incident.merge', into, { from: ids });
  // Enrich, score and decide again: the merged incident has new alerts, indicators and answers.
  await enqueue(tx, 'enrich', [into], now);
  return updated;
}

/** The indicators of `from` added into `into`'s, both in the folded table and in the log (same key: added up). */
async function moveObservations(tx: Tx, into: string, from: readonly string[]): Promise<void> {
  const add = (c: string) => `"${c}" = incident_observables."${c}" + excluded."${c}"`;
  const least = (t: string, c: string) => `"${c}" = case when excluded."${c}" < ${t}."${c}" then excluded."${c}" else ${t}."${c}" end`;
  const most = (t: string, c: string) => `"${c}" = case when excluded."${c}" > ${t}."${c}" then excluded."${c}" else ${t}."${c}" end`;
  const folded = await tx.selectFrom('incident_observables').selectAll().where('incident_id', 'in', from).execute();
  await tx.deleteFrom('incident_observables').where('incident_id', 'in', from).execute();
  await insertRows(tx, 'incident_observables', OBS_COLUMNS, addUp(folded, into, (r) => `${r.type}\u0000${r.value}`), {
    onConflict: `on conflict ("incident_id", "type", "value") do update set ${add('alerts')}, ${add('events')}, ${least('incident_observables', 'first_seen')}, ${most('incident_observables', 'last_seen')}, ${least('incident_observables', 'first_seq')}`,
  });
  const logged = await tx.selectFrom('observation_log').selectAll().where('incident_id', 'in', from).execute();
  await tx.deleteFrom('observation_log').where('incident_id', 'in', from).execute();
  const addLog = (c: string) => `"${c}" = observation_log."${c}" + excluded."${c}"`;
  await insertRows(tx, 'observation_log', [...OBS_COLUMNS, 'pos'], addUp(logged, into, (r) => `${r.pos}\u0000${r.type}\u0000${r.value}`), {
    onConflict: `on conflict ("incident_id", "pos", "type", "value") do update set ${addLog('alerts')}, ${addLog('events')}, ${least('observation_log', 'first_seen')}, ${most('observation_log', 'last_seen')}, ${least('observation_log', 'first_seq')}`,
  });
}

const OBS_COLUMNS = ['incident_id', 'type', 'value', 'alerts', 'events', 'first_seen', 'last_seen', 'first_seq'] as const;

/** Rows of several incidents as `into`'s, those with the same key added up (one statement cannot upsert a key twice). */
function addUp<R extends { alerts: number; events: number; first_seen: number; last_seen: number; first_seq: number }>(rows: readonly R[], into: string, keyOf: (r: R) => string): R[] {
  const out = new Map<string, R>();
  for (const r of rows) {
    const k = keyOf(r);
    const was = out.get(k);
    out.set(
      k,
      was
        ? {
            ...was,
            alerts: Number(was.alerts) + Number(r.alerts),
            events: Number(was.events) + Number(r.events),
            first_seen: Math.min(Number(was.first_seen), Number(r.first_seen)),
            last_seen: Math.max(Number(was.last_seen), Number(r.last_seen)),
            first_seq: Math.min(Number(was.first_seq), Number(r.first_seq)),
          }
        : { ...r, incident_id: into },
    );
  }
  return [...out.values()];
}

/**
 * The digest of all the incident's alerts (repeats apart), folded in id order: alert ids are ULIDs given at
 * ingest, so that is arrival order as ingest folds them (older alerts may lack `seq`).
 */
async function rebuildDigest(tx: Tx, id: string): Promise<string> {
  const d = emptyDigest();
  let after = '';
  for (;;) {
    const page = await tx
      .selectFrom('alerts')
      .select(['id', 'doc'])
      .where('incident_id', '=', id)
      .where('duplicate_of', 'is', null)
      .where('id', '>', after)
      .orderBy('id')
      .limit(ALERT_PAGE)
      .execute();
    for (const r of page) {
      const doc = parseStored<Parameters<typeof foldAlert>[1]>(r.doc, 'alert');
      if (doc) foldAlert(d, { ...doc, id: r.id });
    }
    if (page.length < ALERT_PAGE) break;
    after = page[page.length - 1]!.id;
  }
  return writeDigest(d);
}
