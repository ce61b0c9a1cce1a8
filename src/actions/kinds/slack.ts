/**
 * slack: posts an incident to a Slack channel as a Block Kit message, with Approve / Deny buttons for the
 * incident's actions that wait for a person (signed, expiring links to Fido's confirmation page).
 *
 *   - name: soc-slack
 *     kind: slack
 *     webhook_url: ${env:FIDO_SLACK_WEBHOOK}   # an incoming webhook (the URL is the secret), or:
 *     # token: ${env:FIDO_SLACK_BOT_TOKEN}     # a bot token with chat:write, and
 *     # channel: C0123456789                   # the channel to post to (the bot must be a member)
 *
 * Two ways in:
 *  - incoming webhook (https://api.slack.com/messaging/webhooks): POST {text, blocks} to the URL; 200 "ok".
 *    Errors (…#handling_errors): 400 invalid_payload / user_not_found, 403 action_prohibited, 404
 *    channel_not_found / no_service, 410 channel_is_archived, 429 (1 message a second per webhook, with
 *    Retry-After), 500 rollup_error.
 *  - Web API chat.postMessage (https://api.slack.com/methods/chat.postMessage) with `Authorization: Bearer`:
 *    always HTTP 200 with {ok:false, error} for errors (invalid_auth, channel_not_found, not_in_channel,
 *    is_archived, …), 429 with Retry-After (https://api.slack.com/apis/rate-limits).
 * Refused credentials, unknown or archived channels and payloads Slack refuses are permanent; 429 waits for
 * Retry-After; 5xx, internal_error / fatal_error, malformed answers and network failures are retried.
 *
 * Escaping (https://api.slack.com/reference/surfaces/formatting#escaping): everything from the incident is
 * attacker-controlled. The message has no mrkdwn at all: every text object is plain_text and the notification
 * text is sent with `mrkdwn: false`, so `*bold*` and `<url|label>` stay text; &, < and > are escaped as Slack
 * asks (so `<!channel>` and `<@U1>` are text too) and @channel / @here / @everyone are broken by a zero-width
 * space. Link unfurling is off. Lengths are cut to Block Kit's limits (header 150, text 3000, button text 75,
 * button url 3000, 50 blocks).
 *
 * Neither a webhook nor chat.postMessage takes an idempotency key: a retry after a crash in the middle may
 * post twice. The footer names the delivery (its idempotency key), so a duplicate is recognisable.
 */
import { Type, type Static } from 'typebox';
import { Duration } from '../../config/schema.js';
import { parseDuration } from '../../config/duration.js';
import type { ComponentProblem } from '../../component/component.js';
import { createRemoteClient, readCaFile, RemoteError, type RemoteClient, type RemoteResponse } from '../../enrich/remote.js';
import { outboundUrlProblem } from '../../util/outbound.js';
import { isSecretRef } from '../../config/secrets.js';
import { defineAction, type ActionContext, type ActionDeps, type ActionOutcome, type ActionTarget } from '../action.js';
import { secretValue } from '../target-config.js';
import { chatMessage, clip, secretUrlClient, webhookStatusError, type ChatMessage } from './lib/chat-message.js';
import { remoteActionError, scrubber } from './lib/remote-action.js';

export const SlackSchema = Type.Object(
  {
    name: Type.String(),
    kind: Type.Literal('slack'),
    webhook_url: Type.Optional(Type.String({ minLength: 1, description: 'Incoming webhook URL, as a secret reference (${env:NAME}): the URL is the credential' })),
    token: Type.Optional(Type.String({ minLength: 1, description: 'Bot token (xoxb-…) with chat:write, as a secret reference (${env:NAME}); with `channel`' })),
    channel: Type.Optional(Type.String({ minLength: 1, description: 'Channel ID (C0123…) or name to post to with `token`' })),
    api_url: Type.Optional(Type.String({ pattern: '^[Hh][Tt][Tt][Pp][Ss]?://', description: 'Web API base URL (default https://slack.com/api)' })),
    timeout: Type.Optional(Duration),
    allow_private: Type.Optional(Type.Boolean({ description: 'Allow a URL on a private or loopback address (a proxy, a test double)' })),
    tls_ca_file: Type.Optional(Type.String({ description: 'PEM file of a private CA (a TLS-inspecting proxy)' })),
  },
  { additionalProperties: false },
);
export type SlackConfig = Static<typeof SlackSchema>;

