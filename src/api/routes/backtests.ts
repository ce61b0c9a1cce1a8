/**
 * Trying a policy on history, over HTTP: POST /backtests replays stored incidents through a changed policy
 * and/or scoring profile (backtest/run.ts, the same code as `fido backtest`), and GET /incidents/{id}/explain
 * runs the configured policy's dry run on one stored incident (backtest/explain.ts, as `fido policy explain`).
 *
 * A backtest answers synchronously: it reads at most MAX_BACKTEST_INCIDENTS incidents (the oldest of the
 * window; `truncated` says when there were more — narrow the window), which at the measured rate
 * (README, "Backtesting and explaining") is seconds, not minutes, so a job queue would add state for no
 * gain. One backtest runs at a time per process: a second is answered 503 with Retry-After, so that
 * history replays cannot crowd out the API's other work. Nothing is written to the store.
 *
 * Both need the configuration the process runs with (`ctx.policyConfig`, set by app.ts); without it they
 * answer 503.
 */
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { ApiContext } from '../context.js';
import { errors } from '../schemas.js';
import { BacktestReportSchema, BacktestSummarySchema, IncidentExplanationSchema, StoredBacktestSchema } from '../model-schemas.js';
import { FidoError } from '../../errors.js';
import { runBacktest, DEFAULT_LISTED, DEFAULT_SCORE_DELTA } from '../../backtest/run.js';
import { BacktestInputError, backtestProfile, configuredPolicy, policyFromText, type BaseConfig } from '../../backtest/sources.js';
import { backtestWindow } from '../../backtest/window.js';
import { explainIncident } from '../../backtest/explain.js';
import { ProfileError } from '../../score/profile.js';
import { getBacktest, KEPT_BACKTESTS, listBacktests, saveBacktest } from '../../store/backtests.js';
import type { CompiledPolicy } from '../../policy/rules.js';

/** Incidents one backtest replays at most. */
export const MAX_BACKTEST_INCIDENTS = 100_000;
/** Bound on the policy text posted (a rules file, or a whole fido.yaml). */
const MAX_POLICY_CHARS = 1_000_000;


const IdParam = Type.Object({ id: Type.String({ pattern: '^[0-9A-HJKMNP-TV-Z]{26}$' }) });
const When = (description: string) => Type.String({ maxLength: 40, description });

const BacktestBody = Type.Object(
  {
    policy: Type.Optional(
      Type.Union([Type.String({ maxLength: MAX_POLICY_CHARS }), Type.Object({}, { additionalProperties: true }), Type.Array(Type.Unknown())], {
        description: 'YAML text of a rules file (`rules:` like policy.files) or of a whole fido.yaml; or the same as JSON (`{"rules": [...]}` or a list). Absent: the configured policy',
      }),
    ),
    profile: Type.Optional(Type.String({ maxLength: 100, description: 'rescore with this scoring profile; absent: keep the stored scores' })),
    since: Type.Optional(When('incidents last seen since: a duration back from now (30d) or an ISO date; default 30d')),
    until: Type.Optional(When('and before: a duration back from now or an ISO date; default now')),
    limit: Type.Optional(Type.Integer({ minimum: 0, maximum: 1000, default: DEFAULT_LISTED, description: 'changed incidents listed (all are counted)' })),
    score_delta: Type.Optional(Type.Integer({ minimum: 0, maximum: 100, default: DEFAULT_SCORE_DELTA })),
  },
  { additionalProperties: false },
);

interface BacktestRequest {
  policy?: string | Record<string, unknown> | unknown[];
  profile?: string;
  since?: string;
  until?: string;
  limit?: number;
  score_delta?: number;
}

