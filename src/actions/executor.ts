/**
 * The actions outbox executor (DESIGN.md §4, §8). Rows in `actions` are written by the decide stage; this
 * file moves them through their states:
 *
 *   awaiting_approval ─approve─► pending ─claim─► running ─► succeeded
 *          │  (or timeout with         ▲              │
 *          │   default "approve")      └── retry ◄────┤ (retryable, attempts left: backoff with full jitter)
 *          └─deny / timeout─► denied                  └─► dead (non-retryable, or attempts exhausted)
 *   pending + dry_run ─► skipped (the target is never called)
 *
 * At-least-once with an idempotency key: the claim (state 'running', a lease, an action_attempts row
 * "started") is committed BEFORE the target is called, and the outcome is written after, fenced by the lease.
 * A process killed mid-call leaves the row 'running' with a lease that expires; the next claim takes it again
 * and calls the target with the SAME idempotency key, which the target passes on to the remote side so that a
 * repeated effect is recognised there. On PostgreSQL, claims use FOR UPDATE SKIP LOCKED so that any number of
 * executors share the outbox without running an action twice.
 *
 * An action awaiting approval may have a deadline (`approval_due_at`) after which `approval_default` applies;
 * the decide stage sets both from the rule (`approvalTimeout()`). Without one, it waits for a person.
 * A denial records who denied it and why (`denied_by`, `denial_reason`).
 */
import { sql, type ExpressionBuilder } from 'kysely';
import type { FidoConfig } from '../config/schema.js';
import { parseDuration } from '../config/duration.js';
import { actionsTotal } from '../metrics.js';
import { ACTION_STATES, type ActionRecord } from '../model/action.js';
import type { Database, ActionTable } from '../store/schema.js';
import type { Db, Store, Tx } from '../store/store.js';
import { addTimeline, loadIncidentDetail, toAction } from '../store/incidents.js';
import { log as rootLog, type Logger } from '../util/log.js';
import { iso } from '../util/time.js';
import { parseStored } from '../util/json.js';
import { ActionError, type ActionOutcome, type ActionTarget } from './action.js';
import { FidoError } from '../errors.js';

// ───────────────────────────── settings ─────────────────────────────

export interface ExecutorSettings {
  maxAttempts: number;
  backoffBaseMs: number;
  backoffMaxMs: number;
}

export const DEFAULT_EXECUTOR_SETTINGS: ExecutorSettings = { maxAttempts: 6, backoffBaseMs: 5_000, backoffMaxMs: 10 * 60_000 };

/** `actions.max_attempts`, `backoff_base`, `backoff_max` from fido.yaml, with defaults. */
export function executorSettings(actions: FidoConfig['actions'] | undefined): ExecutorSettings {
  const d = DEFAULT_EXECUTOR_SETTINGS;
  return {
    maxAttempts: actions?.max_attempts ?? d.maxAttempts,
    backoffBaseMs: actions?.backoff_base !== undefined ? parseDuration(actions.backoff_base, 'actions.backoff_base') : d.backoffBaseMs,
    backoffMaxMs: actions?.backoff_max !== undefined ? parseDuration(actions.backoff_max, 'actions.backoff_max') : d.backoffMaxMs,
  };
}

export interface ActionExecutorOptions extends ExecutorSettings {
  store: Store;
  /** Configured targets by name (`actions.targets[].name`). */
  targets: ReadonlyMap<string, ActionTarget>;
  /** How long a claim is valid; a call must finish within it (see callTimeoutMs). */
  leaseMs: number;
  /** This executor's identity in leases and audit rows (host:pid or similar). */
  owner: string;
  /** Abort a target call after this long; default leaseMs / 2, so the lease never expires under a live call. */
  callTimeoutMs?: number;
  /** Rows claimed per round by the start() loop (default 10); they run concurrently. */
  batchSize?: number;
  /** Sleep between rounds when there was nothing (or not a full batch) to do (default 1000 ms). */
  pollIntervalMs?: number;
  now?: () => number;
  /** [0, 1); injected for deterministic backoff in tests. */
  random?: () => number;
  logger?: Logger;
}

export interface RunSummary {
  claimed: number;
  succeeded: number;
  retried: number;
  dead: number;
  skipped: number;
  /** Approval timeouts applied this round. */
  timedOut: number;
}

