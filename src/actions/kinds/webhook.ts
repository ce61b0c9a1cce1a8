/**
 * Webhook: a signed JSON POST to a configured URL. The reference action kind (see action.ts).
 *
 * Body: `{ incident, decision, action, sent_at }`, where `incident` is the incident with its alerts (without
 * their raw text, at most 100) and enrichment, plus a `url` to it on the API. An undo (a false-positive verdict,
 * the rule's `for:`, by hand) is the same POST with `event: "undo"` and `undo_of: { id, idempotency_key,
 * result }`: the action the receiver should take back.
 * Headers: `X-Fido-Timestamp` (unix seconds), `X-Fido-Signature: sha256=<hex HMAC-SHA256(secret,
 * timestamp + "." + body)>` (receivers check it with `verifySignature`, which also bounds the timestamp's age
 * against replays), and `Idempotency-Key`, the same on every attempt of one action.
 *
 * Answers: 2xx is success; 408, 429 and 5xx are retried (Retry-After honoured); any other 4xx is final.
 * Redirects are refused rather than followed: a signed body should go where the admin pointed it, not where
 * the receiver (or someone who took over its name) sends it.
 *
 * Where it may go: the shared outbound guard (util/outbound.ts). Only http and https are allowed,
 * credentials in the URL are refused (use `headers`), and unless `allow_private: true`, the URL's address and
 * every address its host name resolves to must be public unicast (cloud metadata never). The name is checked
 * in the connection's own DNS lookup, so the check holds for the address actually connected to.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { request } from 'undici';
import { Type, type Static } from 'typebox';
import { Duration } from '../../config/schema.js';
import { parseDuration } from '../../config/duration.js';
import type { IncidentDetail } from '../../model/incident.js';
import { ActionError, defineAction, type ActionContext, type ActionDeps, type ActionOutcome, type ActionTarget, type UndoContext } from '../action.js';
import { incidentUrl, readTlsCaFile, secretValue } from '../target-config.js';
import { guardedAgent, outboundUrlProblem } from '../../util/outbound.js';
import type { ComponentProblem } from '../../component/component.js';
import { retryAfterMs } from '../../util/retry-after.js';

export { isPublicAddress } from '../../util/outbound.js';

export const WebhookConfigSchema = Type.Object(
  {
    name: Type.String(),
    kind: Type.Literal('webhook'),
    url: Type.String({ pattern: '^[Hh][Tt][Tt][Pp][Ss]?://', description: 'http(s) URL that receives the POST' }),
    secret: Type.String({ minLength: 1, description: 'HMAC key for X-Fido-Signature: a secret reference such as ${env:HOOK_SECRET}' }),
    timeout: Type.Optional(Duration),
    headers: Type.Optional(
      Type.Record(Type.String({ pattern: "^[A-Za-z0-9!#$%&'*+.^_`|~-]+$" }), Type.String(), {
        description: 'Extra request headers (values may be secret references), e.g. Authorization',
      }),
    ),
    tls_ca_file: Type.Optional(Type.String({ description: 'PEM file of the CA(s) that sign the receiver certificate (relative to the config file)' })),
    allow_private: Type.Optional(
      Type.Boolean({ description: 'Allow loopback, private, link-local and other non-public addresses (never cloud metadata). Default false' }),
    ),
  },
  { additionalProperties: false },
);
export type WebhookConfig = Static<typeof WebhookConfigSchema>;

const DEFAULT_TIMEOUT_MS = 10_000;
const MAX_ALERTS = 100;
const MAX_RESPONSE_BYTES = 64 * 1024;
const RESERVED_HEADERS = new Set(['content-type', 'content-length', 'host', 'transfer-encoding', 'connection', 'idempotency-key']);

// ───────────────────────────── signatures ─────────────────────────────

/** The `X-Fido-Signature` value for a timestamp and the exact body bytes. */
export function signBody(secret: string, timestamp: string, body: string | Uint8Array): string {
  const mac = createHmac('sha256', secret).update(`${timestamp}.`).update(body).digest('hex');
  return `sha256=${mac}`;
}

