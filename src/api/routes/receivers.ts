/** GET /api/v1/receivers: every source's receiver with its health (intake/health.ts), as /metrics and `fido receivers` show it. */
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { ApiContext } from '../context.js';
import { errors } from '../schemas.js';
import { ReceiverHealthSchema, receiverHealth } from './overview.js';

export default async function receiverRoutes(app: FastifyInstance, { ctx }: { ctx: ApiContext }) {
  app.get(
    '/receivers',
    {
      config: { role: 'viewer' },
      schema: {
        summary: "Every source's receiver: its state, last record, records, lag, error and cursor, as the process running it last reported",
        response: { 200: Type.Object({ items: Type.Array(ReceiverHealthSchema) }), ...errors(401, 403) },
      },
    },
    async () => ({ items: await receiverHealth(ctx) }),
  );
}
