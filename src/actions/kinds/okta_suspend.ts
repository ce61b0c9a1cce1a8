/**
 * okta_suspend: suspends an Okta user and ends their sessions; undo unsuspends. Reversible.
 *
 *   - name: okta-suspend
 *     kind: okta_suspend
 *     url: https://corp.okta.com
 *     api_token: ${env:FIDO_OKTA_TOKEN}        # sent as "Authorization: SSWS <token>"
 *     login_suffix: corp.example              # alice → alice@corp.example
 *     revoke_sessions: true                    # default
 *     protected_users: [breakglass@corp.example]
 *
 * Policy: `then: [{ action: okta-suspend, params: { user: alice }, for: 4h }]`. The user is `params.user`, else
 * the incident's user (`DOMAIN\name` keeps the name; a name without @ gets login_suffix), looked up with
 * GET /api/v1/users/{login} (percent-encoded: a name never changes the path). Then
 * POST /api/v1/users/{id}/lifecycle/suspend (only an ACTIVE user can be suspended; a SUSPENDED one is left
 * alone, any other status is refused) and DELETE /api/v1/users/{id}/sessions.
 *
 * The result records the status the user had (`was`); the undo unsuspends only a user Fido suspended. The
 * status read is checkpointed (ActionContext.checkpoint) before the suspend, so that an attempt after a crash
 * that finds the user SUSPENDED records the status its earlier attempt saw, not its own effect; reconcile
 * carries it on too. (`was: null`, from before checkpoints, leaves the user suspended on undo: Fido never
 * re-enables what it cannot vouch for.)
 * A lifecycle call Okta answers 400 (E0000001, the user's status does not allow it) is settled by reading
 * the status again: already in the wanted state is success.
 *
 * Errors: 401/403 (E0000011 invalid token, E0000006 no permission) and 404 (E0000007) are permanent; 429
 * (E0000047) is retried at X-Rate-Limit-Reset (epoch seconds); 5xx and network failures are retried.
 */
import { Type, type Static } from 'typebox';
import { Duration } from '../../config/schema.js';
import { parseDuration } from '../../config/duration.js';
import type { ComponentProblem } from '../../component/component.js';
import { createRemoteClient, readCaFile, RemoteError, SecretString, type RemoteResponse } from '../../enrich/remote.js';
import { outboundUrlProblem } from '../../util/outbound.js';
import { retryAfterMs } from '../../util/retry-after.js';
import { ActionError, defineAction, type ActionContext, type ActionDeps, type ActionOutcome, type ActionTarget, type Reconciled, type UndoContext } from '../action.js';
import { secretValue } from '../target-config.js';
import { actionError, call, header, idpSettingsSchema, protectedMatch, said, scrubber, segment, targetUser, type Method } from './lib/idp-common.js';

export const OktaSuspendSchema = Type.Object(
  {
    name: Type.String(),
    kind: Type.Literal('okta_suspend'),
    url: Type.String({ pattern: '^[Hh][Tt][Tt][Pp][Ss]?://', description: 'The Okta org URL, e.g. https://corp.okta.com' }),
    api_token: SecretString,
    timeout: Type.Optional(Duration),
    ...idpSettingsSchema,
  },
  { additionalProperties: false },
);
export type OktaSuspendConfig = Static<typeof OktaSuspendSchema>;

/** What execute stores with the action, and what undo reads back. */
export interface OktaSuspendResult extends Record<string, unknown> {
  user: string;
  login: string;
  id: string;
  /** The status before Fido acted; null (results from before checkpoints) when a retried attempt could not tell. */
  was: string | null;
  suspended: boolean;
  sessions_revoked: boolean;
}

interface OktaUser {
  id: string;
  status: string;
  login: string | null;
}

function check(cfg: OktaSuspendConfig): ComponentProblem[] {
  const problem = outboundUrlProblem(cfg.url, { allowPrivate: cfg.allow_private ?? false });
  return problem ? [{ key: 'url', message: problem }] : [];
}

