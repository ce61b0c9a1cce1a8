/**
 * The browser's side of OIDC sign-in: /auth/oidc/login sends it to the provider, /auth/oidc/callback takes it
 * back, starts a session (the same as a password sign-in) and goes to the app. Failures go to the sign-in page
 * with a short reason; the details are logged, never shown.
 */
import type { FastifyInstance } from 'fastify';
import type { ApiContext } from '../api/context.js';
import { signIn } from '../api/routes/session.js';
import { errorContext, log } from '../util/log.js';
import { OIDC_PATHS, OidcRefused, type OidcLogin, type PendingSignIn } from './oidc.js';
import { DEFAULT_WEB } from './settings.js';

const PENDING_COOKIE = 'fido_oidc';
const PENDING_MS = 10 * 60_000;

export default async function oidcRoutes(app: FastifyInstance, { ctx, oidc }: { ctx: ApiContext; oidc: OidcLogin }) {
  const secure = (ctx.web ?? DEFAULT_WEB).sessions.secureCookie;
  const cookieOptions = { path: '/auth/oidc', httpOnly: true, sameSite: 'lax' as const, secure, maxAge: PENDING_MS / 1000 };
  const backToSignIn = (reason: string) => `/login?sso_error=${encodeURIComponent(reason)}`;

  app.get(OIDC_PATHS.login, { schema: { hide: true } }, async (_req, reply) => {
    const { url, pending } = await oidc.begin();
    reply.setCookie(PENDING_COOKIE, [pending.state, pending.nonce, pending.verifier].join('.'), cookieOptions);
    return reply.redirect(url, 302);
  });

  app.get(OIDC_PATHS.callback, { schema: { hide: true } }, async (req, reply) => {
    const raw = req.cookies[PENDING_COOKIE];
    reply.clearCookie(PENDING_COOKIE, { path: cookieOptions.path });
    const parts = raw?.split('.') ?? [];
    if (parts.length !== 3) return reply.redirect(backToSignIn('the sign-in took too long or began elsewhere; try again'), 302);
    const pending: PendingSignIn = { state: parts[0]!, nonce: parts[1]!, verifier: parts[2]! };
    // The callback URL as the provider sent it, on the configured redirect URL's origin (the Host header is the client's).
    const callbackUrl = new URL(req.url, oidc.redirectUrl);
    try {
      const result = await oidc.finish(ctx.store.db, callbackUrl, pending);
      if (!result.ok) return reply.redirect(backToSignIn(result.reason), 302);
      await signIn(ctx, reply, result.user);
      return reply.redirect('/', 302);
    } catch (err) {
      if (err instanceof OidcRefused) return reply.redirect(backToSignIn(err.message), 302);
      log.warn({ err: errorContext(err) }, 'oidc: a sign-in failed');
      return reply.redirect(backToSignIn('the identity provider did not confirm the sign-in'), 302);
    }
  });
}
