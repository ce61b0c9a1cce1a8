/**
 * jira_ticket: opens a Jira Cloud issue for the incident (REST API v3), comments on it when the score or
 * decision changes, transitions it to done on the verdict. Follows.
 *
 *   - name: jira
 *     kind: jira_ticket
 *     url: https://corp.atlassian.net
 *     email: fido@corp.example                 # basic auth: account e-mail …
 *     api_token: ${env:FIDO_JIRA_TOKEN}       # … and an API token
 *     project: SEC
 *     issue_type: Task                         # default
 *     labels: [security]
 *     priorities: { critical: Highest, high: High }   # optional: sets the priority by score band
 *     close_transition: Done                   # default
 *
 * Calls (https://developer.atlassian.com/cloud/jira/platform/rest/v3/):
 *   find    GET  /rest/api/3/search/jql?jql=project = "SEC" AND labels = "fido-<hash>"   (api-group-issue-search)
 *   create  POST /rest/api/3/issue   {fields: {project, issuetype, summary, description (ADF), labels, …}}
 *   update  PUT  /rest/api/3/issue/{key} {fields: {priority}} (only with `priorities`), POST …/{key}/comment (ADF)
 *   close   GET  /rest/api/3/issue/{key}?fields=status; unless done: GET …/transitions, POST …/comment, POST …/transitions
 *
 * Every issue gets the label `fido-<sha256 prefix of the idempotency key>`: the search before a create (and
 * `reconcile`) finds the issue an earlier attempt made. The description and comments are Atlassian Document
 * Format (https://developer.atlassian.com/cloud/jira/platform/apis/document/structure/): alert text is carried
 * in text nodes, as data, never as markup.
 */
import { Buffer } from 'node:buffer';
import { Type, type Static } from 'typebox';
import type { ComponentProblem } from '../../component/component.js';
import { SecretString } from '../../enrich/remote.js';
import { ActionError, defineAction, type ActionDeps, type ActionTarget } from '../action.js';
import { secretValue } from '../target-config.js';
import type { IncidentSummary } from './lib/incident-summary.js';
import {
  bandMapSchema,
  closeNote,
  createTicketHttp,
  keyHash,
  oneLine,
  ticketConnection,
  ticketSettingsSchema,
  ticketTarget,
  ticketText,
  ticketUrlProblem,
  updateNote,
  type TicketDriver,
  type TicketRef,
  type TicketText,
} from './lib/ticket.js';

const LABEL = '^[^\\s]{1,255}$';

export const JiraTicketSchema = Type.Object(
  {
    name: Type.String(),
    kind: Type.Literal('jira_ticket'),
    url: Type.String({ pattern: '^[Hh][Tt][Tt][Pp][Ss]?://', description: 'The site URL, e.g. https://corp.atlassian.net' }),
    email: Type.String({ minLength: 1, description: 'The account the API token belongs to' }),
    api_token: SecretString,
    project: Type.String({ pattern: '^[A-Z][A-Z0-9_]{0,49}$', description: 'Project key' }),
    issue_type: Type.Optional(Type.String({ minLength: 1, description: 'Issue type name (default Task)' })),
    labels: Type.Optional(Type.Array(Type.String({ pattern: LABEL }), { description: 'More labels (no spaces)' })),
    components: Type.Optional(Type.Array(Type.String({ minLength: 1 }), { description: 'Component names' })),
    priorities: bandMapSchema(Type.String({ minLength: 1 }), 'Priority name by score band; without it the priority is left to Jira'),
    fields: Type.Optional(Type.Record(Type.String({ pattern: '^[A-Za-z][A-Za-z0-9_]{0,99}$' }), Type.Unknown(), { description: 'More fields of the created issue (customfield_10010: {value: …})' })),
    close_transition: Type.Optional(Type.String({ minLength: 1, description: 'The transition a verdict takes (default Done)' })),
    ...ticketSettingsSchema,
  },
  { additionalProperties: false },
);
export type JiraTicketConfig = Static<typeof JiraTicketSchema>;

/** What execute stores with the action, and what follow-ups read back. */
export interface JiraTicketResult extends TicketRef {
  /** The issue id ("10042"). */
  id: string;
  /** The issue key ("SEC-42"). */
  number: string;
  label: string;
}

const ISSUE_KEY = /^[A-Z][A-Z0-9_]*-[0-9]{1,12}$/;
const ISSUE_ID = /^[0-9]{1,20}$/;

/** The label that ties an issue to the action that opened it. */
export function dedupLabel(idempotencyKey: string): string {
  return `fido-${keyHash(idempotencyKey, 24)}`;
}

/** A JQL string literal (labels and keys with reserved characters such as - must be quoted). */
export function jqlString(value: string): string {
  return `"${value.replace(/["\\]/g, (c) => `\\${c}`)}"`;
}

// --- Atlassian Document Format -------------------------------------------------------------------------

