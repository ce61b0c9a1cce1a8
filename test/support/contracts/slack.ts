/**
 * A stand-in for Slack's two ways in, after the documented API (served by test/support/contract.ts):
 *
 *  - incoming webhooks, https://api.slack.com/messaging/webhooks (POST JSON {text, blocks} to
 *    /services/T…/B…/<secret>; 200 "ok"; #handling_errors: 400 invalid_payload / no_text / invalid_blocks,
 *    403 action_prohibited, 404 no_service, 410 channel_is_archived, 429 with Retry-After past one message a
 *    second per webhook, 500 rollup_error);
 *  - chat.postMessage, https://api.slack.com/methods/chat.postMessage (POST /api/chat.postMessage with
 *    `Authorization: Bearer <token>`; HTTP 200 with {ok:true, channel, ts, message} or {ok:false, error}:
 *    not_authed, invalid_auth, channel_not_found, not_in_channel, is_archived, no_text, invalid_blocks; 429 with
 *    Retry-After and {ok:false, error:"ratelimited"}, https://api.slack.com/apis/rate-limits).
 *
 * Blocks are checked against Block Kit's documented limits (https://api.slack.com/reference/block-kit/blocks:
 * 50 blocks, header text 150, section text 3000, 10 fields of 2000, text objects at least 1 character;
 * …/block-elements#button: text 75, url 3000), so a message Slack would refuse is refused here too.
 * `override` answers a request before the rules (5xx, hangs, malformed bodies); `burst` is how many messages a
 * webhook or token may post before 429s (the rate limit, without a clock).
 */
import type { ContractReply, ContractRequest } from '../contract.js';

export interface SlackPost {
  via: 'webhook' | 'api';
  channel: string;
  text: string | undefined;
  blocks: Record<string, unknown>[];
  body: Record<string, unknown>;
}

export interface SlackWebhook {
  channel: string;
  archived?: boolean;
  prohibited?: boolean;
}

export interface SlackChannel {
  id: string;
  name: string;
  archived?: boolean;
  /** Tokens whose bot is a member. */
  members: string[];
}

/** A text object's problem, or null. */
function textProblem(t: unknown, max: number, plainOnly = false): string | null {
  const o = t as { type?: unknown; text?: unknown } | null;
  if (!o || (o.type !== 'plain_text' && o.type !== 'mrkdwn')) return 'text object without a type';
  if (plainOnly && o.type !== 'plain_text') return 'must be plain_text';
  if (typeof o.text !== 'string' || o.text.length < 1) return 'text must be at least 1 character';
  if (o.text.length > max) return `text longer than ${max}`;
  return null;
}

/** What is wrong with one block, or null. */
function blockProblem(b: Record<string, unknown>): string | null {
  const first = (xs: (string | null)[]) => xs.find((x) => x) ?? null;
  switch (b.type) {
    case 'header':
      return textProblem(b.text, 150, true);
    case 'section':
      if (b.text !== undefined) return textProblem(b.text, 3000);
      if (!Array.isArray(b.fields) || b.fields.length > 10) return 'section without text or with more than 10 fields';
      return first(b.fields.map((f) => textProblem(f, 2000)));
    case 'context':
      if (!Array.isArray(b.elements) || b.elements.length > 10) return 'more than 10 context elements';
      return first(b.elements.map((e) => textProblem(e, 3000)));
    case 'actions':
      if (!Array.isArray(b.elements) || b.elements.length > 25) return 'more than 25 actions elements';
      return first(
        (b.elements as Record<string, unknown>[]).map((e) => {
          if (e.type !== 'button') return 'not a button';
          if (typeof e.url === 'string' && e.url.length > 3000) return 'url longer than 3000';
          return textProblem(e.text, 75, true);
        }),
      );
    default:
      return `unknown block type ${String(b.type)}`;
  }
}

/** The first Block Kit limit `blocks` breaks, or null. */
export function blockKitProblem(blocks: unknown): string | null {
  if (!Array.isArray(blocks)) return 'blocks must be an array';
  if (blocks.length > 50) return 'more than 50 blocks';
  for (const b of blocks as Record<string, unknown>[]) {
    const p = blockProblem(b);
    if (p) return `${String(b.type)}: ${p}`;
  }
  return null;
}

