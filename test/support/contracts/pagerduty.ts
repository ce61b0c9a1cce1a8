/**
 * A stand-in for PagerDuty's Events API v2 (POST /v2/enqueue), with the alerts it holds, for the pagerduty
 * action's tests and for any test that needs a pager (a crash test imports it). Written after:
 *   https://developer.pagerduty.com/docs/events-api-v2/overview/        (response codes and retry logic)
 *   https://developer.pagerduty.com/docs/events-api-v2/trigger-events/  (the trigger event and its payload)
 *   https://developer.pagerduty.com/docs/events-api-v2/resolve-events/  (resolve by dedup_key)
 *
 *  - 202 `{status: "success", message: "Event processed", dedup_key}` for an accepted event;
 *  - 400 `{status: "invalid event", message: "Event object is invalid", errors: [...]}` for a body that is not
 *    JSON, a routing_key not of 32 characters or not this stand-in's, an unknown event_action, a trigger without
 *    payload.summary / source / a valid severity, a summary over 1024 characters, a dedup_key over 255;
 *  - a trigger with the dedup_key of a triggered alert updates that alert (no new one); after a resolve, the
 *    same key opens a new alert; a resolve or acknowledge of a key it does not know is accepted and changes
 *    nothing (PagerDuty does the same: resolving twice is harmless).
 * `setOverride` answers a request instead (429, 5xx, malformed, hang) before the state is touched.
 */
import { randomBytes } from 'node:crypto';
import { startContract, type ContractHandler, type ContractReply, type ContractRequest, type ContractServer } from '../contract.js';
import type { Cert } from '../servers.js';

export type PdAlertStatus = 'triggered' | 'acknowledged' | 'resolved';

export interface PdAlert {
  dedup_key: string;
  status: PdAlertStatus;
  /** The payload of the newest trigger. */
  payload: Record<string, unknown>;
  links: unknown[];
  client?: string;
  client_url?: string;
  /** Triggers that landed on this alert (1 + updates). */
  triggers: number;
}

export interface PdCounters {
  /** Every request, overridden ones included. */
  requests: number;
  /** Events answered 202, by action. */
  trigger: number;
  acknowledge: number;
  resolve: number;
  /** Events answered 400. */
  invalid: number;
  /** Alerts opened (a trigger that did not land on a triggered alert). */
  opened: number;
}

export interface PagerDutyStandIn {
  /** The integration's routing key (32 characters). */
  readonly routingKey: string;
  /** Alerts by dedup_key; a key opened again after a resolve keeps its newest alert here. */
  readonly alerts: Map<string, PdAlert>;
  /** Alerts that were resolved and then replaced by a new trigger with the same key. */
  readonly closed: PdAlert[];
  readonly counters: PdCounters;
  /** The bodies of accepted events, in order. */
  readonly events: Record<string, unknown>[];
  /** Answers for the stand-in (plug into startContract / suiteServer). */
  readonly handler: ContractHandler;
  /** An answer in place of the stand-in's (undefined: the stand-in answers). */
  setOverride(f: ((r: ContractRequest, n: number) => ContractReply | undefined) | null): void;
  /** Starts a server of its own; `eventsUrl` is its /v2/enqueue. */
  start(opts?: { tls?: Cert }): Promise<ContractServer & { eventsUrl: string }>;
}

const SEVERITIES = new Set(['critical', 'error', 'warning', 'info']);

const invalid = (...errors: string[]): ContractReply => ({ status: 400, json: { status: 'invalid event', message: 'Event object is invalid', errors } });

export function pagerDutyStandIn(o: { routingKey?: string } = {}): PagerDutyStandIn {
  const routingKey = o.routingKey ?? randomBytes(16).toString('hex');
  if (routingKey.length !== 32) throw new Error('a routing key has 32 characters');
  const alerts = new Map<string, PdAlert>();
  const closed: PdAlert[] = [];
  const events: Record<string, unknown>[] = [];
  const counters: PdCounters = { requests: 0, trigger: 0, acknowledge: 0, resolve: 0, invalid: 0, opened: 0 };
  let override: ((r: ContractRequest, n: number) => ContractReply | undefined) | null = null;

  function answer(r: ContractRequest): ContractReply {
    if (r.method !== 'POST' || r.path !== '/v2/enqueue') return { status: 404, json: { status: 'not found', message: 'Not Found' } };
    const e = r.json as Record<string, unknown> | undefined;
    if (!e || typeof e !== 'object' || Array.isArray(e)) return invalid('Malformed JSON: the body is not a JSON object');
    const errors: string[] = [];
    if (typeof e.routing_key !== 'string' || e.routing_key.length !== 32) errors.push("Length of 'routing_key' is incorrect (should be 32 characters)");
    else if (e.routing_key !== routingKey) errors.push("'routing_key' is not the key of an Events API v2 integration");
    const action = e.event_action;
    if (action !== 'trigger' && action !== 'acknowledge' && action !== 'resolve') errors.push("'event_action' is missing or invalid");
    if (e.dedup_key !== undefined && (typeof e.dedup_key !== 'string' || e.dedup_key.length > 255)) errors.push("'dedup_key' must be a string of at most 255 characters");
    if (action !== 'trigger' && action !== undefined && typeof e.dedup_key !== 'string') errors.push("'dedup_key' is required for acknowledge and resolve");
    const p = e.payload as Record<string, unknown> | undefined;
    if (action === 'trigger') {
      if (!p || typeof p !== 'object') errors.push("'payload' is missing");
      else {
        if (typeof p.summary !== 'string' || p.summary === '') errors.push("'payload.summary' is missing");
        else if (p.summary.length > 1024) errors.push("'payload.summary' is longer than 1024 characters");
        if (typeof p.source !== 'string' || p.source === '') errors.push("'payload.source' is missing");
        if (typeof p.severity !== 'string' || !SEVERITIES.has(p.severity)) errors.push("'payload.severity' must be one of critical, error, warning, info");
      }
    }
    if (errors.length) {
      counters.invalid++;
      return invalid(...errors);
    }
    const dedupKey = typeof e.dedup_key === 'string' ? e.dedup_key : randomBytes(16).toString('hex');
    events.push(e);
    counters[action as 'trigger' | 'acknowledge' | 'resolve']++;
    const have = alerts.get(dedupKey);
    if (action === 'trigger') {
      if (have && have.status !== 'resolved') {
        have.payload = p!;
        have.triggers++;
      } else {
        if (have) closed.push(have);
        counters.opened++;
        alerts.set(dedupKey, {
          dedup_key: dedupKey,
          status: 'triggered',
          payload: p!,
          links: Array.isArray(e.links) ? e.links : [],
          ...(typeof e.client === 'string' ? { client: e.client } : {}),
          ...(typeof e.client_url === 'string' ? { client_url: e.client_url } : {}),
          triggers: 1,
        });
      }
    } else if (have && have.status !== 'resolved') {
      have.status = action === 'resolve' ? 'resolved' : 'acknowledged';
    }
    return { status: 202, json: { status: 'success', message: 'Event processed', dedup_key: dedupKey } };
  }

  const handler: ContractHandler = (r, n) => {
    counters.requests++;
    return override?.(r, n) ?? answer(r);
  };

  return {
    routingKey,
    alerts,
    closed,
    counters,
    events,
    handler,
    setOverride(f) {
      override = f;
    },
    async start(opts = {}) {
      const server = await startContract(handler, opts);
      return Object.assign(server, { eventsUrl: `${server.url}/v2/enqueue` });
    },
  };
}
