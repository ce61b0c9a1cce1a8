/**
 * Fido's one error vocabulary. Code that fails in a way its caller must tell apart throws a FidoError whose
 * `code` says what kind of failure it is; the message names what is wrong and, where it can, what is
 * accepted (`allowed`). Nothing here knows about HTTP: the API maps codes to statuses in one place
 * (api/errors.ts), so a domain module can be used from the CLI, a worker or a test unchanged.
 *
 * Other failures are bugs or the environment's (a disk, a database): they stay plain Errors, are logged with
 * their context where they are caught, and reach an API client as `internal` without their text.
 */
export const ERROR_CODES = [
  /** The request or input is wrong; the message names the part and says what is accepted. */
  'bad_request',
  /** Larger than a configured limit (a body, a record, a batch). */
  'too_large',
  /** A body in a format Fido does not take; `allowed` lists the ones it does. */
  'unsupported_media_type',
  'not_found',
  /** Intake names a source the configuration does not declare. */
  'unknown_source',
  /** The thing exists but is not in a state that allows this (an action that is no longer awaiting approval). */
  'conflict',
  /** The thing changed since the client read it (`If-Match` names an older version). */
  'precondition_failed',
  'unauthorized',
  'forbidden',
  /** An address made too many failed token attempts; `retryAfterSeconds` says when to come back. */
  'too_many_failed_attempts',
  /** The intake backlog is over its bound; retry after `retryAfterSeconds`. */
  'backpressure',
  /** A source's intake rate limit (sources[].intake.rate_limit); retry after `retryAfterSeconds`. */
  'rate_limited',
  /** More connections than the server takes. */
  'overloaded',
  /** This process cannot do it now (no intake here, the store refused a write); retrying may work. */
  'unavailable',
  'internal',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

export interface FidoErrorDetails {
  /** The values, types or names that would have been accepted. */
  allowed?: readonly string[];
  /** When a retry may succeed. */
  retryAfterSeconds?: number;
  cause?: unknown;
}

export class FidoError extends Error {
  override name = 'FidoError';
  readonly allowed?: readonly string[];
  readonly retryAfterSeconds?: number;

  constructor(
    readonly code: ErrorCode,
    message: string,
    details: FidoErrorDetails = {},
  ) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    if (details.allowed) this.allowed = details.allowed;
    if (details.retryAfterSeconds !== undefined) this.retryAfterSeconds = details.retryAfterSeconds;
  }
}

export function isFidoError(e: unknown): e is FidoError {
  return e instanceof FidoError;
}
