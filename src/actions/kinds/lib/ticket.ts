/**
 * What the ticket kinds (kinds/servicenow_ticket.ts, kinds/jira_ticket.ts) share: the config keys every ticket
 * target takes and the check of its url (https; plain http only to a loopback address), one HTTP client whose
 * failures become the executor's ActionErrors (lib/remote-action.ts) worded with the target's key and the
 * vendor's own error text, the incident summary (lib/incident-summary.ts) as ticket text, the score band as a
 * ticket priority, the notes an update and a close write, and `ticketTarget`, the follow logic: execute
 * creates one ticket per idempotency key (found by a search before creating), `follow` updates or closes the
 * ticket the action opened, `reconcile` finds the ticket a call with an unknown outcome may have created. A
 * vendor file only speaks its API (TicketDriver).
 *
 * Everything from the incident is attacker-controlled: it goes into JSON bodies only (JSON.stringify), never
 * into a query, a path or markup; searches use values Fido derives itself (the idempotency key or its hash).
 */
import { createHash } from 'node:crypto';
import { Type, type TSchema } from 'typebox';
import { Duration } from '../../../config/schema.js';
import { parseDuration } from '../../../config/duration.js';
import { createRemoteClient, RemoteError, type HttpMethod, type RemoteResponse } from '../../../enrich/remote.js';
import { outboundUrlProblem } from '../../../util/outbound.js';
import { retryAfterMs } from '../../../util/retry-after.js';
import { ActionError, type ActionContext, type ActionDeps, type ActionTarget, type FollowContext, type Reconciled } from '../../action.js';
import { readTlsCaFile } from '../../target-config.js';
import { remoteActionError, scrubber } from './remote-action.js';
import { summarizeIncident, type IncidentSummary, type SeverityBand } from './incident-summary.js';

export const DEFAULT_TIMEOUT_MS = 15_000;

/** Config keys of every ticket target; spread into its schema. */
export const ticketSettingsSchema = {
  allow_private: Type.Optional(Type.Boolean({ description: 'Allow a url on a private or loopback address (an on-premises instance, a test double)' })),
  tls_ca_file: Type.Optional(Type.String({ description: 'PEM file of a private CA that signed the service certificate' })),
  timeout: Type.Optional(Duration),
};

/** A map from score band to a value, every band optional (a target overrides some of the defaults). */
export function bandMapSchema<T extends TSchema>(value: T, description: string) {
  const band = Type.Optional(value);
  return Type.Optional(Type.Object({ critical: band, high: band, medium: band, low: band, info: band }, { additionalProperties: false, description }));
}

export const targetKey = (cfg: { name: string }): string => `actions.targets.${cfg.name}`;

const LOOPBACK_NAMES = new Set(['localhost', '127.0.0.1', '[::1]']);

/**
 * `check` of a ticket url: https (the credentials are basic auth or a bearer token), plain http only to a
 * loopback address (a test double, a local proxy), and the outbound guard's rules (allow_private).
 */
export function ticketUrlProblem(url: string, allowPrivate: boolean | undefined): string | null {
  const problem = outboundUrlProblem(url, { allowPrivate: allowPrivate ?? false });
  if (problem) return problem;
  const u = new URL(url);
  if (u.protocol === 'http:' && !LOOPBACK_NAMES.has(u.hostname) && !u.hostname.startsWith('127.')) return 'must be https (plain http only to a loopback address)';
  if (u.search || u.hash) return 'must not have a query or fragment';
  return null;
}

// --- Text ------------------------------------------------------------------------------------------------

/** One line of at most `max` characters: control characters and runs of white space become one space. */
export function oneLine(text: string, max: number): string {
  const flat = text.replace(/[\p{Cc}\s]+/gu, ' ').trim();
  return flat.length <= max ? flat : `${flat.slice(0, max - 1)}…`;
}

/** The ticket's text, as data: each kind renders it in its own format (plain text, ADF). */
export interface TicketText {
  title: string;
  /** Label and value, in order. */
  facts: [string, string][];
  /** Score lines, largest effect first: "threat.intel +60: evidence". */
  factors: string[];
  indicators: string[];
  link: string | null;
}

const LINE = 500;

export function scoreText(s: IncidentSummary): string {
  return s.score === null ? 'not scored yet' : `${s.score}/100 (${s.band})`;
}

export function decisionText(s: IncidentSummary): string {
  if (!s.outcome) return 'none yet';
  return s.rule ? `${s.outcome} (rule ${s.rule})` : s.outcome;
}

export function ticketText(s: IncidentSummary): TicketText {
  const facts: [string, string][] = [
    ['Incident', s.id],
    ['Score', scoreText(s)],
    ['Decision', decisionText(s)],
    ['Status', s.verdict ? `${s.status} (verdict ${s.verdict})` : s.status],
  ];
  if (s.host) facts.push(['Host', s.host]);
  if (s.user) facts.push(['User', s.user]);
  facts.push(['Alerts', String(s.alert_count)], ['First seen', s.first_seen], ['Last seen', s.last_seen]);
  if (s.detectors.length) facts.push(['Detectors', s.detectors.join(', ')]);
  return {
    title: s.title,
    facts: facts.map(([k, v]) => [k, oneLine(v, LINE)]),
    factors: s.factors.map((f) => oneLine(`${f.factor} ${f.points >= 0 ? '+' : ''}${f.points}${f.evidence ? `: ${f.evidence}` : ''}`, LINE)),
    indicators: s.indicators.map((i) => oneLine(i, LINE)),
    link: s.link,
  };
}

