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
}

export interface ActionOutcome {
  /** Facts worth keeping (message id, HTTP status, ticket number), stored with the action. */
  detail: Record<string, unknown>;
}

/** Thrown for failures; `retryable: false` sends the action straight to the dead-letter state. */
export class ActionError extends Error {
  override readonly name = 'ActionError';
  constructor(
    message: string,
    readonly retryable: boolean,
    /** Server-requested delay (Retry-After), in ms. */
    readonly retryAfterMs?: number,
  ) {
    super(message);
  }
}

export interface ActionTarget {
  /** Configured target name, referenced by policy rules (`then: [{action: soc-mail}]`). */
  readonly name: string;
  readonly kind: string;
  execute(ctx: ActionContext): Promise<ActionOutcome>;
  close?(): Promise<void>;
}

export interface ActionDeps {
  configDir: string;
  /** Base URL of the API/dashboard, for links in messages. */
  publicUrl: string;
}

/**
 * An action kind: one file in actions/kinds/ that default-exports `defineAction({…})` (component/component.ts).
 * Reference: kinds/webhook.ts.
 */
export type ActionComponent<S extends TSchema = TSchema> = Component<S, ActionDeps, ActionTarget>;

/** Declares an action kind; its `create` gets the target's entry typed by its schema. */
export function defineAction<S extends TSchema>(component: ActionComponent<S>): ActionComponent<S> {
  return component;
}
