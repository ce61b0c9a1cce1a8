/**
 * The contract of an action kind (notify/*, respond/*). The outbox executor (executor.ts) owns retries,
 * backoff, dead-lettering, approvals and the idempotency key; an action file only performs one attempt.
 * It must pass `idempotencyKey` to the remote side when the remote side supports one (headers, correlation
 * ids), so that a retried attempt after a crash is recognised there too. Reference: kinds/webhook.ts.
 */
import type { TSchema } from 'typebox';
import type { Component } from '../component/component.js';
import type { ActionRecord } from '../model/action.js';
import type { IncidentDetail } from '../model/incident.js';

export interface ActionContext {
  action: ActionRecord;
  incident: IncidentDetail;
  idempotencyKey: string;
  signal: AbortSignal;
  /**
   * An earlier attempt of this action may have taken effect without its outcome being recorded (its executor
   * stopped mid-call, or a call timed out after the request went out). A kind that reads "already done" as
   * success (a session not found: the earlier attempt killed it) asks this, not `action.attempts > 1`: an
   * earlier attempt that failed before reaching the target did nothing.
   */
  resumed: boolean;
  /**
   * Records what the target looked like before this attempt changes it (an account's status, a host's
   * containment), committed to the store before it returns; call it after reading that state and before the
   * first call that changes it. Throws (retryable) when this executor has lost the action's lease.
   */
  checkpoint(detail: Record<string, unknown>): Promise<void>;
  /**
   * The newest checkpoint of an earlier attempt of this action (row), if any. When present it is the state
   * before Fido acted: what the target shows now may be that earlier attempt's own effect, so a kind records
   * this rather than what it reads. Also given to `reconcile`, whose detail should carry it on.
   */
  priorCheckpoint?: Record<string, unknown>;
}

/**
 * An undo's call: the undo row itself (`action`, its own idempotency key `<original's>:undo`) and the action it
 * undoes with what that action's call returned (a rule id, a session, a set element), which is what the undo
 * needs to find what to take back.
 */
export interface UndoContext extends ActionContext {
  original: ActionRecord;
  originalResult: Record<string, unknown>;
}

/**
 * A follow-up's call (ActionComponent.follows): the incident changed after the action ran (`update`: its score
 * or decision moved) or was closed by a verdict (`close`), and the ticket or page the action opened should say
 * so. `original` is the action that opened it, with what its call returned (the ticket's number, the dedup
 * key); `ctx.incident` is the incident as it is now, and `verdict` is set for `close`.
 */
export interface FollowContext extends ActionContext {
  event: FollowEvent;
  original: ActionRecord;
  originalResult: Record<string, unknown>;
  verdict?: { verdict: string; by: string; note?: string };
}

export type FollowEvent = 'update' | 'close';

export interface ActionOutcome {
  /** Facts worth keeping (message id, HTTP status, ticket number), stored with the action. */
  detail: Record<string, unknown>;
}

/**
 * Thrown for failures, classified: `retryable: false` sends the action straight to the dead-letter state
 * (bad configuration, refused, nothing to act on); retryable ones are tried again with backoff. `unknownOutcome`
 * says the call may have taken effect (a timeout after the request went out): before the next attempt the
 * executor asks the target (`reconcile`) whether it did.
 */
export class ActionError extends Error {
  override readonly name = 'ActionError';
  constructor(
    message: string,
    readonly retryable: boolean,
    /** Server-requested delay (Retry-After), in ms. */
    readonly retryAfterMs?: number,
    readonly unknownOutcome = false,
  ) {
    super(message);
  }
}

/** What a target found when asked whether an action (or its undo) already took effect. */
export type Reconciled = { done: true; detail: Record<string, unknown> } | { done: false };

export interface ActionTarget {
  /** Configured target name, referenced by policy rules (`then: [{action: soc-mail}]`). */
  readonly name: string;
  readonly kind: string;
  execute(ctx: ActionContext): Promise<ActionOutcome>;
  /**
   * Takes back what `execute` did (re-enable the account, remove the block). Present when the kind is
   * `reversible` and this target can undo (a run_program target without an `undo_path` cannot: the executor
   * dead-letters its undos with the reason). Must succeed when there is nothing left to take back (the block expired on its own, someone
   * re-enabled the account): an undo retried after a crash meets its own earlier effect.
   */
  undo?(ctx: UndoContext): Promise<ActionOutcome>;
  /**
   * Whether the action (`ctx.action`; an undo row when `undo_of` is set) already took effect, asked before an
   * attempt that follows one whose outcome is unknown (its executor stopped mid-call, or the call timed out
   * after the request went out). `done` settles it as succeeded without calling the target again. Without
   * it, the attempt is simply made again under the same idempotency key.
   */
  reconcile?(ctx: ActionContext): Promise<Reconciled>;
  /**
   * Brings what `execute` opened (a ticket, a page) up to date with the incident (`update`) or closes it
   * (`close`). Present on kinds that declare `follows`. Like undo, it must succeed when it meets its own earlier
   * effect (a ticket already closed, a page already resolved).
   */
  follow?(ctx: FollowContext): Promise<ActionOutcome>;
  close?(): Promise<void>;
}

export interface ActionDeps {
  configDir: string;
  /** Base URL of the API/dashboard, for links in messages. */
  publicUrl: string;
  /**
   * Signed, expiring approve/deny links for an action that awaits approval (approval-links.ts), for messages
   * with buttons (Slack, Teams, e-mail). Absent when the process cannot sign them.
   */
  approvalLinks?: (actionId: string, deadline?: number) => ApprovalLinks;
}

/** Where a person approves or denies one action without a token: each link opens a confirmation page. */
export interface ApprovalLinks {
  approve: string;
  deny: string;
  /** ISO time after which both links are refused. */
  expires_at: string;
}

/**
 * An action kind: one file in actions/kinds/ that default-exports `defineAction({…})` (component/component.ts).
 * Reference: kinds/webhook.ts.
 */
export interface ActionComponent<S extends TSchema = TSchema> extends Component<S, ActionDeps, ActionTarget> {
  /**
   * Its targets can undo what they did (ActionTarget.undo): a false-positive verdict, the rule's `for:` and a
   * person (API, CLI) may ask for the undo. Declared on the kind, so that processes that run no executor (the
   * API) know which actions can be undone.
   */
  readonly reversible?: true;
  /**
   * Its actions contain (disable an account, block an address, isolate a host, end a session): the kill switch
   * (kill-switch.ts) holds them while it is on.
   */
  readonly containment?: true;
  /**
   * What its actions open follows the incident (tickets, pages): when the incident's score or decision changes
   * an `update` follow-up is queued, and a verdict queues a `close` (follow.ts); ActionTarget.follow runs them.
   */
  readonly follows?: true;
}

/** Declares an action kind; its `create` gets the target's entry typed by its schema. */
export function defineAction<S extends TSchema>(component: ActionComponent<S>): ActionComponent<S> {
  return component;
}
