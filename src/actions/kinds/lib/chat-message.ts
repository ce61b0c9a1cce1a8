/**
 * What the chat kinds (kinds/slack.ts, kinds/teams.ts) share: the incident summary (incident-summary.ts) cut
 * into bounded, still unescaped pieces (each renderer escapes them for its own format: every string may come
 * from an attacker's alert), the approve / deny entries of the actions that wait for a person, and the HTTP
 * side of posting to a URL that is itself the secret (an incoming webhook, a Workflows trigger): the client,
 * the scrubber that keeps the URL out of every message, and the mapping of a webhook's HTTP status.
 */
import { createRemoteClient, readCaFile, RemoteError, type RemoteClient, type RemoteResponse } from '../../../enrich/remote.js';
import { retryAfterMs } from '../../../util/retry-after.js';
import type { ActionContext, ActionDeps, ApprovalLinks } from '../../action.js';
import { incidentUrl } from '../../target-config.js';
import { scrubber } from './remote-action.js';
import { summarizeIncident } from './incident-summary.js';

/** Bounds that keep a message well inside Slack's and Teams' limits (Teams: about 28 KB per message). */
export const CHAT_LIMITS = { title: 300, line: 300, factors: 8, approvals: 10 } as const;

export interface ChatFact {
  label: string;
  value: string;
}

/** One action that waits for a person: its links, or (none signed) where to settle it instead. */
export interface ChatApproval {
  action_id: string;
  /** "<kind> on <target>" */
  what: string;
  links: ApprovalLinks | null;
  /** Said when there are no links: where a person approves or denies it. */
  hint: string;
}

export interface ChatMessage {
  incident_id: string;
  title: string;
  /** "HIGH 85/100" (or "unscored"). */
  severity: string;
  band: string;
  facts: ChatFact[];
  /** Score lines, largest effect first: "+60 threat.intel: <evidence>". */
  factors: string[];
  indicators: string[];
  approvals: ChatApproval[];
  /** Awaiting actions past CHAT_LIMITS.approvals, not shown. */
  more_approvals: number;
  link: string | null;
  /** Names the delivery, so that a duplicate after a crash is recognisable (no chat API takes an idempotency key). */
  footer: string;
}

/** `text` cut to `max` characters (by code point, so a surrogate pair is never split), with an ellipsis when cut. */
export function clip(text: string, max: number): string {
  const chars = Array.from(text);
  return chars.length <= max ? text : `${chars.slice(0, max - 1).join('')}…`;
}

/** The API's base URL (for an action's approve path); null when public_url is not http(s). */
function apiBase(publicUrl: string): string | null {
  const probe = incidentUrl(publicUrl, '_');
  return probe ? probe.slice(0, probe.length - '/incidents/_'.length) : null;
}

export function chatMessage(ctx: ActionContext, deps: Pick<ActionDeps, 'publicUrl' | 'approvalLinks'>): ChatMessage {
  const s = summarizeIncident(ctx.incident, deps);
  const line = (t: string) => clip(t.replace(/\s+/g, ' ').trim(), CHAT_LIMITS.line);
  const facts: ChatFact[] = [
    { label: 'Score', value: s.score === null ? 'not scored yet' : `${s.score}/100 (${s.band})` },
    ...(s.outcome ? [{ label: 'Decision', value: `${s.outcome}${s.rule ? ` (rule ${s.rule})` : ''}` }] : []),
    ...(s.host ? [{ label: 'Host', value: s.host }] : []),
    ...(s.user ? [{ label: 'User', value: s.user }] : []),
    { label: 'Alerts', value: String(s.alert_count) },
    { label: 'Seen', value: s.first_seen === s.last_seen ? s.first_seen : `${s.first_seen} – ${s.last_seen}` },
    ...(s.detectors.length ? [{ label: 'Detectors', value: s.detectors.join(', ') }] : []),
    { label: 'Status', value: `${s.status}${s.verdict ? ` (${s.verdict})` : ''}` },
  ].map((f) => ({ label: f.label, value: line(f.value) }));
  const api = apiBase(deps.publicUrl);
  const shown = s.awaiting.slice(0, CHAT_LIMITS.approvals);
  return {
    incident_id: s.id,
    title: clip(s.title.replace(/\s+/g, ' ').trim(), CHAT_LIMITS.title) || '(untitled incident)',
    severity: s.score === null ? 'UNSCORED' : `${s.band.toUpperCase()} ${s.score}/100`,
    band: s.band,
    facts,
    factors: s.factors.slice(0, CHAT_LIMITS.factors).map((f) => line(`${f.points >= 0 ? '+' : ''}${f.points} ${f.factor}: ${f.evidence}`)),
    indicators: s.indicators.map(line),
    approvals: shown.map((a) => ({
      action_id: a.action_id,
      what: line(`${a.kind} on ${a.target}`),
      links: a.links ?? null,
      hint: api
        ? `Approve or deny it in Fido: POST ${api}/actions/${encodeURIComponent(a.action_id)}/approve (or /deny), action ${a.action_id}`
        : `Approve or deny it in Fido: POST /api/v1/actions/${encodeURIComponent(a.action_id)}/approve (or /deny), action ${a.action_id}`,
    })),
    more_approvals: s.awaiting.length - shown.length,
    link: s.link,
    footer: line(`Fido · incident ${s.id} · delivery ${ctx.idempotencyKey}`),
  };
}

