/**
 * The pinned model (src/model) as JSON Schema, for the routes' response schemas and so for the OpenAPI
 * document. The checks at the end make the compiler refuse a model change that these schemas do not follow:
 * every value of a model type must be a value of its schema's type. Objects allow additional properties so
 * that a field added to an answer (e.g. `fate` beside an alert) is never dropped by the serializer.
 */
import { Type, type Static, type TSchema } from 'typebox';
import { SEVERITY_LABELS, DETECTOR_ACTIONS, type Alert } from '../model/alert.js';
import { OBSERVABLE_TYPES } from '../model/observable.js';
import { INCIDENT_STATUSES, VERDICTS, type Incident, type IncidentDetail, type IncidentNote } from '../model/incident.js';
import { ACTION_STATES, type ActionRecord } from '../model/action.js';
import { CRITICALITIES } from '../enrich/localfile.js';
import { QUOTA_PERIODS } from '../enrich/quota.js';
import type { DescribedAnswer, DescribedProvider } from '../enrich/describe.js';

const open = { additionalProperties: true } as const;
const Opt = <T extends TSchema>(schema: T) => Type.Optional(schema);
const Nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()]);
const Enum = <const V extends readonly string[]>(values: V, options: { description?: string } = {}) =>
  Type.Unsafe<V[number]>({ type: 'string', enum: [...values], ...options });
const Time = Type.String({ format: 'date-time' });
const Loose = Type.Object({}, open);

const Endpoint = Type.Object({ ip: Opt(Type.String()), port: Opt(Type.Number()), host: Opt(Type.String()), user: Opt(Type.String()) }, open);
const Observable = Type.Object({ type: Enum(OBSERVABLE_TYPES), value: Type.String(), role: Type.String() }, open);
const Subject = Type.Object({ type: Enum(OBSERVABLE_TYPES), value: Type.String() }, open);

export const AlertSchema = Type.Object(
  {
    id: Type.String(),
    source: Type.String(),
    detector: Type.String(),
    received_at: Time,
    vendor_id: Opt(Type.String()),
    event_type: Opt(Type.String({ description: "the product's own name for this kind of record" })),
    time: Time,
    title: Type.String(),
    rule: Opt(Type.Object({ id: Opt(Type.String()), name: Opt(Type.String()), category: Opt(Type.String()) }, open)),
    severity: Type.Integer({ minimum: 0, maximum: 100 }),
    severity_label: Enum(SEVERITY_LABELS),
    vendor_severity: Opt(Type.Object({ value: Type.String(), scale: Type.String() }, open)),
    action: Opt(Enum(DETECTOR_ACTIONS)),
    src: Opt(Endpoint),
    dst: Opt(Endpoint),
    host: Opt(Type.Object({ name: Opt(Type.String()), ip: Opt(Type.String()), id: Opt(Type.String()), os: Opt(Type.String()), mac: Opt(Type.String()) }, open)),
    device: Opt(Type.Object({ name: Opt(Type.String()), ip: Opt(Type.String()), id: Opt(Type.String()), os: Opt(Type.String()), mac: Opt(Type.String()) }, open)),
    user: Opt(Type.Object({ name: Opt(Type.String()), domain: Opt(Type.String()), email: Opt(Type.String()) }, open)),
    file: Opt(
      Type.Object(
        { name: Opt(Type.String()), path: Opt(Type.String()), md5: Opt(Type.String()), sha1: Opt(Type.String()), sha256: Opt(Type.String()), size: Opt(Type.Number()) },
        open,
      ),
    ),
    process: Opt(Type.Object({ name: Opt(Type.String()), command_line: Opt(Type.String()), pid: Opt(Type.Number()), parent_name: Opt(Type.String()) }, open)),
    url: Opt(Type.String()),
    domain: Opt(Type.String()),
    email: Opt(Type.Object({ from: Opt(Type.String()), to: Opt(Type.Array(Type.String())), subject: Opt(Type.String()) }, open)),
    malware: Opt(Type.Object({ name: Opt(Type.String()), family: Opt(Type.String()) }, open)),
    observables: Type.Array(Observable),
    raw: Type.String({ description: 'the record as received' }),
  },
  { ...open, description: 'An alert in canonical form (README, "The Alert")' },
);

