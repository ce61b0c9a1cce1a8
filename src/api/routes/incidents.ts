/** Incidents: list with filters and cursor paging, detail, and analyst verdicts. */
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { ApiContext } from '../context.js';
import { Cursor, Limit, errors, Query } from '../schemas.js';
import { AlertSchema, IncidentDetailSchema, IncidentSchema } from '../model-schemas.js';
import { INCIDENT_STATUSES, VERDICTS, type IncidentStatus, type Verdict } from '../../model/incident.js';
import { countAlerts, loadIncidentAlerts, loadIncidentDetail, toIncident } from '../../store/incidents.js';
import { applyVerdict, labelsOf } from '../../store/incident-workflow.js';
import { FidoError } from '../../errors.js';
import { INCIDENT_SORTS, MAX_LIMIT, queryIncidents } from '../../store/incident-query.js';

/** Scorings listed in the detail's score history (the newest). */
const SCORE_HISTORY = 200;

/** Alerts in an incident's detail; the rest are paged. */
const DETAIL_ALERTS = 500;
const IdParam = Type.Object({ id: Type.String({ pattern: '^[0-9A-HJKMNP-TV-Z]{26}$' }) });
const Status = Type.Union(INCIDENT_STATUSES.map((s) => Type.Literal(s)));
const VerdictT = Type.Union(VERDICTS.map((s) => Type.Literal(s)));

const SortT = Type.Union(INCIDENT_SORTS.map((s) => Type.Literal(s)));
const Name = (description: string) => Type.Optional(Type.String({ minLength: 1, maxLength: 200, description }));

/** GET /incidents's query string as validated. */
interface QueueQuery {
  status?: IncidentStatus[];
  min_score?: number;
  max_score?: number;
  detector?: string;
  source?: string;
  host?: string;
  user?: string;
  indicator?: string;
  assignee?: string;
  tag?: string;
  q?: string;
  verdict?: Verdict | 'none';
  since?: string;
  until?: string;
  sort?: (typeof INCIDENT_SORTS)[number];
  limit?: number;
  cursor?: string;
}

/** An ISO 8601 time of the query string as epoch ms. */
function queryTime(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const ms = Date.parse(value);
  if (!Number.isFinite(ms)) throw new FidoError('bad_request', `${name}: not an ISO 8601 time: "${value.slice(0, 40)}"`);
  return ms;
}

/** The entries whose value is defined (exactOptionalPropertyTypes: absent, not undefined). */
function definedOnly<T extends Record<string, unknown>>(o: T): { [K in keyof T]?: Exclude<T[K], undefined> } {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as { [K in keyof T]?: Exclude<T[K], undefined> };
}

