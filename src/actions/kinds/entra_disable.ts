/**
 * entra_disable: disables a Microsoft Entra ID user and revokes their sign-in sessions through Microsoft
 * Graph; undo re-enables. Reversible.
 *
 *   - name: entra-disable
 *     kind: entra_disable
 *     tenant_id: 00000000-0000-0000-0000-000000000000
 *     client_id: 11111111-1111-1111-1111-111111111111
 *     client_secret: ${env:FIDO_ENTRA_SECRET}   # app permission User.EnableDisableAccount.All (+ User.RevokeSessions.All)
 *     login_suffix: corp.example                 # alice → alice@corp.example (the UPN)
 *     protected_users: [breakglass@corp.example]
 *
 * Token: OAuth2 client credentials at token_url (default https://login.microsoftonline.com/<tenant>/oauth2/v2.0/token,
 * scope https://graph.microsoft.com/.default), kept until a minute before it expires; a Graph 401 gets one
 * fresh token and one more try. User: GET /v1.0/users/{upn}?$select=id,userPrincipalName,accountEnabled
 * (percent-encoded); disable: PATCH /v1.0/users/{id} {"accountEnabled":false}; sessions:
 * POST /v1.0/users/{id}/revokeSignInSessions. The result records `was_enabled`; undo re-enables only an
 * account Fido disabled. `was_enabled` is checkpointed (ActionContext.checkpoint) before the PATCH, so that an
 * attempt after a crash that finds the account disabled records what its earlier attempt saw, not its own
 * effect; reconcile carries it on too (null, from before checkpoints: undo leaves the account disabled).
 *
 * Errors: 401/403 and 4xx permanent (the message never carries the secret or token); 429 retried after
 * Retry-After; 5xx and network failures retried; a write without answer is an unknown outcome (reconcile).
 */
import { Type, type Static } from 'typebox';
import { Duration } from '../../config/schema.js';
import { parseDuration } from '../../config/duration.js';
import type { ComponentProblem } from '../../component/component.js';
import { createRemoteClient, readCaFile, RemoteError, SecretString, statusError, type RemoteClient, type RemoteResponse } from '../../enrich/remote.js';
import { outboundUrlProblem } from '../../util/outbound.js';
import { ActionError, defineAction, type ActionContext, type ActionDeps, type ActionOutcome, type ActionTarget, type Reconciled, type UndoContext } from '../action.js';
import { secretValue } from '../target-config.js';
import { actionError, call, idpSettingsSchema, protectedMatch, said, scrubber, segment, targetUser, type Method } from './lib/idp-common.js';

const GRAPH = 'https://graph.microsoft.com';
const SCOPE = 'https://graph.microsoft.com/.default';

export const EntraDisableSchema = Type.Object(
  {
    name: Type.String(),
    kind: Type.Literal('entra_disable'),
    tenant_id: Type.String({ pattern: '^[A-Za-z0-9.-]+$', description: 'Directory (tenant) id or domain' }),
    client_id: Type.String({ minLength: 1 }),
    client_secret: SecretString,
    url: Type.Optional(Type.String({ pattern: '^[Hh][Tt][Tt][Pp][Ss]?://', description: 'Graph base URL (default https://graph.microsoft.com)' })),
    token_url: Type.Optional(Type.String({ pattern: '^[Hh][Tt][Tt][Pp][Ss]?://', description: 'OAuth2 token endpoint (default: the tenant\'s v2.0 endpoint)' })),
    timeout: Type.Optional(Duration),
    ...idpSettingsSchema,
  },
  { additionalProperties: false },
);
export type EntraDisableConfig = Static<typeof EntraDisableSchema>;

export interface EntraDisableResult extends Record<string, unknown> {
  user: string;
  upn: string;
  id: string;
  /** Whether the account was enabled before Fido acted; null (results from before checkpoints) when a retried attempt could not tell. */
  was_enabled: boolean | null;
  disabled: boolean;
  sessions_revoked: boolean;
}

const tokenUrlOf = (cfg: EntraDisableConfig) => cfg.token_url ?? `https://login.microsoftonline.com/${cfg.tenant_id}/oauth2/v2.0/token`;

function check(cfg: EntraDisableConfig): ComponentProblem[] {
  const out: ComponentProblem[] = [];
  for (const [k, url] of [['url', cfg.url ?? GRAPH], ['token_url', tokenUrlOf(cfg)]] as const) {
    const p = outboundUrlProblem(url, { allowPrivate: cfg.allow_private ?? false });
    if (p) out.push({ key: k, message: p });
  }
  return out;
}

