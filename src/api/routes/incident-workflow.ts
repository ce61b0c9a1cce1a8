/**
 * The analyst's workflow on incidents (issue 18), everything the dashboard does, as public API:
 *  - PATCH /incidents/{id}: status, assignee, tags (`{add, remove}`: concurrent editors adding different
 *    tags do not overwrite each other), severity override; optional `If-Match: <updated_at>` → 412 when the
 *    incident changed since it was read;
 *  - notes: POST and GET /incidents/{id}/notes (newest first, cursor paging);
 *  - GET /incidents/{id}/observables: its indicators with their sightings and each provider's answer;
 *  - POST /incidents/bulk: the same change, or the same verdict, on up to 500 incidents, each in its own
 *    transaction (one failure does not undo the others); verdicts through the one verdict function;
 *  - POST /incidents/{id}/merge: incidents merged into one.
 */
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { ApiContext } from '../context.js';
import type { Role } from '../auth.js';
import { Cursor, Limit, errors, Query } from '../schemas.js';
import { IncidentNoteSchema, IncidentSchema } from '../model-schemas.js';
import { INCIDENT_STATUSES, VERDICTS } from '../../model/incident.js';
import { FidoError } from '../../errors.js';
import { listIncidentAudit } from '../../store/audit.js';
import { errorContext, log } from '../../util/log.js';
import {
  addNote,
  applyVerdict,
  listIndicators,
  listNotes,
  MAX_MERGE,
  MAX_TAGS,
  mergeIncidents,
  StaleIncident,
  updateIncident,
  workflowIncident,
  type IncidentPatch,
  type VerdictInput,
} from '../../store/incident-workflow.js';

/** Incidents per bulk request, at most. */
export const MAX_BULK = 500;
/** A note's body, at most (characters). */
export const MAX_NOTE = 10_000;
/** Who may merge: merging closes incidents and moves their actions and alerts. */
const MERGE_ROLE: Role = 'responder';

const ULID = '^[0-9A-HJKMNP-TV-Z]{26}$';
const Id = Type.String({ pattern: ULID });
const IdParam = Type.Object({ id: Id });
const Status = Type.Union(INCIDENT_STATUSES.map((s) => Type.Literal(s)));
const Tag = Type.String({ pattern: '^[a-z0-9][a-z0-9._:-]{0,63}$', description: 'lower case letters, digits and . _ : -, up to 64, starting with a letter or digit' });
const Tags = Type.Object(
  {
    add: Type.Optional(Type.Array(Tag, { maxItems: MAX_TAGS })),
    remove: Type.Optional(Type.Array(Tag, { maxItems: MAX_TAGS })),
  },
  { additionalProperties: false, description: 'tags to add and to remove (a tag in both is removed); the others are kept' },
);
const Assignee = Type.Union([Type.String({ minLength: 1, maxLength: 200, pattern: '\\S' }), Type.Null()], { description: 'who works on it; null: nobody' });
const SeverityOverride = Type.Union([Type.Integer({ minimum: 0, maximum: 100 }), Type.Null()], { description: 'a severity over the computed one; null: the computed one again' });
const Patch = Type.Object(
  { status: Type.Optional(Status), assignee: Type.Optional(Assignee), tags: Type.Optional(Tags), severity_override: Type.Optional(SeverityOverride) },
  { additionalProperties: false, minProperties: 1 },
);
const BulkSet = Type.Object(
  { status: Type.Optional(Status), assignee: Type.Optional(Assignee), tags: Type.Optional(Tags) },
  { additionalProperties: false, minProperties: 1 },
);
const VerdictBody = Type.Object(
  {
    verdict: Type.Union(VERDICTS.map((s) => Type.Literal(s))),
    status: Type.Optional(Status),
    note: Type.Optional(Type.String({ maxLength: 4000 })),
  },
  { additionalProperties: false },
);
const WorkflowIncidentSchema = Type.Object({ ...IncidentSchema.properties, tags: Type.Array(Type.String()), updated_at: Type.String({ format: 'date-time' }) }, { additionalProperties: true });
const BulkResult = Type.Object({
  id: Type.String(),
  result: Type.Union([Type.Literal('ok'), Type.Literal('not_found'), Type.Literal('error')]),
  message: Type.Optional(Type.String({ description: 'why not, for not_found and error' })),
});
const IndicatorSchema = Type.Object({
  type: Type.String(),
  value: Type.String(),
  alerts: Type.Integer({ description: 'alerts that carried it' }),
  events: Type.Integer({ description: 'alerts counting their repeats' }),
  first_seen: Type.String({ format: 'date-time' }),
  last_seen: Type.String({ format: 'date-time' }),
  enrichment: Type.Array(
    Type.Object({
      provider: Type.String(),
      found: Type.Optional(Type.Boolean()),
      verdict: Type.Optional(Type.String({ description: "the provider's verdict when it gives one (malicious, suspicious, harmless)" })),
      error: Type.Optional(Type.String()),
      fetched_at: Type.String({ format: 'date-time' }),
      age_seconds: Type.Integer({ minimum: 0 }),
    }),
  ),
});

