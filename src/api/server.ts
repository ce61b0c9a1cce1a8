/**
 * The HTTP server: one Fastify plugin per concern (routes/*), JSON Schema on every route (which also
 * produces the OpenAPI document), bearer-token auth on everything but /healthz.
 */
import Fastify, { type FastifyInstance } from 'fastify';
import { Ajv } from 'ajv';
import swagger from '@fastify/swagger';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { ApiContext } from './context.js';
import { roleAtLeast } from './auth.js';
import { createFailedAuthLimiter, DEFAULT_FAILED_AUTH_LIMIT } from './auth-limit.js';
import { addressMatcher, failedAuthKey } from './client-address.js';
import { guardConnections } from './connections.js';
import { resolveHttpLimits } from './limits.js';
import { authFailures, authRateLimited } from '../metrics.js';
import { reportServerErrors } from '../util/server-errors.js';
import intakeRoutes from './routes/intake.js';
import incidentRoutes from './routes/incidents.js';
import alertRoutes from './routes/alerts.js';
import actionRoutes from './routes/actions.js';
import systemRoutes from './routes/system.js';

export type Api = FastifyInstance;

export async function buildApi(ctx: ApiContext): Promise<FastifyInstance> {
  const limits = ctx.http ?? resolveHttpLimits().limits;
  const trustProxy = [...(ctx.trustProxy ?? [])];
  const app = Fastify({
    logger: false,
    bodyLimit: ctx.maxBodyBytes,
    return503OnClosing: true,
    // Slow clients (connections.ts): Fastify sets the request, keep-alive and idle timeouts on the server;
    // the header timeout and how often Node enforces both go to http.createServer.
    requestTimeout: limits.requestTimeoutMs,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    connectionTimeout: limits.idleTimeoutMs,
    http: {
      headersTimeout: limits.headersTimeoutMs,
      requestTimeout: limits.requestTimeoutMs,
      connectionsCheckingInterval: limits.checkIntervalMs,
    },
    // Only the named proxies may say who the client is; anyone else could name any address.
    trustProxy: trustProxy.length ? trustProxy : false,
  }).withTypeProvider<TypeBoxTypeProvider>();
  // Every 5xx is logged (bounded context, no secrets) and counted: the logger above is off (issue 13).
  reportServerErrors(app);
  const guard = guardConnections(app.server, limits, addressMatcher(trustProxy));
  const failedAuth = createFailedAuthLimiter(ctx.failedAuth ?? DEFAULT_FAILED_AUTH_LIMIT);

  // Bodies are validated strictly (a number posted where a string belongs is refused, not coerced); query
  // strings and path parameters are text by nature, so they are coerced to the declared types.
  const strict = new Ajv({ coerceTypes: false, removeAdditional: false, useDefaults: true, strict: false });
  const lenient = new Ajv({ coerceTypes: 'array', removeAdditional: false, useDefaults: true, strict: false });
  app.setValidatorCompiler(({ schema, httpPart }) => (httpPart === 'body' ? strict : lenient).compile(schema));

  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: { title: 'Fido API', version: '1', description: 'Security alerts in, explained decisions and safe actions out.' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: [{ bearer: [] }],
    },
  });

  // First hook: a connection accepted past the limits is answered 503 before it costs anything more.
  app.addHook('onRequest', async (req, reply) => {
    const socket = req.raw.socket;
    const shed = guard.shedReason(socket);
    if (!shed) return;
    guard.answering(socket);
    reply.header('connection', 'close');
    if (req.routeOptions.config?.shedExempt) return;
    return reply
      .code(503)
      .header('retry-after', String(limits.retryAfterSeconds))
      .send({
        error: 'overloaded',
        message:
          shed === 'per_address'
            ? `too many connections from this address (server.max_connections_per_address ${limits.maxConnectionsPerAddress}); retry later`
            : `too many connections (server.max_connections ${limits.maxConnections}); retry later`,
      });
  });

  app.decorateRequest('principal', null);
  app.addHook('onRequest', async (req, reply) => {
    const need = req.routeOptions.config?.role;
    if (!need) return;
    // A limited address is refused before its token is looked at (auth-limit.ts says why).
    const key = failedAuthKey(req.ip);
    const wait = failedAuth.retryAfter(key);
    if (wait > 0) {
      authRateLimited.inc();
      return reply
        .code(429)
        .header('retry-after', String(wait))
        .send({ error: 'too_many_failed_attempts', message: `too many failed token attempts from this address; retry after ${wait}s` });
    }
    const p = await ctx.authenticate(req.headers.authorization);
    if (!p) {
      const presented = req.headers.authorization !== undefined;
      authFailures.inc({ reason: presented ? 'invalid' : 'missing' });
      // Only a presented token is a guess; a request without one is refused but not counted against the address.
      if (presented) failedAuth.failed(key);
      return reply.code(401).header('www-authenticate', 'Bearer').send({ error: 'unauthorized', message: 'a valid bearer token is required' });
    }
    if (!roleAtLeast(p.role, need)) {
      return reply.code(403).send({ error: 'forbidden', message: `this needs the ${need} role; the token has ${p.role}` });
    }
    req.principal = p;
  });

  app.setErrorHandler((err: Error & { statusCode?: number; code?: string; validation?: unknown }, _req, reply) => {
    const status = err.statusCode ?? 500;
    if (err.validation) return reply.code(400).send({ error: 'bad_request', message: err.message });
    if (status === 413) return reply.code(413).send({ error: 'too_large', message: `request body is larger than ${ctx.maxBodyBytes} bytes` });
    if (status >= 500) {
      reply.log.error(err);
      return reply.code(status).send({ error: 'internal', message: 'internal error' });
    }
    return reply.code(status).send({ error: err.code ?? 'error', message: err.message });
  });
  app.setNotFoundHandler((req, reply) => reply.code(404).send({ error: 'not_found', message: `no route ${req.method} ${req.url.split('?')[0]}` }));

  await app.register(systemRoutes, { ctx });
  await app.register(
    async (api) => {
      await api.register(intakeRoutes, { ctx });
      await api.register(incidentRoutes, { ctx });
      await api.register(alertRoutes, { ctx });
      await api.register(actionRoutes, { ctx });
      api.get('/openapi.json', { config: { role: 'viewer' }, schema: { hide: true } }, async () => app.swagger());
    },
    { prefix: '/api/v1' },
  );
  return app;
}
