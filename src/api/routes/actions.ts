/** The action outbox as analysts see it: list by state, approve, deny. */
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { ApiContext } from '../context.js';
import { Limit, OptionalBody, errors, Query } from '../schemas.js';
import { ActionListItemSchema, ActionSchema } from '../model-schemas.js';
import { ACTION_STATES } from '../../model/action.js';
import { approveAction, denyAction } from '../../actions/approvals.js';
import { undoAction } from '../../actions/undo.js';
import { listActions } from '../../actions/list.js';
import { readKillSwitch, setKillSwitch } from '../../actions/kill-switch.js';
import { FidoError } from '../../errors.js';

const IdParam = Type.Object({ id: Type.String({ pattern: '^[0-9A-HJKMNP-TV-Z]{26}$' }) });

export default async function actionRoutes(app: FastifyInstance, { ctx }: { ctx: ApiContext }) {
  app.get(
    '/actions',
    {
      config: { role: 'viewer' },
      schema: {
        summary: 'Actions in the outbox, newest first',
        querystring: Query({
          state: Type.Optional(Type.Union(ACTION_STATES.map((s) => Type.Literal(s)))),
          limit: Limit,
          cursor: Type.Optional(Type.String({ maxLength: 200 })),
        }),
        response: { 200: Type.Object({ items: Type.Array(ActionListItemSchema), next_cursor: Type.Union([Type.String(), Type.Null()]) }), ...errors(400, 401, 403) },
      },
    },
    async (req) => {
      const { state, limit = 50, cursor } = req.query as { state?: string; limit?: number; cursor?: string };
      return listActions(ctx.store.db, { state, limit, cursor });
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
          response: { 200: ActionSchema, ...errors(400, 401, 403, 404, 409) },
        },
      },
      async (req) => {
        const { id } = req.params as { id: string };
        const actor = req.principal!.name;
        if (verb === 'approve') return approveAction(ctx.store, id, actor);
        return denyAction(ctx.store, id, actor, (req.body as { reason?: string } | undefined)?.reason ?? '');
      },
    );
  settle('approve');
  settle('deny');

  const KillSwitchSchema = Type.Object(
    {
      on: Type.Boolean({ description: 'true: no containment action starts (queued ones wait; undos and notifications still run)' }),
      actor: Type.Union([Type.String(), Type.Null()], { description: 'who set it last ("config" when the configuration holds it on)' }),
      reason: Type.Union([Type.String(), Type.Null()]),
      at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
    },
    { additionalProperties: false, description: 'The containment kill switch' },
  );
  app.get(
    '/kill-switch',
    { config: { role: 'viewer' }, schema: { summary: 'Whether containment is stopped, by whom and why', response: { 200: KillSwitchSchema, ...errors(401, 403) } } },
    async () => readKillSwitch(ctx.store.db, ctx.killSwitchForced ?? false),
  );
  app.put(
    '/kill-switch',
    {
      config: { role: 'admin' },
      schema: {
        summary: 'Stop (on) or allow (off) containment everywhere at once; the configuration can hold it on',
        body: Type.Object({ on: Type.Boolean(), reason: Type.String({ minLength: 1, maxLength: 2000 }) }, { additionalProperties: false }),
        response: { 200: KillSwitchSchema, ...errors(400, 401, 403, 409) },
      },
    },
    async (req) => {
      const { on, reason } = req.body as { on: boolean; reason: string };
      if (!on && ctx.killSwitchForced) throw new FidoError('conflict', 'actions.kill_switch is true in the configuration: change it there to allow containment');
      return setKillSwitch(ctx.store, on, req.principal!.name, reason);
    },
  );

  app.post(
    '/actions/:id/undo',
    {
      config: { role: 'analyst' },
      schema: {
        summary: 'Undo a succeeded action of a reversible kind: queues its undo (once, however often asked) and answers the undo action',
        params: IdParam,
        body: OptionalBody(Type.Object({ reason: Type.Optional(Type.String({ maxLength: 2000 })) }, { additionalProperties: false })),
        response: { 200: ActionSchema, ...errors(400, 401, 403, 404, 409) },
      },
    },
    async (req) => {
      const { id } = req.params as { id: string };
      const reason = (req.body as { reason?: string } | undefined)?.reason?.trim();
      return undoAction(ctx.store, id, { actor: req.principal!.name, why: reason || 'undone by hand' });
    },
  );
}