type AdfMark = { type: 'strong' } | { type: 'link'; attrs: { href: string } };
export interface AdfNode {
  type: string;
  /** The document's ADF version (always 1). */
  version?: 1;
  text?: string;
  marks?: AdfMark[];
  attrs?: Record<string, unknown>;
  content?: AdfNode[];
}

/** A text node; ADF refuses empty ones, so callers filter (para does). */
const text = (t: string, marks?: AdfMark[]): AdfNode => ({ type: 'text', text: t, ...(marks ? { marks } : {}) });
const para = (...nodes: AdfNode[]): AdfNode => ({ type: 'paragraph', content: nodes.filter((n) => n.text !== '') });
const heading = (t: string): AdfNode => ({ type: 'heading', attrs: { level: 4 }, content: [text(t)] });
const bullets = (items: string[]): AdfNode => ({ type: 'bulletList', content: items.map((i) => ({ type: 'listItem', content: [para(text(i))] })) });
const doc = (content: AdfNode[]): AdfNode => ({ type: 'doc', version: 1, content });

/** The incident as an ADF document. */
export function adfDescription(t: TicketText): AdfNode {
  const out: AdfNode[] = [para(text(oneLine(t.title, 1000))), ...t.facts.map(([k, v]) => para(text(`${k}: `, [{ type: 'strong' }]), text(v)))];
  if (t.factors.length) out.push(heading('Why this score'), bullets(t.factors));
  if (t.indicators.length) out.push(heading('Indicators'), bullets(t.indicators));
  // incidentUrl made the link from server.public_url (http or https only), not from the alert.
  if (t.link) out.push(para(text('In Fido: '), text(t.link, [{ type: 'link', attrs: { href: t.link } }])));
  return doc(out);
}

/** A comment of one paragraph. */
export function adfNote(note: string): AdfNode {
  return doc([para(text(note))]);
}

// --- The kind ------------------------------------------------------------------------------------------

function check(cfg: JiraTicketConfig): ComponentProblem[] {
  const url = ticketUrlProblem(cfg.url, cfg.allow_private);
  return url ? [{ key: 'url', message: url }] : [];
}

/** Jira's error body: {"errorMessages": [...], "errors": {field: message}}. */
function jiraMessage(body: unknown): string {
  const b = body as { errorMessages?: unknown; errors?: unknown } | null;
  if (!b || typeof b !== 'object') return '';
  const list = Array.isArray(b.errorMessages) ? b.errorMessages.filter((m): m is string => typeof m === 'string') : [];
  const fields = b.errors && typeof b.errors === 'object' ? Object.entries(b.errors as Record<string, unknown>).map(([k, v]) => `${k}: ${String(v)}`) : [];
  return [...list, ...fields].join('; ');
}

interface IssueStatus {
  name: string;
  category: string;
}

