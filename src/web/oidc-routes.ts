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
    let begun: Awaited<ReturnType<OidcLogin['begin']>>;
    try {
      begun = await oidc.begin();
    } catch (err) {
      // Discovery failed (provider down, its certificate not trusted): a browser gets the sign-in page, not a 500.
      log.warn({ err: errorContext(err) }, 'oidc: the identity provider cannot be reached');
      return reply.redirect(backToSignIn('the identity provider cannot be reached; try again later or sign in with a password'), 302);
    }
    const { url, pending } = begun;
    reply.setCookie(PENDING_COOKIE, [pending.state, pending.nonce, pending.verifier].join('.'), cookieOptions);
    return reply.redirect(url, 302);
  });

  app.get(OIDC_PATHS.callback, { schema: { hide: true } }, async (req, reply) => {
    const raw = req.cookies[PENDING_COOKIE];
    reply.clearCookie(PENDING_COOKIE, { path: cookieOptions.path });
    const parts = raw?.split('.') ?? [];
    if (parts.length !== 3) return reply.redirect(backToSignIn('the sign-in took too long or began elsewhere; try again'), 302);
    const pending: PendingSignIn = { state: parts[0]!, nonce: parts[1]!, verifier: parts[2]! };
    // The provider's answer (the query) on the configured redirect URL, never on the Host header (the client's),
    // and with its path as configured (behind a proxy that strips a prefix, req.url lacks it; the token request
    // must name the same redirect_uri as the authorization request).
    const callbackUrl = new URL(oidc.redirectUrl);
    callbackUrl.search = new URL(req.url, 'http://callback.invalid').search;
    try {
      const result = await oidc.finish(ctx.store.db, callbackUrl, pending);
      if (!result.ok) return reply.redirect(backToSignIn(result.reason), 302);
      await signIn(ctx, reply, result.user);
      return reply.redirect('/', 302);
    } catch (err) {
      if (err instanceof OidcRefused) return reply.redirect(backToSignIn(err.message), 302);
      log.warn({ err: errorContext(err), ...providerError(err) }, 'oidc: a sign-in failed');
      return reply.redirect(backToSignIn('the identity provider did not confirm the sign-in'), 302);
    }
  });
}

/**
 * The provider's own OAuth error (invalid_grant, invalid_client, access_denied…) and its description, which the
 * error's message does not carry: what an operator needs to fix a client registration. Logged, never shown (a
 * forged callback could carry any text).
 */
function providerError(err: unknown): { oauth_error?: string; oauth_error_description?: string; oauth_status?: number } {
  if (typeof err !== 'object' || err === null) return {};
  const e = err as { error?: unknown; error_description?: unknown; status?: unknown };
  if (typeof e.error !== 'string') return {};
  return {
    oauth_error: e.error.slice(0, 100),
    ...(typeof e.error_description === 'string' ? { oauth_error_description: e.error_description.slice(0, 300) } : {}),
    ...(typeof e.status === 'number' ? { oauth_status: e.status } : {}),
  };
}