/** The text as plain text (a ServiceNow description, a note). */
export function plainText(t: TicketText): string {
  const out = [oneLine(t.title, LINE), '', ...t.facts.map(([k, v]) => `${k}: ${v}`)];
  if (t.factors.length) out.push('', 'Why this score:', ...t.factors.map((f) => `- ${f}`));
  if (t.indicators.length) out.push('', 'Indicators:', ...t.indicators.map((i) => `- ${i}`));
  if (t.link) out.push('', `In Fido: ${t.link}`);
  return out.join('\n');
}

/** What an update says: the score and the decision now. */
export function updateNote(s: IncidentSummary): string {
  return `Fido: the incident changed. Score now ${scoreText(s)}; decision now ${decisionText(s)}.`;
}

export interface VerdictInfo {
  verdict: string;
  by: string;
  note?: string | undefined;
}

/** What a close says: the verdict, who gave it, their note, the final score. */
export function closeNote(v: VerdictInfo, s: IncidentSummary): string {
  const note = v.note ? ` Note: ${oneLine(v.note, 2000)}` : '';
  return `Fido: closed with verdict ${oneLine(v.verdict, 100)} by ${oneLine(v.by, 200)}.${note} Final score ${scoreText(s)}.`;
}

/** The band's value: the target's override, else the default. */
export function byBand<T>(band: SeverityBand, defaults: Record<SeverityBand, T>, over?: Partial<Record<SeverityBand, T>>): T {
  return over?.[band] ?? defaults[band];
}

/** A short, query-safe token derived from the idempotency key (a Jira label, a long key's correlation id). */
export function keyHash(idempotencyKey: string, hexChars: number): string {
  return createHash('sha256').update(idempotencyKey).digest('hex').slice(0, hexChars);
}

// --- HTTP ------------------------------------------------------------------------------------------------

export interface TicketHttpOptions {
  /** Config path of the target, the first words of every message. */
  key: string;
  url: string;
  /** The credential header(s); their values are cut out of every message. */
  headers: Record<string, string>;
  /** Further secrets to cut (a password, a token without its scheme word). */
  secrets: string[];
  allowPrivate: boolean;
  ca: string | undefined;
  timeoutMs: number;
  /** The vendor's error text from an error body ("errorMessages", "error.message"). */
  vendorMessage: (body: unknown) => string;
}

export interface TicketCall {
  query?: Record<string, string>;
  json?: unknown;
  signal: AbortSignal;
  /** Statuses returned instead of thrown (a 404 the caller words itself). */
  accept?: number[];
}

export interface TicketHttp {
  readonly baseUrl: URL;
  call(method: HttpMethod, path: string, o: TicketCall): Promise<RemoteResponse>;
  /** The body of an error answer in words (for a status the caller accepted and words itself). */
  said(res: RemoteResponse): string;
  close(): Promise<void>;
}