/** The updated_at an If-Match header names (an ETag of PATCH, quoted or not, or the incident's updated_at), in ms. */
function ifMatch(header: string | undefined): number | undefined {
  if (header === undefined) return undefined;
  const text = header.trim().replace(/^W\//, '').replace(/^"|"$/g, '');
  const ms = Date.parse(text);
  if (!Number.isFinite(ms)) throw new FidoError('bad_request', 'If-Match must be the incident\'s updated_at (as GET and PATCH answer it, e.g. "2026-12-07T11:32:00.000Z")');
  return ms;
}

export default async function incidentWorkflowRoutes(app: FastifyInstance, { ctx }: { ctx: ApiContext }) {
  const db = ctx.store.db;

  app.patch(
    '/incidents/:id',
    {
      config: { role: 'analyst' },
      schema: {
        summary: 'Change status, assignee, tags or severity override; each change is on the timeline and in the audit log',
        description:
          'Only the keys given change. `tags` adds and removes (others are kept). With `If-Match: <updated_at>` (the incident as last read) an ' +
          'incident changed since — by anyone: a change, a note, a verdict, the pipeline scoring it — is refused with 412 instead of ' +
          'overwritten; the answer carries the new updated_at as its ETag.',
        params: IdParam,
        headers: Type.Object({ 'if-match': Type.Optional(Type.String({ maxLength: 100 })) }),
        body: Patch,
        response: { 200: WorkflowIncidentSchema, ...errors(400, 401, 403, 404, 409, 412) },
      },
    },
    async (req, reply) => {
      const { id } = req.params as { id: string };
      const expected = ifMatch(req.headers['if-match']);
      try {
        const row = await db.transaction().execute((tx) => updateIncident(tx, id, req.body as IncidentPatch, req.principal!.name, Date.now(), expected));
        const incident = await workflowIncident(db, row);
        return reply.header('etag', `"${incident.updated_at}"`).send(incident);
      } catch (e) {
        if (e instanceof StaleIncident) throw new FidoError('precondition_failed', e.message);
        throw e;
      }
    },
  );

  app.post(
    '/incidents/:id/notes',
    {
      config: { role: 'analyst' },
      schema: {
        summary: 'Add a note; the author is the token\'s name. The body is kept as written: show it escaped, never as HTML',
        params: IdParam,
        body: Type.Object({ body: Type.String({ minLength: 1, maxLength: MAX_NOTE, pattern: '\\S' }) }, { additionalProperties: false }),
        response: { 201: IncidentNoteSchema, ...errors(400, 401, 403, 404) },
      },
    },
    async (req, reply) => {
      const { id } = req.params as { id: string };
      const { body } = req.body as { body: string };
      const note = await db.transaction().execute((tx) => addNote(tx, id, req.principal!.name, body, Date.now()));
      return reply.code(201).send(note);
    },
  );

  app.get(
    '/incidents/:id/notes',
    {
      config: { role: 'viewer' },
      schema: {
        summary: "An incident's notes, newest first",
        params: IdParam,
        querystring: Query({ limit: Limit, cursor: Cursor }),
        response: { 200: Type.Object({ items: Type.Array(IncidentNoteSchema), next_cursor: Type.Union([Type.String(), Type.Null()]) }), ...errors(400, 401, 403, 404) },
      },
    },
    async (req) => {
      const { id } = req.params as { id: string };
      const { limit = 50, cursor } = req.query as { limit?: number; cursor?: string };
      await mustExist(id);
      return listNotes(db, id, { limit, ...(cursor ? { after: cursor } : {}) });
    },
  );

  app.get(
    '/incidents/:id/audit',
    {
      config: { role: 'viewer' },
      schema: {
        summary: "An incident's audit trail, newest first: who changed it, gave its verdict, wrote notes, approved, denied, undid or ran its actions",
        params: IdParam,
        querystring: Query({ limit: Limit, cursor: Type.Optional(Type.String({ pattern: '^[0-9]{1,15}$', description: 'next_cursor of the previous page' })) }),
        response: {
          200: Type.Object({
            items: Type.Array(
              Type.Object({
                id: Type.Integer(),
                at: Type.String({ format: 'date-time' }),
                actor: Type.String({ description: 'a person, a token name, cli:<login>, or system' }),
                action: Type.String({ description: 'e.g. incident.update, incident.verdict, incident.note, action.approved, action.succeeded' }),
                subject: Type.String({ description: 'the incident id, or action:<id>' }),
                detail: Type.Record(Type.String(), Type.Unknown()),
              }),
            ),
            next_cursor: Type.Union([Type.String(), Type.Null()]),
          }),
          ...errors(400, 401, 403, 404),
        },
      },
    },
    async (req) => {
      const { id } = req.params as { id: string };
      const { limit = 50, cursor } = req.query as { limit?: number; cursor?: string };
      await mustExist(id);
      return listIncidentAudit(db, id, { limit, ...(cursor ? { before: Number(cursor) } : {}) });
    },
  );

  app.get(
    '/incidents/:id/observables',
    {
      config: { role: 'viewer' },
      schema: {
        summary: "An incident's indicators with their sightings and each provider's answer, newest sighting first",
        params: IdParam,
        querystring: Query({ limit: Limit, cursor: Type.Optional(Type.String({ maxLength: 2000, description: 'next_cursor of the previous page' })) }),
        response: { 200: Type.Object({ items: Type.Array(IndicatorSchema), next_cursor: Type.Union([Type.String(), Type.Null()]) }), ...errors(400, 401, 403, 404) },
      },
    },
    async (req) => {
      const { id } = req.params as { id: string };
      const { limit = 50, cursor } = req.query as { limit?: number; cursor?: string };
      await mustExist(id);
      return listIndicators(db, id, { limit, now: Date.now(), ...(cursor ? { after: cursor } : {}) });
    },
  );

  app.post(
    '/incidents/bulk',
    {
      config: { role: 'analyst' },
      schema: {
        summary: 'The same change (`set`) or the same verdict (`verdict`) on many incidents, each in its own transaction',
        description:
          'Exactly one of `set` (as PATCH /incidents/{id}, without severity_override) and `verdict` (as POST /incidents/{id}/verdict: undoes and ' +
          'closes what the single verdict does). One result per id, in order: ok, not_found or error; a failed id leaves the others done.',
        body: Type.Object(
          { ids: Type.Array(Id, { minItems: 1, maxItems: MAX_BULK, uniqueItems: true }), set: Type.Optional(BulkSet), verdict: Type.Optional(VerdictBody) },
          { additionalProperties: false },
        ),
        response: { 200: Type.Object({ results: Type.Array(BulkResult), ok: Type.Integer(), failed: Type.Integer() }), ...errors(400, 401, 403) },
      },
    },
    async (req) => {
      const body = req.body as { ids: string[]; set?: IncidentPatch; verdict?: VerdictInput };
      if ((body.set === undefined) === (body.verdict === undefined)) throw new FidoError('bad_request', 'body: give exactly one of set and verdict');
      const actor = req.principal!.name;
      const results: Array<{ id: string; result: 'ok' | 'not_found' | 'error'; message?: string }> = [];
      for (const id of body.ids) {
        try {
          const now = Date.now();
          if (body.verdict) {
            const v = body.verdict;
            const row = await db.transaction().execute((tx) => applyVerdict(tx, id, v, actor, now));
            if (!row) throw new FidoError('not_found', `no incident ${id}`);
            // The verdict is stored: a failing hook is logged, the id is still done.
            await ctx.onVerdict?.(id, v.verdict, actor).catch((e: unknown) => log.warn({ incident: id, err: errorContext(e) }, 'bulk: the verdict hook failed'));
          } else {
            await db.transaction().execute((tx) => updateIncident(tx, id, body.set!, actor, now));
          }
          results.push({ id, result: 'ok' });
        } catch (e) {
          if (e instanceof FidoError) results.push({ id, result: e.code === 'not_found' ? 'not_found' : 'error', message: e.message });
          else {
            log.warn({ incident: id, err: errorContext(e) }, 'bulk: an incident was not changed');
            results.push({ id, result: 'error', message: 'internal error' });
          }
        }
      }
      const ok = results.filter((r) => r.result === 'ok').length;
      return { results, ok, failed: results.length - ok };
    },
  );

  app.post(
    '/incidents/:id/merge',
    {
      config: { role: MERGE_ROLE },
      schema: {
        summary: 'Merge incidents into this one: their alerts, indicators, timeline, notes, tags and actions move here; they are closed',
        description:
          'Each merged incident is closed with `merged_into` and a note; correlation maps their keys to this incident. This one is counted ' +
          'again and queued to be enriched, scored and decided again. 409 when an incident was merged before.',
        params: IdParam,
        body: Type.Object({ from: Type.Array(Id, { minItems: 1, maxItems: MAX_MERGE, uniqueItems: true }) }, { additionalProperties: false }),
        response: { 200: WorkflowIncidentSchema, ...errors(400, 401, 403, 404, 409) },
      },
    },
    async (req) => {
      const { id } = req.params as { id: string };
      const { from } = req.body as { from: string[] };
      const row = await db.transaction().execute((tx) => mergeIncidents(tx, ctx.store.dialect, id, from, req.principal!.name, Date.now()));
      return workflowIncident(db, row);
    },
  );

  async function mustExist(id: string): Promise<void> {
    const exists = await db.selectFrom('incidents').select('id').where('id', '=', id).executeTakeFirst();
    if (!exists) throw new FidoError('not_found', `no incident ${id}`);
  }
}
