/**
 * GET /overview (issue 18, item 4): the dashboard's figures for a window of 24 hours, 7 days or 30 days —
 * alerts and incidents per bucket, the busiest hosts, users and indicators, how many closes and decisions needed no person,
 * how long decisions took, and the state of providers, receivers and the pipeline's backlog. The queries and
 * why they stay cheap on a large store are in store/overview.ts.
 *
 * The providers and receivers parts are shared with GET /configuration (routes/configuration.ts).
 */
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { ApiContext } from '../context.js';
import { errors, Query } from '../schemas.js';
import { ProviderStateSchema } from '../model-schemas.js';
import { FidoError } from '../../errors.js';
import { describeProviders, type DescribedProvider } from '../../enrich/describe.js';
import { STAGES } from '../../store/queue.js';
import {
  LAST_RECORD_SCAN,
  OVERVIEW_WINDOWS,
  TOP_N,
  UNDECIDED,
  alertsByDetector,
  automation,
  incidentsByOutcome,
  lastRecordTimes,
  pipelineBacklog,
  timeToDecision,
  topValues,
  windowBounds,
  windowIncidents,
  type OverviewWindow,
} from '../../store/overview.js';
import { readReceiverHealth, type ReceiverHealth } from '../../intake/health.js';

const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(schema: T) => Type.Union([schema, Type.Null()]);
const Ms = (description: string) => Type.Number({ description });
const Counts = (description: string) => Type.Record(Type.String(), Type.Array(Type.Integer({ minimum: 0 })), { description });

export const AUTOMATION_DESCRIPTION =
  'A person is an account of the web app (people sign in) or someone at a shell on the Fido host (actor cli:<login name>); an API ' +
  "token is a script's or an integration's, so what it does counts as automation. A person acted on an incident when a verdict, a " +
  'status or other change (assignee, tags…), a note or a merge on its timeline, or an approval or denial of one of its actions, was ' +
  "theirs. closed: incidents closed in the window (their last close — a verdict or status change to closed, or a merge into another " +
  'incident; audit log — falls in it, and they are closed now); closed_without_person: those whose close was not by a person and on ' +
  'which no person acted up to it; rate = closed_without_person / closed, null when nothing was closed. Fido never closes an incident ' +
  'by itself, so rate is null unless something closes incidents. decided: incidents (merged ones apart) whose first decision falls in ' +
  'the window; decided_without_person: those on which no person has acted, up to now; decided_rate = decided_without_person / ' +
  'decided, null when nothing was decided.';

const TopEntrySchema = Type.Object(
  {
    value: Type.String(),
    incidents: Type.Integer({ minimum: 0, description: 'incidents active in the window (last seen since its start) that carried it within the window' }),
    alerts: Type.Integer({ minimum: 0, description: "those incidents' alerts that carried it" }),
  },
  { additionalProperties: false },
);
const TopIndicatorSchema = Type.Object(
  { type: Type.String({ description: 'ip, domain, url, sha256…' }), ...TopEntrySchema.properties },
  { additionalProperties: false },
);

export const ReceiverHealthSchema = Type.Object(
  {
    name: Type.String({ description: "the source's name" }),
    kind: Type.String({ description: 'the receiver kind: http (the intake routes), file, syslog, sql, nats, rabbitmq, …' }),
    state: Type.Union([Type.Literal('running'), Type.Literal('paused'), Type.Literal('stopped'), Type.Literal('failing'), Type.Literal('unknown')], {
      description:
        'as the process running it last reported (every 5 s): running; paused (backpressure, or not started yet); failing (it cannot start or its upstream fails: see error); stopped; unknown: no report for 30 s (its process is gone) or none yet. HTTP intake is running wherever the API takes intake',
    }),
    owner: Nullable(Type.String({ description: 'the process that reported it (host:pid:…); null for HTTP intake' })),
    last_record_at: Nullable(Type.Number({ description: `when its newest record was received (epoch ms); for HTTP intake looked for among the newest ${LAST_RECORD_SCAN.toLocaleString('en')} records of the intake log` })),
    records: Nullable(Type.Number({ description: 'records accepted since its process started (null for HTTP intake)' })),
    lag_ms: Nullable(Type.Number({ description: 'how far behind its upstream, where the upstream says (a queue depth is not a time: see the kind)' })),
    error: Nullable(Type.String({ description: 'the last error, until the next success; never a secret' })),
    cursor: Nullable(Type.String({ description: 'its position upstream (an offset, an id, a UID), where it has one' })),
    reported_at: Nullable(Type.Number({ description: 'when the status was written (epoch ms)' })),
  },
  { additionalProperties: false },
);

const StageBacklogSchema = Type.Object(
  {
    items: Type.Integer({ minimum: 0, description: 'incidents waiting for the stage' }),
    oldest_at: Nullable(Ms('since when the oldest has waited (epoch ms)')),
    lag_seconds: Type.Integer({ minimum: 0 }),
  },
  { additionalProperties: false },
);
export const BacklogSchema = Type.Object(
  {
    ingest: Type.Object(
      {
        records: Type.Integer({ minimum: 0, description: 'intake records not yet ingested (parsed and correlated)' }),
        oldest_received_at: Nullable(Ms('when the oldest of them was received (epoch ms)')),
        lag_seconds: Type.Integer({ minimum: 0 }),
      },
      { additionalProperties: false },
    ),
    stages: Type.Object(Object.fromEntries(STAGES.map((s) => [s, StageBacklogSchema])) as Record<(typeof STAGES)[number], typeof StageBacklogSchema>, {
      additionalProperties: false,
    }),
  },
  { additionalProperties: false, description: 'How far the pipeline is behind (as fido_stage_backlog and fido_stage_lag_seconds on /metrics)' },
);

