/**
 * Follow-ups: what an action of a following kind opened (a ServiceNow or Jira ticket, a PagerDuty alert, a SIEM
 * record; ActionComponent.follows) keeps up with the incident. Like an undo, a follow-up is an outbox row of its
 * own (`follow_of` names the action, `follow_event` says `update` or `close`), claimed, retried and audited like
 * any action, and run only once its action has succeeded (before that it waits; if its action never succeeds it
 * is skipped):
 *
 *  - `update`: the decide stage, in its transaction, compares each such action's last known incident state (its
 *    `follow_state`: outcome, rule and score, written when it or its last update was queued) with the state it
 *    has just decided, and queues an update when they differ. An update reads the incident as it is when it
 *    runs, so a burst of changes is told in full by the last update.
 *  - `close`: a verdict queues one close per action (key `<key>:close`), in the verdict's transaction.
 */
import type { ActionTable } from '../store/schema.js';
import type { Tx } from '../store/store.js';
import { newActionRow } from './outbox-row.js';
import { actionKinds } from './registry.js';
import { label, record } from './notes.js';

/** Whether actions of this kind follow their incident (its component says so). */
export function isFollowingKind(kind: string): boolean {
  return actionKinds.find((k) => k.kind === kind)?.follows === true;
}

/** The kinds whose actions follow their incident. */
export function followingKinds(): string[] {
  return actionKinds.filter((k) => k.follows).map((k) => k.kind);
}

/** The incident state a ticket shows: what was decided and the score. Compared as text. */
export function followState(s: { outcome: string; rule: string; score: number | null }): string {
  return JSON.stringify([s.outcome, s.rule, s.score]);
}

/** States in which an action opened nothing and never will: its follow-ups are pointless. */
const NEVER_DONE = ['dead', 'denied', 'skipped'];

/** The actions of following kinds on these incidents that opened (or will open) something. */
async function followedActions(tx: Tx, incidentIds: readonly string[]): Promise<ActionTable[]> {
  const kinds = followingKinds();
  if (kinds.length === 0 || incidentIds.length === 0) return [];
  return (await tx
    .selectFrom('actions')
    .selectAll()
    .where('incident_id', 'in', incidentIds)
    .where('kind', 'in', kinds)
    .where('undo_of', 'is', null)
    .where('follow_of', 'is', null)
    .where('dry_run', '=', 0)
    .where('state', 'not in', NEVER_DONE)
    .execute()) as ActionTable[];
}

/**
 * In the decide stage's transaction: an `update` for every followed action whose incident's state (outcome, rule,
 * score) is no longer the one it or its last update was queued for. Returns how many were queued.
 */
export async function queueFollowUpdates(tx: Tx, states: ReadonlyMap<string, string>, now: number): Promise<number> {
  const actions = await followedActions(tx, [...states.keys()]);
  if (actions.length === 0) return 0;
  // The newest update of each action, if any, holds the state the ticket was last brought to.
  const updates = await tx
    .selectFrom('actions')
    .select(['follow_of', 'follow_state', 'id'])
    .where('follow_of', 'in', actions.map((a) => a.id))
    .where('follow_event', '=', 'update')
    .orderBy('id')
    .execute();
  const last = new Map<string, string | null>();
  for (const u of updates) last.set(u.follow_of!, u.follow_state ?? null); // ids are ULIDs: the last one wins
  let queued = 0;
  for (const a of actions) {
    const state = states.get(a.incident_id)!;
    const shown = last.has(a.id) ? last.get(a.id) : (a.follow_state ?? null);
    if (shown === state) continue;
    const row = followRow(a, 'update', state, now, (id) => `${a.idempotency_key}:update:${id}`);
    await tx.insertInto('actions').values(row).execute();
    queued++;
  }
  return queued;
}

/** A follow-up of `a`: its target and params, run by the executor like any action, keyed by `keyOf(its id)`. */
function followRow(a: ActionTable, event: 'update' | 'close', state: string, now: number, keyOf: (id: string) => string): ActionTable {
  const row = newActionRow(
    {
      incident_id: a.incident_id,
      decision_id: a.decision_id,
      kind: a.kind,
      target: a.target,
      params: a.params,
      state: 'pending',
      approval: 'auto',
      follow_of: a.id,
      follow_event: event,
      follow_state: state,
      idempotency_key: '',
    },
    now,
  );
  row.idempotency_key = keyOf(row.id);
  return row;
}

/** In the verdict's transaction: a `close` for every followed action of the incident (once ever per action). */
export async function closeOnVerdict(tx: Tx, incidentId: string, verdict: { verdict: string; by: string; note?: string }, now: number): Promise<number> {
  let queued = 0;
  for (const a of await followedActions(tx, [incidentId])) {
    // What closed it, for FollowContext.verdict (closeVerdict); once ever per action.
    const state = JSON.stringify({ verdict: verdict.verdict, by: verdict.by, ...(verdict.note ? { note: verdict.note } : {}) });
    const row = followRow(a, 'close', state, now, () => `${a.idempotency_key}:close`);
    const inserted = await tx.insertInto('actions').values(row).onConflict((oc) => oc.column('idempotency_key').doNothing()).returning('id').executeTakeFirst();
    if (!inserted) continue;
    await record(
      tx,
      a,
      { actor: verdict.by, event: 'action.close_queued', summary: `${label(a)}: close queued (verdict ${verdict.verdict} by ${verdict.by})`, detail: { kind: a.kind, target: a.target, close: row.id } },
      now,
    );
    queued++;
  }
  return queued;
}

/** The verdict a close follow-up was queued for (its `follow_state`), for FollowContext.verdict. */
export function closeVerdict(row: Pick<ActionTable, 'follow_event' | 'follow_state'>): { verdict: string; by: string; note?: string } | undefined {
  if (row.follow_event !== 'close' || !row.follow_state) return undefined;
  const v = JSON.parse(row.follow_state) as { verdict?: unknown; by?: unknown; note?: unknown };
  if (typeof v.verdict !== 'string') return undefined;
  return { verdict: v.verdict, by: typeof v.by === 'string' ? v.by : 'unknown', ...(typeof v.note === 'string' ? { note: v.note } : {}) };
}