function firstHeader(res: RemoteResponse, name: string): string | undefined {
  const v = res.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** The pause a 429 asks for: Retry-After (seconds or a date), else X-RateLimit-Reset (epoch seconds or an ISO time). */
export function rateLimitPause(res: RemoteResponse, nowMs: number): number | undefined {
  const ra = retryAfterMs(firstHeader(res, 'retry-after'), nowMs);
  if (ra !== undefined) return ra;
  const reset = firstHeader(res, 'x-ratelimit-reset')?.trim();
  if (!reset) return undefined;
  const at = /^\d{1,15}$/.test(reset) ? Number(reset) * 1000 : Date.parse(reset);
  return Number.isFinite(at) ? Math.max(0, at - nowMs) : undefined;
}

export function createTicketHttp(o: TicketHttpOptions): TicketHttp {
  const client = createRemoteClient({
    key: o.key,
    baseUrl: o.url,
    headers: o.headers,
    secrets: o.secrets,
    allowPrivate: o.allowPrivate,
    ...(o.ca !== undefined ? { ca: o.ca } : {}),
    timeoutMs: o.timeoutMs,
    maxBytes: 1 << 20,
    userAgent: 'fido-actions/1',
  });
  const scrub = scrubber(() => [...Object.values(o.headers), ...o.secrets]);
  const base = client.baseUrl;
  const said = (res: RemoteResponse): string => {
    const v = o.vendorMessage(res.body);
    const text = v || (typeof res.body === 'string' ? res.body : res.body === null ? '' : JSON.stringify(res.body));
    return scrub(oneLine(text, 300));
  };

  async function call(method: HttpMethod, path: string, c: TicketCall): Promise<RemoteResponse> {
    const write = method !== 'GET';
    const options = { mutating: write, prefix: o.key, scrub, signal: c.signal, authHint: 'check the credentials and their permissions' };
    let res: RemoteResponse;
    try {
      res = await client.send({ method, path, signal: c.signal, ...(c.query ? { query: c.query } : {}), ...(c.json !== undefined ? { json: c.json } : {}) });
    } catch (e) {
      throw remoteActionError(e, options);
    }
    if ((res.status >= 200 && res.status < 300) || c.accept?.includes(res.status)) return res;
    const words = said(res);
    const what = `${method} ${base.host}${path} answered ${res.status}${words ? `: ${words}` : ''}`;
    let err: RemoteError;
    if (res.status === 429) err = new RemoteError(`${what} (rate limit)`, 'ratelimited', 429, rateLimitPause(res, Date.now()));
    else if (res.status === 401 || res.status === 403) err = new RemoteError(`${what} (credentials refused)`, 'auth', res.status);
    else if (res.status === 404) err = new RemoteError(what, 'not_found', 404);
    else if (res.status >= 500) err = new RemoteError(what, 'server', res.status);
    else err = new RemoteError(what, 'client', res.status);
    throw remoteActionError(err, options);
  }

  return { baseUrl: base, call, said, close: () => client.close() };
}

/** The target's timeout and CA, read from its entry. */
export function ticketConnection(cfg: { name: string; timeout?: string | number; tls_ca_file?: string; allow_private?: boolean }, deps: ActionDeps) {
  const key = targetKey(cfg);
  return {
    key,
    timeoutMs: cfg.timeout !== undefined ? parseDuration(cfg.timeout, `${key}.timeout`) : DEFAULT_TIMEOUT_MS,
    ca: readTlsCaFile(cfg, deps.configDir),
    allowPrivate: cfg.allow_private ?? false,
  };
}

// --- The follow logic ------------------------------------------------------------------------------------

/** What execute returns and follow-ups read back: the ticket's ids and link. */
export interface TicketRef extends Record<string, unknown> {
  /** The service's own id (ServiceNow sys_id, Jira issue id). */
  id: string;
  /** What people call it (INC0010001, SEC-42). */
  number: string;
  url: string;
}

/** One vendor's API, as the follow logic needs it. */
export interface TicketDriver {
  /** The ticket created under this idempotency key, or null. */
  find(idempotencyKey: string, signal: AbortSignal): Promise<TicketRef | null>;
  create(ctx: ActionContext, s: IncidentSummary): Promise<TicketRef>;
  update(ctx: FollowContext, ref: TicketRef, s: IncidentSummary): Promise<Record<string, unknown>>;
  /** Must succeed on a ticket already closed. */
  close(ctx: FollowContext, ref: TicketRef, s: IncidentSummary, verdict: VerdictInfo): Promise<Record<string, unknown>>;
  /** The ticket a stored result names (null when it names none usable). */
  refOf(result: Record<string, unknown>): TicketRef | null;
  dispose(): Promise<void>;
}

/**
 * An ActionTarget over a driver. execute searches before it creates, so a retry after a crash or an unknown
 * outcome finds the ticket its earlier attempt made instead of making a second one.
 */
export function ticketTarget(name: string, kind: string, deps: ActionDeps, d: TicketDriver): ActionTarget {
  const key = `actions.targets.${name}`;
  const summary = (ctx: ActionContext) => summarizeIncident(ctx.incident, deps);

  async function execute(ctx: ActionContext) {
    const found = await d.find(ctx.idempotencyKey, ctx.signal);
    if (found) return { detail: { ...found, existing: true } };
    return { detail: await d.create(ctx, summary(ctx)) };
  }

  async function follow(ctx: FollowContext) {
    const ref = d.refOf(ctx.originalResult) ?? (await d.find(ctx.original.idempotency_key, ctx.signal));
    if (!ref) throw new ActionError(`${key}: action ${ctx.original.id} opened no ticket that can be found; nothing to ${ctx.event}`, false);
    const s = summary(ctx);
    if (ctx.event === 'update') return { detail: { ...ref, event: 'update', ...(await d.update(ctx, ref, s)) } };
    const verdict = ctx.verdict ?? (s.verdict ? { verdict: s.verdict, by: 'unknown' } : null);
    if (!verdict) throw new ActionError(`${key}: a close without a verdict; the incident has none`, false);
    return { detail: { ...ref, event: 'close', verdict: verdict.verdict, ...(await d.close(ctx, ref, s, verdict)) } };
  }

  /** Only the create can have an unknown effect worth finding: follow-ups are made again (they are idempotent). */
  async function reconcile(ctx: ActionContext): Promise<Reconciled> {
    if (ctx.action.undo_of || ctx.action.follow_of) return { done: false };
    const found = await d.find(ctx.idempotencyKey, ctx.signal);
    return found ? { done: true, detail: { ...found, existing: true } } : { done: false };
  }

  return { name, kind, execute, follow, reconcile, close: () => d.dispose() };
}