const ScoreSchema = Type.Object(
  {
    profile: Type.String(),
    total: Type.Number({ minimum: 0, maximum: 100 }),
    components: Type.Record(Type.String(), Type.Number()),
    explanation: Type.Array(Type.Object({ factor: Type.String(), points: Type.Number(), evidence: Type.String() }, open)),
  },
  { ...open, description: 'The score and the factors that made it' },
);

const PlannedAction = Type.Object({ kind: Type.String(), target: Type.String(), params: Loose, approval: Enum(['auto', 'required']) }, open);

const DecisionSchema = Type.Object(
  {
    rule: Type.String(),
    outcome: Type.String({ description: 'ignore, log, notify, respond, escalate, or an outcome the policy names' }),
    actions: Type.Array(PlannedAction),
    dry_run: Type.Boolean(),
    config_version: Type.String(),
    matched: Opt(Type.Array(Type.String())),
    errors: Opt(Type.Array(Type.Object({ rule: Type.String(), kind: Enum(['error', 'timeout']), error: Type.String() }, open))),
    fallback: Opt(Type.Object({ outcome: Type.String(), rules: Type.Array(Type.String()), reason: Type.String() }, open)),
    decided_at: Opt(Time),
  },
  { ...open, description: 'What the policy decided, and by which rule' },
);

export const IncidentSchema = Type.Object(
  {
    id: Type.String(),
    title: Type.String(),
    status: Enum(INCIDENT_STATUSES),
    verdict: Nullable(Enum(VERDICTS)),
    first_seen: Time,
    last_seen: Time,
    alert_count: Type.Integer({ minimum: 0 }),
    host: Nullable(Type.String()),
    user: Nullable(Type.String()),
    score: Nullable(ScoreSchema),
    decision: Nullable(DecisionSchema),
    assignee: Opt(Nullable(Type.String({ description: 'who works on it (PATCH /incidents/{id})' }))),
    severity_override: Opt(Nullable(Type.Integer({ minimum: 0, maximum: 100, description: 'a severity an analyst set over the computed one' }))),
    merged_into: Opt(Nullable(Type.String({ description: 'the incident it was merged into (it is then closed)' }))),
    updated_at: Opt(Type.String({ format: 'date-time', description: 'when it last changed: the If-Match of PATCH /incidents/{id}' })),
    tags: Opt(Type.Array(Type.String(), { description: 'its tags, sorted (where the route loads them)' })),
    detectors: Opt(Type.Array(Type.String(), { description: 'the detectors of its alerts, sorted (list and detail)' })),
    sources: Opt(Type.Array(Type.String(), { description: 'the sources of its alerts, sorted (list and detail)' })),
  },
  { ...open, description: 'Alerts about one thing, grouped' },
);

export const IncidentNoteSchema = Type.Object(
  {
    id: Type.String(),
    incident_id: Type.String(),
    author: Type.String({ description: "the name of the token's principal that wrote it" }),
    body: Type.String({ description: 'as written: plain text, to be shown escaped (never rendered as HTML)' }),
    created_at: Time,
  },
  { ...open, description: "An analyst's note on an incident" },
);