async function create(cfg: JiraTicketConfig, deps: ActionDeps): Promise<ActionTarget> {
  const conn = ticketConnection(cfg, deps);
  const { key } = conn;
  const problem = check(cfg)[0];
  if (problem) throw new Error(`${key}.${problem.key}: ${problem.message}`);
  const token = secretValue(cfg.api_token, `${key}.api_token`);
  const authorization = `Basic ${Buffer.from(`${cfg.email}:${token}`).toString('base64')}`;
  const http = createTicketHttp({ ...conn, url: cfg.url, headers: { authorization }, secrets: [token], vendorMessage: jiraMessage });
  const transitionName = cfg.close_transition ?? 'Done';

  const link = (issueKey: string) => {
    const u = new URL(http.baseUrl.href);
    u.pathname = `${u.pathname.replace(/\/$/, '')}/browse/${issueKey}`;
    return u.href;
  };
  /** An issue's id and key from an answer, checked before the key goes into a path. */
  const issueOf = (v: unknown, what: string, unknownOutcome = false): { id: string; key: string } => {
    const i = v as { id?: unknown; key?: unknown } | null;
    if (typeof i?.id !== 'string' || !ISSUE_ID.test(i.id) || typeof i.key !== 'string' || !ISSUE_KEY.test(i.key)) {
      throw new ActionError(`${key}: ${what} answered without a usable issue id and key`, true, undefined, unknownOutcome);
    }
    return { id: i.id, key: i.key };
  };
  const ref = (i: { id: string; key: string }, label: string): JiraTicketResult => ({ id: i.id, number: i.key, url: link(i.key), label });
  const priority = (s: IncidentSummary) => cfg.priorities?.[s.band];

  async function status(t: TicketRef, signal: AbortSignal): Promise<IssueStatus> {
    const path = `/rest/api/3/issue/${t.number}`;
    const res = await http.call('GET', path, { signal, query: { fields: 'status' }, accept: [404] });
    if (res.status === 404) throw gone(t, res);
    const st = (res.body as { fields?: { status?: { name?: unknown; statusCategory?: { key?: unknown } } } } | null)?.fields?.status;
    return { name: typeof st?.name === 'string' ? st.name : '?', category: typeof st?.statusCategory?.key === 'string' ? st.statusCategory.key : '' };
  }
  function gone(t: TicketRef, res: Parameters<typeof http.said>[0]): ActionError {
    return new ActionError(`${key}: issue ${t.number} no longer exists or is not visible to ${cfg.email}: ${http.said(res)}`, false);
  }
  async function comment(t: TicketRef, note: string, signal: AbortSignal): Promise<void> {
    const res = await http.call('POST', `/rest/api/3/issue/${t.number}/comment`, { signal, json: { body: adfNote(note) }, accept: [404] });
    if (res.status === 404) throw gone(t, res);
  }

  const driver: TicketDriver = {
    async find(idempotencyKey, signal) {
      const label = dedupLabel(idempotencyKey);
      const jql = `project = ${jqlString(cfg.project)} AND labels = ${jqlString(label)}`;
      const res = await http.call('GET', '/rest/api/3/search/jql', { signal, query: { jql, fields: 'status', maxResults: '1' } });
      const issues = (res.body as { issues?: unknown } | null)?.issues;
      if (!Array.isArray(issues)) throw new ActionError(`${key}: GET /rest/api/3/search/jql answered without an issues list`, true);
      return issues.length ? ref(issueOf(issues[0], 'GET /rest/api/3/search/jql'), label) : null;
    },
    async create(ctx, s) {
      const label = dedupLabel(ctx.idempotencyKey);
      const p = priority(s);
      const fields = {
        ...cfg.fields,
        project: { key: cfg.project },
        issuetype: { name: cfg.issue_type ?? 'Task' },
        summary: oneLine(`Fido: ${s.title}`, 255),
        description: adfDescription(ticketText(s)),
        labels: [...new Set(['fido', label, ...(cfg.labels ?? [])])],
        ...(cfg.components?.length ? { components: cfg.components.map((name) => ({ name })) } : {}),
        ...(p ? { priority: { name: p } } : {}),
      };
      const res = await http.call('POST', '/rest/api/3/issue', { signal: ctx.signal, json: { fields } });
      return ref(issueOf(res.body, 'POST /rest/api/3/issue', true), label);
    },
    async update(ctx, t, s) {
      const p = priority(s);
      if (p) {
        const res = await http.call('PUT', `/rest/api/3/issue/${t.number}`, { signal: ctx.signal, json: { fields: { priority: { name: p } } }, accept: [404] });
        if (res.status === 404) throw gone(t, res);
      }
      await comment(t, updateNote(s), ctx.signal);
      return { score: s.score, band: s.band, outcome: s.outcome, ...(p ? { priority: p } : {}) };
    },
    async close(ctx, t, s, verdict) {
      const before = await status(t, ctx.signal);
      if (before.category === 'done') return { closed: true, already: true, status: before.name };
      const path = `/rest/api/3/issue/${t.number}/transitions`;
      const res = await http.call('GET', path, { signal: ctx.signal, accept: [404] });
      if (res.status === 404) throw gone(t, res);
      const list = (res.body as { transitions?: unknown } | null)?.transitions;
      const transitions = (Array.isArray(list) ? list : []) as { id?: unknown; name?: unknown }[];
      const tr = transitions.find((x) => typeof x.name === 'string' && x.name.toLowerCase() === transitionName.toLowerCase());
      if (!tr || typeof tr.id !== 'string') {
        const names = transitions.map((x) => (typeof x.name === 'string' ? oneLine(x.name, 60) : '?')).join(', ');
        throw new ActionError(`${key}: issue ${t.number} (status ${oneLine(before.name, 60)}) has no transition "${transitionName}" (available: ${names || 'none'}); set close_transition`, false);
      }
      await comment(t, closeNote(verdict, s), ctx.signal);
      // A 400 means the transition no longer applies (someone moved the issue meanwhile): settled by the status.
      const done = await http.call('POST', path, { signal: ctx.signal, json: { transition: { id: tr.id } }, accept: [400, 404, 409] });
      if (done.status >= 400) {
        const after = await status(t, ctx.signal);
        if (after.category !== 'done') throw new ActionError(`${key}: POST ${path} answered ${done.status}: ${http.said(done)}`, false);
        return { closed: true, already: true, status: after.name };
      }
      return { closed: true, already: false, transition: transitionName };
    },
    refOf(result) {
      const label = typeof result.label === 'string' ? result.label : '';
      return typeof result.id === 'string' && ISSUE_ID.test(result.id) && typeof result.number === 'string' && ISSUE_KEY.test(result.number) ? ref({ id: result.id, key: result.number }, label) : null;
    },
    dispose: () => http.close(),
  };

  return ticketTarget(cfg.name, 'jira_ticket', deps, driver);
}

const jiraTicket = defineAction({
  kind: 'jira_ticket',
  description: 'Opens a Jira Cloud issue for the incident, comments as the incident changes, transitions it to done on the verdict',
  schema: JiraTicketSchema,
  check,
  create,
  follows: true,
});
export default jiraTicket;
