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
 * Approvals (approve, deny, deadlines) are approvals.ts; each round applies the deadlines that passed. The
 * API lists the outbox with list.ts.
 */
import { sql, type ExpressionBuilder } from 'kysely';
import type { FidoConfig } from '../config/schema.js';
import { parseDuration } from '../config/duration.js';
import { actionsTotal } from '../metrics.js';
import type { Database, ActionTable } from '../store/schema.js';
import type { Store, Tx } from '../store/store.js';
import { loadIncidentDetail, toAction } from '../store/incidents.js';
import { errorContext, log as rootLog, type Logger } from '../util/log.js';
import { iso } from '../util/time.js';
import { ActionError, type ActionContext, type ActionOutcome, type ActionTarget } from './action.js';
import { applyApprovalTimeouts } from './approvals.js';
import { queueExpiredUndos } from './undo.js';
import { containmentKinds, readKillSwitch } from './kill-switch.js';
import { closeVerdict } from './follow.js';
import type { ActionRecord } from '../model/action.js';
import { errorText, label, record, SYSTEM_ACTOR, type OutcomeNote } from './notes.js';

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
  /**
   * The longest sleep between rounds (default 1000 ms). The loop wakes at once when another connection
   * commits (a decision queues an action, an analyst approves one) and sleeps no longer than until the next
   * time-based event (a retry's backoff, an approval's deadline, a lease that runs out); this bound only
   * covers what neither announces.
   */
  pollIntervalMs?: number;
  now?: () => number;
  /** `actions.kill_switch: true`: containment never starts, whatever the switch's row says. */
  killSwitchForced?: boolean;
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
  /** Undos queued this round because their action's time limit ended. */
  undosQueued: number;
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
/** The least time between two rounds that commits elsewhere started. */
const COMMIT_ROUND_GAP_MS = 50;

/** Exponential backoff with full jitter: uniform in [0, min(max, base·2^(attempt-1))], at least Retry-After. */
export function backoffDelay(attempt: number, s: Pick<ExecutorSettings, 'backoffBaseMs' | 'backoffMaxMs'>, random: () => number, retryAfterMs?: number): number {
  const ceiling = Math.min(s.backoffMaxMs, s.backoffBaseMs * 2 ** Math.max(0, attempt - 1));
  const jittered = Math.floor(random() * ceiling);
  const asked = retryAfterMs !== undefined && retryAfterMs > 0 ? Math.min(retryAfterMs, RETRY_AFTER_CAP_MS) : 0;
  return Math.max(jittered, asked);
}

// ───────────────────────────── the executor ─────────────────────────────

interface Claimed {
  row: ActionTable;
  /** The lease this executor holds: outcome writes are fenced on it. */
  leaseUntil: number;
}

