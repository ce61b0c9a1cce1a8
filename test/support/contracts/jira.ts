/**
 * A stand-in for a Jira Cloud site's REST API v3 that holds issues, for the jira_ticket tests and any test that
 * counts tickets (a crash test). Written after the documented API
 * (https://developer.atlassian.com/cloud/jira/platform/rest/v3/):
 *
 *  - api-group-issues: POST /rest/api/3/issue {fields} → 201 {id, key, self}; 400 {errorMessages, errors} for
 *    a bad field (summary over 255 characters or with a line break, a description that is not ADF, a label
 *    with a space); GET /rest/api/3/issue/{key}?fields=status; PUT /rest/api/3/issue/{key} → 204;
 *    GET/POST /rest/api/3/issue/{key}/transitions (POST → 204, 400 for a transition not valid from the
 *    status); 404 "Issue does not exist or you do not have permission to see it."
 *  - api-group-issue-comments: POST /rest/api/3/issue/{key}/comment {body: ADF} → 201.
 *  - api-group-issue-search: GET /rest/api/3/search/jql?jql=… → {issues, isLast}; the old
 *    GET /rest/api/3/search answers 410 (removed, CHANGE-2046). JQL: clauses `field = value` joined by AND;
 *    a value with a reserved character (such as -) must be quoted, else 400.
 *  - apis/document/structure: ADF {type: doc, version: 1, content}; text nodes need non-empty text.
 *  - Basic auth with e-mail and API token; without it 401. Rate limits
 *    (https://developer.atlassian.com/cloud/jira/platform/rate-limiting/): 429 with Retry-After (seconds) and
 *    X-RateLimit-* headers, injected by tests through `override`.
 *
 * Workflow: To Do (new) → In Progress (indeterminate) → Done (done); "Done" (31) from To Do and In Progress,
 * "Reopen" (41) from Done.
 */
import { startContract, type ContractHandler, type ContractReply, type ContractRequest, type ContractServer } from '../contract.js';
import type { Cert } from '../servers.js';

export interface JiraIssue {
  id: string;
  key: string;
  fields: Record<string, unknown> & { labels: string[]; summary: string; description: unknown };
  status: 'To Do' | 'In Progress' | 'Done';
  /** ADF bodies of the comments, oldest first. */
  comments: unknown[];
}

export interface JiraOptions {
  email?: string;
  token?: string;
  /** Project keys that exist (default SEC). */
  projects?: string[];
  /** Issue type names (default Task, Bug, Incident). */
  issueTypes?: string[];
}

export interface JiraServer {
  issues: Map<string, JiraIssue>;
  handler: ContractHandler;
  /** Effects carried out. */
  counts: { created: number; edited: number; comments: number; transitions: number };
  readonly created: number;
  /** Issues that carry `label`. */
  byLabel(label: string): JiraIssue[];
  /** Issues whose description names Fido incident `incidentId` (a paragraph "Incident: <id>"). */
  byIncident(incidentId: string): JiraIssue[];
  setOverride(f: ((r: ContractRequest) => ContractReply | undefined) | null): void;
  /** Carry out the next request `match` accepts, then never answer it. */
  hangAfter(match: (r: ContractRequest) => boolean): void;
  start(o?: { tls?: Cert }): Promise<ContractServer>;
  readonly credentials: { email: string; token: string };
}

const CATEGORY = { 'To Do': 'new', 'In Progress': 'indeterminate', Done: 'done' } as const;
const TRANSITIONS = [
  { id: '21', name: 'Start Progress', to: 'In Progress', from: ['To Do'] },
  { id: '31', name: 'Done', to: 'Done', from: ['To Do', 'In Progress'] },
  { id: '41', name: 'Reopen', to: 'To Do', from: ['Done'] },
] as const;

const errors = (status: number, errorMessages: string[], errs: Record<string, string> = {}): ContractReply => ({ status, json: { errorMessages, errors: errs } });
const notFound = () => errors(404, ['Issue does not exist or you do not have permission to see it.']);

/** Whether `v` is an ADF document whose text nodes all carry text (the parts of the structure Fido uses). */
function isAdf(v: unknown): boolean {
  const d = v as { type?: unknown; version?: unknown; content?: unknown } | null;
  if (d?.type !== 'doc' || d.version !== 1 || !Array.isArray(d.content)) return false;
  const ok = (n: unknown): boolean => {
    const x = n as { type?: unknown; text?: unknown; content?: unknown } | null;
    if (!x || typeof x.type !== 'string') return false;
    if (x.type === 'text') return typeof x.text === 'string' && x.text.length > 0;
    if (x.type === 'doc') return false;
    return x.content === undefined || (Array.isArray(x.content) && x.content.every(ok));
  };
  return d.content.every(ok);
}

