/**
 * API tokens: 32 random bytes shown once, stored as SHA-256 (they are high-entropy, so a slow hash would
 * only cost CPU per request). Roles are ordered: viewer < analyst < admin.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Db } from '../store/store.js';
import { ulid } from '../util/ulid.js';
import { errorContext, log } from '../util/log.js';

/** Least to most: read; triage (verdicts, notes, approvals); respond (merge, containment by hand); administer. */
export const ROLES = ['viewer', 'analyst', 'responder', 'admin'] as const;
export type Role = (typeof ROLES)[number];

export interface Principal {
  tokenId: string;
  name: string;
  role: Role;
}

export const hashToken = (token: string): string => createHash('sha256').update(token, 'utf8').digest('hex');

export function newToken(): string {
  return `fido_${randomBytes(32).toString('base64url')}`;
}

/** A token as a request presents it: 10 to 200 characters, no white space (`Authorization: Bearer …`). */
const TOKEN_SHAPE = { min: 10, max: 200 };

/**
 * Why no request could ever present `token` (too short, too long, white space in it), or null. A token that
 * cannot be presented is refused where it is configured, instead of being stored and never matching.
 */
export function tokenProblem(token: string): string | null {
  if (/\s/.test(token)) return 'a token cannot contain white space';
  if (token.length < TOKEN_SHAPE.min || token.length > TOKEN_SHAPE.max) {
    return `a token must be ${TOKEN_SHAPE.min} to ${TOKEN_SHAPE.max} characters long (this one has ${token.length})`;
  }
  return null;
}

export function roleAtLeast(have: Role, need: Role): boolean {
  return ROLES.indexOf(have) >= ROLES.indexOf(need);
}

/** Stores a token (by hash) unless one with the same hash exists; returns its id. */
export async function ensureToken(db: Db, token: string, name: string, role: Role): Promise<string> {
  const hash = hashToken(token);
  const existing = await db.selectFrom('api_tokens').select(['id', 'role']).where('token_hash', '=', hash).executeTakeFirst();
  if (existing) {
    if (existing.role !== role) await db.updateTable('api_tokens').set({ role }).where('id', '=', existing.id).execute();
    return existing.id;
  }
  const id = ulid();
  await db.insertInto('api_tokens').values({ id, name, role, token_hash: hash, created_at: Date.now(), last_used_at: null, revoked_at: null }).execute();
  return id;
}

export async function countActiveTokens(db: Db): Promise<number> {
  const r = await db.selectFrom('api_tokens').select((eb) => eb.fn.countAll<number>().as('n')).where('revoked_at', 'is', null).executeTakeFirst();
  return Number(r?.n ?? 0);
}

/** Cache of verified tokens so the hot path (intake) costs one hash and a map lookup. */
export function createAuthenticator(db: Db, cacheMs = 5_000) {
  const cache = new Map<string, { p: Principal | null; until: number }>();
  return async function authenticate(header: string | undefined): Promise<Principal | null> {
    const m = header ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
    if (!m || tokenProblem(m[1]!)) return null;
    const hash = hashToken(m[1]!);
    const now = Date.now();
    const hit = cache.get(hash);
    if (hit && hit.until > now) return hit.p;
    const row = await db
      .selectFrom('api_tokens')
      .select(['id', 'name', 'role', 'token_hash'])
      .where('token_hash', '=', hash)
      .where('revoked_at', 'is', null)
      .executeTakeFirst();
    // The lookup is by hash; compare again in constant time so the check never depends on SQL collation.
    const ok = row && timingSafeEqual(Buffer.from(row.token_hash), Buffer.from(hash));
    const p: Principal | null = ok ? { tokenId: row.id, name: row.name, role: row.role as Role } : null;
    if (cache.size > 10_000) cache.clear();
    cache.set(hash, { p, until: now + cacheMs });
    if (p) {
      // Bookkeeping only: the request goes on, the failure is logged.
      void db
        .updateTable('api_tokens')
        .set({ last_used_at: now })
        .where('id', '=', p.tokenId)
        .execute()
        .catch((err: unknown) => log.warn({ token: p.name, err: errorContext(err) }, "auth: the token's last use was not recorded"));
    }
    return p;
  };
}
