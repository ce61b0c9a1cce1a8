/** Incidents: list with filters and cursor paging, detail, and analyst verdicts. */
import type { FastifyInstance } from 'fastify';
import { sql } from 'kysely';
import { Type } from 'typebox';
import type { ApiContext } from '../context.js';
import { Cursor, Limit, errors, Query } from '../schemas.js';
import { AlertSchema, IncidentDetailSchema, IncidentSchema } from '../model-schemas.js';
import { INCIDENT_STATUSES, VERDICTS, type IncidentStatus, type Verdict } from '../../model/incident.js';
import { countAlerts, loadIncidentAlerts, loadIncidentDetail, toIncident, addTimeline } from '../../store/incidents.js';
import { audit } from '../../store/audit.js';
import { FidoError } from '../../errors.js';
import { closeOnVerdict } from '../../actions/follow.js';
import { undoOnVerdict } from '../../actions/undo.js';

/** Alerts in an incident's detail; the rest are paged. */
const DETAIL_ALERTS = 500;
const IdParam = Type.Object({ id: Type.String({ pattern: '^[0-9A-HJKMNP-TV-Z]{26}$' }) });
const Status = Type.Union(INCIDENT_STATUSES.map((s) => Type.Literal(s)));
const VerdictT = Type.Union(VERDICTS.map((s) => Type.Literal(s)));

/** LIKE pattern for a user's search text: their % and _ are literal. */
export function likePattern(q: string): string {
  return `%${q.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

export default async function incidentRoutes(app: FastifyInstance, { ctx }: { ctx: ApiContext }) {
  const db = ctx.store.db;

  app.get(
    '/incidents',
    {
      config: { role: 'viewer' },
      schema: {
        summary: 'List incidents, newest first',
        querystring: Query({
          status: Type.Optional(Status),
          min_score: Type.Optional(Type.Integer({ minimum: 0, maximum: 100 })),
          q: Type.Optional(Type.String({ maxLength: 200, description: 'Substring of title, host or user' })),
          limit: Limit,
          cursor: Cursor,
        }),
        response: { 200: Type.Object({ items: Type.Array(IncidentSchema), next_cursor: Type.Union([Type.String(), Type.Null()]) }), ...errors(400, 401, 403) },
      },
    },
    async (req) => {
      const { status, min_score, q, limit = 50, cursor } = req.query as { status?: IncidentStatus; min_score?: number; q?: string; limit?: number; cursor?: string };
      let query = db.selectFrom('incidents').selectAll().orderBy('id', 'desc').limit(limit + 1);
      if (status) query = query.where('status', '=', status);
      if (min_score !== undefined) query = query.where('score_total', '>=', min_score);
      if (cursor) query = query.where('id', '<', cursor);
      if (q) {
        const p = likePattern(q);
        query = query.where((eb) =>
          eb.or([
            eb(sql`lower(title)`, 'like', sql`${p} escape '\\'`),
            eb(sql`lower(coalesce(host, ''))`, 'like', sql`${p} escape '\\'`),
            eb(sql`lower(coalesce(user_name, ''))`, 'like', sql`${p} escape '\\'`),
          ]),
        );
      }
      const rows = await query.execute();
      const page = rows.slice(0, limit);
      return { items: page.map(toIncident), next_cursor: rows.length > limit ? page[page.length - 1]!.id : null };
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
      return { ...detail, alerts_total: total, alerts_next: total > detail.alerts.length && last ? last.id : null };
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
      const status = body.status ?? (body.verdict === 'true_positive' ? 'triaged' : 'closed');
      const actor = req.principal!.name;
      const now = Date.now();
      const updated = await db.transaction().execute(async (tx) => {
        const r = await tx.updateTable('incidents').set({ verdict: body.verdict, status, updated_at: now }).where('id', '=', id).returningAll().executeTakeFirst();
        if (!r) return null;
        await addTimeline(tx, [{ incident_id: id, at: now, kind: 'verdict', summary: `${actor}: ${body.verdict}, ${status}${body.note ? ` (${body.note.slice(0, 300)})` : ''}` }]);
        await audit(tx, actor, 'incident.verdict', id, { verdict: body.verdict, status, note: body.note ?? null });
        // A false positive takes back what Fido did about it, in the verdict's transaction (never one without the other).
        await undoOnVerdict(tx, id, body.verdict, actor, now);
        // Tickets and pages opened about it are closed, saying by whom and why.
        await closeOnVerdict(tx, id, { verdict: body.verdict, by: actor, ...(body.note ? { note: body.note } : {}) }, now);
        return r;
      });
      if (!updated) throw new FidoError('not_found', `no incident ${id}`);
      await ctx.onVerdict?.(id, body.verdict, actor);
      return toIncident(updated);
    },
  );
}