/** Graph's `{error:{code,message}}` with the status's meaning (remote.ts statusError reads Retry-After). */
function graphError(res: RemoteResponse, where: string, scrub: (t: string) => string): RemoteError {
  const e = statusError(res, where, scrub);
  const body = res.body as { error?: { code?: unknown; message?: unknown } } | null;
  const code = typeof body?.error?.code === 'string' ? body.error.code : '';
  const msg = typeof body?.error?.message === 'string' ? body.error.message : said(res);
  return new RemoteError(scrub(`${where} answered ${res.status}${code ? ` ${code}` : ''}: ${msg}`), e.reason, e.status, e.retryAfterMs);
}

async function create(cfg: EntraDisableConfig, deps: ActionDeps): Promise<ActionTarget> {
  const key = `actions.targets.${cfg.name}`;
  const problem = check(cfg)[0];
  if (problem) throw new Error(`${key}.${problem.key}: ${problem.message}`);
  const secret = secretValue(cfg.client_secret, `${key}.client_secret`);
  const timeoutMs = cfg.timeout !== undefined ? parseDuration(cfg.timeout, `${key}.timeout`) : 10_000;
  const ca = readCaFile(cfg.tls_ca_file, deps.configDir, key);
  const common = { key, allowPrivate: cfg.allow_private ?? false, ...(ca ? { ca } : {}), timeoutMs, userAgent: 'fido-actions/1', secrets: [secret] };
  const graph: RemoteClient = createRemoteClient({ ...common, baseUrl: cfg.url ?? GRAPH });
  const login: RemoteClient = createRemoteClient({ ...common, baseUrl: tokenUrlOf(cfg) });
  let token: { value: string; until: number } | null = null;
  const scrub = scrubber(() => [secret, token?.value]);
  const revoke = cfg.revoke_sessions ?? true;

  async function accessToken(signal: AbortSignal, fresh: boolean): Promise<string> {
    if (!fresh && token && token.until > Date.now()) return token.value;
    token = null;
    let res: RemoteResponse;
    try {
      res = await login.send({ method: 'POST', path: '', form: { grant_type: 'client_credentials', client_id: cfg.client_id, client_secret: secret, scope: SCOPE }, signal });
    } catch (e) {
      throw actionError(e, key, { wrote: false, signal, scrub });
    }
    const b = res.body as { access_token?: unknown; expires_in?: unknown; error?: unknown; error_description?: unknown } | null;
    if (res.status === 400 || res.status === 401) {
      // AADSTS errors (invalid_client, unauthorized_client): the app registration or secret is wrong.
      throw new ActionError(scrub(`${key}: token request refused (${String(b?.error ?? res.status)}): check tenant_id, client_id and client_secret`), false);
    }
    if (res.status < 200 || res.status >= 300) throw actionError(graphError(res, 'POST token_url', scrub), key, { wrote: false, signal, scrub });
    if (typeof b?.access_token !== 'string' || !b.access_token) throw new ActionError(`${key}: the token endpoint answered without an access_token`, true);
    const life = typeof b.expires_in === 'number' ? b.expires_in : Number(b.expires_in ?? 3600);
    token = { value: b.access_token, until: Date.now() + Math.max(0, (Number.isFinite(life) ? life : 3600) - 60) * 1000 };
    return token.value;
  }

  /** One Graph call with the current token; a 401 gets one fresh token and one more try. */
  async function graphCall(method: Method, path: string, signal: AbortSignal, json?: unknown, query?: Record<string, string>): Promise<RemoteResponse> {
    const wrote = method !== 'GET';
    for (let attempt = 0; ; attempt++) {
      const headers = { authorization: `Bearer ${await accessToken(signal, attempt > 0)}` };
      let res: RemoteResponse;
      try {
        res = await call(graph, method, path, { signal, headers, ...(json !== undefined ? { json } : {}), ...(query ? { query } : {}) });
      } catch (e) {
        throw actionError(e, key, { wrote, signal, scrub });
      }
      if (res.status === 401 && attempt === 0) continue;
      if (res.status >= 200 && res.status < 300) return res;
      throw actionError(graphError(res, `${method} ${path}`, scrub), key, { wrote: false, signal, scrub });
    }
  }

  async function getUser(idOrUpn: string, signal: AbortSignal): Promise<{ id: string; upn: string | null; enabled: boolean }> {
    const res = await graphCall('GET', `/v1.0/users/${segment(idOrUpn, key)}`, signal, undefined, { $select: 'id,userPrincipalName,accountEnabled' });
    const b = res.body as { id?: unknown; userPrincipalName?: unknown; accountEnabled?: unknown } | null;
    // The id goes into later paths: only a directory object id form is accepted.
    if (typeof b?.id !== 'string' || !/^[A-Za-z0-9-]{1,64}$/.test(b.id) || typeof b.accountEnabled !== 'boolean') {
      throw new ActionError(`${key}: GET /v1.0/users answered without a usable id and accountEnabled`, true);
    }
    return { id: b.id, upn: typeof b.userPrincipalName === 'string' ? b.userPrincipalName : null, enabled: b.accountEnabled };
  }

  async function execute(ctx: ActionContext): Promise<ActionOutcome> {
    const { given, login: upn } = targetUser(ctx, key, cfg.login_suffix);
    const u = await getUser(upn, ctx.signal);
    const hit = protectedMatch(cfg.protected_users, [given, upn, u.upn, u.id]);
    if (hit) throw new ActionError(`${key}: ${u.upn ?? upn} is protected (protected_users: ${hit}); refused`, false);
    // An earlier attempt's checkpoint is the state before Fido acted (disabled now may be that attempt's doing).
    const prior = ctx.priorCheckpoint?.was_enabled;
    const wasEnabled = typeof prior === 'boolean' ? prior : u.enabled;
    if (typeof prior !== 'boolean') await ctx.checkpoint({ id: u.id, was_enabled: wasEnabled });
    if (u.enabled) await graphCall('PATCH', `/v1.0/users/${u.id}`, ctx.signal, { accountEnabled: false });
    if (revoke) await graphCall('POST', `/v1.0/users/${u.id}/revokeSignInSessions`, ctx.signal);
    const detail: EntraDisableResult = { user: given, upn: u.upn ?? upn, id: u.id, was_enabled: wasEnabled, disabled: wasEnabled, sessions_revoked: revoke };
    return { detail };
  }

  async function undo(ctx: UndoContext): Promise<ActionOutcome> {
    const r = ctx.originalResult as Partial<EntraDisableResult>;
    if (typeof r.id !== 'string') return { detail: { re_enabled: false, reason: 'the action recorded no user: nothing to take back' } };
    if (r.was_enabled !== true) {
      const why = r.was_enabled === null ? 'Fido could not tell whether it disabled the account' : 'the account was disabled before Fido acted';
      return { detail: { id: r.id, re_enabled: false, reason: `${why}; left disabled` } };
    }
    const u = await getUser(r.id, ctx.signal);
    if (u.enabled) return { detail: { id: u.id, re_enabled: false, reason: 'the account is enabled: nothing to take back' } };
    await graphCall('PATCH', `/v1.0/users/${u.id}`, ctx.signal, { accountEnabled: true });
    return { detail: { id: u.id, re_enabled: true } };
  }

  /** After an unknown outcome: the undo is done when the account is enabled; the action (without revocation) when disabled. */
  async function reconcile(ctx: ActionContext): Promise<Reconciled> {
    const { given, login: upn } = targetUser(ctx, key, cfg.login_suffix);
    const u = await getUser(upn, ctx.signal);
    if (ctx.action.undo_of) return u.enabled ? { done: true, detail: { id: u.id, re_enabled: true } } : { done: false };
    if (u.enabled || revoke) return { done: false };
    const prior = ctx.priorCheckpoint?.was_enabled;
    const detail: EntraDisableResult = { user: given, upn: u.upn ?? upn, id: u.id, was_enabled: typeof prior === 'boolean' ? prior : null, disabled: prior === true, sessions_revoked: false };
    return { done: true, detail };
  }

  return {
    name: cfg.name,
    kind: 'entra_disable',
    execute,
    undo,
    reconcile,
    async close() {
      await Promise.all([graph.close(), login.close()]);
    },
  };
}

const entraDisable = defineAction({
  kind: 'entra_disable',
  description: 'Disables a Microsoft Entra ID user (Graph accountEnabled) and revokes sign-in sessions; undo re-enables what it disabled',
  schema: EntraDisableSchema,
  check,
  create,
  reversible: true,
  containment: true,
});
export default entraDisable;
