/**
 * What the identity-provider actions (kinds/okta_suspend.ts, kinds/entra_disable.ts) share: which user an
 * action names, the protected-user refusal, path segments that cannot change the request path, one HTTP call
 * through the remote client (enrich/remote.ts: outbound guard, TLS verified, redirects refused), and the
 * mapping of a RemoteError to the executor's retry rules (shared with the other action libs: remote-action.ts).
 */
import { Type } from 'typebox';
import type { ActionContext } from '../../action.js';
import { ActionError } from '../../action.js';
import { remoteActionError } from './remote-action.js';
import { type HttpMethod, type RemoteClient, type RemoteResponse } from '../../../enrich/remote.js';

/** Config keys both kinds take. */
export const idpSettingsSchema = {
  revoke_sessions: Type.Optional(Type.Boolean({ description: 'Also end the user\'s sessions (default true)' })),
  login_suffix: Type.Optional(Type.String({ minLength: 1, pattern: '^@?[^@\\s/\\\\]+$', description: 'Domain appended to a name without @ (alice → alice@corp.example)' })),
  protected_users: Type.Optional(Type.Array(Type.String({ minLength: 1 }), { description: 'Users never suspended (logins, names or ids; case-insensitive)' })),
  allow_private: Type.Optional(Type.Boolean({ description: 'Allow a url on a private or loopback address (an on-premises proxy, a test double)' })),
  tls_ca_file: Type.Optional(Type.String({ description: 'PEM file of a private CA that signed the service certificate' })),
};

/**
 * The user the action is about: `params.user` when given, else the incident's user. `DOMAIN\name` keeps the
 * name; a name without @ gets `login_suffix` when one is configured. Refused (permanently) when nothing names one.
 */
export function targetUser(ctx: ActionContext, key: string, loginSuffix: string | undefined): { given: string; login: string } {
  const p = ctx.action.params.user;
  const given = (typeof p === 'string' && p.trim() ? p.trim() : ctx.incident.user ?? '').trim();
  if (!given) throw new ActionError(`${key}: no user to act on (neither params.user nor the incident's user)`, false);
  const bs = given.lastIndexOf('\\');
  let login = bs >= 0 && !given.includes('@') ? given.slice(bs + 1) : given;
  if (!login) throw new ActionError(`${key}: "${given}" names no user`, false);
  if (!login.includes('@') && loginSuffix) login = `${login}@${loginSuffix.replace(/^@/, '')}`;
  return { given, login };
}

/** The protected entry any of `names` matches (case-insensitive; a name also by its part after `DOMAIN\\` and before @: protecting more is the safe side), or null. */
export function protectedMatch(list: readonly string[] | undefined, names: readonly (string | null | undefined)[]): string | null {
  const have = new Set<string>();
  for (const n of names) {
    if (!n) continue;
    have.add(n.toLowerCase());
    const bs = n.lastIndexOf('\\');
    if (bs >= 0) have.add(n.slice(bs + 1).toLowerCase());
    const at = n.indexOf('@');
    if (at > 0) have.add(n.slice(0, at).toLowerCase());
  }
  return (list ?? []).find((p) => have.has(p.toLowerCase())) ?? null;
}

/**
 * One path segment, percent-encoded so that no value ("../admin", "a/b", "x?y") changes the path. A segment
 * of dots only is refused: URL parsers read "%2e%2e" as ".." too.
 */
export function segment(value: string, key: string): string {
  if (/^\.*$/.test(value)) throw new ActionError(`${key}: "${value}" is not a user name; refused`, false);
  return encodeURIComponent(value);
}

export type Method = HttpMethod;

/** One call through the remote client. */
export function call(
  client: RemoteClient,
  method: Method,
  path: string,
  o: { signal: AbortSignal; json?: unknown; headers?: Record<string, string>; query?: Record<string, string> },
): Promise<RemoteResponse> {
  return client.send({ method, path, signal: o.signal, ...(o.json !== undefined ? { json: o.json } : {}), ...(o.headers ? { headers: o.headers } : {}), ...(o.query ? { query: o.query } : {}) });
}

export { scrubber } from './remote-action.js';

/**
 * A failure as the executor's retry rules (lib/remote-action.ts), worded with the target's key; a refused
 * credential says what to check. `wrote`: the call changes state.
 */
export function actionError(e: unknown, key: string, o: { wrote: boolean; signal: AbortSignal; scrub: (t: string) => string }): ActionError {
  return remoteActionError(e, { mutating: o.wrote, prefix: key, scrub: o.scrub, signal: o.signal, authHint: 'check the credentials and their permissions' });
}

/** The first value of a response header. */
export function header(res: RemoteResponse, name: string): string | undefined {
  const v = res.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** A snippet of an error body for messages. */
export function said(res: RemoteResponse): string {
  return (typeof res.body === 'string' ? res.body : JSON.stringify(res.body ?? '')).replace(/\s+/g, ' ').slice(0, 300);
}
