/**
 * Web sessions: a random 32-byte value in an HttpOnly cookie, stored by its SHA-256 (a copy of the store
 * signs nobody in), with an absolute lifetime and an idle timeout. Each session has its own CSRF token
 * (the synchronizer pattern): the app reads it from GET /api/v1/session and sends it as X-CSRF-Token on
 * every unsafe request; a cross-site page can make the browser send the cookie but cannot read the token.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Db } from '../store/store.js';
import type { Role } from '../api/auth.js';
import { roleOf, type User } from './accounts.js';

export const SESSION_COOKIE = 'fido_session';
export const CSRF_HEADER = 'x-csrf-token';

export interface SessionSettings {
  /** Absolute lifetime: a session ends this long after sign-in, used or not. */
  ttlMs: number;
  /** A session unused for this long ends. */
  idleMs: number;
  /** Set the cookie's Secure attribute (default true; browsers accept it on http://localhost too). */
  secureCookie: boolean;
}
export const DEFAULT_SESSIONS: SessionSettings = { ttlMs: 12 * 3600_000, idleMs: 2 * 3600_000, secureCookie: true };

/** The idle deadline is written at most this often (or a tenth of the idle time), so that a busy page does not write on each request. */
const TOUCH_EVERY_MS = 60_000;

export interface WebSession {
  userId: string;
  name: string;
  role: Role;
  via: 'password' | 'oidc';
  csrfToken: string;
  expiresAt: number;
}

const hashId = (value: string) => createHash('sha256').update(value, 'utf8').digest('hex');

export async function createSession(db: Db, user: User, settings: SessionSettings, now = Date.now()): Promise<{ cookieValue: string; session: WebSession }> {
  const cookieValue = randomBytes(32).toString('base64url');
  const csrfToken = randomBytes(24).toString('base64url');
  const expiresAt = now + settings.ttlMs;
  await db
    .insertInto('sessions')
    .values({ id_hash: hashId(cookieValue), user_id: user.id, csrf_token: csrfToken, via: user.via, created_at: now, expires_at: expiresAt, idle_until: Math.min(expiresAt, now + settings.idleMs) })
    .execute();
  // Expired sessions go when new ones are made: bounded work at a moment nobody waits on a page.
  await db.deleteFrom('sessions').where((eb) => eb.or([eb('expires_at', '<', now), eb('idle_until', '<', now)])).execute();
  return { cookieValue, session: { userId: user.id, name: user.name, role: user.role, via: user.via, csrfToken, expiresAt } };
}

/** The live session a cookie value names, or null (unknown, expired, idle too long, or its account disabled). */
export async function findSession(db: Db, cookieValue: string, settings: SessionSettings, now = Date.now()): Promise<WebSession | null> {
  if (cookieValue.length < 16 || cookieValue.length > 100) return null;
  const idHash = hashId(cookieValue);
  const row = await db
    .selectFrom('sessions')
    .innerJoin('users', 'users.id', 'sessions.user_id')
    .select(['sessions.id_hash', 'sessions.user_id', 'sessions.csrf_token', 'sessions.via', 'sessions.expires_at', 'sessions.idle_until', 'users.name', 'users.role', 'users.disabled_at'])
    .where('sessions.id_hash', '=', idHash)
    .executeTakeFirst();
  if (!row || row.disabled_at !== null) return null;
  const expiresAt = Number(row.expires_at);
  const idleUntil = Number(row.idle_until);
  if (expiresAt <= now || idleUntil <= now) {
    await db.deleteFrom('sessions').where('id_hash', '=', idHash).execute();
    return null;
  }
  const nextIdle = Math.min(expiresAt, now + settings.idleMs);
  if (nextIdle - idleUntil >= Math.min(TOUCH_EVERY_MS, settings.idleMs / 10)) await db.updateTable('sessions').set({ idle_until: nextIdle }).where('id_hash', '=', idHash).execute();
  return { userId: row.user_id, name: row.name, role: roleOf(row.role), via: row.via === 'oidc' ? 'oidc' : 'password', csrfToken: row.csrf_token, expiresAt };
}

export async function endSession(db: Db, cookieValue: string): Promise<void> {
  await db.deleteFrom('sessions').where('id_hash', '=', hashId(cookieValue)).execute();
}

export function csrfMatches(session: WebSession, presented: string | undefined): boolean {
  if (!presented) return false;
  const a = Buffer.from(session.csrfToken);
  const b = Buffer.from(presented);
  return a.length === b.length && timingSafeEqual(a, b);
}

export function sessionCookieOptions(settings: SessionSettings, maxAgeMs: number) {
  // Lax, not Strict: the OIDC callback is a navigation from the provider's site, and a Strict cookie set there would
  // not be sent on the redirect that follows. Lax still keeps the cookie off cross-site POSTs, and every unsafe
  // request needs the CSRF token besides.
  return { path: '/', httpOnly: true, sameSite: 'lax' as const, secure: settings.secureCookie, maxAge: Math.floor(maxAgeMs / 1000) };
}