/**
 * For receivers (and tests): true when `header` is the signature of `timestamp + "." + body` and the
 * timestamp (unix seconds) is within `toleranceSec` of now. Constant-time comparison.
 */
export function verifySignature(
  secret: string,
  timestamp: string,
  body: string | Uint8Array,
  header: string,
  toleranceSec = 300,
  nowMs = Date.now(),
): boolean {
  if (!/^\d{1,12}$/.test(timestamp)) return false;
  if (Math.abs(nowMs / 1000 - Number(timestamp)) > toleranceSec) return false;
  const expected = Buffer.from(signBody(secret, timestamp, body));
  const given = Buffer.from(header.trim());
  return given.length === expected.length && timingSafeEqual(given, expected);
}

// ───────────────────────────── address guard ─────────────────────────────

/** What `fido config validate` reports and create() refuses: the URL's scheme, credentials and address. */
function check(cfg: WebhookConfig): ComponentProblem[] {
  // A URL holding a secret reference is checked at start, resolved (validate does not resolve secrets).
  if (/\$\{(env|file):/.test(cfg.url)) return [];
  const problem = outboundUrlProblem(cfg.url, { allowPrivate: cfg.allow_private ?? false });
  return problem ? [{ key: 'url', message: problem }] : [];
}

// ───────────────────────────── the request ─────────────────────────────

/** What the receiver gets; alerts lose their raw text (size, and it may hold more than the receiver needs). */
export function webhookPayload(ctx: ActionContext, publicUrl: string, sentAt: Date): Record<string, unknown> {
  const i: IncidentDetail = ctx.incident;
  const incident = {
    id: i.id,
    title: i.title,
    status: i.status,
    verdict: i.verdict,
    first_seen: i.first_seen,
    last_seen: i.last_seen,
    alert_count: i.alert_count,
    host: i.host,
    user: i.user,
    score: i.score,
    url: incidentUrl(publicUrl, i.id),
    alerts: i.alerts.slice(0, MAX_ALERTS).map(({ raw: _raw, ...a }) => a),
    alerts_truncated: i.alerts.length > MAX_ALERTS,
    enrichment: i.enrichment,
  };
  const decision = i.decision ?? i.decisions[i.decisions.length - 1] ?? null;
  return { incident, decision, action: ctx.action, sent_at: sentAt.toISOString() };
}


async function readCapped(body: AsyncIterable<Buffer> & { destroy(): unknown }): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    chunks.push(chunk);
    size += chunk.length;
    if (size >= MAX_RESPONSE_BYTES) {
      body.destroy();
      break;
    }
  }
  return Buffer.concat(chunks).subarray(0, MAX_RESPONSE_BYTES).toString('utf8');
}

function snippet(text: string): string {
  return text.replace(/\s+/g, ' ').trim().slice(0, 300);
}

/** Maps a status to the executor's retry rules; returns null on success. */
function statusError(status: number, headers: Record<string, string | string[] | undefined>, text: string): ActionError | null {
  if (status >= 200 && status < 300) return null;
  const said = snippet(text);
  const what = `webhook answered ${status}${said ? `: ${said}` : ''}`;
  if (status >= 300 && status < 400) {
    const to = Array.isArray(headers.location) ? headers.location[0] : headers.location;
    return new ActionError(`webhook answered ${status} redirect${to ? ` to ${to}` : ''}; redirects are refused (point the target at the final URL)`, false);
  }
  if (status === 408 || status === 429 || status >= 500) return new ActionError(what, true, retryAfterMs(headers['retry-after']));
  return new ActionError(what, false);
}

