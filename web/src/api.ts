/**
 * The public API as the web app uses it: fetch with the session cookie, the CSRF header on every change,
 * errors as ApiError (status + the API's `{error, message}`), and the shapes the pages read.
 * The shapes are the OpenAPI's (src/api/model-schemas.ts); fields a route may not send yet are optional.
 */

// The shapes that are the model's own come from src/model (type-only imports: nothing of src/ is bundled), so the
// app follows the model. src/model imports nothing but itself, so no Node type comes with it.
import type { Score, ScoreFactor } from '../../src/model/score.js';
import type { Decision, PlannedAction } from '../../src/model/decision.js';
import type { ActionRecord, ActionState } from '../../src/model/action.js';
import type { Enrichment as ModelEnrichment } from '../../src/model/enrichment.js';
import type { Alert as ModelAlert } from '../../src/model/alert.js';
import type { IncidentAsset, SourcedValue } from '../../src/model/asset.js';
import type { Incident, IncidentDetail as ModelIncidentDetail, IncidentStatus, TimelineEntry, Verdict } from '../../src/model/incident.js';

export type Role = 'viewer' | 'analyst' | 'responder' | 'admin';
const ROLE_ORDER: readonly Role[] = ['viewer', 'analyst', 'responder', 'admin'];

/** Whether `role` is at least `min` (viewer < analyst < responder < admin). */
export function atLeast(role: Role | undefined, min: Role): boolean {
  return role !== undefined && ROLE_ORDER.indexOf(role) >= ROLE_ORDER.indexOf(min);
}

export interface Session {
  user: { name: string; role: Role; via: 'password' | 'oidc' };
  csrf_token: string;
  expires_at: number;
}

export interface SessionMethods {
  password: boolean;
  oidc: null | { label: string; url: string };
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly retryAfter: number | null = null,
  ) {
    super(message);
  }
}

let csrf: string | null = null;
/** Called when a request answers 401: the session is gone (expired, signed out elsewhere). */
let onUnauthorized: (() => void) | null = null;

export function setCsrf(token: string | null): void {
  csrf = token;
}
export function setUnauthorizedHandler(fn: (() => void) | null): void {
  onUnauthorized = fn;
}

type Query = Record<string, string | number | boolean | null | undefined | readonly string[]>;

/** `path` with the defined entries of `query` (arrays repeat the key). */
export function withQuery(path: string, query: Query = {}): string {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) {
    if (v === undefined || v === null || v === '') continue;
    if (Array.isArray(v)) for (const x of v as readonly string[]) p.append(k, x);
    else p.append(k, String(v));
  }
  const s = p.toString();
  return s ? `${path}?${s}` : path;
}

export interface RequestOptions {
  method?: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  body?: unknown;
  headers?: Record<string, string>;
  signal?: AbortSignal;
  /** Do not call the unauthorized handler on 401 (the session probe and the sign-in form). */
  quiet401?: boolean;
}

export interface ApiResponse<T> {
  data: T;
  headers: Headers;
}

/** A request to /api/v1`path`; the answer's JSON, or ApiError. */
export async function request<T>(path: string, o: RequestOptions = {}): Promise<ApiResponse<T>> {
  const method = o.method ?? 'GET';
  const headers: Record<string, string> = { accept: 'application/json', ...o.headers };
  if (o.body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET' && csrf) headers['x-csrf-token'] = csrf;
  let res: Response;
  try {
    res = await fetch(`/api/v1${path}`, {
      method,
      headers,
      credentials: 'same-origin',
      ...(o.body !== undefined ? { body: JSON.stringify(o.body) } : {}),
      ...(o.signal ? { signal: o.signal } : {}),
    });
  } catch (e) {
    if (e instanceof DOMException && e.name === 'AbortError') throw e;
    throw new ApiError(0, 'network', 'Fido cannot be reached: check the connection and retry.');
  }
  if (res.status === 204) return { data: undefined as T, headers: res.headers };
  const text = await res.text();
  let json: unknown = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = null;
  }
  if (!res.ok) {
    const body = (json ?? {}) as { error?: unknown; message?: unknown };
    const code = typeof body.error === 'string' ? body.error : `http_${res.status}`;
    const message = typeof body.message === 'string' ? body.message : `${res.status} ${res.statusText || 'error'}`;
    const retry = Number(res.headers.get('retry-after'));
    if (res.status === 401 && !o.quiet401) onUnauthorized?.();
    throw new ApiError(res.status, code, message, Number.isFinite(retry) && retry > 0 ? retry : null);
  }
  return { data: json as T, headers: res.headers };
}