/** The text of each paragraph of an ADF document (its text nodes joined). */
export function paragraphs(n: unknown): string[] {
  const x = n as { type?: unknown; text?: unknown; content?: unknown } | null;
  if (!x || !Array.isArray(x.content)) return [];
  if (x.type === 'paragraph') return [x.content.map((c) => String((c as { text?: unknown }).text ?? '')).join('')];
  return x.content.flatMap(paragraphs);
}

/**
 * The JQL subset: `field = value` clauses joined by AND, values quoted ("…" with \" and \\ escapes) or bare
 * words without reserved characters. Returns the clauses, or an error message as Jira words it.
 */
function parseJql(jql: string): [string, string][] | string {
  const out: [string, string][] = [];
  let i = 0;
  const ws = () => {
    while (jql[i] === ' ') i++;
  };
  for (;;) {
    ws();
    const f = /^[A-Za-z_]+/.exec(jql.slice(i));
    if (!f) return `Error in the JQL Query: Expecting a field name at position ${i}.`;
    i += f[0].length;
    ws();
    if (jql[i] !== '=') return `Error in the JQL Query: Expecting operator '=' at position ${i}.`;
    i++;
    ws();
    let value = '';
    if (jql[i] === '"') {
      i++;
      while (i < jql.length && jql[i] !== '"') {
        if (jql[i] === '\\') i++;
        value += jql[i] ?? '';
        i++;
      }
      if (jql[i] !== '"') return 'Error in the JQL Query: The quoted string has not been completed.';
      i++;
    } else {
      const w = /^[^\s"]+/.exec(jql.slice(i));
      if (!w) return `Error in the JQL Query: Expecting a value at position ${i}.`;
      const reserved = /[-+.,;?|*/%^$#@[\]=!<>~&(){}]/.exec(w[0]);
      if (reserved) return `Error in the JQL Query: The character '${reserved[0]}' is a reserved JQL character. You must enclose it in a string or use the escape '\\u${reserved[0].charCodeAt(0).toString(16).padStart(4, '0')}' instead. (line 1, character ${i + reserved.index + 1})`;
      value = w[0];
      i += w[0].length;
    }
    out.push([f[0].toLowerCase(), value]);
    ws();
    if (i >= jql.length) return out;
    if (jql.slice(i, i + 3).toUpperCase() !== 'AND') return `Error in the JQL Query: Expecting AND at position ${i}.`;
    i += 3;
  }
}

export function jiraServer(o: JiraOptions = {}): JiraServer {
  const credentials = { email: o.email ?? 'fido@corp.example', token: o.token ?? 'jira-token-SECRET' };
  const projects = new Set(o.projects ?? ['SEC']);
  const types = new Set(o.issueTypes ?? ['Task', 'Bug', 'Incident']);
  const issues = new Map<string, JiraIssue>();
  const counts = { created: 0, edited: 0, comments: 0, transitions: 0 };
  let nextId = 10000;
  let override: ((r: ContractRequest) => ContractReply | undefined) | null = null;
  let hang: ((r: ContractRequest) => boolean) | null = null;

  const statusOf = (i: JiraIssue) => ({ name: i.status, statusCategory: { key: CATEGORY[i.status] } });
  const find = (ref: string) => issues.get(ref) ?? [...issues.values()].find((x) => x.id === ref);

  function site(r: ContractRequest): ContractReply {
    if (r.headers.authorization !== `Basic ${Buffer.from(`${credentials.email}:${credentials.token}`).toString('base64')}`) {
      return { status: 401, headers: { 'content-type': 'text/plain' }, body: 'Client must be authenticated to access this resource.' };
    }
    const body = (r.json ?? {}) as Record<string, unknown>;
    if (r.method !== 'GET' && (typeof r.json !== 'object' || r.json === null)) return errors(400, ['Unexpected character: was expecting a JSON object.']);
    if (r.path === '/rest/api/3/search') return errors(410, ['The requested API has been removed. Please migrate to the /rest/api/3/search/jql API.']);
    if (r.path === '/rest/api/3/search/jql' && (r.method === 'GET' || r.method === 'POST')) {
      const jql = r.method === 'GET' ? (r.query.get('jql') ?? '') : String(body.jql ?? '');
      const clauses = parseJql(jql);
      if (typeof clauses === 'string') return errors(400, [clauses]);
      const max = Number(r.method === 'GET' ? (r.query.get('maxResults') ?? '50') : (body.maxResults ?? 50));
      const found = [...issues.values()].filter((i) =>
        clauses.every(([f, v]) => (f === 'project' ? i.key.startsWith(`${v}-`) : f === 'labels' ? i.fields.labels.includes(v) : f === 'key' ? i.key === v : false)),
      );
      return { json: { issues: found.slice(0, max).map((i) => ({ id: i.id, key: i.key, self: `/rest/api/3/issue/${i.id}`, fields: { status: statusOf(i) } })), isLast: found.length <= max } };
    }
    if (r.path === '/rest/api/3/issue' && r.method === 'POST') {
      const f = (body.fields ?? {}) as Record<string, unknown>;
      const bad: Record<string, string> = {};
      const project = (f.project as { key?: unknown } | undefined)?.key;
      if (typeof project !== 'string' || !projects.has(project)) bad.project = 'valid project is required';
      const type = (f.issuetype as { name?: unknown } | undefined)?.name;
      if (typeof type !== 'string' || !types.has(type)) bad.issuetype = 'Specify an issue type';
      if (typeof f.summary !== 'string' || !f.summary) bad.summary = 'You must specify a summary of the issue.';
      else if (f.summary.length > 255) bad.summary = 'Summary must be less than 255 characters.';
      else if (/[\r\n]/.test(f.summary)) bad.summary = 'The summary is invalid because it contains newline characters.';
      if (f.description !== undefined && !isAdf(f.description)) bad.description = 'Operation value must be an Atlassian Document (see the Atlassian Document Format).';
      const labels = f.labels ?? [];
      if (!Array.isArray(labels) || labels.some((l) => typeof l !== 'string' || /\s/.test(l) || l.length > 255)) bad.labels = 'The label cannot contain spaces.';
      if (Object.keys(bad).length) return errors(400, [], bad);
      const id = String(++nextId);
      const key = `${project as string}-${nextId - 10000}`;
      issues.set(key, { id, key, fields: { ...f, labels: labels as string[], summary: f.summary as string, description: f.description }, status: 'To Do', comments: [] });
      counts.created++;
      return { status: 201, json: { id, key, self: `/rest/api/3/issue/${id}` } };
    }
    const m = /^\/rest\/api\/3\/issue\/([^/]+)(\/comment|\/transitions)?$/.exec(r.path);
    if (!m) return errors(404, ['Not found']);
    const issue = find(decodeURIComponent(m[1]!));
    if (!issue) return notFound();
    if (!m[2] && r.method === 'GET') return { json: { id: issue.id, key: issue.key, fields: { ...issue.fields, status: statusOf(issue) } } };
    if (!m[2] && r.method === 'PUT') {
      const f = (body.fields ?? {}) as Record<string, unknown>;
      if (f.description !== undefined && !isAdf(f.description)) return errors(400, [], { description: 'Operation value must be an Atlassian Document.' });
      Object.assign(issue.fields, f);
      counts.edited++;
      return { status: 204 };
    }
    if (m[2] === '/comment' && r.method === 'POST') {
      if (!isAdf(body.body)) return errors(400, [], { comment: 'Comment body is not valid!' });
      issue.comments.push(body.body);
      counts.comments++;
      return { status: 201, json: { id: String(issue.comments.length + 100), body: body.body } };
    }
    if (m[2] === '/transitions' && r.method === 'GET') {
      const avail = TRANSITIONS.filter((t) => (t.from as readonly string[]).includes(issue.status));
      return { json: { transitions: avail.map((t) => ({ id: t.id, name: t.name, hasScreen: false, to: { name: t.to, statusCategory: { key: CATEGORY[t.to] } } })) } };
    }
    if (m[2] === '/transitions' && r.method === 'POST') {
      const id = (body.transition as { id?: unknown } | undefined)?.id;
      const t = TRANSITIONS.find((x) => x.id === id && (x.from as readonly string[]).includes(issue.status));
      if (!t) return errors(400, [`Transition id '${String(id)}' is not valid for this issue.`]);
      issue.status = t.to;
      counts.transitions++;
      return { status: 204 };
    }
    return errors(405, ['Method not allowed']);
  }

  const handler: ContractHandler = (r) => {
    const o = override?.(r);
    if (o) return o;
    if (hang?.(r)) {
      hang = null;
      site(r);
      return { hang: true };
    }
    return site(r);
  };

  return {
    issues,
    handler,
    counts,
    get created() {
      return counts.created;
    },
    byLabel: (label) => [...issues.values()].filter((i) => i.fields.labels.includes(label)),
    byIncident: (id) => [...issues.values()].filter((i) => paragraphs(i.fields.description).includes(`Incident: ${id}`)),
    setOverride(f) {
      override = f;
    },
    hangAfter(match) {
      hang = match;
    },
    start: (so = {}) => startContract(handler, so),
    credentials,
  };
}
