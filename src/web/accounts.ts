/**
 * Web app accounts: local ones with an argon2id password hash, and ones made at a first OIDC sign-in.
 * Lockout is per account: `attempts` wrong passwords in a row lock it for `duration`; a right password
 * during the lock is refused too (otherwise the lock would only slow a guesser who already has it right).
 */
import argon2 from 'argon2';
import { randomBytes } from 'node:crypto';
import type { Db } from '../store/store.js';
import { ROLES, type Role } from '../api/auth.js';
import { ulid } from '../util/ulid.js';

export interface LockoutSettings {
  /** Wrong passwords in a row before the account locks (0 = never locks). */
  attempts: number;
  durationMs: number;
}
export const DEFAULT_LOCKOUT: LockoutSettings = { attempts: 5, durationMs: 15 * 60_000 };

/** OWASP's argon2id recommendation (19 MiB, 2 passes, 1 lane): ~30 ms here, cheap enough per sign-in. */
const ARGON2 = { type: argon2.argon2id, memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;

export const PASSWORD_LENGTH = { min: 12, max: 256 };
const NAME_SHAPE = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,99}$/;

export interface User {
  id: string;
  name: string;
  role: Role;
  via: 'password' | 'oidc';
}

export function passwordProblem(password: string): string | null {
  if (password.length < PASSWORD_LENGTH.min) return `a password needs at least ${PASSWORD_LENGTH.min} characters`;
  if (password.length > PASSWORD_LENGTH.max) return `a password has at most ${PASSWORD_LENGTH.max} characters`;
  return null;
}

export function userNameProblem(name: string): string | null {
  return NAME_SHAPE.test(name) ? null : 'a user name is 1 to 100 letters, digits or . _ @ - (starting with a letter or digit)';
}

export function roleOf(value: string): Role {
  if (!(ROLES as readonly string[]).includes(value)) throw new Error(`unknown role "${value}" (expected ${ROLES.join(', ')})`);
  return value as Role;
}

/** A password a person can type once and change: 20 characters from a 56-letter alphabet (~116 bits). */
export function newPassword(): string {
  const alphabet = 'ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789';
  return [...randomBytes(20)].map((b) => alphabet[b % alphabet.length]).join('');
}

export const hashPassword = (password: string): Promise<string> => argon2.hash(password, ARGON2);

export async function createUser(db: Db, u: { name: string; role: Role; password?: string; oidcSubject?: string }, now = Date.now()): Promise<User> {
  const nameProblem = userNameProblem(u.name);
  if (nameProblem) throw new Error(nameProblem);
  if (u.password !== undefined) {
    const p = passwordProblem(u.password);
    if (p) throw new Error(p);
  }
  const existing = await db.selectFrom('users').select('id').where('name', '=', u.name).executeTakeFirst();
  if (existing) throw new Error(`a user named "${u.name}" exists`);
  const id = ulid();
  await db
    .insertInto('users')
    .values({
      id,
      name: u.name,
      role: u.role,
      password_hash: u.password === undefined ? null : await hashPassword(u.password),
      oidc_subject: u.oidcSubject ?? null,
      created_at: now,
      disabled_at: null,
      failed_count: 0,
      locked_until: null,
      last_login_at: null,
    })
    .execute();
  return { id, name: u.name, role: u.role, via: u.oidcSubject ? 'oidc' : 'password' };
}

export async function countUsers(db: Db): Promise<number> {
  const r = await db.selectFrom('users').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirst();
  return Number(r?.n ?? 0);
}

export interface UserListing {
  name: string;
  role: Role;
  via: 'password' | 'oidc';
  created_at: number;
  last_login_at: number | null;
  disabled: boolean;
  locked_until: number | null;
}