export const ActionSchema = Type.Object(
  {
    id: Type.String(),
    incident_id: Type.String(),
    kind: Type.String(),
    target: Type.String(),
    idempotency_key: Type.String(),
    params: Loose,
    state: Enum(ACTION_STATES),
    attempts: Type.Integer({ minimum: 0 }),
    last_error: Nullable(Type.String()),
    created_at: Time,
    updated_at: Time,
    approved_by: Nullable(Type.String()),
    approval_due_at: Nullable(Time),
    approval_default: Nullable(Enum(['approve', 'deny'])),
    denied_by: Nullable(Type.String()),
    denial_reason: Nullable(Type.String()),
    dry_run: Type.Boolean(),
    undo_of: Nullable(Type.String({ description: 'the action this one undoes (POST /actions/{id}/undo, a false-positive verdict, the rule\'s `for:`)' })),
    expires_at: Nullable(Time),
    undo_after_ms: Nullable(Type.Integer({ description: "the rule's `for:`, in ms" })),
    follow_of: Nullable(Type.String({ description: 'the action whose ticket or page this follow-up updates or closes' })),
    follow_event: Nullable(Enum(['update', 'close'])),
    held_by: Nullable(Type.String({ description: 'why a guard made it wait for approval: "<guard>: <reason>" (a protected user or host, a rate or blast-radius limit)' })),
  },
  { ...open, description: 'An action in the outbox' },
);

const EnrichmentAnswer = Type.Object(
  {
    provider: Type.String({ description: 'the name of the configured provider that answered (enrichment.providers[].name)' }),
    subject: Type.Object(Subject.properties, { ...open, description: 'what the provider was asked about' }),
    data: Opt(Type.Object({}, { ...open, description: "the provider's facts about the subject; their keys are the provider kind's own (docs/providers)" })),
    found: Opt(Type.Boolean({ description: 'false: the provider was asked and knows nothing about the subject (a negative answer, not an error)' })),
    fetched_at: Type.String({ format: 'date-time', description: 'when the answer was fetched from the provider (for an answer the cache served, when it was first fetched), or when the lookup failed' }),
    cache: Opt(
      Enum(['hit', 'miss', 'coalesced'], {
        description: "in an incident: how the stored answer was obtained when it was stored (\"hit\" for answers stored before Fido recorded it). From GET /lookup: hit (served by the cache), miss (asked the provider), coalesced (shared a call in flight)",
      }),
    ),
    error: Opt(Type.String({ description: "why there is no answer (the provider failed, timed out, was rate limited or its circuit was open); no data then" })),
  },
  { ...open, description: "A provider's answer about one subject, or why there is none" },
);

const AnswerRef = Type.Object({ provider: Type.String(), fetched_at: Time, last_seen: Nullable(Time) }, open);
const SourcedValue = <T extends TSchema>(value: T) =>
  Nullable(Type.Object({ value, source: Type.String({ description: 'the provider that said it' }), fetched_at: Time, last_seen: Nullable(Time) }, open));
const SourcedItems = Type.Array(Type.Object({ value: Type.String(), sources: Type.Array(Type.String()) }, open));

/** enrich/assets.ts: one machine, its inventories' answers merged. */
const IncidentAssetSchema = Type.Object(
  {
    name: Type.String(),
    subjects: Type.Array(Subject),
    host: SourcedValue(Type.String()),
    owner: SourcedValue(Type.String()),
    os: SourcedValue(Type.String()),
    criticality: SourcedValue(Enum(CRITICALITIES)),
    ips: SourcedItems,
    macs: SourcedItems,
    tags: SourcedItems,
    attributes: Type.Record(Type.String(), Type.Object({ value: Type.String(), source: Type.String(), fetched_at: Time, last_seen: Nullable(Time) }, open)),
    sources: Type.Array(AnswerRef, { description: 'the answers merged, best first' }),
    stale: Type.Array(AnswerRef, { description: 'answers left out as older than enrichment.assets.max_age' }),
    conflicts: Type.Array(
      Type.Object({ field: Type.String(), values: Type.Array(Type.Object({ value: Type.String(), source: Type.String() }, open)) }, open),
    ),
  },
  { ...open, description: "One machine as the inventories describe it: each value with the provider that gave it, disagreements listed" },
);

