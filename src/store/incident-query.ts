/**
 * The analyst's incident queue (issue 18): filters, a sort, keyset paging that is stable for each sort, and a
 * total count. Every filter is answered from an index kept by migration 0021 (or others):
 *
 *   sort            (sort key, id) indexes, walked backwards: a page reads `limit` entries past the cursor,
 *                   then the rows of those ids alone;
 *   status          incidents (status, score key, id): one range per status, merged (the open queue);
 *   host / user     lower(host) / lower(user_name), exact and case-insensitive;
 *   indicator       incident_observables (type, value, …): a value without a type is looked up under every
 *                   type (an IN list on the index's first column), not by a scan;
 *   detector/source incident_facets (migration 0023), one row per incident and detector (source) of its
 *                   alerts: a rare value's incidents from its (facet, value, incident_id) index, a common
 *                   one's checked by a seek on the primary key per incident walked (facetFilter);
 *   assignee / tag  migration 0020's incidents (assignee) and incident_tags (tag); the unassigned have a
 *                   partial index of their own (status, score key, id);
 *   q               free text over title, host and user, a substring (LIKE): no b-tree serves it. SQLite scans
 *                   a covering index of the three columns; PostgreSQL uses a pg_trgm index where the
 *                   extension could be installed, and scans the incidents where not.
 *
 * The total is exact up to COUNT_CAP and reported as "at least" past it: counting every match of a broad
 * filter over a large store costs a scan of all of them, for a number nobody reads exactly.
 * Indicators still in observation_log (ingest behind, in a burst) are found once folded in.
 */
import { sql, type RawBuilder, type Selectable, type SqlBool } from 'kysely';
import type { Db, Store } from './store.js';
import type { DialectName } from './dialect.js';
import type { IncidentTable, IncidentWorkflowColumns } from './schema.js';
import { FidoError } from '../errors.js';
import { INCIDENT_STATUSES, VERDICTS, type IncidentStatus, type Verdict } from '../model/incident.js';
import { OBSERVABLE_TYPES, isObservableType } from '../model/observable.js';
import { normalizeObservables } from '../detectors/lib/observables.js';

export const INCIDENT_SORTS = ['score', 'last_seen', 'first_seen', 'alert_count'] as const;
export type IncidentSort = (typeof INCIDENT_SORTS)[number];

/** Largest page. */
export const MAX_LIMIT = 200;
/** Matches counted exactly; past it the total says "at least this many" (total_exact false). */
export const COUNT_CAP = 10_000;

export interface IncidentFilter {
  /** Any of these statuses. */
  status?: readonly IncidentStatus[];
  minScore?: number;
  maxScore?: number;
  detector?: string;
  source?: string;
  /** Exact, case-insensitive. */
  host?: string;
  user?: string;
  /** "type:value" (the value normalised as ingest stores it) or a bare value (any type). */
  indicator?: string;
  /** A name, or null: unassigned. */
  assignee?: string | null;
  tag?: string;
  /** Substring of title, host or user, case-insensitive; % and _ are literal. */
  q?: string;
  /** A verdict, or null: none yet. */
  verdict?: Verdict | null;
  /** last_seen ≥ since and < until (epoch ms). */
  since?: number;
  until?: number;
}

export interface IncidentQuery extends IncidentFilter {
  /** Default `score` (highest first); every sort is descending, ties by id (newest first). */
  sort?: IncidentSort;
  /** 1…MAX_LIMIT, default 50. */
  limit?: number;
  /** next_cursor of the previous page (same sort). */
  cursor?: string;
  /** For tests and the bench: the count cap (default COUNT_CAP). */
  countCap?: number;
  /** For tests: where a detector or source filter changes plan (default FEW_INCIDENTS). */
  fewIncidents?: number;
}

/** An incident row as the queue reads it (every column, migration 0020's included). */
export type QueueRow = Selectable<IncidentTable> & Partial<IncidentWorkflowColumns>;

