/**
 * GET /configuration (issue 18, item 5): what this process runs with, as the dashboard's configuration page
 * shows it — the sources and their receivers, the enrichment providers with their quota and cache, the
 * policy rules in order with how often each decided, the latest backtest, the kill switch.
 *
 * Never a secret: only names, kinds and figures are read from the configuration — no receiver or provider
 * settings (where `${env:…}`/`${file:…}` references are resolved), no action parameters, no tokens.
 */
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { ApiContext } from '../context.js';
import { errors } from '../schemas.js';
import { BacktestSummarySchema, ProviderStateSchema } from '../model-schemas.js';
import { readKillSwitch } from '../../actions/kill-switch.js';
import { configuredPolicy } from '../../backtest/sources.js';
import type { CompiledPolicy } from '../../policy/rules.js';
import { CACHE_COUNT_CAP, cacheFigures, ruleHits, type RuleHits } from '../../store/overview.js';
import { ReceiverHealthSchema, providerStates, receiverHealth } from './overview.js';
import { listBacktests } from '../../store/backtests.js';

const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(schema: T) => Type.Union([schema, Type.Null()]);

const SourceSchema = Type.Object(
  {
    name: Type.String(),
    detector: Type.String({ description: 'the detector its records are parsed with; "auto": detected per record' }),
    receiver: ReceiverHealthSchema,
  },
  { additionalProperties: false },
);

const CacheSchema = Type.Object(
  {
    entries: Type.Integer({ minimum: 0, description: `answers of this provider in the shared cache (counted up to ${CACHE_COUNT_CAP.toLocaleString('en')})` }),
    live: Type.Integer({ minimum: 0, description: 'of those, not yet expired' }),
    exact: Type.Boolean({ description: 'false: there are more than entries says' }),
  },
  { additionalProperties: false, description: 'The shared answer cache (local providers are never cached there: 0)' },
);

const ConfiguredProviderSchema = Type.Object(
  { ...ProviderStateSchema.properties, cache: CacheSchema },
  { additionalProperties: true, description: 'As GET /enrichment/providers describes it, with its cache figures' },
);

const RuleSchema = Type.Object(
  {
    name: Type.String(),
    description: Nullable(Type.String()),
    when: Type.String({ description: 'the CEL condition as written' }),
    outcome: Type.String(),
    actions: Type.Array(Type.Object({ target: Type.String(), kind: Type.String() }, { additionalProperties: false }), {
      description: 'what it plans, by target (parameters are not shown)',
    }),
    approval: Type.Union([Type.Literal('auto'), Type.Literal('required')]),
    dry_run: Type.Boolean(),
    continue: Type.Boolean({ description: 'later rules are evaluated after it matches' }),
    hits_24h: Type.Integer({ minimum: 0, description: 'decisions it made (as the deciding rule) in the last 24 hours' }),
    hits_7d: Type.Integer({ minimum: 0, description: 'in the last 7 days' }),
    last_hit_at: Nullable(Type.Number({ description: 'its newest decision (epoch ms), however old; null: it never decided' })),
  },
  { additionalProperties: false },
);

const KillSwitchSchema = Type.Object(
  {
    on: Type.Boolean(),
    actor: Nullable(Type.String()),
    reason: Nullable(Type.String()),
    at: Nullable(Type.String({ format: 'date-time' })),
  },
  { additionalProperties: false, description: 'The containment kill switch, as GET /kill-switch answers' },
);

const ConfigurationSchema = Type.Object(
  {
    config_version: Type.String({ description: 'the version of the configuration this process runs with' }),
    sources: Type.Array(SourceSchema, { description: 'in the order configured' }),
    providers: Type.Array(ConfiguredProviderSchema),
    providers_error: Nullable(Type.String({ description: 'why the providers could not be described (then providers is empty)' })),
    rules: Type.Array(RuleSchema, { description: 'the policy rules in evaluation order; empty when this process was started without its configuration' }),
    rules_error: Nullable(Type.String({ description: 'why the policy could not be read (then rules is empty)' })),
    backtest: Type.Union([BacktestSummarySchema, Type.Null()], { description: 'the latest backtest (GET /backtests lists them all), without its changed incidents; null: none was run' }),
    kill_switch: KillSwitchSchema,
  },
  { additionalProperties: false },
);

export default async function configurationRoutes(app: FastifyInstance, { ctx }: { ctx: ApiContext }) {
  // The configured policy compiles once, at the first request (as routes/backtests.ts does).
  let policy: CompiledPolicy | undefined;
  const rulesOf = (): { policy: CompiledPolicy | null; error: string | null } => {
    if (!ctx.policyConfig) return { policy: null, error: null };
    try {
      return { policy: (policy ??= configuredPolicy(ctx.policyConfig)), error: null };
    } catch (e) {
      return { policy: null, error: e instanceof Error ? e.message : String(e) };
    }
  };

  app.get(
    '/configuration',
    {
      config: { role: 'viewer' },
      schema: {
        tags: ['configuration'],
        summary: 'What this process runs with: sources and receivers, providers with quota and cache, policy rules with their hits, the kill switch; never a secret',
        description:
          'Rule hits count the decisions whose deciding rule it was (decisions.rule). No setting of a receiver, provider or action target is shown: only names, kinds and figures.',
        response: { 200: ConfigurationSchema, ...errors(401, 403) },
      },
    },
    async () => {
      const now = Date.now();
      const receivers = await receiverHealth(ctx);
      const sources = [...ctx.sources.values()].map((s, i) => ({ name: s.name, detector: s.detector ?? 'auto', receiver: receivers[i]! }));
      const described = await providerStates(ctx, now);
      const providers = [];
      for (const p of described.items) providers.push({ ...p, cache: await cacheFigures(ctx.store, p.provider, now) });
      const { policy: compiled, error } = rulesOf();
      const hits = compiled ? await ruleHits(ctx.store.db, now, compiled.rules.map((r) => r.name)) : new Map<string, RuleHits>();
      const rules = (compiled?.rules ?? []).map((r) => ({
        name: r.name,
        description: r.description ?? null,
        when: r.when.source,
        outcome: r.outcome,
        actions: r.actions.map((a) => ({ target: a.target, kind: a.kind })),
        approval: r.approval.mode,
        dry_run: r.dryRun,
        continue: r.continue,
        ...(hits.get(r.name) ?? { hits_24h: 0, hits_7d: 0, last_hit_at: null }),
      }));
      return {
        config_version: ctx.configVersion,
        sources,
        providers,
        providers_error: described.error,
        rules,
        rules_error: error,
        backtest: (await listBacktests(ctx.store.db, 1))[0] ?? null,
        kill_switch: await readKillSwitch(ctx.store.db, ctx.killSwitchForced ?? false),
      };
    },
  );
}