function transportError(e: unknown, signal: AbortSignal): ActionError {
  const err = e as { code?: string; message?: string; cause?: { code?: string; message?: string } };
  if (err.code === 'EFIDO_PRIVATE_ADDRESS' || err.cause?.code === 'EFIDO_PRIVATE_ADDRESS') {
    return new ActionError(`webhook refused: ${err.cause?.message ?? err.message}`, false);
  }
  // The request may have been delivered: an unknown outcome (the receiver dedups by Idempotency-Key).
  if (signal.aborted) return new ActionError('webhook: no answer before the timeout', true, undefined, true);
  const detail = err.cause?.message ?? err.message ?? String(e);
  return new ActionError(`webhook request failed${err.code ? ` (${err.code})` : ''}: ${detail}`, true);
}

function extraHeaders(cfg: WebhookConfig): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(cfg.headers ?? {})) {
    const lower = k.toLowerCase();
    if (RESERVED_HEADERS.has(lower) || lower.startsWith('x-fido-')) throw new Error(`actions.targets.${cfg.name}.headers.${k}: this header is set by Fido`);
    out[lower] = secretValue(v, `actions.targets.${cfg.name}.headers.${k}`);
  }
  return out;
}

async function create(cfg: WebhookConfig, deps: ActionDeps): Promise<ActionTarget> {
  const key = `actions.targets.${cfg.name}`;
  const allowPrivate = cfg.allow_private ?? false;
  const problem = check(cfg)[0];
  if (problem) throw new Error(`${key}.${problem.key}: ${problem.message}`);
  const url = new URL(cfg.url);
  const hmacKey = secretValue(cfg.secret, `${key}.secret`);
  const headers = extraHeaders(cfg);
  const timeoutMs = cfg.timeout !== undefined ? parseDuration(cfg.timeout, `${key}.timeout`) : DEFAULT_TIMEOUT_MS;
  const ca = readTlsCaFile(cfg, deps.configDir);
  const dispatcher = guardedAgent({ timeoutMs, allowPrivate, ca });

  /** One signed POST of `payload` (the action's, or its undo's), under the call's idempotency key. */
  async function post(ctx: ActionContext, payload: (sentAt: Date) => Record<string, unknown>): Promise<ActionOutcome> {
    const sentAt = new Date();
    const body = JSON.stringify(payload(sentAt));
    const timestamp = String(Math.floor(sentAt.getTime() / 1000));
    const signal = AbortSignal.any([ctx.signal, AbortSignal.timeout(timeoutMs)]);
    let status: number;
    let text: string;
    let resHeaders: Record<string, string | string[] | undefined>;
    try {
      const res = await request(url, {
        method: 'POST',
        dispatcher,
        signal,
        headers: {
          ...headers,
          'content-type': 'application/json',
          'user-agent': 'fido-webhook/1',
          'idempotency-key': ctx.idempotencyKey,
          'x-fido-timestamp': timestamp,
          'x-fido-signature': signBody(hmacKey, timestamp, body),
        },
        body,
      });
      status = res.statusCode;
      resHeaders = res.headers;
      text = await readCapped(res.body);
    } catch (e) {
      throw transportError(e, signal);
    }
    const err = statusError(status, resHeaders, text);
    if (err) throw err;
    return { detail: { status, response: snippet(text) } };
  }

  return {
    name: cfg.name,
    kind: 'webhook',
    execute: (ctx: ActionContext) => post(ctx, (sentAt) => webhookPayload(ctx, deps.publicUrl, sentAt)),
    // The receiver takes back what it did: the same signed POST with `event: "undo"` and the action it undoes
    // (its idempotency key is the one the receiver saw); a receiver that did nothing answers 2xx all the same.
    undo: (ctx: UndoContext) =>
      post(ctx, (sentAt) => ({
        ...webhookPayload(ctx, deps.publicUrl, sentAt),
        event: 'undo',
        undo_of: { id: ctx.original.id, idempotency_key: ctx.original.idempotency_key, result: ctx.originalResult },
      })),
    async close() {
      await dispatcher.close();
    },
  };
}

const webhook = defineAction({
  kind: 'webhook',
  description: 'Signed JSON POST (HMAC-SHA256) to an http(s) URL, with an Idempotency-Key',
  schema: WebhookConfigSchema,
  check,
  create,
  reversible: true,
});
export default webhook;
