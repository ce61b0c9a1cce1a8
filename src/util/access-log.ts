/**
 * The access log (server.access_log): one info line per answered request, with what server-errors.ts logs
 * about a request and nothing more (no headers, bodies or query strings: they can hold tokens and
 * attacker-written text). Off by default: at intake rates it is a line per batch, which a busy sensor makes
 * many.
 */
import type { FastifyInstance } from 'fastify';
import { log, type Logger } from './log.js';
import { requestContext } from './server-errors.js';

export function logAccess(app: FastifyInstance, logger: Logger = log): void {
  app.addHook('onResponse', async (req, reply) => {
    logger.info(requestContext(req, reply), 'request');
  });
}
