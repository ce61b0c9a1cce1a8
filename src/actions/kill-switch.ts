/**
 * The containment kill switch: while it is on, no containment action starts (kinds that declare
 * `containment: true`: disabling accounts, blocking addresses, isolating hosts, ending sessions). Actions already
 * queued wait in the outbox (an analyst may deny them; they run when the switch goes off); undos still run,
 * since they take containment back; notifications and tickets are not held. It is on when the configuration
 * says so (`actions.kill_switch: true`, for a deployment that must never contain) or when someone turned it on
 * through the API or the CLI; the store row is shared by every process, so it acts everywhere at the next round.
 */
import type { Db, Store } from '../store/store.js';
import { actionKinds } from './registry.js';

export const KILL_SWITCH = 'containment';

export interface KillSwitchState {
  on: boolean;
  /** `config` when the configuration forces it; otherwise who set it last (null: never set). */
  actor: string | null;
  reason: string | null;
  at: string | null;
}

/** Kinds whose actions the switch holds. */
export function containmentKinds(): string[] {
  return actionKinds.filter((k) => k.containment).map((k) => k.kind);
}

export async function readKillSwitch(db: Db, forcedByConfig = false): Promise<KillSwitchState> {
  if (forcedByConfig) return { on: true, actor: 'config', reason: 'actions.kill_switch is true in the configuration', at: null };
  const row = await db.selectFrom('switches').selectAll().where('name', '=', KILL_SWITCH).executeTakeFirst();
  if (!row) return { on: false, actor: null, reason: null, at: null };
  return { on: row.on_ === 1, actor: row.actor, reason: row.reason, at: new Date(Number(row.at)).toISOString() };
}

/** Turns the switch on or off, with who and why in the audit log; returns the new state. */
export async function setKillSwitch(store: Pick<Store, 'db'>, on: boolean, actor: string, reason: string, now = Date.now()): Promise<KillSwitchState> {
  if (!actor.trim()) throw new Error('the kill switch needs the name of who sets it');
  const why = reason.trim() || 'no reason given';
  await store.db.transaction().execute(async (tx) => {
    const row = { on_: on ? 1 : 0, actor, reason: why, at: now };
    await tx
      .insertInto('switches')
      .values({ name: KILL_SWITCH, ...row })
      .onConflict((oc) => oc.column('name').doUpdateSet(row))
      .execute();
    await tx
      .insertInto('audit_log')
      .values({ at: now, actor, action: on ? 'kill_switch.on' : 'kill_switch.off', subject: `switch:${KILL_SWITCH}`, detail: JSON.stringify({ reason: why }) })
      .execute();
  });
  return readKillSwitch(store.db);
}
