/**
 * pagerduty: pages through PagerDuty's Events API v2, and keeps the alert in step with the incident.
 *
 *   - name: oncall
 *     kind: pagerduty
 *     routing_key: ${env:FIDO_PD_ROUTING_KEY}    # the integration key of an "Events API v2" integration
 *     events_url: https://events.pagerduty.com/v2/enqueue   # default; https://events.eu.pagerduty.com/v2/enqueue in the EU
 *
 * execute: POST {events_url} `{routing_key, event_action: "trigger", dedup_key: "fido-<incident id>", payload,
 * links, client, client_url}` (https://developer.pagerduty.com/docs/events-api-v2/trigger-events/). The dedup
 * key names the incident, so a trigger sent again (a retry after a crash, an update) lands on the same alert
 * rather than opening another: PagerDuty updates the open alert with the same key. follow `update` triggers
 * again with it; follow `close` sends `event_action: "resolve"` with it
 * (https://developer.pagerduty.com/docs/events-api-v2/resolve-events/), which PagerDuty accepts as often as it
 * is sent.
 *
 * Answers (https://developer.pagerduty.com/docs/events-api-v2/overview/#response-codes--retry-logic): 202
 * `{status: "success", message, dedup_key}`; 400 `{status: "invalid event", message, errors}` is permanent
 * (the event or the routing key is wrong), as are 401/403 and other 4xx; 429 is retried after Retry-After when
 * there is one, else after the executor's backoff; 5xx, malformed answers and no answer are retried. The
 * routing key travels in the body: it is cut out of every message.
 */
import { Type, type Static } from 'typebox';
import { Duration } from '../../config/schema.js';
import { parseDuration } from '../../config/duration.js';
import type { ComponentProblem } from '../../component/component.js';
import { createRemoteClient, readCaFile, RemoteError, SecretString, type RemoteResponse } from '../../enrich/remote.js';
import { outboundUrlProblem } from '../../util/outbound.js';
import { retryAfterMs } from '../../util/retry-after.js';
import { defineAction, type ActionContext, type ActionDeps, type ActionOutcome, type ActionTarget, type FollowContext } from '../action.js';
import { secretValue } from '../target-config.js';
import { summarizeIncident, type IncidentSummary, type SeverityBand } from './lib/incident-summary.js';
import { remoteActionError, scrubber } from './lib/remote-action.js';

export const DEFAULT_EVENTS_URL = 'https://events.pagerduty.com/v2/enqueue';

export const PagerDutySchema = Type.Object(
  {
    name: Type.String(),
    kind: Type.Literal('pagerduty'),
    routing_key: SecretString,
    events_url: Type.Optional(Type.String({ pattern: '^[Hh][Tt][Tt][Pp][Ss]?://', description: `Events API v2 endpoint (default ${DEFAULT_EVENTS_URL})` })),
    source: Type.Optional(Type.String({ minLength: 1, maxLength: 255, description: "payload.source: default the incident's host, else fido" })),
    group: Type.Optional(Type.String({ minLength: 1, maxLength: 255, description: "payload.group: default the incident's scoring profile" })),
    timeout: Type.Optional(Duration),
    allow_private: Type.Optional(Type.Boolean({ description: 'Allow an events_url on a private or loopback address (a proxy, a test double)' })),
    tls_ca_file: Type.Optional(Type.String({ description: 'PEM file of a private CA (a TLS-inspecting proxy)' })),
  },
  { additionalProperties: false },
);
export type PagerDutyConfig = Static<typeof PagerDutySchema>;

export type PdSeverity = 'critical' | 'error' | 'warning' | 'info';

/** PagerDuty's four severities for Fido's five bands. */
export const PD_SEVERITY: Record<SeverityBand, PdSeverity> = { critical: 'critical', high: 'error', medium: 'warning', low: 'info', info: 'info' };

/** What execute stores, and follow reads back. */
export interface PagerDutyResult extends Record<string, unknown> {
  dedup_key: string;
  event_action: 'trigger' | 'resolve';
  status: number;
  message: string;
  severity?: PdSeverity;
}