export const IncidentDetailSchema = Type.Object(
  {
    ...IncidentSchema.properties,
    score_history: Opt(
      Type.Array(Type.Object({ at: Time, total: Type.Number() }), { description: 'every scoring of the incident, oldest first (the newest 200)' }),
    ),
    digest: Opt(
      Type.Object(
        {
          rules: Type.Array(Loose),
          more_rules: Type.Integer(),
          sources: Type.Array(Type.String()),
          detectors: Type.Array(Type.String()),
          recent: Type.Array(Type.String()),
        },
        open,
      ),
    ),
    alerts: Type.Array(AlertSchema),
    indicators: Opt(Type.Array(Subject)),
    enrichment: Type.Array(EnrichmentAnswer),
    assets: Opt(Type.Array(IncidentAssetSchema)),
    decisions: Type.Array(DecisionSchema),
    actions: Type.Array(ActionSchema),
    timeline: Type.Array(
      Type.Object(
        {
          at: Time,
          kind: Enum(['alert', 'repeat', 'enriched', 'scored', 'decided', 'action', 'verdict', 'status', 'updated', 'note', 'merged']),
          summary: Type.String(),
          alert_id: Opt(Type.String()),
          action_id: Opt(Type.String()),
        },
        open,
      ),
    ),
  },
  { ...open, description: 'An incident with everything known about it' },
);

/** An action as the outbox list shows it: with the target's result and when it is due. */
export const ActionListItemSchema = Type.Object(
  { ...ActionSchema.properties, result: Nullable(Loose), next_attempt_at: Nullable(Time) },
  { ...open, description: 'An action in the outbox, with its result and when it is next due' },
);

/** What became of a record (GET /alerts/{id}): the alert's fields with `fate`, or the entry that stands for it. */
export const FateSchema = Type.Object(
  {
    fate: Enum(['alert', 'duplicate', 'context', 'quarantined', 'pending']),
    id: Type.String(),
    source: Opt(Type.String()),
    decided_at: Opt(Nullable(Time)),
    duplicate_of: Opt(Type.String()),
    repeat_count: Opt(Type.Integer()),
    reason: Opt(Type.String({ description: 'quarantined: why no detector took it' })),
    replayed_as: Opt(Nullable(Type.String())),
    records_ahead: Opt(Type.Integer({ description: 'pending: records before it in the log' })),
  },
  {
    ...open,
    description: 'alert and duplicate: the Alert with `fate` (a duplicate names its original); context: the event; quarantined: the entry; pending: where it is in the log',
  },
);

/** One entry of the quarantine. */
export const QuarantinedSchema = Type.Object(
  {
    id: Type.String(),
    source: Type.String(),
    detector: Nullable(Type.String()),
    reason: Type.String(),
    raw: Type.String(),
    raw_base64: Opt(Type.String({ description: 'the bytes as received, when they were not UTF-8' })),
    created_at: Time,
  },
  { ...open, description: 'A record no detector could turn into alerts, with its raw text and why' },
);

// ---------------------------------------------------------------------------------------------------------
// Enrichment asked by hand (routes/enrichment.ts; enrich/describe.ts builds the answers)

const QuotaPeriodSchema = Type.Object(
  {
    period: Enum(QUOTA_PERIODS),
    limit: Type.Integer({ description: 'calls allowed in the period' }),
    normal_limit: Type.Integer({ description: 'what normal-priority lookups may use; the rest is kept for high-priority ones (quota_reserve)' }),
    used: Type.Integer({ description: 'calls made in the current period, by every Fido process (the shared count)' }),
    remaining: Type.Integer({ description: 'limit minus used' }),
    resets_at: Type.String({ format: 'date-time', description: 'when the current period ends (calendar periods, UTC)' }),
  },
  { ...open, description: "One period of a provider's quota" },
);

const limitsProperties = {
  breaker: Enum(['closed', 'open', 'half_open'], { description: 'the circuit breaker: open after breaker_failures consecutive failures, then no call until retry_at' }),
  consecutive_failures: Type.Integer({ minimum: 0 }),
  retry_at: Nullable(Type.String({ format: 'date-time', description: 'when an open circuit lets the next trial call through' })),
  rate_per_second: Nullable(Type.Number({ description: 'the rate limit; null: none' })),
  tokens: Nullable(Type.Number({ description: 'rate-limit tokens left (negative: reserved by waiting lookups); null without a rate limit' })),
  in_flight: Type.Integer({ minimum: 0, description: 'calls to the provider running now' }),
  concurrency: Type.Integer({ description: 'calls allowed at once' }),
  quota: Nullable(Type.Array(QuotaPeriodSchema, { description: 'each period of the quota; null without one' })),
  paused_until: Nullable(Type.String({ format: 'date-time', description: 'after the service answered 429: no call before this time' })),
};