// --- Posting to a secret URL -------------------------------------------------------------------------

export interface SecretUrlTarget {
  name: string;
  allow_private?: boolean;
  tls_ca_file?: string;
}

export interface SecretUrlClient {
  client: RemoteClient;
  /** Cuts the URL (whole, its path, its query and each query value) and any extra secret out of text. */
  scrub(text: string): string;
}

/** A client whose base URL is the secret webhook URL; `secrets` are more values to cut out of messages. */
export function secretUrlClient(url: string, cfg: SecretUrlTarget, deps: Pick<ActionDeps, 'configDir'>, timeoutMs: number, secrets: string[] = []): SecretUrlClient {
  const key = `actions.targets.${cfg.name}`;
  let client: RemoteClient;
  try {
    client = createRemoteClient({ key, baseUrl: url, allowPrivate: cfg.allow_private ?? false, ca: readCaFile(cfg.tls_ca_file, deps.configDir, key), timeoutMs, userAgent: 'fido-actions/1', secrets });
  } catch (e) {
    // The client's refusal quotes the URL's problem, never the URL; the key says which setting.
    throw new Error(`${key}.webhook_url: ${(e as Error).message.replace(`${key}.url: `, '')}`);
  }
  const u = client.baseUrl;
  const parts = [u.href, u.pathname, u.search, ...[...u.searchParams.values()], ...secrets];
  // Longest first: the whole URL goes before its path, so no fragment of it is left behind (the host stays:
  // "POST hooks.slack.com[secret] failed …" still says where).
  const scrub = scrubber(parts.filter((p) => p !== '/').sort((a, b) => b.length - a.length));
  return { client, scrub };
}

/** A webhook's non-2xx answer as a RemoteError, worded with `what` ("Slack webhook") and what the body said. */
export function webhookStatusError(res: RemoteResponse, what: string, scrub: (t: string) => string, explain: (status: number, said: string) => string | undefined = () => undefined): RemoteError {
  const said = scrub((typeof res.body === 'string' ? res.body : JSON.stringify(res.body ?? '')).replace(/\s+/g, ' ').trim().slice(0, 200));
  const hint = explain(res.status, said);
  const msg = `${what} answered ${res.status}${said && said !== '""' ? `: ${said}` : ''}${hint ? ` (${hint})` : ''}`;
  if (res.status === 429) return new RemoteError(msg, 'ratelimited', res.status, retryAfterMs(res.headers['retry-after']));
  if (res.status === 408 || res.status >= 500) return new RemoteError(msg, 'server', res.status);
  if (res.status === 401 || res.status === 403) return new RemoteError(msg, 'auth', res.status);
  if (res.status === 404 || res.status === 410) return new RemoteError(msg, 'not_found', res.status);
  return new RemoteError(msg, 'client', res.status);
}
