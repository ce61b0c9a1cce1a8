/** One pino logger; FIDO_LOG_LEVEL sets the level (tests run silent). Secrets are redacted by key name. */
import { pino } from 'pino';

export const log = pino({
  level: process.env.FIDO_LOG_LEVEL ?? 'info',
  redact: {
    paths: ['*.password', '*.token', '*.secret', '*.api_key', '*.authorization', 'headers.authorization', '*.pass'],
    censor: '[redacted]',
  },
});
export type Logger = typeof log;
