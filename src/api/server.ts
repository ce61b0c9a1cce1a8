/**
 * The HTTP server: one Fastify plugin per concern (routes/*), JSON Schema on every route (which also
 * produces the OpenAPI document), bearer-token auth on everything but /healthz.
 */
import Fastify, { type FastifyInstance } from 'fastify';
import { Ajv } from 'ajv';
import swagger from '@fastify/swagger';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { ApiContext, ServerTls } from './context.js';
import { createFailedAuthLimiter, DEFAULT_FAILED_AUTH_LIMIT } from './auth-limit.js';
import { addressMatcher } from './client-address.js';
import { guardConnections } from './connections.js';
import { resolveHttpLimits } from './limits.js';
import { reportServerErrors } from '../util/server-errors.js';
import { logAccess } from '../util/access-log.js';
import { FidoError } from '../errors.js';
import { answerErrors } from './errors.js';
import { validationError } from './validation.js';
import intakeRoutes from './routes/intake.js';
import incidentRoutes from './routes/incidents.js';
import incidentWorkflowRoutes from './routes/incident-workflow.js';
import eventRoutes from './routes/events.js';
import alertRoutes from './routes/alerts.js';
import actionRoutes from './routes/actions.js';
import systemRoutes from './routes/system.js';
import enrichmentRoutes from './routes/enrichment.js';
import backtestRoutes from './routes/backtests.js';
import approvalRoutes from './routes/approvals.js';
import overviewRoutes from './routes/overview.js';
import configurationRoutes from './routes/configuration.js';
import sessionRoutes from './routes/session.js';
import receiverRoutes from './routes/receivers.js';
import cookie from '@fastify/cookie';
import { webAssets } from '../web/assets.js';
import oidcRoutes from '../web/oidc-routes.js';
import { requestAuthenticator, requireRole } from './authenticate.js';

export type Api = FastifyInstance;



/**
 * The node server's options: plain HTTP, or HTTPS (TLS 1.2+) with server.tls; with a client CA every client is
 * asked for a certificate, which is verified against it (optional: the connection goes on without one, and
 * sources with intake.client_certs refuse it; required: no connection without a valid one).
 */
function serverOptions(tls: ServerTls | undefined, http: { headersTimeout: number; requestTimeout: number; connectionsCheckingInterval: number }): { http: typeof http } {
  if (!tls) return { http };
  const https = {
    ...http,
    cert: tls.cert,
    key: tls.key,
    minVersion: 'TLSv1.2' as const,
    ...(tls.clientCa ? { ca: tls.clientCa, requestCert: true, rejectUnauthorized: tls.clientAuth === 'required' } : {}),
  };
  // Fastify's typings tie `https` to another server type; the instance serves the same routes either way.
  return { https } as unknown as { http: typeof http };
}