const OverviewSchema = Type.Object(
  {
    window: Type.Union(OVERVIEW_WINDOWS.map((w) => Type.Literal(w))),
    from: Ms('start of the first bucket (epoch ms)'),
    to: Ms('end of the last bucket, the one that holds the time of the answer (epoch ms)'),
    bucket_ms: Type.Integer({ description: '1 hour for 24h, 6 hours for 7d, 1 day for 30d; buckets are aligned on multiples of it (UTC)' }),
    series: Type.Object(
      {
        t: Type.Array(Type.Number(), { description: "each bucket's start (epoch ms); every series below has one number per bucket" }),
        alerts_by_detector: Counts('alerts received in each bucket (received_at), per detector; repeats count, as each was received'),
        incidents_by_outcome: Counts(
          `incidents first seen in each bucket, per outcome of their latest decision (ignore, log, notify, respond, escalate…; "${UNDECIDED}": none yet); merged incidents apart`,
        ),
      },
      { additionalProperties: false },
    ),
    top: Type.Object(
      {
        hosts: Type.Array(TopEntrySchema, { description: `up to ${TOP_N}, most incidents first` }),
        users: Type.Array(TopEntrySchema, { description: `up to ${TOP_N}, most incidents first` }),
        indicators: Type.Array(TopIndicatorSchema, { description: `other indicators (ip, domain, hash…), up to ${TOP_N}, most incidents first` }),
      },
      { additionalProperties: false },
    ),
    automation: Type.Object(
      {
        closed: Type.Integer({ minimum: 0 }),
        closed_without_person: Type.Integer({ minimum: 0 }),
        rate: Nullable(Type.Number({ minimum: 0, maximum: 1, description: 'closed_without_person / closed; null when closed is 0' })),
        decided: Type.Integer({ minimum: 0, description: 'incidents whose first decision falls in the window' }),
        decided_without_person: Type.Integer({ minimum: 0, description: 'of those, the ones no person has acted on (up to now)' }),
        decided_rate: Nullable(Type.Number({ minimum: 0, maximum: 1, description: 'decided_without_person / decided; null when decided is 0' })),
      },
      { additionalProperties: false, description: AUTOMATION_DESCRIPTION },
    ),
    time_to_decision: Type.Object(
      {
        n: Type.Integer({ minimum: 0, description: 'incidents first seen in the window that have been decided' }),
        p50_ms: Nullable(Type.Number({ minimum: 0 })),
        p90_ms: Nullable(Type.Number({ minimum: 0 })),
      },
      { additionalProperties: false, description: "Per incident first seen in the window: its first decision's time minus its first_seen (nearest-rank percentiles)" },
    ),
    providers: Type.Array(ProviderStateSchema, { description: 'as GET /enrichment/providers reports them; empty when this process has no enrichment providers' }),
    providers_error: Nullable(Type.String({ description: 'why the providers could not be described (then providers is empty)' })),
    receivers: Type.Array(ReceiverHealthSchema, { description: 'one per configured source' }),
    backlog: BacklogSchema,
  },
  { additionalProperties: false },
);

/** What the overview reads from the process. */
export type OverviewContext = Pick<ApiContext, 'store' | 'sources' | 'intake' | 'enricher'>;

/** The configured providers as /enrichment/providers describes them, or why not. */
export async function providerStates(ctx: OverviewContext, now: number): Promise<{ items: DescribedProvider[]; error: string | null }> {
  if (!ctx.enricher) return { items: [], error: null };
  try {
    const e = await ctx.enricher();
    return { items: await describeProviders(e, ctx.store, now), error: null };
  } catch (err) {
    if (err instanceof FidoError) return { items: [], error: err.message };
    throw err;
  }
}

/** Each configured source's receiver as the process running it last reported (intake/health.ts). */
export async function receiverHealth(ctx: OverviewContext): Promise<ReceiverHealth[]> {
  return readReceiverHealth(ctx.store, ctx.sources.values(), await lastRecordTimes(ctx.store.db), ctx.intake !== null);
}

/** What the route answers for `window` at time `now` (the bench calls it with the time of its store). */
export async function buildOverview(ctx: OverviewContext, window: OverviewWindow, now: number) {
  const b = windowBounds(window, now);
  const db = ctx.store.db;
  const incidents = await windowIncidents(db, b);
  const providers = await providerStates(ctx, now);
  return {
    window,
    from: b.from,
    to: b.to,
    bucket_ms: b.bucketMs,
    series: { t: b.starts, alerts_by_detector: await alertsByDetector(ctx.store, b), incidents_by_outcome: incidentsByOutcome(b, incidents) },
    top: await topValues(db, b),
    automation: await automation(db, b),
    time_to_decision: timeToDecision(incidents),
    providers: providers.items,
    providers_error: providers.error,
    receivers: await receiverHealth(ctx),
    backlog: await pipelineBacklog(db, now),
  };
}

export default async function overviewRoutes(app: FastifyInstance, { ctx }: { ctx: ApiContext }) {
  app.get(
    '/overview',
    {
      config: { role: 'viewer' },
      schema: {
        tags: ['overview'],
        summary: 'The dashboard: alerts and incidents per bucket, top hosts, users and indicators, automation rate, time to decision, providers, receivers, backlog',
        description: `Automation (closed and decided without a person): ${AUTOMATION_DESCRIPTION}`,
        querystring: Query({ window: Type.Optional(Type.Union(OVERVIEW_WINDOWS.map((w) => Type.Literal(w)), { default: '24h', description: 'the span shown' })) }),
        response: { 200: OverviewSchema, ...errors(400, 401, 403) },
      },
    },
    async (req) => buildOverview(ctx, (req.query as { window?: OverviewWindow }).window ?? '24h', Date.now()),
  );
}