export interface ActionExecutor {
  /** One round: apply approval timeouts, skip dry-runs, claim up to `limit` due actions and run them. */
  runOnce(limit?: number): Promise<RunSummary>;
  /** Runs rounds until stop(); errors of a round are logged and the loop carries on. */
  start(): void;
  /** Stops the loop and waits for the round in progress to finish writing its outcomes. */
  stop(): Promise<void>;
}

// The server may ask for a long pause (Retry-After); honour it, but not beyond this.
const RETRY_AFTER_CAP_MS = 6 * 3_600_000;
const MAX_ERROR_CHARS = 2_000;
const SYSTEM_ACTOR = 'system';

/** Exponential backoff with full jitter: uniform in [0, min(max, base·2^(attempt-1))], at least Retry-After. */
export function backoffDelay(attempt: number, s: Pick<ExecutorSettings, 'backoffBaseMs' | 'backoffMaxMs'>, random: () => number, retryAfterMs?: number): number {
  const ceiling = Math.min(s.backoffMaxMs, s.backoffBaseMs * 2 ** Math.max(0, attempt - 1));
  const jittered = Math.floor(random() * ceiling);
  const asked = retryAfterMs !== undefined && retryAfterMs > 0 ? Math.min(retryAfterMs, RETRY_AFTER_CAP_MS) : 0;
  return Math.max(jittered, asked);
}

// ───────────────────────────── approval timeouts ─────────────────────────────

export type ApprovalDefault = 'approve' | 'deny';

/** The columns the decide stage sets on an action that needs approval and has a timeout. */
export function approvalTimeout(timeoutMs: number, dflt: ApprovalDefault, now = Date.now()): { approval_due_at: number; approval_default: ApprovalDefault } {
  return { approval_due_at: now + timeoutMs, approval_default: dflt };
}

// ───────────────────────────── shared writes ─────────────────────────────

interface OutcomeNote {
  actor: string;
  /** audit_log.action, e.g. action.succeeded */
  event: string;
  summary: string;
  detail: Record<string, unknown>;
}

/** Timeline entry on the incident plus an audit row, in the caller's transaction. */
async function record(tx: Tx | Db, row: Pick<ActionTable, 'id' | 'incident_id'>, note: OutcomeNote, now: number): Promise<void> {
  await addTimeline(tx, [{ incident_id: row.incident_id, at: now, kind: 'action', summary: note.summary, action_id: row.id }]);
  await tx
    .insertInto('audit_log')
    .values({ at: now, actor: note.actor, action: note.event, subject: `action:${row.id}`, detail: JSON.stringify({ incident_id: row.incident_id, ...note.detail }) })
    .execute();
}

function label(row: Pick<ActionTable, 'kind' | 'target'>): string {
  return `${row.kind} → ${row.target}`;
}

function errorText(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  return (msg || 'unknown error').slice(0, MAX_ERROR_CHARS);
}

// ───────────────────────────── approvals (API) ─────────────────────────────

/** Raised by approve/deny: `not_found` for an unknown id, `conflict` for an action in another state. */
export class ActionStateError extends FidoError {
  override name = 'ActionStateError';
  constructor(message: string, code: 'not_found' | 'conflict') {
    super(code, message);
  }
}

type Settlement = { to: 'pending'; approvedBy: string } | { to: 'denied'; deniedBy: string; reason: string };

/**
 * Moves one awaiting_approval row on, guarded by its state so that a concurrent approve, deny or timeout
 * cannot both win. Returns the updated row, or null when the row was not awaiting approval any more.
 */
async function settleApproval(tx: Tx, id: string, d: Settlement, now: number): Promise<ActionTable | null> {
  const set =
    d.to === 'pending'
      ? { state: 'pending', approved_by: d.approvedBy, next_attempt_at: now, updated_at: now }
      : { state: 'denied', denied_by: d.deniedBy, denial_reason: d.reason.slice(0, MAX_ERROR_CHARS), updated_at: now };
  const res = await tx.updateTable('actions').set(set).where('id', '=', id).where('state', '=', 'awaiting_approval').executeTakeFirst();
  if (Number(res.numUpdatedRows) === 0) return null;
  return (await tx.selectFrom('actions').selectAll().where('id', '=', id).executeTakeFirstOrThrow()) as ActionTable;
}

