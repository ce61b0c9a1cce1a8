/**
 * Enrichment asked by hand (issue 16, items 5 and 8): GET /lookup answers what `fido lookup` prints, and
 * GET /enrichment/providers shows every configured provider's state (breaker, rate, quota, pause).
 *
 * The lookups go through the API process's own enricher (ctx.enricher; see sharedEnricher below), so the
 * shared answer cache, rate limits, quotas and the privacy filter apply as in the pipeline. They are asked
 * with priority 'high': a person is waiting, and may use the quota reserve kept for what matters.
 */
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { ApiContext } from '../context.js';
import { errors, Query } from '../schemas.js';
import { LookupAnswerSchema, ProviderStateSchema } from '../model-schemas.js';
import { FidoError } from '../../errors.js';
import type { Enricher } from '../../enrich/layer.js';
import type { LookupSubject } from '../../enrich/provider.js';
import { SubjectArgError, describeProviders, describeResults, parseSubjectArg } from '../../enrich/describe.js';
import { errorContext, log } from '../../util/log.js';

/** Subjects per lookup: each may cost every provider a call (and an external service its quota). */
export const MAX_LOOKUP_SUBJECTS = 20;

export default async function enrichmentRoutes(app: FastifyInstance, { ctx }: { ctx: ApiContext }) {
  const enricher = async (): Promise<Enricher> => {
    if (!ctx.enricher) throw new FidoError('unavailable', 'this process does not do enrichment lookups');
    return ctx.enricher();
  };

  app.get(
    '/lookup',
    {
      config: { role: 'analyst' },
      schema: {
        tags: ['enrichment'],
        summary: 'Ask every configured enrichment provider about subjects, as `fido lookup` does',
        description:
          'Each `q` is TYPE:VALUE (ip, domain, url, md5, sha1, sha256, user, host, email, mac, or hash typed by its length) or a bare ' +
          `value typed by its shape; at most ${MAX_LOOKUP_SUBJECTS}. Every provider that answers a subject's type is asked through the shared ` +
          'layer (cache, limits, quota, privacy filter), with high priority. The answers come in subject order, then provider order.',
        querystring: Query({
          q: Type.Array(Type.String({ minLength: 1, maxLength: 4096 }), { minItems: 1, maxItems: MAX_LOOKUP_SUBJECTS, description: 'TYPE:VALUE; repeat for more' }),
          provider: Type.Optional(Type.Array(Type.String({ maxLength: 200 }), { maxItems: 100, description: 'only these providers (names); repeat for more' })),
        }),
        response: {
          200: Type.Object({
            subjects: Type.Array(Type.String(), { description: 'the subjects asked about, as TYPE:VALUE, normalised and without repeats' }),
            items: Type.Array(LookupAnswerSchema),
          }),
          ...errors(400, 401, 403, 503),
        },
      },
    },
    async (req) => {
      const query = req.query as { q: string[]; provider?: string[] };
      const subjects = uniqueSubjects(query.q);
      const e = await enricher();
      const only = query.provider ? new Set(query.provider) : null;
      if (only) {
        const known = e.providers.map((p) => p.name);
        const unknown = [...only].filter((n) => !known.includes(n));
        if (unknown.length) {
          throw new FidoError('bad_request', `querystring/provider: no provider named ${unknown.map((n) => `"${n.slice(0, 64)}"`).join(', ')}`, { allowed: known });
        }
      }
      const results = await Promise.all(
        subjects.flatMap((s) =>
          e
            .providersFor(s.type)
            .filter((p) => !only || only.has(p.name))
            .map((p) => e.lookup(p.name, s, { priority: 'high' })),
        ),
      );
      return { subjects: subjects.map((s) => `${s.type}:${s.value}`), items: await describeResults(e, results, ctx.store, Date.now()) };
    },
  );

  app.get(
    '/enrichment/providers',
    {
      config: { role: 'viewer' },
      schema: {
        tags: ['enrichment'],
        summary: 'Every configured enrichment provider with its breaker, rate limit, quota and pause',
        description:
          "Quota counts are the shared ones (every Fido process spends the same budget); the breaker, rate-limit tokens and a pause after a 429 are the answering process's own.",
        response: { 200: Type.Object({ items: Type.Array(ProviderStateSchema) }), ...errors(401, 403, 503) },
      },
    },
    async () => {
      const e = await enricher();
      return { items: await describeProviders(e, ctx.store, Date.now()) };
    },
  );
}

/** The subjects of `q`, parsed and normalised, each once; a bad one is refused by name. */
function uniqueSubjects(args: readonly string[]): LookupSubject[] {
  const seen = new Map<string, LookupSubject>();
  for (const arg of args) {
    let s: LookupSubject;
    try {
      s = parseSubjectArg(arg);
    } catch (err) {
      if (!(err instanceof SubjectArgError)) throw err;
      // The message quotes the argument; bounded, since a query string may be long.
      throw new FidoError('bad_request', `querystring/q: ${err.message.length > 300 ? `${err.message.slice(0, 300)}…` : err.message}`);
    }
    seen.set(`${s.type}:${s.value}`, s);
  }
  return [...seen.values()];
}

export interface SharedEnricher {
  /** The enricher, built at the first call (a failed build is tried again at the next). */
  get(): Promise<Enricher>;
  /** Closes it if it was built; later get() calls fail. */
  close(): Promise<void>;
}

/**
 * The API process's enricher, built when first asked for: a process that is never asked by hand does not
 * load the providers' files or start their background refreshes (the pipeline has its own enricher). A build
 * that fails (a bad data file) answers 503 with its reason and is tried again at the next request.
 */
export function sharedEnricher(build: () => Promise<Enricher>): SharedEnricher {
  let building: Promise<Enricher> | null = null;
  let closed = false;
  return {
    get() {
      if (closed) return Promise.reject(new FidoError('unavailable', 'the API is shutting down'));
      building ??= build().catch((e: unknown) => {
        building = null;
        log.warn({ err: errorContext(e) }, 'api: the enrichment providers could not be built');
        throw new FidoError('unavailable', `the enrichment providers could not be built: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
      });
      return building;
    },
    async close() {
      closed = true;
      const pending = building;
      building = null;
      const e = await pending?.catch(() => null);
      await e?.close();
    },
  };
}