/** A provider's limits as seen by the process that answers (its breaker; the quota counts shared by all). */
const ProviderLimitsSchema = Type.Object(limitsProperties, { ...open, description: "The provider's limits when the answer was given" });

export const ProviderStateSchema = Type.Object(
  {
    provider: Type.String({ description: 'the configured name' }),
    kind: Type.String({ description: 'the provider kind (docs/providers/<kind>.md)' }),
    subjects: Type.Array(Enum(OBSERVABLE_TYPES), { description: 'the subject types it answers' }),
    local: Type.Boolean({ description: 'answers from this machine only (files, the store); never cached in the shared table' }),
    external: Type.Boolean({ description: 'a third-party service: never told private addresses, host or user names, internal domains unless share_internal' }),
    share_internal: Type.Boolean(),
    ...limitsProperties,
    waiting: Type.Integer({ minimum: 0, description: 'lookups queued for a concurrency slot' }),
    ttl_ms: Type.Integer({ description: 'how long a positive answer is cached' }),
    negative_ttl_ms: Type.Integer({ description: 'how long a negative answer is cached' }),
  },
  { ...open, description: "A configured enrichment provider and its state in the answering process (breaker, rate, pause are this process's; quota counts are shared)" },
);

export const LookupAnswerSchema = Type.Object(
  {
    subject: Type.String({ description: 'TYPE:VALUE as asked, normalised' }),
    provider: Type.String(),
    kind: Nullable(Type.String()),
    source: Type.String({ description: 'kind/name' }),
    result: Enum(['found', 'not_found', 'error', 'ratelimited', 'timeout', 'open_circuit'], {
      description: 'found / not_found: an answer (data, fetched_at, age_seconds, cache); otherwise why there is none (error)',
    }),
    found: Opt(Type.Boolean()),
    data: Opt(Loose),
    fetched_at: Opt(Type.String({ format: 'date-time', description: 'when the provider gave this answer (earlier than now when the cache served it)' })),
    age_seconds: Opt(Type.Integer({ minimum: 0, description: 'now minus fetched_at' })),
    cache: Opt(Enum(['hit', 'miss', 'coalesced'], { description: 'hit: served by the cache; miss: asked the provider; coalesced: shared a call already in flight' })),
    error: Opt(Type.String()),
    state: ProviderLimitsSchema,
  },
  { ...open, description: "One provider's answer about one subject, as `fido lookup` prints it" },
);

// The model's values are values of these schemas (a model change that they do not follow does not compile).
type Covers<Model extends Schema, Schema> = Model;
export type CheckedModel = [
  Covers<Alert, Static<typeof AlertSchema>>,
  Covers<Incident, Static<typeof IncidentSchema>>,
  Covers<IncidentNote, Static<typeof IncidentNoteSchema>>,
  Covers<ActionRecord, Static<typeof ActionSchema>>,
  Covers<IncidentDetail, Static<typeof IncidentDetailSchema>>,
  Covers<DescribedProvider, Static<typeof ProviderStateSchema>>,
  Covers<DescribedAnswer, Static<typeof LookupAnswerSchema>>,
];

// ───────────────────────── backtests and explain (src/backtest) ─────────────────────────

const ChangeOf = <T extends TSchema>(schema: T) => Type.Object({ old: schema, new: schema }, open);