export async function buildApi(ctx: ApiContext): Promise<FastifyInstance> {
  const limits = ctx.http ?? resolveHttpLimits().limits;
  const trustProxy = [...(ctx.trustProxy ?? [])];
  const app = Fastify({
    logger: false,
    bodyLimit: ctx.maxBodyBytes,
    return503OnClosing: true,
    // An approval link's token is a path parameter of up to 512 characters (routes/approvals.ts).
    routerOptions: { maxParamLength: 600 },
    // Slow clients (connections.ts): Fastify sets the request, keep-alive and idle timeouts on the server;
    // the header timeout and how often Node enforces both go to http.createServer.
    requestTimeout: limits.requestTimeoutMs,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    connectionTimeout: limits.idleTimeoutMs,
    ...serverOptions(ctx.tls, {
      headersTimeout: limits.headersTimeoutMs,
      requestTimeout: limits.requestTimeoutMs,
      connectionsCheckingInterval: limits.checkIntervalMs,
    }),
    // Only the named proxies may say who the client is; anyone else could name any address.
    trustProxy: trustProxy.length ? trustProxy : false,
    schemaErrorFormatter: (errors, part) => validationError(errors, part),
  }).withTypeProvider<TypeBoxTypeProvider>();
  // Every 5xx is logged (bounded context, no secrets) and counted: the logger above is off (issue 13).
  reportServerErrors(app);
  if (ctx.accessLog) logAccess(app);
  const guard = guardConnections(app.server, limits, addressMatcher(trustProxy));
  const failedAuth = createFailedAuthLimiter(ctx.failedAuth ?? DEFAULT_FAILED_AUTH_LIMIT);

  // Bodies are validated strictly (a number posted where a string belongs is refused, not coerced); query
  // strings and path parameters are text by nature, so they are coerced to the declared types.
  // verbose: validation.ts reads the schema beside an error to list what would have been accepted.
  const strict = new Ajv({ coerceTypes: false, removeAdditional: false, useDefaults: true, strict: false, allErrors: false, verbose: true });
  const lenient = new Ajv({ coerceTypes: 'array', removeAdditional: false, useDefaults: true, strict: false, allErrors: false, verbose: true });
  app.setValidatorCompiler(({ schema, httpPart }) => (httpPart === 'body' ? strict : lenient).compile(schema));

  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: { title: 'Fido API', version: '1', description: 'Security alerts in, explained decisions and safe actions out.' },
      components: {
        securitySchemes: {
          bearer: { type: 'http', scheme: 'bearer' },
          // The web app's session (POST /api/v1/session); requests other than GET and HEAD also need X-CSRF-Token.
          session: { type: 'apiKey', in: 'cookie', name: 'fido_session' },
        },
      },
      security: [{ bearer: [] }, { session: [] }],
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
    throw new FidoError(
      'overloaded',
      shed === 'per_address'
        ? `too many connections from this address (server.max_connections_per_address ${limits.maxConnectionsPerAddress}); retry later`
        : `too many connections (server.max_connections ${limits.maxConnections}); retry later`,
      { retryAfterSeconds: limits.retryAfterSeconds },
    );
  });

  await app.register(cookie);
  app.decorateRequest('principal', null);
  app.decorateRequest('webSession', null);
  const authenticateRequest = requestAuthenticator(ctx, failedAuth);
  app.addHook('onRequest', async (req) => {
    const need = req.routeOptions.config?.role;
    if (!need) return;
    const p = await authenticateRequest(req);
    if (req.routeOptions.config?.session === 'only' && !req.webSession) throw new FidoError('unauthorized', 'this is about a web app session; sign in there');
    requireRole(req, p, need);
    req.principal = p;
  });

  answerErrors(app, ctx.maxBodyBytes);
  app.addHook('onRoute', (route) => {
    // HEAD routes share their GET's schema, and what a route says itself wins.
    if (route.schema && !route.schema.hide && route.method !== 'HEAD') Object.assign(route.schema, { ...describeOperation(route.method, route.url), ...route.schema });
  });

  await app.register(systemRoutes, { ctx });
  await app.register(
    async (api) => {
      await api.register(intakeRoutes, { ctx, authenticateRequest, failedAuth });
      await api.register(incidentRoutes, { ctx });
      await api.register(incidentWorkflowRoutes, { ctx });
      await api.register(alertRoutes, { ctx });
      await api.register(actionRoutes, { ctx });
      await api.register(enrichmentRoutes, { ctx });
      await api.register(backtestRoutes, { ctx });
      await api.register(overviewRoutes, { ctx });
      await api.register(configurationRoutes, { ctx });
      await api.register(approvalRoutes, { ctx, failedAuth });
      await api.register(eventRoutes, { ctx });
      await api.register(sessionRoutes, { ctx, failedAuth });
      await api.register(receiverRoutes, { ctx });
      // Public, like /healthz: it describes the API, not anything stored (issue 14).
      api.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
    },
    { prefix: '/api/v1' },
  );
  if (ctx.oidc) await app.register(oidcRoutes, { ctx, oidc: ctx.oidc });
  await webAssets(app, ctx.webRoot === undefined ? {} : { root: ctx.webRoot });
  return app;
}

/**
 * The OpenAPI tag and operation id of a route, from its path: GET /api/v1/incidents/:id → tag "incidents",
 * id "getIncidentsById"; POST /api/v1/actions/:id/approve → "postActionsByIdApprove".
 */
export function describeOperation(method: string | string[], url: string): { tags: string[]; operationId: string } {
  const segments = url.replace(/^\/api\/v1/, '').split('/').filter(Boolean);
  const words = segments.map((s) => (s.startsWith(':') ? `by_${s.slice(1)}` : s));
  const verb = (Array.isArray(method) ? method[0]! : method).toLowerCase();
  const camel = words
    .join('_')
    .split(/[_-]/)
    .filter(Boolean)
    .map((w) => w[0]!.toUpperCase() + w.slice(1))
    .join('');
  return { tags: [segments[0] && !segments[0].startsWith(':') ? segments[0] : 'system'], operationId: `${verb}${camel}` };
}