export default async function incidentRoutes(app: FastifyInstance, { ctx }: { ctx: ApiContext }) {
  const db = ctx.store.db;

  app.get(
    '/incidents',
    {
      config: { role: 'viewer' },
      schema: {
        summary: 'The incident queue: filters, a sort (by default score, highest first), keyset pages and a total',
        querystring: Query({
          status: Type.Optional(Type.Array(Status, { maxItems: INCIDENT_STATUSES.length, description: 'Repeatable: any of these' })),
          min_score: Type.Optional(Type.Number({ minimum: 0, maximum: 100 })),
          max_score: Type.Optional(Type.Number({ minimum: 0, maximum: 100, description: 'Not yet scored incidents count as -1' })),
          detector: Name('Any of its alerts is from this detector'),
          source: Name('Any of its alerts came from this source'),
          host: Name('Its host, exact, case-insensitive'),
          user: Name('Its user, exact, case-insensitive'),
          indicator: Type.Optional(Type.String({ minLength: 1, maxLength: 2048, description: '"type:value" (e.g. ip:203.0.113.7) or a bare value (any type)' })),
          assignee: Name('Who it is assigned to; "none": unassigned'),
          tag: Name('It has this tag'),
          q: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'Substring of title, host or user, case-insensitive' })),
          verdict: Type.Optional(Type.Union([VerdictT, Type.Literal('none')])),
          since: Type.Optional(Type.String({ maxLength: 40, description: 'last_seen at or after this ISO 8601 time' })),
          until: Type.Optional(Type.String({ maxLength: 40, description: 'last_seen before this ISO 8601 time' })),
          sort: Type.Optional(SortT),
          limit: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_LIMIT, default: 50 })),
          cursor: Type.Optional(Type.String({ maxLength: 400, pattern: '^[A-Za-z0-9_-]+$', description: 'next_cursor of the previous page (same sort)' })),
        }),
        response: {
          200: Type.Object({
            items: Type.Array(IncidentSchema),
            next_cursor: Type.Union([Type.String(), Type.Null()]),
            total: Type.Integer({ description: 'Matches on all pages; when total_exact is false, at least this many' }),
            total_exact: Type.Boolean(),
          }),
          ...errors(400, 401, 403),
        },
      },
    },
    async (req) => {
      const p = req.query as QueueQuery;
      const { status, min_score, max_score, assignee, verdict, sort, limit, cursor, since: from, until: to, ...names } = p;
      const since = queryTime('since', from);
      const until = queryTime('until', to);
      const page = await queryIncidents(ctx.store, {
        ...definedOnly(names),
        ...definedOnly({ status, minScore: min_score, maxScore: max_score, since, until, sort, cursor }),
        ...(assignee !== undefined ? { assignee: assignee === 'none' ? null : assignee } : {}),
        ...(verdict !== undefined ? { verdict: verdict === 'none' ? null : verdict } : {}),
        limit: limit ?? 50,
      });
      const labels = await labelsOf(db, page.rows.map((r) => r.id));
      const items = page.rows.map((r) => ({ ...toIncident(r), ...labels.get(r.id) }));
      return { items, next_cursor: page.next_cursor, total: page.total, total_exact: page.total_exact };
    },
  );

  app.get(
    '/incidents/:id',
    {
      config: { role: 'viewer' },
      schema: {
        summary: 'One incident with its alerts, enrichment, score explanation, decisions, actions and timeline',
        params: IdParam,
        response: { 200: IncidentDetailSchema, ...errors(400, 401, 403, 404) },
      },
    },
    async (req) => {
      const { id } = req.params as { id: string };
      const detail = await loadIncidentDetail(db, id, { alertLimit: DETAIL_ALERTS, assets: ctx.assets });
      if (!detail) throw new FidoError('not_found', `no incident ${id}`);
      // `alerts` holds the oldest DETAIL_ALERTS; the rest are paged through /incidents/{id}/alerts.
      const total = detail.alerts.length < DETAIL_ALERTS ? detail.alerts.length : await countAlerts(db, id);
      const last = detail.alerts[detail.alerts.length - 1];
      const labels = (await labelsOf(db, [id])).get(id);
      const scored = await db.selectFrom('scores').select(['total', 'created_at']).where('incident_id', '=', id).orderBy('id', 'desc').limit(SCORE_HISTORY).execute();
      const score_history = scored.reverse().map((r) => ({ at: new Date(Number(r.created_at)).toISOString(), total: Number(r.total) }));
      return { ...detail, ...labels, score_history, alerts_total: total, alerts_next: total > detail.alerts.length && last ? last.id : null };
    },
  );

  app.get(
    '/incidents/:id/alerts',
    {
      config: { role: 'viewer' },
      schema: {
        summary: "Page through an incident's alerts (repeats included), oldest first",
        params: IdParam,
        querystring: Query({ limit: Limit, cursor: Cursor }),
        response: {
          200: Type.Object({ items: Type.Array(AlertSchema), next_cursor: Type.Union([Type.String(), Type.Null()]), total: Type.Integer() }),
          ...errors(400, 401, 403, 404),
        },
      },
    },
    async (req) => {
      const { id } = req.params as { id: string };
      const { limit = 50, cursor } = req.query as { limit?: number; cursor?: string };
      const exists = await db.selectFrom('incidents').select('id').where('id', '=', id).executeTakeFirst();
      if (!exists) throw new FidoError('not_found', `no incident ${id}`);
      return loadIncidentAlerts(db, id, { limit, ...(cursor ? { after: cursor } : {}) });
    },
  );

  app.post(
    '/incidents/:id/verdict',
    {
      config: { role: 'analyst' },
      schema: {
        summary: "Record an analyst's verdict; it feeds history scoring and undoes reversible responses on false_positive",
        params: IdParam,
        body: Type.Object(
          { verdict: VerdictT, status: Type.Optional(Status), note: Type.Optional(Type.String({ maxLength: 4000 })) },
          { additionalProperties: false },
        ),
        response: { 200: IncidentSchema, ...errors(400, 401, 403, 404) },
      },
    },
    async (req) => {
      const { id } = req.params as { id: string };
      const body = req.body as { verdict: Verdict; status?: IncidentStatus; note?: string };
      const actor = req.principal!.name;
      // The one verdict function (bulk verdicts use it too): verdict, timeline, audit, note, undo, close.
      const updated = await db.transaction().execute((tx) => applyVerdict(tx, id, body, actor, Date.now()));
      if (!updated) throw new FidoError('not_found', `no incident ${id}`);
      await ctx.onVerdict?.(id, body.verdict, actor);
      return toIncident(updated);
    },
  );
}
