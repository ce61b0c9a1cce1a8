/** POST /alerts/{source}: 202 only after the raw batch is committed (DESIGN.md §5). */
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { ApiContext } from '../context.js';
import { BodyError, formatOf, splitBody } from '../../intake/split.js';
import { BackpressureError, type IntakeRecord } from '../../intake/receiver.js';
import { roleAtLeast } from '../auth.js';
import { errors } from '../schemas.js';
import { audit } from '../../store/audit.js';

const SOURCE = '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$';

export default async function intakeRoutes(app: FastifyInstance, { ctx }: { ctx: ApiContext }) {
  // Bodies stay bytes: raw records are stored byte for byte (text in any encoding too), and the split below
  // names what is wrong.
  app.removeContentTypeParser(['application/json', 'text/plain']);
  app.addContentTypeParser(
    ['application/json', 'application/x-ndjson', 'application/ndjson', 'application/jsonl', 'text/plain'],
    { parseAs: 'buffer' },
    (_req, body, done) => done(null, body),
  );

  app.post(
    '/alerts/:source',
    {
      config: { role: 'analyst' },
      schema: {
        summary: 'Submit alerts: one JSON object, a JSON array, NDJSON, or text lines (syslog, CEF, LEEF…)',
        params: Type.Object({ source: Type.String({ pattern: SOURCE }) }),
        querystring: Type.Object({
          detector: Type.Optional(
            Type.String({
              pattern: '^[a-z][a-z0-9_-]{0,63}$',
              description: "Parse as this detector (or auto) instead of the source's configured one: admin only, recorded in the audit log",
            }),
          ),
        }),
        // No body schema: the body is bytes (see the parser above); splitBody checks it and names what is wrong.
        response: {
          202: Type.Object({ accepted: Type.Integer(), ids: Type.Array(Type.String()) }),
          ...errors(400, 401, 403, 404, 413, 415, 429, 503),
        },
      },
    },
    async (req, reply) => {
      const { source } = req.params as { source: string };
      const { detector: forced } = req.query as { detector?: string };
      if (!ctx.intake) return reply.code(503).header('retry-after', '5').send({ error: 'unavailable', message: 'this process does not take intake' });
      const declared = ctx.sources.get(source);
      if (!declared) {
        if (!ctx.allowUndeclaredSources) return reply.code(404).send({ error: 'unknown_source', message: `source "${source}" is not declared in the configuration` });
        if (!roleAtLeast(req.principal!.role, 'admin')) {
          return reply.code(403).send({ error: 'forbidden', message: `source "${source}" is not declared; only an admin token may post to undeclared sources` });
        }
      }
      // The configuration chooses the detector (issue 13): a per-request choice that differs from it would let
      // a caller send records to the slowest parser on purpose or have them read as what they are not.
      const configured = declared?.detector ?? 'auto';
      const override = forced !== undefined && forced !== configured;
      if (override && !roleAtLeast(req.principal!.role, 'admin')) {
        return reply.code(403).send({
          error: 'forbidden',
          message: `source "${source}" is configured with detector "${configured}"; choosing another per request (?detector=${forced}) needs the admin role`,
        });
      }
      const format = formatOf(req.headers['content-type']);
      if (!format) return reply.code(415).send({ error: 'unsupported_media_type', message: 'use application/json, application/x-ndjson or text/plain' });
      let records: IntakeRecord[];
      try {
        records = splitBody(Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0), format, { maxRecordBytes: ctx.maxRecordBytes, maxRecords: ctx.maxRecordsPerRequest });
      } catch (e) {
        if (e instanceof BodyError) return reply.code(e.status).send({ error: e.status === 413 ? 'too_large' : 'bad_request', message: e.message });
        throw e;
      }
      const chosen = override ? forced : configured;
      const detectorName = chosen === 'auto' ? null : chosen;
      // Recorded before the records are taken: an override that cannot be recorded does not happen.
      if (override) {
        try {
          await audit(ctx.store.db, req.principal!.name, 'intake.detector_override', source, {
            detector: forced,
            configured,
            declared: declared !== undefined,
            records: records.length,
          });
        } catch (e) {
          req.log.error(e);
          return reply.code(503).header('retry-after', '5').send({ error: 'unavailable', message: 'the detector override could not be recorded in the audit log; retry' });
        }
      }
      try {
        const { ids } = await ctx.intake.accept(source, detectorName, records);
        return reply.code(202).send({ accepted: ids.length, ids });
      } catch (e) {
        if (e instanceof BackpressureError) {
          return reply.code(429).header('retry-after', String(e.retryAfterSeconds)).send({ error: 'backpressure', message: e.message });
        }
        req.log.error(e);
        return reply.code(503).header('retry-after', '5').send({ error: 'unavailable', message: 'the intake log could not be written; retry' });
      }
    },
  );
}
