/**
 * Who a request is: a bearer token when one is presented (tools, scripts), else the web app's session cookie,
 * whose unsafe requests must carry the session's CSRF token. One function for the server's auth hook and for the
 * intake route (which first lets a source's own tokens and signed webhooks through: intake/protection.ts).
 * A limited address is refused before anything it presents is looked at (auth-limit.ts says why).
 */
import type { FastifyRequest } from 'fastify';
import type { ApiContext } from './context.js';
import { roleAtLeast, type Principal, type Role } from './auth.js';
import type { FailedAuthLimiter } from './auth-limit.js';
import { failedAuthKey } from './client-address.js';
import { FidoError } from '../errors.js';
import { authFailures, authRateLimited } from '../metrics.js';
import { CSRF_HEADER, csrfMatches, findSession, SESSION_COOKIE } from '../web/sessions.js';
import { DEFAULT_WEB } from '../web/settings.js';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);
const headerValue = (v: string | string[] | undefined) => (Array.isArray(v) ? v[0] : v);

export type RequestAuthenticator = (req: FastifyRequest) => Promise<Principal>;

/** Refuses an address past its failed attempts (429 with Retry-After). */
export function refuseLimited(failedAuth: FailedAuthLimiter, req: FastifyRequest): void {
  const wait = failedAuth.retryAfter(failedAuthKey(req.ip));
  if (wait > 0) {
    authRateLimited.inc();
    throw new FidoError('too_many_failed_attempts', `too many failed token attempts from this address; retry after ${wait}s`, { retryAfterSeconds: wait });
  }
}

/** The principal of `req`, or 401 (a presented token that matches nothing counts as a failed attempt). Sets req.webSession. */
export function requestAuthenticator(ctx: ApiContext, failedAuth: FailedAuthLimiter): RequestAuthenticator {
  const web = ctx.web ?? DEFAULT_WEB;
  return async (req) => {
    refuseLimited(failedAuth, req);
    const presented = req.headers.authorization !== undefined;
    const cookieValue = presented ? undefined : req.cookies[SESSION_COOKIE];
    let p: Principal | null = null;
    if (presented || cookieValue === undefined) {
      p = await ctx.authenticate(req.headers.authorization);
    } else {
      const session = await findSession(ctx.store.db, cookieValue, web.sessions);
      if (session) {
        // A cross-site page can make a browser send the cookie, never read the token: unsafe methods need it.
        if (!SAFE_METHODS.has(req.method) && !csrfMatches(session, headerValue(req.headers[CSRF_HEADER]))) {
          throw new FidoError('forbidden', `a request signed in by the session cookie needs its CSRF token in ${CSRF_HEADER} (GET /api/v1/session gives it)`);
        }
        req.webSession = session;
        p = { tokenId: `user:${session.userId}`, name: session.name, role: session.role };
      }
    }
    if (!p) {
      authFailures.inc({ reason: presented ? 'invalid' : 'missing' });
      // Only a presented token is a guess; a request without one is refused but not counted against the address.
      if (presented) failedAuth.failed(failedAuthKey(req.ip));
      throw new FidoError('unauthorized', cookieValue === undefined ? 'a valid bearer token is required' : 'the session has ended; sign in again');
    }
    return p;
  };
}

/** 403 unless `p` has at least `need`, naming both. */
export function requireRole(req: FastifyRequest, p: Principal, need: Role): void {
  if (!roleAtLeast(p.role, need)) throw new FidoError('forbidden', `this needs the ${need} role; ${req.webSession ? `${p.name} has` : 'the token has'} ${p.role}`);
}
