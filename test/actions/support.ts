/**
 * Test setup the action-kind tests share (fortigate_address, panos_dag, okta_suspend, entra_disable,
 * crowdstrike_contain, defender_isolate, sentinelone_isolate): the context an action runs in, the context of
 * its undo, an incident whose alerts carry given addresses, the assertion that a call failed with an
 * ActionError, and a contract server that lives as long as a suite.
 */
import { after, before } from 'node:test';
import assert from 'node:assert/strict';
import type { ActionContext, ActionTarget, UndoContext } from '../../src/actions/action.js';
import { createActionExecutor, type ActionExecutor } from '../../src/actions/executor.js';
import type { Store } from '../../src/store/store.js';
import { ActionError } from '../../src/actions/action.js';
import type { IncidentDetail } from '../../src/model/incident.js';
import { startContract, type ContractHandler, type ContractServer } from '../support/contract.js';
import { actionRecord, sampleIncident } from './fixtures.js';

export interface CtxOptions {
  params?: Record<string, unknown>;
  /** Default: a signal that never fires. */
  signal?: AbortSignal;
  /** Set on the action record when given (an undo row names the action it undoes). */
  undoOf?: string | null;
  attempts?: number;
  /** ActionContext.resumed (default false). */
  resumed?: boolean;
  /** ActionContext.priorCheckpoint: what an earlier attempt checkpointed. */
  priorCheckpoint?: Record<string, unknown>;
  /** Where ctx.checkpoint() puts what it is given (default: nowhere). */
  checkpoints?: Record<string, unknown>[];
}

/**
 * The executor's part of a context, for a call made outside an executor: a first attempt, whose checkpoints
 * go nowhere. Spread into a hand-made context: `{ action, incident, idempotencyKey, signal, ...firstAttempt }`.
 */
export const firstAttempt = { resumed: false, checkpoint: async (_: Record<string, unknown>): Promise<void> => undefined } as const;

/** The context of an action of `kind` on target `target` for `incident`. */
export function actionCtx(kind: string, target: string, incident: IncidentDetail, o: CtxOptions = {}): ActionContext {
  const action = {
    ...actionRecord(incident.id, kind, target),
    params: o.params ?? {},
    ...(o.undoOf !== undefined ? { undo_of: o.undoOf } : {}),
    ...(o.attempts !== undefined ? { attempts: o.attempts } : {}),
  };
  const checkpoints = o.checkpoints;
  return {
    action,
    incident,
    idempotencyKey: action.idempotency_key,
    signal: o.signal ?? new AbortController().signal,
    resumed: o.resumed ?? false,
    checkpoint: async (d) => {
      checkpoints?.push(d);
    },
    ...(o.priorCheckpoint ? { priorCheckpoint: o.priorCheckpoint } : {}),
  };
}

/** The context of the undo of `c`'s action, whose execute returned `originalResult`. */
export function undoCtxOf(c: ActionContext, originalResult: Record<string, unknown>, undoOf?: string): UndoContext {
  return { ...c, ...(undoOf !== undefined ? { action: { ...c.action, undo_of: undoOf } } : {}), original: c.action, originalResult };
}

/** The sample incident `id` with every alert from `src` to `dst`. */
export function incidentWith(id: string, src: string, dst: string): IncidentDetail {
  const i = sampleIncident(id);
  i.alerts = i.alerts.map((a) => ({ ...a, src: { ...a.src, ip: src }, dst: { ...a.dst, ip: dst } }));
  return i;
}

/** The ActionError `p` rejects with (fails the test when it resolves or rejects with something else). */
export async function rejection(p: Promise<unknown>): Promise<ActionError> {
  const e = await p.then(() => assert.fail('expected a failure'), (e: unknown) => e);
  assert.ok(e instanceof ActionError, String(e));
  return e;
}

/** `p` rejects with an ActionError that passes `check`. */
export async function fails(p: Promise<unknown>, check: (e: ActionError) => void): Promise<void> {
  check(await rejection(p));
}

/** `p` rejects with an ActionError whose message matches and whose retryability is as given; returns it. */
export async function refused(p: Promise<unknown>, message: RegExp, retryable: boolean): Promise<ActionError> {
  const e = await rejection(p);
  assert.match(e.message, message);
  assert.equal(e.retryable, retryable, e.message);
  return e;
}

export interface SuiteServer {
  /** The contract server, started before the suite's tests. */
  readonly server: ContractServer;
  /** Closes `t` after the suite (before the server). */
  track<T extends { close?: () => Promise<void> }>(t: T): T;
}

/**
 * A contract server for the tests of the enclosing suite (or file): started before them (then `ready` runs, in
 * the same hook: root-level hooks do not wait for each other), closed after them with the targets tracked.
 */
export function suiteServer(handler: ContractHandler, ready?: () => Promise<void>): SuiteServer {
  let server: ContractServer | undefined;
  const targets: { close?: () => Promise<void> }[] = [];
  before(async () => {
    server = await startContract(handler);
    await ready?.();
  });
  after(async () => {
    for (const t of targets) await t.close?.();
    await server?.close();
  });
  return {
    get server() {
      if (!server) throw new Error('the contract server is started by a before() hook');
      return server;
    },
    track(t) {
      targets.push(t);
      return t;
    },
  };
}

/** An executor over one target, with the retry settings these tests assume (3 attempts, 1s–60s backoff, 30s lease). */
export function testExecutor(store: Store, name: string, target: ActionTarget, now: () => number): ActionExecutor {
  return createActionExecutor({ store, targets: new Map([[name, target]]), maxAttempts: 3, backoffBaseMs: 1000, backoffMaxMs: 60_000, leaseMs: 30_000, owner: 'ex', now });
}
