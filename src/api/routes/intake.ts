/** POST /alerts/{source}: 202 only after the raw batch is committed (DESIGN.md §5). */
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { ApiContext } from '../context.js';
import { BodyError, formatOf, splitBody } from '../../intake/split.js';
import { BackpressureError } from '../../intake/receiver.js';
import { roleAtLeast } from '../auth.js';
import { errors } from '../schemas.js';

const SOURCE = '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$';

export default async function intakeRoutes(app: FastifyInstance, { ctx }: { ctx: ApiContext }) {
  // Bodies stay text: raw records are stored byte for byte, and the split below names what is wrong.
  app.removeContentTypeParser(['application/json', 'text/plain']);
  app.addContentTypeParser(
    ['application/json', 'application/x-ndjson', 'application/ndjson', 'application/jsonl', 'text/plain'],
    { parseAs: 'string' },
    (_req, body, done) => done(null, body),
  );

  app.post(
    '/alerts/:source',
    {
      config: { role: 'analyst' },
      schema: {
        summary: 'Submit alerts: one JSON object, a JSON array, NDJSON, or text lines (syslog, CEF, LEEF…)',
        params: Type.Object({ source: Type.String({ pattern: SOURCE }) }),
        querystring: Type.Object({ detector: Type.Optional(Type.String({ pattern: '^[a-z][a-z0-9_-]{0,63}$' })) }),
        body: Type.String({ description: 'application/json, application/x-ndjson or text/plain' }),
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
      const format = formatOf(req.headers['content-type']);
      if (!format) return reply.code(415).send({ error: 'unsupported_media_type', message: 'use application/json, application/x-ndjson or text/plain' });
      let records: string[];
      try {
        records = splitBody(String(req.body ?? ''), format, { maxRecordBytes: ctx.maxRecordBytes, maxRecords: ctx.maxRecordsPerRequest });
      } catch (e) {
        if (e instanceof BodyError) return reply.code(e.status).send({ error: e.status === 413 ? 'too_large' : 'bad_request', message: e.message });
        throw e;
      }
      const detectorName = forced ?? (declared?.detector && declared.detector !== 'auto' ? declared.detector : null);
      try {
        const { ids } = await ctx.intake.accept(source, detectorName, records.map((raw) => ({ raw })));
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