export interface IncidentPage {
  rows: QueueRow[];
  next_cursor: string | null;
  /** Matches of the filter (all pages); a lower bound when total_exact is false. */
  total: number;
  total_exact: boolean;
}

/** The sort key of each sort, as an expression the indexes of migration 0021 are built on (verbatim). */
const SORT_KEY: Record<IncidentSort, RawBuilder<number>> = {
  // Not yet scored sorts last; coalesce keeps that the same in both stores (PostgreSQL puts nulls first in desc).
  score: sql<number>`coalesce("score_total", -1)`,
  last_seen: sql<number>`"last_seen"`,
  first_seen: sql<number>`"first_seen"`,
  alert_count: sql<number>`"alert_count"`,
};

const ULID = /^[0-9A-HJKMNP-TV-Z]{26}$/;

function bad(message: string): FidoError {
  return new FidoError('bad_request', message);
}

/** Opaque cursor: the sort, and the last row's sort key and id. */
export function encodeCursor(sort: IncidentSort, key: number, id: string): string {
  return Buffer.from(JSON.stringify([sort, key, id]), 'utf8').toString('base64url');
}

export function decodeCursor(cursor: string, sort: IncidentSort): { key: number; id: string } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw bad('cursor: not a cursor this list gave');
  }
  if (!Array.isArray(parsed) || parsed.length !== 3) throw bad('cursor: not a cursor this list gave');
  const [s, key, id] = parsed as unknown[];
  if (s !== sort) throw bad(`cursor: made for sort "${String(s)}", this request sorts by "${sort}"`);
  if (typeof key !== 'number' || !Number.isFinite(key) || typeof id !== 'string' || !ULID.test(id)) throw bad('cursor: not a cursor this list gave');
  return { key, id };
}

