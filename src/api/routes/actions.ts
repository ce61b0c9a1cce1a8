/** The action outbox as analysts see it: list by state, approve, deny. */
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { ApiContext } from '../context.js';
import { Doc, Limit, OptionalBody, errors } from '../schemas.js';
import { ACTION_STATES } from '../../model/action.js';
import { ActionStateError, approveAction, denyAction, listActions } from '../../actions/executor.js';

const IdParam = Type.Object({ id: Type.String({ pattern: '^[0-9A-HJKMNP-TV-Z]{26}$' }) });

export default async function actionRoutes(app: FastifyInstance, { ctx }: { ctx: ApiContext }) {
  app.get(
    '/actions',
    {
      config: { role: 'viewer' },
      schema: {
        summary: 'Actions in the outbox, newest first',
        querystring: Type.Object({
          state: Type.Optional(Type.Union(ACTION_STATES.map((s) => Type.Literal(s)))),
          limit: Limit,
          cursor: Type.Optional(Type.String({ maxLength: 200 })),
        }),
        response: { 200: Type.Object({ items: Type.Array(Doc('Action')), next_cursor: Type.Union([Type.String(), Type.Null()]) }), ...errors(400, 401, 403) },
      },
    },
    async (req, reply) => {
      const { state, limit = 50, cursor } = req.query as { state?: string; limit?: number; cursor?: string };
      try {
        return await listActions(ctx.store.db, { state, limit, cursor });
      } catch (e) {
        return reply.code(400).send({ error: 'bad_request', message: (e as Error).message });
      }
    },
  );

  const settle = (verb: 'approve' | 'deny') =>
    app.post(
      `/actions/:id/${verb}`,
      {
        config: { role: 'analyst' },
        schema: {
          summary: verb === 'approve' ? 'Approve an action that awaits approval; it runs next' : 'Deny an action that awaits approval',
          params: IdParam,
          body: OptionalBody(Type.Object({ reason: Type.Optional(Type.String({ maxLength: 2000 })) }, { additionalProperties: false })),
          response: { 200: Doc('Action'), ...errors(400, 401, 403, 404, 409) },
        },
      },
      async (req, reply) => {
        const { id } = req.params as { id: string };
        const actor = req.principal!.name;
        try {
          if (verb === 'approve') return await approveAction(ctx.store, id, actor);
          return await denyAction(ctx.store, id, actor, (req.body as { reason?: string } | undefined)?.reason ?? '');
        } catch (e) {
          if (e instanceof ActionStateError) return reply.code(e.status).send({ error: e.status === 404 ? 'not_found' : 'conflict', message: e.message });
          throw e;
        }
      },
    );
  settle('approve');
  settle('deny');
}
