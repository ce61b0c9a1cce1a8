/** Alerts by id (an intake id answers too), and the quarantine with replay. */
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { ApiContext } from '../context.js';
import { Cursor, Doc, Limit, OptionalBody, errors } from '../schemas.js';
import { toAlert } from '../../store/incidents.js';
import { enqueue } from '../../store/queue.js';
import { audit } from '../../store/audit.js';
import { iso } from '../../util/time.js';

const IdParam = Type.Object({ id: Type.String({ pattern: '^[0-9A-HJKMNP-TV-Z]{26}$' }) });

export default async function alertRoutes(app: FastifyInstance, { ctx }: { ctx: ApiContext }) {
  const db = ctx.store.db;

  app.get(
    '/alerts/:id',
    {
      config: { role: 'viewer' },
      schema: { summary: 'One canonical alert, raw text included', params: IdParam, response: { 200: Doc('Alert'), ...errors(400, 401, 403, 404) } },
    },
    async (req, reply) => {
      const { id } = req.params as { id: string };
      const row =
        (await db.selectFrom('alerts').select(['doc', 'raw', 'repeat_count', 'incident_id']).where('id', '=', id).executeTakeFirst()) ??
        (await db.selectFrom('alerts').select(['doc', 'raw', 'repeat_count', 'incident_id']).where('intake_id', '=', id).orderBy('id').executeTakeFirst());
      if (row) return toAlert(row);
      const q = await db.selectFrom('quarantine').select(['reason']).where('intake_id', '=', id).executeTakeFirst();
      if (q) return reply.code(404).send({ error: 'quarantined', message: `record ${id} was quarantined: ${q.reason}` });
      const pending = await db.selectFrom('intake').select('id').where('id', '=', id).executeTakeFirst();
      if (pending) return reply.code(404).send({ error: 'pending', message: `record ${id} is accepted and not normalized yet, or is a context event` });
      return reply.code(404).send({ error: 'not_found', message: `no alert ${id}` });
    },
  );

  app.get(
    '/quarantine',
    {
      config: { role: 'analyst' },
      schema: {
        summary: 'Records no detector could parse, with the reason and the raw text',
        querystring: Type.Object({ source: Type.Optional(Type.String({ maxLength: 64 })), limit: Limit, cursor: Cursor }),
        response: { 200: Type.Object({ items: Type.Array(Doc('Quarantined record')), next_cursor: Type.Union([Type.String(), Type.Null()]) }), ...errors(400, 401, 403) },
      },
    },
    async (req) => {
      const { source, limit = 50, cursor } = req.query as { source?: string; limit?: number; cursor?: string };
      let q = db.selectFrom('quarantine').selectAll().where('replayed_at', 'is', null).orderBy('id', 'desc').limit(limit + 1);
      if (source) q = q.where('source', '=', source);
      if (cursor) q = q.where('id', '<', cursor);
      const rows = await q.execute();
      const page = rows.slice(0, limit);
      return {
        items: page.map((r) => ({ id: r.id, source: r.source, detector: r.detector, reason: r.reason, raw: r.raw, created_at: iso(r.created_at) })),
        next_cursor: rows.length > limit ? page[page.length - 1]!.id : null,
      };
    },
  );

  app.post(
    '/quarantine/:id/replay',
    {
      config: { role: 'admin' },
      schema: {
        summary: 'Run a quarantined record through normalize again (after a parser fix or a detector change)',
        params: IdParam,
        body: OptionalBody(Type.Object({ detector: Type.Optional(Type.String({ pattern: '^[a-z][a-z0-9_-]{0,63}$' })) }, { additionalProperties: false })),
        response: { 202: Type.Object({ replayed: Type.String() }), ...errors(400, 401, 403, 404) },
      },
    },
    async (req, reply) => {
      const { id } = req.params as { id: string };
      const detector = (req.body as { detector?: string } | undefined)?.detector;
      const ok = await db.transaction().execute(async (tx) => {
        const q = await tx.deleteFrom('quarantine').where('intake_id', '=', id).returning('intake_id').executeTakeFirst();
        if (!q) return false;
        if (detector) await tx.updateTable('intake').set({ detector }).where('id', '=', id).execute();
        await enqueue(tx, 'normalize', [id]);
        await audit(tx, req.principal!.name, 'quarantine.replay', id, { detector: detector ?? null });
        return true;
      });
      if (!ok) return reply.code(404).send({ error: 'not_found', message: `no quarantined record ${id}` });
      return reply.code(202).send({ replayed: id });
    },
  );
}
