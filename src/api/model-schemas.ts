/**
 * The pinned model (src/model) as JSON Schema, for the routes' response schemas and so for the OpenAPI
 * document. The checks at the end make the compiler refuse a model change that these schemas do not follow:
 * every value of a model type must be a value of its schema's type. Objects allow additional properties so
 * that a field added to an answer (e.g. `fate` beside an alert) is never dropped by the serializer.
 */
import { Type, type Static, type TSchema } from 'typebox';
import { SEVERITY_LABELS, DETECTOR_ACTIONS, type Alert } from '../model/alert.js';
import { OBSERVABLE_TYPES } from '../model/observable.js';
import { INCIDENT_STATUSES, VERDICTS, type Incident, type IncidentDetail } from '../model/incident.js';
import { ACTION_STATES, type ActionRecord } from '../model/action.js';

const open = { additionalProperties: true } as const;
const Opt = <T extends TSchema>(schema: T) => Type.Optional(schema);
const Nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()]);
const Enum = <const V extends readonly string[]>(values: V) => Type.Unsafe<V[number]>({ type: 'string', enum: [...values] });
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
  },
  { ...open, description: 'Alerts about one thing, grouped' },
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
  },
  { ...open, description: 'An action in the outbox' },
);

const EnrichmentAnswer = Type.Object(
  {
    provider: Type.String(),
    subject: Subject,
    data: Opt(Loose),
    found: Opt(Type.Boolean()),
    fetched_at: Time,
    cache: Opt(Enum(['hit', 'miss', 'coalesced'])),
    error: Opt(Type.String()),
  },
  { ...open, description: "A provider's answer about one subject, or why there is none" },
);

export const IncidentDetailSchema = Type.Object(
  {
    ...IncidentSchema.properties,
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
    decisions: Type.Array(DecisionSchema),
    actions: Type.Array(ActionSchema),
    timeline: Type.Array(
      Type.Object(
        {
          at: Time,
          kind: Enum(['alert', 'repeat', 'enriched', 'scored', 'decided', 'action', 'verdict', 'status']),
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

// The model's values are values of these schemas (a model change that they do not follow does not compile).
type Covers<Model extends Schema, Schema> = Model;
export type CheckedModel = [
  Covers<Alert, Static<typeof AlertSchema>>,
  Covers<Incident, Static<typeof IncidentSchema>>,
  Covers<ActionRecord, Static<typeof ActionSchema>>,
  Covers<IncidentDetail, Static<typeof IncidentDetailSchema>>,
];
