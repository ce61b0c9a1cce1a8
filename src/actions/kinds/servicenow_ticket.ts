/**
 * servicenow_ticket: opens a ServiceNow record (an incident by default) for the incident through the Table API,
 * updates it when the score or decision changes, resolves it on the verdict. Follows.
 *
 *   - name: snow
 *     kind: servicenow_ticket
 *     url: https://corp.service-now.com
 *     username: svc_fido                       # basic auth with password …
 *     password: ${env:FIDO_SNOW_PASSWORD}
 *     # token: ${env:FIDO_SNOW_TOKEN}         # … or an OAuth bearer token
 *     table: incident                          # default
 *     assignment_group: SOC                    # name or sys_id
 *     fields: { category: security, contact_type: integration }
 *
 * Calls (https://www.servicenow.com/docs/r/api-reference/rest-apis/c_TableAPI.html):
 *   find    GET   /api/now/table/{table}?sysparm_query=correlation_id=<id>&sysparm_limit=1
 *   create  POST  /api/now/table/{table}   {short_description, description, urgency, impact, correlation_id, correlation_display: Fido, …}
 *   update  GET   /api/now/table/{table}/{sys_id}; unless resolved or closed, PATCH it {urgency, impact, short_description, work_notes}
 *   close   GET   /api/now/table/{table}/{sys_id}, then PATCH {state: resolved_state, close_code, close_notes}
 *
 * The correlation id is the action's idempotency key (a key longer than the field's 100 characters or with
 * characters outside [A-Za-z0-9:._-] is replaced by `fido-<sha256 prefix>`), so the encoded query never holds
 * a `^` (ServiceNow's condition separator) nor any text from an alert.
 */
import { Buffer } from 'node:buffer';
import { Type, type Static } from 'typebox';
import type { ComponentProblem } from '../../component/component.js';
import { SecretString } from '../../enrich/remote.js';
import { ActionError, defineAction, type ActionDeps, type ActionTarget } from '../action.js';
import { secretValue } from '../target-config.js';
import type { SeverityBand } from './lib/incident-summary.js';
import {
  bandMapSchema,
  byBand,
  closeNote,
  createTicketHttp,
  keyHash,
  oneLine,
  plainText,
  ticketConnection,
  ticketSettingsSchema,
  ticketTarget,
  ticketText,
  ticketUrlProblem,
  updateNote,
  type TicketDriver,
  type TicketRef,
} from './lib/ticket.js';

const Level = Type.Union([Type.Literal(1), Type.Literal(2), Type.Literal(3)]);
const UrgencyImpact = Type.Object({ urgency: Level, impact: Level }, { additionalProperties: false });

export const ServicenowTicketSchema = Type.Object(
  {
    name: Type.String(),
    kind: Type.Literal('servicenow_ticket'),
    url: Type.String({ pattern: '^[Hh][Tt][Tt][Pp][Ss]?://', description: 'The instance URL, e.g. https://corp.service-now.com' }),
    username: Type.Optional(Type.String({ minLength: 1, description: 'Basic auth user (with password)' })),
    password: Type.Optional(SecretString),
    token: Type.Optional(SecretString),
    table: Type.Optional(Type.String({ pattern: '^[a-z][a-z0-9_]{0,79}$', description: 'The table (default incident)' })),
    assignment_group: Type.Optional(Type.String({ minLength: 1, description: 'Assignment group (name or sys_id)' })),
    fields: Type.Optional(
      Type.Record(Type.String({ pattern: '^[a-z][a-z0-9_]{0,79}$' }), Type.Union([Type.String(), Type.Number(), Type.Boolean()]), {
        description: 'More fields of the created record (category, caller_id, cmdb_ci, …)',
      }),
    ),
    priorities: bandMapSchema(UrgencyImpact, 'Urgency and impact by score band (ServiceNow derives the priority from them)'),
    resolved_state: Type.Optional(Type.Union([Type.Integer(), Type.String({ minLength: 1 })], { description: 'The state a verdict sets (default 6, Resolved)' })),
    done_states: Type.Optional(Type.Array(Type.Union([Type.Integer(), Type.String({ minLength: 1 })]), { description: 'States in which a close has nothing to do (default 6, 7, 8: Resolved, Closed, Canceled)' })),
    close_codes: Type.Optional(
      Type.Object(
        { true_positive: Type.Optional(Type.String({ minLength: 1 })), false_positive: Type.Optional(Type.String({ minLength: 1 })), benign: Type.Optional(Type.String({ minLength: 1 })) },
        { additionalProperties: false, description: 'close_code by verdict' },
      ),
    ),
    ...ticketSettingsSchema,
  },
  { additionalProperties: false },
);
export type ServicenowTicketConfig = Static<typeof ServicenowTicketSchema>;