async function decideByHand(store: Pick<Store, 'db'>, id: string, actor: string, d: Settlement, now: number): Promise<ActionRecord> {
  if (!actor.trim()) throw new Error('an approval needs the name of who gives it');
  return store.db.transaction().execute(async (tx) => {
    const row = await settleApproval(tx, id, d, now);
    if (!row) {
      const current = await tx.selectFrom('actions').select('state').where('id', '=', id).executeTakeFirst();
      if (!current) throw new ActionStateError(`action ${id} does not exist`, 'not_found');
      const verb = d.to === 'pending' ? 'approved' : 'denied';
      throw new ActionStateError(`action ${id} is ${current.state}; only an action awaiting approval can be ${verb}`, 'conflict');
    }
    const approved = d.to === 'pending';
    await record(
      tx,
      row,
      {
        actor,
        event: approved ? 'action.approved' : 'action.denied',
        summary: approved ? `${label(row)} approved by ${actor}` : `${label(row)} denied by ${actor}: ${d.reason}`,
        detail: { kind: row.kind, target: row.target, ...(approved ? {} : { reason: d.reason }) },
      },
      now,
    );
    if (!approved) actionsTotal.inc({ kind: row.kind, outcome: 'denied' });
    return toAction(row);
  });
}

/** awaiting_approval → pending (runs on the next round). Throws ActionStateError for other states. */
export function approveAction(store: Pick<Store, 'db'>, id: string, actor: string, now = Date.now()): Promise<ActionRecord> {
  return decideByHand(store, id, actor, { to: 'pending', approvedBy: actor }, now);
}

/** awaiting_approval → denied, with who and why. Throws ActionStateError for other states. */
export function denyAction(store: Pick<Store, 'db'>, id: string, actor: string, reason: string, now = Date.now()): Promise<ActionRecord> {
  const why = reason.trim() || 'no reason given';
  return decideByHand(store, id, actor, { to: 'denied', deniedBy: actor, reason: why }, now);
}

/** Applies the approval defaults whose deadline has passed. Returns how many actions it settled. */
export async function applyApprovalTimeouts(store: Pick<Store, 'db'>, now = Date.now()): Promise<number> {
  const rows = await store.db
    .selectFrom('actions')
    .select(['id', 'approval_due_at', 'approval_default'])
    .where('approval_due_at', '<=', now)
    .where('state', '=', 'awaiting_approval')
    .execute();
  let settled = 0;
  for (const r of rows) {
    const t = { at: Number(r.approval_due_at), default: r.approval_default === 'approve' ? 'approve' : 'deny' } as const;
    const done = await store.db.transaction().execute(async (tx) => {
      const d: Settlement =
        t.default === 'approve'
          ? { to: 'pending', approvedBy: `${SYSTEM_ACTOR}:approval-timeout` }
          : { to: 'denied', deniedBy: `${SYSTEM_ACTOR}:approval-timeout`, reason: `approval timed out at ${iso(t.at)}` };
      const row = await settleApproval(tx, r.id, d, now);
      if (!row) return false; // approved or denied by hand meanwhile
      await record(
        tx,
        row,
        {
          actor: SYSTEM_ACTOR,
          event: 'action.approval_timeout',
          summary: `${label(row)}: no approval by ${iso(t.at)}, default "${t.default}" applied`,
          detail: { kind: row.kind, target: row.target, default: t.default, timeout_at: iso(t.at) },
        },
        now,
      );
      if (t.default === 'deny') actionsTotal.inc({ kind: row.kind, outcome: 'denied' });
      return true;
    });
    if (done) settled++;
  }
  return settled;
}

// ───────────────────────────── listing (API) ─────────────────────────────

export interface ActionListItem extends ActionRecord {
  /** What the target reported on success (message id, HTTP status, …). */
  result: Record<string, unknown> | null;
  /** When a pending action is due (after a retry: the backoff); null for final states. */
  next_attempt_at: string | null;
}

export interface ActionPage {
  items: ActionListItem[];
  /** Pass back as `cursor` for the next page; null on the last page. */
  next_cursor: string | null;
}

const FINAL_STATES: ReadonlySet<string> = new Set(['succeeded', 'failed', 'dead', 'denied', 'skipped']);

