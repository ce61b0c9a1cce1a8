/**
 * Failed-token attempts per client address (issue 13 item 9; `auth.failed_attempts`): after `limit` failures
 * within `window` of the first, the address gets 429 with Retry-After on every route that needs a token until
 * the window ends.
 *
 * While an address is limited its requests are refused before their token is looked at, a valid one included:
 * if valid tokens still passed, the 429s would tell a guesser which guess was right and the limit would not slow
 * guessing at all. Legitimate clients on other addresses are unaffected; a client that shares an address with
 * the guesser (NAT, a proxy not named in `server.trust_proxy`) waits with it, and reads Retry-After like any 429.
 * A success does not clear the count: a holder of one valid token could otherwise interleave it with guesses
 * at another.
 */
import { LRUCache } from 'lru-cache';
import type { FidoConfig } from '../config/schema.js';
import { parseDuration } from '../config/duration.js';

export interface FailedAuthLimit {
  /** Failures per window before the address is limited; 0 turns the limit off. */
  limit: number;
  windowMs: number;
}

export const DEFAULT_FAILED_AUTH_LIMIT: FailedAuthLimit = { limit: 10, windowMs: 60_000 };

/** `auth.failed_attempts` → the limit, with the defaults for what is not set. */
export function resolveFailedAuthLimit(auth: FidoConfig['auth']): FailedAuthLimit {
  const set = auth?.failed_attempts;
  return {
    limit: set?.limit ?? DEFAULT_FAILED_AUTH_LIMIT.limit,
    windowMs: set?.window !== undefined ? parseDuration(set.window, 'auth.failed_attempts.window') : DEFAULT_FAILED_AUTH_LIMIT.windowMs,
  };
}

export interface FailedAuthLimiter {
  /** Seconds until `key` may present a token again; 0 when it is not limited. */
  retryAfter(key: string): number;
  /** Counts one failed attempt from `key`. */
  failed(key: string): void;
}

/**
 * The counts live in an LRU of `capacity` addresses, so a flood of addresses costs bounded memory; an address
 * pushed out by 100,000 newer failing ones starts afresh, which is no more than those addresses get anyway.
 */
export function createFailedAuthLimiter(limit: FailedAuthLimit, capacity = 100_000): FailedAuthLimiter {
  if (limit.limit <= 0) return { retryAfter: () => 0, failed: () => undefined };
  // lru-cache reads a TTL of 0 as "never expires": a limit with no window would hold an address forever.
  if (!(limit.windowMs > 0)) throw new Error('auth.failed_attempts.window: must be above zero');
  // The TTL is set once, at the first failure, and not refreshed by later ones: a fixed window per address.
  const counts = new LRUCache<string, { failures: number }>({ max: capacity, ttl: limit.windowMs, updateAgeOnGet: false });
  return {
    retryAfter(key) {
      const entry = counts.get(key);
      if (!entry || entry.failures < limit.limit) return 0;
      return Math.max(1, Math.ceil(counts.getRemainingTTL(key) / 1000));
    },
    failed(key) {
      const entry = counts.get(key);
      if (entry) entry.failures++;
      else counts.set(key, { failures: 1 });
    },
  };
}
