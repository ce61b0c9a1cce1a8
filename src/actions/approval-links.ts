/**
 * Signed, expiring approve/deny links, for the buttons of chat and e-mail messages (Slack, Teams, e-mail): a
 * person who received the message settles one action without a token. A link is a capability, like a password
 * reset link: whoever holds it may use it once (the approval's state guard refuses a second use), until it
 * expires (`actions.approval_links.ttl`, never later than the action's own approval deadline).
 *
 * Token: base64url(JSON {a: action id, d: approve|deny, e: expiry in epoch seconds}) "." base64url(HMAC-SHA256).
 * The key is `actions.approval_links.secret` (a secret reference) or, when none is configured, 32 random bytes
 * Fido makes once and keeps in the store's `keys` table, so that every process of one deployment signs alike.
 * Opening a link shows a confirmation page (GET never changes anything: link previews and mail scanners open
 * links); the page's form posts back (api/routes/approvals.ts).
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Db } from '../store/store.js';
import type { FidoConfig } from '../config/schema.js';
import { parseDuration } from '../config/duration.js';
import { secretValue } from './target-config.js';
import type { ApprovalLinks } from './action.js';

export type LinkDecision = 'approve' | 'deny';

export interface LinkClaim {
  actionId: string;
  decision: LinkDecision;
  /** Epoch ms after which the link is refused. */
  expiresAt: number;
}

const KEY_NAME = 'approval-links';
const CONTEXT = 'fido-approval-link-v1.';
export const DEFAULT_LINK_TTL_MS = 8 * 3_600_000;

const b64 = (b: Buffer | string) => Buffer.from(b).toString('base64url');

function mac(key: Buffer, payload: string): Buffer {
  return createHmac('sha256', key).update(CONTEXT).update(payload).digest();
}

export function signLink(claim: LinkClaim, key: Buffer): string {
  const payload = b64(JSON.stringify({ a: claim.actionId, d: claim.decision, e: Math.floor(claim.expiresAt / 1000) }));
  return `${payload}.${b64(mac(key, payload))}`;
}

export type LinkCheck = { ok: true; claim: LinkClaim } | { ok: false; reason: 'malformed' | 'signature' | 'expired'; message: string };

/** Checks a token's signature, then its expiry; the claim is trusted only when `ok`. */
export function verifyLink(token: string, key: Buffer, now = Date.now()): LinkCheck {
  const dot = token.indexOf('.');
  if (dot <= 0 || dot !== token.lastIndexOf('.') || token.length > 512) return { ok: false, reason: 'malformed', message: 'this is not an approval link' };
  const payload = token.slice(0, dot);
  const given = Buffer.from(token.slice(dot + 1), 'base64url');
  const want = mac(key, payload);
  if (given.length !== want.length || !timingSafeEqual(given, want)) return { ok: false, reason: 'signature', message: 'this approval link is not valid (its signature does not match)' };
  let body: { a?: unknown; d?: unknown; e?: unknown };
  try {
    body = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as typeof body;
  } catch {
    return { ok: false, reason: 'malformed', message: 'this is not an approval link' };
  }
  if (body === null || typeof body !== 'object' || typeof body.a !== 'string' || (body.d !== 'approve' && body.d !== 'deny') || typeof body.e !== 'number') {
    return { ok: false, reason: 'malformed', message: 'this is not an approval link' };
  }
  const claim: LinkClaim = { actionId: body.a, decision: body.d, expiresAt: body.e * 1000 };
  if (claim.expiresAt <= now) return { ok: false, reason: 'expired', message: `this approval link expired at ${new Date(claim.expiresAt).toISOString()}` };
  return { ok: true, claim };
}

/**
 * The signing key: the configured secret (already resolved), or the one kept in the store, made on first use.
 * Concurrent first uses agree: the insert does nothing when another process made the key first.
 */
export async function linkKey(db: Db, configured?: string, now = Date.now()): Promise<Buffer> {
  if (configured !== undefined) {
    if (configured.length < 32) throw new Error('actions.approval_links.secret must be at least 32 characters');
    return Buffer.from(configured, 'utf8');
  }
  await db
    .insertInto('keys')
    .values({ name: KEY_NAME, value: randomBytes(32).toString('base64'), created_at: now })
    .onConflict((oc) => oc.column('name').doNothing())
    .execute();
  const row = await db.selectFrom('keys').select('value').where('name', '=', KEY_NAME).executeTakeFirstOrThrow();
  return Buffer.from(row.value, 'base64');
}

/**
 * ActionDeps.approvalLinks: the approve and deny links of an action, under `publicUrl`. `deadline` gives the
 * action's own approval deadline when it has one (a link never outlives it).
 */
export function approvalLinkMaker(opts: { publicUrl: string; key: Buffer; ttlMs?: number; now?: () => number }): (actionId: string, deadline?: number) => ApprovalLinks {
  const base = opts.publicUrl.replace(/(?<!\/)\/+$/, '');
  const ttl = opts.ttlMs ?? DEFAULT_LINK_TTL_MS;
  const now = opts.now ?? Date.now;
  return (actionId, deadline) => {
    const expiresAt = Math.min(now() + ttl, deadline ?? Number.POSITIVE_INFINITY);
    const link = (decision: LinkDecision) => `${base}/api/v1/approvals/${signLink({ actionId, decision, expiresAt }, opts.key)}`;
    return { approve: link('approve'), deny: link('deny'), expires_at: new Date(expiresAt).toISOString() };
  };
}

/** `actions.approval_links` resolved: the signing key (configured or kept in the store) and the links' lifetime. */
export async function approvalLinkSettings(db: Db, actions: FidoConfig['actions']): Promise<{ key: Buffer; ttlMs: number }> {
  const cfg = actions?.approval_links;
  const key = await linkKey(db, secretValue(cfg?.secret, 'actions.approval_links.secret'));
  return { key, ttlMs: cfg?.ttl !== undefined ? parseDuration(cfg.ttl, 'actions.approval_links.ttl') : DEFAULT_LINK_TTL_MS };
}

/** Links can be made only under an http(s) public URL (the one messages point people to). */
export function linksPossible(publicUrl: string): boolean {
  return /^https?:\/\//i.test(publicUrl);
}
