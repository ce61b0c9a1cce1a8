/**
 * Undoing actions. An undo is an outbox row of its own (`undo_of` names the action it takes back), run by the
 * executor like any action: claimed under a lease, retried with backoff, and keyed `<original key>:undo`, so
 * that however many triggers ask (a false-positive verdict, the rule's `for:` running out, a person through
 * the API or the CLI, all at once or after a crash) it is queued once and runs once. Only a succeeded action
 * of a reversible kind (ActionComponent.reversible) can be undone; the incident's timeline and the audit log
 * say who or what asked, and why.
 */
import type { ActionTable } from '../store/schema.js';
import type { Db, Store, Tx } from '../store/store.js';
import type { ActionRecord } from '../model/action.js';
import { toAction } from '../store/incidents.js';
import { ActionStateError } from './approvals.js';
import { newActionRow } from './outbox-row.js';
import { actionKinds } from './registry.js';
import { label, record, SYSTEM_ACTOR } from './notes.js';

/** Who asks for the undo and why (shown on the timeline and in the audit log). */
export interface UndoRequest {
  actor: string;
  why: string;
}

export type UndoResult = { action: string; undo: string; queued: boolean } | { action: string; refused: string };

/** Whether actions of this kind can be undone (its component says so). */
export function isReversibleKind(kind: string): boolean {
  return actionKinds.find((k) => k.kind === kind)?.reversible === true;
}

/** Why this action cannot be undone, or null when it can. */
export function undoRefusal(row: Pick<ActionTable, 'kind' | 'state' | 'undo_of' | 'dry_run'>, reversible = isReversibleKind): string | null {
  if (row.undo_of) return 'it is itself an undo';
  if (!reversible(row.kind)) return `actions of kind "${row.kind}" cannot be undone`;
  if (row.dry_run === 1) return 'it was a dry run: nothing was done';
  if (row.state !== 'succeeded') return `it has not succeeded (state ${row.state}): there is nothing to undo`;
  return null;
}

/**
 * Queues the undo of each action that can be undone; says for each what happened. An undo queued before (by
 * another trigger) is reported with `queued: false`. In the caller's transaction.
 */
export async function queueUndos(tx: Tx | Db, rows: readonly ActionTable[], by: UndoRequest, now: number): Promise<UndoResult[]> {
  const out: UndoResult[] = [];
  for (const row of rows) {
    const refused = undoRefusal(row);
    if (refused) {
      out.push({ action: row.id, refused });
      continue;
    }
    const undo = newActionRow(
      {
        incident_id: row.incident_id,
        decision_id: row.decision_id,
        kind: row.kind,
        target: row.target,
        idempotency_key: `${row.idempotency_key}:undo`,
        params: row.params,
        state: 'pending',
        approval: 'auto',
        undo_of: row.id,
      },
      now,
    );
    const inserted = await tx.insertInto('actions').values(undo).onConflict((oc) => oc.column('idempotency_key').doNothing()).returning('id').executeTakeFirst();
    // Its undo is queued (now or before): the expiry sweep is done with it.
    await tx.updateTable('actions').set({ expires_at: null }).where('id', '=', row.id).where('expires_at', 'is not', null).execute();
    if (!inserted) {
      const existing = await tx.selectFrom('actions').select('id').where('idempotency_key', '=', undo.idempotency_key).executeTakeFirst();
      out.push({ action: row.id, undo: existing?.id ?? '', queued: false });
      continue;
    }
    await record(
      tx,
      row,
      { actor: by.actor, event: 'action.undo_queued', summary: `undo of ${label(row)} queued by ${by.actor}: ${by.why}`, detail: { kind: row.kind, target: row.target, undo: undo.id, why: by.why } },
      now,
    );
    out.push({ action: row.id, undo: undo.id, queued: true });
  }
  return out;
}

/**
 * One action, asked by a person (API, CLI): its undo action (queued now, or before by another trigger).
 * Throws ActionStateError: `not_found` for an unknown id, `conflict` for one that cannot be undone.
 */
export async function undoAction(store: Pick<Store, 'db'>, id: string, by: UndoRequest, now = Date.now()): Promise<ActionRecord> {
  if (!by.actor.trim()) throw new Error('an undo needs the name of who asks for it');
  return store.db.transaction().execute(async (tx) => {
    const row = await tx.selectFrom('actions').selectAll().where('id', '=', id).executeTakeFirst();
    if (!row) throw new ActionStateError(`action ${id} does not exist`, 'not_found');
    const r = (await queueUndos(tx, [row], by, now))[0]!;
    if ('refused' in r) throw new ActionStateError(`action ${id} cannot be undone: ${r.refused}`, 'conflict');
    return toAction(await tx.selectFrom('actions').selectAll().where('id', '=', r.undo).executeTakeFirstOrThrow());
  });
}

/**
 * A verdict's consequence, in the verdict's own transaction: false_positive undoes every action of the
 * incident that can be undone (what cannot is left as it is); other verdicts undo nothing.
 */
export async function undoOnVerdict(tx: Tx, incidentId: string, verdict: string, actor: string, now: number): Promise<UndoResult[]> {
  if (verdict !== 'false_positive') return [];
  const rows = await tx.selectFrom('actions').selectAll().where('incident_id', '=', incidentId).where('state', '=', 'succeeded').where('undo_of', 'is', null).execute();
  return queueUndos(tx, rows.filter((r) => isReversibleKind(r.kind)), { actor, why: 'the incident was judged a false positive' }, now);
}

/** Queues the undos whose time (the rule's `for:`) has come; returns how many. */
export async function queueExpiredUndos(store: Store, now: number, limit = 100): Promise<number> {
  return store.db.transaction().execute(async (tx) => {
    const rows = await tx.selectFrom('actions').selectAll().where('expires_at', '<=', now).orderBy('expires_at').limit(limit).execute();
    const results = await queueUndos(tx, rows, { actor: SYSTEM_ACTOR, why: 'its time limit ended' }, now);
    // One that can no longer be undone (undone by hand meanwhile, its kind no longer reversible) leaves the sweep.
    const refused = results.flatMap((r) => ('refused' in r ? [r.action] : []));
    if (refused.length) await tx.updateTable('actions').set({ expires_at: null }).where('id', 'in', refused).execute();
    return results.filter((r) => 'queued' in r && r.queued).length;
  });
}
