/**
 * Single sign-on with OpenID Connect (auth.oidc): the authorization code flow with PKCE, state and nonce, through
 * openid-client (a certified relying party). The pending sign-in (state, nonce, PKCE verifier) travels in a
 * short-lived HttpOnly cookie scoped to /auth/oidc, so any Fido process can finish a sign-in another began.
 * The provider is the source of truth for who may come in and with what role: the role is read from a claim
 * at every sign-in; nobody the mapping does not name gets in unless `default_role` says so.
 */
import { readFileSync } from 'node:fs';
import { rootCertificates } from 'node:tls';
import { sql } from 'kysely';
import * as client from 'openid-client';
import { Agent, fetch as undiciFetch } from 'undici';
import type { Db } from '../store/store.js';
import { resolveSecretRefs } from '../config/secrets.js';
import type { FidoConfig } from '../config/schema.js';
import { roleAtLeast, type Role } from '../api/auth.js';
import { createUser, type User } from './accounts.js';

type OidcConfig = NonNullable<NonNullable<FidoConfig['auth']>['oidc']>;

export interface PendingSignIn {
  state: string;
  nonce: string;
  verifier: string;
}

export interface OidcLogin {
  label: string;
  /** Where the provider sends the browser back (…/auth/oidc/callback). */
  redirectUrl: string;
  /** The provider's URL to send the browser to, and what to keep until it comes back. */
  begin(): Promise<{ url: string; pending: PendingSignIn }>;
  /** The account the provider's answer signs in (made at the first sign-in), or why not. */
  finish(db: Db, callbackUrl: URL, pending: PendingSignIn): Promise<{ ok: true; user: User } | { ok: false; reason: string }>;
}

export const OIDC_PATHS = { login: '/auth/oidc/login', callback: '/auth/oidc/callback' } as const;

export function createOidcLogin(cfg: OidcConfig, publicUrl: string | undefined, env: NodeJS.ProcessEnv = process.env): OidcLogin {
  const redirectUrl = cfg.redirect_url ?? (publicUrl ? new URL(OIDC_PATHS.callback, publicUrl).toString() : null);
  if (!redirectUrl) throw new Error('auth.oidc: set redirect_url or server.public_url (the provider must know where to send people back)');
  const secret = resolveSecretRefs(cfg.client_secret, 'auth.oidc.client_secret', env);
  // A private CA is added to the public ones (TLS's `ca` replaces them otherwise: a provider whose keys or userinfo
  // are on a host with a public certificate would fail), never in place of verification.
  const dispatcher = cfg.ca_file ? new Agent({ connect: { ca: [...rootCertificates, readFileSync(cfg.ca_file, 'utf8')] } }) : undefined;
  const options: client.DiscoveryRequestOptions = {};
  if (dispatcher) {
    options[client.customFetch] = ((url: string, init: Parameters<typeof undiciFetch>[1]) =>
      undiciFetch(url, { ...init, dispatcher })) as unknown as client.CustomFetch;
  }
  // Discovered at the first sign-in, not at start: a provider that is down must not keep Fido from starting. A
  // failed discovery is tried again at the next sign-in.
  let discovered: Promise<client.Configuration> | null = null;
  const configuration = () => {
    discovered ??= client.discovery(new URL(cfg.issuer), cfg.client_id, undefined, clientAuth(secret), options).catch((err: unknown) => {
      discovered = null;
      throw err;
    });
    return discovered;
  };
  // Okta and others pin one token endpoint authentication per client; client_secret_post is the default here.
  const clientAuth = (key: string) => (cfg.token_auth_method === 'client_secret_basic' ? client.ClientSecretBasic(key) : client.ClientSecretPost(key));
  const scope = (cfg.scopes ?? ['openid', 'profile', 'email']).join(' ');
  const claim = cfg.roles_claim ?? 'groups';

  return {
    label: cfg.label ?? 'Sign in with SSO',
    redirectUrl,
    async begin() {
      const pending = { state: client.randomState(), nonce: client.randomNonce(), verifier: client.randomPKCECodeVerifier() };
      const url = client.buildAuthorizationUrl(await configuration(), {
        redirect_uri: redirectUrl,
        scope,
        state: pending.state,
        nonce: pending.nonce,
        code_challenge: await client.calculatePKCECodeChallenge(pending.verifier),
        code_challenge_method: 'S256',
      });
      return { url: url.toString(), pending };
    },
    async finish(db, callbackUrl, pending) {
      const config = await configuration();
      const tokens = await client.authorizationCodeGrant(config, callbackUrl, {
        pkceCodeVerifier: pending.verifier,
        expectedState: pending.state,
        expectedNonce: pending.nonce,
        idTokenExpected: true,
      });
      const idClaims = tokens.claims();
      if (!idClaims) return { ok: false, reason: 'the provider sent no ID token' };
      const claims = await withUserInfo(config, tokens.access_token, idClaims, claim);
      const role = roleFromClaims(claimAt(claims, claim), cfg.roles ?? {}, cfg.default_role ?? 'none');
      const subject = `${config.serverMetadata().issuer}#${claims.sub}`;
      if (!role) {
        // The provider no longer gives this person a role: the sessions they still have end too.
        const known = await db.selectFrom('users').select('id').where('oidc_subject', '=', subject).executeTakeFirst();
        if (known) await db.deleteFrom('sessions').where('user_id', '=', known.id).execute();
        return { ok: false, reason: 'your account has no Fido role (ask an admin to map one of your groups)' };
      }
      return { ok: true, user: await accountFor(db, subject, preferredName(claims), role) };
    },
  };
}

