/**
 * Every error the API answers goes through here: one table from error code (errors.ts) to HTTP status, one
 * body shape (ErrorBody: `error` is the code, `message` names what is wrong, `allowed` lists what would be
 * accepted), and the headers the status calls for. Routes and hooks throw; nothing else builds an error body.
 */
import type { FastifyError, FastifyInstance, FastifyReply } from 'fastify';
import { FidoError, type ErrorCode } from '../errors.js';

const STATUS: Record<ErrorCode, number> = {
  bad_request: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  unknown_source: 404,
  conflict: 409,
  precondition_failed: 412,
  too_large: 413,
  unsupported_media_type: 415,
  too_many_failed_attempts: 429,
  backpressure: 429,
  rate_limited: 429,
  internal: 500,
  overloaded: 503,
  unavailable: 503,
};

/** What a client may be told when a retry could work and it was not told when: a short pause. */
const DEFAULT_RETRY_AFTER_SECONDS = 5;

export interface ErrorAnswer {
  error: ErrorCode;
  message: string;
  allowed?: readonly string[];
}

/** The answer for a thrown value: FidoErrors as they say; Fastify's own errors by their status; the rest `internal`. */
/** What the answer may say about the request that failed. */
export interface RequestFacts {
  maxBodyBytes: number;
  /** The content types the route takes. */
  bodyTypes?: readonly string[] | undefined;
  contentType?: string | undefined;
}

export function answerOf(err: unknown, req: RequestFacts): { status: number; body: ErrorAnswer; retryAfterSeconds?: number } {
  if (err instanceof FidoError) {
    const status = STATUS[err.code];
    const body: ErrorAnswer = { error: err.code, message: err.message, ...(err.allowed ? { allowed: err.allowed } : {}) };
    const retry = err.retryAfterSeconds ?? (status === 503 ? DEFAULT_RETRY_AFTER_SECONDS : undefined);
    return { status, body, ...(retry !== undefined ? { retryAfterSeconds: retry } : {}) };
  }
  const f = err as Partial<FastifyError> & { validation?: unknown };
  const status = typeof f.statusCode === 'number' ? f.statusCode : 500;
  if (f.validation) return { status: 400, body: { error: 'bad_request', message: String(f.message) } };
  if (status === 413) return { status, body: { error: 'too_large', message: `request body is larger than ${req.maxBodyBytes} bytes` } };
  if (status === 415) {
    const allowed = req.bodyTypes ?? ['application/json'];
    const given = req.contentType ? `content type "${req.contentType.split(';')[0]!.trim().slice(0, 100)}" is not accepted` : 'the body has no content type';
    return { status, body: { error: 'unsupported_media_type', message: `${given}; send one of ${allowed.join(', ')}`, allowed } };
  }
  if (status >= 400 && status < 500) return { status, body: { error: 'bad_request', message: String(f.message) } };
  // Never the text of an unexpected error: it can hold paths, SQL or record content (server-errors.ts logs it).
  return { status: status >= 500 && status < 600 ? status : 500, body: { error: 'internal', message: 'internal error' } };
}

/** Sends the answer for `err` on `reply` (also from hooks that answer before a route runs). */
export function sendError(reply: FastifyReply, err: unknown, maxBodyBytes: number): FastifyReply {
  const req = reply.request;
  const { status, body, retryAfterSeconds } = answerOf(err, {
    maxBodyBytes,
    bodyTypes: req.routeOptions.config?.bodyTypes,
    contentType: req.headers['content-type'],
  });
  if (status === 401) reply.header('www-authenticate', 'Bearer');
  if (retryAfterSeconds !== undefined) reply.header('retry-after', String(retryAfterSeconds));
  return reply.code(status).send(body);
}

/** The error and not-found handlers of the server. */
export function answerErrors(app: FastifyInstance, maxBodyBytes: number): void {
  app.setErrorHandler((err, _req, reply) => sendError(reply, err, maxBodyBytes));
  app.setNotFoundHandler(async (req) => {
    throw new FidoError('not_found', `no route ${req.method} ${req.url.split('?')[0]}`);
  });
}