export async function listUsers(db: Db, now = Date.now()): Promise<UserListing[]> {
  const rows = await db.selectFrom('users').selectAll().orderBy('name').execute();
  return rows.map((r) => ({
    name: r.name,
    role: r.role as Role,
    via: r.oidc_subject ? 'oidc' : 'password',
    created_at: Number(r.created_at),
    last_login_at: r.last_login_at === null ? null : Number(r.last_login_at),
    disabled: r.disabled_at !== null,
    locked_until: r.locked_until !== null && Number(r.locked_until) > now ? Number(r.locked_until) : null,
  }));
}

/** Changes what is given; a new password also clears a lockout. Returns false when no such user exists. */
export async function updateUser(
  db: Db,
  name: string,
  change: { role?: Role; password?: string; disabled?: boolean; unlock?: boolean },
  now = Date.now(),
): Promise<boolean> {
  if (change.password !== undefined) {
    const p = passwordProblem(change.password);
    if (p) throw new Error(p);
  }
  const set: Record<string, string | number | null> = {};
  if (change.role) set.role = change.role;
  if (change.password !== undefined) Object.assign(set, { password_hash: await hashPassword(change.password), failed_count: 0, locked_until: null });
  if (change.unlock) Object.assign(set, { failed_count: 0, locked_until: null });
  if (change.disabled !== undefined) set.disabled_at = change.disabled ? now : null;
  if (Object.keys(set).length === 0) return (await db.selectFrom('users').select('id').where('name', '=', name).executeTakeFirst()) !== undefined;
  const r = await db.updateTable('users').set(set).where('name', '=', name).executeTakeFirst();
  const changed = Number(r.numUpdatedRows) > 0;
  // A disabled account, a new role or a new password ends the sessions it had.
  if (changed && (change.disabled || change.role || change.password !== undefined)) {
    const u = await db.selectFrom('users').select('id').where('name', '=', name).executeTakeFirstOrThrow();
    await db.deleteFrom('sessions').where('user_id', '=', u.id).execute();
  }
  return changed;
}

export type SignIn = { ok: true; user: User } | { ok: false; reason: 'invalid' } | { ok: false; reason: 'locked'; retryAfterSeconds: number };

/** A hash of nothing anyone knows, verified when the name is unknown so that a miss costs what a hit does. */
let decoy: Promise<string> | null = null;

export async function verifySignIn(db: Db, name: string, password: string, lockout: LockoutSettings = DEFAULT_LOCKOUT, now = Date.now()): Promise<SignIn> {
  const row = await db.selectFrom('users').selectAll().where('name', '=', name).executeTakeFirst();
  if (!row || !row.password_hash) {
    decoy ??= hashPassword(randomBytes(16).toString('hex'));
    await argon2.verify(await decoy, password).catch(() => false);
    return { ok: false, reason: 'invalid' };
  }
  const lockedUntil = row.locked_until === null ? 0 : Number(row.locked_until);
  if (lockedUntil > now) return { ok: false, reason: 'locked', retryAfterSeconds: Math.ceil((lockedUntil - now) / 1000) };
  const good = await argon2.verify(row.password_hash, password).catch(() => false);
  if (!good || row.disabled_at !== null) {
    if (!good) {
      // Counted in SQL so that two wrong guesses at once both count.
      const failed = await db
        .updateTable('users')
        .set((eb) => ({ failed_count: eb('failed_count', '+', 1) }))
        .where('id', '=', row.id)
        .returning('failed_count')
        .executeTakeFirst();
      if (lockout.attempts > 0 && Number(failed?.failed_count ?? 0) >= lockout.attempts) {
        await db.updateTable('users').set({ locked_until: now + lockout.durationMs, failed_count: 0 }).where('id', '=', row.id).execute();
        return { ok: false, reason: 'locked', retryAfterSeconds: Math.ceil(lockout.durationMs / 1000) };
      }
    }
    return { ok: false, reason: 'invalid' };
  }
  await db.updateTable('users').set({ failed_count: 0, locked_until: null, last_login_at: now }).where('id', '=', row.id).execute();
  return { ok: true, user: { id: row.id, name: row.name, role: roleOf(row.role), via: 'password' } };
}
