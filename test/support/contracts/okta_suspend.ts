/**
 * A stand-in for Okta's Users API that holds user state, for okta_suspend's contract test and the actions crash
 * test: https://developer.okta.com/docs/api/openapi/okta-management/management/tag/UserLifecycle (suspend /
 * unsuspend: only from ACTIVE / SUSPENDED, else 400 E0000001), .../tag/User (GET /api/v1/users/{id|login},
 * DELETE /api/v1/users/{id}/sessions → 204), https://developer.okta.com/docs/reference/error-codes/
 * ({errorCode, errorSummary}; E0000011 invalid token, E0000007 not found, E0000047 rate limit).
 * `effects` lists each state change it made ("suspend <id>", "unsuspend <id>"), for exactly-once checks.
 */
import type { ContractReply, ContractRequest } from '../contract.js';

export interface OktaUser {
  id: string;
  status: string;
  login: string;
  sessions: number;
}

/** The Okta stand-in: users by id, an optional override per request (429s, 5xx, hangs); `token` is the SSWS API token. */
export function oktaServer(token: string) {
  const users = new Map<string, OktaUser>();
  const effects: string[] = [];
  let override: ((r: ContractRequest) => ContractReply | undefined) | null = null;
  const err = (status: number, errorCode: string, errorSummary: string): ContractReply => ({ status, json: { errorCode, errorSummary, errorLink: errorCode, errorId: 'oae1', errorCauses: [] } });
  const view = (u: OktaUser) => ({ id: u.id, status: u.status, profile: { login: u.login, email: u.login } });
  const handler = (r: ContractRequest): ContractReply => {
    const o = override?.(r);
    if (o) return o;
    if (r.headers.authorization !== `SSWS ${token}`) return err(401, 'E0000011', 'Invalid token provided');
    const parts = r.path.split('/').slice(1).map(decodeURIComponent);
    if (parts[0] !== 'api' || parts[1] !== 'v1' || parts[2] !== 'users' || parts.length < 4) return err(404, 'E0000022', 'The endpoint does not support the provided HTTP method');
    const ref = parts[3]!;
    const u = users.get(ref) ?? [...users.values()].find((x) => x.login.toLowerCase() === ref.toLowerCase());
    if (!u) return err(404, 'E0000007', `Not found: Resource not found: ${ref} (User)`);
    const rest = parts.slice(4).join('/');
    if (r.method === 'GET' && rest === '') return { json: view(u) };
    if (r.method === 'POST' && rest === 'lifecycle/suspend') {
      if (u.status !== 'ACTIVE') return err(400, 'E0000001', 'Api validation failed: Cannot suspend a user that is not active');
      u.status = 'SUSPENDED';
      effects.push(`suspend ${u.id}`);
      return { json: {} };
    }
    if (r.method === 'POST' && rest === 'lifecycle/unsuspend') {
      if (u.status !== 'SUSPENDED') return err(400, 'E0000001', 'Api validation failed: Cannot unsuspend a user that is not suspended');
      u.status = 'ACTIVE';
      effects.push(`unsuspend ${u.id}`);
      return { json: {} };
    }
    if (r.method === 'DELETE' && rest === 'sessions') {
      u.sessions = 0;
      return { status: 204 };
    }
    return err(405, 'E0000022', 'The endpoint does not support the provided HTTP method');
  };
  return {
    users,
    effects,
    handler,
    setOverride(f: typeof override) {
      override = f;
    },
    add(id: string, login: string, status = 'ACTIVE') {
      users.set(id, { id, login, status, sessions: 2 });
    },
  };
}
