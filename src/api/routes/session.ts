/**
 * Signing in to the web app: a name and password (argon2id, per-account lockout, the per-address limit on
 * failed attempts), or OIDC (web/oidc.ts, which ends in the same session). The session is a cookie; every
 * unsafe request it signs in must carry the session's CSRF token (server.ts checks it).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import type { ApiContext } from '../context.js';
import type { FailedAuthLimiter } from '../auth-limit.js';
import { failedAuthKey } from '../client-address.js';
import { FidoError } from '../../errors.js';
import { authFailures } from '../../metrics.js';
import { verifySignIn, type User } from '../../web/accounts.js';
import { createSession, endSession, SESSION_COOKIE, sessionCookieOptions, type WebSession } from '../../web/sessions.js';
import { DEFAULT_WEB } from '../../web/settings.js';
import { ErrorBody } from '../schemas.js';

const Role = Type.Union([Type.Literal('viewer'), Type.Literal('analyst'), Type.Literal('responder'), Type.Literal('admin')]);
const SessionBody = Type.Object({
  user: Type.Object({ name: Type.String(), role: Role, via: Type.Union([Type.Literal('password'), Type.Literal('oidc')]) }),
  csrf_token: Type.String({ description: 'Send as X-CSRF-Token on every request that is not GET or HEAD' }),
  expires_at: Type.Number({ description: 'When the session ends at the latest (epoch ms)' }),
});
const MethodsBody = Type.Object({
  password: Type.Boolean(),
  oidc: Type.Union([Type.Null(), Type.Object({ label: Type.String(), url: Type.String() })]),
});

export const sessionAnswer = (s: WebSession) => ({ user: { name: s.name, role: s.role, via: s.via }, csrf_token: s.csrfToken, expires_at: s.expiresAt });

/** Starts a session for `user` and sets its cookie (also used by the OIDC callback). */
export async function signIn(ctx: ApiContext, reply: FastifyReply, user: User): Promise<WebSession> {
  const settings = (ctx.web ?? DEFAULT_WEB).sessions;
  const { cookieValue, session } = await createSession(ctx.store.db, user, settings);
  reply.setCookie(SESSION_COOKIE, cookieValue, sessionCookieOptions(settings, settings.ttlMs));
  return session;
}

export default async function sessionRoutes(app: FastifyInstance, { ctx, failedAuth }: { ctx: ApiContext; failedAuth: FailedAuthLimiter }) {
  const web = ctx.web ?? DEFAULT_WEB;

  app.get(
    '/session/methods',
    { schema: { summary: 'How one can sign in to the web app (no auth)', security: [], response: { 200: MethodsBody } } },
    async () => ({ password: true, oidc: ctx.oidc ? { label: ctx.oidc.label, url: '/auth/oidc/login' } : null }),
  );

  app.post(
    '/session',
    {
      schema: {
        summary: 'Sign in with a name and password; sets the session cookie',
        description:
          'A wrong name or password is 401, counted against the client address (auth.failed_attempts) and the account: ' +
          'auth.lockout.attempts wrong passwords in a row lock the account for auth.lockout.duration (429 with Retry-After).',
        security: [],
        body: Type.Object({ name: Type.String({ minLength: 1, maxLength: 100 }), password: Type.String({ minLength: 1, maxLength: 1024 }) }, { additionalProperties: false }),
        response: { 200: SessionBody, 401: ErrorBody, 429: ErrorBody },
      },
    },
    async (req, reply) => {
      const { name, password } = req.body as { name: string; password: string };
      const key = failedAuthKey(req.ip);
      const wait = failedAuth.retryAfter(key);
      if (wait > 0) throw new FidoError('too_many_failed_attempts', `too many failed attempts from this address; retry after ${wait}s`, { retryAfterSeconds: wait });
      const result = await verifySignIn(ctx.store.db, name, password, web.lockout);
      if (!result.ok) {
        failedAuth.failed(key);
        authFailures.inc({ reason: 'invalid' });
        if (result.reason === 'locked') {
          throw new FidoError('too_many_failed_attempts', `this account is locked after failed sign-ins; retry after ${result.retryAfterSeconds}s or ask an admin to unlock it`, {
            retryAfterSeconds: result.retryAfterSeconds,
          });
        }
        // The same answer for an unknown name and a wrong password.
        throw new FidoError('unauthorized', 'wrong name or password');
      }
      return sessionAnswer(await signIn(ctx, reply, result.user));
    },
  );

  app.get(
    '/session',
    { config: { role: 'viewer', session: 'only' }, schema: { summary: 'The signed-in web session, with its CSRF token', response: { 200: SessionBody, 401: ErrorBody } } },
    async (req: FastifyRequest) => sessionAnswer(req.webSession!),
  );

  app.delete(
    '/session',
    { config: { role: 'viewer', session: 'only' }, schema: { summary: 'Sign out (ends the session)' } },
    async (req, reply) => {
      const value = req.cookies[SESSION_COOKIE];
      if (value) await endSession(ctx.store.db, value);
      reply.clearCookie(SESSION_COOKIE, { path: '/' });
      return reply.code(204).send();
    },
  );
}