function encodeCursor(row: Pick<ActionTable, 'created_at' | 'id'>): string {
  return Buffer.from(JSON.stringify([row.created_at, row.id])).toString('base64url');
}

function decodeCursor(cursor: string): [number, string] {
  try {
    const v = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown;
    if (Array.isArray(v) && typeof v[0] === 'number' && typeof v[1] === 'string') return [v[0], v[1]];
  } catch {
    // fall through to the error below
  }
  throw new FidoError('bad_request', 'cursor: not a cursor returned by this list');
}

/** Newest first, keyset-paged on (created_at, id). Throws on an unknown state or a foreign cursor. */
export async function listActions(db: Db, opts: { state?: string | undefined; limit: number; cursor?: string | undefined }): Promise<ActionPage> {
  if (opts.state !== undefined && !(ACTION_STATES as readonly string[]).includes(opts.state)) {
    throw new FidoError('bad_request', `state: expected one of ${ACTION_STATES.join(', ')}`, { allowed: ACTION_STATES });
  }
  const limit = Math.max(1, Math.min(500, Math.floor(opts.limit) || 50));
  let q = db.selectFrom('actions').selectAll().orderBy('created_at', 'desc').orderBy('id', 'desc').limit(limit + 1);
  if (opts.state) q = q.where('state', '=', opts.state);
  if (opts.cursor) {
    const [at, id] = decodeCursor(opts.cursor);
    q = q.where((eb) => eb.or([eb('created_at', '<', at), eb.and([eb('created_at', '=', at), eb('id', '<', id)])]));
  }
  const rows = await q.execute();
  const page = rows.slice(0, limit);
  return {
    items: page.map((r) => ({
      ...toAction(r),
      result: parseStored<Record<string, unknown>>(r.result, 'action result'),
      next_attempt_at: FINAL_STATES.has(r.state) ? null : iso(r.next_attempt_at),
    })),
    next_cursor: rows.length > limit ? encodeCursor(page[page.length - 1]!) : null,
  };
}

// ───────────────────────────── the executor ─────────────────────────────

interface Claimed {
  row: ActionTable;
  /** The lease this executor holds: outcome writes are fenced on it. */
  leaseUntil: number;
}

type Verdict =
  | { outcome: 'succeeded'; result: ActionOutcome['detail'] }
  | { outcome: 'retry'; error: string; at: number }
  | { outcome: 'dead'; error: string };

