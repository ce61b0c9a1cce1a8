/** What the web app's parts (sign-in, sessions, OIDC, the served assets) take from the configuration. */
import type { FidoConfig } from '../config/schema.js';
import { parseDuration } from '../config/duration.js';
import { DEFAULT_LOCKOUT, type LockoutSettings } from './accounts.js';
import { DEFAULT_SESSIONS, type SessionSettings } from './sessions.js';

export interface WebSettings {
  sessions: SessionSettings;
  lockout: LockoutSettings;
}

export function webSettings(config: FidoConfig): WebSettings {
  const s = config.auth?.sessions;
  const l = config.auth?.lockout;
  return {
    sessions: {
      ttlMs: s?.ttl ? parseDuration(s.ttl) : DEFAULT_SESSIONS.ttlMs,
      idleMs: s?.idle ? parseDuration(s.idle) : DEFAULT_SESSIONS.idleMs,
      secureCookie: s?.secure_cookie ?? DEFAULT_SESSIONS.secureCookie,
    },
    lockout: {
      attempts: l?.attempts ?? DEFAULT_LOCKOUT.attempts,
      durationMs: l?.duration ? parseDuration(l.duration) : DEFAULT_LOCKOUT.durationMs,
    },
  };
}

export const DEFAULT_WEB: WebSettings = { sessions: DEFAULT_SESSIONS, lockout: DEFAULT_LOCKOUT };