/** Okta's error body `{errorCode, errorSummary}` and status as a RemoteError. */
function oktaError(res: RemoteResponse, where: string, scrub: (t: string) => string, nowMs: number): RemoteError {
  const body = res.body as { errorCode?: unknown; errorSummary?: unknown } | null;
  const code = typeof body?.errorCode === 'string' ? body.errorCode : '';
  const summary = typeof body?.errorSummary === 'string' ? body.errorSummary : said(res);
  const what = scrub(`${where} answered ${res.status}${code ? ` ${code}` : ''}: ${summary}`);
  if (res.status === 429 || code === 'E0000047') {
    // Okta documents X-Rate-Limit-Reset (epoch seconds) rather than Retry-After.
    const reset = Number(header(res, 'x-rate-limit-reset'));
    const pause = retryAfterMs(header(res, 'retry-after'), nowMs) ?? (Number.isFinite(reset) && reset > 0 ? Math.max(0, reset * 1000 - nowMs) : undefined);
    return new RemoteError(`${what} (rate limit)`, 'ratelimited', res.status, pause);
  }
  if (res.status === 401 || res.status === 403) return new RemoteError(`${what} (the API token was refused)`, 'auth', res.status);
  if (res.status === 404) return new RemoteError(what, 'not_found', res.status);
  if (res.status >= 500) return new RemoteError(what, 'server', res.status);
  return new RemoteError(what, 'client', res.status);
}

