/**
 * Table types for Kysely. Times are epoch milliseconds (integers); JSON documents are text, so one set of
 * queries serves SQLite and PostgreSQL alike.
 */
import type { Generated } from 'kysely';

export interface IntakeTable {
  /** The log's order (migration 0004): what the pipeline's cursor counts. */
  seq: Generated<number>;
  id: string;
  source: string;
  /** Detector forced by the receiver's config or the request; null means auto-detect. */
  detector: string | null;
  received_at: number;
  raw: string;
  /** The exact bytes, base64, of a record that was not valid UTF-8 (`raw` is then their decoding); migration 0006. */
  raw_base64: string | null;
  /** The upstream's identity of the record, unique per source where set (migration 0030): a redelivery is not stored again. */
  dedup_key: string | null;
}

export interface QuarantineTable {
  id: string;
  intake_id: string;
  source: string;
  detector: string | null;
  reason: string;
  raw: string;
  created_at: number;
  replayed_at: number | null;
  /** The id the record was appended under again when replayed (migration 0004). */
  replayed_as: string | null;
}

export interface AlertTable {
  id: string;
  intake_id: string;
  source: string;
  detector: string;
  vendor_id: string | null;
  fingerprint: string;
  time: number;
  received_at: number;
  title: string;
  severity: number;
  rule_id: string | null;
  host: string | null;
  user_name: string | null;
  incident_id: string | null;
  repeat_count: number;
  last_repeat_at: number | null;
  /**
   * When the pipeline was done with it: the first decision of its incident after it arrived, or for a dedup
   * repeat (which makes no new work) when it was counted. Null while in flight. (Migration 0002.)
   */
  decided_at: number | null;
  /** The canonical Alert as JSON, without `raw`. */
  doc: string;
  /** '' since migration 0004: the raw text is the intake record's (older alerts kept a copy here). */
  raw: string;
  /** intake.seq of the record it came from (migration 0004). */
  seq: number | null;
  /** Set on a dedup repeat or a re-delivery (same vendor id): the alert it repeats (migration 0004). */
  duplicate_of: string | null;
}

/** Per incident and indicator: how many alerts carried it, and when (store/observations.ts; migration 0004). */
export interface IncidentObservableTable {
  incident_id: string;
  type: string;
  value: string;
  alerts: number;
  /** Alerts counting their repeats. */
  events: number;
  first_seen: number;
  last_seen: number;
  /** intake.seq of the record that first brought it to the incident (migration 0007; 0 for older rows). */
  first_seq: Generated<number>;
}

/**
 * What ingest adds to incident_observables while it is behind, one row per incident, indicator and batch
 * (`pos`: the cursor the batch moved to), folded into incident_observables when ingest catches up
 * (store/observations.ts; migration 0012).
 */
export type ObservationLogTable = Omit<IncidentObservableTable, 'first_seq'> & { pos: number; first_seq: number };

export interface ContextEventTable {
  id: string;
  source: string;
  detector: string;
  kind: string;
  time: number;
  doc: string;
  /** '' when `intake_id` is set: the raw text is the intake record's. */
  raw: string;
  intake_id: string | null;
}

export interface IncidentTable {
  id: string;
  title: string;
  status: string;
  verdict: string | null;
  first_seen: number;
  last_seen: number;
  alert_count: number;
  severity: number;
  host: string | null;
  user_name: string | null;
  score_total: number | null;
  score: string | null;
  decision: string | null;
  created_at: number;
  updated_at: number;
  /** intake.seq of its newest alert, and of the newest its current decision has seen (migration 0004). */
  last_seq: Generated<number>;
  decided_seq: Generated<number>;
  /** The newest record its enrichment has seen: later indicators are the new ones (migration 0007). */
  enriched_seq: Generated<number>;
  /**
   * Its last enrichment pass over every subject: when, at which providers and revisions, and how many
   * distinct subjects it has had since (migration 0008; pipeline/stages/enrich.ts).
   */
  enrich_pass_at: Generated<number | null>;
  enrich_pass_key: Generated<string | null>;
  enrich_known: Generated<number>;
  /** received_at of its oldest alert not yet decided; null when every alert is. */
  pending_since: number | null;
  /** What every alert contributes to rules and score, bounded (correlate/digest.ts; migration 0005). */
  digest: string | null;
}

/**
 * The analyst's columns of incidents (migration 0020), apart from IncidentTable so that rows built whole
 * (correlation's new incidents, Selectable<IncidentTable>) need not name them: they are null until set.
 */
export interface IncidentWorkflowColumns {
  /** Who works on it. */
  assignee: string | null;
  /** A severity (0–100) a person set over the computed one. */
  severity_override: number | null;
  /** The incident it was merged into (it is then closed). */
  merged_into: string | null;
}