const MAX_SUMMARY = 1024;
const MAX_FACTORS = 10;

/** The alert's dedup key: one per incident, so every trigger about it lands on the same alert. */
export const dedupKeyOf = (incidentId: string): string => `fido-${incidentId}`.slice(0, 255);

function check(cfg: PagerDutyConfig): ComponentProblem[] {
  const problem = outboundUrlProblem(cfg.events_url ?? DEFAULT_EVENTS_URL, { allowPrivate: cfg.allow_private ?? false });
  return problem ? [{ key: 'events_url', message: problem }] : [];
}

/** At most `max` UTF-16 units (PagerDuty's limits), "…" marking a cut, never half a surrogate pair. */
function cut(text: string, max: number): string {
  if (text.length <= max) return text;
  let end = max - 1;
  if (/[\uD800-\uDBFF]/.test(text[end - 1] ?? '')) end--;
  return `${text.slice(0, end)}…`;
}

/** The trigger event's body without the routing key (JSON.stringify escapes it all). */
export function triggerEvent(s: IncidentSummary, cfg: Pick<PagerDutyConfig, 'source' | 'group'>, dedupKey: string): Record<string, unknown> {
  const score = s.score === null ? '' : ` (score ${s.score})`;
  const group = cfg.group ?? s.profile;
  const payload: Record<string, unknown> = {
    summary: cut(`Fido ${s.band}${score}: ${s.title}`, MAX_SUMMARY),
    source: cut(cfg.source ?? s.host ?? 'fido', 255),
    severity: PD_SEVERITY[s.band],
    timestamp: s.last_seen,
    ...(s.detectors[0] ? { component: cut(s.detectors[0], 255) } : {}),
    ...(group ? { group: cut(group, 255) } : {}),
    class: cut(s.rule ?? 'security incident', 255),
    custom_details: {
      incident_id: s.id,
      title: s.title,
      status: s.status,
      score: s.score,
      band: s.band,
      decision: { outcome: s.outcome, rule: s.rule },
      factors: s.factors.slice(0, MAX_FACTORS).map((f) => ({ factor: f.factor, points: f.points, evidence: f.evidence })),
      indicators: s.indicators,
      host: s.host,
      user: s.user,
      alert_count: s.alert_count,
      first_seen: s.first_seen,
      last_seen: s.last_seen,
    },
  };
  // Fido's base URL is the incident link's prefix (incidentUrl: `<base>/api/v1/incidents/<id>`).
  const base = s.link ? s.link.slice(0, s.link.lastIndexOf('/api/v1/incidents/')) : null;
  return {
    event_action: 'trigger',
    dedup_key: dedupKey,
    payload,
    ...(s.link ? { links: [{ href: s.link, text: `Incident ${s.id} in Fido` }] } : {}),
    client: 'Fido',
    ...(base ? { client_url: base } : {}),
  };
}

/** PagerDuty's answer to a non-2xx as a RemoteError, in its words (message and errors). */
function pdError(res: RemoteResponse, scrub: (t: string) => string): RemoteError {
  const b = res.body as { status?: unknown; message?: unknown; errors?: unknown } | string | null;
  const obj = b && typeof b === 'object' ? b : null;
  const message = typeof obj?.message === 'string' ? obj.message : typeof b === 'string' ? b.replace(/\s+/g, ' ').slice(0, 300) : '';
  const errors = Array.isArray(obj?.errors) ? obj.errors.filter((e): e is string => typeof e === 'string').slice(0, 10) : [];
  const said = scrub([message, errors.join('; ')].filter(Boolean).join(': '));
  const what = `PagerDuty answered ${res.status}${said ? `: ${said}` : ''}`;
  if (res.status === 400) return new RemoteError(`${what} (the event was refused; check the routing key and the event)`, 'client', 400);
  if (res.status === 401 || res.status === 403) return new RemoteError(`${what} (check the routing key)`, 'auth', res.status);
  if (res.status === 429) return new RemoteError(`${what} (rate limit)`, 'ratelimited', 429, retryAfterMs(res.headers['retry-after']));
  if (res.status >= 500) return new RemoteError(what, 'server', res.status);
  return new RemoteError(what, 'client', res.status);
}

