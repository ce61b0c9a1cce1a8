/** POST /alerts/{source}: 202 only after the raw batch is committed (DESIGN.md §5). */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import type { ApiContext } from '../context.js';
import { BODY_TYPES, formatOf, splitBody } from '../../intake/split.js';
import { BackpressureError } from '../../intake/receiver.js';
import { FidoError } from '../../errors.js';
import { roleAtLeast } from '../auth.js';
import type { FailedAuthLimiter } from '../auth-limit.js';
import { failedAuthKey } from '../client-address.js';
import { refuseLimited, requireRole, type RequestAuthenticator } from '../authenticate.js';
import { SESSION_COOKIE } from '../../web/sessions.js';
import { clientCertificateOf, compileProtections, judgeAddress, judgeClientCert, judgeRate, judgeSignature, judgeSize, judgeToken, notListed } from '../../intake/protection.js';
import { errors, Query } from '../schemas.js';
import { audit } from '../../store/audit.js';

const SOURCE = '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$';

export default async function intakeRoutes(
  app: FastifyInstance,
  { ctx, authenticateRequest, failedAuth }: { ctx: ApiContext; authenticateRequest: RequestAuthenticator; failedAuth: FailedAuthLimiter },
) {
  // Per-source protection (sources[].intake), compiled once.
  const protections = compileProtections(ctx.sources.values());

  /**
   * Before the body is read: the client address and declared length, then who is asking. This route has no
   * `role` for the server's hook, because two callers are not API principals: a source's own intake token, and a
   * signed webhook (no Authorization header, no cookie: its signature is judged with the body). Everyone else is
   * authenticated as on every route (api/authenticate.ts) and needs the analyst role.
   */
  async function admit(req: FastifyRequest): Promise<void> {
    const { source } = req.params as { source: string };
    const p = protections.get(source);
    if (p) {
      const refused = judgeAddress(p, req.ip) ?? judgeClientCert(p, clientCertificateOf(req.raw.socket)) ?? judgeSize(p, contentLength(req.headers['content-length']));
      if (refused) throw refused;
    }
    const header = req.headers.authorization;
    if (p?.hmac && header === undefined && req.cookies[SESSION_COOKIE] === undefined) {
      refuseLimited(failedAuth, req);
      return;
    }
    const token = header ? /^Bearer\s+(\S+)\s*$/i.exec(header)?.[1] : undefined;
    const judged = token ? judgeToken(protections, p, source, token) : 'ask_api';
    if (judged !== 'ask_api') {
      refuseLimited(failedAuth, req);
      if (!judged.ok) throw judged.error;
      // A listed token: the API token it also is, if any, else a principal for this source's intake only.
      const principal = await ctx.authenticate(header);
      req.principal = principal && roleAtLeast(principal.role, 'analyst') ? principal : { tokenId: `intake:${source}`, name: `intake token of ${source}`, role: 'analyst' };
      return;
    }
    const principal = await authenticateRequest(req);
    if (p?.tokenHashes) throw notListed(source);
    requireRole(req, principal, 'analyst');
    req.principal = principal;
  }
  // Bodies stay bytes: raw records are stored byte for byte (text in any encoding too), and the split below
  // names what is wrong.
  app.removeContentTypeParser(['application/json', 'text/plain']);
  app.addContentTypeParser(
    [...BODY_TYPES],
    { parseAs: 'buffer' },
    (_req, body, done) => done(null, body),
  );

  app.post(
    '/alerts/:source',
    {
      // No `role`: admit() above authenticates (analyst, or the source's own tokens, or a signature).
      config: { bodyTypes: BODY_TYPES },
      onRequest: admit,
      schema: {
        summary: 'Submit alerts: one JSON object, a JSON array, NDJSON, or text lines (syslog, CEF, LEEF…)',
        params: Type.Object({ source: Type.String({ pattern: SOURCE }) }),
        querystring: Query({
          detector: Type.Optional(
            Type.String({
              pattern: '^[a-z][a-z0-9_-]{0,63}$',
              description: "Parse as this detector (or auto) instead of the source's configured one: admin only, recorded in the audit log",
            }),
          ),
        }),
        // No body schema: the body is bytes (see the parser above); splitBody checks it and names what is wrong.
        response: {
          202: Type.Object({ accepted: Type.Integer(), ids: Type.Array(Type.String()) }),
          ...errors(400, 401, 403, 404, 413, 415, 429, 503),
        },
        // A source with `hmac` takes signed requests without a token (src/intake/protection.ts).
        security: [{ bearer: [] }, { session: [] }, {}],
      },
    },
    async (req, reply) => {
      const { source } = req.params as { source: string };
      const { detector: forced } = req.query as { detector?: string };
      if (!ctx.intake) throw new FidoError('unavailable', 'this process does not take intake');
      const declared = ctx.sources.get(source);
      const protection = protections.get(source);
      const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
      if (protection) {
        const refused = judgeSize(protection, body.length) ?? judgeSignature(protection, req.headers, body, Date.now());
        if (refused) {
          if (refused.code === 'unauthorized') failedAuth.failed(failedAuthKey(req.ip));
          throw refused;
        }
        // Taken only once the request is known to come from the source: others cannot use up its rate.
        const limited = judgeRate(protection, Date.now());
        if (limited) throw limited;
      }
      if (!declared) {
        if (!ctx.allowUndeclaredSources) {
          throw new FidoError('unknown_source', `source "${source}" is not declared in the configuration`, { allowed: [...ctx.sources.keys()].sort() });
        }
        if (!req.principal || !roleAtLeast(req.principal.role, 'admin')) {
          throw new FidoError('forbidden', `source "${source}" is not declared; only an admin token may post to undeclared sources`);
        }
      }
      // The configuration chooses the detector (issue 13): a per-request choice that differs from it would let
      // a caller send records to the slowest parser on purpose or have them read as what they are not.
      const configured = declared?.detector ?? 'auto';
      const override = forced !== undefined && forced !== configured;
      if (override && (!req.principal || !roleAtLeast(req.principal.role, 'admin'))) {
        throw new FidoError(
          'forbidden',
          `source "${source}" is configured with detector "${configured}"; choosing another per request (?detector=${forced}) needs the admin role`,
        );
      }
      const format = formatOf(req.headers['content-type']);
      if (!format) throw unsupportedType(req.headers['content-type']);
      const records = splitBody(body, format, {
        maxRecordBytes: ctx.maxRecordBytes,
        maxRecords: ctx.maxRecordsPerRequest,
      });
      const chosen = override ? forced : configured;
      const detectorName = chosen === 'auto' ? null : chosen;
      // Recorded before the records are taken: an override that cannot be recorded does not happen.
      if (override) {
        try {
          await audit(ctx.store.db, req.principal!.name, 'intake.detector_override', source, {
            detector: forced,
            configured,
            declared: declared !== undefined,
            records: records.length,
          });
        } catch (e) {
          throw new FidoError('unavailable', 'the detector override could not be recorded in the audit log; retry', { cause: e });
        }
      }
      try {
        const { ids } = await ctx.intake.accept(source, detectorName, records);
        return reply.code(202).send({ accepted: ids.length, ids });
      } catch (e) {
        if (e instanceof BackpressureError) throw e;
        throw new FidoError('unavailable', 'the intake log could not be written; retry', { cause: e });
      }
    },
  );
}

function contentLength(v: string | undefined): number | undefined {
  return v !== undefined && /^\d{1,15}$/.test(v) ? Number(v) : undefined;
}

function unsupportedType(contentType: string | undefined): FidoError {
  const given = contentType ? `content type "${contentType.split(';')[0]!.trim().slice(0, 100)}" is not accepted` : 'no content type given';
  return new FidoError('unsupported_media_type', `${given}; send one of ${BODY_TYPES.join(', ')}`, { allowed: BODY_TYPES });
}