export function slackServer() {
  const webhooks = new Map<string, SlackWebhook>();
  const channels: SlackChannel[] = [];
  const posts: SlackPost[] = [];
  const sent = new Map<string, number>();
  const state = { burst: Infinity, retryAfter: '1', calls: 0 };
  let override: ((r: ContractRequest) => ContractReply | undefined) | null = null;
  let ts = 1_700_000_000;

  /** Past `burst` messages per webhook or token: 429. */
  const limited = (who: string) => {
    const n = (sent.get(who) ?? 0) + 1;
    sent.set(who, n);
    return n > state.burst;
  };

  function webhook(r: ContractRequest): ContractReply {
    const secret = r.path.split('/')[4] ?? '';
    const hook = webhooks.get(secret);
    if (!hook) return { status: 404, body: 'no_service' };
    if (limited(secret)) return { status: 429, headers: { 'retry-after': state.retryAfter }, body: 'rate_limited' };
    const body = r.json as Record<string, unknown> | undefined;
    if (!body || typeof body !== 'object') return { status: 400, body: 'invalid_payload' };
    if (typeof body.text !== 'string' && body.blocks === undefined) return { status: 400, body: 'no_text' };
    if (body.blocks !== undefined && blockKitProblem(body.blocks)) return { status: 400, body: 'invalid_blocks' };
    if (hook.prohibited) return { status: 403, body: 'action_prohibited' };
    if (hook.archived) return { status: 410, body: 'channel_is_archived' };
    posts.push({ via: 'webhook', channel: hook.channel, text: body.text as string | undefined, blocks: (body.blocks as Record<string, unknown>[]) ?? [], body });
    return { status: 200, headers: { 'content-type': 'text/html' }, body: 'ok' };
  }

  function api(r: ContractRequest): ContractReply {
    const fail = (error: string): ContractReply => ({ json: { ok: false, error } });
    const auth = r.headers.authorization ?? '';
    if (!auth.startsWith('Bearer ')) return fail('not_authed');
    const token = auth.slice('Bearer '.length);
    if (!channels.some((c) => c.members.includes(token)) && token !== 'xoxb-lonely-bot') return fail('invalid_auth');
    if (limited(token)) return { status: 429, headers: { 'retry-after': state.retryAfter }, json: { ok: false, error: 'ratelimited' } };
    const body = r.json as Record<string, unknown> | undefined;
    if (!body || typeof body !== 'object') return fail('invalid_json');
    const ch = channels.find((c) => c.id === body.channel || `#${c.name}` === body.channel || c.name === body.channel);
    if (!ch) return fail('channel_not_found');
    if (ch.archived) return fail('is_archived');
    if (!ch.members.includes(token)) return fail('not_in_channel');
    if (typeof body.text !== 'string' && body.blocks === undefined) return fail('no_text');
    if (body.blocks !== undefined && blockKitProblem(body.blocks)) return fail('invalid_blocks');
    posts.push({ via: 'api', channel: ch.id, text: body.text as string | undefined, blocks: (body.blocks as Record<string, unknown>[]) ?? [], body });
    ts += 1;
    return { json: { ok: true, channel: ch.id, ts: `${ts}.000100`, message: { type: 'message', text: body.text, bot_id: 'B0FIDO' } } };
  }

  const handler = (r: ContractRequest): ContractReply => {
    state.calls += 1;
    const o = override?.(r);
    if (o) return o;
    if (r.method === 'POST' && r.path.startsWith('/services/')) return webhook(r);
    if (r.method === 'POST' && r.path === '/api/chat.postMessage') return api(r);
    return { status: 404, body: 'not found' };
  };

  return {
    handler,
    webhooks,
    channels,
    posts,
    state,
    setOverride(f: typeof override) {
      override = f;
    },
    /** Forgets the rate-limit counts (a new second). */
    resetRate() {
      sent.clear();
    },
  };
}