/** An incident's tags, one row each, so that the queue filters by tag on an index (migration 0020). */
export interface IncidentTagTable {
  incident_id: string;
  tag: string;
}

/** The detectors and sources of an incident's alerts (migration 0023): the queue's detector/source filters. */
export interface IncidentFacetTable {
  incident_id: string;
  facet: 'detector' | 'source';
  value: string;
}

/** Alerts received per hour (received_at floored to the hour, epoch ms) and detector, repeats included (migration 0026). */
export interface AlertCountTable {
  hour: number;
  detector: string;
  n: number;
}

/** Analysts' notes on an incident; the body is kept as given (clients show it escaped). Migration 0020. */
export interface IncidentNoteTable {
  /** A ULID. */
  id: string;
  incident_id: string;
  author: string;
  body: string;
  created_at: number;
}

/** When an incident was decided, through which record: an alert's decision time is its first mark at or after its seq. */
export interface DecisionMarkTable {
  incident_id: string;
  through_seq: number;
  at: number;
}

/** A consumer's position in the intake log, with a lease when several processes could take it. */
export interface PipelineCursorTable {
  name: string;
  seq: number;
  owner: string | null;
  lease_until: number | null;
  updated_at: number;
}

/**
 * The grouping keys each ingest batch changed, at the cursor it moved to (`pos`): read back by a worker
 * that takes the log over (pipeline/ingest/group-keys.ts; migration 0011).
 */
export interface IncidentKeyLogTable {
  pos: number;
  key: string;
  incident_id: string;
  /** Time of the key's newest alert. */
  last_seen: number;
  /** When that batch's newest record carrying the key was received. */
  received_at: number;
}

export interface TimelineTable {
  id: Generated<number>;
  incident_id: string;
  at: number;
  kind: string;
  summary: string;
  alert_id: string | null;
  action_id: string | null;
}

export interface EnrichCacheTable {
  provider: string;
  key: string;
  found: number;
  data: string;
  fetched_at: number;
  expires_at: number;
}

/** Calls made to a provider in its current period (migration 0015; enrich/quota.ts). */
export interface EnrichQuotaTable {
  provider: string;
  /** minute | hour | day | month */
  period: string;
  /** Start of the period the count is for (ms). */
  start: number;
  used: number;
}

/** Who held an address when (migration 0015; enrich/address-history.ts). */
export interface AddressBindingTable {
  key: string;
  ip: string;
  start_at: number;
  end_at: number | null;
  host: string | null;
  user_name: string | null;
  mac: string | null;
  /** vpn | dhcp | auth */
  kind: string;
  /** Where Fido learnt it: a lease or status file, or a context event's detector. */
  source: string;
  updated_at: number;
}

export interface EnrichmentTable {
  incident_id: string;
  provider: string;
  subject_type: string;
  subject_value: string;
  found: number;
  data: string;
  error: string | null;
  fetched_at: number;
  /** The provider's data revision the answer was made at (EnrichmentProvider.revision), if it has one. */
  revision: string | null;
  /** hit | coalesced | miss: how the answer was obtained when stored (migration 0015); null before. */
  cache: string | null;
}

export interface ScoreTable {
  id: Generated<number>;
  incident_id: string;
  profile: string;
  total: number;
  doc: string;
  config_version: string;
  created_at: number;
}

export interface DecisionTable {
  id: Generated<number>;
  incident_id: string;
  rule: string;
  outcome: string;
  doc: string;
  dry_run: number;
  config_version: string;
  created_at: number;
}

export interface ActionTable {
  id: string;
  incident_id: string;
  decision_id: number | null;
  kind: string;
  target: string;
  idempotency_key: string;
  params: string;
  state: string;
  approval: string;
  dry_run: number;
  attempts: number;
  next_attempt_at: number;
  lease_owner: string | null;
  lease_until: number | null;
  last_error: string | null;
  result: string | null;
  approved_by: string | null;
  /** When an action awaiting approval gets `approval_default` applied; null: it waits for a person. */
  approval_due_at: number | null;
  approval_default: string | null;
  denied_by: string | null;
  denial_reason: string | null;
  created_at: number;
  updated_at: number;
  /** The action this row undoes (migration 0016); null for an action of its own. */
  undo_of?: string | null;
  /** The rule's `for:`: undone this long after it succeeded; null: kept until undone by a verdict or by hand. */
  undo_after_ms?: number | null;
  /** When its undo is due (set when it succeeds with undo_after_ms; null again once the undo is queued). */
  expires_at?: number | null;
  /** The action whose ticket or page this follow-up updates or closes (migration 0018); null otherwise. */
  follow_of?: string | null;
  /** `update` or `close` for a follow-up. */
  follow_event?: string | null;
  /** The incident's state (follow.ts followState) an action of a following kind, or its update, was queued for. */
  follow_state?: string | null;
  /** Why a guard made it wait for a person: "<guard>: <reason>" (null: no guard did). */
  held_by?: string | null;
  /** The rule that planned it (null for undos, follow-ups and rows written before migration 0018). */
  rule?: string | null;
}

