/** One pino logger; FIDO_LOG_LEVEL sets the level (tests run silent). Secrets are redacted by key name. */
import { pino } from 'pino';

export const log = pino({
  level: process.env.FIDO_LOG_LEVEL ?? 'info',
  // Readable without a decoder: "level":"warn" and "time":"2026-12-07T02:40:00.000Z".
  formatters: { level: (label) => ({ level: label }) },
  timestamp: pino.stdTimeFunctions.isoTime,
  redact: {
    paths: ['*.password', '*.token', '*.secret', '*.api_key', '*.authorization', 'headers.authorization', '*.pass'],
    censor: '[redacted]',
  },
});
export type Logger = typeof log;

/** What a log line may say about an error: its type, code and a bounded one-line message (never its other
 * properties, which for database errors can hold values, nor a stack, which can be long). */
export interface ErrorContext {
  type: string;
  code?: string;
  message: string;
  /** What it was caused by (one level: the error a FidoError wraps). */
  cause?: ErrorContext;
}

export const MAX_LOGGED_MESSAGE = 300;

/** Single line, at most `max` characters: a bounded excerpt of text that may come from outside. */
export function excerpt(text: string, max = MAX_LOGGED_MESSAGE): string {
  const line = text.replace(/\s+/g, ' ').trim();
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
}

export function errorContext(e: unknown, depth = 0): ErrorContext {
  if (e instanceof Error) {
    const code = (e as { code?: unknown }).code;
    const cause = e.cause instanceof Error && depth === 0 ? { cause: errorContext(e.cause, 1) } : {};
    return { type: e.name, ...(typeof code === 'string' ? { code } : {}), message: excerpt(e.message), ...cause };
  }
  return { type: typeof e, message: excerpt(String(e)) };
}