/** What execute stores with the action, and what follow-ups read back. */
export interface ServicenowTicketResult extends TicketRef {
  /** sys_id */
  id: string;
  /** INC0010001 */
  number: string;
  table: string;
}

/** Base-system priority 1–5 from urgency × impact: critical → 1, high → 2, medium → 3, low → 4, info → 5. */
export const DEFAULT_PRIORITIES: Record<SeverityBand, { urgency: 1 | 2 | 3; impact: 1 | 2 | 3 }> = {
  critical: { urgency: 1, impact: 1 },
  high: { urgency: 1, impact: 2 },
  medium: { urgency: 2, impact: 2 },
  low: { urgency: 3, impact: 2 },
  info: { urgency: 3, impact: 3 },
};

/** The incident table's base-system close codes (Utah and later). */
export const DEFAULT_CLOSE_CODES: Record<string, string> = {
  true_positive: 'Solution provided',
  false_positive: 'No resolution provided',
  benign: 'No resolution provided',
};

const SYS_ID = /^[0-9a-f]{32}$/;
const SAFE_CORRELATION = /^[A-Za-z0-9:._-]{1,100}$/;

/** The correlation id for an idempotency key: the key itself when it is safe in an encoded query and fits. */
export function correlationId(idempotencyKey: string): string {
  return SAFE_CORRELATION.test(idempotencyKey) ? idempotencyKey : `fido-${keyHash(idempotencyKey, 40)}`;
}

/**
 * Text for a ServiceNow field: an instance that allows the [code] tag renders [code]…[/code] in journal fields
 * (work notes) as HTML, so the tag never reaches it, in any field.
 */
export function snowText(text: string): string {
  return text.replace(/\[(\/?code)\]/gi, '($1)');
}

function check(cfg: ServicenowTicketConfig): ComponentProblem[] {
  const out: ComponentProblem[] = [];
  const url = ticketUrlProblem(cfg.url, cfg.allow_private);
  if (url) out.push({ key: 'url', message: url });
  const basic = cfg.username !== undefined || cfg.password !== undefined;
  if (basic && cfg.token !== undefined) out.push({ key: 'token', message: 'give either username and password or token, not both' });
  else if (basic && (cfg.username === undefined || cfg.password === undefined)) out.push({ key: cfg.username === undefined ? 'username' : 'password', message: 'basic auth needs both username and password' });
  else if (!basic && cfg.token === undefined) out.push({ key: 'password', message: 'set username and password, or token' });
  return out;
}

/** ServiceNow's error body: {"error": {"message", "detail"}, "status": "failure"}. */
function snowMessage(body: unknown): string {
  const e = (body as { error?: { message?: unknown; detail?: unknown } } | null)?.error;
  if (!e) return '';
  const m = typeof e.message === 'string' ? e.message : '';
  const d = typeof e.detail === 'string' && e.detail ? e.detail : '';
  return d && d !== m ? `${m} (${d})` : m;
}