const DEFAULT_API = 'https://slack.com/api';
const DEFAULT_TIMEOUT_MS = 10_000;
/** Block Kit limits (https://api.slack.com/reference/block-kit/blocks, …/block-elements#button). */
const LIMIT = { header: 150, text: 3000, button: 75, url: 3000, blocks: 50 } as const;

/** Web API errors worth another attempt (https://api.slack.com/methods/chat.postMessage#errors); others are final. */
const RETRYABLE_API_ERRORS = new Set(['internal_error', 'fatal_error', 'service_unavailable', 'request_timeout', 'team_added_to_org']);
const AUTH_API_ERRORS = new Set(['invalid_auth', 'not_authed', 'account_inactive', 'token_revoked', 'token_expired', 'no_permission', 'missing_scope', 'access_denied', 'ekm_access_denied']);

function check(cfg: SlackConfig): ComponentProblem[] {
  const problems: ComponentProblem[] = [];
  if ((cfg.webhook_url === undefined) === (cfg.token === undefined)) problems.push({ key: 'webhook_url', message: 'set either webhook_url (an incoming webhook) or token with channel (chat.postMessage)' });
  if (cfg.token !== undefined && cfg.channel === undefined) problems.push({ key: 'channel', message: 'required with token' });
  if (cfg.webhook_url !== undefined && cfg.channel !== undefined) problems.push({ key: 'channel', message: "an incoming webhook posts to the channel it was made for; channel is only for token" });
  // A reference is checked at start, resolved (validate does not resolve secrets).
  if (cfg.webhook_url !== undefined && !isSecretRef(cfg.webhook_url)) {
    const p = outboundUrlProblem(cfg.webhook_url, { allowPrivate: cfg.allow_private ?? false });
    if (p) problems.push({ key: 'webhook_url', message: p });
  }
  if (cfg.api_url !== undefined) {
    const p = outboundUrlProblem(cfg.api_url, { allowPrivate: cfg.allow_private ?? false });
    if (p) problems.push({ key: 'api_url', message: p });
  }
  return problems;
}

// --- Rendering ---------------------------------------------------------------------------------------

/**
 * Alert text made inert for Slack: &, < and > escaped (so `<!channel>`, `<@U1>` and `<https://x|label>` are
 * text), @channel / @here / @everyone broken by a zero-width space.
 */
export function slackEscape(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/@(channel|here|everyone)\b/gi, '@\u200b$1');
}

/** A plain_text object of untrusted text, escaped and cut to `max` (escaping counted). */
function plain(text: string, max: number = LIMIT.text): { type: 'plain_text'; text: string; emoji: false } {
  return { type: 'plain_text', text: clipEscaped(text, max), emoji: false };
}

/** Escaped text cut to `max` characters without splitting an entity. */
function clipEscaped(text: string, max: number): string {
  const e = slackEscape(text);
  if (e.length <= max) return e;
  let cut = clip(e, max);
  const amp = cut.lastIndexOf('&');
  if (amp >= 0 && !cut.slice(amp).includes(';')) cut = `${cut.slice(0, amp)}…`;
  return cut;
}

type Block = Record<string, unknown>;

