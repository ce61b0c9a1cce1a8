/**
 * OAuth2 client credentials (RFC 6749 §4.4) for the vendor APIs that use them: the EDR actions
 * (actions/kinds/lib/edr-common.ts) and the API pullers (intake/pull/). A token is cached until a minute
 * before it expires; a 401 from the API drops it and the call is tried once more with a fresh one.
 */
import { RemoteError, type RemoteClient } from './remote.js';
import { num, obj, str } from './json-read.js';

export interface TokenSource {
  /** A cached bearer token, fetched when there is none or it is about to expire. */
  get(signal: AbortSignal): Promise<string>;
  /** Forget the token (the API answered 401: revoked or expired early). */
  invalidate(): void;
}

/**
 * Client-credentials tokens from `path` on `client` (RFC 6749 §4.4), kept until a minute before `expires_in`.
 * Concurrent callers share one request.
 */
export function tokenSource(client: RemoteClient, path: string, form: Record<string, string>, now: () => number = Date.now): TokenSource {
  let token: { value: string; until: number } | null = null;
  let pending: Promise<string> | null = null;
  async function fetchToken(signal: AbortSignal): Promise<string> {
    const body = obj(await client.json({ method: 'POST', path, form, signal }));
    const value = str(body?.['access_token']);
    if (value === null) throw new RemoteError('answer not as documented: the token answer has no access_token', 'malformed', 200);
    const ttlS = num(body?.['expires_in']) ?? 300;
    token = { value, until: now() + Math.max(0, ttlS - 60) * 1000 };
    return value;
  }
  return {
    async get(signal) {
      if (token && token.until > now()) return token.value;
      pending ??= fetchToken(signal).finally(() => {
        pending = null;
      });
      return pending;
    },
    invalidate() {
      token = null;
    },
  };
}

/**
 * Runs `call` with a bearer token; when the API answers 401 (a token revoked or expired early) it forgets the
 * token and tries once more with a fresh one. A token endpoint that refuses the credentials is not retried.
 */
export async function withToken<T>(tokens: TokenSource, signal: AbortSignal, call: (auth: Record<string, string>) => Promise<T>): Promise<T> {
  const auth = async () => ({ authorization: `Bearer ${await tokens.get(signal)}` });
  const first = await auth();
  try {
    return await call(first);
  } catch (e) {
    if (!(e instanceof RemoteError) || e.status !== 401) throw e;
    tokens.invalidate();
    return call(await auth());
  }
}

