/**
 * Nothing fails silently (issue 13): every 5xx the API answers is counted (fido_api_server_errors_total)
 * and logged with its context — method, route, path, status, time, request id, client address, the token's
 * name and the error (type, code, a bounded one-line message). Never headers, bodies, query strings or
 * stacks: they can hold tokens and attacker-written record text.
 *
 * The server is built with Fastify's logger off, so without this a 500 (or a 503 answered by a handler)
 * reached nobody. Under a flood of identical failures (e.g. shedding 503s to thousands of connections) the
 * log is throttled per method, route and status; the counter never is, and the next line logged for that
 * kind says how many were left out.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { apiServerErrors } from '../metrics.js';
import { errorContext, excerpt, log, type Logger } from './log.js';

export interface ServerErrorOptions {
  logger?: Logger;
  /** Per method, route and status: at most `perWindow` lines every `windowMs`. */
  windowMs?: number;
  perWindow?: number;
}

const MAX_PATH = 200;

/** Registers the hooks on the root instance (before the routes, so that they apply to every route). */
export function reportServerErrors(app: FastifyInstance, opts: ServerErrorOptions = {}): void {
  const logger = opts.logger ?? log;
  const allow = throttle(opts.windowMs ?? 10_000, opts.perWindow ?? 20);
  // onError sees what was thrown; onResponse sees every response, also a 5xx a handler sent itself.
  const thrown = new WeakMap<FastifyRequest, unknown>();
  app.addHook('onError', async (req, _reply, err) => {
    thrown.set(req, err);
  });
  app.addHook('onResponse', async (req, reply) => {
    const status = reply.statusCode;
    if (status < 500) return;
    const route = req.routeOptions.url ?? '(no route)';
    apiServerErrors.inc({ method: req.method, route, status: String(status) });
    const left = allow(`${req.method} ${route} ${status}`);
    if (left === null) return;
    const err = thrown.get(req);
    const line = {
      ...requestContext(req, reply),
      ...(err !== undefined ? { err: errorContext(err) } : {}),
      ...(left > 0 ? { suppressed_before: left } : {}),
    };
    // 503 is the server saying "not now" (backpressure, shedding, an unwritable intake log): a warning;
    // anything else is a fault.
    if (status === 503) logger.warn(line, `API answered ${status}`);
    else logger.error(line, `API answered ${status}`);
  });
}

/** What a log line may say about a request: never headers, bodies or query strings (they can hold secrets). */
export function requestContext(req: FastifyRequest, reply: FastifyReply) {
  const principal = (req as { principal?: { name?: unknown } | null }).principal?.name;
  return {
    method: req.method,
    route: req.routeOptions.url ?? '(no route)',
    path: excerpt(req.url.split('?')[0] ?? '', MAX_PATH),
    status: reply.statusCode,
    ms: Math.round(reply.elapsedTime),
    req_id: req.id,
    client: req.ip,
    ...(typeof principal === 'string' ? { principal } : {}),
  };
}

/**
 * Returns, for a key, null when the line is to be left out, else how many lines of that key were left out
 * since the last one logged (0 usually).
 */
function throttle(windowMs: number, perWindow: number): (key: string) => number | null {
  const windows = new Map<string, { start: number; logged: number; suppressed: number }>();
  return (key) => {
    const now = Date.now();
    let w = windows.get(key);
    if (!w || now - w.start >= windowMs) {
      const suppressed = w?.suppressed ?? 0;
      w = { start: now, logged: 0, suppressed: 0 };
      windows.set(key, w);
      w.logged++;
      return suppressed;
    }
    if (w.logged >= perWindow) {
      w.suppressed++;
      return null;
    }
    w.logged++;
    return 0;
  };
}