export async function get<T>(path: string, query?: Query, signal?: AbortSignal): Promise<T> {
  return (await request<T>(withQuery(path, query), signal ? { signal } : {})).data;
}
export async function send<T>(method: 'POST' | 'PUT' | 'PATCH' | 'DELETE', path: string, body?: unknown, headers?: Record<string, string>): Promise<T> {
  return (await request<T>(path, { method, body, ...(headers ? { headers } : {}) })).data;
}

/** A message for any thrown value. */
export function errorText(e: unknown): string {
  if (e instanceof ApiError) {
    if (e.status === 403) return `Not allowed: ${e.message}`;
    return e.message;
  }
  if (e instanceof Error) return e.message;
  return String(e);
}

export const isAbort = (e: unknown): boolean => e instanceof DOMException && e.name === 'AbortError';

// ───────────────────────── shapes ─────────────────────────

export type { Score, ScoreFactor, Decision, PlannedAction, ActionRecord, ActionState };

export const STATUSES = ['new', 'triaged', 'contained', 'closed'] as const satisfies readonly IncidentStatus[];
export const VERDICTS = ['true_positive', 'false_positive', 'benign'] as const satisfies readonly Verdict[];
export type { Incident, IncidentStatus, TimelineEntry, Verdict };
export const SORTS = ['score', 'last_seen', 'first_seen', 'alert_count'] as const;

/** An action as the policy plans it, in /explain: with the rule that planned it. */
export type PolicyAction = PlannedAction & { rule?: string; dry_run?: boolean };

export interface IncidentPage {
  items: Incident[];
  next_cursor: string | null;
  total: number;
  total_exact: boolean;
}

/** An alert as the API sends it: the model's, with how often it repeated (repeats of one alert count once). */
export type Alert = ModelAlert & { repeat_count?: number };

/** A provider's answer, or why there is none (as in IncidentDetail.enrichment of src/model/incident.ts). */
export type Enrichment = (ModelEnrichment & { error?: undefined }) | (Omit<ModelEnrichment, 'data' | 'found' | 'cache'> & { error: string; data?: undefined; found?: undefined; cache?: undefined });

export type Sourced<T extends string = string> = SourcedValue<T>;
export type Asset = IncidentAsset;

/** The detail as GET /incidents/{id} sends it: the model's, its alerts with repeat counts, and their paging. */
export interface IncidentDetail extends Omit<ModelIncidentDetail, 'alerts' | 'enrichment'> {
  alerts: Alert[];
  alerts_total?: number;
  alerts_next?: string | null;
  enrichment: Enrichment[];
}

/** One line of GET /incidents/{id}/audit (newest first). */
export interface AuditEntry {
  id: number;
  at: string;
  /** A person, a token name, cli:<login>, or system. */
  actor: string;
  /** e.g. incident.update, incident.verdict, incident.note, action.approved, action.succeeded. */
  action: string;
  /** The incident id, or action:<id>. */
  subject: string;
  detail: Record<string, unknown>;
}

export interface Note {
  id: string;
  incident_id: string;
  author: string;
  body: string;
  created_at: string;
}

export interface Indicator {
  type: string;
  value: string;
  alerts: number;
  events: number;
  first_seen: string;
  last_seen: string;
  enrichment: Array<{ provider: string; found?: boolean; verdict?: string; error?: string; fetched_at: string; age_seconds: number }>;
}

