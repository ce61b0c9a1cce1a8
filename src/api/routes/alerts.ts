/** Alerts by id (any id a 202 returned answers with what became of it), and the quarantine with replay. */
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { ApiContext } from '../context.js';
import { Cursor, Limit, OptionalBody, errors, Query } from '../schemas.js';
import { FateSchema, QuarantinedSchema } from '../model-schemas.js';
import { recordFate } from '../../store/fates.js';
import { appendRecords, lockForAppend, rawForm, rawText } from '../../store/log.js';
import { audit } from '../../store/audit.js';
import { iso } from '../../util/time.js';
import { ulid } from '../../util/ulid.js';
import { FidoError } from '../../errors.js';

const IdParam = Type.Object({ id: Type.String({ pattern: '^[0-9A-HJKMNP-TV-Z]{26}$' }) });

export default async function alertRoutes(app: FastifyInstance, { ctx }: { ctx: ApiContext }) {
  const db = ctx.store.db;

  app.get(
    '/alerts/:id',
    {
      config: { role: 'viewer' },
      schema: {
        summary: 'What became of a record: the alert (raw text included), a duplicate of one, a context event, a quarantine entry, or pending',
        params: IdParam,
        response: { 200: FateSchema, ...errors(400, 401, 403, 404) },
      },
    },
    async (req) => {
      const { id } = req.params as { id: string };
      const f = await recordFate(db, id);
      if (!f) throw new FidoError('not_found', `no record or alert ${id}`);
      switch (f.fate) {
        case 'alert':
          return { ...f.alert, fate: f.fate, decided_at: f.decided_at };
        case 'duplicate':
          return { ...f.alert, fate: f.fate, duplicate_of: f.duplicate_of, repeat_count: f.repeat_count };
        default:
          return f;
      }
    },
  );

  app.get(
    '/quarantine',
    {
      config: { role: 'analyst' },
      schema: {
        summary: 'Records no detector could parse, with the reason and the raw text',
        querystring: Query({ source: Type.Optional(Type.String({ maxLength: 64 })), limit: Limit, cursor: Cursor }),
        response: { 200: Type.Object({ items: Type.Array(QuarantinedSchema), next_cursor: Type.Union([Type.String(), Type.Null()]) }), ...errors(400, 401, 403) },
      },
    },
    async (req) => {
      const { source, limit = 50, cursor } = req.query as { source?: string; limit?: number; cursor?: string };
      let q = db
        .selectFrom('quarantine as q')
        .leftJoin('intake as i', 'i.id', 'q.intake_id')
        .select(['q.id', 'q.source', 'q.detector', 'q.reason', 'q.created_at', rawText('q').as('raw'), 'i.raw_base64'])
        .where('q.replayed_at', 'is', null)
        .orderBy('q.id', 'desc')
        .limit(limit + 1);
      if (source) q = q.where('q.source', '=', source);
      if (cursor) q = q.where('q.id', '<', cursor);
      const rows = await q.execute();
      const page = rows.slice(0, limit);
      return {
        items: page.map((r) => ({ id: r.id, source: r.source, detector: r.detector, reason: r.reason, raw: r.raw, ...rawForm(r.raw_base64), created_at: iso(r.created_at) })),
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
        response: { 202: Type.Object({ replayed: Type.String(), as: Type.String() }), ...errors(400, 401, 403, 404) },
      },
    },
    async (req, reply) => {
      const { id } = req.params as { id: string };
      const detector = (req.body as { detector?: string } | undefined)?.detector;
      // The log is never rewritten: the record is appended again under a new id, and the entry points at it.
      const as = ulid();
      const ok = await db.transaction().execute(async (tx) => {
        await lockForAppend(tx, ctx.store.dialect);
        const q = await tx
          .selectFrom('quarantine as q')
          .innerJoin('intake as i', 'i.id', 'q.intake_id')
          .select(['q.intake_id', 'i.source', 'i.detector', rawText('q').as('raw'), 'i.raw_base64'])
          .where('q.intake_id', '=', id)
          .where('q.replayed_at', 'is', null)
          .executeTakeFirst();
        if (!q) return false;
        // Appended as received: the same bytes when they were not UTF-8.
        await appendRecords(tx, [{ id: as, source: q.source, detector: detector ?? q.detector, received_at: Date.now(), raw: q.raw, raw_base64: q.raw_base64 }]);
        await tx.updateTable('quarantine').set({ replayed_at: Date.now(), replayed_as: as }).where('intake_id', '=', id).execute();
        await audit(tx, req.principal!.name, 'quarantine.replay', id, { detector: detector ?? null, as });
        return true;
      });
      if (!ok) throw new FidoError('not_found', `no quarantined record ${id}`);
      return reply.code(202).send({ replayed: id, as });
    },
  );
}