function button(text: string, url: string, style?: 'primary' | 'danger', actionId?: string): Block | null {
  // A URL Slack would refuse (too long, not http) drops the button rather than the whole message.
  if (url.length > LIMIT.url || !/^https?:\/\//i.test(url)) return null;
  return { type: 'button', text: plain(text, LIMIT.button), url, ...(style ? { style } : {}), ...(actionId ? { action_id: actionId } : {}) };
}

/** The Block Kit message for `m` (at most 50 blocks) and its notification text. */
export function slackMessage(m: ChatMessage): { text: string; blocks: Block[] } {
  const lines = (xs: string[]) => xs.join('\n');
  const heading = `${m.severity} · ${m.title}`;
  const blocks: Block[] = [{ type: 'header', text: plain(heading, LIMIT.header) }];
  // The header holds 150 characters: a longer title is shown whole below it.
  if (slackEscape(heading).length > LIMIT.header) blocks.push({ type: 'section', text: plain(m.title) });
  blocks.push({ type: 'section', fields: m.facts.slice(0, 10).map((f) => plain(`${f.label}: ${f.value}`, 2000)) });
  if (m.factors.length) blocks.push({ type: 'section', text: plain(lines(['Why this score:', ...m.factors])) });
  if (m.indicators.length) blocks.push({ type: 'section', text: plain(lines(['Indicators:', ...m.indicators])) });
  for (const a of m.approvals) {
    blocks.push({ type: 'section', text: plain(`Waiting for approval: ${a.what}`) });
    const buttons = a.links ? [button('Approve', a.links.approve, 'primary', `approve-${a.action_id}`.slice(0, 255)), button('Deny', a.links.deny, 'danger', `deny-${a.action_id}`.slice(0, 255))].filter((b): b is Block => b !== null) : [];
    if (a.links && buttons.length === 2) {
      blocks.push({ type: 'actions', elements: buttons });
      blocks.push({ type: 'context', elements: [plain(`The links open a confirmation page in Fido and expire at ${a.links.expires_at}.`)] });
    } else {
      blocks.push({ type: 'context', elements: [plain(a.hint)] });
    }
  }
  if (m.more_approvals > 0) blocks.push({ type: 'context', elements: [plain(`${m.more_approvals} more actions wait for approval: see the incident in Fido.`)] });
  const open = m.link ? button('Open incident', m.link, undefined, 'open-incident') : null;
  if (open) blocks.push({ type: 'actions', elements: [open] });
  blocks.push({ type: 'context', elements: [plain(m.footer)] });
  // 50 blocks at most: the approvals are bounded, this only guards the sum.
  const bounded = blocks.length > LIMIT.blocks ? [...blocks.slice(0, LIMIT.blocks - 1), blocks[blocks.length - 1]!] : blocks;
  return { text: clipEscaped(`Fido: ${m.severity} · ${m.title}`, LIMIT.text), blocks: bounded };
}

// --- Delivery ----------------------------------------------------------------------------------------

/** Why a webhook answer failed, in Slack's words (https://api.slack.com/messaging/webhooks#handling_errors). */
function webhookHint(status: number, said: string): string | undefined {
  if (status === 403 && said.includes('action_prohibited')) return 'an admin restricted posting to this channel';
  if (status === 404) return 'the webhook or its channel was removed; create a new webhook';
  if (status === 410) return 'the channel is archived';
  if (status === 400 && said.includes('invalid_token')) return 'the webhook was revoked';
  if (status === 429) return 'Slack allows about one message a second per webhook';
  return undefined;
}

/** A chat.postMessage answer's `{ok:false, error}` as a RemoteError. */
function apiError(res: RemoteResponse, scrub: (t: string) => string): RemoteError {
  const body = res.body as { error?: unknown } | null;
  const code = typeof body?.error === 'string' ? scrub(body.error.slice(0, 100)) : 'no error code';
  const what = `chat.postMessage failed: ${code}`;
  // Slack answers a rate limit with HTTP 429 (handled as a status); a 200 that says so is read the same way.
  if (code === 'ratelimited' || code === 'rate_limited') return webhookStatusError({ ...res, status: 429, body: code }, 'chat.postMessage', scrub);
  if (RETRYABLE_API_ERRORS.has(code)) return new RemoteError(what, 'server', res.status);
  if (AUTH_API_ERRORS.has(code)) return new RemoteError(`${what} (check the bot token and its chat:write scope)`, 'auth', res.status);
  if (code === 'channel_not_found' || code === 'not_in_channel' || code === 'is_archived') return new RemoteError(`${what} (the bot must be a member of an existing, unarchived channel)`, 'not_found', res.status);
  return new RemoteError(what, 'client', res.status);
}

async function create(cfg: SlackConfig, deps: ActionDeps): Promise<ActionTarget> {
  const key = `actions.targets.${cfg.name}`;
  const problem = check(cfg)[0];
  if (problem) throw new Error(`${key}.${problem.key}: ${problem.message}`);
  const timeoutMs = cfg.timeout !== undefined ? parseDuration(cfg.timeout, `${key}.timeout`) : DEFAULT_TIMEOUT_MS;
  let client: RemoteClient;
  let scrub: (t: string) => string;
  let post: (body: Record<string, unknown>, signal: AbortSignal) => Promise<Record<string, unknown>>;

  if (cfg.webhook_url !== undefined) {
    const opened = secretUrlClient(secretValue(cfg.webhook_url, `${key}.webhook_url`), cfg, deps, timeoutMs);
    client = opened.client;
    scrub = opened.scrub;
    post = async (body, signal) => {
      const res = await opened.client.send({ method: 'POST', path: '', json: body, as: 'text', signal });
      if (res.status < 200 || res.status >= 300) throw webhookStatusError(res, 'Slack webhook', scrub, webhookHint);
      return { mode: 'webhook', status: res.status, response: scrub(String(res.body).slice(0, 100)) };
    };
  } else {
    const token = secretValue(cfg.token!, `${key}.token`);
    client = createRemoteClient({
      key,
      baseUrl: cfg.api_url ?? DEFAULT_API,
      headers: { authorization: `Bearer ${token}` },
      allowPrivate: cfg.allow_private ?? false,
      ca: readCaFile(cfg.tls_ca_file, deps.configDir, key),
      timeoutMs,
      userAgent: 'fido-actions/1',
    });
    scrub = scrubber([token]);
    post = async (body, signal) => {
      const res = await client.send({ method: 'POST', path: '/chat.postMessage', json: { channel: cfg.channel, link_names: false, ...body }, signal });
      if (res.status < 200 || res.status >= 300) throw webhookStatusError(res, 'chat.postMessage', scrub);
      const b = res.body as { ok?: unknown; channel?: unknown; ts?: unknown } | null;
      if (b === null || typeof b !== 'object' || typeof b.ok !== 'boolean') throw new RemoteError('chat.postMessage answered 200 without an `ok` field', 'malformed', res.status);
      if (!b.ok) throw apiError(res, scrub);
      return { mode: 'bot', channel: typeof b.channel === 'string' ? b.channel : cfg.channel, ts: typeof b.ts === 'string' ? b.ts : null };
    };
  }

  async function execute(ctx: ActionContext): Promise<ActionOutcome> {
    const message = slackMessage(chatMessage(ctx, deps));
    try {
      // `mrkdwn: false`: the notification text is not formatted either.
      return { detail: await post({ ...message, mrkdwn: false, unfurl_links: false, unfurl_media: false }, ctx.signal) };
    } catch (e) {
      // No idempotency key on Slack's side: a call that may have gone out is retried, not reconciled.
      throw remoteActionError(e, { mutating: false, prefix: key, scrub, signal: ctx.signal });
    }
  }

  return { name: cfg.name, kind: 'slack', execute, close: () => client.close() };
}

const slack = defineAction({
  kind: 'slack',
  description: 'Posts the incident to Slack (incoming webhook or chat.postMessage) with Approve / Deny buttons for actions awaiting approval',
  schema: SlackSchema,
  check,
  create,
});
export default slack;