type Verdict =
  | { outcome: 'succeeded'; result: ActionOutcome['detail'] }
  /** `unknown`: the call may have taken effect; the next attempt reconciles first. */
  | { outcome: 'retry'; error: string; at: number; unknown?: true }
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

  /**
   * A row is due when pending and its time has come, or when a previous claim's lease ran out (crash). While the
   * kill switch is on, pending containment (not its undos) is held: it waits in the outbox.
   */
  const due = (t: number, held: readonly string[]) => (eb: ExpressionBuilder<Database, 'actions'>) =>
    eb.or([
      eb.and([...runnable(eb, held), eb('next_attempt_at', '<=', t)]),
      eb.and([eb('state', '=', 'running'), eb('lease_until', '<', t)]),
    ]);
  /** Pending, not a dry run, not held by the kill switch, and (a follow-up) its action has succeeded. */
  const runnable = (eb: ExpressionBuilder<Database, 'actions'>, held: readonly string[]) => [
    eb('state', '=', 'pending'),
    eb('dry_run', '=', 0),
    eb.or([eb('follow_of', 'is', null), followedIn(eb, ['succeeded'])]),
    ...notHeld(eb, held),
  ];
  /**
   * The action a follow-up follows is in one of these states: one primary-key lookup per follow-up row (an
   * `in (select …)` would read every succeeded action of the outbox's history on each claim).
   */
  const followedIn = (eb: ExpressionBuilder<Database, 'actions'>, states: readonly string[]) =>
    eb.exists(eb.selectFrom('actions as followed').select('followed.id').whereRef('followed.id', '=', 'actions.follow_of').where('followed.state', 'in', states));
  const notHeld = (eb: ExpressionBuilder<Database, 'actions'>, held: readonly string[]) =>
    held.length === 0 ? [] : [eb.or([eb('kind', 'not in', held), eb('undo_of', 'is not', null)])];
  /** The kinds the kill switch holds right now (none while it is off). */
  async function heldKinds(): Promise<string[]> {
    return (await readKillSwitch(store.db, opts.killSwitchForced ?? false)).on ? containmentKinds() : [];
  }
  /** What the last claim read: the loop's sleep that follows a round goes by the same switch. */
  let lastHeld: string[] = [];

  /** Claims rows and records their attempts as started, in one committed transaction. */
  async function claim(limit: number): Promise<Claimed[]> {
    const t = now();
    const leaseUntil = t + leaseMs;
    const held = (lastHeld = await heldKinds());
    return store.db.transaction().execute(async (tx) => {
      let pick = tx.selectFrom('actions').select('id').where(due(t, held)).orderBy('next_attempt_at').orderBy('id').limit(limit);
      if (store.skipLocked) pick = pick.forUpdate().skipLocked();
      // The pick is a MATERIALIZED CTE, not an `id in (subquery)`: PostgreSQL may plan the latter as a nested
      // loop that re-runs the locking subquery for every outer row, claiming far more than `limit` rows and
      // starving other executors. `due` is repeated on the UPDATE so a row changed meanwhile is re-checked.
      const rows = (await tx
        .with((cte) => cte('picked').materialized(), () => pick)
        .updateTable('actions')
        .set({ state: 'running', lease_owner: owner, lease_until: leaseUntil, attempts: sql<number>`attempts + 1`, updated_at: t })
        .where('id', 'in', (eb) => eb.selectFrom('picked').select('picked.id'))
        .where(due(t, held))
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
  async function attempt(claimed: Claimed): Promise<Verdict> {
    const { row } = claimed;
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
      const earlier = await earlierAttempts(row);
      const ctx: ActionContext = {
        action: toAction(row),
        incident,
        idempotencyKey: row.idempotency_key,
        signal: AbortSignal.timeout(callTimeoutMs),
        resumed: earlier.resumed,
        checkpoint: (detail) => saveCheckpoint(claimed, detail),
        ...(earlier.checkpoint ? { priorCheckpoint: earlier.checkpoint } : {}),
      };
      // The last attempt may have taken effect: ask the target before doing it again. Follow-ups need no
      // asking: updating or closing a ticket twice leaves it as once (ActionTarget.follow).
      if (target.reconcile && !row.follow_of && earlier.lastUnknown) {
        const r = await target.reconcile(ctx);
        if (r.done) return { outcome: 'succeeded', result: { ...r.detail, reconciled: true } };
      }
      if (row.undo_of) {
        const original = await originalOf(row.undo_of);
        if (!original) return { outcome: 'dead', error: `the action it undoes (${row.undo_of}) does not exist` };
        if (!target.undo) return { outcome: 'dead', error: `${row.kind} target "${row.target}" cannot undo` };
        const out = await target.undo({ ...ctx, ...original });
        return { outcome: 'succeeded', result: out.detail };
      }
      if (row.follow_of) {
        const original = await originalOf(row.follow_of);
        if (!original) return { outcome: 'dead', error: `the action it follows (${row.follow_of}) does not exist` };
        if (!target.follow) return { outcome: 'dead', error: `${row.kind} target "${row.target}" cannot follow its incident` };
        const event = row.follow_event === 'close' ? 'close' : 'update';
        const verdict = closeVerdict(row);
        const out = await target.follow({ ...ctx, ...original, event, ...(verdict ? { verdict } : {}) });
        return { outcome: 'succeeded', result: out.detail };
      }
      const out = await target.execute(ctx);
      return { outcome: 'succeeded', result: out.detail };
    } catch (e) {
      const error = errorText(e);
      // Anything but an explicit "not retryable" is worth another try: timeouts, resets, bugs fixed by a deploy.
      const retryable = !(e instanceof ActionError) || e.retryable;
      if (!retryable) return { outcome: 'dead', error };
      if (row.attempts >= maxAttempts) return { outcome: 'dead', error: `gave up after ${row.attempts} attempts: ${error}` };
      const retryAfter = e instanceof ActionError ? e.retryAfterMs : undefined;
      const unknown = e instanceof ActionError && e.unknownOutcome;
      return { outcome: 'retry', error, at: now() + backoffDelay(row.attempts, opts, random, retryAfter), ...(unknown ? { unknown } : {}) };
    }
  }

  /** The action an undo or follow-up is about, with what its call returned. */
  async function originalOf(id: string): Promise<{ original: ActionRecord; originalResult: Record<string, unknown> } | null> {
    const row = await store.db.selectFrom('actions').selectAll().where('id', '=', id).executeTakeFirst();
    if (!row) return null;
    return { original: toAction(row), originalResult: row.result ? (JSON.parse(row.result) as Record<string, unknown>) : {} };
  }

  /**
   * What the earlier attempts of this row left: whether the last one ended without knowing if it took effect
   * (then the target is asked first), whether any did (ActionContext.resumed: a later attempt that failed
   * before reaching the target does not settle an earlier one's effect), and the newest checkpoint.
   */
  async function earlierAttempts(row: ActionTable): Promise<{ lastUnknown: boolean; resumed: boolean; checkpoint: Record<string, unknown> | null }> {
    const rows = await store.db
      .selectFrom('action_attempts')
      .select(['outcome', 'checkpoint'])
      .where('action_id', '=', row.id)
      .where('attempt', '<', row.attempts)
      .orderBy('attempt', 'desc')
      .execute();
    const unknown = (r: { outcome: string | null }) => r.outcome === 'abandoned' || r.outcome === 'unknown';
    const saved = rows.find((r) => r.checkpoint !== null)?.checkpoint;
    const parsed: unknown = saved ? JSON.parse(saved) : null;
    const checkpoint = parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : null;
    return { lastUnknown: rows[0] !== undefined && unknown(rows[0]), resumed: rows.some(unknown), checkpoint };
  }

  /**
   * ActionContext.checkpoint: committed on the attempt's row before the kind changes anything, fenced on the
   * lease like the outcome (an executor that lost the action must not act on it).
   */
  async function saveCheckpoint({ row, leaseUntil }: Claimed, detail: Record<string, unknown>): Promise<void> {
    const res = await store.db
      .updateTable('action_attempts')
      .set({ checkpoint: JSON.stringify(detail) })
      .where('action_id', '=', row.id)
      .where('attempt', '=', row.attempts)
      .where('finished_at', 'is', null)
      .where((eb) =>
        eb.exists(
          eb
            .selectFrom('actions')
            .select('actions.id')
            .where('actions.id', '=', row.id)
            .where('actions.state', '=', 'running')
            .where('actions.lease_owner', '=', owner)
            .where('actions.lease_until', '=', leaseUntil),
        ),
      )
      .executeTakeFirst();
    if (Number(res.numUpdatedRows) === 0) throw new ActionError('lease lost before the checkpoint was written: another executor owns the action now', true);
  }

  /** Writes the verdict, fenced on our lease: if it expired and another executor took the row, it wins. */
  async function settle({ row, leaseUntil }: Claimed, v: Verdict): Promise<void> {
    const t = now();
    // A reversible action with a time limit (its rule's `for:`) is undone when the limit ends.
    const expiresAt = v.outcome === 'succeeded' && !row.undo_of && row.undo_after_ms != null ? t + Number(row.undo_after_ms) : null;
    const set =
      v.outcome === 'succeeded'
        ? { state: 'succeeded', result: JSON.stringify(v.result ?? {}), last_error: null, expires_at: expiresAt }
        : v.outcome === 'retry'
          ? { state: 'pending', last_error: v.error, next_attempt_at: v.at }
          : { state: 'dead', last_error: v.error };
    const error = v.outcome === 'succeeded' ? null : v.error;
    const kept = await store.db.transaction().execute(async (tx) => {
      await tx
        .updateTable('action_attempts')
        .set({ finished_at: t, outcome: v.outcome === 'retry' && v.unknown ? 'unknown' : v.outcome, error })
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
        if (row.undo_of) return { actor: SYSTEM_ACTOR, event: 'action.undone', summary: `${label(row)} undone (attempt ${n})`, detail: { ...detail, undo_of: row.undo_of, result: v.result } };
        if (row.follow_of) {
          const what = row.follow_event === 'close' ? 'closed' : 'updated';
          return { actor: SYSTEM_ACTOR, event: `action.${what}`, summary: `${label(row)} ${what} (attempt ${n})`, detail: { ...detail, follow_of: row.follow_of, result: v.result } };
        }
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

  /**
   * Rows that will never reach a target are skipped, each by exactly one executor (state-guarded update): dry runs,
   * and follow-ups of an action that never succeeded (dead, denied, skipped: there is no ticket to update).
   */
  async function skipNeverRun(limit: number): Promise<number> {
    const t = now();
    const rows = await store.db
      .selectFrom('actions')
      .selectAll()
      .where('state', '=', 'pending')
      .where((eb) =>
        eb.or([
          eb('dry_run', '=', 1),
          eb.and([eb('follow_of', 'is not', null), followedIn(eb, ['dead', 'denied', 'skipped'])]),
        ]),
      )
      .limit(limit)
      .execute();
    let skipped = 0;
    for (const row of rows) {
      const why = row.dry_run === 1 ? 'dry run' : 'the action it follows did not succeed';
      const done = await store.db.transaction().execute(async (tx) => {
        const res = await tx
          .updateTable('actions')
          .set({ state: 'skipped', updated_at: t, ...(row.dry_run === 1 ? {} : { last_error: why }) })
          .where('id', '=', row.id)
          .where('state', '=', 'pending')
          .executeTakeFirst();
        if (Number(res.numUpdatedRows) === 0) return false;
        await record(tx, row, { actor: SYSTEM_ACTOR, event: 'action.skipped', summary: `${label(row)} skipped (${why})`, detail: { kind: row.kind, target: row.target, dry_run: row.dry_run === 1 } }, t);
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
    const summary: RunSummary = { claimed: 0, succeeded: 0, retried: 0, dead: 0, skipped: 0, timedOut: 0, undosQueued: 0 };
    summary.timedOut = await applyApprovalTimeouts(store, now());
    summary.undosQueued = await queueExpiredUndos(store, now(), limit);
    summary.skipped = await skipNeverRun(limit);
    const claimed = await claim(limit);
    summary.claimed = claimed.length;
    await Promise.all(
      claimed.map(async (c) => {
        const v = await attempt(c);
        await settle(c, v);
        if (v.outcome === 'succeeded') summary.succeeded++;
        else if (v.outcome === 'retry') summary.retried++;
        else summary.dead++;
      }),
    );
    return summary;
  }

  /** Milliseconds until the earliest time-based event of the outbox, or null when none is pending. */
  async function nextDueIn(): Promise<number | null> {
    const held = lastHeld;
    const r = await store.db
      .selectFrom('actions')
      .select((eb) => [
        eb.fn.min(eb.case().when(eb.and(runnable(eb, held))).then(eb.ref('next_attempt_at')).end()).as('retry'),
        eb.fn.min(eb.case().when('state', '=', 'running').then(eb.ref('lease_until')).end()).as('lease'),
        eb.fn.min(eb.case().when('state', '=', 'awaiting_approval').then(eb.ref('approval_due_at')).end()).as('approval'),
      ])
      .where('state', 'in', ['pending', 'running', 'awaiting_approval'])
      .executeTakeFirst();
    const expiry = await store.db.selectFrom('actions').select((eb) => eb.fn.min('expires_at').as('at')).where('expires_at', 'is not', null).executeTakeFirst();
    const times = [r?.retry, r?.lease, r?.approval, expiry?.at].filter((t) => t !== null && t !== undefined).map(Number);
    return times.length ? Math.max(0, Math.min(...times) - now()) : null;
  }

  // The loop: a round, then a sleep that a commit elsewhere, the next due time or stop() cuts short.
  let loop: Promise<void> | null = null;
  let stopping = false;
  let wake: (() => void) | null = null;
  // A commit seen during a round: it may have queued work the round's claim did not see.
  let signalled = false;
  let unwatch: () => void = () => undefined;
  const poke = () => {
    signalled = true;
    wake?.();
  };

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
      signalled = false;
      let full = false;
      let idleMs = pollIntervalMs;
      try {
        const s = await runOnce(batchSize);
        full = s.claimed >= batchSize; // more may be waiting: go again at once
        if (!full) idleMs = Math.min(pollIntervalMs, (await nextDueIn()) ?? pollIntervalMs);
      } catch (e) {
        logger.error({ err: errorContext(e) }, 'action executor round failed; the next round retries');
      }
      if (full || stopping) continue;
      // Commits come by the hundred in an alert storm and most queue no action: rounds they start are spaced.
      if (signalled) await new Promise((resolve) => setTimeout(resolve, COMMIT_ROUND_GAP_MS));
      else await sleep(idleMs);
    }
  }

  return {
    runOnce,
    start() {
      if (loop) return;
      stopping = false;
      unwatch = store.watchCommits(poke);
      loop = run();
    },
    async stop() {
      stopping = true;
      unwatch();
      wake?.();
      await loop;
      loop = null;
    },
  };
}