async function create(cfg: OktaSuspendConfig, deps: ActionDeps): Promise<ActionTarget> {
  const key = `actions.targets.${cfg.name}`;
  const problem = check(cfg)[0];
  if (problem) throw new Error(`${key}.${problem.key}: ${problem.message}`);
  const token = secretValue(cfg.api_token, `${key}.api_token`);
  const timeoutMs = cfg.timeout !== undefined ? parseDuration(cfg.timeout, `${key}.timeout`) : 10_000;
  const client = createRemoteClient({
    key,
    baseUrl: cfg.url,
    headers: { authorization: `SSWS ${token}` },
    allowPrivate: cfg.allow_private ?? false,
    ca: readCaFile(cfg.tls_ca_file, deps.configDir, key),
    timeoutMs,
    userAgent: 'fido-actions/1',
  });
  const scrub = scrubber(() => [token]);
  const revoke = cfg.revoke_sessions ?? true;

  /** One call; a non-2xx is thrown as an ActionError unless `accept` lists its status. */
  async function okta(method: Method, path: string, signal: AbortSignal, accept: number[] = []): Promise<RemoteResponse> {
    const wrote = method !== 'GET';
    let res: RemoteResponse;
    try {
      res = await call(client, method, path, { signal });
    } catch (e) {
      throw actionError(e, key, { wrote, signal, scrub });
    }
    if ((res.status >= 200 && res.status < 300) || accept.includes(res.status)) return res;
    throw actionError(oktaError(res, `${method} ${path.split('?')[0]}`, scrub, Date.now()), key, { wrote: false, signal, scrub });
  }

  async function getUser(idOrLogin: string, signal: AbortSignal): Promise<OktaUser> {
    const res = await okta('GET', `/api/v1/users/${segment(idOrLogin, key)}`, signal);
    const b = res.body as { id?: unknown; status?: unknown; profile?: { login?: unknown } } | null;
    // The id goes into later paths: only Okta's own id form is accepted.
    if (typeof b?.id !== 'string' || !/^[A-Za-z0-9]{1,64}$/.test(b.id) || typeof b.status !== 'string') {
      throw new ActionError(`${key}: GET /api/v1/users answered without a usable id and status`, true);
    }
    return { id: b.id, status: b.status, login: typeof b.profile?.login === 'string' ? b.profile.login : null };
  }

  /** A lifecycle transition; a 400 is settled by reading the status again (already there is success). */
  async function transition(u: OktaUser, op: 'suspend' | 'unsuspend', want: string, signal: AbortSignal): Promise<void> {
    const res = await okta('POST', `/api/v1/users/${u.id}/lifecycle/${op}`, signal, [400]);
    if (res.status !== 400) return;
    const now = await getUser(u.id, signal);
    if (now.status !== want) throw actionError(oktaError(res, `POST /api/v1/users/${u.id}/lifecycle/${op}`, scrub, Date.now()), key, { wrote: false, signal, scrub });
  }

  async function execute(ctx: ActionContext): Promise<ActionOutcome> {
    const { given, login } = targetUser(ctx, key, cfg.login_suffix);
    const u = await getUser(login, ctx.signal);
    const hit = protectedMatch(cfg.protected_users, [given, login, u.login, u.id]);
    if (hit) throw new ActionError(`${key}: ${u.login ?? login} is protected (protected_users: ${hit}); refused`, false);
    if (u.status !== 'ACTIVE' && u.status !== 'SUSPENDED') throw new ActionError(`${key}: ${u.login ?? login} has status ${u.status}; only an ACTIVE user can be suspended`, false);
    // An earlier attempt's checkpoint is the status before Fido acted (SUSPENDED now may be that attempt's doing).
    const prior = ctx.priorCheckpoint?.was;
    const was = typeof prior === 'string' ? prior : u.status;
    if (typeof prior !== 'string') await ctx.checkpoint({ id: u.id, was });
    if (u.status === 'ACTIVE') await transition(u, 'suspend', 'SUSPENDED', ctx.signal);
    if (revoke) await okta('DELETE', `/api/v1/users/${u.id}/sessions`, ctx.signal);
    const detail: OktaSuspendResult = { user: given, login: u.login ?? login, id: u.id, was, suspended: was === 'ACTIVE', sessions_revoked: revoke };
    return { detail };
  }

  async function undo(ctx: UndoContext): Promise<ActionOutcome> {
    const r = ctx.originalResult as Partial<OktaSuspendResult>;
    if (typeof r.id !== 'string') return { detail: { unsuspended: false, reason: 'the action recorded no user: nothing to take back' } };
    if (r.was !== 'ACTIVE') {
      const why = r.was === null ? 'Fido could not tell whether it suspended the user' : `the user was ${r.was ?? 'not active'} before Fido acted`;
      return { detail: { id: r.id, unsuspended: false, reason: `${why}; left as is` } };
    }
    const u = await getUser(r.id, ctx.signal);
    if (u.status !== 'SUSPENDED') return { detail: { id: u.id, unsuspended: false, reason: `the user is ${u.status}: nothing to take back` } };
    await transition(u, 'unsuspend', 'ACTIVE', ctx.signal);
    return { detail: { id: u.id, unsuspended: true } };
  }

  /** After an unknown outcome: the action is done when the user is SUSPENDED, its undo when ACTIVE. */
  async function reconcile(ctx: ActionContext): Promise<Reconciled> {
    const { given, login } = targetUser(ctx, key, cfg.login_suffix);
    const u = await getUser(login, ctx.signal);
    if (ctx.action.undo_of) return u.status === 'ACTIVE' ? { done: true, detail: { id: u.id, unsuspended: true } } : { done: false };
    if (u.status !== 'SUSPENDED') return { done: false };
    // Sessions may not have been revoked yet: only a run without revocation is settled by the status alone.
    if (revoke) return { done: false };
    const prior = ctx.priorCheckpoint?.was;
    const detail: OktaSuspendResult = { user: given, login: u.login ?? login, id: u.id, was: typeof prior === 'string' ? prior : null, suspended: prior === 'ACTIVE', sessions_revoked: false };
    return { done: true, detail };
  }

  return { name: cfg.name, kind: 'okta_suspend', execute, undo, reconcile, close: () => client.close() };
}

const oktaSuspend = defineAction({
  kind: 'okta_suspend',
  description: 'Suspends an Okta user and revokes their sessions; undo unsuspends a user Fido suspended',
  schema: OktaSuspendSchema,
  check,
  create,
  reversible: true,
  containment: true,
});
export default oktaSuspend;