export interface Explanation {
  incident: { id: string; decision: Decision | null };
  decision: Decision & { blocked?: unknown[] };
  rules: Array<{
    rule: string;
    result: 'match' | 'no-match' | 'error';
    reason: string;
    actions: PolicyAction[];
    continue: boolean;
    dry_run: boolean;
    decides: boolean;
    origin?: { file: string; line: number | null };
  }>;
}

export interface KillSwitch {
  on: boolean;
  actor: string | null;
  reason: string | null;
  at: string | null;
}

export interface QuotaPeriod {
  period: string;
  limit: number;
  used: number;
  remaining: number;
  resets_at: string;
}
/** A provider as /enrichment/providers reports it (the overview and configuration may shape it differently). */
export interface ProviderInfo {
  provider?: string;
  name?: string;
  kind?: string;
  breaker?: string;
  quota?: QuotaPeriod[] | null | Record<string, unknown>;
  cache?: Record<string, unknown> | null;
  ttl_ms?: number;
  negative_ttl_ms?: number;
  in_flight?: number;
  waiting?: number;
  paused_until?: string | null;
  [k: string]: unknown;
}

export interface Receiver {
  name: string;
  kind?: string;
  state?: string;
  last_record_at?: string | number | null;
  error?: string | null;
  [k: string]: unknown;
}

export interface Overview {
  window?: string;
  from?: string | number;
  to?: string | number;
  bucket_ms?: number;
  series?: {
    t?: number[];
    alerts_by_detector?: Record<string, number[]>;
    incidents_by_outcome?: Record<string, number[]>;
  };
  top?: {
    hosts?: Array<{ value: string; incidents?: number; alerts?: number }>;
    users?: Array<{ value: string; incidents?: number; alerts?: number }>;
    indicators?: Array<{ value: string; type?: string; incidents?: number }>;
  };
  /**
   * closed*: incidents closed in the window, and those no person touched; decided*: incidents first decided in
   * the window, and those no person acted on (newer servers only).
   */
  automation?: {
    closed?: number;
    closed_without_person?: number;
    rate?: number | null;
    decided?: number;
    decided_without_person?: number;
    decided_rate?: number | null;
  };
  time_to_decision?: { n?: number; p50_ms?: number | null; p90_ms?: number | null };
  providers?: ProviderInfo[];
  providers_error?: string | null;
  receivers?: Receiver[];
  backlog?: Backlog | null;
}

export interface StageBacklog {
  items?: number;
  oldest_at?: number | null;
  lag_seconds?: number;
}
export interface Backlog {
  ingest?: { records?: number; oldest_received_at?: number | null; lag_seconds?: number };
  stages?: Record<string, StageBacklog>;
}

export interface Configuration {
  config_version?: string;
  sources?: Array<{ name: string; detector?: string; receiver?: Receiver; receivers?: Receiver[]; health?: unknown; [k: string]: unknown }>;
  providers_error?: string | null;
  rules_error?: string | null;
  receivers?: Receiver[];
  providers?: ProviderInfo[];
  rules?: Array<{
    name: string;
    description?: string | null;
    when?: string;
    outcome?: string;
    actions?: unknown[];
    approval?: string;
    dry_run?: boolean;
    continue?: boolean;
    hits_24h?: number;
    hits_7d?: number;
    last_hit_at?: string | number | null;
    [k: string]: unknown;
  }>;
  backtest?: BacktestSummary | null;
  kill_switch?: Partial<KillSwitch> & { forced?: boolean; [k: string]: unknown };
}

/** A kept backtest as GET /configuration and GET /backtests give it (without its list of changed incidents). */
export interface BacktestSummary {
  id: string;
  created_at: string;
  actor: string;
  /** The policy text tried; null: the configured policy. */
  policy: string | null;
  profile: string | null;
  report: {
    since: string;
    until: string;
    rules: number;
    counts: Record<string, number>;
    outcome_changes: Record<string, number>;
    truncated: boolean;
  };
}