/** LIKE pattern for a search text: its %, _ and \ are literal (used with `escape '\'`). */
export function likePattern(q: string): string {
  return `%${q.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

/** The indicator filter as (types, values) pairs to look up: a typed value normalised, a bare one as given and lower-cased. */
export function indicatorLookup(indicator: string): { types: readonly string[]; values: string[] } {
  const colon = indicator.indexOf(':');
  const type = colon > 0 ? indicator.slice(0, colon).toLowerCase() : '';
  if (isObservableType(type)) {
    const value = indicator.slice(colon + 1);
    const [o] = normalizeObservables([{ type, value, role: 'other' }]);
    if (!o) throw bad(`indicator: "${value.slice(0, 100)}" is not a valid ${type}`);
    return { types: [o.type], values: [o.value] };
  }
  const values = [...new Set([indicator, indicator.toLowerCase()])];
  return { types: OBSERVABLE_TYPES, values };
}

/** Checks values a caller built by hand (the API validates its query string before). */
function checkQuery(q: IncidentQuery): void {
  for (const s of q.status ?? []) if (!(INCIDENT_STATUSES as readonly string[]).includes(s)) throw bad(`status: "${s}" is not one of ${INCIDENT_STATUSES.join(', ')}`);
  if (q.verdict != null && !(VERDICTS as readonly string[]).includes(q.verdict)) throw bad(`verdict: "${q.verdict}" is not one of ${VERDICTS.join(', ')}, none`);
  if (q.sort !== undefined && !(INCIDENT_SORTS as readonly string[]).includes(q.sort)) throw bad(`sort: "${q.sort}" is not one of ${INCIDENT_SORTS.join(', ')}`);
  if (q.limit !== undefined && (!Number.isInteger(q.limit) || q.limit < 1 || q.limit > MAX_LIMIT)) throw bad(`limit: must be an integer from 1 to ${MAX_LIMIT}`);
  for (const [name, v] of [['min_score', q.minScore], ['max_score', q.maxScore], ['since', q.since], ['until', q.until]] as const) {
    if (v !== undefined && !Number.isFinite(v)) throw bad(`${name}: must be a number`);
  }
  if (q.minScore !== undefined && q.maxScore !== undefined && q.minScore > q.maxScore) throw bad('min_score: greater than max_score');
  for (const [name, v] of [['detector', q.detector], ['source', q.source], ['host', q.host], ['user', q.user], ['indicator', q.indicator], ['tag', q.tag], ['q', q.q]] as const) {
    if (v !== undefined && v.length === 0) throw bad(`${name}: empty`);
  }
}

/**
 * Incidents with this detector (source) up to which the filter starts from incident_facets' (facet, value,
 * incident_id) index (the matching incidents' ids, then their rows); past it, the incidents are walked in
 * the list's order and each checked on the facets' primary key (a seek), which finds a page after a few
 * rows when the value is common. (The 20,000 alerts the alerts-index plan switched at, at ~10 alerts per
 * incident; bench/queue.ts's rare values, ~170 incidents, take the first plan, its common ones the second.)
 */
const FEW_INCIDENTS = 2_000;

/** Where a detector or source filter starts: from its incidents' facet rows when they are few, else from the incidents. */
async function facetFilter(db: Db, facet: 'detector' | 'source', value: string, few: number): Promise<RawBuilder<SqlBool>> {
  const r = await sql<{ n: number }>`select count(*) as n from (select 1 from "incident_facets" where "facet" = ${facet} and "value" = ${value} limit ${few + 1}) f`.execute(db);
  return Number(r.rows[0]?.n ?? 0) <= few
    ? sql<SqlBool>`"id" in (select "incident_id" from "incident_facets" where "facet" = ${facet} and "value" = ${value})`
    : sql<SqlBool>`exists (select 1 from "incident_facets" where "incident_id" = "incidents"."id" and "facet" = ${facet} and "value" = ${value})`;
}

/** The filter's conditions on `incidents` (status apart: the page query takes one status at a time). */
async function conditions(db: Db, dialect: DialectName, f: IncidentFilter, few: number): Promise<Array<RawBuilder<SqlBool>>> {
  const c: Array<RawBuilder<SqlBool>> = [];
  if (f.minScore !== undefined) c.push(sql<SqlBool>`coalesce("score_total", -1) >= ${f.minScore}`);
  if (f.maxScore !== undefined) c.push(sql<SqlBool>`coalesce("score_total", -1) <= ${f.maxScore}`);
  if (f.since !== undefined) c.push(sql<SqlBool>`"last_seen" >= ${f.since}`);
  if (f.until !== undefined) c.push(sql<SqlBool>`"last_seen" < ${f.until}`);
  if (f.verdict !== undefined) c.push(f.verdict === null ? sql<SqlBool>`"verdict" is null` : sql<SqlBool>`"verdict" = ${f.verdict}`);
  if (f.host !== undefined) c.push(sql<SqlBool>`lower("host") = ${f.host.toLowerCase()}`);
  if (f.user !== undefined) c.push(sql<SqlBool>`lower("user_name") = ${f.user.toLowerCase()}`);
  // A literal `is null`: only then can SQLite use the partial index of the unassigned (incidents_q_unassigned).
  if (f.assignee !== undefined) c.push(f.assignee === null ? sql<SqlBool>`"assignee" is null` : sql<SqlBool>`"assignee" = ${f.assignee}`);
  if (f.detector !== undefined) c.push(await facetFilter(db, 'detector', f.detector, few));
  if (f.source !== undefined) c.push(await facetFilter(db, 'source', f.source, few));
  if (f.tag !== undefined) c.push(sql<SqlBool>`"id" in (select "incident_id" from "incident_tags" where "tag" = ${f.tag})`);
  if (f.indicator !== undefined) {
    const { types, values } = indicatorLookup(f.indicator);
    c.push(sql<SqlBool>`"id" in (select "incident_id" from "incident_observables" where "type" in (${sql.join(types)}) and "value" in (${sql.join(values)}))`);
  }
  if (f.q !== undefined) {
    const p = likePattern(f.q);
    if (dialect === 'sqlite') {
      // A scan of the covering index incidents_q_text (SQLite's LIKE ignores ASCII case, as its lower() folds
      // only ASCII); the ids it finds, then their rows.
      c.push(sql<SqlBool>`"id" in (select "id" from "incidents" where "title" like ${p} escape '\\' or "host" like ${p} escape '\\' or "user_name" like ${p} escape '\\')`);
    } else {
      // The trigram index incidents_q_trgm where pg_trgm could be installed, a scan otherwise.
      c.push(sql<SqlBool>`(lower("title") like ${p} escape '\\' or lower("host") like ${p} escape '\\' or lower("user_name") like ${p} escape '\\')`);
    }
  }
  return c;
}

const statusIs = (statuses: readonly string[]) => sql<SqlBool>`"status" in (${sql.join(statuses)})`;

/** Where the store is: its queries and its dialect. */
export type QueryStore = Pick<Store, 'db' | 'dialect'>;

/** One page of the queue and the total. Throws FidoError bad_request on invalid values or a foreign cursor. */
export async function queryIncidents(store: QueryStore, q: IncidentQuery): Promise<IncidentPage> {
  checkQuery(q);
  const db = store.db;
  const sort = q.sort ?? 'score';
  const limit = q.limit ?? 50;
  const key = SORT_KEY[sort];
  const where = await conditions(db, store.dialect, q, q.fewIncidents ?? FEW_INCIDENTS);
  const statuses = [...new Set(q.status ?? [])];
  const after = q.cursor === undefined ? undefined : decodeCursor(q.cursor, sort);
  const pageWhere = after ? [...where, sql<SqlBool>`(${key} < ${after.key} or (${key} = ${after.key} and "id" < ${after.id}))`] : where;
  // The page's ids first, then their rows: the ids come from indexes alone wherever the filter allows (the
  // sort's index and the filters' probes), so only the rows shown are read, not every row walked past.
  const ids = (w: Array<RawBuilder<SqlBool>>) =>
    db
      .selectFrom('incidents')
      .select('id')
      .$if(w.length > 0, (qb) => qb.where((eb) => eb.and(w)))
      .orderBy(key, 'desc')
      .orderBy('id', 'desc')
      .limit(limit + 1);
  let pageIds;
  if (statuses.length <= 1) {
    pageIds = ids(statuses.length ? [statusIs(statuses), ...pageWhere] : pageWhere);
  } else {
    // Each status's page from its own (status, key, id) range: an IN list over the index would sort every
    // match of all of them first.
    const [first, ...rest] = statuses.map((s) => db.selectFrom(ids([statusIs([s]), ...pageWhere]).as('p')).select('id'));
    pageIds = first!;
    for (const r of rest) pageIds = pageIds.unionAll(r);
  }
  const rows: Array<QueueRow & { sort_key: number }> = await db
    .selectFrom('incidents')
    .selectAll()
    .select(key.as('sort_key'))
    .where('id', 'in', pageIds)
    .orderBy(key, 'desc')
    .orderBy('id', 'desc')
    .limit(limit + 1)
    .execute();
  const page = rows.slice(0, limit);
  const last = page[page.length - 1];
  const { total, exact } = await countIncidents(db, statuses.length ? [statusIs(statuses), ...where] : where, q.countCap ?? COUNT_CAP);
  return {
    rows: page.map(({ sort_key: _k, ...row }) => row as QueueRow),
    next_cursor: rows.length > limit && last ? encodeCursor(sort, Number(last.sort_key), last.id) : null,
    total,
    total_exact: exact,
  };
}

/** Matches of the filter, counted up to `cap` + 1 (past the cap: at least `cap`, inexact). */
async function countIncidents(db: Db, where: Array<RawBuilder<SqlBool>>, cap: number): Promise<{ total: number; exact: boolean }> {
  const inner = db
    .selectFrom('incidents')
    .select(sql`1`.as('one'))
    .$if(where.length > 0, (qb) => qb.where((eb) => eb.and(where)))
    .limit(cap + 1);
  const r = await db.selectFrom(inner.as('m')).select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
  const n = Number(r.n);
  return n > cap ? { total: cap, exact: false } : { total: n, exact: true };
}