type Claims = Record<string, unknown> & { sub: string };

/**
 * The ID token's claims, completed from the userinfo endpoint when the role claim or a name is missing: many
 * providers (oidc-provider, Okta's, Keycloak's without a mapper on the ID token) put what a scope asks for in
 * userinfo only, whenever an access token comes too. The ID token's own claims win.
 */
async function withUserInfo(config: client.Configuration, accessToken: string, idClaims: client.IDToken, roleClaim: string): Promise<Claims> {
  const has = (k: string) => claimAt(idClaims, k) !== undefined && claimAt(idClaims, k) !== null;
  if (has(roleClaim) && (has('preferred_username') || has('email'))) return idClaims;
  if (!config.serverMetadata().userinfo_endpoint || !accessToken) return idClaims;
  // expectedSubject: userinfo for another subject than the ID token's is refused (a substituted token).
  const info = await client.fetchUserInfo(config, accessToken, idClaims.sub);
  return { ...info, ...idClaims };
}

/**
 * A claim by name, or by a dotted path into nested claims when no claim has the whole name: Keycloak puts realm
 * roles in realm_access.roles.
 */
export function claimAt(claims: Record<string, unknown>, path: string): unknown {
  if (Object.hasOwn(claims, path)) return claims[path];
  let at: unknown = claims;
  for (const part of path.split('.')) {
    if (typeof at !== 'object' || at === null || Array.isArray(at) || !Object.hasOwn(at, part)) return undefined;
    at = (at as Record<string, unknown>)[part];
  }
  return at;
}

/** The highest role any of the claim's values maps to; the default for a person none maps. */
export function roleFromClaims(value: unknown, roles: Record<string, Role>, fallback: Role | 'none'): Role | null {
  const values = Array.isArray(value) ? value : value === undefined || value === null ? [] : [value];
  let best: Role | null = null;
  for (const v of values) {
    if (typeof v !== 'string' || !Object.hasOwn(roles, v)) continue;
    const r = roles[v]!;
    if (!best || roleAtLeast(r, best)) best = r;
  }
  return best ?? (fallback === 'none' ? null : fallback);
}

function preferredName(claims: Claims): string {
  const pick = [claims.preferred_username, claims.email, claims.sub].find((v): v is string => typeof v === 'string' && v.length > 0) ?? 'sso-user';
  const cleaned = pick.replace(/[^A-Za-z0-9._@-]/g, '-').replace(/^[^A-Za-z0-9]+/, '').slice(0, 90);
  return cleaned || 'sso-user';
}

/** The account of this provider subject: made at the first sign-in, its role brought up to date at each. */
async function accountFor(db: Db, subject: string, name: string, role: Role): Promise<User> {
  const row = await db.selectFrom('users').select(['id', 'name', 'disabled_at']).where('oidc_subject', '=', subject).executeTakeFirst();
  if (row) {
    if (row.disabled_at !== null) throw new OidcRefused('this account is disabled in Fido');
    await db.updateTable('users').set({ role, last_login_at: Date.now() }).where('id', '=', row.id).execute();
    return { id: row.id, name: row.name, role, via: 'oidc' };
  }
  // A local account may already have the name: the SSO account gets a suffix instead of taking it over. Compared
  // without case, so that "Admin" from a provider does not stand beside the local "admin" in the audit trail.
  for (let i = 0; i < 20; i++) {
    const candidate = i === 0 ? name : `${name}-${i + 1}`;
    const taken = await db.selectFrom('users').select('id').where(sql<string>`lower(name)`, '=', candidate.toLowerCase()).executeTakeFirst();
    if (taken) continue;
    const user = await createUser(db, { name: candidate, role, oidcSubject: subject });
    // The first sign-in is a sign-in too (the accounts list would show "never" otherwise).
    await db.updateTable('users').set({ last_login_at: Date.now() }).where('id', '=', user.id).execute();
    return user;
  }
  throw new OidcRefused(`no free account name near "${name}"`);
}

export class OidcRefused extends Error {}
