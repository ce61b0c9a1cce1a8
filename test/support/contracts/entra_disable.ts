/**
 * A stand-in for the Microsoft identity platform token endpoint and Microsoft Graph v1.0 that holds user
 * state, for entra_disable's contract test and the actions crash test:
 * https://learn.microsoft.com/entra/identity-platform/v2-oauth2-client-creds-grant-flow (form POST to
 * /{tenant}/oauth2/v2.0/token, {access_token, expires_in}; errors {error: "invalid_client", ...}),
 * https://learn.microsoft.com/graph/api/user-get (GET /users/{id | userPrincipalName}?$select=),
 * https://learn.microsoft.com/graph/api/user-update (PATCH /users/{id} → 204),
 * https://learn.microsoft.com/graph/api/user-revokesigninsessions (POST → 200 {value: true}),
 * https://learn.microsoft.com/graph/errors ({error: {code, message}}; 401 InvalidAuthenticationToken).
 * `effects` lists each change of accountEnabled it made ("disable <id>", "enable <id>"), for exactly-once checks.
 */
import type { ContractReply, ContractRequest } from '../contract.js';

export interface GraphUser {
  id: string;
  upn: string;
  enabled: boolean;
  revoked: number;
}

/** The Graph stand-in: users by id, client-credentials tokens for `creds`, an optional override per request. */
export function entraServer(creds: { tenant: string; client: string; secret: string }) {
  const { tenant: TENANT, client: CLIENT, secret: SECRET } = creds;
  const effects: string[] = [];
  const users = new Map<string, GraphUser>();
  const valid = new Set<string>();
  let issued = 0;
  let override: ((r: ContractRequest) => ContractReply | undefined) | null = null;
  const gerr = (status: number, code: string, message: string): ContractReply => ({ status, json: { error: { code, message, innerError: { 'request-id': 'r1', date: '2026-12-07T09:00:00' } } } });
  const handler = (r: ContractRequest): ContractReply => {
    const o = override?.(r);
    if (o) return o;
    if (r.path === `/${TENANT}/oauth2/v2.0/token`) {
      const f = r.form;
      if (r.method !== 'POST' || f.get('grant_type') !== 'client_credentials' || f.get('scope') !== 'https://graph.microsoft.com/.default') return { status: 400, json: { error: 'invalid_request' } };
      if (f.get('client_id') !== CLIENT || f.get('client_secret') !== SECRET) return { status: 401, json: { error: 'invalid_client', error_description: `AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value. Got ${f.get('client_secret')}` } };
      const token = `eyJ0eXAi.token-${++issued}`;
      valid.add(token);
      return { json: { token_type: 'Bearer', expires_in: 3599, ext_expires_in: 3599, access_token: token } };
    }
    const bearer = /^Bearer (.+)$/.exec(String(r.headers.authorization ?? ''))?.[1];
    if (!bearer || !valid.has(bearer)) return gerr(401, 'InvalidAuthenticationToken', 'Lifetime validation failed, the token is expired.');
    const parts = r.path.split('/').slice(1).map(decodeURIComponent);
    if (parts[0] !== 'v1.0' || parts[1] !== 'users' || parts.length < 3) return gerr(400, 'BadRequest', 'Unsupported segment');
    const ref = parts[2]!;
    const u = users.get(ref) ?? [...users.values()].find((x) => x.upn.toLowerCase() === ref.toLowerCase());
    if (!u) return gerr(404, 'Request_ResourceNotFound', `Resource '${ref}' does not exist or one of its queried reference-property objects are not present.`);
    const rest = parts.slice(3).join('/');
    if (r.method === 'GET' && rest === '') {
      const sel = (r.query.get('$select') ?? '').split(',');
      const all: Record<string, unknown> = { id: u.id, userPrincipalName: u.upn, accountEnabled: u.enabled, displayName: u.upn };
      return { json: { '@odata.context': 'https://graph.microsoft.com/v1.0/$metadata#users', ...Object.fromEntries(Object.entries(all).filter(([k]) => sel.includes(k))) } };
    }
    if (r.method === 'PATCH' && rest === '') {
      const b = r.json as { accountEnabled?: unknown };
      if (typeof b?.accountEnabled !== 'boolean' || Object.keys(b).length !== 1) return gerr(400, 'Request_BadRequest', 'Invalid body');
      if (u.enabled !== b.accountEnabled) effects.push(`${b.accountEnabled ? 'enable' : 'disable'} ${u.id}`);
      u.enabled = b.accountEnabled;
      return { status: 204 };
    }
    if (r.method === 'POST' && rest === 'revokeSignInSessions') {
      u.revoked++;
      return { json: { '@odata.context': 'https://graph.microsoft.com/v1.0/$metadata#Edm.Boolean', value: true } };
    }
    return gerr(405, 'Request_BadRequest', 'Method not allowed');
  };
  return {
    users,
    effects,
    handler,
    expireAll: () => valid.clear(),
    issued: () => issued,
    setOverride(f: typeof override) {
      override = f;
    },
    add(id: string, upn: string, enabled = true) {
      users.set(id, { id, upn, enabled, revoked: 0 });
    },
  };
}