async function create(cfg: PagerDutyConfig, deps: ActionDeps): Promise<ActionTarget> {
  const key = `actions.targets.${cfg.name}`;
  const problem = check(cfg)[0];
  if (problem) throw new Error(`${key}.${problem.key}: ${problem.message}`);
  const routingKey = secretValue(cfg.routing_key, `${key}.routing_key`);
  const timeoutMs = cfg.timeout !== undefined ? parseDuration(cfg.timeout, `${key}.timeout`) : 10_000;
  const client = createRemoteClient({
    key,
    baseUrl: cfg.events_url ?? DEFAULT_EVENTS_URL,
    allowPrivate: cfg.allow_private ?? false,
    ca: readCaFile(cfg.tls_ca_file, deps.configDir, key),
    timeoutMs,
    secrets: [routingKey],
    userAgent: 'fido-actions/1',
  });
  const scrub = scrubber([routingKey]);

  /** One event; PagerDuty's 202 `{status: "success", dedup_key}` or an ActionError. */
  async function enqueue(event: Record<string, unknown>, signal: AbortSignal): Promise<{ status: number; message: string; dedup_key: string }> {
    let res: RemoteResponse;
    try {
      res = await client.send({ method: 'POST', path: '', json: { routing_key: routingKey, ...event }, signal });
      if (res.status < 200 || res.status >= 300) throw pdError(res, scrub);
      const b = res.body as { status?: unknown; message?: unknown; dedup_key?: unknown } | null;
      if (b?.status !== 'success') throw new RemoteError(`PagerDuty answered ${res.status} without status "success": ${scrub(JSON.stringify(b ?? null).slice(0, 300))}`, 'malformed', res.status);
      return { status: res.status, message: typeof b.message === 'string' ? b.message : '', dedup_key: typeof b.dedup_key === 'string' ? b.dedup_key : String(event.dedup_key) };
    } catch (e) {
      // A retry after no answer is harmless: the dedup key makes it the same alert.
      throw remoteActionError(e, { mutating: true, prefix: key, scrub, signal });
    }
  }

  async function trigger(ctx: ActionContext, dedupKey: string): Promise<ActionOutcome> {
    const event = triggerEvent(summarizeIncident(ctx.incident, deps), cfg, dedupKey);
    const r = await enqueue(event, ctx.signal);
    const severity = (event.payload as { severity: PdSeverity }).severity;
    const detail: PagerDutyResult = { dedup_key: r.dedup_key, event_action: 'trigger', status: r.status, message: r.message, severity };
    return { detail };
  }

  async function follow(ctx: FollowContext): Promise<ActionOutcome> {
    const given = ctx.originalResult.dedup_key;
    const dedupKey = typeof given === 'string' && given ? given : dedupKeyOf(ctx.incident.id);
    if (ctx.event === 'update') return trigger(ctx, dedupKey);
    const r = await enqueue({ event_action: 'resolve', dedup_key: dedupKey }, ctx.signal);
    const detail: PagerDutyResult = { dedup_key: dedupKey, event_action: 'resolve', status: r.status, message: r.message };
    return { detail };
  }

  return {
    name: cfg.name,
    kind: 'pagerduty',
    execute: (ctx) => trigger(ctx, dedupKeyOf(ctx.incident.id)),
    follow,
    close: () => client.close(),
  };
}

const pagerduty = defineAction({
  kind: 'pagerduty',
  description: 'Triggers a PagerDuty alert (Events API v2) per incident, updates it and resolves it when the incident closes',
  schema: PagerDutySchema,
  check,
  create,
  follows: true,
});
export default pagerduty;