export default async function backtestRoutes(app: FastifyInstance, { ctx }: { ctx: ApiContext }) {
  let running = false;
  // The configured policy compiles once, at the first request that needs it.
  let configured: CompiledPolicy | undefined;
  const base = (): BaseConfig => {
    if (!ctx.policyConfig) throw new FidoError('unavailable', 'this process was started without its configuration for backtests');
    return ctx.policyConfig;
  };

  app.post(
    '/backtests',
    {
      config: { role: 'analyst' },
      schema: {
        summary: `Replay stored incidents (at most ${MAX_BACKTEST_INCIDENTS.toLocaleString('en')}) through a changed policy and/or scoring profile; changes nothing, keeps the report`,
        body: BacktestBody,
        response: { 200: Type.Object({ id: Type.String({ description: 'GET /backtests/{id} reads it again' }), ...BacktestReportSchema.properties }), ...errors(400, 401, 403, 503) },
      },
    },
    async (req) => {
      const body = req.body as BacktestRequest;
      const cfg = base();
      if (body.policy === undefined && body.profile === undefined) throw new FidoError('bad_request', 'give policy, profile or both: what should be tried?');
      if (running) throw new FidoError('overloaded', 'a backtest is already running in this process; retry when it is done', { retryAfterSeconds: 5 });
      running = true;
      try {
        const window = backtestWindow(body.since ?? '30d', body.until, Date.now());
        const changed =
          body.policy === undefined
            ? { policy: (configured ??= configuredPolicy(cfg)), config: cfg.config }
            : policyFromText(cfg, typeof body.policy === 'string' ? body.policy : JSON.stringify(body.policy, null, 2), 'policy');
        const profile = body.profile !== undefined ? backtestProfile(body.profile, changed.config) : undefined;
        const report = await runBacktest(
          ctx.store,
          { policy: changed.policy, ...(profile ? { profile } : {}), dryRun: changed.config.policy?.dry_run ?? false },
          { ...window, limit: body.limit ?? DEFAULT_LISTED, scoreDelta: body.score_delta ?? DEFAULT_SCORE_DELTA, maxIncidents: MAX_BACKTEST_INCIDENTS },
        );
        const policy = body.policy === undefined ? null : typeof body.policy === 'string' ? body.policy : JSON.stringify(body.policy, null, 2);
        const id = await saveBacktest(ctx.store.db, { actor: req.principal!.name, policy, profile: body.profile ?? null, report });
        return { id, ...report };
      } catch (e) {
        if (e instanceof BacktestInputError || e instanceof ProfileError) throw new FidoError('bad_request', e.message);
        throw e;
      } finally {
        running = false;
      }
    },
  );

  app.get(
    '/backtests',
    {
      config: { role: 'viewer' },
      schema: {
        summary: `The backtests run, newest first (the last ${KEPT_BACKTESTS} are kept): who, when, what was tried, and the figures of each report`,
        querystring: Type.Object({ limit: Type.Optional(Type.Integer({ minimum: 1, maximum: KEPT_BACKTESTS, default: 20 })) }),
        response: { 200: Type.Object({ items: Type.Array(BacktestSummarySchema) }), ...errors(400, 401, 403) },
      },
    },
    async (req) => ({ items: await listBacktests(ctx.store.db, (req.query as { limit?: number }).limit ?? 20) }),
  );

  app.get(
    '/backtests/:id',
    {
      config: { role: 'viewer' },
      schema: {
        summary: 'One backtest as it ran: what was tried and its whole report',
        params: IdParam,
        response: { 200: StoredBacktestSchema(BacktestReportSchema), ...errors(400, 401, 403, 404) },
      },
    },
    async (req) => {
      const { id } = req.params as { id: string };
      const b = await getBacktest(ctx.store.db, id);
      if (!b) throw new FidoError('not_found', `no backtest ${id}`);
      return b;
    },
  );

  app.get(
    '/incidents/:id/explain',
    {
      config: { role: 'viewer' },
      schema: {
        summary: 'Run the configured policy on a stored incident: which rule matches, and for each other rule the first part of its condition that is false',
        params: IdParam,
        response: { 200: IncidentExplanationSchema, ...errors(400, 401, 403, 404, 503) },
      },
    },
    async (req) => {
      const { id } = req.params as { id: string };
      const policy = (configured ??= configuredPolicy(base()));
      const report = await explainIncident(ctx.store, policy, id, { configVersion: ctx.configVersion });
      if (!report) throw new FidoError('not_found', `no incident ${id}`);
      return report;
    },
  );
}
