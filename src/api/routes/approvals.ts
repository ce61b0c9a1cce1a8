/**
 * Approve/deny links (actions/approval-links.ts): the buttons of chat and e-mail messages open
 * GET /api/v1/approvals/{token}, a confirmation page that changes nothing (link previews, mail scanners and chat
 * unfurlers open links by themselves); its form posts back to the same URL, which approves or denies the one
 * action the link names. The signed token is the credential, so these routes take no bearer token; a bad
 * signature counts as a failed token attempt from that address (the same lockout as a wrong bearer token).
 * The page is static HTML under a Content-Security-Policy that allows no script, frame or foreign form target.
 */
import type { FastifyInstance, FastifyReply } from 'fastify';
import { Type } from 'typebox';
import type { ApiContext } from '../context.js';
import type { FailedAuthLimiter } from '../auth-limit.js';
import { failedAuthKey } from '../client-address.js';
import { verifyLink, type LinkClaim } from '../../actions/approval-links.js';
import { ActionStateError, approveAction, denyAction } from '../../actions/approvals.js';
import { html, type SafeHtml } from '../../util/html.js';
import { FidoError } from '../../errors.js';

const TokenParam = Type.Object({ token: Type.String({ minLength: 10, maxLength: 512, pattern: '^[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+$' }) });
const FORM = 'application/x-www-form-urlencoded';
const CSP = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";
const MAX_FORM_BYTES = 8 * 1024;

export default async function approvalRoutes(app: FastifyInstance, { ctx, failedAuth }: { ctx: ApiContext; failedAuth: FailedAuthLimiter }) {
  // Only the confirmation page's form: a JSON body is refused (415), not read.
  app.removeContentTypeParser(['application/json', 'text/plain']);
  app.addContentTypeParser(FORM, { parseAs: 'string', bodyLimit: MAX_FORM_BYTES }, (_req, body, done) => {
    done(null, Object.fromEntries(new URLSearchParams(body as string)));
  });

  /** The link's claim, or a page that says why not (and a failed attempt counted for a forged one). */
  async function claimOf(token: string, ip: string, reply: FastifyReply): Promise<LinkClaim | null> {
    const key = failedAuthKey(ip);
    const wait = failedAuth.retryAfter(key);
    if (wait > 0) throw new FidoError('too_many_failed_attempts', `too many failed attempts from this address; retry after ${wait}s`, { retryAfterSeconds: wait });
    if (!ctx.approvalLinkKey) {
      await page(reply, 404, 'Approval links are off', html`<p>This Fido does not sign approval links.</p>`);
      return null;
    }
    const check = verifyLink(token, ctx.approvalLinkKey);
    if (check.ok) return check.claim;
    if (check.reason !== 'expired') failedAuth.failed(key);
    await page(reply, check.reason === 'expired' ? 410 : 403, 'This link cannot be used', html`<p>${check.message}.</p><p>Approve or deny the action in Fido instead.</p>`);
    return null;
  }

  app.get(
    '/approvals/:token',
    { schema: { summary: 'The confirmation page of a signed approve/deny link (changes nothing)', params: TokenParam, security: [], produces: ['text/html'] } },
    async (req, reply) => {
      const claim = await claimOf((req.params as { token: string }).token, req.ip, reply);
      if (!claim) return reply;
      const row = await ctx.store.db.selectFrom('actions').select(['id', 'kind', 'target', 'state', 'incident_id', 'held_by']).where('id', '=', claim.actionId).executeTakeFirst();
      if (!row) return page(reply, 404, 'No such action', html`<p>The action this link names no longer exists.</p>`);
      const incident = await ctx.store.db.selectFrom('incidents').select(['title', 'host', 'user_name']).where('id', '=', row.incident_id).executeTakeFirst();
      const verb = claim.decision === 'approve' ? 'Approve' : 'Deny';
      const settled = row.state !== 'awaiting_approval';
      return page(
        reply,
        200,
        `${verb} ${row.kind} → ${row.target}?`,
        html`<p><b>${row.kind} → ${row.target}</b> for the incident <b>${incident?.title ?? row.incident_id}</b>
          (host ${incident?.host ?? '—'}, user ${incident?.user_name ?? '—'}).</p>
          ${row.held_by ? html`<p>It waits for a person because: ${row.held_by}.</p>` : ''}
          ${
            settled
              ? html`<p>It no longer waits for approval: it is <b>${row.state}</b>.</p>`
              : html`<form method="post">
                  <p><label>Your name (kept in the audit log) <input name="name" required maxlength="100" autocomplete="name"></label></p>
                  ${claim.decision === 'deny' ? html`<p><label>Why <input name="reason" maxlength="2000"></label></p>` : ''}
                  <p><button type="submit">${verb}</button></p>
                </form>
                <p>This link can be used once; it expires at ${new Date(claim.expiresAt).toISOString()}.</p>`
          }`,
      );
    },
  );

  app.post(
    '/approvals/:token',
    {
      config: { bodyTypes: [FORM] },
      schema: {
        summary: 'Approve or deny the action a signed link names (the form of its confirmation page)',
        params: TokenParam,
        body: Type.Object({ name: Type.String({ minLength: 1, maxLength: 100, pattern: '\\S' }), reason: Type.Optional(Type.String({ maxLength: 2000 })) }, { additionalProperties: false }),
        security: [],
        produces: ['text/html'],
      },
    },
    async (req, reply) => {
      const claim = await claimOf((req.params as { token: string }).token, req.ip, reply);
      if (!claim) return reply;
      const body = req.body as { name: string; reason?: string };
      // Who used the link says who they are; the audit log keeps that the link, not a token, vouched for it.
      const actor = `${body.name.trim().slice(0, 100)} (approval link)`;
      try {
        const a = claim.decision === 'approve' ? await approveAction(ctx.store, claim.actionId, actor) : await denyAction(ctx.store, claim.actionId, actor, body.reason ?? '');
        const done = claim.decision === 'approve' ? 'approved: it runs next' : 'denied';
        return page(reply, 200, `${a.kind} → ${a.target} ${claim.decision === 'approve' ? 'approved' : 'denied'}`, html`<p>${a.kind} → ${a.target} is ${done}.</p>`);
      } catch (e) {
        if (!(e instanceof ActionStateError)) throw e;
        return page(reply, e.code === 'not_found' ? 404 : 409, 'Nothing to do', html`<p>${e.message}.</p>`);
      }
    },
  );
}

function page(reply: FastifyReply, status: number, title: string, body: SafeHtml): FastifyReply {
  const doc = html`<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<meta name="referrer" content="no-referrer"><title>Fido: ${title}</title>
<style>body{font-family:system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem;color:#1a1a1a}button{font-size:1rem;padding:.5rem 1.5rem}</style>
</head><body><h1>${title}</h1>${body}</body></html>`;
  return reply
    .code(status)
    .header('content-type', 'text/html; charset=utf-8')
    .header('content-security-policy', CSP)
    .header('cache-control', 'no-store')
    .header('referrer-policy', 'no-referrer')
    .header('x-content-type-options', 'nosniff')
    .send(doc.value);
}