async function create(cfg: ServicenowTicketConfig, deps: ActionDeps): Promise<ActionTarget> {
  const conn = ticketConnection(cfg, deps);
  const { key } = conn;
  const problem = check(cfg)[0];
  if (problem) throw new Error(`${key}.${problem.key}: ${problem.message}`);
  const password = secretValue(cfg.password, `${key}.password`);
  const token = secretValue(cfg.token, `${key}.token`);
  const authorization = token !== undefined ? `Bearer ${token}` : `Basic ${Buffer.from(`${cfg.username ?? ''}:${password ?? ''}`).toString('base64')}`;
  const http = createTicketHttp({ ...conn, url: cfg.url, headers: { authorization }, secrets: [password, token].filter((x): x is string => !!x), vendorMessage: snowMessage });
  const table = cfg.table ?? 'incident';
  const tablePath = `/api/now/table/${table}`;
  const resolved = String(cfg.resolved_state ?? 6);
  const done = new Set((cfg.done_states ?? [6, 7, 8]).map(String));
  const fieldsParam = { sysparm_fields: 'sys_id,number,state', sysparm_exclude_reference_link: 'true' };

  const link = (sysId: string) => {
    const u = new URL(http.baseUrl.href);
    u.pathname = `${u.pathname.replace(/\/$/, '')}/${table}.do`;
    u.search = `sys_id=${sysId}`;
    return u.href;
  };
  /** The record a Table API answer carries (`result`, an object or a list's first), checked before its id goes into a path. */
  const recordOf = (body: unknown, what: string): { sys_id: string; number: string; state: string } | null => {
    const r = (body as { result?: unknown } | null)?.result;
    const one = (Array.isArray(r) ? r[0] : r) as { sys_id?: unknown; number?: unknown; state?: unknown } | undefined;
    if (one === undefined) return null;
    if (typeof one?.sys_id !== 'string' || !SYS_ID.test(one.sys_id)) throw new ActionError(`${key}: ${what} answered without a usable sys_id`, true);
    return { sys_id: one.sys_id, number: typeof one.number === 'string' ? one.number : one.sys_id, state: one.state === undefined ? '' : String(one.state) };
  };
  const ref = (r: { sys_id: string; number: string }): ServicenowTicketResult => ({ id: r.sys_id, number: r.number, url: link(r.sys_id), table });
  const levels = (band: SeverityBand) => byBand(band, DEFAULT_PRIORITIES, cfg.priorities);

  const driver: TicketDriver = {
    async find(idempotencyKey, signal) {
      const res = await http.call('GET', tablePath, { signal, query: { sysparm_query: `correlation_id=${correlationId(idempotencyKey)}`, sysparm_limit: '1', ...fieldsParam } });
      const r = recordOf(res.body, `GET ${tablePath}`);
      if (r === null && !Array.isArray((res.body as { result?: unknown } | null)?.result)) throw new ActionError(`${key}: GET ${tablePath} answered without a result list`, true);
      return r && ref(r);
    },
    async create(ctx, s) {
      const body = {
        short_description: snowText(oneLine(`Fido: ${s.title}`, 160)),
        description: snowText(plainText(ticketText(s))),
        ...levels(s.band),
        ...(cfg.assignment_group ? { assignment_group: cfg.assignment_group } : {}),
        ...cfg.fields,
        correlation_id: correlationId(ctx.idempotencyKey),
        correlation_display: 'Fido',
      };
      const res = await http.call('POST', tablePath, { signal: ctx.signal, query: fieldsParam, json: body });
      const r = recordOf(res.body, `POST ${tablePath}`);
      if (!r) throw new ActionError(`${key}: POST ${tablePath} answered without the record`, true, undefined, true);
      return ref(r);
    },
    async update(ctx, t, s) {
      // A record someone resolved or closed is read-only for most roles (an ACL 403): it is left as it is.
      const now = await state(t, ctx.signal);
      if (done.has(now)) return { updated: false, state: now, reason: 'the record is resolved or closed' };
      const body = { ...levels(s.band), short_description: snowText(oneLine(`Fido: ${s.title}`, 160)), work_notes: snowText(updateNote(s)) };
      await patch(t, body, ctx.signal);
      return { updated: true, score: s.score, band: s.band, outcome: s.outcome };
    },
    async close(ctx, t, s, verdict) {
      const now = await state(t, ctx.signal);
      if (done.has(now)) return { closed: true, already: true, state: now };
      const codes: Record<string, string | undefined> = { ...DEFAULT_CLOSE_CODES, ...cfg.close_codes };
      const code = codes[verdict.verdict] ?? 'Solution provided';
      await patch(t, { state: resolved, close_code: code, close_notes: snowText(closeNote(verdict, s)) }, ctx.signal);
      return { closed: true, already: false, state: resolved, close_code: code };
    },
    refOf(result) {
      return typeof result.id === 'string' && SYS_ID.test(result.id) && typeof result.number === 'string' ? ref({ sys_id: result.id, number: result.number }) : null;
    },
    dispose: () => http.close(),
  };

  function gone(t: TicketRef, res: Parameters<typeof http.said>[0]): ActionError {
    return new ActionError(`${key}: ${t.number} (${table} ${t.id}) no longer exists or is not readable: ${http.said(res)}`, false);
  }
  /** The record's state now ('' when the answer has none). */
  async function state(t: TicketRef, signal: AbortSignal): Promise<string> {
    const res = await http.call('GET', `${tablePath}/${t.id}`, { signal, query: fieldsParam, accept: [404] });
    if (res.status === 404) throw gone(t, res);
    return recordOf(res.body, `GET ${tablePath}/${t.id}`)?.state ?? '';
  }
  async function patch(t: TicketRef, body: Record<string, unknown>, signal: AbortSignal): Promise<void> {
    const res = await http.call('PATCH', `${tablePath}/${t.id}`, { signal, query: fieldsParam, json: body, accept: [404] });
    if (res.status === 404) throw gone(t, res);
  }

  return ticketTarget(cfg.name, 'servicenow_ticket', deps, driver);
}

const servicenowTicket = defineAction({
  kind: 'servicenow_ticket',
  description: 'Opens a ServiceNow record for the incident (Table API), updates it as the incident changes, resolves it on the verdict',
  schema: ServicenowTicketSchema,
  check,
  create,
  follows: true,
});
export default servicenowTicket;