export interface KeyTable {
  name: string;
  value: string;
  created_at: number;
}

/** Switches that act everywhere at once (migration 0017): the containment kill switch. */
export interface SwitchTable {
  name: string;
  /** 1 on, 0 off (`on` is a reserved word in SQL). */
  on_: number;
  actor: string;
  reason: string;
  at: number;
}

export interface ActionAttemptTable {
  id: Generated<number>;
  action_id: string;
  attempt: number;
  started_at: number;
  finished_at: number | null;
  outcome: string | null;
  error: string | null;
  /** JSON: what the attempt read from its target before changing it (ActionContext.checkpoint). */
  checkpoint: string | null;
}

export interface AuditTable {
  id: Generated<number>;
  at: number;
  actor: string;
  action: string;
  subject: string;
  detail: string;
}

export interface ReceiverCursorTable {
  receiver: string;
  key: string;
  value: string;
  updated_at: number;
}

export interface ConfigVersionTable {
  version: string;
  created_at: number;
  text: string;
}

export interface ApiTokenTable {
  id: string;
  name: string;
  role: string;
  token_hash: string;
  created_at: number;
  last_used_at: number | null;
  revoked_at: number | null;
}

/** A running receiver's last reported health (migration 0029; intake/health.ts). */
export interface ReceiverStatusTable {
  source: string;
  kind: string;
  owner: string;
  state: string;
  last_record_at: number | null;
  records: number;
  lag_ms: number | null;
  error: string | null;
  cursor: string | null;
  updated_at: number;
}

/** A backtest kept after it ran (migration 0027). */
export interface BacktestTable {
  id: string;
  created_at: number;
  actor: string;
  policy: string | null;
  profile: string | null;
  report: string;
}

/** A person who signs in to the web app (migration 0024): by password (argon2id) or by OIDC. */
export interface UserTable {
  id: string;
  name: string;
  role: string;
  password_hash: string | null;
  /** `issuer#subject` of an account made at its first OIDC sign-in. */
  oidc_subject: string | null;
  created_at: number;
  disabled_at: number | null;
  failed_count: number;
  locked_until: number | null;
  last_login_at: number | null;
}

/** A web session, stored by the SHA-256 of its cookie value. */
export interface SessionTable {
  id_hash: string;
  user_id: string;
  csrf_token: string;
  via: string;
  created_at: number;
  expires_at: number;
  idle_until: number;
}

export interface StageQueueTable {
  id: Generated<number>;
  stage: string;
  item_id: string;
  /** Bumped when the item is enqueued again while queued, so a worker holding an old claim keeps it queued. */
  version: number;
  available_at: number;
  lease_owner: string | null;
  lease_until: number | null;
  attempts: number;
  last_error: string | null;
  created_at: number;
}

export interface LeaseTable {
  name: string;
  owner: string;
  until: number;
}

export interface Database {
  intake: IntakeTable;
  quarantine: QuarantineTable;
  alerts: AlertTable;
  alert_counts: AlertCountTable;
  incident_observables: IncidentObservableTable;
  observation_log: ObservationLogTable;
  context_events: ContextEventTable;
  incidents: IncidentTable & IncidentWorkflowColumns;
  incident_key_log: IncidentKeyLogTable;
  incident_tags: IncidentTagTable;
  incident_facets: IncidentFacetTable;
  incident_notes: IncidentNoteTable;
  timeline: TimelineTable;
  enrich_cache: EnrichCacheTable;
  enrich_quota: EnrichQuotaTable;
  address_bindings: AddressBindingTable;
  enrichments: EnrichmentTable;
  scores: ScoreTable;
  decisions: DecisionTable;
  actions: ActionTable;
  switches: SwitchTable;
  keys: KeyTable;
  action_attempts: ActionAttemptTable;
  audit_log: AuditTable;
  receiver_cursors: ReceiverCursorTable;
  config_versions: ConfigVersionTable;
  api_tokens: ApiTokenTable;
  users: UserTable;
  backtests: BacktestTable;
  receiver_status: ReceiverStatusTable;
  sessions: SessionTable;
  stage_queue: StageQueueTable;
  leases: LeaseTable;
  decision_marks: DecisionMarkTable;
  pipeline_cursors: PipelineCursorTable;
}
