/**
 * Approvals: an action whose rule needs one waits in `awaiting_approval` until a person approves or denies
 * it (API, audited), or until its deadline (`approval_due_at`) applies `approval_default`. Each move is
 * guarded by the state, so that a concurrent approve, deny and timeout cannot both win.
 */
import type { ActionRecord } from '../model/action.js';
import type { ActionTable } from '../store/schema.js';
import type { Store, Tx } from '../store/store.js';
import { toAction } from '../store/incidents.js';
import { actionsTotal } from '../metrics.js';
import { FidoError } from '../errors.js';
import { iso } from '../util/time.js';
import { label, MAX_ERROR_CHARS, record, SYSTEM_ACTOR } from './notes.js';

export type ApprovalDefault = 'approve' | 'deny';

/** The columns the decide stage sets on an action that needs approval and has a timeout. */
export function approvalTimeout(timeoutMs: number, dflt: ApprovalDefault, now = Date.now()): { approval_due_at: number; approval_default: ApprovalDefault } {
  return { approval_due_at: now + timeoutMs, approval_default: dflt };
}

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