export const BacktestReportSchema = Type.Object(
  {
    since: Time,
    until: Time,
    profile: Nullable(Type.Object({ name: Type.String(), version: Type.String() }, open)),
    rules: Type.Integer({ description: 'rules in the policy tried' }),
    score_delta: Type.Integer({ description: 'a score change counts when it is more than this many points' }),
    counts: Type.Object(
      {
        incidents: Type.Integer(),
        same: Type.Integer(),
        changed: Type.Integer(),
        outcome_changed: Type.Integer(),
        rule_changed: Type.Integer(),
        incidents_with_actions_added: Type.Integer(),
        incidents_with_actions_removed: Type.Integer(),
        actions_added: Type.Integer(),
        actions_removed: Type.Integer(),
        score_changed: Type.Integer(),
        undecided: Type.Integer({ description: 'incidents with no stored decision (compared as "(none)")' }),
      },
      open,
    ),
    outcome_changes: Type.Record(Type.String(), Type.Integer(), { description: '"old → new" outcome → incidents' }),
    changed: Type.Array(
      Type.Object(
        {
          id: Type.String(),
          title: Type.String(),
          last_seen: Time,
          score: ChangeOf(Nullable(Type.Number())),
          outcome: ChangeOf(Nullable(Type.String())),
          rule: ChangeOf(Nullable(Type.String())),
          actions: Type.Object({ added: Type.Array(Type.String()), removed: Type.Array(Type.String()) }, open),
        },
        open,
      ),
      { description: 'the first `limit` changed incidents, oldest first' },
    ),
    truncated: Type.Boolean({ description: 'the window held more incidents than a backtest replays; only the oldest were' }),
    elapsed_ms: Type.Integer(),
  },
  { ...open, description: 'What a changed policy or profile would have decided differently over stored incidents' },
);

/** A backtest kept after it ran (routes/backtests.ts): who ran it, what was tried, and `report`. */
export const StoredBacktestSchema = <T extends TSchema>(report: T) =>
  Type.Object({
    id: Type.String(),
    created_at: Type.String({ format: 'date-time' }),
    actor: Type.String({ description: 'who ran it (a person, a token name)' }),
    policy: Type.Union([Type.String(), Type.Null()], { description: 'the policy text tried, as posted; null: the configured policy' }),
    profile: Type.Union([Type.String(), Type.Null()], { description: 'the scoring profile tried; null: the stored scores' }),
    report,
  });

/** A kept backtest with its report's figures but not its list of changed incidents. */
export const BacktestSummarySchema = StoredBacktestSchema(Type.Omit(BacktestReportSchema, ['changed']));

const PolicyActionSchema = Type.Object({ ...PlannedAction.properties, rule: Type.String(), dry_run: Type.Boolean() }, open);

export const IncidentExplanationSchema = Type.Object(
  {
    incident: Type.Object({ id: Type.String(), title: Type.String(), last_seen: Time, score: Nullable(ScoreSchema), decision: Nullable(DecisionSchema) }, open),
    decision: Type.Object(
      { ...DecisionSchema.properties, actions: Type.Array(PolicyActionSchema), matched: Type.Array(Type.String()), errors: Type.Array(Loose), blocked: Type.Array(Loose) },
      { ...open, description: 'what the configured policy decides now (as a dry run)' },
    ),
    rules: Type.Array(
      Type.Object(
        {
          rule: Type.String(),
          result: Enum(['match', 'no-match', 'error']),
          reason: Type.String({ description: 'for a rule that did not match, the first false `&&` part of its condition' }),
          actions: Type.Array(PolicyActionSchema),
          continue: Type.Boolean(),
          dry_run: Type.Boolean(),
          decides: Type.Boolean(),
          origin: Type.Object({ file: Type.String(), line: Nullable(Type.Integer()) }, open),
        },
        open,
      ),
    ),
  },
  { ...open, description: 'Every rule of the configured policy run on a stored incident, with why it did or did not match' },
);

export type CheckedBacktestModel = [
  Covers<import('../backtest/run.js').BacktestReport, Static<typeof BacktestReportSchema>>,
  Covers<import('../backtest/explain.js').IncidentExplanation, Static<typeof IncidentExplanationSchema>>,
];