export function createActionExecutor(opts: ActionExecutorOptions): ActionExecutor {
  const { store, targets, maxAttempts, leaseMs, owner } = opts;
  const now = opts.now ?? Date.now;
  const random = opts.random ?? Math.random;
  const logger = (opts.logger ?? rootLog).child({ component: 'actions', owner });
  const callTimeoutMs = opts.callTimeoutMs ?? Math.max(1, Math.floor(leaseMs / 2));
  const batchSize = opts.batchSize ?? 10;
  const pollIntervalMs = opts.pollIntervalMs ?? 1_000;
  if (maxAttempts < 1) throw new Error('maxAttempts must be at least 1');
  if (callTimeoutMs >= leaseMs) throw new Error('callTimeoutMs must be shorter than leaseMs, or a live call could lose its lease');

  /** A row is due when pending and its time has come, or when a previous claim's lease ran out (crash). */
  const due = (t: number) => (eb: ExpressionBuilder<Database, 'actions'>) =>
    eb.or([
      eb.and([eb('state', '=', 'pending'), eb('dry_run', '=', 0), eb('next_attempt_at', '<=', t)]),
      eb.and([eb('state', '=', 'running'), eb('lease_until', '<', t)]),
    ]);

  /** Claims rows and records their attempts as started, in one committed transaction. */
  async function claim(limit: number): Promise<Claimed[]> {
    const t = now();
    const leaseUntil = t + leaseMs;
    return store.db.transaction().execute(async (tx) => {
      let pick = tx.selectFrom('actions').select('id').where(due(t)).orderBy('next_attempt_at').orderBy('id').limit(limit);
      if (store.skipLocked) pick = pick.forUpdate().skipLocked();
      // The pick is a MATERIALIZED CTE, not an `id in (subquery)`: PostgreSQL may plan the latter as a nested
      // loop that re-runs the locking subquery for every outer row, claiming far more than `limit` rows and
      // starving other executors. `due` is repeated on the UPDATE so a row changed meanwhile is re-checked.
      const rows = (await tx
        .with((cte) => cte('picked').materialized(), () => pick)
        .updateTable('actions')
        .set({ state: 'running', lease_owner: owner, lease_until: leaseUntil, attempts: sql<number>`attempts + 1`, updated_at: t })
        .where('id', 'in', (eb) => eb.selectFrom('picked').select('picked.id'))
        .where(due(t))
        .returningAll()
        .execute()) as ActionTable[];
      for (const row of rows) await openAttempt(tx, row, t);
      return rows.map((row) => ({ row, leaseUntil }));
    });
  }

  async function openAttempt(tx: Tx, row: ActionTable, t: number): Promise<void> {
    // An attempt still open here belonged to an executor that died mid-call: its outcome is unknown.
    const lost = await tx
      .updateTable('action_attempts')
      .set({ finished_at: t, outcome: 'abandoned', error: 'lease expired: the executor stopped during the call' })
      .where('action_id', '=', row.id)
      .where('finished_at', 'is', null)
      .executeTakeFirst();
    if (Number(lost.numUpdatedRows) > 0) logger.warn({ action: row.id, attempt: row.attempts }, 'resuming an action whose executor stopped mid-call');
    if (row.attempts <= maxAttempts) {
      await tx.insertInto('action_attempts').values({ action_id: row.id, attempt: row.attempts, started_at: t, finished_at: null, outcome: null, error: null }).execute();
    }
  }

  /** One call of the target, turned into what should happen to the row. */
  async function attempt(row: ActionTable): Promise<Verdict> {
    if (row.attempts > maxAttempts) {
      return { outcome: 'dead', error: `gave up: ${maxAttempts} attempts made (the last one's outcome is unknown: its executor stopped mid-call)` };
    }
    const target = targets.get(row.target);
    if (!target || target.kind !== row.kind) {
      return { outcome: 'dead', error: `no configured ${row.kind} target named "${row.target}"` };
    }
    try {
      const incident = await loadIncidentDetail(store.db, row.incident_id);
      if (!incident) return { outcome: 'dead', error: `incident ${row.incident_id} does not exist` };
      const action = toAction(row);
      const out = await target.execute({ action, incident, idempotencyKey: row.idempotency_key, signal: AbortSignal.timeout(callTimeoutMs) });
      return { outcome: 'succeeded', result: out.detail };
    } catch (e) {
      const error = errorText(e);
      // Anything but an explicit "not retryable" is worth another try: timeouts, resets, bugs fixed by a deploy.
      const retryable = !(e instanceof ActionError) || e.retryable;
      if (!retryable) return { outcome: 'dead', error };
      if (row.attempts >= maxAttempts) return { outcome: 'dead', error: `gave up after ${row.attempts} attempts: ${error}` };
      const retryAfter = e instanceof ActionError ? e.retryAfterMs : undefined;
      return { outcome: 'retry', error, at: now() + backoffDelay(row.attempts, opts, random, retryAfter) };
    }
  }

  /** Writes the verdict, fenced on our lease: if it expired and another executor took the row, it wins. */
  async function settle({ row, leaseUntil }: Claimed, v: Verdict): Promise<void> {
    const t = now();
    const set =
      v.outcome === 'succeeded'
        ? { state: 'succeeded', result: JSON.stringify(v.result ?? {}), last_error: null }
        : v.outcome === 'retry'
          ? { state: 'pending', last_error: v.error, next_attempt_at: v.at }
          : { state: 'dead', last_error: v.error };
    const error = v.outcome === 'succeeded' ? null : v.error;
    const kept = await store.db.transaction().execute(async (tx) => {
      await tx
        .updateTable('action_attempts')
        .set({ finished_at: t, outcome: v.outcome, error })
        .where('action_id', '=', row.id)
        .where('attempt', '=', row.attempts)
        .where('finished_at', 'is', null)
        .execute();
      const res = await tx
        .updateTable('actions')
        .set({ ...set, lease_owner: null, lease_until: null, updated_at: t })
        .where('id', '=', row.id)
        .where('state', '=', 'running')
        .where('lease_owner', '=', owner)
        .where('lease_until', '=', leaseUntil)
        .executeTakeFirst();
      if (Number(res.numUpdatedRows) === 0) return false;
      await record(tx, row, describe(row, v), t);
      return true;
    });
    if (!kept) {
      logger.warn({ action: row.id, outcome: v.outcome }, 'lease lost before the outcome was written; another executor owns the action now');
      return;
    }
    actionsTotal.inc({ kind: row.kind, outcome: v.outcome });
    if (v.outcome !== 'succeeded') logger.warn({ action: row.id, target: row.target, attempt: row.attempts, outcome: v.outcome, error: v.error }, 'action failed');
  }

  function describe(row: ActionTable, v: Verdict): OutcomeNote {
    const n = row.attempts;
    const detail = { kind: row.kind, target: row.target, attempt: n, owner };
    switch (v.outcome) {
      case 'succeeded':
        return { actor: SYSTEM_ACTOR, event: 'action.succeeded', summary: `${label(row)} succeeded (attempt ${n})`, detail: { ...detail, result: v.result } };
      case 'retry':
        return {
          actor: SYSTEM_ACTOR,
          event: 'action.retry',
          summary: `${label(row)} failed (attempt ${n} of ${maxAttempts}), retry at ${iso(v.at)}: ${v.error}`,
          detail: { ...detail, error: v.error, next_attempt_at: iso(v.at) },
        };
      case 'dead':
        return { actor: SYSTEM_ACTOR, event: 'action.dead', summary: `${label(row)} failed for good: ${v.error}`, detail: { ...detail, error: v.error } };
    }
  }

  /** Dry-run rows never reach a target; each is settled by exactly one executor (state-guarded update). */
  async function skipDryRuns(limit: number): Promise<number> {
    const t = now();
    const rows = await store.db.selectFrom('actions').selectAll().where('state', '=', 'pending').where('dry_run', '=', 1).limit(limit).execute();
    let skipped = 0;
    for (const row of rows) {
      const done = await store.db.transaction().execute(async (tx) => {
        const res = await tx.updateTable('actions').set({ state: 'skipped', updated_at: t }).where('id', '=', row.id).where('state', '=', 'pending').executeTakeFirst();
        if (Number(res.numUpdatedRows) === 0) return false;
        await record(tx, row, { actor: SYSTEM_ACTOR, event: 'action.skipped', summary: `${label(row)} skipped (dry run)`, detail: { kind: row.kind, target: row.target, dry_run: true } }, t);
        return true;
      });
      if (done) {
        skipped++;
        actionsTotal.inc({ kind: row.kind, outcome: 'skipped' });
      }
    }
    return skipped;
  }

  async function runOnce(limit = batchSize): Promise<RunSummary> {
    const summary: RunSummary = { claimed: 0, succeeded: 0, retried: 0, dead: 0, skipped: 0, timedOut: 0 };
    summary.timedOut = await applyApprovalTimeouts(store, now());
    summary.skipped = await skipDryRuns(limit);
    const claimed = await claim(limit);
    summary.claimed = claimed.length;
    await Promise.all(
      claimed.map(async (c) => {
        const v = await attempt(c.row);
        await settle(c, v);
        if (v.outcome === 'succeeded') summary.succeeded++;
        else if (v.outcome === 'retry') summary.retried++;
        else summary.dead++;
      }),
    );
    return summary;
  }

  // The loop: a round, then a sleep that stop() can cut short.
  let loop: Promise<void> | null = null;
  let stopping = false;
  let wake: (() => void) | null = null;

  function sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        wake = null;
        resolve();
      }
      wake = done;
    });
  }

  async function run(): Promise<void> {
    while (!stopping) {
      let full = false;
      try {
        const s = await runOnce(batchSize);
        full = s.claimed >= batchSize; // more may be waiting: go again at once
      } catch (e) {
        logger.error({ err: errorText(e) }, 'action executor round failed');
      }
      if (!full && !stopping) await sleep(pollIntervalMs);
    }
  }

  return {
    runOnce,
    start() {
      if (loop) return;
      stopping = false;
      loop = run();
    },
    async stop() {
      stopping = true;
      wake?.();
      await loop;
      loop = null;
    },
  };
}

